"""What kmc reports on a stack written in a test: its errors, or the warnings of a build that passes."""

from __future__ import annotations

from pathlib import Path

from kmc import pipeline
from kmc.errors import StackInvalid


def diagnostics(tmp_path: Path, text: str) -> list[tuple[str, int, int, str, str, str]]:
    """(severity, line, column, JSON path, message, hint) of each problem kmc finds in `text`, saved as `tmp_path/stack.yaml`."""
    (tmp_path / "stack.yaml").write_text(text, encoding="utf-8")
    try:
        found = pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml").warnings
    except StackInvalid as error:
        found = error.diagnostics
    return [(d.severity, d.line, d.column, d.path, d.message, d.hint) for d in found]
