"""Thanos for a global view: a sidecar in every Prometheus pod, and Thanos Query in front of them.

The sidecar serves its pod's TSDB over the gRPC Store API (and uploads blocks when object storage
is configured). The headless Service `prometheus-thanos` names every Prometheus pod of every shard
and replica; Thanos Query finds them through its DNS SRV records, merges shards and deduplicates
HA replicas by the replica label. When Query runs, it is the stack's Prometheus URL (see
`kmc.components.facts`): Grafana's datasource asks it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kmc.components import exposure, kube
from kmc.components.base import PROMETHEUS_SWITCH, Facts, ServiceTarget, prometheus_conditions
from kmc.ir import KObject, Param, Switch
from kmc.model import Stack

NAME = "thanos-query"
ROLE = "query"
HTTP_PORT = 10902
GRPC_PORT = 10901
PROMETHEUS = "prometheus"  # the pods the sidecars run in (kmc.components.prometheus.NAME)
STORE_SERVICE = "prometheus-thanos"
OBJSTORE_DIR = "/etc/thanos/objstore"
POLICY_SWITCH = "prometheus.networkPolicy.enabled"  # Query's policy follows Prometheus' (it serves the same clients)
# Its UI, exposed from `prometheus.thanosQueryExpose` (the Service's port is fixed).
UI = exposure.Exposed("prometheus", NAME, ROLE, HTTP_PORT, PROMETHEUS_SWITCH, key=exposure.THANOS_QUERY_KEY, port=HTTP_PORT)


def compiled(stack: Stack) -> bool:
    return (stack.prometheus.thanos_sidecar or stack.prometheus.thanos_query) and stack.enabled_somewhere(PROMETHEUS_SWITCH)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    if not stack.prometheus.thanos_query:
        return ()
    return (ServiceTarget(NAME, stack.namespace, NAME, "http"),)


def query_url(stack: Stack) -> str:
    return f"http://{NAME}.{stack.namespace}.svc.{stack.cluster.domain}:{HTTP_PORT}"


def _ports(*ports: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"containerPort": port, "name": name} for name, port in ports]


def sidecar(stack: Stack) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The sidecar container of a Prometheus pod, and the volumes it needs besides Prometheus' own."""
    args = [
        "sidecar",
        "--tsdb.path=/prometheus",
        f"--prometheus.url=http://localhost:9090{exposure.prefix(stack, 'prometheus')}",
        f"--grpc-address=0.0.0.0:{GRPC_PORT}",
        f"--http-address=0.0.0.0:{HTTP_PORT}",
    ]
    mounts: list[dict[str, Any]] = [{"mountPath": "/prometheus", "name": "data"}]
    volumes: list[dict[str, Any]] = []
    objstore = stack.prometheus.thanos_object_storage
    if objstore is not None:
        args.append(f"--objstore.config-file={OBJSTORE_DIR}/{objstore.key}")
        mounts.append({"mountPath": OBJSTORE_DIR, "name": "thanos-objstore", "readOnly": True})
        volumes.append({"name": "thanos-objstore", "secret": {"items": [{"key": objstore.key, "path": objstore.key}], "secretName": objstore.secret_name}})
    container = {
        "name": "thanos-sidecar",
        "image": Param("prometheus.thanosImage"),
        "args": args,
        "ports": _ports(("grpc", GRPC_PORT), ("thanos-http", HTTP_PORT)),
        "readinessProbe": kube.http_probe("/-/ready", "thanos-http", 10),
        "livenessProbe": {**kube.http_probe("/-/healthy", "thanos-http", 15), "failureThreshold": 10},
        "resources": Param("prometheus.thanosResources"),
        "securityContext": kube.restricted_container(),
        "volumeMounts": mounts,
    }
    return container, volumes


def store_api_ingress(stack: Stack) -> list[dict[str, Any]]:
    """The NetworkPolicy rule admitting Thanos Query to the sidecars' gRPC port (none without Query)."""
    if not (stack.prometheus.thanos_sidecar and stack.prometheus.thanos_query):
        return []
    return [{"from": [{"podSelector": {"matchLabels": kube.selector(NAME)}}], "ports": kube.tcp_ports(GRPC_PORT)}]


def _query_ingress(facts: Facts) -> Switch:
    """Thanos Query answers for Prometheus: the peers Prometheus' NetworkPolicy admits, the stack's
    own clients of the Prometheus URL (prometheus-adapter), and Prometheus itself (it scrapes Query)."""
    peers = "prometheus.networkPolicy.from"
    own = [{"from": [{"podSelector": {"matchLabels": dict(pods)}} for pods in facts.prometheus_clients], "ports": kube.tcp_ports(HTTP_PORT)}]
    scrape = {"from": [{"podSelector": {"matchLabels": kube.selector(PROMETHEUS)}}], "ports": kube.tcp_ports(HTTP_PORT)}
    fixed = [*own, scrape] if facts.prometheus_clients else [scrape]
    return Switch(peers, on=[{"from": Param(peers), "ports": kube.tcp_ports(HTTP_PORT)}, *fixed], off=fixed)


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    ns = stack.namespace
    objects: list[KObject] = []
    switched_on = prometheus_conditions(stack)
    if stack.prometheus.thanos_query and stack.enabled_somewhere(PROMETHEUS_SWITCH, POLICY_SWITCH):
        objects.append(KObject(kube.network_policy(NAME, ns, ROLE, _query_ingress(facts)), NAME, conditions=(*switched_on, POLICY_SWITCH)))
    bodies: list[dict[str, Any]] = []
    if stack.prometheus.thanos_sidecar:
        store = kube.service(STORE_SERVICE, ns, "server", [{"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc"}], clusterIP="None")
        store["metadata"]["labels"] = kube.labels(PROMETHEUS, "server")
        store["spec"]["selector"] = kube.selector(PROMETHEUS)
        bodies.append(store)
    if stack.prometheus.thanos_query:
        bodies += [
            kube.service_account(NAME, ns, ROLE),
            kube.service(NAME, ns, ROLE, [{"name": "http", "port": HTTP_PORT, "targetPort": "http"}], type="ClusterIP"),
            _deployment(stack),
        ]
        objects += exposure.objects(stack, UI)
    return [*(KObject(body, NAME, conditions=switched_on) for body in bodies), *objects]


def _deployment(stack: Stack) -> dict[str, Any]:
    endpoint = f"dnssrv+_grpc._tcp.{STORE_SERVICE}.{stack.namespace}.svc.{stack.cluster.domain}"
    container = {
        "name": NAME,
        "image": Param("prometheus.thanosImage"),
        "args": [
            "query",
            f"--http-address=0.0.0.0:{HTTP_PORT}",
            f"--grpc-address=0.0.0.0:{GRPC_PORT}",
            f"--endpoint={endpoint}",
            f"--query.replica-label={stack.prometheus.ha_replica_label}",
        ],
        "ports": _ports(("grpc", GRPC_PORT), ("http", HTTP_PORT)),
        "readinessProbe": kube.http_probe("/-/ready", "http", 5),
        "livenessProbe": kube.http_probe("/-/healthy", "http", 15),
        "resources": Param("prometheus.thanosResources"),
        "securityContext": kube.restricted_container(),
    }
    pod = kube.pod_template(NAME, ROLE, "prometheus", container, token=False)
    return kube.deployment(NAME, ROLE, stack.namespace, Param("prometheus.thanosQueryReplicas"), pod)
