"""The tools protocol on the real embedded model: native run_python / final_answer calls, end to end.

The 0.5B writes its calls as bare JSON instead of inside <tool_call> tags; the client reads
them as calls (models/text_tool_calls.py). "auto" keeps embedded models on the text protocol;
`protocol="tools"` asks for tools explicitly.
"""

from __future__ import annotations

import json

import pytest

from nbreason.config import RunConfig
from nbreason.events import Error, ModelCall, Observation
from nbreason.models import make_model
from nbreason.models.base import ModelProfile
from nbreason.runner import reason
from tests.test_embedded_loop import needs_small_model

pytestmark = pytest.mark.model

# Chosen by running it by hand: with greedy decoding the 0.5B calls run_python with
# `123 * 457`, then final_answer with the value it read (the sum of squares of 1..10, also
# tried, made it call final_answer with a guessed 165 before reading the output).
QUESTION = "What is 123 * 457?"


@needs_small_model
@pytest.mark.timeout(900)
async def test_the_small_model_runs_python_and_answers_through_native_tool_calls(tmp_path, monkeypatch):
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NBREASON_BASE_URL", "NBREASON_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    # self_check off: the recompute check solves again in the text protocol, not what is tested here.
    config = RunConfig(model="local-small", protocol="tools", max_steps=4, max_seconds=600, self_check="off",
                       trace=str(tmp_path / "run.jsonl"))
    model = await make_model(config)
    # Embedded models take a lone printed value as the answer; off, so the run has to end with final_answer.
    model.profile = ModelProfile(embedded=True, answers_by_printing=False)
    try:
        result = await reason(QUESTION, config=config, model=model)
    finally:
        await model.close()
    calls = [call for e in result.events if isinstance(e, ModelCall) for call in e.tool_calls]
    runs = [json.loads(c.arguments)["code"] for c in calls if c.name == "run_python"]
    finals = [json.loads(c.arguments)["answer"] for c in calls if c.name == "final_answer"]
    assert runs and finals, [e.response_text for e in result.events if isinstance(e, ModelCall)]
    ran = [e for e in result.events if isinstance(e, Observation) and e.ok]
    assert any("56211" in "".join(e.execution.stdout) + " ".join(r.text or "" for r in e.execution.results)
               for e in ran)
    assert not any(isinstance(e, Error) and "not supported" in e.message for e in result.events)
    assert result.config["protocol"] == "tools"
    assert result.answer == "56211" and result.stop_reason == "answered"
