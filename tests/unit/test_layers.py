"""The import graph shows the design (shared/design.md): arrows point down, nothing imports what
stands above it, lazily or not, and no modules import each other round in a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "devenv"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """devenv modules ``name`` imports at run time (module level or inside functions; what only
    type checkers read is left out)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    def walk(node: ast.AST) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.startswith("devenv"):
                        yield from filter(None, [resolve(a.name)])
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*up, base] if base else up)
                if base.startswith("devenv"):
                    for a in child.names:
                        # `from devenv.db import plan` imports the module devenv.db.plan.
                        target = resolve(f"{base}.{a.name}")
                        if target is not None:
                            yield target
            yield from walk(child)

    for target in walk(ast.parse(path.read_text(), str(path))):
        if target != name:
            yield target


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imports(name, path, known)) for name, path in known.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert cycles(graph()) == []


#: room -> the rooms it must not import (design.md: cli -> use cases (up, doctor, testing,
#: contracts, ui) -> db, envfile, stack -> config, services, errors). db and stack are
#: neighbours that do not lean on each other: the use cases join them.
USE_CASES = (
    "devenv.cli",
    "devenv.up",
    "devenv.doctor",
    "devenv.testing",
    "devenv.contracts",
    "devenv.ui",
)
#: The servers devenv runs inside containers (the Fireworks mock, the Upstash REST adapter).
SERVERS = ("devenv.mocks", "devenv.upstash_rest")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "devenv.stack": (*USE_CASES, *SERVERS, "devenv.db"),
    "devenv.db": (*USE_CASES, *SERVERS, "devenv.stack"),
    "devenv.envfile": (*USE_CASES, *SERVERS, "devenv.stack", "devenv.db"),
    "devenv.config": (*USE_CASES, *SERVERS, "devenv.stack", "devenv.db", "devenv.envfile"),
    "devenv.services": (*USE_CASES, *SERVERS, "devenv.stack", "devenv.db", "devenv.config"),
}


def _within(name: str, room: str) -> bool:
    return name == room or name.startswith(room + ".")


def test_lower_rooms_import_nothing_above_them() -> None:
    bad = [
        f"{name} -> {target}"
        for name, targets in sorted(graph().items())
        for room, forbidden in FORBIDDEN.items()
        if _within(name, room)
        for target in sorted(targets)
        if any(_within(target, f) for f in forbidden)
    ]
    assert bad == []
