"""Variables back from the sandbox into the notebook (`%%reason --return NAME[,NAME]`,
`reason(..., returns=[...])`).

After the run, code in the sandbox pickles each named variable into a file in its working folder
(a matplotlib figure, or an Axes, is drawn to a PNG instead), the notebook reads the files back,
and `RunResult.returned` holds the values. Each is capped at MAX_BYTES; a name the run left
undefined, or one too large, is a one-line note and the other names still come back.

The trust boundary. The sandbox runs code the model wrote; unpickling runs whatever callables a
pickle names, in the notebook's own process. So a pickle from the sandbox is read by
`SafeUnpickler`, which resolves only the classes and functions listed in ALLOWED (plain Python
containers and values, datetime, decimal, fractions, uuid, numpy arrays and scalars, pandas data
structures) and refuses every other name, with a message naming it. A class the model defined
(its `__reduce__` could name `os.system`), `eval`, `getattr`, a reader such as `pandas.read_pickle`:
none of them can be named, so none of them runs. Figures come back as PNG bytes checked by their
signature and wrapped in `IPython.display.Image`, not as figure objects: unpickling a figure
would need hundreds of matplotlib classes allowed.

Allowed names can still be called with arguments that expand (`bytearray(2**29)`,
`list(range(10**8))`, a set of ints that all hash alike), so a small pickle could fill the
notebook's memory or hold it for hours. Two bounds: the container constructors are called only on
data that is already built (a pickle of the protocol the sandbox uses never needs more), and each
pickle is first loaded in a child process with a memory limit (LOAD_MEMORY) and a deadline
(LOAD_SECONDS), then pickled again there; the notebook loads only that copy, and only when it is
no larger than the sandbox's pickle may be (with some slack). A pickle shares what it has
already written, so a few kilobytes can hold a list of a thousand references to one list of a
thousand references to ...: cheap to load, 1000**depth items to show, compare or hash. The child
also measures the value with every shared part written out again (`spelled_size`) and refuses it
past four times that limit, or when it contains itself.
"""

from __future__ import annotations

import _compat_pickle
import asyncio
import io
import json
import os
import pickle
import re
import sys
from dataclasses import dataclass, field
from typing import Any

MAX_BYTES = 50 * 2**20  # per variable
LOAD_MEMORY = 2**30  # what rebuilding one variable may take in the child process, beyond its imports
LOAD_SECONDS = 30.0
FOLDER = ".nbreason_return"
PNG = b"\x89PNG\r\n\x1a\n"


class ReturnError(ValueError):
    """The names asked for cannot be used (not Python names)."""


class Refused(pickle.UnpicklingError):
    """A pickle from the sandbox names something that may not be loaded into the notebook."""


class TooCostly(ValueError):
    """Rebuilding a pickle from the sandbox takes more memory or time than it may."""


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


# --- what may be loaded ----------------------------------------------------------------------

def _names(module: str, *names: str) -> set[tuple[str, str]]:
    return {(module, name) for name in names}


