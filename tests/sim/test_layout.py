"""Layout of ``exchanges/sim``: the subpackages mirror the venues (engine/, gate/,
mexc/, recording/) and no module imports another that (transitively) imports it
back -- also counting imports inside functions, so no cycle is hidden (imports
under ``if TYPE_CHECKING:`` are annotations only and do not count)."""

from __future__ import annotations

import ast
from pathlib import Path

import exchanges.sim

ROOT = Path(exchanges.sim.__file__).resolve().parent
PACKAGES = {"engine", "gate", "mexc", "recording", "scenarios"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["exchanges", "sim", *parts])


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for guard in ast.walk(tree) if isinstance(guard, ast.If)
                       and isinstance(guard.test, ast.Name) and guard.test.id == "TYPE_CHECKING"
                       for n in ast.walk(guard)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[2] in PACKAGES else module


def test_subpackages_exist_and_no_flat_prefix_modules_remain():
    assert {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} == PACKAGES
    flat = [p.name for p in ROOT.glob("*.py") if p.name.startswith(("engine_", "gate_", "mexc_"))]
    assert flat == []


def test_no_import_cycles_between_modules():
    graph = _graph()
    assert len(graph) > 30
    assert _cycle(graph) is None


def test_no_import_cycles_between_subpackages_and_engine_imports_no_venue():
    packages: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        packages.setdefault(_package(module), set()).update(_package(t) for t in targets if _package(t) != _package(module))
    assert _cycle(packages) is None
    assert not packages["engine"] & {"gate", "mexc", "recording"}


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
