"""The oldest release of each image kmc deploys (kmc.check.images.MINIMUMS): every image parameter
has one, every default meets it, an older tag is an error where it is written, a digest or a tag
that is no version a warning.

Where each minimum comes from, at the tags named: prometheus/prometheus CHANGELOG.md at v2.53.0
(2.50.0: `sample_age_limit`, #13002); prometheus/alertmanager CHANGELOG.md at v0.28.1 (0.28.0:
the webhook `url_file` crash, #3800); prometheus-operator/prometheus-operator CHANGELOG.md at
v0.93.0 (0.65.0: the config-reloader's probes, #5449); thanos-io/thanos CHANGELOG.md at v0.39.2
(v0.37.0: Prometheus 3's external labels, #7893); prometheus/node_exporter CHANGELOG.md at v1.9.1
(1.2.0: `--collector.filesystem.mount-points-exclude`); kubernetes/kube-state-metrics
CHANGELOG.md at v2.16.0 (v2.7.0: autoscaling/v2, #1906); kubernetes-sigs/metrics-server at v0.6.0
(the kubelet's /metrics/resource, commit a2d732e5; v0.5.2's manifests grant nodes/stats);
kubernetes-sigs/prometheus-adapter at v0.9.0 (`namespaced`, commit 3ae38c74); grafana/grafana pull
request #83034 (datasources' `prune`, Grafana 11.0.0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stack_diagnostics import diagnostics
from tools import ROOT

from kmc import pipeline
from kmc.check import images
from kmc.check.images import MINIMUMS, dotted, tag_of, version_of
from kmc.ir import Param

SCHEMA = json.loads((ROOT / "schema/stack.schema.json").read_text(encoding="utf-8"))
PARAMETERS = {parameter: minimum for minimum in MINIMUMS for parameter in minimum.parameters}


def _image_parameters(schema: dict[str, Any], path: str = "") -> dict[str, dict[str, Any]]:
    """Every property of the schema that is an image reference, by dotted path (fragments included)."""
    found: dict[str, dict[str, Any]] = {}
    for name, prop in schema.get("properties", {}).items():
        where = f"{path}.{name}" if path else name
        if prop.get("$ref") == "#/$defs/image":
            found[where] = prop
        found.update(_image_parameters(prop, where))
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/") and ref != "#/$defs/image":
        found.update(_image_parameters(SCHEMA["$defs"][ref.removeprefix("#/$defs/")], path))
    return found


IMAGE_PARAMETERS = _image_parameters(SCHEMA)


def test_every_image_parameter_has_one_minimum() -> None:
    assert sorted(IMAGE_PARAMETERS) == sorted(PARAMETERS)
    assert len(PARAMETERS) == sum(len(minimum.parameters) for minimum in MINIMUMS) == 10


@pytest.mark.parametrize("parameter", sorted(IMAGE_PARAMETERS))
def test_defaults_and_examples_meet_the_minimum_and_the_description_names_it(parameter: str) -> None:
    prop, minimum = IMAGE_PARAMETERS[parameter], PARAMETERS[parameter]
    for image in (prop["default"], *prop["examples"]):
        version = version_of(tag_of(image) or "")
        assert version is not None and version >= minimum.version, image
    assert f"{dotted(minimum.version)} or later" in prop["description"]


def test_every_image_kmc_deploys_is_a_checked_parameter() -> None:
    """golden/full enables every component: each container's image is a parameter with a minimum."""
    graph = pipeline.compile_stack(ROOT / "golden/full/stack.yaml").graph
    seen = set()
    for obj in graph.objects:
        spec = obj.body.get("spec", {})
        if not isinstance(spec, dict):
            continue  # a PodDisruptionBudget's spec chosen by a parameter (a Switch)
        pod = spec.get("template", {}).get("spec", spec)
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            assert isinstance(container["image"], Param), (obj.kind, obj.name, container["name"])
            seen.add(container["image"].path)
    assert seen == set(PARAMETERS)


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v2.53.0", (2, 53, 0)),
        ("12.2.1", (12, 2, 1)),
        ("12.2.1-ubuntu", (12, 2, 1)),
        ("v1.9.1-distroless", (1, 9, 1)),
        ("v3.0.0-rc.1", (3, 0, 0)),
        ("v2.53", None),
        ("latest", None),
        ("main-2024-01-01", None),
        ("v02.1.0", None),
    ],
)
def test_version_of_a_tag(tag: str, version: tuple[int, int, int] | None) -> None:
    assert version_of(tag) == version


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("quay.io/prometheus/prometheus:v3.5.0", "v3.5.0"),
        ("registry.example.com:5000/prometheus:v3.5.0", "v3.5.0"),
        ("registry.example.com:5000/prometheus@sha256:" + "0" * 64, None),
        ("quay.io/prometheus/prometheus:v3.5.0@sha256:" + "0" * 64, "v3.5.0"),  # the tag beside the digest is checked
        ("localhost:5000/prometheus@sha256:" + "0" * 64, None),
        ("prometheus:latest", "latest"),
    ],
)
def test_tag_of_an_image(image: str, tag: str | None) -> None:
    assert tag_of(image) == tag


