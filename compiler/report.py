"""Diagnostics for people (gcc style, with the source line and a caret) and for programs (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from kmc.errors import Diagnostic


def text(diagnostics: Sequence[Diagnostic]) -> str:
    blocks = []
    for d in diagnostics:
        lines = [f"{d.file}:{d.line}:{d.column}: {d.severity}: {d.path}: {d.message}"]
        if d.source_line:
            gutter = f"{d.line:>5} | "
            lines.append(gutter + d.source_line.replace("\t", " "))
            lines.append(" " * (len(gutter) - 2) + "| " + " " * (d.column - 1) + "^")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + ("\n" if blocks else "")


def as_json(diagnostics: Sequence[Diagnostic]) -> str:
    errors = [d for d in diagnostics if d.severity == "error"]
    return json.dumps({"valid": not errors, "diagnostics": [d.as_json() for d in diagnostics]}, indent=2) + "\n"
