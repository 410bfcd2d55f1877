"""metrics-server: the `metrics.k8s.io` API behind `kubectl top` and HPAs on CPU and memory."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kmc.components import aggregated_api, kube
from kmc.components.aggregated_api import TlsServer
from kmc.components.base import Facts, ServiceTarget, api_server_target
from kmc.ir import KObject, Param
from kmc.model import Stack

NAME = aggregated_api.METRICS_SERVER
ROLE = "api-server"
SWITCH = "metricsServer.enabled"
PORT = aggregated_api.SERVING_PORT


def compiled(stack: Stack) -> bool:
    return stack.enabled_somewhere(SWITCH)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return (api_server_target(NAME, stack.namespace, aggregated_api.scrape_ca_file(NAME, stack.metrics_server.tls), SWITCH),)


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    server = next(server for server in facts.api_servers if server.name == NAME)
    ns = stack.namespace
    reader = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": kube.metadata(kube.cluster_name(ns, NAME), NAME, ROLE),
        "rules": [
            {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["get", "list", "watch"]},
        ],
    }
    bodies = [
        kube.service_account(NAME, ns, ROLE),
        reader,
        kube.cluster_role_binding(NAME, ns, ROLE, kube.cluster_name(ns, NAME), NAME),
        kube.service(NAME, ns, ROLE, [{"name": "https", "port": 443, "targetPort": "https"}]),
        _deployment(stack, server),
    ]
    # Its PodDisruptionBudget is every replicated workload's (kmc.components.workloads).
    return [
        *aggregated_api.objects_of(bodies, NAME, SWITCH),
        *aggregated_api.serving_objects(server, stack, SWITCH),
        *aggregated_api.delegation_rbac(server, SWITCH),
        aggregated_api.resource_metrics_reader(server, SWITCH),
        aggregated_api.api_service(server, stack, "metrics.k8s.io", "v1beta1", 100, SWITCH),
    ]


def args(stack: Stack, server: TlsServer) -> list[str]:
    ms = stack.metrics_server
    tls_args, _, _ = aggregated_api.tls_mount(server)
    flags = [
        *tls_args,
        f"--secure-port={PORT}",
        f"--kubelet-preferred-address-types={','.join(ms.address_types)}",
        f"--metric-resolution={ms.metric_resolution}",
    ]
    if ms.use_node_status_port:
        flags.append("--kubelet-use-node-status-port")
    if ms.insecure_kubelet_tls:
        flags.append("--kubelet-insecure-tls")
    return flags


def _deployment(stack: Stack, server: TlsServer) -> dict[str, Any]:
    _, mounts, volumes = aggregated_api.tls_mount(server)
    container = {
        "name": NAME,
        "image": Param("metricsServer.image"),
        "args": args(stack, server),
        "ports": [{"containerPort": PORT, "name": "https"}],
        **aggregated_api.probes(3, initial_delay=20),
        "resources": Param("metricsServer.resources"),
        "securityContext": kube.restricted_container(),
        "volumeMounts": mounts,
    }
    pod = aggregated_api.hardened_pod(stack, server, "metricsServer", container, volumes)
    deployment = kube.deployment(NAME, ROLE, stack.namespace, Param("metricsServer.replicas"), pod)
    if stack.metrics_server.high_availability:
        # One pod per node: a surge pod has no node to go to where the eligible nodes are as many as
        # the replicas, so a rollout replaces a pod at a time rather than adding one first.
        deployment["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"}
        pod["spec"]["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": kube.selector(NAME)}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        }
    return deployment
