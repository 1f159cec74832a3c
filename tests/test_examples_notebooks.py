"""Every examples/*.ipynb runs top to bottom in a real kernel (nbclient), and the saved widget
state shows the steps, the final answer and the images.

The examples use the embedded model by default; here NBREASON_BASE_URL / NBREASON_MODEL point
the kernel at a scripted OpenAI-compatible server instead, so the notebooks hold no test code.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.scripted_server import Reply, ScriptedServer

ROOT = Path(__file__).resolve().parents[1]
# Notebooks that run %%reason live; the replay examples are tested in test_examples_replay.py.
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.ipynb")
                  if any(c.cell_type == "code" and c.source.startswith("%%reason")
                         for c in nbformat.read(p, as_version=4).cells))

PRIMES = """primes = []
n = 2
while len(primes) < 100:
    if all(n % p for p in primes):
        primes.append(n)
    n += 1
print(sum(primes))"""
SALES = """totals = sales.groupby("region")["amount"].sum().sort_values()
print(totals)
totals.plot.bar(title="Total sales per region")"""
EULER = """def is_prime(v):
    return v > 1 and all(v % d for d in range(2, int(v ** 0.5) + 1))
n = 2
while is_prime(n * n + n + 41):
    n += 1
print(n)"""

# question fragment -> (code of step 1, answer of step 2)
SCRIPTS = {
    "first 100 prime numbers": (PRIMES, "24133"),
    "highest total sales": (SALES, "West"),
    "n**2 + n + 41": (EULER, "40"),
}


def reply_for(body: dict) -> Reply:
    """Answer by question and by how many replies the run already had."""
    question = next(m["content"] for m in body["messages"] if m["role"] == "user")
    code, answer = next(v for k, v in SCRIPTS.items() if k in question)
    replies = sum(m["role"] == "assistant" for m in body["messages"])
    if replies == 0:
        return Reply(f"I will compute it.\n```python\n{code}\n```", chunk_delay=0.005)
    return Reply(f"The output gives the answer.\nFINAL ANSWER: {answer}")


def run_notebook(path: Path, base_url: str, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("NBREASON_BASE_URL", base_url)
    monkeypatch.setenv("NBREASON_MODEL", "scripted")
    monkeypatch.setenv("NBREASON_CONFIG", str(path.parent / "no-such-config.toml"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def widget_models(nb) -> list[dict]:
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return list(state.values())


def with_class(models, css: str) -> list[dict]:
    return [m["state"] for m in models if css in m["state"].get("_dom_classes", ())]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_and_saves_steps_answer_and_images(path, monkeypatch):
    with ScriptedServer([reply_for] * 10) as server:
        nb = run_notebook(path, server.base_url, monkeypatch)
    models = widget_models(nb)
    code, answer = next(v for k, v in SCRIPTS.items() if k in path.read_text())

    (steps,) = with_class(models, "nbreason-steps")
    assert len(steps["children"]) == 2
    assert steps["titles"][1].startswith("Step 2 · final")
    (final,) = with_class(models, "nbreason-final")
    assert f"<p>{answer}</p>" in final["value"] and "answered" in final["value"]
    (stop,) = with_class(models, "nbreason-stop")
    assert stop["disabled"] is True

    outputs = [o for m in with_class(models, "nbreason-outputs") for o in m.get("outputs", [])]
    stdout = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert answer in stdout
    if "plot" in code:
        assert any("image/png" in o.get("data", {}) for o in outputs)

    # The run's cell keeps a static copy for viewers without widgets.
    reason_cell = next(c for c in nb.cells if c.source.startswith("%%reason"))
    bundles = [o["data"] for o in reason_cell.outputs if o["output_type"] == "display_data"]
    assert any("application/vnd.jupyter.widget-view+json" in b and answer in b.get("text/html", "")
               for b in bundles)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]


def test_math_example_is_verified_by_the_notebooks_own_check(monkeypatch):
    path = ROOT / "examples" / "math_check.ipynb"
    with ScriptedServer([reply_for] * 10) as server:
        nb = run_notebook(path, server.base_url, monkeypatch)
    last = nb.cells[-1].outputs[0]["data"]["text/plain"]
    assert last == "('40', True)"
    (final,) = with_class(widget_models(nb), "nbreason-final")
    assert "verified" in final["value"] and "verification failed" not in final["value"]
