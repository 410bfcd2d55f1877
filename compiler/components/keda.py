"""KEDA ScaledObjects (`keda.sh/v1alpha1`) for the autoscaling entries whose engine is `keda`.

Each `object` and `external` metric becomes a Prometheus trigger whose query is the adapter's
metricsQuery for the same intent, expanded as the adapter would for this workload
(kmc.components.adapter_rules.object_query / external_query): one code path for the PromQL, so
the two engines compute the same number. `resource` metrics become KEDA's cpu/memory triggers.
Read against KEDA 2.19 (keda-docs content/docs/2.19: scalers/prometheus.md,
reference/scaledobject-spec.md, concepts/authentication.md). KEDA itself is a cluster add-on
kmc does not deploy (kmc.components.prerequisites)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmc.components import adapter_rules, kube
from kmc.model import Autoscaler, Stack

API_VERSION = "keda.sh/v1alpha1"
SWITCH = "keda.enabled"
AUTHENTICATION = "prometheus"  # the TriggerAuthentication kmc emits in each KEDA namespace
# TriggerAuthentication parameter → the key of the stack's Secret, by authentication mode.
SECRET_KEYS: Mapping[str, Mapping[str, str]] = {
    "bearer": {"bearerToken": "token"},
    "basic": {"username": "username", "password": "password"},
    "tls": {"ca": "ca.crt", "cert": "tls.crt", "key": "tls.key"},
}
# A quantity's suffix → its factor (Kubernetes' resource.Quantity), as an exact decimal's text.
_SUFFIXES = {
    "n": "1e-9",
    "u": "1e-6",
    "m": "1e-3",
    "k": "1e3",
    "M": "1e6",
    "G": "1e9",
    "T": "1e12",
    "P": "1e15",
    "E": "1e18",
    "Ki": str(2**10),
    "Mi": str(2**20),
    "Gi": str(2**30),
    "Ti": str(2**40),
    "Pi": str(2**50),
    "Ei": str(2**60),
}


def threshold(quantity: str) -> str:
    """A Kubernetes quantity ("100m", "2k", "1Gi", "1e3") as the plain decimal KEDA's threshold takes ("0.1")."""
    from decimal import Decimal  # only where a stack has KEDA triggers: kmc's hot path stays light

    suffix = next((suffix for suffix in sorted(_SUFFIXES, key=len, reverse=True) if quantity.endswith(suffix)), "")
    number = Decimal(quantity[: len(quantity) - len(suffix)]) * Decimal(_SUFFIXES.get(suffix, "1"))
    return format(number.normalize(), "f")


def query(stack: Stack, hpa: Autoscaler, metric: Mapping[str, Any]) -> str:
    """The PromQL of an `object` or `external` metric of a KEDA entry (its intent must exist: kmc.check.metrics)."""
    adapter = stack.prometheus_adapter
    if "object" in metric:
        described = metric["object"]
        resource = adapter_rules.KIND_RESOURCES[described["kind"]]
        custom = next(m for m in adapter.custom if m.name == described["metric"] and m.resource == resource)
        return adapter_rules.object_query(custom, hpa.namespace, described["name"])
    external = next(m for m in adapter.external if m.name == metric["external"])
    return adapter_rules.external_query(external, hpa.namespace, metric.get("selector"))


def scaled_object(stack: Stack, hpa: Autoscaler, server: str, component: str, role: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ScaledObject",
        "metadata": kube.metadata(hpa.name, component, role, hpa.namespace),
        "spec": {
            "maxReplicaCount": hpa.max_replicas,
            "minReplicaCount": hpa.min_replicas,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": hpa.target_kind, "name": hpa.target_name},
            "triggers": [_trigger(stack, hpa, metric, server) for metric in hpa.metrics],
        },
    }


def _trigger(stack: Stack, hpa: Autoscaler, metric: Mapping[str, Any], server: str) -> dict[str, Any]:
    if "resource" in metric:
        utilization = "averageUtilization" in metric
        value = str(metric["averageUtilization"]) if utilization else str(metric["averageValue"])
        return {"metadata": {"value": value}, "metricType": "Utilization" if utilization else "AverageValue", "type": metric["resource"]}
    target = metric.get("value", metric.get("averageValue"))
    metadata = {
        # Without a series the adapter answers no metric and the HPA holds; KEDA does the same
        # only when told not to read an empty answer as 0.
        "ignoreNullValues": "false",
        "query": query(stack, hpa, metric),
        "serverAddress": server,
        "threshold": threshold(str(target)),
    }
    trigger: dict[str, Any] = {"metadata": metadata, "metricType": "Value" if "value" in metric else "AverageValue", "type": "prometheus"}
    auth = stack.keda_authentication
    if auth is not None:
        trigger = {"authenticationRef": {"name": AUTHENTICATION}, **trigger, "metadata": {"authModes": auth.mode, **metadata}}
    return trigger


def namespaces(stack: Stack) -> list[str]:
    """The namespaces of the KEDA entries that query Prometheus, sorted."""
    return sorted({hpa.namespace for hpa in stack.autoscaling if hpa.engine == "keda" and any("resource" not in m for m in hpa.metrics)})


def trigger_authentication(stack: Stack, namespace: str, component: str, role: str) -> dict[str, Any]:
    auth = stack.keda_authentication
    assert auth is not None
    refs = [{"key": key, "name": auth.secret_name, "parameter": parameter} for parameter, key in SECRET_KEYS[auth.mode].items()]
    return {
        "apiVersion": API_VERSION,
        "kind": "TriggerAuthentication",
        "metadata": kube.metadata(AUTHENTICATION, component, role, namespace),
        "spec": {"secretTargetRef": refs},
    }
