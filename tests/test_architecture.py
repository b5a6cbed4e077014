"""The package's arrows point one way (trace, hw -> cost -> sim -> calibration -> report -> sweep -> cli), checked on the source: no module
imports from a layer that comes after it, the simulator never imports torch, and report shows results without
running simulations or reading sweep stores."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dslsim"
#: Layers in pipeline order; a module may import from its own layer and the ones before it.
ORDER = ["errors", "fileio", "units", "yamldoc", "yamlschema", "shipped", "trace", "hw", "cost", "sim", "calibration",
         "report", "sweep", "model", "cli"]


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
    for part in ("trace", "hw", "cost", "sim", "calibration", "report", "sweep"):
        for path in (PACKAGE / part).rglob("*.py"):
            assert "torch" not in imports(path), path


def test_report_shows_results_without_running_or_reading_stores():
    for path in (PACKAGE / "report").rglob("*.py"):
        assert not {m for m in imports(path) if m.startswith(("dslsim.sim.run", "dslsim.sim.engine",
                                                               "dslsim.sweep"))}, path


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The dslsim modules ``path`` imports when it runs, at module level or inside functions (imports under
    ``if TYPE_CHECKING:`` never run). ``from a import b`` counts as importing ``a.b`` when that is a module."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in modules and m != me}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search, three colours)."""
    colour = dict.fromkeys(graph, 0)   # 0 unseen, 1 on the current path, 2 done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        colour[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if colour[w] == 1:
                return path[path.index(w):] + [w]
            if colour[w] == 0 and (cycle := visit(w)):
                return cycle
        path.pop()
        colour[v] = 2
        return None

    for v in sorted(graph):
        if colour[v] == 0 and (cycle := visit(v)):
            return cycle
    return None


def test_find_cycle_names_the_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_has_no_cycle():
    """No module of dslsim imports, directly or through others, a module that imports it back. A package's
    ``__init__`` counts as the module its name imports; importing ``a.b.c`` is an edge to ``a.b.c`` alone (its
    parent packages are already being initialised, so they do not close a cycle)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {m: runtime_imports(p, set(paths)) for m, p in paths.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_device_description_knows_no_workload():
    """hw describes a device and nothing else: the cost model (cost) multiplies it by a trace's op counts."""
    for path in (PACKAGE / "hw").rglob("*.py"):
        assert not {m for m in imports(path) if layer(m) in ("trace", "cost", "sim")}, path
