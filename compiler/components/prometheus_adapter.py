"""prometheus-adapter: `custom.metrics.k8s.io`, `external.metrics.k8s.io` and, on request,
`metrics.k8s.io`, answered from Prometheus with rules compiled from the stack's intents."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from kmc.components import adapter_rules, aggregated_api, kube
from kmc.components.aggregated_api import TlsServer
from kmc.components.base import Facts, ServiceTarget, api_server_target
from kmc.ir import KObject, Param
from kmc.model import Stack
from kmc.text import yaml_text

NAME = aggregated_api.PROMETHEUS_ADAPTER
ROLE = "api-server"
SWITCH = "prometheusAdapter.enabled"
PORT = 6443
CONFIG_DIR = "/etc/adapter"
HPA_CONTROLLER = {"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"}
# API group → the versions the adapter serves, with their APIService versionPriority.
VERSIONS = {
    "custom.metrics.k8s.io": (("v1beta1", 100), ("v1beta2", 200)),
    "external.metrics.k8s.io": (("v1beta1", 100),),
    "metrics.k8s.io": (("v1beta1", 100),),
}


def compiled(stack: Stack) -> bool:
    return stack.enabled_somewhere(SWITCH) and aggregated_api.adapter_serves_anything(stack)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return (api_server_target(NAME, stack.namespace, aggregated_api.scrape_ca_file(NAME, stack.prometheus_adapter.tls), SWITCH),)


def prometheus_url(stack: Stack, facts_url: str) -> str:
    return stack.prometheus_adapter.prometheus_url or facts_url


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    server = next(server for server in facts.api_servers if server.name == NAME)
    ns = stack.namespace
    adapter = stack.prometheus_adapter
    config = yaml_text.dump(adapter_rules.config(adapter, stack.scrape.job_names, keda=stack.uses_keda))
    groups = adapter_rules.serves(adapter, keda=stack.uses_keda)
    bodies: list[dict[str, Any]] = [
        kube.service_account(NAME, ns, ROLE),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": kube.metadata(NAME, NAME, ROLE, ns),
            "data": {"config.yaml": config},
        },
        _resource_reader(stack),
        kube.cluster_role_binding(NAME, ns, ROLE, kube.cluster_name(ns, NAME), NAME),
        kube.service(NAME, ns, ROLE, [{"name": "https", "port": 443, "targetPort": "https"}]),
        _deployment(stack, server, prometheus_url(stack, facts.prometheus_url), hashlib.sha256(config.encode()).hexdigest()),
    ]
    for group in groups:
        if group != "metrics.k8s.io":
            bodies += _hpa_controller_access(ns, group)
    found = [
        *aggregated_api.objects_of(bodies, NAME, SWITCH),
        *aggregated_api.serving_objects(server, stack, SWITCH),
        *aggregated_api.delegation_rbac(server, SWITCH),
    ]
    if "metrics.k8s.io" in groups:
        found.append(aggregated_api.resource_metrics_reader(server, SWITCH))
    for group in groups:
        for version, priority in VERSIONS[group]:
            found.append(aggregated_api.api_service(server, stack, group, version, priority, SWITCH))
    return found


def _resource_reader(stack: Stack) -> dict[str, Any]:
    """Read access to exactly the resources the rules map series to (to resolve label selectors)."""
    adapter = stack.prometheus_adapter
    resources = {"namespaces"}
    resources.update(f"{metric.resource}s" for metric in adapter.custom)
    if adapter.resource_metrics:
        resources.update({"nodes", "pods"})
    for rule in adapter.raw_custom:
        overrides = rule.get("resources", {}).get("overrides", {})
        resources.update(spec["resource"].rstrip("s") + "s" for spec in overrides.values() if not spec.get("group"))
        if "template" in rule.get("resources", {}):
            resources.update({"nodes", "pods", "services"})
    core = sorted(resources & {"namespaces", "nodes", "pods", "services"})
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": kube.metadata(kube.cluster_name(stack.namespace, NAME), NAME, ROLE),
        "rules": [{"apiGroups": [""], "resources": core, "verbs": ["get", "list", "watch"]}],
    }


def _hpa_controller_access(namespace: str, group: str) -> list[dict[str, Any]]:
    """Let the HPA controller read the group's metrics. Metric names are the API's resources, so
    `*` is the only way to name them; the verbs are read-only."""
    role = kube.cluster_name(namespace, group.split(".")[0] + "-metrics-reader")
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": kube.metadata(role, NAME, ROLE),
            "rules": [{"apiGroups": [group], "resources": ["*"], "verbs": ["get", "list"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": kube.metadata(kube.cluster_name(namespace, group.split(".")[0] + "-metrics-hpa"), NAME, ROLE),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [HPA_CONTROLLER],
        },
    ]


def _deployment(stack: Stack, server: TlsServer, url: str, config_hash: str) -> dict[str, Any]:
    tls_args, mounts, volumes = aggregated_api.tls_mount(server)
    container = {
        "name": NAME,
        "image": Param("prometheusAdapter.image"),
        "args": [
            *tls_args,
            f"--secure-port={PORT}",
            f"--config={CONFIG_DIR}/config.yaml",
            f"--prometheus-url={url}",
            f"--metrics-relist-interval={stack.prometheus_adapter.relist_interval}",
        ],
        "ports": [{"containerPort": PORT, "name": "https"}],
        **aggregated_api.probes(5),
        "resources": Param("prometheusAdapter.resources"),
        "securityContext": kube.restricted_container(),
        "volumeMounts": [{"mountPath": CONFIG_DIR, "name": "config", "readOnly": True}, *mounts],
    }
    pod = aggregated_api.hardened_pod(stack, server, "prometheusAdapter", container, [{"configMap": {"name": NAME}, "name": "config"}, *volumes])
    pod["metadata"]["annotations"] = {"checksum/config": config_hash, **pod["metadata"].get("annotations", {})}
    return kube.deployment(NAME, ROLE, stack.namespace, Param("prometheusAdapter.replicas"), pod)
