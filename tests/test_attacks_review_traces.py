"""Attacks found by a review of what reaches a person or the host from data the sandbox wrote or a
crafted file: trace files opened by someone else, exported notebooks, data files described for the
model, and the key given on the command line. Real parts (the CLI as a process, a real kernel, the
scripted server), no mocks. Each test states what must hold.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from nbreason.events import Code, FinalAnswer, Observation, RunStarted
from nbreason.execution import ErrorRecord, ExecutionRecord
from nbreason.export import notebook_from_events
from tests.support.scripted_server import Reply, ScriptedServer
from tests.test_attacks_viewer import problems
from tests.test_cli import cli_env, nbreason

HEADER = json.dumps({"kind": "trace_header", "schema": 1})
STARTED = json.dumps({"kind": "run_started", "run_id": "r1", "question": "q", "config": {}})
FINAL = json.dumps({"kind": "final", "run_id": "r1", "answer": "4", "stop_reason": "answered", "steps": 1})


# --- a crafted trace ---------------------------------------------------------------------------

# One line of 200,000 nested brackets (400 KB). Before, json.loads raised RecursionError, which is
# not a ValueError: `nbreason replay` and `export` died with a traceback (exit code 1) instead of
# skipping the line.
DEEP = "[" * 200_000 + "]" * 200_000


@pytest.mark.parametrize("command", ["replay", "export"])
def test_a_line_nested_deeper_than_the_reader_recurses_is_skipped_not_a_traceback(tmp_path, command):
    trace = tmp_path / "student.jsonl"
    trace.write_text("\n".join([HEADER, STARTED, DEEP, FINAL]) + "\n")
    out = ["-o", str(tmp_path / "out.ipynb")] if command == "export" else []
    proc = subprocess.run(nbreason(command, str(trace), *out), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-400:]
    assert "skipped 1 unreadable line (3)" in proc.stderr

    only = tmp_path / "only.jsonl"
    only.write_text(DEEP + "\n" + "{" * 100_000 + "\n")
    proc = subprocess.run(nbreason(command, str(only), *out), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-400:]
    assert proc.stderr.strip().count("\n") == 0 and "not an nbreason trace" in proc.stderr


# --- exported notebooks ------------------------------------------------------------------------

# Markdown ends a line at a lone carriage return too. The fence around failed code (and around the
# variables a run had) was made longer only than backtick runs at the start of a `\n` line, so
# `x\r```\r<img onerror=…>` closed it and the HTML after it was live where Markdown is rendered
# with raw HTML (nbconvert's HTML export).
CR_PAYLOAD = 'x = 1\r```\r<img src=x onerror="window.__pwned=1">\r```'


def test_a_carriage_return_cannot_close_the_fence_around_code_in_an_exported_notebook():
    from markdown_it import MarkdownIt

    render = MarkdownIt("commonmark", {"html": True}).render
    failed = ExecutionRecord(error=ErrorRecord("NameError", "y", "tb"))
    events = [RunStarted(question="q", config={}, context=CR_PAYLOAD), Code(step=1, code=CR_PAYLOAD),
              Observation(step=1, execution=failed, ok=False),
              FinalAnswer(answer="1", stop_reason="answered", steps=1)]
    markdown = [cell.source for cell in notebook_from_events(events).cells if cell.cell_type == "markdown"]
    shown = [render(source) for source in markdown]
    assert sum("onerror" in page for page in shown) == 2  # the code is there, as text
    for page in shown:
        assert problems(page) == [], page


# --- the key on the command line ----------------------------------------------------------------

# `/proc/<pid>/cmdline` is readable by every process: the plain kernel (as root too, where the
# owner's environment is refused) read `--api-key` from its owner's command line, and printed it
# reversed, past the redaction, into the trace.
READ_COMMAND_LINES = r"""import os
found = []
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        args = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\0')
    except OSError:
        continue
    if b'--api-key' in args:
        found.append(args[args.index(b'--api-key') + 1].decode()[::-1])