def test_older_tags_are_errors_where_written(tmp_path: Path) -> None:
    text = (
        "version: 1\n"
        "prometheus:\n"
        "  image: quay.io/prometheus/prometheus:v2.49.1\n"
        "grafana: {enabled: true}\n"
        "environments:\n"
        "  legacy:\n"
        "    grafana: {image: docker.io/grafana/grafana:10.4.3}\n"
        "    metricsServer: {image: registry.k8s.io/metrics-server/metrics-server:v0.5.2}\n"
    )
    assert diagnostics(tmp_path, text) == [
        (
            "error",
            3,
            10,
            "$.prometheus.image",
            "Prometheus v2.49.1 is older than 2.50.0, the oldest kmc supports",
            "remote_write's queue_config.sample_age_limit is new in 2.50.0: use 2.50.0 or later",
        ),
        (
            "error",
            7,
            22,
            "$.environments.legacy.grafana.image",
            "Grafana 10.4.3 is older than 11.0.0, the oldest kmc supports",
            "kmc's datasources file sets `prune: true`, read from 11.0.0, so a datasource dropped from the stack leaves Grafana: use 11.0.0 or later",
        ),
        (
            "error",
            8,
            28,
            "$.environments.legacy.metricsServer.image",
            "metrics-server v0.5.2 is older than 0.6.0, the oldest kmc supports",
            "kmc grants nodes/metrics, which metrics-server reads from 0.6.0 (earlier releases read nodes/stats): use 0.6.0 or later",
        ),
    ]


def test_digests_and_unversioned_tags_are_warnings(tmp_path: Path) -> None:
    digest = "@sha256:" + "ab" * 32
    text = (
        "version: 1\n"
        "prometheus:\n"
        f"  configReloaderImage: quay.io/prometheus-operator/prometheus-config-reloader{digest}\n"
        "environments:\n"
        "  edge:\n"
        "    kubeStateMetrics: {image: registry.k8s.io/kube-state-metrics/kube-state-metrics:main}\n"
    )
    assert diagnostics(tmp_path, text) == [
        (
            "warning",
            3,
            24,
            "$.prometheus.configReloaderImage",
            "prometheus-config-reloader image is pinned by digest alone: kmc cannot check its version",
            "write its tag beside the digest (`repo:tag@sha256:...`, the digest still decides what runs), or make sure it is prometheus-config-reloader 0.65.0 or later: kmc probes the sidecar's /healthz, which it serves from 0.65.0",
        ),
        (
            "warning",
            6,
            31,
            "$.environments.edge.kubeStateMetrics.image",
            "kube-state-metrics image tag 'main' is not a version: kmc cannot check it",
            "make sure it is kube-state-metrics 2.7.0 or later: HorizontalPodAutoscalers are read as autoscaling/v2 from 2.7.0 (v2beta2 is gone from Kubernetes 1.26)",
        ),
    ]


def test_a_tag_beside_a_digest_is_checked(tmp_path: Path) -> None:
    digest = "@sha256:" + "ab" * 32
    text = f"version: 1\nprometheus:\n  image: quay.io/prometheus/prometheus:v2.49.1{digest}\n  thanosImage: quay.io/thanos/thanos:v0.39.2{digest}\n"
    assert diagnostics(tmp_path, text) == [
        (
            "error",
            3,
            10,
            "$.prometheus.image",
            "Prometheus v2.49.1 is older than 2.50.0, the oldest kmc supports",
            "remote_write's queue_config.sample_age_limit is new in 2.50.0: use 2.50.0 or later",
        ),
    ]


versions = st.tuples(st.integers(0, 13), st.integers(0, 60), st.integers(0, 3))


@given(parameter=st.sampled_from(sorted(PARAMETERS)), version=versions, prefix=st.sampled_from(("", "v")), suffix=st.sampled_from(("", "-rc.0", "-ubuntu")))
def test_a_tag_is_refused_exactly_when_older_than_the_minimum(parameter: str, version: tuple[int, int, int], prefix: str, suffix: str) -> None:
    section, key = parameter.split(".")
    tag = f"{prefix}{dotted(version)}{suffix}"
    data = {"version": 1, section: {key: f"registry.example.com/{section.lower()}:{tag}"}, "environments": {"e": {section: {key: f"example.com/x:{tag}"}}}}
    found = list(images.problems(data))
    assert [where for where, _, _ in found] == ([(section, key), ("environments", "e", section, key)] if version < PARAMETERS[parameter].version else [])
    assert not list(images.unchecked(data))
