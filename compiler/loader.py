"""Read a stack file into plain data that remembers where every value came from.

Most stacks are read by kmc's own reader of the YAML they use (compiler/yaml_subset.py), which
spares a build PyYAML's import; whatever it declines (anything unusual, and every malformed
file) is read by PyYAML with its marks (compiler/pyyaml_loader.py), which reports duplicate
keys, non-string keys, cyclic or exploding aliases and non-JSON types with their position.
"""

from __future__ import annotations

from pathlib import Path

from kmc.derived import regex
from kmc.errors import Diagnostic, StackInvalid
from kmc.record import record

TYPE_CHECKING = False  # not typing's: importing typing costs a build ~4 ms
if TYPE_CHECKING:
    from typing import Any

MAX_STACK_BYTES = 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64
# C0 and C1 controls (but tab and line feed), DEL, and Unicode's line/paragraph separators: YAML
# parsers disagree on them (Go's, in kubectl and Helm, refuses them) and no Kubernetes field wants them.
CONTROL = regex("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")

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


def read_stack(path: Path, display: str | None = None) -> Document:
    """Load `path`; raise StackInvalid for anything that is not a readable YAML mapping."""
    name = display or str(path)
    if not path.exists():
        raise located(name, 1, 1, "no such file", "check the path, or create one with `kmc init`")
    if path.is_dir():
        raise located(name, 1, 1, "is a directory, not a stack file", f"pass the file, e.g. {name}/stack.yaml")
    try:
        size = path.stat().st_size
        if size > MAX_STACK_BYTES:
            raise located(
                name,
                1,
                1,
                f"the file is {size / 1e6:.1f} MB; kmc reads stack files up to 1 MiB",
                "a stack describes a monitoring system in a few hundred lines; is this the right file?",
            )
        raw = path.read_bytes()
    except OSError as err:
        raise located(name, 1, 1, f"cannot read the file: {err.strerror}") from None
    return parse_stack(raw, name)


def parse_stack(raw: bytes, file: str) -> Document:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise located(file, line, column, "the file is not UTF-8 text", "save it as UTF-8 (stack files are UTF-8 YAML)") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = tuple(text.splitlines())
    from kmc import yaml_subset  # it imports this module's types

    # No size switch: kmc's reader beat libyaml's compose and the build below at every size
    # measured on this 2-core machine (golden/full, 432 lines: 6-8 against 10-13 ms; a generated
    # 20,000-line stack: 0.3-0.45 against 1.0-1.3 s), besides sparing PyYAML's import.
    read = yaml_subset.read(text)
    if read is None:
        from kmc import pyyaml_loader  # PyYAML's import costs more than reading a stack

        return pyyaml_loader.parse(text, file, lines)
    data, positions, key_positions, scalars = read
    return Document(file, data, lines, positions, key_positions, scalars)
