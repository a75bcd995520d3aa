"""The layer rules of the design card, checked on the source: imports run
web -> processes -> engine, never back; no Flask below web/; SpiffWorkflow task states and
BPMN reading of deployed processes stay in the engine (its read model), not in web/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts and package != "engine":
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = names
    return out


@pytest.mark.parametrize(("package", "forbidden"), [
    ("engine", {"processes", "web", "flask", "flask_babel", "marshmallow"}),
    ("processes", {"web", "flask", "flask_babel", "marshmallow"}),
])
def test_imports_never_run_back(package, forbidden):
    bad = {f: sorted(names & forbidden) for f, names in _imports(package).items()
           if names & forbidden}
    assert bad == {}


def test_web_does_not_reach_into_spiffworkflow():
    """Task states, workflow objects and the deployed BPMN are the engine's (read model)."""
    bad = sorted(f for f, names in _imports("web").items() if "SpiffWorkflow" in names)
    assert bad == []


def test_the_checks_see_real_imports():
    """The walker finds what is there (else the tests above could not fail)."""
    engine_imports = _imports("engine")
    assert "SpiffWorkflow" in engine_imports["engine/read_model.py"]
    assert "flask" in _imports("web")["web/app.py"]
    assert "engine" in _imports("processes")["processes/consent.py"]
