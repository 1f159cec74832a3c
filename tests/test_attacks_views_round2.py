"""A second review of the views, the exports and the trace reader as an attacker: a trace handed
over by someone else, or what the model and the sandbox wrote. Each test states what must hold."""

from __future__ import annotations

import json
import subprocess

import pytest

from nbreason.result import RunResult
from nbreason.trace import load_trace
from nbreason.views.compare import CompareView
from nbreason.views.replay import ReplayView
from tests.test_attacks_viewer import problems
from tests.test_cli import nbreason

HEADER = {"kind": "trace_header", "schema": 1}

# --- numbers a float cannot hold -----------------------------------------------------------------

# JSON has no limit on integers and Python reads them exactly: 10**400 is a valid `reward` (a float
# field takes an int), and two token counts of 4,300 digits add up to one Python refuses to print.
# Before, `nbreason replay` died with a traceback (OverflowError: int too large to convert to float;
# ValueError: Exceeds the limit (4300 digits)) and `nbreason export` refused to write anything.
HUGE = 10**400
LONGEST = 9 * 10**4299  # the most digits Python reads from JSON


def huge_numbers_trace(path, run_id="r1"):
    lines = [
        HEADER,
        {"kind": "run_started", "run_id": run_id, "question": "How many?",
         "config": {"model": "m", "max_seconds": HUGE, "max_steps": HUGE, "max_total_tokens": LONGEST,
                    "max_cost": HUGE}},
        {"kind": "model_call", "run_id": run_id, "step": 1, "duration": HUGE, "elapsed": HUGE,
         "usage": {"prompt_tokens": LONGEST, "completion_tokens": LONGEST, "cost": HUGE}},
        {"kind": "plan", "run_id": run_id, "step": 1, "text": "Count them."},
        {"kind": "code", "run_id": run_id, "step": 1, "code": "print(4)"},
        {"kind": "observation", "run_id": run_id, "step": 1, "summary": "4",
         "execution": {"stdout": ["4\n"]}},
        {"kind": "check", "run_id": run_id, "step": 1, "reward": HUGE, "answer": "4",
         "signals": [{"name": "s", "value": HUGE, "reason": "r"}]},
        {"kind": "budget", "run_id": run_id, "step": 1,
         "spent": {"steps": LONGEST, "tokens": LONGEST, "seconds": HUGE, "cost": HUGE},
         "limits": {"steps": HUGE, "tokens": LONGEST, "seconds": HUGE, "cost": HUGE}},
        {"kind": "vote", "run_id": run_id, "strategy": "vote", "tally": {"4": HUGE},
         "answers": [{"attempt": 1, "answer": "4", "reward": HUGE, "tokens": LONGEST}]},
        {"kind": "final", "run_id": run_id, "answer": "4", "stop_reason": "answered", "reward": HUGE,
         "confidence": HUGE, "steps": LONGEST, "elapsed": HUGE,
         "usage": {"prompt_tokens": LONGEST, "completion_tokens": LONGEST, "cost": HUGE}},
        {"kind": "final", "run_id": run_id, "answer": "4", "stop_reason": "answered", "steps": 1},
    ]
    import sys

    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    finally:
        sys.set_int_max_str_digits(limit)
    return path


@pytest.mark.parametrize("command", ["replay", "export .ipynb", "export .html", "replay two", "export two"])
def test_numbers_too_large_for_a_float_in_a_trace_give_no_traceback_in_replay_or_export(tmp_path, command):
    first = huge_numbers_trace(tmp_path / "a.jsonl")
    second = huge_numbers_trace(tmp_path / "b.jsonl", run_id="r2")
    verb, _, what = command.partition(" ")
    traces = [str(first), str(second)] if what == "two" else [str(first)]
    target = tmp_path / ("out.html" if what in (".html", "two") else "out.ipynb")
    args = [verb, *traces] + (["-o", str(target)] if verb == "export" else [])
    proc = subprocess.run(nbreason(*args), capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr, proc.stderr[-600:]
    assert proc.returncode in (0, 1), proc.stderr[-600:]
    if verb == "export":
        assert target.exists() and "How many?" in target.read_text()
    else:
        assert "How many?" in proc.stdout


def test_numbers_too_large_for_a_float_are_refused_where_the_event_says_number_and_shown_where_it_does_not(tmp_path):
    contents = load_trace(huge_numbers_trace(tmp_path / "a.jsonl"))
    kinds = [event.kind for event in contents.events]
    assert kinds == ["run_started", "plan", "code", "observation", "final"]
    assert "skipped 5 unreadable lines (3, 7, 8, 9, 10)" in contents.note()
    started = contents.events[0]
    assert started.config["max_seconds"] == HUGE  # settings are free-form: kept, and shown as they are
    for markup in (RunResult(question="q", events=contents.events)._repr_html_(),):
        assert "How many?" in markup and problems(markup) == []
    ReplayView(contents.events).show_all()
    CompareView(contents.events, contents.events).show_all()


# --- progress of preparing the model ------------------------------------------------------------

# A stage names the model it prepares: `starting the model server (NAME)`, NAME the stem of the file
# given as `--model local:PATH`, a file someone else may have named. The terminal bar read the stage
# as rich markup (`[link=…]` made a terminal hyperlink, `[/x]` stopped the run with a MarkupError)
# and let its escape sequences through; the plain lines printed them as they were.
HOSTILE_STAGE = ("starting the model server ([link=https://attacker.example/]weights[/link] "
                 "\x1b]0;PWNED\x07\x1b[2J\u202e)")


def test_a_model_name_in_the_progress_bar_is_text_with_its_escape_sequences_shown():
    import io

    from rich.console import Console

    from nbreason.models.progress import Progress
    from nbreason.progress_display import RichProgress

    buffer = io.StringIO()
    with RichProgress(Console(file=buffer, force_terminal=True, width=300, color_system="standard")) as show:
        show(Progress(HOSTILE_STAGE, 0, 1, unit=""))
        show(Progress("assembling x[/x]", 0, 10))
        show(Progress("assembling x[/x]", 10, 10))
        show(Progress(HOSTILE_STAGE, 1, 1, unit=""))
    out = buffer.getvalue()
    for injected in ("\x1b]8;", "\x1b]0;", "\x1b[2J", "\x07", "\u202e"):
        assert injected not in out, repr(injected)
    assert "[link=https://attacker.example/]" in out and "\\x1b]0;PWNED" in out and "x[/x]" in out


def test_a_model_name_in_plain_progress_lines_has_its_escape_sequences_shown():
    from nbreason.models.progress import Progress
    from nbreason.progress_display import TextProgress

    lines = []
    show = TextProgress(lines.append)
    show(Progress(HOSTILE_STAGE, 0, 1, unit=""))
    show(Progress(HOSTILE_STAGE, 1, 1, unit=""))
    assert lines and not any(c in line for line in lines for c in ("\x1b", "\x07", "\u202e"))
    assert "\\x1b]0;PWNED" in lines[0]
