"""Layers import downward only (STYLE.md, convention 1), checked on the source with ast.

core <- plans <- engine: none of them (nor datafiles) may import sqlalchemy, jinja2,
weasyprint or click; core imports nothing from plans or engine; plans nothing from engine.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "compengine"
FORBIDDEN_EVERYWHERE = {"sqlalchemy", "jinja2", "weasyprint", "click", "alembic", "psycopg"}
APP_LAYERS = {"compengine.ledger", "compengine.statements", "compengine.cli", "compengine.adapters", "compengine.generate",
              "compengine.web", "compengine.finance"}
RULES = {
    # package: compengine packages it must not import (besides FORBIDDEN_EVERYWHERE and the app layers)
    "core": {"compengine.plans", "compengine.engine", "compengine.datafiles"},
    "plans": {"compengine.engine", "compengine.datafiles"},
    "engine": {"compengine.datafiles"},
    "datafiles": set(),
}


def modules(layer: str) -> list[Path]:
    path = PKG / layer
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    return [PKG / f"{layer}.py"]


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module imported anywhere in the file (also inside functions)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]  # the package the module is in
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: list[str]) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{alias.name}" for alias in node.names)
    return out


def _hits(names: set[str], banned: set[str]) -> set[str]:
    return {n for n in names for b in banned if n == b or n.startswith(b + ".")}


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_only_downward(layer):
    files = modules(layer)
    assert files, f"no modules found for {layer}"
    banned = FORBIDDEN_EVERYWHERE | APP_LAYERS | RULES[layer]
    bad = {module_name(f): sorted(_hits(imports_of(f), banned)) for f in files}
    assert {m: b for m, b in bad.items() if b} == {}


def test_the_checker_sees_imports():
    engine = imports_of(PKG / "engine" / "pipeline.py")
    assert "compengine.plans.model" in engine and "compengine.core.money" in engine
    # relative imports are resolved, imports inside functions are seen
    names = imports_in("from .money import D\nfrom ..plans import model\ndef f():\n    import click\n", ["compengine", "core"])
    assert {"compengine.core.money", "compengine.plans", "click"} <= names
    assert _hits(names, FORBIDDEN_EVERYWHERE | RULES["core"]) == {"click", "compengine.plans", "compengine.plans.model"}


def test_importing_the_pure_layers_loads_no_app_library():
    """The same rule at run time, transitive imports included (a fresh interpreter)."""
    code = (
        "import sys\n"
        "import compengine.core, compengine.plans, compengine.engine, compengine.datafiles\n"
        f"banned = {sorted(FORBIDDEN_EVERYWHERE)!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PKG.parent, check=True)
    assert out.stdout.strip() == "[]"


CLI_MAY_IMPORT = {"compengine.api", "compengine.cli", "compengine.core", "compengine"}


def test_the_cli_calls_only_the_api():
    """The CLI is a thin wrapper over compengine.api (issue 12): it imports nothing else of the
    package but core's errors, money and periods (and its own modules)."""
    bad = {}
    for f in modules("cli"):
        names = {n for n in imports_of(f) if n.startswith("compengine")}
        outside = sorted(n for n in names if not any(n == m or n.startswith(m + ".") for m in CLI_MAY_IMPORT - {"compengine"})
                         and n not in ("compengine", "compengine.__version__"))
        if outside:
            bad[module_name(f)] = outside
    assert bad == {}


def ledger_import_graph() -> dict[str, set[str]]:
    """compengine.ledger's modules and the ledger modules each imports (anywhere in the file, also inside functions)."""
    files = [f for f in modules("ledger") if f.name != "__init__.py" and "migrations" not in f.parts]
    names = {module_name(f) for f in files}
    graph = {}
    for f in files:
        found = imports_of(f)
        graph[module_name(f)] = {n for n in names if n in found} - {module_name(f)}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a path that ends where it starts, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_ledger_modules_import_without_cycles():
    """Inside compengine.ledger imports form no cycle, counting imports inside functions too
    (a cycle hidden in a function is still a cycle), so every import can be at the top."""
    graph = ledger_import_graph()
    assert {"compengine.ledger.close", "compengine.ledger.codec", "compengine.ledger.workers"} <= set(graph)
    assert "compengine.ledger.codec" in graph["compengine.ledger.workers"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_ledger_modules_import_at_the_top():
    """No ledger module imports another ledger module inside a function (nothing left to hide a cycle)."""
    bad = []
    for f in modules("ledger"):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in top and (node.module or "").startswith("compengine.ledger"):
                bad.append(f"{module_name(f)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and id(node) not in top and node.level:
                bad.append(f"{module_name(f)}:{node.lineno}")
    assert bad == []
