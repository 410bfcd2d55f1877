"""The registry of stack components, and the one function that turns a stack into objects."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from kmc.components import (
    aggregated_api,
    alertmanager,
    autoscaling,
    exposure,
    extra_objects,
    grafana,
    hatches,
    kube,
    kube_state_metrics,
    metrics_server,
    namespace,
    node_exporter,
    prometheus,
    prometheus_adapter,
    rules,
    thanos,
    workloads,
)
from kmc.components.base import Facts
from kmc.ir import KObject, ObjectGraph
from kmc.model import Stack

if TYPE_CHECKING:
    from kmc.components.base import Component

# Sorted by name; every component of kmc is listed here and nowhere else.
COMPONENTS: Mapping[str, Component] = {
    alertmanager.NAME: alertmanager,
    autoscaling.NAME: autoscaling,
    extra_objects.NAME: extra_objects,
    grafana.NAME: grafana,
    kube_state_metrics.NAME: kube_state_metrics,
    metrics_server.NAME: metrics_server,
    namespace.NAME: namespace,
    node_exporter.NAME: node_exporter,
    prometheus.NAME: prometheus,
    prometheus_adapter.NAME: prometheus_adapter,
    rules.NAME: rules,
    thanos.NAME: thanos,
}


def facts(stack: Stack) -> Facts:
    """The cross-component facts, computed once."""
    targets = tuple(target for component in COMPONENTS.values() if component.compiled(stack) for target in component.scrape_targets(stack))
    port = exposure.service_port(stack, prometheus.NAME)  # the stack's: an environment may not change it (kmc.check.exposure)
    url = f"http://{prometheus.NAME}.{stack.namespace}.svc.{stack.cluster.domain}:{port}{exposure.prefix(stack, prometheus.NAME)}"
    if stack.prometheus.thanos_query:
        url = thanos.query_url(stack)  # the global view over every shard and replica
    clients = (kube.selector(prometheus_adapter.NAME),) if prometheus_adapter.compiled(stack) and not stack.prometheus_adapter.prometheus_url else ()
    return Facts(
        prometheus_url=url,
        service_targets=targets,
        prometheus_pods=kube.selector(prometheus.NAME),
        api_servers=aggregated_api.tls_servers(stack, Path()),
        prometheus_clients=clients,
    )


def own_objects(stack: Stack) -> list[KObject]:
    """The objects kmc's components build, before the stack's escape hatches and extra objects."""
    shared = facts(stack)
    made = (
        obj for name, component in COMPONENTS.items() if name != extra_objects.NAME and component.compiled(stack) for obj in component.objects(stack, shared)
    )
    return list(workloads.finished(stack, made))


def object_graph(stack: Stack, own: list[KObject] | None = None) -> ObjectGraph:
    """The stack's objects: kmc's own (`own`, built when None) with the escape hatches applied, and
    the extra objects (kmc.check.hatches and kmc.check.extra_objects have checked both)."""
    built = own_objects(stack) if own is None else own
    extra = extra_objects.objects(stack, facts(stack)) if extra_objects.compiled(stack) else []
    return ObjectGraph.of([*hatches.applied(stack, built), *extra])
