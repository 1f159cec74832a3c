"""Bad input gets a clear error and loses nothing: secrets, sandbox warnings, shared traces, damaged
traces, values out of range and waits longer than the budget.

Where a user meets the behaviour in the terminal, the test runs the real `nbreason` command in a
subprocess against the scripted server with a real kernel; the rest run `reason()` in process.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nbreason.event_json import event_from_json
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from rich.console import Console
from traitlets import TraitError

from nbreason import cell as reason_cell, magic
from nbreason.bench.cli import main as bench_main
from nbreason.config import ConfigError, RunConfig, load
from nbreason.events import (SCHEMA_VERSION, Check, Code, Error, FinalAnswer, Plan, RunStarted, Signal)
from nbreason.models.base import OutOfTime
from nbreason.models.openai_chat import OpenAIChatModel
from nbreason.models.retry import RetryPolicy
from nbreason.redact import Redactor
from nbreason.runner import reason
from nbreason.sandboxes.local import LocalSandbox
from nbreason.trace import TraceInUse, TraceWriter, load_trace, read_trace
from nbreason.views.console import ConsoleView
from nbreason.views.html import run_html
from tests.support.kernels import sandbox_kernel_pids
from tests.support.scripted_server import Fault, Reply, ScriptedServer, rate_limited, server_error

API_KEY = "sk-proj-Leak3dKey0123456789abcdef"
E2B_KEY = "e2b_Leak3dE2BKey9876543210"
CODE, FINAL = Reply("```python\nprint(7)\n```"), Reply("FINAL ANSWER: 7")


def nbreason(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbreason.cli", *args]


def cli_env(tmp_path, base_url: str = "http://127.0.0.1:9/v1", **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBREASON_", "OPENAI_", "E2B_"))}
    return env | {"NBREASON_BASE_URL": base_url, "NBREASON_MODEL": "scripted", "NBREASON_API_KEY": "sk-t",
                  "NBREASON_PROTOCOL": "text", "NBREASON_MAX_RETRIES": "0", "NBREASON_EXEC_TIMEOUT": "20",
                  "NBREASON_CONFIG": str(tmp_path / "none.toml"),
                  "COLUMNS": "1000"} | extra  # rich must not fold a secret across two lines


def run_cli(*args: str, env: dict, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(nbreason(*args), env=env, input=input, capture_output=True, timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


def config(server: ScriptedServer, **kw) -> RunConfig:
    return RunConfig(**(dict(model="scripted", base_url=server.base_url, api_key="k", protocol="text",
                             exec_timeout=20) | kw))


# -- 6. secrets --------------------------------------------------------------------------------

def test_a_401_echoing_the_keys_leaves_them_in_no_trace_stdout_or_stderr(tmp_path):
    echo = {"error": {"message": f"Incorrect API key provided: {API_KEY}. (proxy saw E2B_API_KEY={E2B_KEY})",
                      "type": "invalid_request_error", "code": "invalid_api_key"}}
    trace = tmp_path / "t.jsonl"
    with ScriptedServer([Fault(401, echo)]) as server:
        env = cli_env(tmp_path, server.base_url, NBREASON_API_KEY=API_KEY, E2B_API_KEY=E2B_KEY)
        proc = run_cli("run", "--json", "--trace", str(trace), "What is 7?", env=env)
    out, err, saved = proc.stdout.decode(), proc.stderr.decode(), trace.read_text()
    for secret in (API_KEY, E2B_KEY):
        assert secret not in out and secret not in err and secret not in saved
    assert proc.returncode == 1, err
    assert "authentication failed" in err and "Incorrect API key provided: ***" in saved  # still says why


def test_credentials_in_the_base_url_reach_no_trace_or_terminal(tmp_path):
    password, query_key = "pw-Secret-0123456789", "q-Secret-9876543210"
    trace = tmp_path / "t.jsonl"
    with ScriptedServer([CODE, FINAL]) as server:
        # user:password@ works (the run answers); ?api-key= breaks the path, so the error names the URL
        for base_url in (server.base_url.replace("http://", f"http://alice:{password}@"),
                         server.base_url.replace("http://", f"http://alice:{password}@") + f"?api-key={query_key}"):
            proc = run_cli("run", "--json", "--trace", str(trace), "What is 7?", env=cli_env(tmp_path, base_url))
            out, err, saved = proc.stdout.decode(), proc.stderr.decode(), trace.read_text()
            for secret in (password, query_key, "alice:"):
                assert secret not in out and secret not in err and secret not in saved, (secret, base_url)
            started = read_trace(trace)[0]
            assert isinstance(started, RunStarted) and started.config["base_url"].startswith("http://***@127.0.0.1")
    assert json.loads(out)["stop_reason"] == "error" and "api-key=***" in err  # the second run: a 404 naming the URL


async def test_subscribers_the_result_and_the_trace_see_events_already_redacted(tmp_path):
    seen = []
    reply = Reply(f"My key is {API_KEY}, see https://bob:hunter2-hunter2@example.com/x?token=abc123.\n"
                  "```python\nprint(7)\n```")
    with ScriptedServer([reply, FINAL]) as server:
        result = await reason("q", config=config(server, api_key=API_KEY, trace=str(tmp_path / "t.jsonl")),
                              subscribers=[seen.append])
    assert result.answer == "7"
    for text in ("\n".join(repr(e) for e in seen), "\n".join(repr(e) for e in result.events),
                 (tmp_path / "t.jsonl").read_text()):
        assert API_KEY not in text and "hunter2" not in text and "abc123" not in text
        assert "My key is ***" in text and "https://***@example.com/x?token=***" in text


def test_a_short_key_does_not_mangle_the_text():
    redactor = Redactor(["k", "local", "EMPTY", API_KEY])
    text = "keep the local kernel; EMPTY is fine"
    assert redactor.text(text) == text
    assert redactor.text(f"key {API_KEY}!") == "key ***!"
    assert Redactor([""]).text("abc") == "abc"


def test_redaction_reaches_nested_fields_and_dict_keys_and_keeps_untouched_events_as_they_are():
    redactor = Redactor([API_KEY])
    check = Check(answer=API_KEY, signals=[Signal("user_check", 0.0, f"check() raised: {API_KEY}")])
    clean = redactor.event(check)
    assert clean.answer == "***" and clean.signals[0].reason == "check() raised: ***"
    assert check.answer == API_KEY  # the original is not modified
    assert redactor.value({API_KEY: [("x", API_KEY)]}) == {"***": [("x", "***")]}
    plan = Plan(text="nothing secret")
    assert redactor.event(plan) is plan


def test_secrets_come_from_the_key_the_e2b_variable_and_the_base_url():
    config = RunConfig(api_key=API_KEY, base_url="https://u:Passw0rd%2Flong@h.example/v1?sig=Sig-value-long&x=1")
    redactor = Redactor.for_config(config, env={"E2B_API_KEY": E2B_KEY})
    text = f"{API_KEY} {E2B_KEY} Passw0rd%2Flong Passw0rd/long Sig-value-long"  # the password encoded and decoded
    assert redactor.text(text) == "*** *** *** *** ***"


def test_public_config_hides_url_credentials():
    config = RunConfig(api_key=API_KEY, base_url="https://u:p@h.example/v1?api-key=K&access_token=T&api-version=2")
    public = config.public()
    assert public["api_key"] == "***"
    assert public["base_url"] == "https://***@h.example/v1?api-key=***&access_token=***&api-version=2"


# -- 7. sandbox warnings -----------------------------------------------------------------------

class DegradedSandbox(LocalSandbox):
    """A real local kernel that reports a limit it could not apply, as on a host without pids cgroups."""

    async def _ready(self) -> None:
        await super()._ready()
        self.warnings.append("no process limit (no pids cgroup): a fork bomb is stopped only by the timeout")


async def test_sandbox_warnings_follow_run_started_as_notes_every_view_shows():
    sandbox = DegradedSandbox(timeout=20)
    out = io.StringIO()
    try:
        with ScriptedServer([CODE, FINAL]) as server:
            result = await reason("q", config=config(server, confine=True), sandbox=sandbox,
                                  subscribers=[ConsoleView(Console(file=out, width=200))])
    finally:
        await sandbox.close()
    started, note = result.events[0], result.events[1]
    assert isinstance(started, RunStarted)
    assert started.config["confine"] is True and started.config["confined"] is False  # asked vs actual
    assert isinstance(note, Error) and note.source == "sandbox" and not note.fatal
    assert note.message == ("local sandbox: no process limit (no pids cgroup): "
                            "a fork bomb is stopped only by the timeout")
    assert "note: local sandbox: no process limit" in out.getvalue()
    assert "no process limit (no pids cgroup)" in run_html(result.events)
    assert result.answer == "7"


async def test_every_attempt_reports_its_own_sandbox_warnings(monkeypatch):
    import nbreason.runner

    # every attempt is a run of its own, with the sandbox the runner makes for it
    monkeypatch.setattr(nbreason.runner, "make_sandbox", lambda cfg: DegradedSandbox.from_config(cfg))
    with ScriptedServer([CODE, FINAL] * 2) as server:
        result = await reason("q", config=config(server, attempts=2, parallel=1, strategy="vote"))
    for attempt in (1, 2):
        own = [e for e in result.events if e.attempt == attempt]
        assert isinstance(own[0], RunStarted) and own[0].config["confined"] is False
        assert isinstance(own[1], Error) and own[1].source == "sandbox" and "no process limit" in own[1].message
    assert result.answer == "7"
    assert not sandbox_kernel_pids()


# -- 9. one trace, one writer; damaged traces ---------------------------------------------------

def test_a_second_run_on_the_same_trace_is_refused_and_the_first_trace_stays_whole(tmp_path):
    trace = tmp_path / "t.jsonl"
    slow = Reply("```python\nimport time\nprint('working', flush=True)\ntime.sleep(4)\nprint(7)\n```")
    with ScriptedServer([slow, FINAL]) as server:
        env = cli_env(tmp_path, server.base_url)
        first = subprocess.Popen(nbreason("run", "--trace", str(trace), "q"), env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline and not (trace.exists() and '"kind": "code"' in trace.read_text()):
            time.sleep(0.1)
        second = run_cli("run", "--trace", str(trace), "another question", env=env)
        first_err = first.communicate(timeout=120)[1].decode()
    assert second.returncode == 2
    assert "is being written by another run" in one_line_error(second)
    assert first.returncode == 0, first_err
    contents = load_trace(trace)
    assert not contents.skipped and contents.cut_off is None
    assert isinstance(contents.events[-1], FinalAnswer) and contents.events[-1].answer == "7"
    assert {e.run_id for e in contents.events} == {contents.events[0].run_id}  # one run's events only


def test_a_trace_held_by_a_writer_cannot_be_opened_for_writing_again(tmp_path):
    path = tmp_path / "t.jsonl"
    writer = TraceWriter(path)
    writer(Plan(text="first run"))
    with pytest.raises(TraceInUse, match="being written by another run"):
        TraceWriter(path)
    assert read_trace(path)[0].text == "first run"  # not truncated by the refused writer
    writer.close()
    TraceWriter(path).close()  # free again once closed


def write_lines(path: Path, lines: list) -> None:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n"
                              for line in lines))


def sample_events() -> list[dict]:
    events = [RunStarted(question="What is 7?"), Plan(step=1, text="first plan"), Code(step=1, code="print(1)"),
              Plan(step=2, text="second plan"), Code(step=2, code="print(7)"), Plan(step=3, text="third plan"),
              FinalAnswer(step=3, answer="7", stop_reason="answered")]
    return [{"kind": "trace_header", "schema": SCHEMA_VERSION}] + [e.to_json() for e in events]


def test_replay_reads_past_damaged_lines_and_says_which(tmp_path):
    lines = sample_events()
    lines[3] = b'{"kind": "code", "step": 1, "co'  # interleaved writes
    lines[5] = [1, 2, 3]  # not an object
    lines[6] = {"kind": "plan", "step": "x", "text": 5}  # wrong types
    path = tmp_path / "t.jsonl"
    write_lines(path, lines)
    proc = run_cli("replay", str(path), env=cli_env(tmp_path))
    assert proc.returncode == 1  # shown, but damaged
    assert one_line_error(proc).endswith("skipped 3 unreadable lines (4, 6, 7)")
    out = proc.stdout.decode()
    assert "first plan" in out and "second plan" in out  # line 5, after the first damaged line
    assert "third plan" not in out  # line 7
    assert "final answer" in out and "answered" in out  # read on to the end


def test_a_cut_off_last_line_is_tolerated_and_reported(tmp_path):
    path = tmp_path / "t.jsonl"
    write_lines(path, sample_events()[:-1])
    with open(path, "ab") as fh:
        fh.write(b'{"kind": "final", "answer": "7", "sto')
    proc = run_cli("replay", str(path), env=cli_env(tmp_path))
    assert proc.returncode == 0
    assert one_line_error(proc).endswith("the last line (8) was cut off mid-write and is left out")
    assert "third plan" in proc.stdout.decode()


@pytest.mark.parametrize("command", ["replay", "export"])
@pytest.mark.parametrize("case,expected", [
    ("missing", "no such file"),
    ("folder", "is a folder, not a trace file"),
    ("bad-utf8", "not an nbreason trace"),
    ("unknown-kind", "no event to show (skipped 1 unreadable line (2))"),
    ("empty", "no event to show"),
    ("json-list", "not an nbreason trace"),
    ("newer-schema", f"trace schema {SCHEMA_VERSION + 1} is newer than this nbreason reads"),
])
def test_a_file_that_is_not_a_readable_trace_is_one_line_and_exit_code_2(tmp_path, command, case, expected):
    path = tmp_path / "t.jsonl"
    if case == "folder":
        path.mkdir()
    elif case == "bad-utf8":
        path.write_bytes(b"\xff\xfe\x00garbage\x81\n" * 3)
    elif case == "unknown-kind":
        write_lines(path, [{"kind": "trace_header", "schema": SCHEMA_VERSION}, {"kind": "teleport", "step": 1}])
    elif case == "json-list":
        write_lines(path, [[{"kind": "plan", "text": "x"}]])
    elif case == "empty":
        path.write_text("")
    elif case == "newer-schema":
        write_lines(path, [{"kind": "trace_header", "schema": SCHEMA_VERSION + 1}, Plan(text="x").to_json()])
    args = ["-o", str(tmp_path / "out.ipynb")] if command == "export" else []
    proc = run_cli(command, str(path), *args, env=cli_env(tmp_path))
    assert proc.returncode == 2
    assert expected in one_line_error(proc)
    assert not (tmp_path / "out.ipynb").exists()


def test_export_of_a_damaged_trace_writes_what_it_read_and_says_what_it_skipped(tmp_path):
    lines = sample_events()
    lines[2] = b"\xff not utf-8"
    path, out = tmp_path / "t.jsonl", tmp_path / "out.ipynb"
    write_lines(path, lines)
    proc = run_cli("export", str(path), "-o", str(out), env=cli_env(tmp_path))
    assert proc.returncode == 1 and "skipped 1 unreadable line (3)" in proc.stderr.decode()
    assert "second plan" in out.read_text()


def test_a_comparison_of_a_damaged_trace_is_written_and_says_what_it_skipped(tmp_path):
    damaged = sample_events()
    damaged[2] = b"\xff not utf-8"
    first, second, out = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "both.html"
    write_lines(first, sample_events())
    write_lines(second, damaged)
    proc = run_cli("export", str(first), str(second), "-o", str(out), env=cli_env(tmp_path))
    assert proc.returncode == 1 and proc.stderr.decode().count("skipped 1 unreadable line (3)") == 1
    assert "nbreason-compare" in out.read_text()


def test_event_from_json_refuses_what_is_not_an_event():
    for data in ({"kind": "teleport"}, [1], {"text": "no kind"}, {"kind": "final", "usage": {"prompt_tokens": "x"}},
                 {"kind": "check", "signals": [{"name": "no value"}]}):
        with pytest.raises(ValueError):
            event_from_json(data)


# -- 10. a question too large -------------------------------------------------------------------

def test_a_one_megabyte_question_on_stdin_is_one_line_that_suggests_a_file(tmp_path):
    proc = run_cli("run", "-", env=cli_env(tmp_path), input=b"x" * 1_048_576 + b"\xff")
    assert proc.returncode == 2
    message = one_line_error(proc)
    assert "the limit is 100,000" in message and "in a file" in message
    assert "nbreason run --with PATH" in message  # the terminal's way to give the model data


# -- 11. every option validates its range ---------------------------------------------------------

@pytest.mark.parametrize("flag,value,expected", [
    ("--max-steps", "0", "an integer >= 1"),
    ("--max-seconds", "0", "a number > 0, or none (no limit)"),
    ("--max-seconds", "-5", "a number > 0, or none (no limit)"),
    ("--max-tokens", "0", "an integer >= 1, or none (no limit)"),
    ("--timeout", "0", "a number > 0"),
    ("--memory-mb", "-1", "an integer from 1024 to 16777216"),
    ("--attempts", "0", "an integer from 1 to 64"),
    ("--threshold", "2", "a number from 0 to 1"),
    ("--answer-type", "bogus", "one of any, number"),
    ("--protocol", "bogus", "one of auto, tools, text"),
    ("--max-call-tokens", "-5", "an integer >= 1"),
    ("--temperature", "nan", "a number from 0 to 2"),
    ("--temperature", "inf", "a number from 0 to 2"),
    ("--max-cost", "-1", "a number > 0, or none (no limit)"),
    ("--sandbox", "docker", "one of local, e2b"),
    ("--strategy", "best", "one of vote, wvote, adaptive"),
    ("--base-url", "localhost:8000", "an http:// or https:// URL, or none (the default endpoint)"),
])
def test_a_flag_out_of_range_is_one_line_naming_it_and_exit_code_2(tmp_path, flag, value, expected):
    with ScriptedServer() as server:  # nothing scripted: a run that starts anyway fails fast
        proc = run_cli("run", flag, value, "What is 7?", env=cli_env(tmp_path, server.base_url))
        calls = len(server.requests)
    assert proc.returncode == 2
    assert one_line_error(proc).startswith(f"nbreason: {flag}: expected {expected}, got")
    assert calls == 0


def test_environment_and_config_file_values_are_checked_and_the_source_named(tmp_path):
    proc = run_cli("run", "q", env=cli_env(tmp_path, NBREASON_MAX_STEPS="0"))
    assert proc.returncode == 2
    assert one_line_error(proc) == "nbreason: NBREASON_MAX_STEPS: expected an integer >= 1, got 0"
    path = tmp_path / "config.toml"
    path.write_text("temperature = 5\n")
    proc = run_cli("run", "q", env=cli_env(tmp_path, NBREASON_CONFIG=str(path)))
    assert proc.returncode == 2
    assert one_line_error(proc) == f"nbreason: temperature in {path}: expected a number from 0 to 2, got 5"


def test_none_in_the_environment_clears_a_limit_and_is_refused_where_a_value_is_needed(tmp_path):
    env = {"NBREASON_CONFIG": str(tmp_path / "none.toml")}
    assert load(env=env | {"NBREASON_MAX_SECONDS": "none"}).max_seconds is None
    assert load(env=env | {"NBREASON_MAX_TOTAL_TOKENS": "null"}).max_total_tokens is None
    with pytest.raises(ConfigError, match="NBREASON_MAX_STEPS: expected an integer >= 1, got none"):
        load(env=env | {"NBREASON_MAX_STEPS": "none"})
    # a flag may say none too: `nbreason run --max-seconds none` (argparse passes the word on)
    assert load({"max_seconds": "none"}, env=env).max_seconds is None


@pytest.mark.parametrize("options,message", [
    ({"max_steps": 0}, "max_steps: expected an integer >= 1, got 0"),
    ({"temperature": math.nan}, "temperature: expected a number from 0 to 2, got nan"),
    ({"temperature": 2.5}, "temperature: expected a number from 0 to 2, got 2.5"),
    ({"max_cost": -0.01}, "max_cost: expected a number > 0, or none (no limit), got -0.01"),
    ({"exec_timeout": 0}, "exec_timeout: expected a number > 0, got 0"),
    ({"memory_mb": -1}, "memory_mb: expected an integer from 1024 to 16777216, got -1"),
    ({"attempts": 0}, "attempts: expected an integer from 1 to 64, got 0"),
    ({"reward_threshold": 2}, "reward_threshold: expected a number from 0 to 1, got 2"),
    ({"max_tokens": -5}, "max_tokens: expected an integer >= 1, got -5"),
    ({"protocol": "bogus"}, "protocol: expected one of auto, tools, text, got 'bogus'"),
    ({"max_steps": True}, "max_steps: expected an integer >= 1, got True"),
    ({"max_steps": 2.5}, "max_steps: expected an integer >= 1, got 2.5"),
    ({"network": "maybe"}, "network: expected true or false, got 'maybe'"),
    ({"api_key": 12345}, "api_key: expected a key, or none (no key), got '***'"),  # a key is never echoed
    ({"base_url": "ftp://u:secret@h"}, "base_url: expected an http:// or https:// URL, or none (the default endpoint), "
                                       "got 'ftp://***@h'"),
])
def test_the_python_api_refuses_the_same_values_with_the_same_message(options, message):
    with pytest.raises(ConfigError) as err:
        RunConfig(**options)
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)


def test_values_inside_the_ranges_are_kept():
    config = RunConfig(seed=-7, max_cost=None, max_seconds=30, max_total_tokens=None, temperature=2, memory_mb=1024,
                       protocol=" Text ", max_retries=0)
    assert (config.seed, config.max_seconds, config.temperature, config.protocol) == (-7, 30.0, 2.0, "text")
    assert isinstance(config.max_seconds, float)
    assert RunConfig().replace(max_steps=3).max_steps == 3
    with pytest.raises(ConfigError, match="max_steps"):
        RunConfig().replace(max_steps=0)


@pytest.fixture
def shell(monkeypatch, tmp_path):
    monkeypatch.setenv("NBREASON_CONFIG", str(tmp_path / "none.toml"))
    for key in [k for k in os.environ if k.startswith("NBREASON_") and k != "NBREASON_CONFIG"]:
        monkeypatch.delenv(key)
    # an endpoint that refuses at once: a run that should not start fails fast instead of starting a model
    monkeypatch.setenv("NBREASON_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("NBREASON_MODEL", "scripted")
    monkeypatch.setenv("NBREASON_MAX_RETRIES", "0")
    ip = InteractiveShell.instance()
    magic.load_ipython_extension(ip)
    yield ip
    magic.unload_ipython_extension(ip)


def test_magic_options_out_of_range_are_a_one_line_usage_error_naming_the_option(shell, capsys):
    with pytest.raises(UsageError, match=r"^--max-steps: expected an integer >= 1, got 0$"):
        reason_cell.parse_options("--max-steps 0", shell)
    with pytest.raises(UsageError, match=r"^--temperature: expected a number from 0 to 2, got nan$"):
        reason_cell.parse_options("--temperature nan", shell)
    with pytest.raises(UsageError, match=r"^--timeout: expected a number > 0, got 0"):
        reason_cell.parse_options("--timeout 0", shell)
    result = shell.run_cell("%%reason --attempts 0\nWhat is 2+2?")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "UsageError: --attempts: expected an integer from 1 to 64, got 0" in err and "Traceback" not in err


def test_magic_defaults_out_of_range_name_where_they_were_set(shell):
    with pytest.raises(UsageError, match=r"^Reason.max_steps: expected an integer >= 1, got 0$"):
        shell.run_line_magic("reason_config", "max_steps=0")
    defaults = magic._magics(shell).defaults
    with pytest.raises(TraitError, match=r"^Reason.max_seconds: expected a number > 0"):
        defaults.max_seconds = -1.0  # as `%config Reason.max_seconds = -1` does
    assert defaults.max_seconds is None


def test_an_unexpected_failure_in_a_cell_prints_one_line_without_the_key(shell, monkeypatch, capsys):
    monkeypatch.setenv("NBREASON_API_KEY", API_KEY)

    async def broken(*args, **kwargs):
        raise RuntimeError(f"the proxy said: bad key {API_KEY}")

    monkeypatch.setattr("nbreason.runner.reason", broken)
    asyncio.run(reason_cell.run_cell("--quiet", "What is 7?"))
    assert capsys.readouterr().err.strip() == "nbreason: the run failed: RuntimeError: the proxy said: bad key ***"


@pytest.mark.parametrize("speed", ["0", "-2", "nan", "fast"])
def test_replay_speed_out_of_range_is_a_usage_error(shell, tmp_path, speed):
    path = tmp_path / "t.jsonl"
    write_lines(path, sample_events())
    with pytest.raises(UsageError, match="--speed: expected a number > 0"):
        shell.run_line_magic("reason_replay", f"{path} --speed {speed}")


@pytest.mark.parametrize("args,message", [
    (["--limit", "0"], "--limit: expected an integer >= 1, got 0"),
    (["--skip", "-1"], "--skip: expected an integer >= 0, got -1"),
    (["--parallel", "0"], "--parallel: expected an integer from 1 to 64, got 0"),
    (["--threads", "0"], "--threads: expected an integer >= 1, got 0"),
    (["--confidence", "1.5"], "--confidence: expected a number from 0.5 to 1, got 1.5"),
    (["--max-steps", "0"], "--max-steps: expected an integer >= 1, got 0"),
    (["--exec-timeout", "0"], "--exec-timeout: expected a number > 0, got 0"),
])
def test_bench_options_out_of_range_are_refused_before_anything_runs(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.setenv("NBREASON_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("NBREASON_MAX_RETRIES", "0")
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"question": "What is 7?", "answer": "7"}\n')
    assert bench_main([*args, "--dataset", str(problems), "--strategies", "single-shot", "--model", "scripted",
                       "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"nbreason bench: {message}"
    assert not (tmp_path / "out").exists()


def test_replay_delay_must_not_be_negative(tmp_path):
    path = tmp_path / "t.jsonl"
    write_lines(path, sample_events())
    proc = run_cli("replay", "--delay", "-1", str(path), env=cli_env(tmp_path))
    assert proc.returncode == 2 and one_line_error(proc) == "nbreason: --delay: expected a number from 0 to 3600, got -1"


# -- 12. waits never outlast the budget -------------------------------------------------------------

async def test_a_retry_after_longer_than_the_budget_ends_the_run_at_once_and_says_why(tmp_path):
    with ScriptedServer([rate_limited(retry_after=86400), CODE, FINAL]) as server:
        started = time.monotonic()
        result = await reason("q", config=config(server, max_seconds=5, trace=str(tmp_path / "t.jsonl")))
        elapsed = time.monotonic() - started
        calls = len(server.requests)
    assert elapsed < 8, elapsed  # the budget plus the sandbox's start, not the server's day or the 60 s cap
    assert calls == 1 and result.stop_reason == "budget:seconds"
    [error] = [e for e in result.events if isinstance(e, Error)]
    assert error.fatal and "rate limited (429)" in error.message
    assert "the server asks to wait 86400 s, more than the" in error.message
    assert error.message.endswith("s left in the budget")
    assert isinstance(read_trace(tmp_path / "t.jsonl")[-1], FinalAnswer)


async def test_a_model_call_never_outlasts_the_time_left(tmp_path):
    with ScriptedServer([Reply("late", delay=30)]) as server:
        started = time.monotonic()
        result = await reason("q", config=config(server, max_seconds=3, request_timeout=120))
        elapsed = time.monotonic() - started
    assert elapsed < 7, elapsed  # 3 s of budget (+ the sandbox's start), not the server's 30 s
    assert result.stop_reason == "budget:seconds"
    assert any("no complete answer from" in e.message and "left in the budget" in e.message
               for e in result.events if isinstance(e, Error))


async def test_a_back_off_that_would_end_after_the_deadline_is_not_started():
    slept = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with ScriptedServer([server_error(503), Reply("too late")]) as server:
        model = OpenAIChatModel("scripted", base_url=server.base_url,
                                retry=RetryPolicy(initial=5, jitter=0, sleep=sleep))
        with pytest.raises(OutOfTime, match=r"server error 503 .*; the next try would start in 5\.0 s, "
                                             r"more than the \d\.\d s left in the budget"):
            await model.complete([{"role": "user", "content": "hi"}], deadline=time.monotonic() + 2)
        await model.close()
        assert len(server.requests) == 1 and not slept


async def test_stop_during_a_short_back_off_still_ends_at_once(tmp_path):
    stop = asyncio.Event()
    with ScriptedServer([rate_limited(3), CODE, FINAL]) as server:
        started = time.monotonic()
        task = asyncio.ensure_future(reason("q", config=config(server, max_seconds=30), stop=stop,
                                            subscribers=[lambda e: e.kind == "retry" and stop.set()]))
        result = await task
    assert time.monotonic() - started < 6 and result.stop_reason == "stopped by user"
