"""The layout keeps its promises (docs/architecture.md): who may import whom, no import cycle,
one idea per module.

Every import counts, also those inside functions (a deferred import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = {
    "claw_common": ROOT / "layers" / "common" / "claw_common",
    "claw_ai": ROOT / "layers" / "ai" / "claw_ai",
    **{p.name: p for p in sorted((ROOT / "functions").glob("*/*_app"))},
}
MAX_MODULE_LINES = 450


def _module_name(path: Path) -> str:
    for package, folder in PACKAGE_DIRS.items():
        if path.is_relative_to(folder):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise ValueError(path)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for folder in PACKAGE_DIRS.values() for p in folder.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> set[str]:
    """Project modules ``path`` imports (the longest known module name of each import)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, known) - {name} for name, path in modules.items()}


def test_no_function_imports_another_and_the_core_layer_never_imports_the_ai_layer() -> None:
    offenders = []
    for module, imported in _graph().items():
        top = module.split(".")[0]
        for target in imported:
            target_top = target.split(".")[0]
            if target_top.endswith("_app") and target_top != top:
                offenders.append(f"{module} -> {target}")
            if top == "claw_common" and target_top == "claw_ai":
                offenders.append(f"{module} -> {target}")
            if top.startswith("claw_") and target_top.endswith("_app"):
                offenders.append(f"{module} -> {target}")
    assert offenders == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_there_is_no_import_cycle() -> None:
    # A package's __init__ importing its own modules is not a cycle worth the name; none do today.
    assert _cycles(_graph()) == []


# Being split now; this list only shrinks.
PENDING_SPLIT = {
    "claw_common.ratelimit.limiter",
}


def test_no_module_holds_more_than_one_idea_by_size() -> None:
    too_long = {name for name, path in _modules().items() if len(path.read_text().splitlines()) > MAX_MODULE_LINES}
    assert too_long <= PENDING_SPLIT


def test_no_test_uses_motos_in_process_mock() -> None:
    # The session's platform runs moto's server in this process, on moto's global backends:
    # leaving a ``mock_aws`` block resets them, and with them the platform's queues and keys.
    needle = "mock" + "_aws("
    users = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if needle in path.read_text(encoding="utf-8")
    ]
    assert users == []
