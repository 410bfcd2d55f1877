"""The scalars of kmc's YAML reader that are more than a word: quoted and block scalars.

Only what kmc.read.yaml_subset can read exactly as PyYAML does is read here: one-line quoted
scalars with the escapes PyYAML and libyaml agree on, and `|` or `>` scalars without indentation
indicators or lines of spaces. Anything else raises Decline.
"""

from __future__ import annotations

from kmc.read.document import CONTROL

_ESCAPES = {"\\": "\\", '"': '"', "/": "/", "n": "\n", "t": "\t", " ": " ", "_": "\xa0"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


class Decline(Exception):
    """Something outside the subset: PyYAML reads this document."""


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def rest_is_empty(line: str, at: int) -> bool:
    """Whether only spaces, or spaces and a comment, follow column `at`."""
    rest = len(line) - len(line[at:].lstrip(" "))
    return rest == len(line) or (line[rest] == "#" and rest > at)


def single_quoted(line: str, column: int) -> tuple[str, int]:
    """The text of the one-line `'...'` scalar at `column`, and the column after it."""
    at = column + 1
    while True:
        close = line.find("'", at)
        if close < 0:
            raise Decline  # continues on the next line
        if line.startswith("''", close):
            at = close + 2
            continue
        return _checked(line[column + 1 : close].replace("''", "'")), close + 1


def double_quoted(line: str, column: int) -> tuple[str, int]:
    """The text of the one-line `"..."` scalar at `column` (escapes read), and the column after it."""
    parts: list[str] = []
    at = column + 1
    while True:
        stop = _next_of(line, at, '"\\')
        if stop < 0:
            raise Decline  # continues on the next line
        parts.append(line[at:stop])
        if line[stop] == '"':
            return _checked("".join(parts)), stop + 1
        code = line[stop + 1 : stop + 2]
        if code in _ESCAPES:
            parts.append(_ESCAPES[code])
            at = stop + 2
        elif code in _HEX_ESCAPES:
            digits = line[stop + 2 : stop + 2 + _HEX_ESCAPES[code]]
            if len(digits) != _HEX_ESCAPES[code] or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise Decline
            point = int(digits, 16)
            if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
                raise Decline
            parts.append(chr(point))
            at = stop + 2 + len(digits)
        else:
            raise Decline  # escapes of control characters, or a line break


def block_scalar(lines: list[str], row: int, column: int, least_indent: int, final_break: bool) -> tuple[str, int]:
    """The text of the `|` or `>` scalar whose header is at (`row`, `column`) of `lines`, and the row
    after it; its lines are indented at least `least_indent`. `final_break`: the text ends in a line break."""
    header = lines[row]
    chomp = header[column + 1 : column + 2]
    after = column + 2 if chomp in ("-", "+") else column + 1
    if chomp not in ("-", "+"):
        chomp = ""
    if not rest_is_empty(header, after):
        raise Decline  # indentation indicators, text after the header
    end = row + 1
    while end < len(lines) and not lines[end]:
        end += 1
    if end == len(lines) or not lines[end].strip(" ") or indent_of(lines[end]) < least_indent:
        raise Decline  # empty, or lines of spaces that may set the indentation
    indent = indent_of(lines[end])
    while end < len(lines) and (not lines[end].strip(" ") or indent_of(lines[end]) >= indent):
        if lines[end] and not lines[end].strip(" "):
            raise Decline  # a line of spaces: content or break depending on its length
        end += 1
    last = end
    while not lines[last - 1]:
        last -= 1
    body = [line[indent:] for line in lines[row + 1 : last]]
    text = _folded(body) if header[column] == ">" else "\n".join(body)
    if chomp != "-" and (last < len(lines) or final_break):
        text += "\n"
    if chomp == "+":
        text += "\n" * (end - last)
    return _checked(text), end


def _next_of(line: str, at: int, chars: str) -> int:
    found = [index for index in (line.find(char, at) for char in chars) if index >= 0]
    return min(found) if found else -1


def _checked(text: str) -> str:
    if CONTROL.search(text):
        raise Decline  # the loader reports control characters
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
