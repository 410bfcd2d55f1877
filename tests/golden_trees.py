"""Compare what kmc builds in memory with a committed directory tree."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

REFRESH = "scripts/refresh-golden (then review `git diff`)"


def read_tree(root: Path) -> dict[str, bytes]:
    """The compiled files under `root`; the build lock (.kmc-lock.json) is not compiled output."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file() and path.name != ".kmc-lock.json"}


def flatten(trees: Mapping[str, Mapping[str, bytes]]) -> dict[str, bytes]:
    return {f"{subtree}/{name}": content for subtree, files in trees.items() for name, content in files.items()}


def tree_diff(expected: Mapping[str, bytes], actual: Mapping[str, bytes], limit: int = 120) -> str:
    """A unified diff of two trees, empty when they are equal."""
    lines: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        old = expected.get(name, b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = actual.get(name, b"").decode("utf-8", "replace").splitlines(keepends=True)
        if old != new or (name in expected) != (name in actual):
            label_old = name if name in expected else "/dev/null"
            label_new = name if name in actual else "/dev/null"
            lines += difflib.unified_diff(old, new, f"expected/{label_old}", f"built/{label_new}")
            if not old and not new:
                lines.append(f"{name}: {'missing' if name not in actual else 'unexpected'} (empty file)\n")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... {len(lines) - limit} more diff lines\n"]
    return "".join(lines)
