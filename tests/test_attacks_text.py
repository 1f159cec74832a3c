"""Text that cannot be UTF-8 never costs a trace: lone surrogates from the model's reply, from
command-line bytes that are not UTF-8, and from a hand-made trace.

A lone surrogate ("\\ud800") is valid JSON and a valid Python str, but no UTF-8 file, terminal or
request body can carry it. Python makes them from undecodable bytes in argv and file names
(surrogateescape); any server may send one; a streaming server can split a pair across chunks.
Runs use the real `openai` client against the scripted server and a real kernel; the command line
runs the real `nbreason` in a subprocess.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys

from nbreason.config import RunConfig
from nbreason.events import FinalAnswer, ModelDelta, Observation, Plan, RunStarted
from nbreason.export import write_export
from nbreason.models.openai_chat import OpenAIChatModel
from nbreason.runner import reason
from nbreason.trace import TraceWriter, load_trace
from tests.support.scripted_server import Call, Malformed, Reply, ScriptedServer

CODE = Reply("```python\nprint(6 * 7)\n```")
FINAL = Reply("FINAL ANSWER: 42")


def cli_env(server: ScriptedServer | None, tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBREASON_", "OPENAI_"))}
    env |= {"NBREASON_MODEL": "scripted", "NBREASON_API_KEY": "sk-t", "NBREASON_PROTOCOL": "text",
            "NBREASON_CONFIG": str(tmp_path / "none.toml"), "NBREASON_SELF_CHECK": "off"}
    return env | ({"NBREASON_BASE_URL": server.base_url} if server else {})


def run_cli(*args: str | bytes, server: ScriptedServer | None, tmp_path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbreason.cli", *args], env=cli_env(server, tmp_path),
                          capture_output=True, timeout=120, **kw)


def whole(trace) -> list:
    """The trace's events, checked complete: every line read, ending with the final event."""
    contents = load_trace(trace)
    assert not contents.note(), contents.note()
    assert isinstance(contents.events[0], RunStarted) and isinstance(contents.events[-1], FinalAnswer)
    return contents.events


def sent(server: ScriptedServer, request: int) -> str:
    return json.dumps(server.requests[request]["messages"], ensure_ascii=False)


def stream_of(*pieces: str) -> Malformed:
    """A streamed reply in exactly these content pieces. `Malformed` sends its body after one
    `data: ` as is, so several events joined here arrive as a well-formed stream of chunks."""
    def chunk(delta: dict, finish: str | None = None) -> str:
        return json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    events = [chunk({"role": "assistant", "content": ""}), *(chunk({"content": p}) for p in pieces),
              chunk({}, "stop")]
    return Malformed(body="\n\ndata: ".join(events))


def hand_made_trace(path, odd: str = "\ud800", padding: str = "") -> None:
    """A trace anyone could write: plain ASCII, valid JSON, with `odd` ("\\ud800") escaped in its text."""
    events = [RunStarted(run_id="r1", question=f"what is {odd} six sevens{padding}"),
              Plan(run_id="r1", step=1, text=f"compute {odd} it"),
              FinalAnswer(run_id="r1", answer=f"42 {odd}", stop_reason="answered")]
    lines = [{"kind": "trace_header", "schema": 1}, *(e.to_json() for e in events)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="ascii")


# -- the model's reply -------------------------------------------------------------------------


async def test_a_lone_surrogate_in_the_models_reply_is_replaced_and_the_run_and_its_trace_go_on(tmp_path):
    """Defect (fixed): a reply holding "\\ud800" (valid JSON) made the trace writer fail and detach
    ("surrogates not allowed"), so the trace stopped after run_started, and the next request could
    not be encoded, ending the run with stop reason "error". Model text is now cleaned as it
    arrives: the surrogate becomes U+FFFD, the run answers and the trace is whole."""
    script = [Reply("Plan: compute \ud800 it.\n```python\nprint(6 * 7)\n```"), FINAL]
    trace = tmp_path / "run.jsonl"
    with ScriptedServer(script) as server:
        config = RunConfig(model="scripted", base_url=server.base_url, api_key="k", protocol="text",
                           trace=str(trace), exec_timeout=20)
        result = await reason("6*7?", config=config)
    assert result.stop_reason == "answered" and result.answer == "42"
    events = whole(trace)
    assert [e.kind for e in events] == [e.kind for e in result.events if e.kind != "model_delta"]
    assert [e.text for e in events if isinstance(e, Plan)] == ["Plan: compute \ufffd it."]
    assert "compute \ufffd it." in sent(server, 1)  # the reply went back to the model, cleaned
    streamed = "".join(e.text for e in result.events if isinstance(e, ModelDelta))
    assert "\ud800" not in streamed and "compute \ufffd it." in streamed


