"""Deterministic YAML text: keys in the order the code built them, block literals for multi-line strings."""

from __future__ import annotations

import re
from typing import Any

import yaml

_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        # A list shared by two places (one `verbs` for two RBAC rules) is written out twice, never
        # as an anchor and alias: plainer for people, and some tools mishandle aliases.
        return True


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


_Dumper.add_representer(str, _str)


def dump(value: Any) -> str:
    """One YAML document for `value`, ending in a newline."""
    text: str = yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096)
    return text
