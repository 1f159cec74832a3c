"""Every third-party module nbreason imports is a dependency it declares."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Imported only where they are needed, and installed by the extras that need them: the embedded
# model's runtime, and the readers of Parquet and Excel files passed with `nbreason run --with`.
OPTIONAL = {"xllamacpp": "local", "pyarrow": "data", "openpyxl": "data", "sklearn": "bench", "vega_datasets": "bench"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def imported_modules() -> dict[str, set[str]]:
    """Top-level modules imported anywhere in nbreason/ (inside functions too), by the files importing them."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "nbreason").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def third_party() -> dict[str, set[str]]:
    return {m: files for m, files in imported_modules().items()
            if m not in sys.stdlib_module_names and m != "nbreason" and m != "__future__"}


def test_the_walk_sees_imports_inside_functions_too():
    modules = imported_modules()
    assert "nbformat" in modules and "rich" in modules and "json" in modules
    assert "xllamacpp" in third_party() and "os" not in third_party()


def test_every_third_party_import_maps_to_a_declared_distribution():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    extras = {extra: {_name(r) for r in reqs} for extra, reqs in project["optional-dependencies"].items()}
    distributions = metadata.packages_distributions()
    undeclared = {}
    for module, files in sorted(third_party().items()):
        names = {_name(d) for d in distributions.get(module, [])}
        assert names, f"{module} (imported by {', '.join(sorted(files))}) is not installed here"
        if names & declared:
            continue
        if module in OPTIONAL and names & extras[OPTIONAL[module]]:
            continue
        undeclared[module] = sorted(names)
    assert undeclared == {}, f"declare these in pyproject.toml [project] dependencies: {undeclared}"
