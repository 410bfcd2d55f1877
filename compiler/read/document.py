"""A loaded stack: its data, and the file, line and column of every value in it."""

from __future__ import annotations

import re
from typing import Any

from kmc.errors import Diagnostic, StackInvalid
from kmc.record import record

MAX_NODES = 200_000
MAX_DEPTH = 64
# C0 and C1 controls (but tab and line feed), DEL, and Unicode's line/paragraph separators: YAML
# parsers disagree on them (Go's, in kubectl and Helm, refuses them) and no Kubernetes field wants them.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")

JsonPath = tuple[str | int, ...]


@record
class Scalar:
    """How a scalar was written in the file (for hints about YAML 1.1 surprises)."""

    text: str
    quoted: bool


@record
class Document:
    """A loaded stack: its data plus 1-based (line, column) of every value and mapping key."""

    file: str
    data: Any
    lines: tuple[str, ...]
    positions: dict[JsonPath, tuple[int, int]]
    key_positions: dict[JsonPath, tuple[int, int]]
    scalars: dict[JsonPath, Scalar]

    def position(self, path: JsonPath, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        table = self.key_positions if key else self.positions
        while True:
            if path in table:
                return table[path]
            if path in self.positions:
                return self.positions[path]
            if not path:
                return (1, 1)
            path = path[:-1]

    def diagnostic(self, path: JsonPath, message: str, hint: str = "", *, key: bool = False) -> Diagnostic:
        line, column = self.position(path, key=key)
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Diagnostic(
            file=self.file,
            line=line,
            column=column,
            path=json_path(path),
            message=message,
            hint=hint,
            source_line=source,
        )


def json_path(path: JsonPath) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "a").replace("-", "a").isalnum() and not part[:1].isdigit():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


def located(file: str, line: int, column: int, message: str, hint: str = "") -> StackInvalid:
    """A problem with the whole file, at a position (no JSON path)."""
    return StackInvalid([Diagnostic(file, line, column, "$", message, hint)])
