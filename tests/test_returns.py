"""Variables back from the sandbox: through a real kernel and the scripted server, and the
unpickler that decides what may cross into the notebook's process."""

from __future__ import annotations

import datetime
import decimal
import fractions
import os
import pickle
import uuid
from collections import Counter, OrderedDict, defaultdict, deque

import numpy as np
import pandas as pd
import pytest

from nbreason import returns, unpickle
from nbreason.config import RunConfig
from nbreason.events import Error
from nbreason.returns import ReturnError
from nbreason.unpickle import Refused, safe_loads
from nbreason.runner import reason
from tests.support.kernels import sandbox  # noqa: F401 (a fixture)
from tests.support.scripted_server import Reply, ScriptedServer


def config(server: ScriptedServer, **kw) -> RunConfig:
    base = dict(model="scripted", base_url=server.base_url, api_key="sk-test", protocol="text", exec_timeout=30,
                self_check="off")
    return RunConfig(**(base | kw))


def notes(result) -> list[str]:
    return [e.message for e in result.events if isinstance(e, Error) and e.source == "returns"]


MAKE = """import numpy as np, pandas as pd, matplotlib
matplotlib.use('agg')
import matplotlib.pyplot as plt
df2 = pd.DataFrame({'city': ['Oslo', 'Cairo'], 'temp': [6.5, 23.0], 'when': pd.to_datetime(['2024-01-01', '2024-07-01'])})
arr = np.arange(6).reshape(2, 3)
info = {'n': 2, 'names': ('Oslo', 'Cairo'), 'at': pd.Timestamp('2024-01-01', tz='Europe/Paris')}
fig, ax = plt.subplots()
ax.bar(df2.city, df2.temp)
print(len(df2))"""


async def test_named_variables_come_back_as_values_and_figures_as_images():
    script = [Reply(f"```python\n{MAKE}\n```"), Reply("FINAL ANSWER: 2")]
    with ScriptedServer(script) as server:
        result = await reason("Tabulate.", config=config(server), returns=["df2", "arr", "info", "fig", "ax"])
        question = server.requests[0]["messages"][1]["content"]
    assert question.endswith("When you are done, leave these names defined in the Python session: "
                             "df2, arr, info, fig, ax.")
    back = result.returned
    assert list(back) == ["df2", "arr", "info", "fig", "ax"] and not notes(result)
    assert back["df2"].equals(pd.DataFrame({"city": ["Oslo", "Cairo"], "temp": [6.5, 23.0],
                                            "when": pd.to_datetime(["2024-01-01", "2024-07-01"])}))
    assert (back["arr"] == np.arange(6).reshape(2, 3)).all()
    assert back["info"]["at"] == pd.Timestamp("2024-01-01", tz="Europe/Paris")
    for name in ("fig", "ax"):  # a figure, and an Axes as its figure, come back as PNG images
        assert type(back[name]).__name__ == "Image" and back[name].data.startswith(b"\x89PNG")
    assert result.events[0].returns == ["df2", "arr", "info", "fig", "ax"]  # the trace records what was asked


async def test_variables_and_figures_come_back_from_an_e2b_sandbox_too():
    """The real e2b SDK against the fake E2B server: the pickles and the PNG are read back through
    envd's Stat and file download, as from a cloud VM."""
    from nbreason.sandboxes.e2b import E2BSandbox
    from tests.support.fake_e2b import FakeE2B

    fake = FakeE2B().start()
    sb = E2BSandbox(api_key=fake.api_key, connection=fake.options(), timeout=30)
    try:
        script = [Reply(f"```python\n{MAKE}\n```"), Reply("FINAL ANSWER: 2")]
        with ScriptedServer(script) as server:
            result = await reason("Tabulate.", config=config(server, sandbox="e2b"), sandbox=sb,
                                  returns=["df2", "info", "fig"])
    finally:
        await sb.close()
        fake.stop()
    assert list(result.returned) == ["df2", "info", "fig"] and not notes(result)
    assert list(result.returned["df2"].city) == ["Oslo", "Cairo"]
    assert result.returned["info"]["names"] == ("Oslo", "Cairo")
    assert result.returned["fig"].data.startswith(b"\x89PNG")