ALLOWED: set[tuple[str, str]] = (
    _names("builtins", "list", "dict", "set", "frozenset", "tuple", "bytearray", "bytes", "str", "int", "float",
           "complex", "bool", "slice", "range", "Ellipsis", "NotImplemented")
    | _names("collections", "OrderedDict", "defaultdict", "deque", "Counter")
    | _names("datetime", "date", "datetime", "time", "timedelta", "timezone")
    | _names("zoneinfo", "ZoneInfo")
    | _names("decimal", "Decimal") | _names("fractions", "Fraction") | _names("uuid", "UUID")
    # numpy: arrays (also masked and record arrays), dtypes and scalars. In numpy 1 the same
    # functions live in numpy.core.
    | _names("numpy", "ndarray", "dtype", "bool_", "record", "recarray")
    | _names("numpy.ma", "MaskedArray") | _names("numpy.ma.core", "MaskedArray", "_mareconstruct")
    | _names("numpy.rec", "recarray", "record")
    | {(f"numpy.{core}.{module}", name) for core in ("core", "_core")
       for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))}
    # pandas: its data structures, dtypes, and the functions their pickles rebuild them with
    | _names("pandas", "DataFrame", "Series", "Index", "MultiIndex", "RangeIndex", "DatetimeIndex", "TimedeltaIndex",
             "PeriodIndex", "IntervalIndex", "CategoricalIndex", "Categorical", "Timestamp", "Timedelta", "Period",
             "Interval", "NA", "NaT", "CategoricalDtype", "DatetimeTZDtype", "PeriodDtype", "IntervalDtype",
             "StringDtype", "BooleanDtype", "SparseDtype", "ArrowDtype", "Int8Dtype", "Int16Dtype", "Int32Dtype",
             "Int64Dtype", "UInt8Dtype", "UInt16Dtype", "UInt32Dtype", "UInt64Dtype", "Float32Dtype", "Float64Dtype")
    | _names("pandas.arrays", "ArrowExtensionArray", "ArrowStringArray", "BooleanArray", "DatetimeArray",
             "FloatingArray", "IntegerArray", "IntervalArray", "NumpyExtensionArray", "PeriodArray", "SparseArray",
             "StringArray", "TimedeltaArray")
    | _names("pandas.core.frame", "DataFrame") | _names("pandas.core.series", "Series")
    | _names("pandas.core.indexes.base", "_new_Index", "Index")
    | _names("pandas.core.indexes.datetimes", "_new_DatetimeIndex")
    | _names("pandas.core.indexes.multi", "MultiIndex")
    | _names("pandas.core.internals.managers", "BlockManager", "SingleBlockManager")
    | _names("pandas._libs.internals", "_unpickle_block")
    | _names("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked")
    | _names("pandas._libs.interval", "__pyx_unpickle_IntervalMixin", "Interval")
    | _names("pandas._libs.missing", "NA", "C_NA")
    | _names("pandas._libs.tslibs.nattype", "_nat_unpickle")
    | _names("pandas._libs.tslibs.timestamps", "_unpickle_timestamp", "Timestamp")
    | _names("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle", "Timedelta")
    | _names("pandas._libs.tslibs.period", "Period")
    # pandas' Arrow-backed strings: buffers and types, the arrays checked once rebuilt (below)
    | _names("pyarrow.lib", "py_buffer", "type_for_alias", "chunked_array")
)

# Date offsets (Day, MonthEnd, …) are classes of one module: any subclass of its BaseOffset.
OFFSETS_MODULE = "pandas._libs.tslibs.offsets"


def _validated_arrow_array(data):
    """pyarrow rebuilds an array from buffers without checking them: check it, fully."""
    from pyarrow.lib import _restore_array

    array = _restore_array(data)
    array.validate(full=True)
    return array


# Constructors that fill a container from their argument. The protocol the sandbox pickles with has
# opcodes for lists, dicts, sets, tuples and bytes, so a real pickle calls these only on data it
# has already built (Counter({...}), deque((), maxlen), OrderedDict()); a lazy or numeric argument
# (range(10**9), 2**29) would expand far past the pickle's size.
BUILT = (list, tuple, set, frozenset, dict, str, bytes, bytearray)
EXPANDING = _names("builtins", "list", "dict", "set", "frozenset", "tuple", "bytearray", "bytes") | _names(
    "collections", "OrderedDict", "deque", "Counter")


class _OnBuiltData:
    """`kind`, callable only on built data; as a value (a defaultdict's factory) it is `kind`."""

    def __init__(self, kind: type, spelled: str):
        self.kind, self.spelled = kind, spelled

    def __call__(self, *args):
        if args and not isinstance(args[0], BUILT):
            raise Refused(f"{self.spelled}({type(args[0]).__name__})")
        return self.kind(*args)

    def __repr__(self) -> str:
        return repr(self.kind)


def _defaultdict(factory=None, *args):
    from collections import defaultdict

    if args and not isinstance(args[0], BUILT):
        raise Refused(f"collections.defaultdict(…, {type(args[0]).__name__})")
    return defaultdict(factory.kind if isinstance(factory, _OnBuiltData) else factory, *args)


