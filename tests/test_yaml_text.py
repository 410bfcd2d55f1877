"""kmc's own YAML writer writes exactly what PyYAML writes, and covers what kmc emits.

`yaml_text.dump` writes common values itself (PyYAML's representer is slow) and leaves anything
it is not sure of to PyYAML. Held here: on generated values, wherever the writer answers, its
text equals PyYAML's; on every YAML file of the golden outputs, read back, likewise — and there
the writer must answer, not hand the value to PyYAML, or builds quietly lose the speed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kmc.text import yaml_text

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_YAML = sorted(path for path in (ROOT / "golden").glob("*/out/**/*.yaml") if "templates" not in path.parts)

# Characters that change how YAML writes a string: indicators, spaces, breaks, digits and the
# letters of YAML 1.1's booleans, nulls and numbers, a tab and some beyond ASCII.
_TRICKY = " \n:#-?'\"{}[]&*!|>%@`,._+=<~yYnNoOtTfFeEx0123456789abl\t\xe9\u2028"
texts = st.text(alphabet=_TRICKY, max_size=12) | st.sampled_from(
    ["yes", "No", "null", "~", "<<", "=", "1_000", "0x1F", "1:30", "2001-12-14", ".inf", "---x", "... y", "a\nb", "a\n\nb\n", "- a", "? b"]
)
scalars = texts | st.integers(-(10**6), 10**6) | st.booleans() | st.none() | st.floats(allow_nan=False, width=32)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=24)
# Mostly what the writer writes itself: no floats, tabs or characters beyond ASCII.
ascii_texts = st.text(alphabet=_TRICKY[:-3], max_size=12)
ascii_values = st.recursive(
    ascii_texts | st.integers() | st.booleans() | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ascii_texts, inner, max_size=4),
    max_leaves=24,
)


def _written(value: Any) -> str | None:
    """The writer's own text for `value`, or None where it leaves the value to PyYAML."""
    try:
        return yaml_text._Writer().document(value)
    except yaml_text._Unsupported:
        return None


@settings(max_examples=600, deadline=None)
@given(st.lists(values | ascii_values, min_size=1, max_size=4) | st.dictionaries(texts, values | ascii_values, min_size=1, max_size=4))
def test_writer_equals_pyyaml(value: Any) -> None:
    written = _written(value)
    if written is not None:
        assert written == yaml_text.pyyaml_dump(value)
    assert yaml_text.dump(value) == yaml_text.pyyaml_dump(value)


@pytest.mark.parametrize("path", GOLDEN_YAML, ids=lambda path: str(path.relative_to(ROOT / "golden")))
def test_writer_writes_golden_output(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if isinstance(document, (dict, list)) and document and "{{" not in path.read_text(encoding="utf-8"):
            written = _written(document)
            assert written is not None, "left to PyYAML: the writer should know every value kmc emits"
            assert written == yaml_text.pyyaml_dump(document)


@pytest.mark.parametrize("value", [[], {}])
def test_empty_collections_are_written_as_pyyaml_writes_them(value: Any) -> None:
    assert yaml_text.dump(value) == yaml_text.pyyaml_dump(value)
