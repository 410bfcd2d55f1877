"""The tree shows the pipeline: each stage is a package that imports only the stages below it.

Every import of a kmc module counts, a lazy one inside a function as much as one at the top: a
lazy import still ties the modules together, it only moves the cost. So the graph is read from
the source (ast), not from what a run happens to import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "compiler"

# Bottom to top. A module may import its own layer and those before it, never one after it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("kmc", "kmc.record", "kmc.errors", "kmc.resources", "kmc.schema_refs", "kmc.ir", "kmc.platforms", "kmc.model"),
    ("kmc.read",),
    ("kmc.text",),
    ("kmc.tls",),
    ("kmc.components",),
    ("kmc.check",),
    ("kmc.emitters",),
    ("kmc.output",),
    ("kmc.pipeline",),
    ("kmc.commands", "kmc.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("kmc", *parts))


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """The kmc modules `name` imports anywhere in its source (`from kmc.x import y` counts kmc.x.y
    when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(), str(MODULES[name]))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "kmc")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kmc" and not node.level:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    found.discard(name)
    return found


GRAPH = {name: imports(name) for name in MODULES}


def layer(name: str) -> int:
    """The index of the layer holding `name` (the longest prefix listed wins)."""
    best, depth = -1, -1
    for index, members in enumerate(LAYERS):
        for member in members:
            if (name == member or name.startswith(member + ".")) and member.count(".") > depth:
                best, depth = index, member.count(".")
    return best


def package(name: str) -> str:
    """The package a module belongs to (a top-level module is its own)."""
    path = MODULES[name]
    if path.name != "__init__.py" and path.parent != PACKAGE:
        return name.rpartition(".")[0]
    return name


def test_every_module_has_a_layer() -> None:
    assert [name for name in MODULES if layer(name) < 0] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_only_downward(name: str) -> None:
    upward = sorted(target for target in GRAPH[name] if layer(target) > layer(name))
    assert upward == [], f"{name} (layer {layer(name)}) imports from a higher layer: {upward}"


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of `graph` as a path that returns to its start, or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_no_module_imports_itself_through_others() -> None:
    assert _cycle(GRAPH) == []


def test_no_package_imports_itself_through_another() -> None:
    packages: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        packages.setdefault(package(name), set()).update(package(target) for target in targets if package(target) != package(name))
    assert _cycle(packages) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
