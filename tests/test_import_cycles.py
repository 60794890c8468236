"""No import circles, and imports that follow the flow (lower packages never import higher
ones; routers import no router), counting imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules(package: str) -> dict[str, Path]:
    out = {}
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of `known` that the file imports (`from pkg import mod` names a module too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m in known and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                out.append(sorted([v, *group]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


@pytest.mark.parametrize("package", ["citygis", "loaders"])
def test_no_import_cycles(package):
    mods = modules(package)
    # A package's __init__ re-exports its modules, and `from pkg import module` runs that
    # __init__ first: an edge from a module up to its own packages is no circle.
    graph = {
        name: {m for m in imports(path, name, set(mods)) if not name.startswith(m + ".")}
        for name, path in mods.items()
    }
    assert cycles(graph) == []


def imported_names(package: str) -> dict[str, set[str]]:
    """Per module of `package`, every module name it imports (inside functions too)."""
    everything: set[str] = set()
    for top in ("citygis", "layers", "loaders", "spatial_api", "tiles"):
        everything |= set(modules(top))
    return {name: imports(path, name, everything) for name, path in modules(package).items()}


# What each package may not import. From the bottom: layers/ (the catalog and the kernel
# every reader shares), loaders/, tiles/, spatial_api/ (which serves the tiles), and the
# citygis command, whose settings and database helpers everything may use.
FORBIDDEN = {
    "layers": ("loaders", "tiles", "spatial_api", "citygis"),
    "loaders": ("tiles", "spatial_api"),
    "tiles": ("spatial_api",),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_follow_the_flow(package):
    wrong = {
        name: sorted(m for m in found if m.split(".")[0] in FORBIDDEN[package])
        for name, found in imported_names(package).items()
    }
    assert {name: found for name, found in wrong.items() if found} == {}


def test_routers_and_helpers_import_no_router():
    wrong = {
        name: sorted(m for m in found if m.startswith("spatial_api.routers."))
        for name, found in imported_names("spatial_api").items()
        if name != "spatial_api.app"
    }  # the app includes them, nothing else may
    assert {name: found for name, found in wrong.items() if found} == {}
