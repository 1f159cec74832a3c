"""Data files in the terminal: `nbreason run --with PATH`, through the real command, a real kernel
and the scripted server; and how files are described, bounded."""

from __future__ import annotations

import json
import os
import subprocess

import pandas as pd
import pytest

from nbreason import datafiles
from nbreason.datafiles import DataFileError, describe
from tests.support.scripted_server import Reply, ScriptedServer
from tests.test_cli import cli_env, nbreason

SALES = "region,month,amount\nWest,1,10.5\nEast,1,7.25\nWest,2,12.0\nNorth,2,3.5\n"


def test_the_model_gets_a_description_and_the_code_reads_the_file_by_its_name(tmp_path):
    (tmp_path / "sales.csv").write_text(SALES)
    (tmp_path / "notes.txt").write_text("regions are named by compass points\n")
    code = "import pandas as pd\nsales = pd.read_csv('sales.csv')\nprint(sales.groupby('region').amount.sum().idxmax())"
    script = [Reply(f"```python\n{code}\n```"), Reply("FINAL ANSWER: West")]
    with ScriptedServer(script) as server:
        proc = subprocess.run(nbreason("run", "--json", "--self-check", "off", "--with", str(tmp_path / "sales.csv"),
                                       "--with", str(tmp_path / "notes.txt"), "Which region sold most?"),
                              env=cli_env(server, tmp_path), capture_output=True, text=True, timeout=120, cwd="/")
        first = server.requests[0]["messages"][1]["content"]
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["answer"] == "West"
    assert "sales.csv: a file in the working folder, 68 bytes, CSV, 4 rows, 3 columns: " \
           "region (str), month (int64), amount (float64)" in first
    assert "West" in first.split("first rows:")[1]  # a few values
    assert "notes.txt: a file in the working folder, 36 bytes, type text/plain" in first
    assert "West" in proc.stderr  # the code found the file in its working folder


@pytest.mark.parametrize("case,expected", [
    ("missing", "--with {path}: no such file"),
    ("folder", "--with {path}: is a folder; give the files in it one by one"),
    ("fifo", "--with {path}: not a regular file"),
])
def test_a_path_that_cannot_be_given_is_one_line_rc_2_and_nothing_starts(tmp_path, case, expected):
    path = tmp_path / case
    if case == "folder":
        path.mkdir()
    elif case == "fifo":
        os.mkfifo(path)  # reading it would wait forever
    with ScriptedServer([]) as server:
        proc = subprocess.run(nbreason("run", "--with", str(path), "q"), env=cli_env(server, tmp_path),
                              capture_output=True, text=True, timeout=60)
        assert not server.requests  # nothing started
    assert proc.returncode == 2
    assert proc.stderr == f"nbreason: {expected.format(path=path)}\n"


def test_an_unreadable_file_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "secret.csv"
    path.write_text("a\n1\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(datafiles, "open", refuse, raising=False)  # root reads everything: refuse here
    with pytest.raises(DataFileError, match=rf"^--with {path}: cannot read it \(Permission denied\)$"):
        describe(path)


def test_two_files_of_one_name_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "data.csv").write_text("x\n1\n")
    files = [describe(tmp_path / "a" / "data.csv"), describe(tmp_path / "b" / "data.csv")]
    with pytest.raises(DataFileError, match="two files are named data.csv"):
        datafiles.check_names(files)


def big_csv(path, rows: int) -> None:
    with open(path, "w") as fh:
        fh.write("id,value\n")
        fh.writelines(f"{i},{i * 0.5}\n" for i in range(rows))


def test_a_large_table_is_read_by_its_head_and_counted_by_lines_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    big_csv(path, 20_000)
    read = []
    real = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **kw: read.append(kw.get("nrows")) or real(*a, **kw))
    size = path.stat().st_size
    monkeypatch.setattr(datafiles, "EXACT_LIMIT", 1_000)  # "large": past the whole-file read
    # In this process (describe() runs the same function in a child, where these patches do not reach)
    assert "about 20,000 rows (counted by lines), 2 columns: id (int64), value (float64)" in \
        datafiles._describe_table(path, size, "big.csv")
    monkeypatch.setattr(datafiles, "COUNT_LIMIT", 1_000)  # "huge": not even counted
    assert "rows not counted (" in datafiles._describe_table(path, size, "big.csv")
    assert read == [datafiles.HEAD_ROWS, datafiles.HEAD_ROWS]  # only ever a head


def test_tables_of_every_kind_are_described(tmp_path):
    frame = pd.DataFrame({"city": ["Oslo", "Cairo", "Lima"], "temp": [6.5, 23.0, 19.0]})
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    frame.to_json(tmp_path / "t.json", orient="records")
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    frame.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    expected = {"t.parquet": "Parquet, 3 rows", "t.xlsx": "Excel, about 3 rows (first sheet)",
                "t.json": "JSON, 3 rows", "t.jsonl": "JSON lines, 3 rows", "t.tsv": "TSV, 3 rows"}
    for name, kind in expected.items():
        text = describe(tmp_path / name).description
        assert f"{kind}, 2 columns: city (" in text and "temp (float64)" in text and "Cairo" in text, text


def test_a_file_that_is_not_the_table_its_name_says_is_described_as_a_file(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    text = describe(tmp_path / "broken.json").description
    assert text.startswith("broken.json: a file in the working folder, 9 bytes, type application/json "
                           "(could not be read as JSON")
