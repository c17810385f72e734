"""The import graph of agentgym: no module imports the command line, and no two modules import each other.

The graph is read from the source (``ast``), so a module that cannot be imported here (a missing
optional dependency) is still checked. Every import counts, at module level or inside a function
(a lazy import only hides a cycle), except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
from pathlib import Path

import agentgym


def modules() -> dict[str, Path]:
    """Every module of agentgym (``agentgym.envs.*`` and ``agentgym.rewards.*`` included) and its file."""
    found = {"agentgym": Path(agentgym.__file__)}
    # envs/ and rewards/ live at the top level of the checkout: walk them from their own paths.
    for package in ("agentgym", "agentgym.envs", "agentgym.rewards"):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, package
        found[package] = Path(spec.origin)
        for info in pkgutil.walk_packages(list(spec.submodule_search_locations), f"{package}."):
            path = Path(info.module_finder.path) / info.name.rpartition(".")[2]
            found[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return {name: path for name, path in found.items() if path.is_file()}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The agentgym modules ``name`` imports (``from pkg import module`` counts as importing ``pkg.module``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in known else source)
        stack.extend(ast.iter_child_nodes(node))
    return {module for module in found if module in known and module != name}


def graph() -> dict[str, set[str]]:
    """Module -> the agentgym modules it imports."""
    files = modules()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_walk_sees_every_part_of_the_package():
    names = set(modules())
    for expected in ("agentgym.core", "agentgym.cli", "agentgym.cli.score", "agentgym.scoring.scorer",
                     "agentgym.envs.deepsearch.env", "agentgym.envs.text2sql.env", "agentgym.rewards.base"):
        assert expected in names


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_only_the_command_line_imports_the_command_line():
    offenders = {
        name: sorted(target for target in targets if target == "agentgym.cli" or target.startswith("agentgym.cli."))
        for name, targets in graph().items()
        if name != "agentgym.cli" and not name.startswith("agentgym.cli.")
    }
    assert {name: found for name, found in offenders.items() if found} == {}
