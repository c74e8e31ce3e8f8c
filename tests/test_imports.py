"""The import graph of ``reality/``: which way the arrows point, and no circles.

The graph is read from the source (the AST of every module), not from what
Python happens to import at run time, so it counts every import: at the
top of a module, inside a function, and under ``if TYPE_CHECKING:``. A
circle hidden in a function-local import is still a circle: it only moves
the failure from import time to the first call, and it means two modules
cannot be understood apart.

The rules (docs/DESIGN "The arrows"):

- no circles among the modules of ``reality/net``, ``reality/gateways``,
  ``reality/game``, ``reality/app.py`` and ``reality/cli.py`` (the verbs
  see the world through ``commands.WorldView``, a ``typing.Protocol``, and
  the world's contract with a session is ``things.Session``);
- ``reality.net`` imports nothing from ``reality.game``, ``reality.gateways``
  or ``reality.client``: it is a general engine;
- ``reality.game`` imports nothing from ``reality.net`` or
  ``reality.gateways``: the world never sees a socket.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reality"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``reality`` that ``name`` imports, wherever the import statement is."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                # ``from reality.net import error`` imports the module reality.net.error.
                submodule = f"{origin}.{alias.name}"
                found.add(submodule if submodule in modules else origin)
    # ``import reality.net.tcp`` names reality.net.tcp; keep the longest known prefix.
    edges: set[str] = set()
    for target in found:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def import_graph() -> dict[str, set[str]]:
    """Every module of ``reality`` and the modules of ``reality`` it imports."""
    modules = _modules()
    return {name: _imported(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        # Iterative, so a deep graph cannot hit the recursion limit.
        nonlocal counter
        work: list[tuple[str, Iterable[str]]] = []
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work.append((start, iter(sorted(graph.get(start, ())))))
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
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
    return sorted(found)


def _within(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _circles_touching(*prefixes: str) -> list[list[str]]:
    return [
        component
        for component in circles(import_graph())
        if any(_within(member, *prefixes) for member in component)
    ]


def _forbidden(source: str, *targets: str) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, imported in import_graph().items()
        if _within(name, source)
        for target in imported
        if _within(target, *targets)
    )


# -- the graph reader itself --------------------------------------------------------


def test_the_graph_counts_function_local_and_type_checking_imports(tmp_path, monkeypatch):
    """An import inside a function or under TYPE_CHECKING is an edge like any other."""
    package = tmp_path / "reality"
    (package / "net").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "net" / "__init__.py").write_text("")
    (package / "net" / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from reality.net.b import B\n"
    )
    (package / "net" / "b.py").write_text("def f():\n    from . import a\n    return a\n")
    (package / "net" / "c.py").write_text("import reality.net.a\nfrom .b import f\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PACKAGE", package)
    graph = import_graph()
    assert graph["reality.net.a"] == {"reality.net.b"}
    assert graph["reality.net.b"] == {"reality.net.a"}
    assert graph["reality.net.c"] == {"reality.net.a", "reality.net.b"}
    assert circles(graph) == [["reality.net.a", "reality.net.b"]]


# -- no circles ---------------------------------------------------------------------


def test_no_import_circles_in_the_engine():
    """No module of reality.net imports, however indirectly, one that imports it back."""
    assert _circles_touching("reality.net") == []


def test_no_import_circles_in_the_gateways():
    """No module of reality.gateways is part of an import circle."""
    assert _circles_touching("reality.gateways") == []


def test_no_import_circles_in_the_world():
    """No module of reality.game is part of an import circle (not even for a type hint)."""
    assert _circles_touching("reality.game") == []


def test_no_import_circles_through_the_app_and_the_command():
    """reality.app and reality.cli are part of no import circle."""
    assert _circles_touching("reality.app", "reality.cli") == []


# -- the arrows ---------------------------------------------------------------------


def test_the_engine_imports_nothing_of_the_world_the_gateways_or_the_client():
    """reality.net is a general engine: it knows nothing of what is built on it."""
    assert _forbidden("reality.net", "reality.game", "reality.gateways", "reality.client") == []


def test_the_world_imports_nothing_of_the_engine_or_the_gateways():
    """reality.game never sees a socket: time reaches it through a clock it is handed."""
    assert _forbidden("reality.game", "reality.net", "reality.gateways") == []
