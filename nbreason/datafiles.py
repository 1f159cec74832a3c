"""Data files for a run (`nbreason run --with PATH`): copied into the sandbox's working folder,
and described to the model in a few lines instead of being pasted into the prompt.

A table (CSV, TSV, Parquet, Excel, JSON) is described by its columns, their types, its rows and a
few values, read here with pandas and bounded: only a head is parsed, rows are counted exactly
for small files, by lines for larger ones, and not at all past COUNT_LIMIT (a 10 GB file is never
read whole). Any other file is described by its name, size and type.

A path that is missing, a folder, or that cannot be read is refused before anything starts, with
one line (`DataFileError`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import mimetypes
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .sandboxes.files import write_inside

HEAD_ROWS = 5  # rows parsed to learn the columns and show a few values
SHOWN_ROWS = 3
MAX_COLUMNS = 30  # described; the rest are counted
EXACT_LIMIT = 32 * 2**20  # files up to this size are read whole to count their rows exactly
COUNT_LIMIT = 512 * 2**20  # larger files up to this size have their lines counted; beyond, rows are not counted
SAMPLE_CHARS = 600
HEADER_BYTES = 64 * 2**20  # a table's first line is read up to this to count its columns
QUOTED_HEADER_BYTES = 4 * 2**20  # ... and parsed up to this when it has quoted names

TABLES = {".csv": "CSV", ".tsv": "TSV", ".tab": "TSV", ".parquet": "Parquet", ".pq": "Parquet",
          ".xlsx": "Excel", ".xlsm": "Excel", ".xls": "Excel", ".json": "JSON", ".jsonl": "JSON lines",
          ".ndjson": "JSON lines"}
NEEDS = {"Parquet": "pyarrow", "Excel": "openpyxl"}  # pandas reads these formats with these packages
# A table's head is read in a child process within these: a file handed to the user can make its
# first line, or an Excel part once unzipped, hundreds of MB from a few KB on disk.
DESCRIBE_MEMORY = 2**30  # beyond the child's imports
DESCRIBE_SECONDS = 30
UNZIPPED_LIMIT = 128 * 2**20  # an .xlsx whose parts unzip to more is not read (a sheet's strings are read whole)


class DataFileError(ValueError):
    """A data file that cannot be given to a run; the message names it and says why."""


@dataclass(frozen=True)
class DataFile:
    path: Path  # resolved, on this machine
    name: str  # its name in the sandbox's working folder
    size: int
    description: str  # what the model is told

    def to_json(self) -> dict:
        return {"path": str(self.path), "name": self.name, "size": self.size}


def size_text(size: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def describe(path: str | os.PathLike, *, with_sample: bool = True) -> DataFile:
    """Check a data file and describe it. DataFileError when it is missing, a folder, not a regular
    file, or unreadable."""
    given = str(path)
    target = Path(path).expanduser()
    try:
        info = target.stat()
    except FileNotFoundError:
        raise DataFileError(f"--with {given}: no such file") from None
    except OSError as exc:
        raise DataFileError(f"--with {given}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataFileError(f"--with {given}: is a folder; give the files in it one by one")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device: reading it could block or never end
        raise DataFileError(f"--with {given}: not a regular file")
    try:
        with open(target, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DataFileError(f"--with {given}: cannot read it ({exc.strerror or exc})") from None
    resolved = target.resolve()
    name = resolved.name
    text = f"{name}: a file in the working folder, {size_text(info.st_size)}"
    if with_sample:
        text = _bounded_table(resolved, info.st_size, text) or _describe_other(resolved, text)
    return DataFile(resolved, name, info.st_size, text)


def check_names(files: list[DataFile]) -> None:
    """Two files of one name would overwrite each other in the working folder."""
    seen: dict[str, Path] = {}
    for file in files:
        if file.name in seen and seen[file.name] != file.path:
            raise DataFileError(f"--with: two files are named {file.name} ({seen[file.name]} and {file.path}); "
                                "rename one")
        seen[file.name] = file.path


def _describe_other(path: Path, text: str) -> str:
    kind, _ = mimetypes.guess_type(path.name)
    return f"{text}, type {kind or 'unknown'}"


def _describe_table(path: Path, size: int, text: str) -> str | None:
    kind = TABLES.get(path.suffix.lower())
    if kind is None:
        return None
    need = NEEDS.get(kind)
    if need:
        try:
            __import__(need)
        except ImportError:
            return f"{text}, {kind} (not described here: reading it needs the {need} package)"
    try:
        head, rows, width = _read(path, kind, size)
    except MemoryError:
        raise
    except Exception as exc:  # not the table its name says: described as a file, with why
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return _describe_other(path, text) + f" (could not be read as {kind}: {reason})"
    columns = [f"{c} ({head[c].dtype})" for c in list(head.columns)[:MAX_COLUMNS]]
    more = f" and {width - MAX_COLUMNS} more" if width > MAX_COLUMNS else ""
    lines = [f"{text}, {kind}, {rows}, {width} columns: {', '.join(columns)}{more}"]
    sample = head.head(SHOWN_ROWS).to_string(max_cols=12, max_colwidth=30)
    if len(sample) > SAMPLE_CHARS:
        sample = sample[:SAMPLE_CHARS] + " …"
    lines.append("first rows:\n" + sample)
    return "\n".join(lines)


# Run as `python -c DESCRIBER ROOT MEMORY SECONDS PATH SIZE TEXT`: the description on stdout, or
# exit code 3 when reading the head took more memory than allowed.
DESCRIBER = r"""
import sys
sys.path[:] = [sys.argv[1]] + [p for p in sys.path if p not in ("", ".")]
from pathlib import Path
from nbreason import datafiles
memory, seconds, path, size, text = int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
from nbreason import bounded
bounded.hold_to(memory, seconds, ["pandas", datafiles.NEEDS.get(datafiles.TABLES.get(path.suffix.lower()))])
try:
    described = datafiles._describe_table(path, size, text)
