"""What needs the stack's Prometheus where `prometheus.enabled` switches it off.

Refused (an error where it is switched on): prometheus-adapter without `prometheusUrl` (it would
answer the metrics APIs from nothing), Alertmanager (only the stack's Prometheus sends it alerts),
and a Grafana whose environments disagree about Prometheus (its datasources file is compiled
once). Dropped with a warning: Grafana's Prometheus datasource where Prometheus is off wherever
Grafana runs, with kmc's library dashboards unless the stack lists them (then they find no
datasource: an error of their own), and the
parts of the stack that only Prometheus reads (remote write and read, Thanos, HA and shards, the
rules, prometheus.features, the extra scrape jobs). Exporters left on are said: nothing in the
stack scrapes them. HPAs on custom or external metrics need prometheus-adapter, so they follow it.
"""

from __future__ import annotations

from collections.abc import Iterator

from kmc.components.base import PROMETHEUS_SWITCH
from kmc.ir import lookup
from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str]


def _where(env: str | None, switch: str) -> JsonPath:
    section, key = switch.split(".")
    return (section, key) if env is None else ("environments", env, section, key)


def problems(stack: Stack) -> Iterator[Problem]:
    """The dependents of Prometheus switched on where it is off."""
    environments = (None, *stack.environments)
    for env in environments:
        values = stack.values(env)
        if lookup(values, PROMETHEUS_SWITCH):
            continue
        place = "the stack" if env is None else f"environment {env!r}"
        if lookup(values, "prometheusAdapter.enabled") and stack.prometheus_adapter.prometheus_url is None:
            yield (
                _where(env, "prometheusAdapter.enabled"),
                f"prometheus-adapter reads the stack's Prometheus, which is off in {place}",
                "switch prometheusAdapter off there, or point it at another Prometheus with prometheusAdapter.prometheusUrl",
            )
        if lookup(values, "alertmanager.enabled"):
            yield (
                _where(env, "alertmanager.enabled"),
                f"Alertmanager receives alerts from the stack's Prometheus, which is off in {place}",
                "switch alertmanager off where Prometheus is",
            )
    grafana = [env for env in environments if lookup(stack.values(env), "grafana.enabled")]
    with_prometheus = {env for env in grafana if lookup(stack.values(env), PROMETHEUS_SWITCH)}
    if with_prometheus and len(with_prometheus) < len(grafana):
        off = next(env for env in grafana if env not in with_prometheus)
        yield (
            _where(off, PROMETHEUS_SWITCH),
            f"Prometheus is off in {'the stack' if off is None else f'environment {off!r}'} but on in other environments that run Grafana",
            "Grafana's datasources are compiled once: switch Prometheus on or off in every environment that runs Grafana",
        )


def warnings(stack: Stack) -> Iterator[Problem]:
    """What a stack without Prometheus drops, or runs to no use."""
    if stack.enabled_somewhere(PROMETHEUS_SWITCH):
        return
    where: JsonPath = ("prometheus", "enabled")
    if stack.enabled_somewhere("grafana.enabled"):
        yield (
            where,
            "Grafana gets no Prometheus datasource: the stack has no Prometheus",
            "give Grafana datasources of your own in grafana.datasources; kmc's library dashboards, which query Prometheus, are left out unless you list them",
        )
    for switch, name in (("nodeExporter.enabled", "node-exporter"), ("kubeStateMetrics.enabled", "kube-state-metrics")):
        if stack.enabled_somewhere(switch):
            yield (
                _where(None, switch),
                f"{name} runs, but the stack has no Prometheus to scrape it",
                f"switch it off ({switch}: false), or scrape it from a Prometheus of your own",
            )
    prom = stack.prometheus
    dropped = [
        ("remoteWrite", bool(prom.remote_write)),
        ("remoteRead", bool(prom.remote_read)),
        ("thanos", prom.thanos_sidecar or prom.thanos_query),
        ("ha", prom.ha_enabled),
        ("shards", prom.shards > 1),
        ("features", prom.features is not None),
    ]
    for key, written in dropped:
        if written:
            yield ("prometheus", key), f"prometheus.{key} is dropped: the stack has no Prometheus", "remove it, or switch Prometheus on"
    if stack.rules.groups:
        yield ("rules", "groups"), "the stack's rule groups are dropped: the stack has no Prometheus to evaluate them", "remove them, or switch Prometheus on"
    if stack.scrape.extra_jobs:
        yield ("scrape", "extraJobs"), "the extra scrape jobs are dropped: the stack has no Prometheus", "remove them, or switch Prometheus on"
