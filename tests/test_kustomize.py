"""The kustomize tree is equal to the manifests: `kubectl kustomize overlays/E` ≡ manifests/E,
judged by real kubectl builds (kustomize 5.5 and later)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from object_sets import difference, directory_objects, objects_of
from tools import KUBECTLS, ROOT, tool

OVERLAYS = sorted(ROOT.glob("golden/*/out/kustomize/overlays/*")) + sorted(ROOT.glob("charts-out/kustomize/overlays/*"))


def kustomize(kubectl: Path, overlay: Path) -> str:
    result = subprocess.run([tool(kubectl), "kustomize", overlay], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_environment_has_an_overlay() -> None:
    for manifests in ROOT.glob("golden/*/out/manifests/*"):
        assert (manifests.parents[1] / "kustomize/overlays" / manifests.name / "kustomization.yaml").is_file(), manifests


@pytest.mark.parametrize("kubectl", sorted(KUBECTLS))
@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: str(path.relative_to(ROOT)))
def test_overlay_equals_manifests(kubectl: str, overlay: Path) -> None:
    built = objects_of([kustomize(KUBECTLS[kubectl], overlay)])
    expected = directory_objects(overlay.parents[2] / "manifests" / overlay.name)
    assert built == expected, difference(expected, built)


def test_base_objects_have_one_file_each_and_no_namespace_transformer() -> None:
    for kustomization in ROOT.glob("golden/*/out/kustomize/**/kustomization.yaml"):
        data = yaml.safe_load(kustomization.read_text())
        assert "namespace" not in data, kustomization
        assert "configMapGenerator" not in data and "secretGenerator" not in data
        for resource in data.get("resources", []):
            assert (kustomization.parent / resource).exists(), (kustomization, resource)


# Strings some YAML parser reads as a boolean or a number; each is a valid label value.
TRICKY = ["y", "Y", "n", "N", "yes", "no", "on", "off", "true", "False", "null", "0o17", "0x1F", "1e3", "1_000", "012", "1.0", "0", "inf", "nan"]


@pytest.mark.parametrize("kubectl", sorted(KUBECTLS))
def test_strings_stay_strings_through_kubectl(kubectl: str, tmp_path: Path) -> None:
    from kmc import pipeline

    selector = "\n".join(f"        k{index}: {value!r}" for index, value in enumerate(TRICKY))
    (tmp_path / "stack.yaml").write_text(f"version: 1\nenvironments:\n  odd:\n    prometheus:\n      nodeSelector:\n{selector}\n")
    pipeline.build(tmp_path / "stack.yaml", tmp_path / "out", ("manifests", "kustomize"), None)
    built = objects_of([kustomize(KUBECTLS[kubectl], tmp_path / "out/kustomize/overlays/odd")])
    expected = directory_objects(tmp_path / "out/manifests/odd")
    assert built == expected, difference(expected, built)
    deployment = yaml.safe_load((tmp_path / "out/manifests/odd/12-deployment-prometheus.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {f"k{index}": value for index, value in enumerate(TRICKY)}