except MemoryError:
    sys.exit(3)
sys.stdout.write(described or "")
"""


def _bounded_table(path: Path, size: int, text: str) -> str | None:
    """`_describe_table`, in a child process with at most DESCRIBE_MEMORY and DESCRIBE_SECONDS."""
    kind = TABLES.get(path.suffix.lower())
    if kind is None:
        return None
    if not sys.executable:  # an embedded interpreter that cannot start another
        return _describe_table(path, size, text)
    from .bounded import child_env

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = [sys.executable, "-c", DESCRIBER, root, str(DESCRIBE_MEMORY), str(DESCRIBE_SECONDS), str(path), str(size),
            text]
    try:
        done = subprocess.run(args, capture_output=True, env=child_env(), timeout=DESCRIBE_SECONDS)
    except subprocess.TimeoutExpired:
        return f"{text}, {kind} (not described: reading its first rows takes more than {DESCRIBE_SECONDS} s)"
    if done.returncode == 0 and done.stdout:
        return done.stdout.decode("utf-8", "replace")
    if done.returncode == 3 or done.returncode < 0:  # MemoryError, or killed past its CPU time
        return f"{text}, {kind} (not described: reading its first rows takes more than {size_text(DESCRIBE_MEMORY)} " \
               f"of memory or {DESCRIBE_SECONDS} s)"
    last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
    return f"{text}, {kind} (not described: {last[0][:160]})"


def _read(path: Path, kind: str, size: int):
    """(the first HEAD_ROWS rows as a DataFrame, the row count as text, the number of columns):
    only the first MAX_COLUMNS columns of a wide table are parsed."""
    import pandas as pd

    if kind in ("CSV", "TSV"):
        sep = "\t" if kind == "TSV" else ","
        # Only the columns described are parsed: a header of a million names (2 MB) made pandas take
        # seconds and hundreds of MB per megabyte; the rest are counted from the header line.
        columns = _header_columns(path, sep)
        use = {"usecols": range(MAX_COLUMNS)} if columns > MAX_COLUMNS else {}
        if size <= EXACT_LIMIT:
            whole = pd.read_csv(path, sep=sep, **use)
            return whole.head(HEAD_ROWS), f"{len(whole):,} rows", max(columns, len(whole.columns))
        head = pd.read_csv(path, sep=sep, nrows=HEAD_ROWS, **use)
        return head, _lines(path, size, header=True), max(columns, len(head.columns))
    if kind == "JSON lines":
        whole = size <= EXACT_LIMIT
        with open(path, "rb") as fh:
            lines = (line for line in fh if line.strip())
            records = [json.loads(line) for line in (lines if whole else itertools.islice(lines, HEAD_ROWS))]
        table, width = _json_table(records)
        rows = f"{len(table):,} rows" if whole else _lines(path, size, header=False)
        return table.head(HEAD_ROWS), rows, width
    if kind == "JSON":
        if size > EXACT_LIMIT:  # one document: no way to read a head of it
            raise ValueError(f"larger than {size_text(EXACT_LIMIT)}, not parsed here")
        with open(path, "rb") as fh:
            whole, width = _json_table(json.load(fh))
        return whole.head(HEAD_ROWS), f"{len(whole):,} rows", width
    if kind == "Parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)  # the row count is in the file's footer
        batch = next(parquet.iter_batches(batch_size=HEAD_ROWS), None)
        head = batch.to_pandas() if batch is not None else parquet.schema_arrow.empty_table().to_pandas()
        return head, f"{parquet.metadata.num_rows:,} rows", len(head.columns)
    if kind == "Excel":
        if path.suffix.lower() != ".xls":
            import zipfile

            with zipfile.ZipFile(path) as book:
                unzipped = sum(part.file_size for part in book.infolist())
            if unzipped > UNZIPPED_LIMIT:
                raise ValueError(f"its parts unzip to {size_text(unzipped)}, more than {size_text(UNZIPPED_LIMIT)}; "
                                 "not read here")
        head = pd.read_excel(path, nrows=HEAD_ROWS)
        rows = "rows not counted"
        if path.suffix.lower() != ".xls":
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True)
            try:
                sheet = book.worksheets[0]
                if sheet.max_row:
                    rows = f"about {max(0, sheet.max_row - 1):,} rows (first sheet)"
            finally:
                book.close()
        return head, rows, len(head.columns)
    raise ValueError(f"unknown kind {kind}")


def _json_table(data):
    """(a JSON table as pandas reads it, its number of columns). Only the first MAX_COLUMNS
    columns go to pandas: 200,000 keys took it 6.5 s, where the standard parser takes a blink."""
    import io

    import pandas as pd

    if isinstance(data, list):  # records (pandas takes the union of their keys) or rows
        names = list(dict.fromkeys(k for record in data if isinstance(record, dict) for k in record))
        longest = max((len(r) for r in data if isinstance(r, list)), default=0)
        if len(names) > MAX_COLUMNS:
            kept = set(names[:MAX_COLUMNS])
            data = [{k: v for k, v in r.items() if k in kept} if isinstance(r, dict) else r for r in data]
        if longest > MAX_COLUMNS:
            data = [r[:MAX_COLUMNS] if isinstance(r, list) else r for r in data]
        width = max(len(names), longest)
    elif isinstance(data, dict):  # columns, each {index: value} or a list
        width = len(data)
        if width > MAX_COLUMNS:
            data = dict(itertools.islice(data.items(), MAX_COLUMNS))
    else:
        raise ValueError(f"a JSON {type(data).__name__}, not a table")
    frame = pd.read_json(io.StringIO(json.dumps(data)))
    return frame, max(width, len(frame.columns))


def _header_columns(path: Path, sep: str) -> int:
    """The number of fields in a table's header (blank lines before it are skipped, as pandas
    does), counted without building them: from one line when it has no quotes, else by the csv
    module over a bounded start of the file (a quoted name may hold the separator or a newline)."""
    first, read = b"", 0
    with open(path, "rb") as fh:
        while read < HEADER_BYTES and not first.strip() and (line := fh.readline(HEADER_BYTES - read)):
            first, read = line, read + len(line)
        if b'"' not in first:
            return first.count(sep.encode()) + 1
        fh.seek(read - len(first))
        start = fh.read(QUOTED_HEADER_BYTES).decode("utf-8", "replace")
    import csv
    import io

    return len(next(csv.reader(io.StringIO(start), delimiter=sep), []))


def _lines(path: Path, size: int, *, header: bool) -> str:
    if size > COUNT_LIMIT:
        return f"rows not counted ({size_text(size)})"
    count = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * 2**20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    count += last != b"\n"  # a last line without its newline
    return f"about {max(0, count - header):,} rows (counted by lines)"


async def place(sandbox, file: DataFile) -> str:
    """Copy the file into the sandbox's working folder; its path there.

    A local sandbox shares this machine's disk: the file is copied, never held in memory whole.
    Other sandboxes (E2B) get it through `Sandbox.upload`."""
    workdir = getattr(sandbox, "workdir", None)
    if isinstance(workdir, Path):
        # Written as every owner's write into the folder is (files.write_inside): the kernel of a
        # kept sandbox can swap the name for a link between a check and a copy that follows it.
        try:
            return str(await asyncio.to_thread(write_inside, workdir, file.name, file.path))
        except ValueError as exc:
            raise DataFileError(f"--with {file.path}: its name leads outside the working folder") from exc
        except OSError as exc:
            raise DataFileError(f"--with {file.path}: not copied into the working folder: {exc}") from exc
    data = await asyncio.to_thread(file.path.read_bytes)
    return await sandbox.upload(file.name, data)
