"""Which plain scalars the Go YAML parsers that read kmc's output take for something else than text.

kubectl and Helm read YAML with sigs.k8s.io/yaml over go-yaml v2 (go.yaml.in/yaml/v2 2.4.x),
kustomize with kyaml over go-yaml v3 (3.0.x). Their resolvers (resolve.go of go-yaml v2.4.0 and
v3.0.1) differ from PyYAML's YAML 1.1 one: `y`, `n`, `0X1F`, `0o17`, `1e5_`, `+_1` and `2001-1-1`
are text to PyYAML but a boolean, numbers and a date to Go, so a key `0X1F` written bare is
renamed `31` by kubectl and Helm. These rules are kmc's own reading of those resolvers, kept a
little wider than Go (number ranges and day-of-month checks are ignored): quoting a string that
did not need it costs nothing, leaving bare one that did changes the user's data.

go-yaml's rules, for a plain scalar S:
- a fixed list of words: YAML 1.1 booleans (v2 only: y/n/yes/no/on/off in three cases), true and
  false, nulls (``, `~`, null), `.inf`/`.nan` spellings, `<<`;
- otherwise only S starting with a digit, a sign or `.` can be anything but text. With `.`, S is
  a float if Go's strconv.ParseFloat accepts it (it allows `_` between digits). With a digit or
  a sign: a date if it starts with four digits and `-` and time.Parse reads it in one of four
  layouts; else, after removing every `_`, an integer in Go syntax (0x, 0X, 0b, 0B, 0o, 0O, a
  leading 0), a float of the form `[-+]?(.D|D[.D])[eE[-+]D]`, `0b`/`-0b` binary (the digits may
  carry a sign of their own after `0b`), and in v3 `0o`/`-0o` octal likewise.
"""

from __future__ import annotations

import re

_WORDS = frozenset(
    (
        *("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"),
        *("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"),
        *("", "~", "null", "Null", "NULL", "<<"),
        *(sign + dot for sign in ("", "+", "-") for dot in (".inf", ".Inf", ".INF")),
        *(".nan", ".NaN", ".NAN"),
    )
)
# strconv.ParseFloat of a scalar starting with `.` (underscores allowed between digits).
_DOT_FLOAT = re.compile(r"\.[0-9][0-9_]*(?:[eE][-+]?[0-9_]+)?")
# go-yaml's parseTimestamp: four digits and `-`, then time.Parse in the layouts `2006-1-2`,
# `2006-1-2T15:4:5.999999999Z07:00` (also with `t`) and `2006-1-2 15:4:5.999999999`; Go reads
# 1-2 digits for each field but the year, and a fraction after `.` or `,`.
_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:[.,][0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})?)?")
# The number rules, on the scalar with every `_` removed.
_NUMBER = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+)"  # strconv.ParseInt/ParseUint, base 0
    r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"  # decimal integers, yamlStyleFloat
    r"|0[bo][-+]?[0-9]+|-0[bo][0-9]+"  # the explicit 0b (v2, v3) and 0o (v3) paths
)


def reads_as_text(text: str) -> bool:
    """Whether go-yaml v2 and v3 both resolve the plain scalar `text` to a string."""
    if text in _WORDS:
        return False
    first = text[0]
    if first == ".":
        return not _DOT_FLOAT.fullmatch(text)
    if first not in "+-0123456789":
        return True
    if _DATE.fullmatch(text):
        return False
    return not _NUMBER.fullmatch(text.replace("_", ""))