async def test_a_surrogate_pair_split_across_two_stream_chunks_arrives_as_its_one_character():
    """Defect (fixed): an emoji whose UTF-16 halves came in two chunks ("\\ud83d", then "\\ude00")
    was kept as two lone surrogates, in the reply and in the live pieces. The reply is cleaned
    whole and a piece ending on a high surrogate holds it for the next, so the halves join; a
    stream that ends on half a pair shows U+FFFD."""
    with ScriptedServer([stream_of("smile \ud83d", "\ude00 ok"), stream_of("cut \ud83d")]) as server:
        model = OpenAIChatModel("scripted", base_url=server.base_url, api_key="k")
        pieces: list[str] = []
        joined = await model.complete([{"role": "user", "content": "hi"}], on_delta=pieces.append)
        cut: list[str] = []
        ended = await model.complete([{"role": "user", "content": "hi"}], on_delta=cut.append)
        await model.close()
    assert joined.text == "".join(pieces) == "smile \U0001F600 ok"
    assert ended.text == "".join(cut) == "cut \ufffd"


async def test_an_unstreamed_reply_has_lone_surrogates_replaced_in_text_reasoning_and_tool_arguments():
    """Defect (fixed): a server that cannot stream handed "\\ud800" on in the reply, its reasoning
    and a tool call's arguments (escaped in their JSON, it reached the code to run). Each is
    cleaned; the arguments are still JSON, with U+FFFD in the code."""
    reply = Reply("see \ud800", reasoning="think \udfff",
                  tool_calls=[Call("run_python", {"code": "print('\ud800')"})])
    with ScriptedServer([reply]) as server:
        model = OpenAIChatModel("scripted", base_url=server.base_url, api_key="k", stream=False)
        completion = await model.complete([{"role": "user", "content": "hi"}],
                                          tools=[{"type": "function", "function": {"name": "run_python"}}])
        await model.close()
    assert (completion.text, completion.reasoning) == ("see \ufffd", "think \ufffd")
    assert json.loads(completion.tool_calls[0].arguments) == {"code": "print('\ufffd')"}


def test_the_trace_writer_replaces_a_lone_surrogate_instead_of_failing(tmp_path):
    """Defect (fixed): one event holding a lone surrogate raised UnicodeEncodeError in the writer,
    which the run then detached: every later event was lost. Whatever reaches the writer, it now
    writes the line with U+FFFD and keeps writing."""
    writer = TraceWriter(tmp_path / "run.jsonl")
    writer(RunStarted(run_id="r", question="from a file named caf\udce9.csv"))
    writer(FinalAnswer(run_id="r", answer="42", stop_reason="answered"))
    writer.close()
    events = whole(tmp_path / "run.jsonl")
    assert events[0].question == "from a file named caf\ufffd.csv" and events[-1].answer == "42"


# -- the command line ---------------------------------------------------------------------------


