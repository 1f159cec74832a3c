"""Loading a pickle the sandbox wrote into the notebook's own process: only plain data, and only
within bounds.

The sandbox runs code the model wrote; unpickling runs whatever callables a
pickle names, in the notebook's own process. So a pickle from the sandbox is read by
`SafeUnpickler`, which resolves only the classes and functions listed in ALLOWED (plain Python
containers and values, datetime, decimal, fractions, uuid, numpy arrays and scalars, pandas data
structures) and refuses every other name, with a message naming it. A class the model defined
(its `__reduce__` could name `os.system`), `eval`, `getattr`, a reader such as `pandas.read_pickle`:
none of them can be named, so none of them runs.

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
import sys
from typing import Any

from . import bounded

LOAD_MEMORY = 2**30  # what rebuilding one value may take in the child process, beyond its imports
LOAD_SECONDS = 30.0


class Refused(pickle.UnpicklingError):
    """A pickle from the sandbox names something that may not be loaded into the notebook."""


class TooCostly(ValueError):
    """Rebuilding a pickle from the sandbox takes more memory or time than it may."""


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
from nbreason import unpickle
memory, seconds, cap = map(int, sys.argv[2:5])
data = sys.stdin.buffer.read()
from nbreason import bounded
bounded.hold_to(memory, seconds, [m for m in ("numpy", "pandas", "pyarrow") if m.encode() in data])
def why(**report):
    sys.stderr.write(json.dumps(report) + "\n")
    sys.exit(2)
try:
    value = unpickle.safe_loads(data)
    out = unpickle.dumps(value)
    try:
        spelled = unpickle.spelled_size(value, 4 * cap)
    except ValueError as exc:  # the pickler's fast mode: a value that contains itself
        if "cyclic" not in str(exc):
            raise
        why(cycle=True)
    if spelled > 4 * cap:
        why(spelled=spelled)
except unpickle.Refused as exc:
    why(refused=str(exc))
except MemoryError:
    why(memory=True)
except Exception as exc:
    why(error=f"{type(exc).__name__}: {exc}"[:500])
if len(out) > cap:
    why(size=len(out))
sys.stdout.buffer.write(out)
"""


async def bounded_loads(data: bytes, limit: int) -> Any:
    """`safe_loads`, first in a child process with at most LOAD_MEMORY and LOAD_SECONDS: TooCostly
    when the value takes more, or pickles again to far more than `limit`. The notebook then
    loads the child's own pickle of it, whose size and cost that run has just measured."""
    if not sys.executable:  # an embedded interpreter that cannot start another
        return safe_loads(data)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cap = limit * 3 // 2 + 2**20  # the same value, pickled again here, with room for other versions
    env = bounded.child_env()
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
        raise TooCostly(f"rebuilding it takes more than {size_words(LOAD_MEMORY)} of memory"
                        if report.get("memory") else f"rebuilding it takes more than {LOAD_SECONDS:g} s")
    if "spelled" in report:
        raise TooCostly(f"its shared parts, written out each place they appear, come to more than {size_words(4 * cap)} "
                        "(small to send, but that much to show, compare or hash)")
    if report.get("cycle"):
        raise TooCostly("it contains itself")
    if "size" in report:
        raise TooCostly(f"it expands to {size_words(report['size'])} once rebuilt, over the {size_words(cap)} limit")
    raise ValueError(str(report.get("error") or f"the loader exited with code {process.returncode}"))


def size_words(size: Any) -> str:
    """A size in words, or "an unknown size" for what is not a whole number (a report can lie)."""
    from .datafiles import size_text

    return size_text(size) if isinstance(size, int) and not isinstance(size, bool) else "an unknown size"
