"""kube-state-metrics, with RBAC over exactly the collectors it runs and the custom resources
the stack describes (`customResourceState`, kube-state-metrics' custom resource state config).

The config file and flag are kube-state-metrics v2.16.0's (pkg/options/options.go:
`--custom-resource-state-config-file`; pkg/customresourcestate/config.go: `kind:
CustomResourceStateMetrics`, `spec.resources[]`). kmc keeps `--resources` (the built-in collectors
its rules and dashboards read) and so never passes `--custom-resource-state-only`. kube-state-metrics
finds the resources through their CustomResourceDefinitions (internal/discovery: an informer on
`customresourcedefinitions`), and lists and watches each resource: its docs ask for list and watch
on both, which is what kmc grants. It reads the file once at start: the pods roll on a change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from kmc.components import kube
from kmc.components.base import Facts, ServiceTarget
from kmc.ir import KObject, Param
from kmc.model import Stack
from kmc.text import yaml_text

NAME = "kube-state-metrics"
ROLE = "exporter"
SWITCH = "kubeStateMetrics.enabled"
POLICY_SWITCH = "kubeStateMetrics.networkPolicy.enabled"
METRICS_PORT = 8080
CRS_CONFIG = "kube-state-metrics-custom-resource-state"  # the ConfigMap
CRS_DIR = "/etc/kube-state-metrics"
CRS_FILE = "custom-resource-state.yaml"

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
        "rules": [
            *({"apiGroups": [group], "resources": list(resources), "verbs": ["list", "watch"]} for group, resources in groups.items()),
            *custom_resource_rules(stack),
        ],
    }
    ports = [
        {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
        {"name": "telemetry", "port": 8081, "targetPort": "telemetry"},
    ]
    config = custom_resource_config(stack)
    bodies = [
        kube.service_account(NAME, ns, ROLE),
        cluster_role,
        kube.cluster_role_binding(NAME, ns, ROLE, kube.cluster_name(ns, NAME), NAME),
        kube.service(NAME, ns, ROLE, ports),
        _deployment(stack, sorted(resource for resources in groups.values() for resource in resources), config),
    ]
    if config is not None:
        bodies.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": kube.metadata(CRS_CONFIG, NAME, ROLE, ns), "data": {CRS_FILE: config}})
    objects = [KObject(body, NAME, conditions=(SWITCH,)) for body in bodies]
    if stack.enabled_somewhere(SWITCH, POLICY_SWITCH):
        only_prometheus = [{"from": [{"podSelector": {"matchLabels": dict(facts.prometheus_pods)}}], "ports": kube.tcp_ports(METRICS_PORT)}]
        objects.append(KObject(kube.network_policy(NAME, ns, ROLE, only_prometheus), NAME, conditions=(SWITCH, POLICY_SWITCH)))
    return objects


def custom_resource_config(stack: Stack) -> str | None:
    """The custom resource state config file (None: the stack describes no custom resource)."""
    resources = stack.kube_state_metrics.custom_resource_state
    if not resources:
        return None
    return yaml_text.dump({"kind": "CustomResourceStateMetrics", "spec": {"resources": [dict(resource) for resource in resources]}})


def custom_resource_rules(stack: Stack) -> list[dict[str, Any]]:
    """list/watch on the stack's custom resources, by group, and on the CRDs they are found through."""
    by_group: dict[str, set[str]] = {}
    for resource in stack.kube_state_metrics.custom_resource_state:
        by_group.setdefault(resource["groupVersionKind"]["group"], set()).add(resource["resourcePlural"])
    if not by_group:
        return []
    rules = [{"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list", "watch"]}]
    rules += [{"apiGroups": [group], "resources": sorted(plurals), "verbs": ["list", "watch"]} for group, plurals in sorted(by_group.items())]
    return rules


def _deployment(stack: Stack, resources: list[str], config: str | None = None) -> dict[str, Any]:
    probe = {"periodSeconds": 10, "tcpSocket": {"port": "metrics"}, "timeoutSeconds": 5}
    args = [f"--port={METRICS_PORT}", "--telemetry-port=8081", f"--resources={','.join(resources)}"]
    if config is not None:
        args.append(f"--custom-resource-state-config-file={CRS_DIR}/{CRS_FILE}")
    container: dict[str, Any] = {
        "name": NAME,
        "image": Param("kubeStateMetrics.image"),
        "args": args,
        "ports": [{"containerPort": METRICS_PORT, "name": "metrics"}, {"containerPort": 8081, "name": "telemetry"}],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "periodSeconds": 30},
        "resources": Param("kubeStateMetrics.resources"),
        "securityContext": kube.restricted_container(),
    }
    spec: dict[str, Any] = {}
    if config is not None:
        container["volumeMounts"] = [{"mountPath": CRS_DIR, "name": "custom-resource-state", "readOnly": True}]
        spec["volumes"] = [{"configMap": {"name": CRS_CONFIG}, "name": "custom-resource-state"}]
    pod = kube.pod_template(NAME, ROLE, "kubeStateMetrics", container, token=True, **spec)
    if config is not None:
        # kube-state-metrics reads the file at start only.
        pod["metadata"]["annotations"] = {"checksum/custom-resource-state": hashlib.sha256(json.dumps(config).encode()).hexdigest()}
    return kube.deployment(NAME, ROLE, stack.namespace, Param("kubeStateMetrics.replicas"), pod)
