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


_STYLES = {"error": "\033[1;31m", "warning": "\033[1;33m", "hint": "\033[36m", "added": "\033[32m", "removed": "\033[31m"}
_RESET = "\033[0m"


def colours_wanted(stream: object) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org) or TERM=dumb."""
    import os

    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def coloured(text: str) -> str:
    """`text` with severities, hints and diff markers in colour (for a terminal)."""
    out = []
    for line in text.splitlines(keepends=True):
        for word in ("error", "warning"):
            line = line.replace(f": {word}: ", f": {_STYLES[word]}{word}{_RESET}: ", 1)
        if line.startswith("  hint: "):
            line = f"  {_STYLES['hint']}hint{_RESET}: " + line[len("  hint: ") :]
        elif line.startswith("+") and not line.startswith("+++"):
            line = _STYLES["added"] + line.rstrip("\n") + _RESET + ("\n" if line.endswith("\n") else "")
        elif line.startswith("-") and not line.startswith("---"):
            line = _STYLES["removed"] + line.rstrip("\n") + _RESET + ("\n" if line.endswith("\n") else "")
        out.append(line)
    return "".join(out)


def show(text: str) -> None:
    """Diagnostics or drift on stderr, in colour on a terminal."""
    import sys

    sys.stderr.write(coloured(text) if colours_wanted(sys.stderr) else text)
    sys.stderr.flush()


def as_json(diagnostics: Sequence[Diagnostic]) -> str:
    errors = [d for d in diagnostics if d.severity == "error"]
    return json.dumps({"valid": not errors, "diagnostics": [d.as_json() for d in diagnostics]}, indent=2) + "\n"
