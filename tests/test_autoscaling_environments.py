"""HPAs an environment leaves out (kmc.check.metrics.dropped_autoscalers).

An HPA exists in an environment only where every metrics API server it reads is enabled
(kmc.components.autoscaling.providers): without its API the HPA controller could not get the
metric and would not scale. An environment that switches such a server off gets a warning
naming the HPAs it drops and why, at the switch that drops them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kmc import pipeline
from kmc.errors import StackInvalid

SERVERS = (
    "metricsServer: {enabled: true, tls: {mode: cert-manager}}\n"
    "prometheusAdapter:\n"
    "  enabled: true\n"
    "  tls: {mode: cert-manager}\n"
    "  externalMetrics: [{name: queue_depth, series: rabbitmq_queue_messages}]\n"
)
AUTOSCALING = (
    "autoscaling:\n"
    "  - name: web\n"
    "    namespace: shop\n"
    "    target: {kind: Deployment, name: web}\n"
    "    maxReplicas: 5\n"
    "    metrics: [{resource: cpu, averageUtilization: 70}]\n"
    "  - name: worker\n"
    "    namespace: shop\n"
    "    target: {kind: Deployment, name: worker}\n"
    "    maxReplicas: 5\n"
    "    metrics: [{resource: cpu, averageUtilization: 70}, {external: queue_depth, value: '10'}]\n"
    "  - name: consumer\n"
    "    namespace: jobs\n"
    "    target: {kind: Deployment, name: consumer}\n"
    "    maxReplicas: 5\n"
    "    metrics: [{external: queue_depth, averageValue: '5'}]\n"
)
HINT = "a workload whose HPA is left out keeps the replicas it has; for it to scale there, set {switch}: true"


def _build(tmp_path: Path, text: str) -> tuple[list[tuple[str, int, int, str, str, str]], dict[str, set[str]]]:
    """The diagnostics of the stack, and the HPAs of each environment's manifests."""
    (tmp_path / "stack.yaml").write_text(text, encoding="utf-8")
    try:
        compiled = pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml")
    except StackInvalid as error:
        return [(d.severity, d.line, d.column, d.path, d.message, d.hint) for d in error.diagnostics], {}
    hpas: dict[str, set[str]] = {}
    for path, content in pipeline.emit(compiled, ("manifests",), None)["manifests"].items():
        env = path.split("/")[0]
        hpas.setdefault(env, set())
        if not path.endswith(".yaml"):
            continue  # PREREQUISITES.md
        obj = yaml.safe_load(content)
        if obj["kind"] == "HorizontalPodAutoscaler":
            hpas[env].add(f"{obj['metadata']['namespace']}/{obj['metadata']['name']}")
    return [(d.severity, d.line, d.column, d.path, d.message, d.hint) for d in compiled.warnings], hpas


def test_an_environment_that_switches_a_server_off_is_told_which_hpas_it_drops(tmp_path: Path) -> None:
    environments = (
        "environments:\n"
        "  dev:\n"
        "    prometheusAdapter: {enabled: false}\n"
        "  edge:\n"
        "    metricsServer: {enabled: false}\n"
        "    prometheusAdapter: {enabled: false}\n"
        "  prod:\n"
        "    metricsServer: {replicas: 2}\n"
    )
    warnings, hpas = _build(tmp_path, f"version: 1\n{SERVERS}{AUTOSCALING}{environments}")
    assert warnings == [
        (
            "warning",
            25,
            34,
            "$.environments.dev.prometheusAdapter.enabled",
            "environment 'dev' leaves out the HPAs shop/worker and jobs/consumer: prometheusAdapter.enabled is false there, "
            "and they read metrics from prometheus-adapter",
            HINT.format(switch="prometheusAdapter.enabled"),
        ),
        (
            "warning",
            27,
            30,
            "$.environments.edge.metricsServer.enabled",
            "environment 'edge' leaves out the HPAs shop/web and shop/worker: metricsServer.enabled is false there, and they read metrics from metrics-server",
            HINT.format(switch="metricsServer.enabled"),
        ),
        (
            "warning",
            28,
            34,
            "$.environments.edge.prometheusAdapter.enabled",
            "environment 'edge' leaves out the HPAs shop/worker and jobs/consumer: prometheusAdapter.enabled is false there, "
            "and they read metrics from prometheus-adapter",
            HINT.format(switch="prometheusAdapter.enabled"),
        ),
    ]
    every = {"shop/web", "shop/worker", "jobs/consumer"}
    assert hpas == {"default": every, "dev": {"shop/web"}, "edge": set(), "prod": every}, "the warnings say what the output does"


def test_a_server_off_in_the_stack_and_on_in_one_environment_is_reported_once_where_it_is_off(tmp_path: Path) -> None:
    servers = SERVERS.replace("  enabled: true\n", "  enabled: false\n")
    environments = "environments:\n  prod:\n    prometheusAdapter: {enabled: true}\n  staging:\n    metricsServer: {replicas: 2}\n"
    warnings, hpas = _build(tmp_path, f"version: 1\n{servers}{AUTOSCALING}{environments}")
    assert warnings == [
        (
            "warning",
            4,
            12,
            "$.prometheusAdapter.enabled",
            "the stack's own values and environment 'staging' leave out the HPAs shop/worker and jobs/consumer: prometheusAdapter.enabled is false there, "
            "and they read metrics from prometheus-adapter",
            HINT.format(switch="prometheusAdapter.enabled"),
        )
    ]
    assert hpas["staging"] == hpas["default"] == {"shop/web"}


def test_a_server_left_at_its_default_is_reported_at_the_key_to_set(tmp_path: Path) -> None:
    stack = (
        "version: 1\n"
        "autoscaling:\n"
        "  - {name: web, namespace: shop, target: {kind: Deployment, name: web}, maxReplicas: 5, metrics: [{resource: memory, averageValue: 1Gi}]}\n"
        "environments:\n"
        "  prod:\n"
        "    metricsServer: {enabled: true, replicas: 2}\n"
    )
    warnings, _ = _build(tmp_path, stack.replace("version: 1\n", "version: 1\nmetricsServer: {tls: {mode: cert-manager}}\n"))
    assert [(w[1], w[3], w[4]) for w in warnings] == [
        (
            2,
            "$.metricsServer.enabled",
            "the stack's own values leave out the HPA shop/web: metricsServer.enabled is false there, and it reads metrics from metrics-server",
        )
    ]


def test_no_warning_when_every_environment_serves_every_hpa(tmp_path: Path) -> None:
    environments = "environments:\n  prod:\n    prometheusAdapter: {replicas: 2}\n"
    warnings, hpas = _build(tmp_path, f"version: 1\n{SERVERS}{AUTOSCALING}{environments}")
    assert warnings == []
    assert hpas["prod"] == hpas["default"] == {"shop/web", "shop/worker", "jobs/consumer"}
