"""HorizontalPodAutoscalers (`autoscaling/v2`) on the metrics the stack serves, or KEDA
ScaledObjects for the entries whose engine is `keda` (kmc.components.keda)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kmc.components import keda, kube, metrics_server, prometheus_adapter
from kmc.components.base import Facts, ServiceTarget
from kmc.ir import KObject
from kmc.model import Autoscaler, Stack

NAME = "autoscaling"
ROLE = "autoscaler"


def compiled(stack: Stack) -> bool:
    return bool(stack.autoscaling)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return ()


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    server = prometheus_adapter.prometheus_url(stack, facts.prometheus_url)  # the whole view, as the adapter's
    found = []
    for hpa in stack.autoscaling:
        body = keda.scaled_object(stack, hpa, server, NAME, ROLE) if hpa.engine == "keda" else _hpa(hpa)
        found.append(KObject(body, NAME, conditions=providers(stack, hpa)))
    if stack.keda_authentication is not None:
        found += [KObject(keda.trigger_authentication(stack, ns, NAME, ROLE), NAME, conditions=(keda.SWITCH,)) for ns in keda.namespaces(stack)]
    return found


def providers(stack: Stack, hpa: Autoscaler) -> tuple[str, ...]:
    """The switches of the API servers the HPA reads: without them it cannot scale, so it is left out.
    A KEDA entry needs `keda.enabled`, and metrics.k8s.io's server for its cpu/memory triggers."""
    switches = {keda.SWITCH} if hpa.engine == "keda" else set()
    for metric in hpa.metrics:
        if "resource" in metric:
            switches.add(prometheus_adapter.SWITCH if stack.prometheus_adapter.resource_metrics else metrics_server.SWITCH)
        elif hpa.engine != "keda":
            switches.add(prometheus_adapter.SWITCH)
    return tuple(sorted(switches))


def _hpa(hpa: Autoscaler) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": kube.metadata(hpa.name, NAME, ROLE, hpa.namespace),
        "spec": {
            "maxReplicas": hpa.max_replicas,
            "metrics": [_metric(metric) for metric in hpa.metrics],
            "minReplicas": hpa.min_replicas,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": hpa.target_kind, "name": hpa.target_name},
        },
    }


def _target(metric: Mapping[str, Any]) -> dict[str, Any]:
    if "averageUtilization" in metric:
        return {"averageUtilization": metric["averageUtilization"], "type": "Utilization"}
    if "averageValue" in metric:
        return {"averageValue": metric["averageValue"], "type": "AverageValue"}
    return {"type": "Value", "value": metric["value"]}


def _named(name: str, metric: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": name, "selector": dict(metric["selector"])} if "selector" in metric else {"name": name}


def _metric(metric: Mapping[str, Any]) -> dict[str, Any]:
    target = _target(metric)
    if "resource" in metric:
        return {"resource": {"name": metric["resource"], "target": target}, "type": "Resource"}
    if "pods" in metric:
        return {"pods": {"metric": _named(metric["pods"], metric), "target": target}, "type": "Pods"}
    if "object" in metric:
        described = metric["object"]
        api = "v1"
        return {
            "object": {
                "describedObject": {"apiVersion": api, "kind": described["kind"], "name": described["name"]},
                "metric": {"name": described["metric"]},
                "target": target,
            },
            "type": "Object",
        }
    return {"external": {"metric": _named(metric["external"], metric), "target": target}, "type": "External"}
