"""Read the YAML that stack files are written in without PyYAML, or decline.

Importing PyYAML and composing a stack with it costs more than the rest of a `kmc build` of
golden/full (PyYAML's reader compiles a large Unicode pattern at import). Stacks and kmc's rule
library use a small part of YAML: block mappings and sequences, flow collections, one-line plain
and quoted scalars, literal and folded block scalars, comments. This reader reads exactly that,
giving what compiler/loader.py's PyYAML path gives (data, positions as PyYAML's marks, scalars),
and returns None for anything else — anchors, tags, several documents, tabs, multi-line flow
scalars, duplicate or non-string keys, values the loader refuses — so that the PyYAML path reads
it and reports every problem as before. tests/test_yaml_subset.py holds the two equal.
"""

from __future__ import annotations

import re
from typing import Any

from kmc.loader import CONTROL, MAX_DEPTH, MAX_NODES, JsonPath, Scalar
from kmc.yaml_types import Unreadable, implicit_tag, plain_value

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
_ESCAPES = {"\\": "\\", '"': '"', "/": "/", "n": "\n", "t": "\t", " ": " ", "_": "\xa0"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
# Characters that cannot start a plain scalar (YAML's indicators); `-` can when a non-space follows.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# PyYAML reads a key only up to this many characters ahead.
_MAX_KEY = 1000


class _Decline(Exception):
    """Something outside the subset: PyYAML reads this document."""


def read(text: str) -> Read | None:
    """Data, value positions, key positions and scalars of `text` as loader.py builds them; or None."""
    if _UNUSUAL.search(text) or not (text.isascii() or _encodable(text)):
        return None
    try:
        return _Reader(text).document()
    except (_Decline, Unreadable, RecursionError):
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

    def document(self) -> Read:
        row = self.content_row(0)
        if row < len(self.lines) and self.lines[row].startswith("---") and _rest_is_empty(self.lines[row], 3):
            row = self.content_row(row + 1)
        if row == len(self.lines):
            raise _Decline  # empty: the loader's own message
        for line in self.lines[row:]:
            if line.startswith(("---", "...", "%")):
                raise _Decline  # more documents, an end marker, a directive
        column = _indent(self.lines[row])
        if self.lines[row][column] == "{":
            data, row, end = self.flow(row, column, -1, ())
            if not _rest_is_empty(self.lines[row], end):
                raise _Decline
            row += 1
        elif self.key_at(row, column):
            data, row = self.mapping(row, column, ())
        else:
            raise _Decline  # a stack is a mapping; anything else gets PyYAML's reading
        if self.content_row(row) < len(self.lines):
            raise _Decline
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
        indent = _indent(self.lines[row])
        if indent > column:
            raise _Decline  # a continued scalar, or an error PyYAML reports
        return row if indent == column else None

    # -- block collections --------------------------------------------------------------------

    def enter(self, path: JsonPath, row: int, column: int) -> None:
        self.count(path, row, column)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Decline

    def count(self, path: JsonPath, row: int, column: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Decline
        self.positions[path] = (row + 1, column + 1)

    def mapping(self, row: int, column: int, path: JsonPath) -> tuple[dict[str, Any], int]:
        """A block mapping whose keys start at `column`, the first on `row`; and the row after it."""
        self.enter(path, row, column)
        out: dict[str, Any] = {}
        entry: int | None = row
        while entry is not None:
            line = self.lines[entry]
            if _is_dash(line, column):
                raise _Decline  # a sequence entry among keys
            key, colon = self.key(entry, column)
            child = (*path, key)
            if key in out:
                raise _Decline  # the loader reports duplicates
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
            raise _Decline  # `key: - x` is an error PyYAML reports
        if line[at] in "|>":
            return self.block_scalar(row, at, indent + 1, path)
        return self.inline(row, at, indent, path)  # declines `a: b: c`: more than a scalar on the line

    def on_next_lines(self, row: int, indent: int, path: JsonPath, empty_mark: tuple[int, int], *, unindented_sequence: bool = False) -> tuple[Any, int]:
        """A value that starts on a later line than its key or dash: a nested node, or null."""
        below = self.content_row(row + 1)
        if below < len(self.lines):
            column = _indent(self.lines[below])
            if column > indent or (unindented_sequence and column == indent and _is_dash(self.lines[below], column)):
                line = self.lines[below]
                if line[column] in "|>":
                    raise _Decline
                return self.node(below, column, indent, path)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Decline
        self.positions[path] = empty_mark
        self.scalars[path] = Scalar("", False)
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
        if not _rest_is_empty(line, end):
            raise _Decline
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
            raise _Decline
        if not quoted and implicit_tag(text) != "str":
            raise _Decline  # the loader reports keys that are not strings
        return text, colon

    def scalar(self, line: str, column: int, *, flow: bool) -> tuple[str, bool, int]:
        """A one-line scalar at `column`: its text, whether it was quoted, and the column after it."""
        char = line[column]
        if char == "'":
            return self.single_quoted(line, column)
        if char == '"':
            return self.double_quoted(line, column)
        if char in _INDICATORS and not (char == "-" and column + 1 < len(line) and line[column + 1] != " "):
            raise _Decline  # anchors, aliases, tags, explicit keys, ...
        found = (_FLOW_PLAIN_END if flow else _BLOCK_PLAIN_END).search(line, column)
        end = found.start() if found else len(line)
        text = line[column:end].rstrip(" ")
        if flow and "?" in text:
            raise _Decline  # PyYAML and libyaml end a flow scalar at `?` differently
        return text, False, column + len(text)

    def single_quoted(self, line: str, column: int) -> tuple[str, bool, int]:
        at = column + 1
        while True:
            close = line.find("'", at)
            if close < 0:
                raise _Decline  # continues on the next line
            if line.startswith("''", close):
                at = close + 2
                continue
            return _checked(line[column + 1 : close].replace("''", "'")), True, close + 1

    def double_quoted(self, line: str, column: int) -> tuple[str, bool, int]:
        parts: list[str] = []
        at = column + 1
        while True:
            stop = _next_of(line, at, '"\\')
            if stop < 0:
                raise _Decline  # continues on the next line
            parts.append(line[at:stop])
            if line[stop] == '"':
                return _checked("".join(parts)), True, stop + 1
            code = line[stop + 1 : stop + 2]
            if code in _ESCAPES:
                parts.append(_ESCAPES[code])
                at = stop + 2
            elif code in _HEX_ESCAPES:
                digits = line[stop + 2 : stop + 2 + _HEX_ESCAPES[code]]
                if len(digits) != _HEX_ESCAPES[code] or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    raise _Decline
                point = int(digits, 16)
                if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
                    raise _Decline
                parts.append(chr(point))
                at = stop + 2 + len(digits)
            else:
                raise _Decline  # escapes of control characters, or a line break

    def store(self, path: JsonPath, row: int, column: int, text: str, quoted: bool) -> Any:
        """Record a scalar node and return its value."""
        self.count(path, row, column)
        self.scalars[path] = Scalar(text, quoted)
        return text if quoted else plain_value(text)

    def block_scalar(self, row: int, column: int, least_indent: int, path: JsonPath) -> tuple[str, int]:
        """A `|` or `>` scalar whose header is at (`row`, `column`), and the row after it."""
        header = self.lines[row]
        chomp = header[column + 1 : column + 2]
        after = column + 2 if chomp in ("-", "+") else column + 1
        if chomp not in ("-", "+"):
            chomp = ""
        if not _rest_is_empty(header, after):
            raise _Decline  # indentation indicators, text after the header
        lines = self.lines
        end = row + 1
        while end < len(lines) and not lines[end]:
            end += 1
        if end == len(lines) or not lines[end].strip(" ") or _indent(lines[end]) < least_indent:
            raise _Decline  # empty, or lines of spaces that may set the indentation
        indent = _indent(lines[end])
        while end < len(lines) and (not lines[end].strip(" ") or _indent(lines[end]) >= indent):
            if lines[end] and not lines[end].strip(" "):
                raise _Decline  # a line of spaces: content or break depending on its length
            end += 1
        last = end
        while not lines[last - 1]:
            last -= 1
        body = [line[indent:] for line in lines[row + 1 : last]]
        text = _folded(body) if header[column] == ">" else "\n".join(body)
        if chomp != "-" and (last < len(lines) or self.final_break):
            text += "\n"
        if chomp == "+":
            text += "\n" * (end - last)
        self.count(path, row, column)
        self.scalars[path] = Scalar(_checked(text), True)
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
                    raise _Decline
                child = (*path, key)
                self.key_positions[child] = (row + 1, at + 1)
                end = _skip_spaces(line, end)
                if line[end : end + 1] != ":" or line[end + 1 : end + 2] not in ("", " "):
                    raise _Decline  # `a:b`, `"a":b`, or a key without a value
                row, at = self.skip(row, end + 1, indent)
                line = self.lines[row]
                if line[at] in ",]}":
                    raise _Decline  # an empty value
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
                    raise _Decline  # a trailing comma
            elif self.lines[row][at] != closing:
                raise _Decline
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
                raise _Decline  # `#` glued to a token
            row += 1
            if row == len(self.lines):
                raise _Decline  # unclosed
            line = self.lines[row]
            at = 0
            stripped = line.lstrip(" ")
            if stripped and stripped[0] != "#" and _indent(line) <= indent:
                raise _Decline  # a continuation line must be indented past its block


def _encodable(text: str) -> bool:
    """Whether `text` has no lone surrogates (text decoded from UTF-8 never has)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _skip_spaces(line: str, at: int) -> int:
    while at < len(line) and line[at] == " ":
        at += 1
    return at


def _rest_is_empty(line: str, at: int) -> bool:
    """Whether only spaces, or spaces and a comment, follow column `at`."""
    rest = _skip_spaces(line, at)
    return rest == len(line) or (line[rest] == "#" and rest > at)


def _is_dash(line: str, column: int) -> bool:
    """Whether a block sequence entry (`-` and a space or the line's end) is at `column`."""
    return line.startswith("-", column) and (column + 1 == len(line) or line[column + 1] == " ")


def _next_of(line: str, at: int, chars: str) -> int:
    found = [index for index in (line.find(char, at) for char in chars) if index >= 0]
    return min(found) if found else -1


def _checked(text: str) -> str:
    if CONTROL.search(text):
        raise _Decline  # the loader reports control characters
    return text


def _folded(body: list[str]) -> str:
    """Lines of a `>` scalar joined as YAML folds them: a single break between two lines that do
    not start with a space becomes a space; otherwise breaks are kept."""
    out: list[str] = []
    blanks = 0
    previous: str | None = None
    for line in body:
        if not line:
            blanks += 1
            continue
        if previous is None:
            out.append("\n" * blanks)
        elif previous[0] != " " and line[0] != " ":
            out.append("\n" * blanks if blanks else " ")
        else:
            out.append("\n" * (blanks + 1))
        out.append(line)
        previous, blanks = line, 0
    return "".join(out)
