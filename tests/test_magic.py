"""`%load_ext nbreason`: options, defaults, the input transformer, terminal runs, and a real
kernel that survives whatever a run does."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import nbformat.v4 as v4
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from nbclient import NotebookClient
from traitlets.config import Config

from nbreason import cell, magic
from tests.support.scripted_server import Reply, ScriptedServer

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = [Reply("Add them.\n```python\nprint(2 + 2)\n```"), Reply("FINAL ANSWER: 4")]


@pytest.fixture
def shell(monkeypatch, tmp_path):
    monkeypatch.setenv("NBREASON_CONFIG", str(tmp_path / "none.toml"))
    for key in [k for k in os.environ if k.startswith("NBREASON_") and k != "NBREASON_CONFIG"]:
        monkeypatch.delenv(key)
    ip = InteractiveShell.instance()
    magic.load_ipython_extension(ip)
    yield ip
    magic.unload_ipython_extension(ip)
    ip.user_ns.pop("r", None)
    ip.config.pop("Reason", None)  # `%config Reason.x = ...` would outlive the test in the one shared shell


def test_reason_cell_becomes_an_awaited_call(shell):
    code = shell.transform_cell("%%reason --max-steps 3\nWhat is 2+2?\n")
    assert code.startswith("await __import__('nbreason.cell').cell.run_cell('--max-steps 3', 'What is 2+2?\\n')")


def test_help_and_other_magics_are_left_alone(shell):
    assert "pinfo" in shell.transform_cell("%%reason?\n")
    assert "_run_cell" not in shell.transform_cell("%%reasonable\nx\n")


def test_question_mark_lists_every_option_with_its_help_default_and_variable(shell, capsys):
    from nbreason import flags

    shell.run_line_magic("reason_config", "max_steps=3")  # the default shown is the one in effect
    shell.run_cell("%%reason?")
    out = " ".join(capsys.readouterr().out.split())
    for option in ("--with", "--check", "-o NAME, --output NAME", "--quiet"):
        assert option in out
    for flag in flags.flags_for(flags.MAGIC):
        assert f"{flag.name}" in out and flag.help.split()[0] in out and f"env NBREASON_{flag.field.upper()}]" in out
    assert "budget: steps; an integer >= 1 [default 3; env NBREASON_MAX_STEPS]" in out
    assert "--api-key" not in out  # a key typed in a cell would be saved with the notebook


def test_bad_option_is_a_one_line_usage_error(shell, capsys):
    result = shell.run_cell("%%reason --max-steps many\nWhat is 2+2?")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "UsageError: argument --max-steps: invalid int value: 'many'" in err
    assert "Traceback" not in err


def test_empty_question_is_a_usage_error(shell):
    with pytest.raises(UsageError, match="write the question"):
        asyncio.run(cell.run_cell("", "  \n"))


def test_with_names_variables_of_the_notebook(shell):
    shell.user_ns.update(df=[1, 2], n=3)
    _, kwargs, _ = cell.parse_options("--with df,n", shell)
    assert kwargs["variables"] == {"df": [1, 2], "n": 3}
    with pytest.raises(UsageError, match="no variable named nope"):
        cell.parse_options("--with df,nope", shell)


def test_check_must_be_a_function_of_the_notebook(shell):
    shell.user_ns.update(ok=lambda answer: True, number=3)
    _, kwargs, _ = cell.parse_options("--check ok", shell)
    assert kwargs["check"] is shell.user_ns["ok"]
    with pytest.raises(UsageError, match="not a function"):
        cell.parse_options("--check number", shell)


def test_options_map_onto_the_run_config(shell):
    config, _, args = cell.parse_options(
        "--model m --base-url http://x/v1 --max-steps 2 --max-tokens 500 --max-seconds 9 --max-cost 0.5 "
        "--temperature 0.3 --seed 7 --timeout 4 --trace t.jsonl -o out --quiet", shell)
    assert (config.model, config.base_url, config.max_steps, config.max_total_tokens) == ("m", "http://x/v1", 2, 500)
    assert (config.max_seconds, config.max_cost, config.temperature, config.seed) == (9.0, 0.5, 0.3, 7)
    assert (config.exec_timeout, config.trace, args.output, args.quiet) == (4.0, "t.jsonl", "out", True)


def test_percent_config_sets_defaults_and_the_line_wins(shell):
    defaults = shell.magics_manager.registry["ReasonMagics"].defaults
    shell.run_line_magic("config", "Reason.max_steps = 3")
    assert cell.parse_options("", shell, defaults)[0].max_steps == 3
    assert cell.parse_options("--max-steps 5", shell, defaults)[0].max_steps == 5


def test_ipython_config_files_reach_the_defaults():
    defaults = magic.Reason(config=Config({"Reason": {"model": "from-config", "max_cost": 0.25}}))
    config, _, _ = cell.parse_options("", InteractiveShell.instance(), defaults)
    assert config.model == "from-config" and config.max_cost == 0.25


def test_none_in_reason_config_clears_a_limit_the_config_file_set(shell, tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text("max_seconds = 30\n")
    monkeypatch.setenv("NBREASON_CONFIG", str(path))
    defaults = shell.magics_manager.registry["ReasonMagics"].defaults
    assert cell.parse_options("", shell, defaults)[0].max_seconds == 30
    shell.run_line_magic("reason_config", "max_seconds=none")
    assert defaults.max_seconds == "none"
    assert cell.parse_options("", shell, defaults)[0].max_seconds is None
    assert cell.parse_options("--max-seconds 5", shell, defaults)[0].max_seconds == 5  # the line still wins
    defaults.max_seconds = None  # not set here: the file counts again
    assert cell.parse_options("", shell, defaults)[0].max_seconds == 30


def test_percent_config_refuses_a_value_at_once_naming_the_trait(shell):
    from traitlets import TraitError

    defaults = shell.magics_manager.registry["ReasonMagics"].defaults
    with pytest.raises(TraitError, match=r"^Reason.strategy: expected one of vote, wvote, adaptive, got 'bogus'$"):
        defaults.strategy = "bogus"
    defaults.max_cost = "none"
    defaults.self_check = "true"  # an old spelling, read as the setting reads it
    assert (defaults.max_cost, defaults.self_check) == ("none", "verify")


def test_switches_turn_settings_on_and_off(shell):
    config, _, _ = cell.parse_options("--no-network --confine --no-backtrack", shell)
    assert (config.network, config.confine, config.backtrack) == (False, True, False)
    assert cell.parse_options("--network", shell)[0].network is True


def test_reason_config_sets_and_shows(shell, capsys):
    shell.run_line_magic("reason_config", "max_steps=6 model=gpt-x")
    shell.run_line_magic("reason_config", "")
    out = capsys.readouterr().out
    assert "max_steps          = 6  (Reason)" in out and "model              = 'gpt-x'  (Reason)" in out
    with pytest.raises(UsageError):
        shell.run_line_magic("reason_config", "colour=blue")


def test_unload_removes_magic_and_transformer(shell):
    magic.unload_ipython_extension(shell)
    assert "reason" not in shell.magics_manager.magics["cell"]
    assert cell.transform not in shell.input_transformers_cleanup
    magic.load_ipython_extension(shell)  # the fixture unloads again


def test_old_kernels_are_warned_that_stop_cannot_work():
    assert "Stop will not respond" in cell.stop_warning((7, 3))
    assert cell.stop_warning((7, 4)) is None and cell.stop_warning(None) is None


async def test_interrupting_the_cell_stops_the_run_and_keeps_its_result():
    stop = asyncio.Event()

    async def run():
        await stop.wait()
        return "what was done so far"

    outer = asyncio.ensure_future(cell._drive(run(), stop))
    await asyncio.sleep(0.05)
    outer.cancel()
    assert await outer == "what was done so far" and stop.is_set()


def test_terminal_ipython_renders_text_and_keeps_the_result(shell, capsys):
    with ScriptedServer(list(SCRIPT)) as server:
        shell.run_cell(f"%%reason --model scripted --base-url {server.base_url} -o r\nWhat is 2+2?")
    out = capsys.readouterr().out
    assert shell.user_ns["r"].answer == "4" and shell.user_ns["r"].stop_reason == "answered"
    assert "What is 2+2?" in out and "print(2 + 2)" in out


def test_reason_export_puts_the_code_in_the_next_cell(shell, capsys):
    with ScriptedServer(list(SCRIPT)) as server:
        shell.run_cell(f"%%reason --quiet --model scripted --base-url {server.base_url}\nWhat is 2+2?")
    assert capsys.readouterr().out.strip() == "4"  # --quiet: only the answer
    shell.run_line_magic("reason_export", "")
    assert shell.rl_next_input == "print(2 + 2)\n"


def run_in_kernel(*sources, monkeypatch, tmp_path):
    monkeypatch.setenv("NBREASON_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = v4.new_notebook(cells=[v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


@pytest.mark.timeout(180)
def test_kernel_survives_an_unreachable_model_with_a_readable_message(monkeypatch, tmp_path):
    nb = run_in_kernel(
        "%load_ext nbreason",
        "%%reason --model nothing --base-url http://127.0.0.1:9/v1 --max-steps 1 -o r\nWhat is 2+2?",
        "r.stop_reason, 1 + 1",
        monkeypatch=monkeypatch, tmp_path=tmp_path)
    run_cell, after = nb.cells[1], nb.cells[2]
    assert not [o for o in run_cell.outputs if o["output_type"] == "error"]
    views = [o for o in run_cell.outputs if o["output_type"] == "display_data"]
    assert "error" in views[-1]["data"]["text/html"]  # the static copy says why it stopped
    assert after.outputs[0]["data"]["text/plain"] == "('error', 2)"


@pytest.mark.timeout(180)
def test_kernel_shows_usage_errors_in_one_line(monkeypatch, tmp_path):
    nb = run_in_kernel("%load_ext nbreason", "%%reason --sandbox moon\nq", "'alive'",
                       monkeypatch=monkeypatch, tmp_path=tmp_path)
    (error,) = nb.cells[1].outputs
    assert error["name"] == "stderr" and error["text"] == "UsageError: --sandbox: expected one of local, e2b, got 'moon'\n"
    assert nb.cells[2].outputs[0]["data"]["text/plain"] == "'alive'"


def test_export_cells_hold_question_answer_and_clean_code():
    from nbreason.events import FinalAnswer, RunStarted
    from nbreason.result import RunResult

    result = RunResult.from_events([RunStarted(question="What is 2+2?"),
                                    FinalAnswer(answer="4", stop_reason="answered", code=["x = 2\n", "print(x + x)"])])
    cells = result.export_cells()
    assert [c.cell_type for c in cells] == ["markdown", "code", "code"]
    from markdown_it import MarkdownIt

    shown = MarkdownIt("commonmark").render(cells[0].source)  # the run's text is escaped, and shows as typed
    assert "What is 2+2?" in shown and "<strong>Answer:</strong> 4" in shown
    assert [c.source for c in cells[1:]] == ["x = 2", "print(x + x)"]
    assert "<p>4</p>" in result._repr_html_()  # the static view of RunResult


def test_model_progress_in_a_notebook_is_a_widget_that_goes_away_when_the_model_is_ready():
    from nbreason.models.progress import Progress
    from nbreason.progress_display import WidgetProgress

    shown = []
    show = WidgetProgress(display=shown.append)
    show(Progress("assembling qwen2.5-coder-0.5b", 0, 100))
    (box,) = shown
    show(Progress("assembling qwen2.5-coder-0.5b", 40, 100))
    bar, label = box.children
    assert bar.value == 0.4 and label.value.startswith("assembling qwen2.5-coder-0.5b")
    show(Progress("assembling qwen2.5-coder-0.5b", 100, 100))
    assert box.comm is None  # closed: a saved notebook keeps no half-filled bar


def test_model_progress_without_widgets_is_a_line_per_tenth():
    from nbreason.models.progress import Progress
    from nbreason.progress_display import TextProgress

    lines = []
    show = TextProgress(lines.append)
    for done in range(0, 1001):
        show(Progress("assembling m", done * 1000, 1_000_000))
    assert len(lines) == 11 and lines[0] == "assembling m: 0% (0 / 1 MB)" and lines[-1].startswith("assembling m: 100%")


# -- follow-ups (--continue) and variables back (--return) ----------------------------------------

FIRST_CELL = [Reply("```python\ntemps = {'Oslo': 6, 'Cairo': 23}\nprint(id(temps))\n```"), Reply("FINAL ANSWER: Cairo")]
SECOND_CELL = [Reply("```python\nprint(id(temps))\ncoldest = min(temps, key=temps.get)\nprint(coldest)\n```"),
               Reply("FINAL ANSWER: Oslo")]


def test_continue_without_an_earlier_run_is_a_one_line_usage_error(shell):
    shell.user_ns.update(number=3)
    with pytest.raises(UsageError, match=r"^--continue: no earlier %%reason run in this notebook to continue"):
        cell.parse_options("--continue", shell)
    with pytest.raises(UsageError, match=r"^--continue: no variable named nope in this notebook$"):
        cell.parse_options("--continue nope", shell)
    with pytest.raises(UsageError, match=r"^--continue: number is a int, not the result of a run"):
        cell.parse_options("--continue number", shell)
    with pytest.raises(UsageError, match=r"^--return: '2x' is not a valid Python name$"):
        cell.parse_options("--return a,2x", shell)


def test_a_follow_up_cell_reuses_the_sandbox_and_returns_variables(shell, capsys):
    with ScriptedServer(FIRST_CELL + SECOND_CELL) as server:
        shell.run_cell(f"%%reason --model scripted --base-url {server.base_url} --self-check off -o a\n"
                       "Which city is warmest?")
        kept = shell.user_ns["a"].sandbox
        assert kept is not None  # open for a follow-up
        shell.run_cell(f"%%reason --continue --return coldest --model scripted --base-url {server.base_url} "
                       "--self-check off -o b\nAnd the coldest?")
        assert "Earlier question: Which city is warmest?" in server.requests[2]["messages"][1]["content"]
    a, b = shell.user_ns["a"], shell.user_ns["b"]
    assert b.steps[0].execution.stdout_text.split()[0] == a.steps[0].execution.stdout_text.split()[0]
    assert shell.user_ns["coldest"] == "Oslo" and b.returned == {"coldest": "Oslo"}
    assert a.sandbox is None and b.sandbox is kept  # handed over, still open for the next follow-up
    assert "continues: Which city is warmest? → Cairo" in capsys.readouterr().out
    with ScriptedServer([Reply("FINAL ANSWER: done")]) as server:
        shell.run_cell(f"%%reason --model scripted --base-url {server.base_url} --self-check off -o c\nAnything?")
    assert b.sandbox is None and kept._km is None  # a run that does not continue it closes it


@pytest.mark.timeout(240)
def test_two_cells_in_a_real_kernel_continue_one_session_and_bring_a_value_back(monkeypatch, tmp_path):
    with ScriptedServer(FIRST_CELL + SECOND_CELL) as server:
        monkeypatch.setenv("NBREASON_BASE_URL", server.base_url)
        monkeypatch.setenv("NBREASON_MODEL", "scripted")
        nb = run_in_kernel(
            "%load_ext nbreason",
            "%%reason --continue\nq",
            "%%reason --self-check off -o first\nWhich city is warmest?",
            "%%reason --continue --return coldest --self-check off -o second\nAnd the coldest?",
            "(first.steps[0].execution.stdout_text.split()[0] == second.steps[0].execution.stdout_text.split()[0],"
            " coldest, second.continues.answer)",
            monkeypatch=monkeypatch, tmp_path=tmp_path)
    (error,) = nb.cells[1].outputs
    assert error["text"].startswith("UsageError: --continue: no earlier %%reason run") and error["text"].count("\n") == 1
    assert nb.cells[4].outputs[0]["data"]["text/plain"] == "(True, 'Oslo', 'Cairo')"
    static = [o for o in nb.cells[3].outputs if o["output_type"] == "display_data"][-1]["data"]["text/html"]
    assert "continues:" in static and "Which city is warmest?" in static and "Cairo" in static


def test_unloading_closes_the_sandbox_the_last_run_kept(shell):
    from tests.support.kernels import sandbox_kernel_pids

    with ScriptedServer(list(SCRIPT)) as server:
        shell.run_cell(f"%%reason --quiet --model scripted --base-url {server.base_url} -o r\nWhat is 2+2?")
    assert shell.user_ns["r"].sandbox is not None and sandbox_kernel_pids()
    magic.unload_ipython_extension(shell)
    assert shell.user_ns["r"].sandbox is None and not sandbox_kernel_pids()
    magic.load_ipython_extension(shell)  # the fixture unloads again
