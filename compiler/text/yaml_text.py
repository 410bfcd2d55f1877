"""Deterministic YAML text: keys in the order the code built them, block literals for multi-line strings.

The text is exactly what PyYAML's (libyaml's) emitter writes for these settings; kmc writes the
common cases itself, because PyYAML's representer costs ~30 ms per build of golden/full (and its
import ~20 ms: PyYAML is imported only when a value goes to it). Any
value outside what `_Writer` knows for certain (floats, non-ASCII or control characters, very
long strings, odd keys) goes to PyYAML whole. tests/test_yaml_text.py holds the two equal on
generated values and on every golden file.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from kmc.ir import Switch, Text, sectioned
from kmc.read.yaml_types import implicit_tag
from kmc.text import go_yaml


def _double_quoted(value: str) -> bool:
    """Whether `value` is written in double quotes: Go's YAML parsers (kubectl, Helm, kustomize)
    would read it bare as a number, boolean, null or date. Where PyYAML would read it as
    something else too (its booleans, nulls and dates), it quotes it itself, with single quotes."""
    return not go_yaml.reads_as_text(value) and implicit_tag(value) in ("str", "int", "float")


def _str(dumper: Any, value: str) -> Any:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    style = '"' if _double_quoted(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


@functools.cache
def _dumper() -> Any:
    """PyYAML's dumper with kmc's settings, made on first use: most builds never need PyYAML, and
    importing it costs ~20 ms."""
    import yaml

    base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:
            # A list shared by two places (one `verbs` for two RBAC rules) is written out twice, never
            # as an anchor and alias: plainer for people, and some tools mishandle aliases.
            return True

    Dumper.add_representer(str, _str)
    return Dumper


def dump(value: Any) -> str:
    """One YAML document for `value`, ending in a newline."""
    if type(value) in (dict, list):
        if not value:
            return "{}\n" if type(value) is dict else "[]\n"  # as PyYAML writes them, without importing it
        try:
            return _Writer().document(value)
        except _Unsupported:
            pass
    return pyyaml_dump(value)


def pyyaml_dump(value: Any) -> str:
    """`dump` by PyYAML alone: the reference `_Writer` is held to."""
    import yaml

    text: str = yaml.dump(value, Dumper=_dumper(), sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096)
    return text


class _Unsupported(Exception):
    """A value `_Writer` leaves to PyYAML."""


# First characters that make a plain scalar read as something else (YAML's indicators).
_INDICATOR_FIRST = frozenset("#,[]{}&*!|>'\"%@`")
# Longer plain or quoted scalars may be folded at the emitter's width (4096 columns).
_MAX_INLINE = 2048
# Longer keys are written as complex keys (`? key`).
_MAX_KEY = 100


class _Writer:
    """Block-style YAML as libyaml writes it (indent 2, sequences in mappings not indented)."""

    def __init__(self) -> None:
        self.out: list[str] = []

    def document(self, value: dict[str, Any] | list[Any]) -> str:
        if isinstance(value, dict):
            _mapping(self.out, value, "", inline=False)
        else:
            _sequence(self.out, value, "", inline=False)
        return "".join(self.out)


# The writer is the build's innermost loop (every value of every object of every environment):
# plain functions with the scalar cases inline, not a method call per value.
_NEWLINE = "\n"  # (no backslash inside an f-string's braces before Python 3.12)


def _mapping(out: list[str], value: dict[str, Any], pad: str, *, inline: bool) -> None:
    """Keys after `pad`; with `inline`, the first one right after a `- `."""
    append = out.append
    for key, child in value.items():
        head = _key(key) if inline else pad + _key(key)
        inline = False
        kind = type(child)
        if kind is dict and child:
            append(head + "\n")
            _mapping(out, child, pad + "  ", inline=False)
        elif kind is list and child:
            append(head + "\n")
            _sequence(out, child, pad, inline=False)  # a mapping's sequence is not indented
        else:
            append(head + _scalar(child, len(pad) + 2))


def _sequence(out: list[str], value: list[Any], pad: str, *, inline: bool) -> None:
    """Dashes after `pad`; with `inline`, the first one right after a `- `."""
    append = out.append
    dash = pad + "-"
    inner = pad + "  "
    for child in value:
        head = "-" if inline else dash
        inline = False
        kind = type(child)
        if kind is dict and child:
            append(head + " ")
            _mapping(out, child, inner, inline=True)
        elif kind is list and child:
            append(head + " ")
            _sequence(out, child, inner, inline=True)
        else:
            append(head + _scalar(child, len(inner)))


def _scalar(value: Any, indent: int) -> str:
    """What follows a key or a dash for a scalar or an empty collection: ` text` and the line break."""
    kind = type(value)
    if kind is str:
        return f" {_literal(value, indent) if _NEWLINE in value else _one_line(value)}\n"
    if kind is bool:
        return " true\n" if value else " false\n"
    if kind is int:
        return f" {value}\n"
    if value is None:
        return " null\n"
    if kind is dict:
        return " {}\n"
    if kind is list:
        return " []\n"
    raise _Unsupported


@functools.lru_cache(maxsize=4096)
def _key(key: Any) -> str:
    """`key:` as libyaml writes a simple key."""
    if type(key) is not str or not key or len(key) > _MAX_KEY or "\n" in key:
        raise _Unsupported
    return _one_line(key) + ":"


@functools.lru_cache(maxsize=16384)  # keys and values repeat across objects and environments
def _one_line(value: str) -> str:
    """A string without line breaks as libyaml writes it (plain, double- or single-quoted)."""
    if len(value) > _MAX_INLINE or not (value.isascii() and value.isprintable()):
        raise _Unsupported
    if _double_quoted(value):
        return f'"{value}"'  # only digits, letters, spaces and . , _ + - : ~: nothing to escape
    if _plain_allowed(value) and implicit_tag(value) == "str":
        return value
    return "'" + value.replace("'", "''") + "'"


def _plain_allowed(value: str) -> bool:
    """YAML's rules for a one-line plain scalar in block context (printable ASCII)."""
    if not value or value[0] == " " or value[-1] == " " or value[0] in _INDICATOR_FIRST:
        return False
    if value.startswith(("---", "...")):
        return False
    if value[0] in "-?:" and (len(value) == 1 or value[1] == " "):
        return False
    return not (": " in value or value.endswith(":") or " #" in value)


