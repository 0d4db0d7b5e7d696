"""The import direction of docs/architecture.md, checked on the AST of every module (imports under
``TYPE_CHECKING`` and inside functions count too).

- no module imports one of a higher layer;
- the client side (client, tui) never imports the server side (server, services, store, supervisor);
- the SDK imports only the SDK (it is copied alone onto game servers' PYTHONPATH);
- no import cycles among PlayHub modules.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

from tests.helpers import REPO

SRC = REPO / "src"

# Lowest first. A module's layer is that of its top-level package or module under playhub/.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"", "names", "workers", "settings", "packages", "templates", "sdk"}),
    ("wire", {"wire"}),
    ("protocol", {"protocol"}),
    ("store and supervisor", {"store", "supervisor"}),
    ("services", {"services"}),
    ("server", {"server"}),
    ("client", {"client"}),
    ("tui", {"tui"}),
    ("cli", {"cli", "__main__"}),
]
RANK = {part: rank for rank, (_, parts) in enumerate(LAYERS) for part in parts}
SERVER_SIDE = {"server", "services", "store", "supervisor"}
CLIENT_SIDE = {"client", "tui"}
# Cycles still being taken apart: package -> why. Keep this empty.
PENDING_CYCLES: dict[str, str] = {
    "playhub.tui": "screens import each other and the app; to be registered by name",
}


def _modules() -> dict[str, tuple[Path, bool]]:
    mods: dict[str, tuple[Path, bool]] = {}
    for path in sorted((SRC / "playhub").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        mods[".".join(parts)] = (path, is_pkg)
    return mods


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """PlayHub modules that ``name`` imports (``from pkg import sub`` counts as importing ``pkg.sub``)."""
    path, is_pkg = MODULES[name]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in MODULES else module)
    # Importing a module always imports its parent packages first: those edges are not choices.
    return {m for m in found if m in MODULES and m != name and not name.startswith(m + ".")}


GRAPH = {name: _imports(name) for name in MODULES}


def _area(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_area_has_a_layer() -> None:
    unknown = sorted({_area(m) for m in MODULES} - set(RANK))
    assert not unknown, (
        f"give these a layer in tests/test_architecture.py and docs/architecture.md: {unknown}"
    )


def test_no_module_imports_a_higher_layer() -> None:
    wrong = [
        f"{m} ({LAYERS[RANK[_area(m)]][0]}) imports {d} ({LAYERS[RANK[_area(d)]][0]})"
        for m, deps in GRAPH.items()
        for d in sorted(deps)
        if RANK.get(_area(d), 0) > RANK.get(_area(m), 0)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_client_side_never_imports_the_server_side() -> None:
    wrong = [
        f"{m} imports {d}"
        for m, deps in GRAPH.items()
        if _area(m) in CLIENT_SIDE
        for d in sorted(deps)
        if _area(d) in SERVER_SIDE
    ]
    assert not wrong, "\n".join(wrong)


def test_the_sdk_imports_only_the_sdk() -> None:
    wrong = [
        f"{m} imports {d}"
        for m, deps in GRAPH.items()
        if _area(m) == "sdk"
        for d in deps
        if _area(d) != "sdk"
    ]
    assert not wrong, "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = itertools.count()
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = next(counter)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = next(counter)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    cycles = [c for c in _cycles(GRAPH) if not all(any(m.startswith(p) for p in PENDING_CYCLES) for m in c)]
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)
