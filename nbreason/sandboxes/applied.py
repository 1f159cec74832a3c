"""What the launcher applied (kernels/nbreason-python/launcher.py), read back from a started kernel:
what makes the sandbox refuse to run, and what it warns of. Pure: the status the launcher wrote
and the privileges the kernel holds in, a reason and warnings out."""

from __future__ import annotations


def refusal(status: dict, privileges: dict, *, confine: bool, network: bool) -> str:
    """Why a kernel without what was asked of it must not run ("": it may). Fail closed: a kernel
    asked to be confined or cut off that is not is shut down, never used."""
    confined = bool(status.get("confined"))
    if confine and not confined:
        return "the kernel started without confinement"
    if confined and (capabilities(privileges) or privileges.get("NoNewPrivs") != "1"):
        return f"the confined kernel kept privileges ({privileges})"
    if not network and status.get("network", True):
        return f"the network could not be cut: {status.get('network_problem', 'unknown reason')}"
    return ""


def warnings(status: dict, privileges: dict) -> list[str]:
    """The limits that could not be enforced, weaker than asked but not refused."""
    confined = bool(status.get("confined"))
    said = []
    if confined and not status.get("pids_max"):
        said.append(f"no process limit ({status.get('pids_problem', 'unknown reason')}): a fork bomb is stopped "
                    "only by the timeout and restart")
    if confined and not status.get("tmp_mb", 1):
        said.append("bubblewrap has no --size: the private /tmp and /dev/shm are not size-limited and their "
                    "files take memory beyond memory_mb")
    if confined and not status.get("disable_userns", True):
        said.append("bubblewrap is older than 0.8: code in the sandbox can create nested user namespaces (more "
                    "of the kernel's attack surface)")
    if not status.get("setid_filter", True):
        said.append(f"no setuid filter ({status.get('setid_problem', 'unknown reason')}): code can leave setuid "
                    "programs in a kept working folder")
    shown = status.get("shown_again") or []
    if confined and shown:
        said.append("shown again read-only from hidden folders, for the kernel's imports (with the files beside "
                    f"them): {', '.join(map(str, shown[:5]))}")
    if not confined and capabilities(privileges):
        said.append(f"the kernel kept capabilities (CapEff {privileges.get('CapEff')})")
    return said


def capabilities(privileges: dict) -> int:
    """The kernel's effective capabilities, as a bit set."""
    return int(privileges.get("CapEff", "0") or "0", 16)