def _empty_shape(spelled: str, rebuild):
    """numpy rebuilds an array from an empty one of shape (0,) and then its data; a large shape
    here would allocate (and, for objects, fill) memory the pickle never paid for."""

    def checked(*args):
        shape = args[2] if spelled.endswith("_mareconstruct") else args[1]
        count = 1
        for n in shape if isinstance(shape, tuple) else (shape,):
            count *= n if isinstance(n, int) else 2
        if count > 1:
            raise Refused(f"{spelled} of shape {shape!r}")
        return rebuild(*args)

    return checked


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that loads only what ALLOWED names (see the module docstring)."""

    def find_class(self, module: str, name: str):
        # Old protocols spell some names the Python 2 way (__builtin__.exec): checked as they load.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) == ("pyarrow.lib", "_restore_array"):
            return _validated_arrow_array
        if (module, name) == ("collections", "defaultdict"):
            return _defaultdict
        if (module, name) in EXPANDING:
            return _OnBuiltData(super().find_class(module, name), f"{module}.{name}")
        if (module, name) in ALLOWED:
            found = super().find_class(module, name)
            if name in ("_reconstruct", "_mareconstruct"):
                return _empty_shape(f"{module}.{name}", found)
            return found
        if module == OFFSETS_MODULE and name.isidentifier():
            from pandas._libs.tslibs import offsets

            found = getattr(offsets, name, None)
            if isinstance(found, type) and issubclass(found, offsets.BaseOffset):
                return found
        raise Refused(f"{module}.{name}")


def safe_loads(data: bytes) -> Any:
    """Unpickle data that came from the sandbox. Refused (naming the class or function) when the
    pickle names anything outside ALLOWED. In this process, without a memory or time bound: see
    `bounded_loads`."""
    return SafeUnpickler(io.BytesIO(data)).load()


class _Pickler(pickle.Pickler):
    """Pickles as the sandbox pickles (time zones by their key)."""

    def reducer_override(self, obj):
        import zoneinfo

        if isinstance(obj, zoneinfo.ZoneInfo):
            return zoneinfo.ZoneInfo, (obj.key,)
        return NotImplemented


def dumps(value: Any) -> bytes:
    """Pickled as the sandbox pickles (time zones by their key)."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


class _Past(Exception):
    pass


def spelled_size(value: Any, cap: int) -> int:
    """The size of `value` pickled with each shared part written out again every place it appears
    (what showing, comparing, hashing or copying it walks through), counted up to just past `cap`.
    A list of a thousand references to one list of a thousand references to ... pickles to a few
    kilobytes but is 1000**depth items to show: its memoized pickle hides that, this does not.
    ValueError for a value that contains itself."""

    class Sink:
        size = 0

        def write(self, data):
            self.size += memoryview(data).nbytes
            if self.size > cap:
                raise _Past
            return len(data)

    sink = Sink()
    pickler = _Pickler(sink, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # no memo: shared parts are written out each time
    try:
        pickler.dump(value)
    except _Past:
        pass
    return sink.size


# Run as `python -c LOADER ROOT MEMORY SECONDS CAP` with the sandbox's pickle on stdin: the value
# rebuilt within the limits and pickled again on stdout, or one JSON line on stderr saying why not.
LOADER = r"""
import json, sys
sys.path[:] = [sys.argv[1]] + [p for p in sys.path if p not in ("", ".")]
from nbreason import returns
memory, seconds, cap = map(int, sys.argv[2:5])
data = sys.stdin.buffer.read()
for module in ("numpy", "pandas", "pyarrow"):  # their own memory is not the value's
    if module.encode() in data:
        try:
            __import__(module)
        except ImportError:
            pass
try:
    import resource
    pages = int(open("/proc/self/statm").read().split()[0])
    size = pages * resource.getpagesize() + memory
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
except (ImportError, OSError, ValueError):
    pass
def why(**report):
    sys.stderr.write(json.dumps(report) + "\n")
    sys.exit(2)
try:
    value = returns.safe_loads(data)
    out = returns.dumps(value)
    try:
        spelled = returns.spelled_size(value, 4 * cap)
    except ValueError as exc:  # the pickler's fast mode: a value that contains itself
        if "cyclic" not in str(exc):
            raise
        why(cycle=True)
    if spelled > 4 * cap:
        why(spelled=spelled)
except returns.Refused as exc:
    why(refused=str(exc))
except MemoryError:
    why(memory=True)
except Exception as exc:
    why(error=f"{type(exc).__name__}: {exc}"[:500])
if len(out) > cap:
    why(size=len(out))
sys.stdout.buffer.write(out)
"""


def loader_env() -> dict:
    """The loader child's environment: the sandbox kernel's allow-list of the notebook's (the
    child reads only data from the sandbox, but has no use for the user's keys either)."""
    from .sandboxes.kernelspec import find_kernel_dir, load_launcher
    from .sandboxes.base import SandboxError

    try:
        env = load_launcher(find_kernel_dir()).sandbox_env(dict(os.environ))
    except SandboxError:  # no kernelspec here (an E2B-only install): the least that runs Python
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "PYTHONPATH", "VIRTUAL_ENV")}
    # Allocators that reserve address space ahead (pyarrow's, a thread pool's) would trip the limit.
    return env | {"ARROW_DEFAULT_MEMORY_POOL": "system", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                  "MKL_NUM_THREADS": "1"}