async def test_a_name_the_run_did_not_define_is_a_note_and_the_others_still_come_back():
    script = [Reply("```python\ntotal = 42\nprint(total)\n```"), Reply("FINAL ANSWER: 42")]
    with ScriptedServer(script) as server:
        result = await reason("Total?", config=config(server), returns="nothere, total")
    assert result.returned == {"total": 42}
    assert notes(result) == ["--return nothere: the run did not define nothere"]
    assert result.answer == "42" and result.stop_reason == "answered"


async def test_a_variable_over_the_limit_is_named_with_its_size(monkeypatch):
    monkeypatch.setattr(returns, "MAX_BYTES", 1_000_000)
    script = [Reply("```python\nimport numpy as np\nbig = np.zeros(500_000)\nsmall = [1, 2]\nprint(1)\n```"),
              Reply("FINAL ANSWER: 1")]
    with ScriptedServer(script) as server:
        result = await reason("q", config=config(server), returns=["big", "small"])
    assert result.returned == {"small": [1, 2]}
    (note,) = notes(result)
    assert note.startswith("--return big: not returned: the numpy.ndarray is 3.8 MB pickled, over the 976.6 KB limit")


async def test_a_hostile_object_is_refused_and_its_code_never_runs_in_the_notebook(tmp_path):
    marker = tmp_path / "pwned"
    hostile = (f"import os\nclass Evil:\n    def __reduce__(self):\n        return (os.system, ('touch {marker}',))\n"
               "evil = Evil()\nclass Point:\n    pass\npoint = Point()\nplain = [1, 2, 3]\nprint('ready')")
    script = [Reply(f"```python\n{hostile}\n```"), Reply("FINAL ANSWER: ready")]
    with ScriptedServer(script) as server:
        result = await reason("q", config=config(server), returns=["evil", "point", "plain"])
    assert not marker.exists()
    assert result.returned == {"plain": [1, 2, 3]}
    evil, point = notes(result)
    assert evil.startswith("--return evil: refused: the __main__.Evil needs posix.system, which is not loaded")
    assert point.startswith("--return point: refused: the __main__.Point needs __main__.Point")


@pytest.mark.parametrize("payload,named", [
    (b"cposix\nsystem\n(S'touch /tmp/nbreason-pwned'\ntR.", "posix.system"),
    (b"cbuiltins\neval\n(S'1+1'\ntR.", "builtins.eval"),
    (b"cbuiltins\ngetattr\n(cbuiltins\ndict\nS'get'\ntR.", "builtins.getattr"),
    (b"cpandas.io.pickle\nread_pickle\n(S'/tmp/x.pkl'\ntR.", "pandas.io.pickle.read_pickle"),
    (b"cpandas\nread_pickle\n(S'/tmp/x.pkl'\ntR.", "pandas.read_pickle"),
    (b"cnumpy\nload\n(S'/tmp/x.npy'\ntR.", "numpy.load"),
    (b"csubprocess\nPopen\n(S'true'\ntR.", "subprocess.Popen"),
    (b"c__builtin__\nexec\n(S'1'\ntR.", "builtins.exec"),  # the protocol-2 spelling maps to builtins
])
def test_the_unpickler_refuses_any_callable_outside_the_allowed_list(payload, named):
    with pytest.raises(Refused, match=f"^{named}$"):
        safe_loads(payload)


def test_the_allowed_list_names_no_module_wholesale_and_no_reader():
    names = {f"{module}.{name}" for module, name in unpickle.ALLOWED}
    for dangerous in ("builtins.getattr", "builtins.eval", "builtins.exec", "builtins.__import__", "builtins.open",
                      "pandas.read_pickle", "pandas.read_csv", "numpy.load", "copyreg.__newobj__"):
        assert dangerous not in names
    assert all(name.isidentifier() for _, name in unpickle.ALLOWED)


