"""Read the YAML that stack files are written in without PyYAML, or decline.

Importing PyYAML and composing a stack with it costs more than the rest of a `kmc build` of
golden/full (PyYAML's reader compiles a large Unicode pattern at import). Stacks and kmc's rule
library use a small part of YAML: block mappings and sequences, flow collections, one-line plain
and quoted scalars, literal and folded block scalars, comments. This reader reads exactly that,
giving what kmc.read.loader's PyYAML path gives (data, positions as PyYAML's marks, scalars),
and returns None for anything else — anchors, tags, several documents, tabs, multi-line flow
scalars, duplicate or non-string keys, values the loader refuses — so that the PyYAML path reads
it and reports every problem as before. tests/test_yaml_subset.py holds the two equal.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from kmc.read.document import MAX_DEPTH, MAX_NODES, JsonPath, Scalar
from kmc.read.yaml_scalars import Decline, block_scalar, double_quoted, indent_of, rest_is_empty, single_quoted
from kmc.read.yaml_types import Unreadable, implicit_tag, plain_value

if TYPE_CHECKING:
    Read = tuple[Any, dict[JsonPath, tuple[int, int]], dict[JsonPath, tuple[int, int]], dict[JsonPath, Scalar]]


# Text this reader leaves to PyYAML: tabs, CR, other controls, NEL, line and paragraph separators,
# a byte-order mark past the start, non-characters. (Two small classes: a class spanning most of
# Unicode, as PyYAML's reader has, takes ~9 ms to compile.)
_UNUSUAL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]|[\u2028\u2029\ufeff\ufffe\uffff]")
# Where a one-line plain scalar ends in a block: `: `, a `:` ending the line, ` #`.
_BLOCK_PLAIN_END = re.compile(r": | #|:$")
# In a flow collection also at `,[]{}` and at any `:` (a plain `a:b` is read differently by
# PyYAML and libyaml there, so it is declined).
_FLOW_PLAIN_END = re.compile(r"[,\[\]{}:]| #")
# Characters that cannot start a plain scalar (YAML's indicators); `-` can when a non-space follows.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# PyYAML reads a key only up to this many characters ahead.
_MAX_KEY = 1000


def read(text: str) -> Read | None:
    """Data, value positions, key positions and scalars of `text` as loader.py builds them; or None."""
    if _UNUSUAL.search(text) or not (text.isascii() or _encodable(text)):
        return None
    try:
        return _Reader(text).document()
    except (Decline, Unreadable, RecursionError):
        return None


class _Reader:
    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.final_break = text.endswith("\n")
        if self.final_break:
            self.lines.pop()
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.key_positions: dict[JsonPath, tuple[int, int]] = {}
        self.scalars: dict[JsonPath, Scalar] = {}
        self.nodes = 0
        self.depth = 0
        self.written: dict[tuple[str, bool], Scalar] = {}  # one Scalar per spelling: most repeat

    def document(self) -> Read:
        row = self.content_row(0)
        if row < len(self.lines) and self.lines[row].startswith("---") and rest_is_empty(self.lines[row], 3):
            row = self.content_row(row + 1)
        if row == len(self.lines):
            raise Decline  # empty: the loader's own message
        for line in self.lines[row:]:
            if line.startswith(("---", "...", "%")):
                raise Decline  # more documents, an end marker, a directive
        column = indent_of(self.lines[row])
        if self.lines[row][column] == "{":
            data, row, end = self.flow(row, column, -1, ())
            if not rest_is_empty(self.lines[row], end):
                raise Decline
            row += 1
        elif self.key_at(row, column):
            data, row = self.mapping(row, column, ())
        else:
            raise Decline  # a stack is a mapping; anything else gets PyYAML's reading
        if self.content_row(row) < len(self.lines):
            raise Decline
        return data, self.positions, self.key_positions, self.scalars

    # -- lines --------------------------------------------------------------------------------

    def content_row(self, row: int) -> int:
        """The first row from `row` that is neither blank nor only a comment (or the end)."""
        lines = self.lines
        while row < len(lines):
            stripped = lines[row].lstrip(" ")
            if stripped and stripped[0] != "#":
                return row
            row += 1
        return row

    def next_entry(self, row: int, column: int) -> int | None:
        """The row of the collection's next entry at `column`, or None where the collection ends."""
        row = self.content_row(row)
        if row == len(self.lines):
            return None
        indent = indent_of(self.lines[row])
        if indent > column:
            raise Decline  # a continued scalar, or an error PyYAML reports
        return row if indent == column else None

    # -- block collections --------------------------------------------------------------------

    def enter(self, path: JsonPath, row: int, column: int) -> None:
        self.count(path, row, column)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Decline

    def count(self, path: JsonPath, row: int, column: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise Decline
        self.positions[path] = (row + 1, column + 1)

    def mapping(self, row: int, column: int, path: JsonPath) -> tuple[dict[str, Any], int]:
        """A block mapping whose keys start at `column`, the first on `row`; and the row after it."""
        self.enter(path, row, column)
        out: dict[str, Any] = {}
        entry: int | None = row
        while entry is not None:
            line = self.lines[entry]
            if _is_dash(line, column):
                raise Decline  # a sequence entry among keys
            key, colon = self.key(entry, column)
            child = (*path, key)
            if key in out:
                raise Decline  # the loader reports duplicates
            self.key_positions[child] = (entry + 1, column + 1)
            out[key], after = self.value(entry, colon + 1, column, child)
            entry = self.next_entry(after, column)
        self.depth -= 1
        return out, after

    def sequence(self, row: int, column: int, path: JsonPath) -> tuple[list[Any], int]:
        """A block sequence whose dashes are at `column`, the first on `row`; and the row after it."""
        self.enter(path, row, column)
        out: list[Any] = []
        entry: int | None = row
        while entry is not None:
            child = (*path, len(out))
            line = self.lines[entry]
            start = _skip_spaces(line, column + 1)
            if start == len(line) or line[start] == "#":
                value, after = self.on_next_lines(entry, column, child, (entry + 1, column + 2))
            else:
                value, after = self.node(entry, start, column, child)
            out.append(value)
            entry = self.next_entry(after, column)
            if entry is not None and not _is_dash(self.lines[entry], column):
                entry = None  # the mapping that holds this (unindented) sequence goes on
        self.depth -= 1
        return out, after

    def value(self, row: int, start: int, indent: int, path: JsonPath) -> tuple[Any, int]:
        """A mapping's value after the `:` that ends at `start`, in a mapping at column `indent`."""
        line = self.lines[row]
        at = _skip_spaces(line, start)
        if at == len(line) or line[at] == "#":
            return self.on_next_lines(row, indent, path, (row + 1, start + 1), unindented_sequence=True)
        if _is_dash(line, at):
            raise Decline  # `key: - x` is an error PyYAML reports
        if line[at] in "|>":
            return self.block_scalar(row, at, indent + 1, path)
        return self.inline(row, at, indent, path)  # declines `a: b: c`: more than a scalar on the line

    def on_next_lines(self, row: int, indent: int, path: JsonPath, empty_mark: tuple[int, int], *, unindented_sequence: bool = False) -> tuple[Any, int]:
        """A value that starts on a later line than its key or dash: a nested node, or null."""
        below = self.content_row(row + 1)
        if below < len(self.lines):
            column = indent_of(self.lines[below])
            if column > indent or (unindented_sequence and column == indent and _is_dash(self.lines[below], column)):
                line = self.lines[below]
                if line[column] in "|>":
                    raise Decline
                return self.node(below, column, indent, path)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise Decline
        self.positions[path] = empty_mark
        self.scalars[path] = self.scalar_record("", False)
        return None, row + 1

    def node(self, row: int, column: int, indent: int, path: JsonPath) -> tuple[Any, int]:
        """The node that starts at (`row`, `column`) inside a block collection at `indent`."""
        line = self.lines[row]
        if _is_dash(line, column):
            return self.sequence(row, column, path)
        if line[column] in "|>":
            return self.block_scalar(row, column, indent + 1, path)
        if self.key_at(row, column):
            return self.mapping(row, column, path)
        return self.inline(row, column, indent, path)

    def inline(self, row: int, column: int, indent: int, path: JsonPath) -> tuple[Any, int]:
        """A scalar or flow collection that is all that is left of its line."""
        line = self.lines[row]
        if line[column] in "[{":
            value, row, end = self.flow(row, column, indent, path)
            line = self.lines[row]
        else:
            text, quoted, end = self.scalar(line, column, flow=False)
            value = self.store(path, row, column, text, quoted)
        if not rest_is_empty(line, end):
            raise Decline
        return value, row + 1

    # -- keys and scalars ---------------------------------------------------------------------

    def key_at(self, row: int, column: int) -> bool:
        """Whether a mapping key starts at (`row`, `column`)."""
        line = self.lines[row]
        if line[column] in "[{|>":
            return False
        _, _, end = self.scalar(line, column, flow=False)
        end = _skip_spaces(line, end)
        return end < len(line) and line[end] == ":" and (end + 1 == len(line) or line[end + 1] == " ")

    def key(self, row: int, column: int) -> tuple[str, int]:
        """The key at (`row`, `column`) and the column of its `:`."""
        line = self.lines[row]
        text, quoted, end = self.scalar(line, column, flow=False)
        colon = _skip_spaces(line, end)
        if colon == len(line) or line[colon] != ":" or colon - column > _MAX_KEY:
            raise Decline
        if not quoted and implicit_tag(text) != "str":
            raise Decline  # the loader reports keys that are not strings
        return text, colon

    def scalar(self, line: str, column: int, *, flow: bool) -> tuple[str, bool, int]:
        """A one-line scalar at `column`: its text, whether it was quoted, and the column after it."""
        char = line[column]
        if char in "'\"":
            text, end = single_quoted(line, column) if char == "'" else double_quoted(line, column)
            return text, True, end
        if char in _INDICATORS and not (char == "-" and column + 1 < len(line) and line[column + 1] != " "):
            raise Decline  # anchors, aliases, tags, explicit keys, ...
        found = (_FLOW_PLAIN_END if flow else _BLOCK_PLAIN_END).search(line, column)
        end = found.start() if found else len(line)
        text = line[column:end].rstrip(" ")
        if flow and "?" in text:
            raise Decline  # PyYAML and libyaml end a flow scalar at `?` differently
        return text, False, column + len(text)

    def store(self, path: JsonPath, row: int, column: int, text: str, quoted: bool) -> Any:
        """Record a scalar node and return its value."""
        self.count(path, row, column)
        self.scalars[path] = self.scalar_record(text, quoted)
        return text if quoted else plain_value(text)

    def scalar_record(self, text: str, quoted: bool) -> Scalar:
        record = self.written.get((text, quoted))
        if record is None:
            record = self.written[text, quoted] = Scalar(text, quoted)
        return record

    def block_scalar(self, row: int, column: int, least_indent: int, path: JsonPath) -> tuple[str, int]:
        """A `|` or `>` scalar whose header is at (`row`, `column`), and the row after it."""
        text, end = block_scalar(self.lines, row, column, least_indent, self.final_break)
        self.count(path, row, column)
        self.scalars[path] = self.scalar_record(text, True)
        return text, end

    # -- flow collections ---------------------------------------------------------------------

    def flow(self, row: int, column: int, indent: int, path: JsonPath) -> tuple[Any, int, int]:
        """The flow collection opening at (`row`, `column`): its value, and the row and column after it."""
        self.enter(path, row, column)
        closing = "]" if self.lines[row][column] == "[" else "}"
        out: Any = [] if closing == "]" else {}
        row, at = self.skip(row, column + 1, indent)
        while self.lines[row][at] != closing:
            line = self.lines[row]
            if closing == "]":
                child: JsonPath = (*path, len(out))
            else:
                key, quoted, end = self.scalar(line, at, flow=True)
                if (not quoted and implicit_tag(key) != "str") or key in out or end - at > _MAX_KEY:
                    raise Decline
                child = (*path, key)
                self.key_positions[child] = (row + 1, at + 1)
                end = _skip_spaces(line, end)
                if line[end : end + 1] != ":" or line[end + 1 : end + 2] not in ("", " "):
                    raise Decline  # `a:b`, `"a":b`, or a key without a value
                row, at = self.skip(row, end + 1, indent)
                line = self.lines[row]
                if line[at] in ",]}":
                    raise Decline  # an empty value
            if line[at] in "[{":
                value, row, end = self.flow(row, at, indent, child)
            else:
                text, quoted, end = self.scalar(line, at, flow=True)
                value = self.store(child, row, at, text, quoted)
            if closing == "]":
                out.append(value)
            else:
                out[key] = value
            row, at = self.skip(row, end, indent)
            if self.lines[row][at] == ",":
                row, at = self.skip(row, at + 1, indent)
                if self.lines[row][at] == closing:
                    raise Decline  # a trailing comma
            elif self.lines[row][at] != closing:
                raise Decline
        self.depth -= 1
        return out, row, at + 1

    def skip(self, row: int, at: int, indent: int) -> tuple[int, int]:
        """The next token in a flow collection from (`row`, `at`), across spaces, comments and lines."""
        while True:
            line = self.lines[row]
            at = _skip_spaces(line, at)
            if at < len(line) and line[at] != "#":
                return row, at
            if at < len(line) and at > 0 and line[at - 1] != " ":
                raise Decline  # `#` glued to a token
            row += 1
            if row == len(self.lines):
                raise Decline  # unclosed
            line = self.lines[row]
            at = 0
            stripped = line.lstrip(" ")
            if stripped and stripped[0] != "#" and indent_of(line) <= indent:
                raise Decline  # a continuation line must be indented past its block


def _encodable(text: str) -> bool:
    """Whether `text` has no lone surrogates (text decoded from UTF-8 never has)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _skip_spaces(line: str, at: int) -> int:
    if line[at : at + 1] != " ":
        return at
    return len(line) - len(line[at:].lstrip(" "))


def _is_dash(line: str, column: int) -> bool:
    """Whether a block sequence entry (`-` and a space or the line's end) is at `column`."""
    return line.startswith("-", column) and (column + 1 == len(line) or line[column + 1] == " ")
