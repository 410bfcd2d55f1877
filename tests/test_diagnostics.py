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


STACK_WIDE = [
    pytest.param("environments:\n  dev:\n    namespace: other\n", "$.environments.dev.namespace", "namespace", id="namespace"),
    pytest.param(
        "environments:\n  dev:\n    prometheus:\n      scrapeInterval: 10s\n",
        "$.environments.dev.prometheus.scrapeInterval",
        "prometheus.scrapeInterval",
        id="scrape-interval",
    ),
]


@pytest.mark.parametrize(("body", "path", "key"), STACK_WIDE)
def test_a_compile_time_key_in_an_environment_says_it_cannot_vary(tmp_path: Path, body: str, path: str, key: str) -> None:
    found = at(problems(tmp_path, body), path)
    assert found.message == f"`{key}` cannot vary per environment"
    assert f"set it once at `{key}` in the stack's top level" in found.hint


def test_an_environment_cannot_remove_a_key(tmp_path: Path) -> None:
    body = "prometheus:\n  storage: {size: 10Gi}\nenvironments:\n  dev:\n    prometheus:\n      storage: null\n"
    found = at(problems(tmp_path, body), "$.environments.dev.prometheus.storage")
    assert found.message == "an environment cannot remove `prometheus.storage`"
    assert "set or remove it in the stack's top level" in found.hint


def test_an_unknown_key_in_an_environment_is_still_unknown(tmp_path: Path) -> None:
    found = at(problems(tmp_path, "environments:\n  dev:\n    prometheus:\n      retension: 2d\n"), "$.environments.dev.prometheus.retension")
    assert (found.message, found.hint) == ("unknown key 'retension'", "did you mean 'retention'?")
