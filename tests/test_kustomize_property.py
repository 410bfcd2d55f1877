"""Property: for generated stacks, every `kubectl kustomize overlays/E` equals the manifests of E
(real kubectl; few examples, since each one runs kubectl once per environment)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from object_sets import difference, directory_objects, objects_of
from stack_strategies import dump, stacks
from tools import KUBECTLS, tool

from kmc import pipeline

KUBECTL = KUBECTLS["kubectl-1.37"]


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(doc=stacks())
def test_kustomize_overlays_equal_manifests(doc: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("kustomize")
    (root / "stack.yaml").write_bytes(dump(doc))
    pipeline.build(root / "stack.yaml", root / "out", ("manifests", "kustomize"), None)
    for overlay in sorted((root / "out/kustomize/overlays").iterdir()):
        result = subprocess.run([tool(KUBECTL), "kustomize", overlay], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        expected = directory_objects(root / "out/manifests" / overlay.name)
        built = objects_of([result.stdout])
        assert built == expected, difference(expected, built)


def test_property_inputs_exist() -> None:
    assert Path(KUBECTL).name == "kubectl"
