"""The registry of stack components, and the one function that turns a stack into objects."""

from __future__ import annotations

from collections.abc import Mapping

from kmc.components import grafana, kube, kube_state_metrics, namespace, node_exporter, prometheus, thanos
from kmc.components.base import Component, Facts
from kmc.ir import ObjectGraph
from kmc.model import Stack

# Sorted by name; every component of kmc is listed here and nowhere else.
COMPONENTS: Mapping[str, Component] = {
    grafana.NAME: grafana,
    kube_state_metrics.NAME: kube_state_metrics,
    namespace.NAME: namespace,
    node_exporter.NAME: node_exporter,
    prometheus.NAME: prometheus,
    thanos.NAME: thanos,
}


def facts(stack: Stack) -> Facts:
    """The cross-component facts, computed once."""
    targets = tuple(target for component in COMPONENTS.values() if component.compiled(stack) for target in component.scrape_targets(stack))
    url = f"http://{prometheus.NAME}.{stack.namespace}.svc.{stack.cluster.domain}:{prometheus.PORT}"
    if stack.prometheus.thanos_query:
        url = thanos.query_url(stack)  # the global view over every shard and replica
    return Facts(prometheus_url=url, service_targets=targets, prometheus_pods=kube.selector(prometheus.NAME))


def object_graph(stack: Stack) -> ObjectGraph:
    shared = facts(stack)
    return ObjectGraph.of(obj for component in COMPONENTS.values() if component.compiled(stack) for obj in component.objects(stack, shared))
