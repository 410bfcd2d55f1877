"""HorizontalPodAutoscalers (`autoscaling/v2`) on the metrics the stack serves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kmc.components import kube, metrics_server, prometheus_adapter
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
    return [KObject(_hpa(hpa), NAME, conditions=providers(stack, hpa)) for hpa in stack.autoscaling]


def providers(stack: Stack, hpa: Autoscaler) -> tuple[str, ...]:
    """The switches of the API servers the HPA reads: without them it cannot scale, so it is left out."""
    switches = set()
    for metric in hpa.metrics:
        if "resource" in metric:
            switches.add(prometheus_adapter.SWITCH if stack.prometheus_adapter.resource_metrics else metrics_server.SWITCH)
        else:
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