def test_context_with_bytes_that_are_not_utf8_is_cleaned_and_the_run_answers(tmp_path):
    """Defect (fixed): `--context` with a Latin-1 byte became a lone surrogate; the trace writer
    detached at run_started (an empty trace) and the request could not be encoded (exit code 1,
    stop reason "error"). The context is cleaned where the question is."""
    trace = tmp_path / "t.jsonl"
    with ScriptedServer([CODE, FINAL]) as server:
        proc = run_cli("run", "--json", "--trace", str(trace), "--context", b"caf\xe9 prices", "6*7?",
                       server=server, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert json.loads(proc.stdout)["stop_reason"] == "answered"
    assert whole(trace)[0].context == "caf\ufffd prices"
    assert "caf\ufffd prices" in sent(server, 0)


def test_a_data_file_whose_name_is_not_utf8_is_read_and_named_cleanly(tmp_path):
    """Defect (fixed): `--with caf\\xe9.csv` put the surrogate-escaped name into run_started and the
    prompt: the trace writer detached at once and the trace was empty. The real file is still read
    by its real path; the model is told, and the sandbox's copy is given, the cleaned name."""
    name = os.fsencode(tmp_path) + b"/caf\xe9.csv"
    with open(name, "wb") as fh:
        fh.write(b"a,b\n1,2\n")
    trace = tmp_path / "t.jsonl"
    reads = Reply("```python\nprint(open('caf\ufffd.csv').read())\n```")
    with ScriptedServer([reads, Reply("FINAL ANSWER: 2")]) as server:
        proc = run_cli("run", "--json", "--trace", str(trace), "--with", name, "b in the first row?",
                       server=server, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    events = whole(trace)
    assert events[0].files == [f"{tmp_path.resolve()}/caf\ufffd.csv"]
    assert "caf\ufffd.csv" in sent(server, 0)
    assert "a,b\n1,2" in next(e for e in events if isinstance(e, Observation)).execution.stdout_text


def test_a_trace_whose_file_name_is_not_utf8_is_written_whole_at_that_name(tmp_path):
    """Defect (fixed): `--trace r\\xe9sultat.jsonl` put the name, a lone surrogate, into the
    run_started config: the writer detached and the file held only its header. The trace is now
    written whole at the real name; the name inside it is cleaned."""
    trace = os.fsencode(tmp_path) + b"/r\xe9sultat.jsonl"
    with ScriptedServer([CODE, FINAL]) as server:
        proc = run_cli("run", "--trace", trace, "6*7?", server=server, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    events = whole(trace)
    assert events[0].config["trace"].endswith("/r\ufffdsultat.jsonl") and events[-1].answer == "42"


# -- traces read back -------------------------------------------------------------------------


def test_replay_of_a_trace_holding_an_escaped_lone_surrogate_shows_it_replaced(tmp_path):
    """Defect (fixed): `nbreason replay` of a plain-ASCII trace holding "\\ud800" ended in a
    UnicodeEncodeError traceback. Events are cleaned as they are read: the run is shown, U+FFFD
    in place of the surrogate."""
    hand_made_trace(tmp_path / "t.jsonl")
    proc = run_cli("replay", str(tmp_path / "t.jsonl"), server=None, tmp_path=tmp_path)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "what is \ufffd six sevens" in proc.stdout.decode() and "compute \ufffd it" in proc.stdout.decode()


def test_export_of_a_trace_holding_an_escaped_lone_surrogate_writes_the_notebook_and_the_report(tmp_path):
    """Defect (fixed): `nbreason export` of such a trace printed "cannot write …: surrogates not
    allowed" and left the output at 0 bytes, wiping an earlier export at that path. Read cleaned,
    the run exports; U+FFFD stands for the surrogate."""
    hand_made_trace(tmp_path / "t.jsonl")
    for output in ("x.ipynb", "x.html"):
        proc = run_cli("export", str(tmp_path / "t.jsonl"), "-o", str(tmp_path / output), server=None,
                       tmp_path=tmp_path)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        assert "what is \ufffd six sevens" in (tmp_path / output).read_text(encoding="utf-8")


def test_an_export_that_fails_half_way_leaves_the_earlier_export_whole(tmp_path):
    """Defect (fixed): export truncated its output file, then wrote: an export that failed half-way
    (here: the file size limit, as on a full disk) left a broken or empty file where a good export
    had been. It now writes a file beside it and renames it into place only when complete."""
    hand_made_trace(tmp_path / "t.jsonl", odd="", padding=" x" * 10_000)
    report = tmp_path / "x.html"
    report.write_text("<p>the earlier export</p>", encoding="utf-8")

    def small_files():  # a write past 4 KB fails with EFBIG (signal ignored), as ENOSPC would
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    proc = run_cli("export", str(tmp_path / "t.jsonl"), "-o", str(report), server=None, tmp_path=tmp_path,
                   preexec_fn=small_files)
    assert proc.returncode == 1 and "cannot write" in proc.stderr.decode()
    assert report.read_text(encoding="utf-8") == "<p>the earlier export</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl", "x.html"]  # no half-written file left


def test_an_export_of_events_in_memory_with_a_lone_surrogate_is_written_cleaned(tmp_path):
    """Defect (fixed): events built in a notebook (a RunResult's) holding a lone surrogate made
    `write_export` raise UnicodeEncodeError with the file already emptied. The text is cleaned as
    it is written."""
    events = [RunStarted(run_id="r", question="caf\udce9?"), FinalAnswer(run_id="r", answer="1",
                                                                       stop_reason="answered")]
    for name in ("x.ipynb", "x.html"):
        write_export(events, tmp_path / name)
        assert "caf\ufffd?" in (tmp_path / name).read_text(encoding="utf-8")


def test_a_trace_that_would_overwrite_a_file_the_run_reads_is_refused_before_anything_starts(tmp_path):
    """Defect (fixed): `--trace` opened its file for writing without looking at what the run reads:
    `--continue one.jsonl --trace one.jsonl` emptied the earlier run's trace, and `--with sales.csv
    --trace sales.csv` replaced the user's data with trace lines (which the sandbox then read)."""
    data, earlier = tmp_path / "sales.csv", tmp_path / "one.jsonl"
    data.write_text("region,amount\nnorth,10\n")
    with ScriptedServer([CODE, FINAL]) as server:
        first = run_cli("run", "--trace", str(earlier), "6*7?", server=server, tmp_path=tmp_path)
    assert first.returncode == 0
    kept = earlier.read_bytes()
    for args in (["--with", str(data), "--trace", str(data)], ["--continue", str(earlier), "--trace", str(earlier)]):
        with ScriptedServer([CODE, FINAL]) as server:
            proc = run_cli("run", *args, "and plus one?", server=server, tmp_path=tmp_path)
        lines = proc.stderr.decode().strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and "this run also reads that file" in lines[0]
        assert not server.requests
    assert data.read_text() == "region,amount\nnorth,10\n" and earlier.read_bytes() == kept
