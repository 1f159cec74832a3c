"""Attacks through `--with PATH`: a data file handed to the user, and a kept kernel that plays with
the names in its working folder while the owner copies a file in. Each was found by reading the
code as an attacker, given a failing test, then fixed."""

from __future__ import annotations

import os
import resource
import threading
import time
import zipfile
from types import SimpleNamespace

import pytest

from nbreason import datafiles
from nbreason.datafiles import DataFileError


async def test_a_kept_kernel_swapping_a_name_for_a_link_cannot_make_the_owner_write_outside(tmp_path):
    """Defect (fixed): `place` resolved the target, checked it was inside the working folder, then
    copied by path, following links. A thread left in a kept kernel (a follow-up's) swapping the
    name between a file and a link to a host file won that race within a few tries, and the
    notebook wrote the user's data over the link's target, `--confine` or not. The copy now goes to
    a fresh file of its own, renamed over the name, as every owner's write into the folder does."""
    work, victim, data = tmp_path / "work", tmp_path / "victim.txt", tmp_path / "sales.csv"
    work.mkdir()
    victim.write_text("ORIGINAL\n")
    data.write_text("region,sales\nnorth,1\n")
    sandbox = SimpleNamespace(workdir=work)  # the folder is all `place` uses of a local sandbox
    done = threading.Event()

    def swap() -> None:  # what the kernel's thread does, from this process
        while not done.is_set():
            try:
                os.symlink(victim, work / ".link")
            except FileExistsError:
                pass
            (work / ".file").write_text("")
            os.replace(work / ".file", work / "sales.csv")
            time.sleep(0.0003)
            os.replace(work / ".link", work / "sales.csv")
            time.sleep(0.0002)

    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    copied = refused = 0
    try:
        for _ in range(300):
            try:
                await datafiles.place(sandbox, datafiles.describe(data, with_sample=False))
                copied += 1
            except DataFileError as exc:
                assert "is a link; it is not used" in str(exc) or "outside" in str(exc)
                refused += 1
            assert victim.read_text() == "ORIGINAL\n"
    finally:
        done.set()
        thread.join()
    assert copied + refused == 300


def _sparse(path, first: bytes, size: int) -> None:
    with open(path, "wb") as fh:
        fh.write(first)
        fh.truncate(size)  # the rest reads as NUL bytes: one line with no newline, no disk used


@pytest.mark.parametrize("name, first", [("one_line.jsonl", b'{"a": 1, "b": "'), ("one_line.csv", b"a,b\n1,")])
def test_a_file_whose_first_line_never_ends_is_not_read_into_the_notebook(tmp_path, name, first):
    """Defect (fixed): the head of a JSON-lines file was read line by line and a CSV's by pandas
    with nrows=5, both reading a whole first line: a 600 MB line (4 KB on disk as a sparse file)
    took 1.3 and 1.9 GB of the notebook's memory. The head is now read in a child process within
    a memory and a time limit."""
    path = tmp_path / name
    _sparse(path, first, 600 * 2**20)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB
    description = datafiles.describe(path).description
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200 * 1024
    assert description.startswith(f"{name}: a file in the working folder, 600.0 MB")
    assert "not described" in description or "could not be read" in description


def test_an_excel_file_that_unzips_to_hundreds_of_megabytes_is_not_opened(tmp_path):
    """Defect (fixed): pandas and openpyxl read an .xlsx's shared strings whole before its first
    row; 1.8 MB on disk that unzips to 544 MB took 131 s and 1.4 GB of the notebook. Parts that
    unzip past a limit are now refused before anything parses them (and parsing is bounded too)."""
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        with book.open("xl/sharedStrings.xml", "w") as part:
            chunk = b"<si><t>" + b"a" * 1000 + b"</t></si>"
            for _ in range(datafiles.UNZIPPED_LIMIT // len(chunk) + 1000):
                part.write(chunk)
    assert path.stat().st_size < 2 * 2**20
    started = time.monotonic()
    description = datafiles.describe(path).description
    assert time.monotonic() - started < 10
    assert "unzip to" in description and "not read here" in description


def test_a_normal_table_is_still_described_from_the_child(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("city,temp\nOslo,6.5\nCairo,23.0\n")
    description = datafiles.describe(path).description
    assert "CSV, 2 rows, 2 columns: city (str), temp (float64)" in description and "Oslo" in description
