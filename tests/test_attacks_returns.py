"""Attacks on `--return`: what the notebook's own process loads back from a hostile sandbox
(nbreason/returns.py, and the sandboxes' `download`). Each test is an attack; what it found and
what changed is in its docstring."""

from __future__ import annotations

import asyncio

import pickle
import time
from types import SimpleNamespace

import pytest

from nbreason import returns, unpickle
from nbreason.events import Error
from nbreason.returns import ReturnError
from nbreason.unpickle import Refused, TooCostly
from nbreason.runner import reason
from tests.support.scripted_server import Reply, ScriptedServer
from tests.test_returns import config


def _notes(result) -> list[str]:
    return [e.message for e in result.events if isinstance(e, Error) and e.source == "returns"]


# --- a small pickle that is huge to show: shared references ----------------------------------

SHARED = """wide = [0] * 1000
for _ in range(3):
    wide = [wide] * 1000   # a few KB pickled (the pickle shares the one list), 10**12 items to show
deep = (0, 0)
for _ in range(60):
    deep = (deep, deep)    # 2**60 leaves: hash(deep) never returns
cycle = [1, 2]
cycle.append(cycle)
plain = {'kept': [1, 2, 3], 'shared': [[1, 2]] * 3}
print('ready')"""


async def test_a_tiny_pickle_of_shared_references_is_refused_before_the_notebook_can_show_it():
    """Defect (fixed): a list of 1000 references to one list of 1000 references to ... pickles to
    8 KB, loaded in the child within its limits and pickled again just as small, so the notebook
    got it; `repr` (what displaying it does), `==` or `hash` then walk 10**12 items and the
    notebook hangs. The child now also measures the value with its shared parts written out
    (`unpickle.spelled_size`) and refuses it; a value that contains itself is refused too."""
    script = [Reply(f"```python\n{SHARED}\n```"), Reply("FINAL ANSWER: ready")]
    with ScriptedServer(script) as server:
        started = time.monotonic()
        result = await reason("q", config=config(server), returns=["wide", "deep", "cycle", "plain"])
    assert result.returned == {"plain": {"kept": [1, 2, 3], "shared": [[1, 2]] * 3}}
    wide, deep, cycle = _notes(result)
    assert wide.startswith("--return wide: not returned: its shared parts, written out each place they appear")
    assert deep.startswith("--return deep: not returned: its shared parts")
    assert cycle == "--return cycle: not returned: it contains itself"
    assert time.monotonic() - started < 60


async def test_bounded_loads_measures_the_value_spelled_out():
    wide = [0] * 1000
    for _ in range(3):
        wide = [wide] * 1000
    data = pickle.dumps(wide, protocol=5)
    assert len(data) < 10_000
    with pytest.raises(TooCostly, match="shared parts"):
        await unpickle.bounded_loads(data, returns.MAX_BYTES)
    assert unpickle.spelled_size(wide, 10**6) > 10**6  # stops just past the cap, not after 10**12 items


# --- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["__builtins__", "__name__", "get_ipython", "In", "Out", "exit", "_", "__",
                                  "_i", "_ii", "_i3", "_12", "_oh"])
def test_names_python_and_ipython_keep_in_the_notebook_are_refused(name):
    """Defect (fixed): `--return __builtins__` let the sandbox's code (a dict subclass whose
    `__reduce__` gives `(dict, ({...},))`) replace the builtins every later cell of the notebook
    runs with; `get_ipython` is what every magic line calls. The user named them, but no use of
    --return needs them, and the sandbox decides their value."""
    with pytest.raises(ReturnError, match="keep"):
        returns.check_names(f"df, {name}")


def test_names_are_read_as_python_reads_them():
    """Defect (fixed): `--return ﬁle` (a ligature) passed `isidentifier` but was looked up
    verbatim, while Python stores `ﬁle = 1` as `file` (NFKC): the value was reported missing, or
    set under a key no notebook code can name."""
    assert returns.check_names("ﬁle, ｄｆ, _private") == ["file", "df", "_private"]


async def test_a_name_the_user_did_not_ask_for_never_reaches_the_notebook():
    """Holds: the sandbox's report may name anything; only the names asked for are read."""
    code = "secret_shadow = 1\nasked = 2\nprint('ok')"
    script = [Reply(f"```python\n{code}\n```"), Reply("FINAL ANSWER: ok")]
    with ScriptedServer(script) as server:
        result = await reason("q", config=config(server), returns=["asked"])
    assert result.returned == {"asked": 2}


# --- callables a pickle may name -----------------------------------------------------------------