PLAIN = {
    "python": [1, 2.5, "s", b"b", None, True, (1, 2), {1, 2}, frozenset([3]), {"a": [1]}, complex(1, 2),
               bytearray(b"x"), range(3), slice(1, 2), Ellipsis],
    "stdlib": [datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc), datetime.date(2024, 1, 1),
               datetime.time(1, 2), datetime.timedelta(days=1), decimal.Decimal("1.10"), fractions.Fraction(1, 3),
               OrderedDict(a=1), defaultdict(list, a=[1]), deque([1]), Counter("aab"), uuid.UUID(int=7)],
    "numpy": [np.arange(6).reshape(2, 3), np.array([1, "a"], dtype=object), np.float64(1.5), np.int64(3),
              np.array([(1, 2.0)], dtype=[("x", "i4"), ("y", "f8")]), np.array(["2024-01-01"], dtype="datetime64[D]"),
              np.ma.masked_array([1, 2], [0, 1])],
    "pandas": [pd.DataFrame({"i": [1, 2], "s": ["a", "b"], "c": pd.Categorical(["x", "y"]),
                             "d": pd.to_datetime(["2024-01-01", "2024-02-01"]).tz_localize("UTC"),
                             "n": pd.array([1, None], dtype="Int64"), "t": pd.to_timedelta([1, 2], unit="D"),
                             "p": pd.period_range("2024-01", periods=2, freq="M"),
                             "b": pd.array([True, None], dtype="boolean")}),
               pd.Series([1.0, 2.0], index=pd.Index(["a", "b"], name="k"), name="x"),
               pd.DataFrame({"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])),
               pd.date_range("2024", periods=3, freq="D"), pd.date_range("2024", periods=3, freq="ME"),
               pd.Series(pd.concat([pd.Series(["a"]), pd.Series(["b", None])]).array),
               pd.Timestamp("2024-01-01", tz="Europe/Paris"), pd.Timedelta("1D"), pd.NaT],
}


def through_the_sandbox_pickler(value) -> bytes:
    """Pickled as the sandbox pickles it (time zones by their key): `unpickle.dumps`."""
    from nbreason.unpickle import dumps

    return dumps(value)


@pytest.mark.parametrize("kind", sorted(PLAIN))
def test_plain_data_crosses_intact(kind):
    for value in PLAIN[kind]:
        back = safe_loads(through_the_sandbox_pickler(value))
        if isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
            assert value.equals(back), value
        elif isinstance(value, np.ndarray):
            assert type(back) is type(value) and back.dtype == value.dtype and (back == value).all()
        elif value is pd.NaT:
            assert back is pd.NaT
        else:
            assert back == value and type(back) is type(value), value


def test_a_crafted_arrow_array_is_checked_before_it_is_used():
    import pyarrow as pa

    import struct

    good = pa.array(["a", "bb"])
    data = pickle.dumps(good, protocol=pickle.HIGHEST_PROTOCOL)
    offsets = struct.pack("<3i", 0, 1, 3)
    assert data.count(offsets) == 1
    crafted = data.replace(offsets, struct.pack("<3i", 0, 1, 999))  # a string reaching past the data
    pickle.loads(crafted)  # pyarrow itself rebuilds it unchecked
    with pytest.raises(pa.ArrowInvalid, match="out of bounds"):
        safe_loads(crafted)
    assert safe_loads(data).equals(good)


def test_names_that_are_not_python_names_are_refused():
    assert returns.check_names("a, b,a") == ["a", "b"]
    with pytest.raises(ReturnError, match=r"^--return: '1x' is not a valid Python name$"):
        returns.check_names(["ok", "1x"])


async def test_returns_need_one_attempt():
    with pytest.raises(ReturnError, match="needs one attempt"):
        await reason("q", config=RunConfig(model="none", base_url="http://127.0.0.1:9/v1", attempts=2),
                     returns=["x"])


async def test_reading_back_follows_no_link_the_sandbox_planted_and_stops_at_the_limit(sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the sandbox")
    execution = await sandbox.run_code(
        "import os\nos.makedirs('.nbreason_return', exist_ok=True)\n"
        f"os.symlink({str(secret)!r}, '.nbreason_return/x')\nos.symlink({str(tmp_path)!r}, 'up')\n"
        "open('.nbreason_return/big', 'wb').write(b'0' * 2000)\nopen('.nbreason_return/ok', 'wb').write(b'fine')")
    assert execution.error is None
    for name in (".nbreason_return/x", "up/secret.txt"):
        with pytest.raises(OSError):
            await sandbox.download(name, limit=1000)
    with pytest.raises(ValueError, match="outside"):
        await sandbox.download("../secret.txt", limit=1000)
    with pytest.raises(ValueError, match="over the limit"):
        await sandbox.download(".nbreason_return/big", limit=1000)
    assert await sandbox.download(".nbreason_return/ok", limit=1000) == b"fine"
