"""The docs build cleanly, and their runnable examples (marked `<!-- test: run -->`) run."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.scripted_server import Reply, ScriptedServer

DOCS = Path(__file__).parents[1] / "docs"
BLOCK = re.compile(r"<!-- test: run -->\s*```python\n(.*?)```", re.S)
ORDER = ["loop.md", "trace-format.md", "sandboxes-local.md"]  # trace-format reads loop.md's trace


def test_docs_build_without_warnings(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=DOCS.parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_every_runnable_example_is_in_the_run_order():
    marked = sorted(p.name for p in DOCS.glob("*.md") if BLOCK.search(p.read_text()))
    assert marked == sorted(ORDER)


def arithmetic_model(body: dict):
    """A stand-in model for doc examples: computes the arithmetic in the question, then answers."""
    last = body["messages"][-1]["content"]
    if last.startswith("Output:"):
        value = last.split("\n")[1].strip()
        return Reply(f"FINAL ANSWER: {value}")
    question = body["messages"][1]["content"]
    expression = max(re.findall(r"[\d\s*+\-/()]{3,}", question), key=len).strip()
    return Reply(f"Compute it.\n```python\nprint({expression})\n```")


def run_block(code: str, namespace: dict) -> None:
    compiled = compile(code, "<docs>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)
    if result is not None:  # top-level await: a coroutine to finish
        import asyncio
        asyncio.run(result)


def test_doc_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with ScriptedServer([arithmetic_model] * 10) as server:
        for key in [k for k in os.environ if k.startswith(("NBREASON_", "OPENAI_"))]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("NBREASON_BASE_URL", server.base_url)
        monkeypatch.setenv("NBREASON_MODEL", "scripted")
        monkeypatch.setenv("NBREASON_API_KEY", "sk-docs")
        monkeypatch.setenv("NBREASON_PROTOCOL", "text")
        monkeypatch.setenv("NBREASON_CONFIG", str(tmp_path / "none.toml"))
        for name in ORDER:
            for code in BLOCK.findall((DOCS / name).read_text()):
                namespace: dict = {"__name__": "__docs__"}
                try:
                    run_block(code, namespace)
                except Exception as exc:
                    pytest.fail(f"docs/{name} example failed: {type(exc).__name__}: {exc}\n{code}")
        assert (tmp_path / "run.jsonl").exists()
        assert str(2**64 - 1) in (tmp_path / "run.jsonl").read_text()
