"""Variables back from the sandbox into the notebook (`%%reason --return NAME[,NAME]`,
`reason(..., returns=[...])`).

After the run, code in the sandbox pickles each named variable into a file in its working folder
(a matplotlib figure, or an Axes, is drawn to a PNG instead), the notebook reads the files back,
and `RunResult.returned` holds the values. Each is capped at MAX_BYTES; a name the run left
undefined, or one too large, is a one-line note and the other names still come back.

A pickle from the sandbox is loaded only through `unpickle.bounded_loads`: plain data, rebuilt
within bounds (see nbreason/unpickle.py). Figures come back as PNG bytes checked by their
signature and wrapped in `IPython.display.Image`, not as figure objects: unpickling a figure
would need hundreds of matplotlib classes allowed.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .unpickle import Refused, TooCostly, bounded_loads, size_words

MAX_BYTES = 50 * 2**20  # per variable
FOLDER = ".nbreason_return"
PNG = b"\x89PNG\r\n\x1a\n"


class ReturnError(ValueError):
    """The names asked for cannot be used (not Python names)."""


# Names Python and IPython keep in the notebook's namespace: a value from the sandbox there would
# replace the builtins every later cell runs with, or what magics call (get_ipython).
KEPT = {"get_ipython", "exit", "quit", "In", "Out", "_ih", "_oh", "_dh"}


# ... and dunders, IPython's output history (`_`, `__`, `_5`) and input history (`_i`, `_ii`, `_i5`).
_KEPT_PATTERN = re.compile(r"__.*__|_+|_i{1,3}|_[_i]*\d+")


def _kept(name: str) -> bool:
    return name in KEPT or _KEPT_PATTERN.fullmatch(name) is not None


def check_names(names) -> list[str]:
    """`"a, b"` or `["a", "b"]` as a list of names; ReturnError for anything that is not a name,
    or is one Python or IPython keep in the notebook's namespace. Spelled as Python reads them
    (NFKC: `ﬁle` is `file`), the names the sandbox's code defines and the notebook's code uses."""
    import unicodedata

    if isinstance(names, str):
        names = names.split(",")
    cleaned = [unicodedata.normalize("NFKC", str(n).strip()) for n in names if str(n).strip()]
    bad = [n for n in cleaned if not n.isidentifier()]
    if bad:
        raise ReturnError(f"--return: {', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} "
                          "not a valid Python name")
    kept = [n for n in cleaned if _kept(n)]
    if kept:
        raise ReturnError(f"--return: {', '.join(map(repr, kept))}: Python or IPython keep "
                          f"{'this name' if len(kept) == 1 else 'these names'} in the notebook; return another name")
    return list(dict.fromkeys(cleaned))


# --- in the sandbox ---------------------------------------------------------------------------

SANDBOX_CODE = '''
def _nbreason_return(names, folder, cap):
    import io, json, os, pickle, sys
    zoneinfo = sys.modules.get("zoneinfo")
    figure = getattr(sys.modules.get("matplotlib.figure"), "Figure", None)
    artist = getattr(sys.modules.get("matplotlib.artist"), "Artist", None)

    class Sink:
        """Writes up to the cap, then only counts: the report gives the exact size either way."""
        def __init__(self, path):
            self.file, self.size = open(path, "wb"), 0
        def write(self, data):
            size = memoryview(data).nbytes  # protocol 5 hands large buffers over as PickleBuffer
            self.size += size
            if self.size <= cap:
                self.file.write(data)
            return size

    class Pickler(pickle.Pickler):
        def reducer_override(self, obj):
            if zoneinfo is not None and isinstance(obj, zoneinfo.ZoneInfo):
                return zoneinfo.ZoneInfo, (obj.key,)  # by its key, not through getattr
            return NotImplemented

    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):
        os.remove(os.path.join(folder, old))
    report = {}
    space = globals()
    for name in names:
        if name not in space:
            report[name] = {"status": "missing"}
            continue
        value = space[name]
        kind = type(value).__module__ + "." + type(value).__qualname__
        if artist is not None and figure is not None and isinstance(value, artist) and not isinstance(value, figure):
            value = value.get_figure() or value
        sink = Sink(os.path.join(folder, name))
        try:
            if figure is not None and isinstance(value, figure):
                buffer = io.BytesIO()
                value.savefig(buffer, format="png", bbox_inches="tight")
                sink.write(buffer.getvalue())
                how = "png"
            else:
                Pickler(sink, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
                how = "pickle"
        except Exception as exc:
            report[name] = {"status": "unpicklable", "type": kind, "why": f"{type(exc).__name__}: {exc}"[:200]}
            continue
        finally:
            sink.file.close()
        if sink.size > cap:
            os.remove(os.path.join(folder, name))
            report[name] = {"status": "too big", "type": kind, "size": sink.size}
        else:
            report[name] = {"status": "ok", "type": kind, "size": sink.size, "how": how}
    sys.stdout.write(json.dumps(report) + "\\n")

_nbreason_return(%(names)r, %(folder)r, %(cap)d)
del _nbreason_return
'''


@dataclass
class Returned:
    """What came back: the values by name, and a note for each name that did not."""

    values: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


async def fetch(sandbox, names: list[str], *, timeout: float = 60.0, limit: int | None = None) -> Returned:
    """Bring `names` back from `sandbox`. Never raises for what the run did: each failure is a note."""
    limit = MAX_BYTES if limit is None else limit
    out = Returned()
    try:
        keep = await sandbox.upload(f"{FOLDER}/.keep", b"")  # where the working folder is, in the sandbox
        folder = keep.rsplit("/", 1)[0]
        execution = await sandbox.run_code(SANDBOX_CODE % {"names": names, "folder": folder, "cap": limit},
                                           timeout=timeout)
    except Exception as exc:
        out.notes.append(f"--return: nothing came back: {type(exc).__name__}: {exc}")
        return out
    report = _report(execution)
    if report is None:
        why = f"{execution.error.name}: {execution.error.value}" if execution.error else "no report"
        out.notes.append(f"--return: nothing came back ({why})")
        return out
    for name in names:
        entry = report.get(name) if isinstance(report.get(name), dict) else {}
        status, kind = entry.get("status"), str(entry.get("type", "value"))[:120]  # the sandbox wrote these
        if status == "missing":
            out.notes.append(f"--return {name}: the run did not define {name}")
        elif status == "too big":
            out.notes.append(f"--return {name}: not returned: the {kind} is {size_words(entry.get('size'))} pickled, "
                             f"over the {size_words(limit)} limit")
        elif status == "unpicklable":
            out.notes.append(f"--return {name}: a {kind} cannot be sent back ({str(entry.get('why', ''))[:200]})")
        elif status == "ok":
            try:
                out.values[name] = await _read_back(sandbox, name, entry.get("how"), limit, timeout)
            except asyncio.TimeoutError:
                out.notes.append(f"--return {name}: not returned: reading it back took more than {timeout:g} s")
            except TooCostly as exc:
                out.notes.append(f"--return {name}: not returned: {exc}")
            except Refused as exc:
                out.notes.append(f"--return {name}: refused: the {kind} needs {exc}, which is not loaded into the "
                                 "notebook (only plain data crosses from the sandbox: built-in values, numpy, pandas, "
                                 "datetime; figures come back as images); convert it in the run, e.g. to a dict")
            except Exception as exc:
                out.notes.append(f"--return {name}: could not be read back ({type(exc).__name__}: {exc})")
        else:
            out.notes.append(f"--return {name}: the sandbox said nothing about it")
    return out


def _report(execution) -> dict | None:
    lines = "".join(execution.logs.stdout).strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


async def _read_back(sandbox, name: str, how: Any, limit: int, timeout: float) -> Any:
    # Bounded in time as well as size: a download can trickle a byte at a time (a FIFO fed slowly
    # in an E2B VM), and no read of it ever waits long enough to time out.
    data = await asyncio.wait_for(sandbox.download(f"{FOLDER}/{name}", limit=limit), timeout)
    if how == "png":
        if not data.startswith(PNG):
            raise ValueError("the figure is not a PNG image")
        from IPython.display import Image

        return Image(data=data, format="png")
    return await bounded_loads(data, limit)