@pytest.mark.parametrize("payload,named", [
    (b"ccopyreg\n_reconstructor\n(cbuiltins\nobject\ncbuiltins\nobject\nNtR.", "copyreg._reconstructor"),
    (b"cfunctools\npartial\n(cposix\nsystem\nS'true'\ntR.", "functools.partial"),
    (b"cpandas\neval\n(S'1+1'\ntR.", "pandas.eval"),
    (b"cpandas.core.computation.eval\neval\n(S'1+1'\ntR.", "pandas.core.computation.eval.eval"),
    (b"cnumpy.lib.npyio\nload\n(S'/etc/passwd'\ntR.", "numpy.lib.npyio.load"),
    (b"cnumpy\nfromfile\n(S'/etc/passwd'\ntR.", "numpy.fromfile"),
    (b"cpandas\nread_csv\n(S'/etc/passwd'\ntR.", "pandas.read_csv"),
    (b"coperator\nattrgetter\n(S'query'\ntR.", "operator.attrgetter"),
    (b"coperator\nmethodcaller\n(S'query'\nS'@x'\ntR.", "operator.methodcaller"),
    (b"cpandas.core.frame\nDataFrame.query\n.", "pandas.core.frame.DataFrame.query"),
    (b"cpandas._libs.tslibs.offsets\n__builtins__\n.", "pandas._libs.tslibs.offsets.__builtins__"),
    (b"cpandas._libs.tslibs.offsets\nBaseOffset.__init__\n.", "pandas._libs.tslibs.offsets.BaseOffset.__init__"),
])
def test_more_callables_are_refused(payload, named):
    """Holds: each is refused by name before it is called."""
    with pytest.raises(Refused) as caught:
        unpickle.safe_loads(payload)
    assert str(caught.value) == named


def test_a_large_shape_given_to_numpy_rebuild_is_refused():
    """Holds: `_reconstruct(ndarray, (10**10,), b'b')` would allocate what the pickle never paid for."""
    payload = (b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I10000000000\ntC\x01btR.")
    with pytest.raises(Refused, match="shape"):
        unpickle.safe_loads(payload)


# --- files: the E2B download ------------------------------------------------------------------

async def test_an_e2b_file_that_grows_after_its_size_was_read_stops_at_the_limit():
    """Defect (fixed): E2BSandbox.download read the size, then the whole file into the notebook's
    memory and only then compared it with the limit; a file swapped for a link to /dev/zero (or
    one that grows) after the size check filled the notebook. It now streams and stops past it.
    The real e2b SDK reads from the fake E2B server, whose download of a small file never ends."""
    from nbreason.sandboxes.e2b import E2BSandbox
    from tests.support.fake_e2b import FakeE2B

    fake = FakeE2B().start()
    sb = E2BSandbox(api_key=fake.api_key, connection=fake.options(), timeout=20)
    try:
        await sb.run_code("import os\nos.makedirs('.nbreason_return', exist_ok=True)\n"
                          "open('.nbreason_return/x', 'wb').write(b'small')")
        fake.faults.endless_download = True
        with pytest.raises(ValueError, match="grew past the limit"):
            await asyncio.wait_for(sb.download(".nbreason_return/x", limit=5 << 20), 60)
        fake.faults.endless_download = False
        assert (await sb.run_code("1 + 1")).text == "2"  # the sandbox is still usable
    finally:
        await sb.close()
        fake.stop()


async def test_an_e2b_download_that_trickles_ends_at_the_fetch_timeout():
    """Defect (fixed): a download was bounded in bytes but not in time; one that sends a byte every
    second never trips a read timeout, and the cell waited for as long as the VM lived (15 min).
    The read-back now has the fetch's deadline, and what did not come back is a note."""
    from nbreason.sandboxes.e2b import E2BSandbox
    from tests.support.fake_e2b import FakeE2B

    fake = FakeE2B().start()
    sb = E2BSandbox(api_key=fake.api_key, connection=fake.options(), timeout=20)
    try:
        await sb.run_code("x = list(range(1000))")
        fake.faults.trickle_download = 1.0
        started = time.monotonic()
        back = await asyncio.wait_for(returns.fetch(sb, ["x"], timeout=3), 30)
        assert time.monotonic() - started < 20
        assert back.values == {} and back.notes == ["--return x: not returned: reading it back took more than 3 s"]
    finally:
        fake.faults.trickle_download = 0.0
        await sb.close()
        fake.stop()


def test_the_loader_child_gets_none_of_the_notebooks_secrets(monkeypatch):
    """The child that rebuilds a sandbox pickle never runs sandbox code, but it had the notebook's
    whole environment; now it gets the sandbox kernel's allow-list, as the kernel does."""
    monkeypatch.setenv("NBREASON_API_KEY", "sk-live-loader-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-loader-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-loader-secret")
    from nbreason.bounded import child_env

    env = child_env()
    assert "sk-live-loader-secret" not in env.values() and "aws-loader-secret" not in env.values()
    assert env["PATH"] and env["OMP_NUM_THREADS"] == "1"
