"""Air-gapped clusters: with `images.registry` and `images.pullSecrets`, every image of every pod
(init containers and sidecars too: the config-reloader, Thanos) comes from the mirror and every
pod pulls with the Secrets — in the manifests, in `helm template -f values-E.yaml` (Helm 4.3) and
in `kubectl kustomize overlays/E` (kubectl 1.37), for every golden case and environment; and
`kmc images` lists exactly the images the rendered output runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from tools import HELMS, KUBECTLS, ROOT, tool

from kmc import pipeline
from kmc.commands.cli import cli
from kmc.commands.images import images_of
from kmc.model import mirror

CASES = sorted(path.parent for path in ROOT.glob("golden/*/stack.yaml"))
MIRROR = "registry.example.com/mirror"
PULL_SECRETS = ["registry-credentials", "mirror-login"]
WORKLOADS = ("DaemonSet", "Deployment", "Job", "StatefulSet")


def _environments(out: Path) -> list[str]:
    return sorted(path.name for path in (out / "manifests").iterdir() if path.is_dir())


def _objects(text: str) -> list[dict[str, Any]]:
    return [obj for obj in yaml.safe_load_all(text) if obj]


def _manifests(out: Path, env: str) -> list[dict[str, Any]]:
    return [obj for path in sorted((out / "manifests" / env).glob("*.yaml")) for obj in _objects(path.read_text())]


def _helm(out: Path, env: str) -> list[dict[str, Any]]:
    chart = next((out / "helm").iterdir())
    values = [] if env == "default" else ["-f", str(chart / f"values-{env}.yaml")]
    result = subprocess.run([tool(HELMS["helm-4.3"]), "template", "r", str(chart), *values], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return _objects(result.stdout)


def _kustomize(out: Path, env: str) -> list[dict[str, Any]]:
    result = subprocess.run([tool(KUBECTLS["kubectl-1.37"]), "kustomize", str(out / "kustomize/overlays" / env)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return _objects(result.stdout)


def _pods(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]) for obj in objects if obj["kind"] in WORKLOADS]


def _air_gapped(case: Path, tmp_path: Path) -> Path:
    """A copy of golden `case` (its stack, dashboards and certificate state) pulling from the mirror with the pull Secrets."""
    copy = tmp_path / case.name
    shutil.copytree(case, copy, ignore=shutil.ignore_patterns("out"))
    data = yaml.safe_load((copy / "stack.yaml").read_text())
    data["images"] = {"registry": MIRROR, "pullSecrets": PULL_SECRETS}
    (copy / "stack.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return copy


@pytest.mark.parametrize("case", CASES, ids=lambda path: path.name)
def test_every_pod_pulls_every_image_from_the_mirror_in_every_format(case: Path, tmp_path: Path) -> None:
    stack = _air_gapped(case, tmp_path)
    out = tmp_path / "out"
    pipeline.build(stack / "stack.yaml", out, ("manifests", "helm", "kustomize"), None)
    for env in _environments(out):
        for fmt, objects in (("manifests", _manifests(out, env)), ("helm", _helm(out, env)), ("kustomize", _kustomize(out, env))):
            pods = _pods(objects)
            assert pods, (fmt, env)
            for who, pod in pods:
                assert pod.get("imagePullSecrets") == [{"name": name} for name in PULL_SECRETS], (fmt, env, who)
                for container in [*pod.get("initContainers", []), *pod["containers"]]:
                    assert container["image"].startswith(MIRROR + "/"), (fmt, env, who, container["name"], container["image"])


@pytest.mark.parametrize("case", CASES, ids=lambda path: path.name)
def test_kmc_images_lists_exactly_the_rendered_images(case: Path) -> None:
    out = case / "out"
    for env in _environments(out):
        listed = CliRunner().invoke(cli, ["images", str(case / "stack.yaml"), "--env", env])
        assert listed.exit_code == 0, listed.output
        lines = listed.stdout.splitlines()
        assert lines == sorted(set(lines)), "sorted, each once"
        assert lines == images_of(_manifests(out, env)), env
        assert lines == images_of(_helm(out, env)), env


def test_golden_full_is_air_gapped() -> None:
    out = ROOT / "golden/full/out"
    for env in _environments(out):
        for who, pod in _pods(_manifests(out, env)):
            assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}], (env, who)
            assert all(container["image"].startswith(MIRROR + "/") for container in pod["containers"]), (env, who)


@pytest.mark.parametrize(
    ("image", "mirrored"),
    [
        ("quay.io/prometheus/prometheus:v3.5.0", "registry.example.com/mirror/prometheus/prometheus:v3.5.0"),
        ("docker.io/grafana/grafana:12.2.1", "registry.example.com/mirror/grafana/grafana:12.2.1"),
        ("grafana/grafana:12.2.1", "registry.example.com/mirror/grafana/grafana:12.2.1"),  # Docker Hub, no host written
        ("registry.k8s.io/metrics-server/metrics-server:v0.8.1", "registry.example.com/mirror/metrics-server/metrics-server:v0.8.1"),
        ("localhost:5000/thanos:v0.39.2", "registry.example.com/mirror/thanos:v0.39.2"),
        ("localhost/thanos:v0.39.2", "registry.example.com/mirror/thanos:v0.39.2"),
        ("quay.io/thanos/thanos:v0.39.2@sha256:" + "a" * 64, "registry.example.com/mirror/thanos/thanos:v0.39.2@sha256:" + "a" * 64),
    ],
)
def test_mirror_replaces_the_registry_host(image: str, mirrored: str) -> None:
    assert mirror(image, MIRROR) == mirrored