async def bounded_loads(data: bytes, limit: int = MAX_BYTES) -> Any:
    """`safe_loads`, first in a child process with at most LOAD_MEMORY and LOAD_SECONDS: TooCostly
    when the value takes more, or pickles again to far more than `limit`. The notebook then
    loads the child's own pickle of it, whose size and cost that run has just measured."""
    if not sys.executable:  # an embedded interpreter that cannot start another
        return safe_loads(data)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cap = limit * 3 // 2 + 2**20  # the same value, pickled again here, with room for other versions
    env = loader_env()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOADER, root, str(LOAD_MEMORY), str(max(1, round(LOAD_SECONDS))), str(cap),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        out, err = await asyncio.wait_for(process.communicate(data), LOAD_SECONDS)
    except asyncio.TimeoutError:
        raise TooCostly(f"rebuilding it takes more than {LOAD_SECONDS:g} s") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode == 0:
        return safe_loads(out)
    try:
        report = json.loads(err.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        report = {}
    if not isinstance(report, dict):
        report = {}
    if "refused" in report:
        raise Refused(str(report["refused"]))
    if report.get("memory") or process.returncode < 0:  # MemoryError, or killed past its CPU time
        raise TooCostly(f"rebuilding it takes more than {_size(LOAD_MEMORY)} of memory"
                        if report.get("memory") else f"rebuilding it takes more than {LOAD_SECONDS:g} s")
    if "spelled" in report:
        raise TooCostly(f"its shared parts, written out each place they appear, come to more than {_size(4 * cap)} "
                        "(small to send, but that much to show, compare or hash)")
    if report.get("cycle"):
        raise TooCostly("it contains itself")
    if "size" in report:
        raise TooCostly(f"it expands to {_size(report['size'])} once rebuilt, over the {_size(cap)} limit")
    raise ValueError(str(report.get("error") or f"the loader exited with code {process.returncode}"))


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


def _size(size: Any) -> str:
    from .datafiles import size_text

    return size_text(size) if isinstance(size, int) and not isinstance(size, bool) else "an unknown size"


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
            out.notes.append(f"--return {name}: not returned: the {kind} is {_size(entry.get('size'))} pickled, "
                             f"over the {_size(limit)} limit")
        elif status == "unpicklable":
            out.notes.append(f"--return {name}: a {kind} cannot be sent back ({str(entry.get('why', ''))[:200]})")
        elif status == "ok":
            try:
                out.values[name] = await _read_back(sandbox, name, entry.get("how"), limit)
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


async def _read_back(sandbox, name: str, how: Any, limit: int) -> Any:
    data = await sandbox.download(f"{FOLDER}/{name}", limit=limit)
    if how == "png":
        if not data.startswith(PNG):
            raise ValueError("the figure is not a PNG image")
        from IPython.display import Image

        return Image(data=data, format="png")
    return await bounded_loads(data, limit)