print('found', found)"""
KEY = "sk-live-0123456789abcdefSECRET"


def test_an_api_key_given_on_the_command_line_cannot_be_read_from_it_by_the_sandboxs_code(tmp_path):
    script = [Reply(f"```python\n{READ_COMMAND_LINES}\n```")] + [Reply("FINAL ANSWER: 1")] * 8
    trace = tmp_path / "t.jsonl"
    with ScriptedServer(script) as server:
        env = cli_env(server, tmp_path)
        env.pop("NBREASON_API_KEY")
        proc = subprocess.run(nbreason("run", "--self-check", "off", "--api-key", KEY, "--trace", str(trace), "q"),
                              env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-600:]
    written = trace.read_text()
    assert "found ['" in written  # the code ran and found the owner's command line
    assert KEY[::-1] not in written and KEY not in written and "*" * len(KEY) in written


# --- continuing a crafted trace ----------------------------------------------------------------

# A trace names the data files of its run as absolute paths, and `--continue` copies them again
# into the new run's sandbox. A crafted trace named a file the user never gave (here in a folder
# the confined kernel cannot see, like ~/.ssh): the owner copied it into the working folder, and the
# model's code printed it into the trace and the model's context. Now a trace's files are copied
# only when the user gives them again with --with; the others are named in a note.
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (--confine)")
def test_continuing_a_crafted_trace_copies_no_host_file_the_user_did_not_give(tmp_path):
    secret = tmp_path / "private" / "id_test"
    secret.parent.mkdir()
    secret.write_text("PRIVATE-KEY-MATERIAL-42\n")
    crafted = tmp_path / "student.jsonl"
    crafted.write_text("\n".join([
        HEADER,
        json.dumps({"kind": "run_started", "run_id": "r1", "question": "2+2?", "config": {}, "files": [str(secret)]}),
        json.dumps({"kind": "final", "run_id": "r1", "answer": "4", "stop_reason": "answered", "steps": 1,
                    "code": ["x = 4"]})]) + "\n")
    script = [Reply("```python\nprint(open('id_test').read())\n```")] + [Reply("FINAL ANSWER: 1")] * 8
    trace = tmp_path / "t.jsonl"
    with ScriptedServer(script) as server:
        proc = subprocess.run(nbreason("run", "--json", "--confine", "--self-check", "off", "--continue", str(crafted),
                                       "--trace", str(trace), "and now?"),
                              env=cli_env(server, tmp_path), capture_output=True, text=True, timeout=180)
        sent = json.dumps(server.requests)
    assert proc.returncode == 0, proc.stderr[-600:]
    assert "PRIVATE-KEY-MATERIAL" not in trace.read_text() and "PRIVATE-KEY-MATERIAL" not in sent
    assert f"data file id_test not copied again: a trace cannot choose files to copy; give it again with --with {secret}" \
        in " ".join(proc.stderr.split())


# --- data files described for the model ----------------------------------------------------------

def _describe_in_a_process(path) -> dict:
    """Describe `path` in a fresh process: seconds taken and the process's peak memory (MB)."""
    code = ("import json, resource, sys, time\nimport pandas\nfrom nbreason.datafiles import describe\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\nstart = time.monotonic()\n"
            "text = describe(sys.argv[1]).description\n"
            "print(json.dumps({'seconds': time.monotonic() - start, 'text': text,\n"
            "  'grew_mb': (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}))")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-600:]
    return json.loads(proc.stdout)


# A 1.9 MB CSV whose header names 200,000 columns took 10 s and 635 MB to describe (pandas built
# every column; a 32 MB file, still read whole, would take minutes and gigabytes), before any run
# started. Only the columns described are parsed now; the rest are counted from the header.
# A header whose first name is quoted and holds a newline is one header still.
@pytest.mark.parametrize("name,sep,lead,first", [("wide.csv", ",", "", "c0"), ("wide.tsv", "\t", "\n\n", "c0"),
                                                 ("quoted.csv", ",", "", '"a\nb"')])
def test_a_table_naming_200000_columns_is_described_in_bounded_time_and_memory(tmp_path, name, sep, lead, first):
    path = tmp_path / name
    names = [first] + [f"c{i}" for i in range(1, 200_000)]
    path.write_text(lead + sep.join(names) + "\n" + sep.join("1" * 200_000) + "\n")
    seen = _describe_in_a_process(path)
    assert seen["seconds"] < 3 and seen["grew_mb"] < 100, seen
    assert "1 rows, 200000 columns: " in seen["text"] and "c29 (int64) and 199970 more" in seen["text"]


# A JSON table of 200,000 keys took pandas about 6.5 s; only the first columns go to pandas now.
@pytest.mark.parametrize("name,text", [
    ("wide.json", json.dumps([{f"c{i}": 1 for i in range(200_000)}])),
    ("columns.json", json.dumps({f"c{i}": {"0": 1} for i in range(200_000)})),
    ("wide.jsonl", json.dumps({f"c{i}": 1 for i in range(200_000)}) + "\n"),
    ("rows.json", json.dumps([[1] * 200_000]))])
def test_a_json_table_of_200000_keys_is_described_in_bounded_time(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    seen = _describe_in_a_process(path)
    assert seen["seconds"] < 3 and seen["grew_mb"] < 100, seen
    first, last = ("0", "29") if name == "rows.json" else ("c0", "c29")
    assert f"1 rows, 200000 columns: {first} (int64)" in seen["text"] and f"{last} (int64) and 199970 more" in seen["text"]
