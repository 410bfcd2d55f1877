"""kmc's indented JSON writer writes exactly what json.dumps writes (it is only faster)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kmc.text import json_text

_keys = st.text(max_size=8) | st.sampled_from(["a", "b", "é", "\u2028", '"', "\\"])
_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(_keys | st.integers(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=800, deadline=None)
@given(_values, st.sampled_from([0, 1, 2, 4]), st.booleans(), st.booleans())
def test_equals_json_dumps(value: Any, indent: int, sort_keys: bool, ensure_ascii: bool) -> None:
    try:
        expected = json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    except TypeError:  # keys of mixed types do not sort
        return
    assert json_text.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii) == expected


def test_writes_nested_values_itself() -> None:
    value = {"b": [1, 2.5, None, True, {"x": "é"}], "a": {}, "c": [], "d": ("t",)}
    out: list[str] = []
    json_text._write(out, value, "\n", "  ", True, json.encoder.encode_basestring)  # raises when it would hand over
    assert "".join(out) == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
