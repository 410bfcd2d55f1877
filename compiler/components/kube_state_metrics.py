"""kube-state-metrics, with RBAC over exactly the collectors it runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kmc.components import kube
from kmc.components.base import Facts, ServiceTarget
from kmc.ir import KObject, Param
from kmc.model import Stack

NAME = "kube-state-metrics"
ROLE = "exporter"
SWITCH = "kubeStateMetrics.enabled"
POLICY_SWITCH = "kubeStateMetrics.networkPolicy.enabled"
METRICS_PORT = 8080

# API group → the resources whose collectors run by default (secrets only on opt-in).
COLLECTORS: Mapping[str, tuple[str, ...]] = {
    "": (
        "configmaps",
        "endpoints",
        "limitranges",
        "namespaces",
        "nodes",
        "persistentvolumeclaims",
        "persistentvolumes",
        "pods",
        "replicationcontrollers",
        "resourcequotas",
        "services",
    ),
    "admissionregistration.k8s.io": ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"),
    "apps": ("daemonsets", "deployments", "replicasets", "statefulsets"),
    "autoscaling": ("horizontalpodautoscalers",),
    "batch": ("cronjobs", "jobs"),
    "certificates.k8s.io": ("certificatesigningrequests",),
    "coordination.k8s.io": ("leases",),
    "networking.k8s.io": ("ingresses", "networkpolicies"),
    "policy": ("poddisruptionbudgets",),
    "storage.k8s.io": ("storageclasses", "volumeattachments"),
}


def compiled(stack: Stack) -> bool:
    return stack.enabled_somewhere(SWITCH)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    # honor_labels: the namespace/pod labels of its series describe the objects, not the exporter.
    return (ServiceTarget(NAME, stack.namespace, NAME, "metrics", honor_labels=True, switch=SWITCH),)


def collectors(stack: Stack) -> dict[str, tuple[str, ...]]:
    groups = dict(COLLECTORS)
    if stack.kube_state_metrics.export_secrets:
        groups[""] = tuple(sorted((*groups[""], "secrets")))
    return groups


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    ns = stack.namespace
    groups = collectors(stack)
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": kube.metadata(kube.cluster_name(ns, NAME), NAME, ROLE),
        "rules": [{"apiGroups": [group], "resources": list(resources), "verbs": ["list", "watch"]} for group, resources in groups.items()],
    }
    ports = [
        {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
        {"name": "telemetry", "port": 8081, "targetPort": "telemetry"},
    ]
    bodies = [
        kube.service_account(NAME, ns, ROLE),
        cluster_role,
        kube.cluster_role_binding(NAME, ns, ROLE, kube.cluster_name(ns, NAME), NAME),
        kube.service(NAME, ns, ROLE, ports),
        _deployment(stack, sorted(resource for resources in groups.values() for resource in resources)),
    ]
    objects = [KObject(body, NAME, conditions=(SWITCH,)) for body in bodies]
    if stack.enabled_somewhere(SWITCH, POLICY_SWITCH):
        only_prometheus = [{"from": [{"podSelector": {"matchLabels": dict(facts.prometheus_pods)}}], "ports": kube.tcp_ports(METRICS_PORT)}]
        objects.append(KObject(kube.network_policy(NAME, ns, ROLE, only_prometheus), NAME, conditions=(SWITCH, POLICY_SWITCH)))
    return objects


def _deployment(stack: Stack, resources: list[str]) -> dict[str, Any]:
    probe = {"periodSeconds": 10, "tcpSocket": {"port": "metrics"}, "timeoutSeconds": 5}
    container = {
        "name": NAME,
        "image": Param("kubeStateMetrics.image"),
        "args": [f"--port={METRICS_PORT}", "--telemetry-port=8081", f"--resources={','.join(resources)}"],
        "ports": [{"containerPort": METRICS_PORT, "name": "metrics"}, {"containerPort": 8081, "name": "telemetry"}],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "periodSeconds": 30},
        "resources": Param("kubeStateMetrics.resources"),
        "securityContext": kube.restricted_container(),
    }
    pod = kube.pod_template(NAME, ROLE, "kubeStateMetrics", container, token=True)
    return kube.deployment(NAME, ROLE, stack.namespace, Param("kubeStateMetrics.replicas"), pod)
