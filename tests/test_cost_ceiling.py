"""Before a priced model spends anything, the run says the most it can cost, checks included."""

from __future__ import annotations

import pytest

from nbreason.events import Limits, RunStarted
from nbreason.policy import cost_ceiling
from nbreason.views.html import header_html


@pytest.mark.parametrize("limits,input_price,output_price,last_step,ceiling", [
    (Limits(tokens=40_000), 0.15, 0.60, 0, 0.024),         # every allowed token at the output price
    (Limits(tokens=40_000), 0.15, 0.60, 10_000, 0.030),    # plus what the last step may spend past it
    (Limits(tokens=40_000, cost=0.01), 0.15, 0.60, 0, 0.01),  # a lower cost limit binds first
    (Limits(tokens=None, cost=0.5), 0.15, 0.60, 10_000, 0.506),
    (Limits(tokens=40_000), None, None, 0, None),          # unknown price: nothing to promise
    (Limits(tokens=None, cost=0.5), None, None, 0, None),  # nor with a cost limit: cost is not counted
    (Limits(tokens=None), 0.15, 0.60, 0, None),            # no limit at all: no bound
    (Limits(tokens=40_000), 0.0, 0.0, 10_000, 0.0),        # a local model is free
])
def test_the_cost_ceiling_is_the_first_limit_reached_at_the_dearer_price_plus_the_last_step(
        limits, input_price, output_price, last_step, ceiling):
    found = cost_ceiling(limits, input_price, output_price, last_step_tokens=last_step)
    assert found is None if ceiling is None else found == pytest.approx(ceiling)


def test_the_header_shows_the_checks_and_the_ceiling_and_ignores_a_ceiling_that_is_not_a_number():
    started = RunStarted(run_id="r", question="q?", config={"model": "gpt-4o-mini", "sandbox": "local",
                                                            "checks": "methods", "cost_ceiling": 0.024})
    html = str(header_html(started))
    assert "checks <code>methods</code>" in html and "spends at most <b>$0.0240</b>" in html
    started.config["cost_ceiling"] = "<script>"
    assert "spends at most" not in str(header_html(started))


async def test_a_run_on_a_priced_api_model_says_its_ceiling_before_the_first_call_with_methods_checks():
    from rich.console import Console

    from nbreason.config import RunConfig
    from nbreason.events import ModelCall
    from nbreason.runner import reason
    from nbreason.views.console import ConsoleView
    from tests.support.scripted_server import Reply, ScriptedServer

    console = Console(record=True, width=200)
    seen: list = []
    replies = [Reply("```python\nprint(7)\n```"), Reply("FINAL ANSWER: 7")] + [Reply("```python\nprint(7)\n```")] * 8
    with ScriptedServer(replies) as server:
        config = RunConfig(model="gpt-4o-mini", base_url=server.base_url, api_key="k", protocol="text",
                           self_check="methods", max_total_tokens=40_000, exec_timeout=20)
        result = await reason("What is 3 + 4?", config=config,
                              subscribers=[seen.append, ConsoleView(console=console)])
    started = result.events[0]
    assert started.config["checks"] == "methods"
    assert 40_000 * 0.60 / 1e6 < started.config["cost_ceiling"] < 60_000 * 0.60 / 1e6
    assert result.usage.cost <= started.config["cost_ceiling"]
    assert seen.index(started) < next(i for i, e in enumerate(seen) if isinstance(e, ModelCall))
    assert f"checks methods · spends at most ${started.config['cost_ceiling']:.4f}" in console.export_text()


@pytest.mark.parametrize("hostile", [10 ** 400, float("inf"), float("nan"), True, -1, "0.5", None])
def test_a_hostile_ceiling_in_a_trace_is_not_shown_and_breaks_no_view(hostile):
    from rich.console import Console

    from nbreason.views.console import ConsoleView

    started = RunStarted(run_id="r", question="q?", config={"model": "m", "cost_ceiling": hostile})
    assert "spends at most" not in str(header_html(started))
    console = Console(record=True, width=200)
    ConsoleView(console=console)(started)
    assert "spends at most" not in console.export_text()


async def test_several_attempts_say_the_ceiling_of_all_of_them_together():
    from nbreason.config import RunConfig
    from nbreason.events import RunStarted
    from nbreason.runner import reason
    from tests.support.scripted_server import Reply, ScriptedServer

    replies = [Reply("```python\nprint(7)\n```"), Reply("FINAL ANSWER: 7")] * 3
    with ScriptedServer(replies) as server:
        config = RunConfig(model="gpt-4o-mini", base_url=server.base_url, api_key="k", protocol="text",
                           attempts=3, parallel=1, exec_timeout=20)
        result = await reason("What is 3 + 4?", config=config)
    outer = result.events[0]
    inner = [e for e in result.events if isinstance(e, RunStarted) and e.attempt]
    assert inner and outer.attempt == 0  # (sampling may stop before the third once two agree)
    assert outer.config["cost_ceiling"] == pytest.approx(3 * inner[0].config["cost_ceiling"])
    assert result.usage.cost <= outer.config["cost_ceiling"]
