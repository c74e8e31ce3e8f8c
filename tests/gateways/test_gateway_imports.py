"""No import circle among the gateways, ``reality.app`` and ``reality.cli``.

The graph is read from the source (every module's whole AST), so it counts
what running the code would not always show: imports inside functions and
under ``if TYPE_CHECKING:``. Importing ``a.b.c`` also runs ``a/__init__``
and ``a/b/__init__``: those count too, except from inside the package
itself (whose ``__init__`` is already running by then).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reality"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _in_scope() -> dict[str, Path]:
    """The modules under test: every gateway, the app, the command and the settings."""
    paths = sorted((PACKAGE / "gateways").rglob("*.py"))
    paths += [PACKAGE / name for name in ("app.py", "cli.py", "settings.py")]
    return {_module_name(path): path for path in paths if path.exists()}


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The known modules ``module`` imports anywhere in its file, with their parents."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.add(prefix)
            # ``from pkg import sub`` imports the module pkg.sub.
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    edges: set[str] = set()
    own_packages = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    if is_package:
        own_packages.add(module)
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            target = ".".join(parts[:i])
            if target not in known or target == module:
                continue
            if i < len(parts) and target in own_packages:
                continue  # a parent package of ours: already being imported
            edges.add(target)
    return edges


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules in scope it imports."""
    modules = _in_scope()
    known = set(modules)
    return {name: _imported(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path (first module repeated at the end), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for root in sorted(graph):
        if colour[root] != WHITE:
            continue
        path = [root]
        stack = [iter(sorted(graph[root]))]
        colour[root] = GREY
        while stack:
            for target in stack[-1]:
                if colour.get(target, BLACK) == GREY:
                    return path[path.index(target):] + [target]
                if colour.get(target) == WHITE:
                    colour[target] = GREY
                    path.append(target)
                    stack.append(iter(sorted(graph[target])))
                    break
            else:
                stack.pop()
                colour[path.pop()] = BLACK
    return None


def test_the_graph_sees_every_kind_of_import():
    """The walk finds module-level, function-local and TYPE_CHECKING imports, and
    the parent packages an import runs."""
    graph = import_graph()
    assert "reality.gateways.workers" in graph["reality.gateways.auth"]  # module level
    assert "reality.gateways.markdown" in graph["reality.gateways.worker"]  # in a function
    assert "reality.app" in graph["reality.cli"]  # in a function
    assert "reality.gateways.web" in graph["reality.app"]


def test_find_cycle_reports_a_circle_through_a_function_local_import():
    """The checker itself: web -> workers -> worker -> web (the circle this replaced) is found."""
    graph = {
        "reality.gateways.web": {"reality.gateways.workers"},
        "reality.gateways.workers": {"reality.gateways.worker"},
        "reality.gateways.worker": {"reality.gateways.web"},
        "reality.app": {"reality.gateways.web"},
    }
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {
        "reality.gateways.web", "reality.gateways.workers", "reality.gateways.worker",
    }
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_among_gateways_app_and_cli():
    """Following every import (function-local and TYPE_CHECKING ones too) from any
    gateway, reality.app or reality.cli never leads back to where it started."""
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("module", ["reality.gateways.markdown", "reality.gateways.worldmap",
                                    "reality.gateways.templating"])
def test_the_worker_renders_with_modules_that_do_not_import_the_website(module):
    """What the worker process renders with (Markdown, the map, the templates) imports
    neither the website nor the worker pool."""
    graph = import_graph()
    reachable, todo = set(), [module]
    while todo:
        for target in graph[todo.pop()]:
            if target not in reachable:
                reachable.add(target)
                todo.append(target)
    assert not {m for m in reachable if m.startswith("reality.gateways.web")}
    assert "reality.gateways.workers" not in reachable