def _literal(value: str, indent: int) -> str:
    """A multi-line string as a `|` block (clip or strip chomping)."""
    if not (value.isascii() and value.replace("\n", "").isprintable()):
        raise _Unsupported  # anything but printable ASCII may need escapes
    if value[0] in " \n" or value.endswith(("\n\n", " ")) or " \n" in value:
        raise _Unsupported  # needs an indentation indicator, keep chomping, or double quotes
    header = "|" if value.endswith("\n") else "|-"
    pad = " " * indent
    lines = value.removesuffix("\n").split("\n")
    return header + "".join(f"\n{pad}{line}" if line else "\n" for line in lines)


def dump_sectioned(data: Mapping[str, Any], key: str, switches: Sequence[str | None]) -> str | Text:
    """`dump(data)`, where each item of the list at `key` exists only where its switch is true
    (None: everywhere). Each item is dumped on its own under the same key, so the text where every
    switch is on is `dump(data)` itself, byte for byte."""
    items = data[key]
    assert len(items) == len(switches) and items, key
    if None not in switches:
        # Where every item is off the list is empty (`key: []`, not a bare `key:`): one switch for all of them.
        assert len(set(switches)) == 1, f"the items of {key} are all switched, by different parameters"
        return sectioned([Switch(str(switches[0]), on=dump(data), off=dump({**data, key: []}))])
    return dump_choices(data, key, [[(switch, item)] for item, switch in zip(items, switches, strict=True)])


def dump_choices(data: Mapping[str, Any], key: str, choices: Sequence[Sequence[tuple[str | None, Any]]]) -> str | Text:
    """`dump(data)` with each item of the non-empty list at `key` chosen from its alternatives:
    (condition, item) pairs, each there only where its condition holds (None: everywhere). The
    conditions of one item's alternatives exclude each other, or it is there twice."""
    assert len(data[key]) == len(choices), key
    keys = list(data)
    at = keys.index(key)
    before, after = {name: data[name] for name in keys[:at]}, {name: data[name] for name in keys[at + 1 :]}
    parts: list[str | Switch] = [dump(before) if before else "", f"{key}:\n"]
    for alternatives in choices:
        for condition, item in alternatives:
            text = dump({key: [item]}).split("\n", 1)[1]
            parts.append(text if condition is None else Switch(condition, on=text, off=""))
    if after:
        parts.append(dump(after))
    return sectioned(parts)
