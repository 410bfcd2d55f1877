"""The oldest release of each image kmc deploys that understands every flag and configuration
field kmc gives it, and the check of the images a stack names against them.

A tag older than its minimum is an error where it is written (the stack or an environment), also
beside a digest (`repo:tag@sha256:...`); an image pinned by digest alone, or a tag that is no
version, is a warning: kmc cannot tell what it runs.
Only the version's core (major.minor.patch) is compared: a suffix is as often a build variant
(`-distroless`, `-ubuntu`) as a pre-release. Values given at install time (`helm --set`) are the
deployer's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from kmc.read.document import JsonPath
from kmc.record import record

Version = tuple[int, int, int]
Problem = tuple[JsonPath, str, str]

SEMVER = re.compile(r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:[-+][0-9A-Za-z.+-]*)?")


@record
class Minimum:
    """The oldest release of `program` kmc supports, the deploy-time parameters naming its image, and why."""

    program: str
    version: Version
    parameters: tuple[str, ...]
    reason: str


MINIMUMS: tuple[Minimum, ...] = (
    # prometheus/prometheus CHANGELOG.md: 2.50.0 "Remote Write: Drop old inmemory samples ...
    # `sample_age_limit`" (#13002), which remoteWrite.queueConfig passes through; the rest kmc
    # emits is older (keep_firing_for 2.42.0, discovery.k8s.io/v1 EndpointSlices 2.35.0,
    # authorization.credentials_file 2.26.0, --enable-feature=expand-external-labels 2.27.0).
    Minimum(
        "Prometheus",
        (2, 50, 0),
        ("prometheus.image",),
        "remote_write's queue_config.sample_age_limit is new in 2.50.0",
    ),
    # prometheus/alertmanager CHANGELOG.md: 0.28.0 "Fix crash errors when using `url_file` in the
    # Webhook integration" (#3800); url_file is 0.26.0's, routing_key_file, service_key_file and
    # auth_password_file 0.25.0's, source_matchers/target_matchers and api_url_file 0.22.0's.
    Minimum(
        "Alertmanager",
        (0, 28, 0),
        ("alertmanager.image",),
        "kmc passes webhook URLs as url_file, which crashes Alertmanager before 0.28.0 on an error response",
    ),
    # prometheus-operator/prometheus-operator CHANGELOG.md: 0.65.0 "Add optional liveness and
    # readiness probes to `prometheus-config-reloader`" (#5449), the /healthz kmc probes;
    # --watched-dir and --listen-address are 0.43.0's.
    Minimum(
        "prometheus-config-reloader",
        (0, 65, 0),
        ("prometheus.configReloaderImage", "alertmanager.configReloaderImage"),
        "kmc probes the sidecar's /healthz, which it serves from 0.65.0",
    ),
    # thanos-io/thanos CHANGELOG.md: v0.37.0 "Sidecar: Fix retrieval of external labels for
    # Prometheus v3.0.0" (#7893); `query --endpoint` is v0.24.0's (#4282).
    Minimum(
        "Thanos",
        (0, 37, 0),
        ("prometheus.thanosImage",),
        "the sidecar reads Prometheus 3's external labels from 0.37.0 (kmc's Prometheus is 3.x)",
    ),
    # prometheus/node_exporter CHANGELOG.md: 1.2.0 renamed `--collector.filesystem.ignored-mount-points`
    # to `--collector.filesystem.mount-points-exclude`; `--collector.systemd.unit-include` is 1.1.0's.
    Minimum(
        "node-exporter",
        (1, 2, 0),
        ("nodeExporter.image",),
        "--collector.filesystem.mount-points-exclude is new in 1.2.0",
    ),
    # kubernetes/kube-state-metrics CHANGELOG.md: v2.7.0 "Support autoscaling/v2 resources for
    # HorizontalPodAutoscaler" (#1906): autoscaling/v2beta2 is gone from Kubernetes 1.26, and
    # kmc's rules read kube_horizontalpodautoscaler_*; `--resources` is v2.0.0's.
    Minimum(
        "kube-state-metrics",
        (2, 7, 0),
        ("kubeStateMetrics.image",),
        "HorizontalPodAutoscalers are read as autoscaling/v2 from 2.7.0 (v2beta2 is gone from Kubernetes 1.26)",
    ),
    # kubernetes-sigs/metrics-server, commit a2d732e5 "Implement using /metrics/resource Kubelet
    # endpoint", first in v0.6.0: kmc grants nodes/metrics, not the nodes/stats earlier releases read.
    Minimum(
        "metrics-server",
        (0, 6, 0),
        ("metricsServer.image",),
        "kmc grants nodes/metrics, which metrics-server reads from 0.6.0 (earlier releases read nodes/stats)",
    ),
    # kubernetes-sigs/prometheus-adapter, commit 3ae38c74 "Allow metrics to be defined as
    # namespaced: false" (first in v0.9.0), for cluster-wide external metrics; the
    # v1beta2.custom.metrics.k8s.io APIService kmc registers is served from v0.8.0.
    Minimum(
        "prometheus-adapter",
        (0, 9, 0),
        ("prometheusAdapter.image",),
        "external rules with `namespaced: false` are read from 0.9.0",
    ),
    # grafana/grafana pull request #83034 "Provisioning: datasources auto deletion", first in
    # 11.0.0: kmc's datasources file sets `prune: true`, so a datasource dropped from the stack
    # leaves Grafana.
    Minimum(
        "Grafana",
        (11, 0, 0),
        ("grafana.image",),
        "kmc's datasources file sets `prune: true`, read from 11.0.0, so a datasource dropped from the stack leaves Grafana",
    ),
)


def version_of(tag: str) -> Version | None:
    """The core version of `tag` (`v2.53.0`, `12.2.1-ubuntu`), or None if it is none."""
    match = SEMVER.fullmatch(tag)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def tag_of(image: str) -> str | None:
    """The tag of an image reference (`repo:tag`, `repo:tag@sha256:...`), or None when it is pinned by digest alone."""
    reference, digest, _ = image.partition("@")
    name, _, tag = reference.rpartition(":")
    tag = tag if name and "/" not in tag else ""
    return None if digest and not tag else tag


def dotted(version: Version) -> str:
    return ".".join(map(str, version))


def _written(data: Mapping[str, Any], parameter: str) -> Iterator[tuple[JsonPath, str]]:
    """Where `parameter` is written (the stack, then each environment), with its value."""
    section, key = parameter.split(".")
    value = data.get(section, {}).get(key) if isinstance(data.get(section), Mapping) else None
    if isinstance(value, str):
        yield (section, key), value
    for env, overrides in (data.get("environments") or {}).items():
        value = overrides.get(section, {}).get(key) if isinstance(overrides.get(section), Mapping) else None
        if isinstance(value, str):
            yield ("environments", env, section, key), value


def problems(data: Mapping[str, Any]) -> Iterator[Problem]:
    """Every image the stack or an environment names that is older than kmc's minimum."""
    for minimum in MINIMUMS:
        for parameter in minimum.parameters:
            for where, image in _written(data, parameter):
                tag = tag_of(image)
                version = version_of(tag) if tag else None
                if version is not None and version < minimum.version:
                    yield (
                        where,
                        f"{minimum.program} {tag} is older than {dotted(minimum.version)}, the oldest kmc supports",
                        f"{minimum.reason}: use {dotted(minimum.version)} or later",
                    )


def unchecked(data: Mapping[str, Any]) -> Iterator[Problem]:
    """Every image the stack or an environment names whose version kmc cannot read."""
    for minimum in MINIMUMS:
        for parameter in minimum.parameters:
            for where, image in _written(data, parameter):
                tag = tag_of(image)
                needs = f"make sure it is {minimum.program} {dotted(minimum.version)} or later: {minimum.reason}"
                if tag is None:
                    yield (
                        where,
                        f"{minimum.program} image is pinned by digest alone: kmc cannot check its version",
                        f"write its tag beside the digest (`repo:tag@sha256:...`, the digest still decides what runs), or {needs}",
                    )
                elif version_of(tag) is None:
                    yield where, f"{minimum.program} image tag {tag!r} is not a version: kmc cannot check it", needs
