"""`kmc explain`: a key's summary is its description's whole first sentence."""

from __future__ import annotations

import pytest

from kmc.check.schema import load_schema
from kmc.commands.explain import explain, first_sentence, paths


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("Extra settings (e.g. `server: {root_url: x}`). They go into a ConfigMap.", "Extra settings (e.g. `server: {root_url: x}`)"),
        ("Variables such as GF_X (e.g. GF_DATABASE_PASSWORD), passed as files. More.", "Variables such as GF_X (e.g. GF_DATABASE_PASSWORD), passed as files"),
        ("Shorter, e.g. 2 or 3. More.", "Shorter, e.g. 2 or 3"),
        ("Loki, another Prometheus or Thanos... Credentials come from Secrets.", "Loki, another Prometheus or Thanos..."),
        ("A quantity such as 1.5 or 512Mi.", "A quantity such as 1.5 or 512Mi"),
        ("One sentence only", "One sentence only"),
    ],
)
def test_first_sentence(text: str, sentence: str) -> None:
    assert first_sentence(text) == sentence


def test_no_summary_stops_inside_parentheses_or_code_or_after_an_abbreviation() -> None:
    schema = load_schema()
    checked = 0
    for path in {path.rsplit(".", 1)[0] for path in paths(schema) if "." in path} | {""}:
        text = explain(schema, path)
        if "  keys:\n" not in text:
            continue
        for line in text.split("  keys:\n", 1)[1].splitlines():
            summary = line.strip().split("  ", 1)[-1].strip()
            checked += 1
            assert summary.count("(") == summary.count(")"), (path, line)
            assert summary.count("`") % 2 == 0, (path, line)
            assert not summary.endswith(("e.g", "i.e", "(e", "(i")), (path, line)
    assert checked > 300
