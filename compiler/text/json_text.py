"""`json.dumps(value, indent=N)` text, written faster.

With `indent`, the standard library leaves its C encoder for a pure-Python one built of nested
generators; on the chart's values.schema.json, the lock and the dashboards that costs a few
milliseconds a build. This writer makes the same text from plain recursion and the C string
escapers, and hands anything it does not know for certain (keys that are not strings, floats
that are not finite, other types) to json.dumps whole. tests/test_json_text.py holds the two
equal on generated values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring, encode_basestring_ascii


def dumps(value: object, *, indent: int, sort_keys: bool = False, ensure_ascii: bool = True) -> str:
    """`json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)`."""
    out: list[str] = []
    try:
        _write(out, value, "\n", " " * indent, sort_keys, encode_basestring_ascii if ensure_ascii else encode_basestring)
    except _Unsupported:
        return json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    return "".join(out)


class _Unsupported(Exception):
    """A value left to json.dumps."""


def _write(out: list[str], value: object, newline: str, step: str, sort_keys: bool, escape: Callable[[str], str]) -> None:
    """`value` at the nesting whose line starts are `newline` (a line break and the indentation)."""
    if isinstance(value, str):
        out.append(escape(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + step
        separator = "{" + inner
        for key, child in sorted(value.items()) if sort_keys else value.items():
            if type(key) is not str:
                raise _Unsupported
            out.append(separator + escape(key) + ": ")
            separator = "," + inner
            _write(out, child, inner, step, sort_keys, escape)
        out.append(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + step
        separator = "[" + inner
        for child in value:
            out.append(separator)
            separator = "," + inner
            _write(out, child, inner, step, sort_keys, escape)
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float) and value - value == 0:  # finite (json writes NaN and Infinity its own way)
        out.append(float.__repr__(value))
    else:
        raise _Unsupported
