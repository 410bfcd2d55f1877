"""What `kmc validate` says about a bad stack: where (the offending key's own line:col), what, and
a hint a person can act on; every phase's problems in one run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kmc import pipeline
from kmc.errors import Diagnostic, StackInvalid

HEAD = 'version: 1\ncluster: {name: demo, kubernetesVersion: "1.33"}\n'


def problems(tmp_path: Path, body: str) -> list[Diagnostic]:
    """Every diagnostic `kmc validate` reports for HEAD + `body` (none for a valid stack)."""
    stack = tmp_path / "stack.yaml"
    stack.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    try:
        pipeline.compile_stack(stack, display="stack.yaml", certificates="files")
    except StackInvalid as err:
        return list(err.diagnostics)
    return []


def at(found: list[Diagnostic], path: str) -> Diagnostic:
    matching = [d for d in found if d.path == path]
    assert len(matching) == 1, [(d.path, d.message) for d in found]
    return matching[0]


BAD_KEYS = [
    pytest.param(
        """\
        environments:
          dev: {}
          Prod_1: {}
        """,
        "$.environments.Prod_1",
        (5, 3),
        "did you mean 'prod-1'? A DNS-1123 label",
        id="environment-name",
    ),
    pytest.param(
        """\
        prometheus:
          nodeSelector:
            kubernetes.io/os: linux
            "disk type": ssd
        """,
        "$.prometheus.nodeSelector['disk type']",
        (6, 5),
        "did you mean 'disk-type'? A Kubernetes label key",
        id="node-selector-key",
    ),
]


@pytest.mark.parametrize(("body", "path", "position", "hint"), BAD_KEYS)
def test_a_bad_key_is_reported_at_itself_with_a_human_hint(tmp_path: Path, body: str, path: str, position: tuple[int, int], hint: str) -> None:
    found = at(problems(tmp_path, body), path)
    assert (found.line, found.column) == position
    assert found.hint.startswith(hint), found.hint
    assert "for example" in found.hint
    assert "(?!" not in found.hint and "^" not in found.hint  # never a raw regular expression
