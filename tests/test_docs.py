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


# -- the flags in the docs are the flags of the table ----------------------------------------------

FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-o)(?![\w-])")


def _surface_flags(surface: str) -> set[str]:
    from nbreason import flags

    own = {"run": {"--with", "--continue", "--context", "--json", "--quiet"},
           "magic": {"--with", "--check", "--continue", "--return", "-o", "--output", "--quiet"},
           "bench": {"--dataset", "--limit", "--skip", "--strategies", "--out", "--threads", "--summarize-only"}}
    return flags.option_strings(surface) | own[surface] | {"--help"}


def test_the_configuration_reference_lists_the_table_row_by_row():
    from nbreason import flags

    doc = (DOCS / "configuration.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| `--")]
    expected = [f"| {', '.join(f'`{o}`' for o in f.option_strings)} | `{f.field}` | "
                + " | ".join("✓" if s in f.surfaces else "" for s in flags.SURFACES) + " |" for f in flags.FLAGS]
    assert rows == expected


def test_the_configuration_reference_names_every_setting_without_a_flag():
    from nbreason import flags
    from nbreason.config import field_help

    doc = " ".join((DOCS / "configuration.md").read_text().split())
    sentence = doc[doc.index("The settings without a flag"):].split("come from", 1)[0]
    named = set(re.findall(r"`(\w+)`", sentence))
    assert named == set(field_help()) - {f.field for f in flags.FLAGS}


def test_the_notebook_guide_lists_every_magic_option_and_no_other():
    doc = (DOCS / "notebook.md").read_text()
    options = doc[doc.index("## Options"):doc.index("## Defaults")]
    settings_line = next(line for line in options.splitlines() if line.startswith("`--model`"))
    from nbreason import flags

    assert set(FLAG.findall(settings_line)) == flags.option_strings(flags.MAGIC)
    assert set(FLAG.findall(doc)) <= _surface_flags("magic")


def _commands(text: str):
    """Code in a Markdown file: the lines of fenced blocks, and inline `code` elsewhere."""
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            yield line.split("#", 1)[0] if not line.startswith("#") else ""
        else:
            yield from re.findall(r"`([^`]+)`", line)


def test_flags_in_the_readme_and_docs_exist_on_the_command_they_are_given_to():
    files = [DOCS.parent / "README.md", *sorted(DOCS.glob("*.md"))]
    surfaces = {"nbreason run": "run", "%%reason": "magic", "nbreason bench": "bench"}
    checked = 0
    for path in files:
        for code in _commands(path.read_text()):
            for command, surface in surfaces.items():
                if command in code:
                    used = set(FLAG.findall(code.split(command, 1)[1]))
                    assert used <= _surface_flags(surface), f"{path.name}: {code}"
                    checked += len(used)
    assert checked > 10  # the README and guides do show flags
