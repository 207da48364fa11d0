"""No import cycles between the package modules, not even ones held apart by imports inside functions
(CONVENTIONS: if two modules need each other, a third owns what they share); costmodels never imports
jaxdse, workloads imports neither."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workloads", "costmodels", "jaxdse")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its file (top level or inside functions)."""
    files = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            out |= {t for t in targets if t in files and t != name}
        graph[name] = out
    return graph


def _is_package_of(a: str, b: str) -> bool:
    return b.startswith(a + ".")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles among modules; a package's ``__init__`` re-exporting its own submodules is not one."""
    edges = {m: {t for t in ts if not _is_package_of(m, t) and not _is_package_of(t, m)} for m, ts in graph.items()}
    found, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                found.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    return found


def test_no_import_cycles():
    assert _cycles(_imports()) == []


def test_layering():
    graph = _imports()
    for m, ts in graph.items():
        if m.startswith("costmodels"):
            assert not any(t.startswith("jaxdse") for t in ts), (m, ts)
        if m.startswith("workloads"):
            assert not any(t.startswith(("jaxdse", "costmodels")) for t in ts), (m, ts)


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "p": {"p.x"}, "p.x": {"p"}}) == [["a", "b", "c", "a"]]
