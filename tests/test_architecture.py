"""The import rules of docs/ARCHITECTURE.md, enforced: no import circle, and no layer imports one above it.

Imports inside functions count: a lazy import is still a dependency a reader has to follow. The rules are checked on
the source (an AST walk), so nothing of the package runs here; the last two tests show the check fails on an
injected upward import and an injected circle.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "trlrecipes"

# The lowest layer: what everything may use. Each imports only modules of this set.
BASE = {"errors", "values", "files", "paths", "hardware", "models", "console", "_compat", "__init__"}
# area -> the areas it may import (besides itself and BASE). An area is a top-level module or a subpackage.
ALLOWED = {
    "data": set(),
    "tasks": {"data"},  # a task's prompts are data: its judges may read the message rules of data/
    # monitor/ reads which checkpoint is good and the run's records, nothing else of run/
    "monitor": {"run.folder", "run.record"},
    # run/ may read the embedded demo data's paths (demo/__init__), never what the demo prints (demo.showcase)
    "run": {"data", "tasks", "monitor", "demo.__init__"},
    "tools": {"data", "tasks", "monitor", "run"},
    "demo": {"data", "tasks", "monitor", "run", "tools"},
    "api": {"data", "tasks", "monitor", "run", "tools", "demo"},
    "cli": {"data", "tasks", "monitor", "run", "tools", "demo", "api"},
    # the tests' helpers (tiny model, fake run folders) build on anything; nothing of the package imports them
    "testing": {"data", "tasks", "monitor", "run", "tools"},
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts)  # "run.lifecycle", "tools.eval.pairs", "data.__init__", "cli"


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package modules it imports (relative names under `root`)."""
    modules = {module_name(path, root): path for path in root.rglob("*.py")}

    def resolve(name: str) -> str | None:
        name = name.removeprefix("trlrecipes").lstrip(".")
        while name:
            if name in modules:
                return name
            if f"{name}.__init__" in modules:
                return f"{name}.__init__"
            name = name.rpartition(".")[0]
        return None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{module}: relative import; write the absolute trlrecipes.* name")
            for name in names:
                if name == "trlrecipes" or name.startswith("trlrecipes."):
                    target = resolve(name)
                    if target and target != module and target != "__init__":
                        edges.add(target)
        graph[module] = edges
    return graph


def area(module: str) -> str:
    head = module.split(".")[0]
    return "base" if head in BASE else head


def allowed(source: str, target: str) -> bool:
    a, b = area(source), area(target)
    if b == "base" or a == b:
        return True
    if a == "base":
        return False
    permitted = ALLOWED[a]
    return b in permitted or target in permitted or target.rpartition(".")[0] + ".__init__" in permitted


def violations(graph: dict[str, set[str]]) -> list[str]:
    broken = [
        f"{source} imports testing (test helpers only)"
        for source, targets in graph.items()
        if "testing" in targets and area(source) != "testing"
    ]
    broken += [
        f"{source} imports {target} ({area(source)} may not import {area(target)})"
        for source, targets in graph.items()
        for target in sorted(targets)
        if not allowed(source, target)
    ]
    return broken + [f"import circle: {' -> '.join(circle)}" for circle in circles(graph)]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_every_area_is_known():
    unknown = {area(module) for module in import_graph(PACKAGE)} - set(ALLOWED) - {"base"}
    assert not unknown, f"add these areas to ALLOWED (and docs/ARCHITECTURE.md): {unknown}"


def test_no_upward_import_and_no_circle():
    assert violations(import_graph(PACKAGE)) == []


def _copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "trlrecipes"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("*.jsonl", "*.pyc", "__pycache__", "_recipes"))
    return root


def test_an_injected_upward_import_is_caught(tmp_path):
    root = _copy_package(tmp_path)
    common = root / "data" / "common.py"
    late = "\n\ndef _late():\n    from trlrecipes.tools.eval.paired import mcnemar_exact\n"
    common.write_text(common.read_text() + late)
    added = set(violations(import_graph(root))) - set(violations(import_graph(PACKAGE)))
    assert added == {"data.common imports tools.eval.paired (data may not import tools)"}


def test_an_injected_circle_is_caught(tmp_path):
    root = _copy_package(tmp_path)
    record = root / "run" / "record.py"
    record.write_text(record.read_text() + "\n\ndef _late():\n    from trlrecipes.run.folder import checkpoints\n")
    added = set(violations(import_graph(root))) - set(violations(import_graph(PACKAGE)))
    assert added == {"import circle: run.folder -> run.record"}
