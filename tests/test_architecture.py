"""The package's arrows point one way (trace, hw -> sim -> report -> sweep -> cli), checked on the source: no module
imports from a layer that comes after it, the simulator never imports torch, and report shows results without
running simulations or reading sweep stores."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dslsim"
#: Layers in pipeline order; a module may import from its own layer and the ones before it.
ORDER = ["errors", "fileio", "units", "yamldoc", "shipped", "trace", "hw", "sim", "report", "sweep", "model", "cli"]


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dslsim."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(("dslsim.", "torch")))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            found.add("torch")
    return found


def layer(module: str) -> str:
    return module.split(".")[1]


def test_no_module_imports_a_later_layer():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("__init__.py", "__main__.py"):
            continue
        own = rel.parts[0].removesuffix(".py")
        for mod in imports(path):
            if mod == "torch" or layer(mod) not in ORDER or own not in ORDER:
                continue
            if ORDER.index(layer(mod)) > ORDER.index(own):
                wrong.append(f"{rel} imports {mod}")
    assert not wrong, wrong


def test_simulator_and_reports_never_import_torch():
    for part in ("trace", "hw", "sim", "report", "sweep"):
        for path in (PACKAGE / part).rglob("*.py"):
            assert "torch" not in imports(path), path


def test_report_shows_results_without_running_or_reading_stores():
    for path in (PACKAGE / "report").rglob("*.py"):
        assert not {m for m in imports(path) if m.startswith(("dslsim.sim.run", "dslsim.sim.engine",
                                                               "dslsim.sim.batch", "dslsim.sweep"))}, path
