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
import re
from typing import Any

from kmc.yaml_types import implicit_tag

# Plain scalars that PyYAML (YAML 1.1) may write bare but Go's YAML parsers (kubectl, kustomize,
# Helm) read as something other than a string: YAML 1.1's one-letter booleans, and YAML 1.2's
# numbers (0o17, 1e3, 0x1F, .inf). Quoting a string that did not need it costs nothing.
_GO_NON_STRINGS = re.compile(
    r"[yYnN]|[-+]?0o[0-7_]+|0x[0-9a-fA-F_]+|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


def _str(dumper: Any, value: str) -> Any:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    style = '"' if _GO_NON_STRINGS.fullmatch(value) else None
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
            self.mapping(value, 0, inline=False)
        else:
            self.sequence(value, 0, inline=False)
        return "".join(self.out)

    def mapping(self, value: dict[str, Any], indent: int, *, inline: bool) -> None:
        """Keys at column `indent`; with `inline`, the first one right after a `- `."""
        pad = " " * indent
        for key, child in value.items():
            if type(key) is not str or not key or len(key) > _MAX_KEY or "\n" in key:
                raise _Unsupported
            self.out.append(f"{'' if inline else pad}{_one_line(key)}:")
            inline = False
            self.node(child, indent, item=False)

    def sequence(self, value: list[Any], indent: int, *, inline: bool) -> None:
        """Dashes at column `indent`; with `inline`, the first one right after a `- `."""
        dash = " " * indent + "-"
        for child in value:
            self.out.append("-" if inline else dash)
            inline = False
            self.node(child, indent, item=True)

    def node(self, value: Any, indent: int, *, item: bool) -> None:
        """`value` after a key (or, with `item`, a dash) at column `indent`."""
        kind = type(value)
        if kind is str:
            text = _literal(value, indent + 2) if "\n" in value else _one_line(value)
            self.out.append(f" {text}\n")
        elif kind is dict:
            if value:
                self.out.append(" " if item else "\n")
                self.mapping(value, indent + 2, inline=item)
            else:
                self.out.append(" {}\n")
        elif kind is list:
            if value:
                self.out.append(" " if item else "\n")  # a mapping's sequence is not indented
                self.sequence(value, indent + 2 if item else indent, inline=item)
            else:
                self.out.append(" []\n")
        elif kind is bool:
            self.out.append(" true\n" if value else " false\n")
        elif kind is int:
            self.out.append(f" {value}\n")
        elif value is None:
            self.out.append(" null\n")
        else:
            raise _Unsupported


@functools.lru_cache(maxsize=16384)  # keys and values repeat across objects and environments
def _one_line(value: str) -> str:
    """A string without line breaks as libyaml writes it (plain, double- or single-quoted)."""
    if len(value) > _MAX_INLINE or not (value.isascii() and value.isprintable()):
        raise _Unsupported
    if _GO_NON_STRINGS.fullmatch(value):
        return f'"{value}"'  # only digits, letters and . _ + -: nothing to escape
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
