"""What a plain (unquoted) YAML scalar means: YAML 1.1's implicit types, as PyYAML resolves them.

kmc reads stack files without importing PyYAML (kmc.read.yaml_subset) and writes YAML without
it (kmc.text.yaml_text); both must agree with PyYAML about which plain words are booleans,
nulls, numbers or dates (`on`, `~`, `010` is octal 8, `1:30` is 90, `1e3` is text), or a value
would change type on its way through. tests/test_yaml_subset.py holds `implicit_tag` equal to
PyYAML's resolver on generated text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    _N = TypeVar("_N", int, float)

    Tag = Literal["str", "bool", "int", "float", "null", "timestamp", "merge", "value"]


_BOOLEANS = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
# `$` as PyYAML writes it (it also matches before a final line break), with `match`. Compiled on
# first use: most plain words are told apart from numbers and dates by their characters alone.
_INT = r"[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0[0-7_]+|0|[1-9][0-9_]*|[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
_FLOAT = (
    r"(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?"  # 1.5, 1., 1.0e+3 (an exponent needs its sign)
    r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"  # .5 (and no sign before it)
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"  # 1:30.5, base 60
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_TIMESTAMP = (
    r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"|[0-9]{4}-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9]{2})?))?)$"
)
# Every character the three can match; a word with any other (`30s`, `100Gi`, `10.0.0.0/8`) is text.
_NUMBER_OR_DATE = str.maketrans(dict.fromkeys("0123456789+-_:.bxabcdefABCDEFinfINFaATtZ \t"))


_FLOATS, _INTS, _TIMESTAMPS = re.compile(_FLOAT), re.compile(_INT), re.compile(_TIMESTAMP)


def implicit_tag(text: str) -> Tag:
    """The type PyYAML's resolver gives the plain scalar `text`."""
    if text in _BOOLEANS:
        return "bool"
    if text in _NULLS:
        return "null"
    first = text[0]
    if first in "-+0123456789.":
        if text.translate(_NUMBER_OR_DATE):
            return "str"
        if _FLOATS.match(text):
            return "float"
        if first != "." and _INTS.match(text):
            return "int"
        if first.isdigit() and _TIMESTAMPS.match(text):
            return "timestamp"
    elif text == "<<":
        return "merge"
    elif text == "=":
        return "value"
    return "str"


class Unreadable(Exception):
    """A plain scalar whose value kmc's loader would refuse or that PyYAML itself fails on."""


def plain_value(text: str) -> str | bool | int | float | None:
    """The value of the plain scalar `text` as kmc's loader reads it (dates stay text).

    Raises Unreadable for merge keys, `=`, infinities and NaN (the loader reports them) and for
    numbers Python cannot convert (PyYAML raises on them).
    """
    tag = implicit_tag(text)
    if tag == "str":
        return text
    if tag == "timestamp":
        _check_date(text)
        return text
    if tag == "bool":
        return _BOOLEANS[text]
    if tag == "null":
        return None
    if tag == "int":
        return _int(text)
    if tag == "float" and text.lower().lstrip("+-") not in (".inf", ".nan"):
        value = _float(text)
        if abs(value) != float("inf"):
            return value
    raise Unreadable(text)


# The fields of a YAML 1.1 timestamp (`implicit_tag` has matched the whole text already).
_DATE_FIELDS = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?"
)


def _check_date(text: str) -> None:
    """Raise Unreadable for a date PyYAML's constructor fails on (`2001-02-30`, hour 25, offset +25)."""
    import datetime

    year, month, day, hour, minute, second, sign, offset_hours, offset_minutes = _DATE_FIELDS.match(text).groups()  # type: ignore[union-attr]
    try:
        datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
        if sign:
            datetime.timezone(datetime.timedelta(hours=int(offset_hours), minutes=int(offset_minutes or 0)))
    except ValueError:
        raise Unreadable(text) from None


def _int(text: str) -> int:
    sign, digits = _sign(text)
    try:
        if digits == "0":
            return 0
        if digits.startswith("0b"):
            return sign * int(digits[2:], 2)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        if digits.startswith("0"):
            return sign * int(digits, 8)
        if ":" in digits:
            return sign * _base_60([int(part) for part in digits.split(":")])
        return sign * int(digits)
    except ValueError:  # `0x_`: PyYAML fails on it too
        raise Unreadable(text) from None


def _float(text: str) -> float:
    sign, digits = _sign(text.lower())
    if ":" in digits:
        return sign * _base_60([float(part) for part in digits.split(":")])
    return sign * float(digits)


def _sign(text: str) -> tuple[int, str]:
    """The sign and the digits (without `_` separators) of a number."""
    digits = text.replace("_", "")
    if digits[0] in "+-":
        return (-1 if digits[0] == "-" else 1), digits[1:]
    return 1, digits


def _base_60(parts: list[_N]) -> _N:
    """Digits in base 60, summed from the last as PyYAML sums them (float results depend on the order)."""
    total = parts[0] * 0
    base = 1
    for part in reversed(parts):
        total += part * base
        base *= 60
    return total
