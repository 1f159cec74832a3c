"""What the launcher applied, read back: when a sandbox refuses to run and what it warns of, as a
table (nbreason/sandboxes/applied.py). The kernels behind these statuses are in
tests/test_attacks_sandbox*.py and tests/test_local_sandbox_lifecycle.py."""

import pytest

from nbreason.sandboxes.applied import refusal, warnings

SAFE = {"CapEff": "0000000000000000", "NoNewPrivs": "1"}
CONFINED = {"confined": True, "network": True, "pids_max": 512, "tmp_mb": 256, "disable_userns": True,
            "setid_filter": True}

REFUSALS = [
    # (why, status, privileges, confine asked, network asked, what the refusal says; "" runs)
    ("confined as asked", CONFINED, SAFE, True, True, ""),
    ("confinement asked, none applied", {}, SAFE, True, True, "started without confinement"),
    ("confined but with capabilities", CONFINED, {"CapEff": "00000000a80425fb", "NoNewPrivs": "1"}, True, True,
     "kept privileges"),
    ("confined but without no_new_privs", CONFINED, {"CapEff": "0", "NoNewPrivs": "0"}, True, True, "kept privileges"),
    ("the network asked cut and cut", {**CONFINED, "network": False}, SAFE, True, False, ""),
    ("the network asked cut and not cut", {"network": True, "network_problem": "no user namespaces"}, SAFE,
     False, False, "the network could not be cut: no user namespaces"),
    ("plain, with the network", {"network": True}, SAFE, False, True, ""),
]


@pytest.mark.parametrize("why,status,privileges,confine,network,said", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_when_a_sandbox_refuses_to_run(why, status, privileges, confine, network, said):
    reason = refusal(status, privileges, confine=confine, network=network)
    assert (said in reason and bool(reason)) if said else reason == ""


WARNINGS = [
    ("nothing weaker than asked", CONFINED, SAFE, []),
    ("no pids cgroup", {**CONFINED, "pids_max": 0, "pids_problem": "read-only cgroup"}, SAFE,
     ["no process limit (read-only cgroup)"]),
    ("a bubblewrap without --size", {**CONFINED, "tmp_mb": 0}, SAFE, ["bubblewrap has no --size"]),
    ("a bubblewrap older than 0.8", {**CONFINED, "disable_userns": False}, SAFE, ["bubblewrap is older than 0.8"]),
    ("no setuid filter", {"setid_filter": False, "setid_problem": "no setuid filter for riscv64"}, SAFE,
     ["no setuid filter (no setuid filter for riscv64)"]),
    ("folders shown again from hidden ones", {**CONFINED, "shown_again": ["/root/project"]}, SAFE,
     ["shown again read-only from hidden folders, for the kernel's imports (with the files beside them): "
      "/root/project"]),
    ("a plain kernel that kept capabilities", {}, {"CapEff": "00000000a80425fb"},
     ["the kernel kept capabilities (CapEff 00000000a80425fb)"]),
    ("confinement warnings are a confined kernel's only", {"pids_max": 0, "tmp_mb": 0, "shown_again": ["/x"]}, SAFE,
     []),
]


@pytest.mark.parametrize("why,status,privileges,starts", WARNINGS, ids=[r[0] for r in WARNINGS])
def test_what_a_sandbox_warns_of(why, status, privileges, starts):
    said = warnings(status, privileges)
    assert len(said) == len(starts) and all(s.startswith(start) for s, start in zip(said, starts))
