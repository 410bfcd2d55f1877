"""Alertmanager: its compiled alertmanager.yml, a StatefulSet, the web Service and the headless
Service its pods find each other through.

The pods always run as one cluster: `--cluster.peer` names the headless Service, whose DNS name
resolves to every pod, so the same flags serve 1 or 5 replicas and an environment may change the
count. No RBAC: Alertmanager never talks to the Kubernetes API, and its pods get no token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kmc.components import alertmanager_config, config_reloader, exposure, kube
from kmc.components.base import Facts, ServiceTarget
from kmc.ir import KObject, Param, Switch
from kmc.model import Stack
from kmc.text import yaml_text

NAME = "alertmanager"
ROLE = "alerting"
SWITCH = "alertmanager.enabled"
POLICY_SWITCH = "alertmanager.networkPolicy.enabled"
PORT = 9093
UI = exposure.Exposed(NAME, NAME, ROLE, PORT, SWITCH)
CLUSTER_PORT = 9094
CLUSTER_SERVICE = f"{NAME}-cluster"


def compiled(stack: Stack) -> bool:
    return stack.enabled_somewhere(SWITCH)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    # The sidecar's metrics through the headless peer Service: no node port ever exposes them.
    reloader = ServiceTarget(f"{NAME}-{config_reloader.NAME}", stack.namespace, CLUSTER_SERVICE, config_reloader.PORT_NAME, switch=SWITCH)
    web = ServiceTarget(NAME, stack.namespace, NAME, "web", switch=SWITCH, metrics_path=exposure.prefix(stack, NAME) + "/metrics")
    return (web, reloader)


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    ns = stack.namespace
    config = yaml_text.dump(alertmanager_config.config(stack.alertmanager))
    web = kube.service(
        NAME,
        ns,
        ROLE,
        [{"name": "web", "nodePort": Param("alertmanager.service.nodePort", omit_empty=True), "port": Param("alertmanager.service.port"), "targetPort": "web"}],
        type=Param("alertmanager.service.type"),
    )
    cluster = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": kube.metadata(CLUSTER_SERVICE, NAME, ROLE, ns),
        "spec": {
            "clusterIP": "None",
            "ports": [
                {"name": "cluster-tcp", "port": CLUSTER_PORT, "protocol": "TCP", "targetPort": "cluster-tcp"},
                {"name": "cluster-udp", "port": CLUSTER_PORT, "protocol": "UDP", "targetPort": "cluster-udp"},
                {"name": config_reloader.PORT_NAME, "port": config_reloader.PORT, "protocol": "TCP", "targetPort": config_reloader.PORT_NAME},
            ],
            # Peers must find each other before they are ready: readiness waits for the cluster.
            "publishNotReadyAddresses": True,
            "selector": kube.selector(NAME),
        },
    }
    bodies = [
        kube.service_account(NAME, ns, ROLE),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": kube.metadata(NAME, NAME, ROLE, ns), "data": {"alertmanager.yml": config}},
        web,
        cluster,
        _stateful_set(stack),
    ]
    objects = [KObject(body, NAME, conditions=(SWITCH,)) for body in bodies]
    if stack.enabled_somewhere(SWITCH, POLICY_SWITCH):
        objects.append(KObject(kube.network_policy(NAME, ns, ROLE, _ingress(facts)), NAME, conditions=(SWITCH, POLICY_SWITCH)))
    objects += exposure.objects(stack, UI)
    return objects


def _ingress(facts: Facts) -> Switch:
    prometheus = {"from": [{"podSelector": {"matchLabels": dict(facts.prometheus_pods)}}], "ports": kube.tcp_ports(PORT, config_reloader.PORT)}
    gossip = {
        "from": [{"podSelector": {"matchLabels": kube.selector(NAME)}}],
        "ports": [{"port": CLUSTER_PORT, "protocol": "TCP"}, {"port": CLUSTER_PORT, "protocol": "UDP"}],
    }
    # A rule with an empty `from` would admit everyone: with no peers there is no rule for them.
    peers = "alertmanager.networkPolicy.from"
    return Switch(peers, on=[prometheus, {"from": Param(peers), "ports": kube.tcp_ports(PORT)}, gossip], off=[prometheus, gossip])


def _stateful_set(stack: Stack) -> dict[str, Any]:
    refs = alertmanager_config.secret_refs(stack.alertmanager)
    config_mount = {"mountPath": "/etc/alertmanager", "name": "config", "readOnly": True}
    mounts: list[dict[str, Any]] = [config_mount, {"mountPath": "/alertmanager", "name": "data"}]
    volumes: list[dict[str, Any]] = [{"configMap": {"name": NAME}, "name": "config"}]
    if refs:
        mounts.append({"mountPath": alertmanager_config.SECRETS_DIR, "name": "secrets", "readOnly": True})
        sources = [{"secret": {"items": [{"key": ref.key, "path": f"{ref.secret_name}/{ref.key}"}], "name": ref.secret_name}} for ref in refs]
        volumes.append({"name": "secrets", "projected": {"defaultMode": 0o440, "sources": sources}})
    peer = f"{CLUSTER_SERVICE}.{stack.namespace}.svc.{stack.cluster.domain}:{CLUSTER_PORT}"
    route = exposure.prefix(stack, NAME)
    container: dict[str, Any] = {
        "name": NAME,
        "image": Param("alertmanager.image"),
        "args": [
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
            f"--web.listen-address=:{PORT}",
            f"--cluster.listen-address=:{CLUSTER_PORT}",
            # Bracketed, so that an IPv6 pod address parses too.
            f"--cluster.advertise-address=[$(POD_IP)]:{CLUSTER_PORT}",
            f"--cluster.peer={peer}",
            *exposure.route_args(stack, NAME),
        ],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [
            {"containerPort": PORT, "name": "web"},
            {"containerPort": CLUSTER_PORT, "name": "cluster-tcp", "protocol": "TCP"},
            {"containerPort": CLUSTER_PORT, "name": "cluster-udp", "protocol": "UDP"},
        ],
        "readinessProbe": kube.http_probe(f"{route}/-/ready", "web", 5),
        "livenessProbe": {**kube.http_probe(f"{route}/-/healthy", "web", 15), "failureThreshold": 10},
        "resources": Param("alertmanager.resources"),
        "securityContext": kube.restricted_container(),
        "volumeMounts": mounts,
    }
    container["args"] = exposure.with_external_url(stack, NAME, container["args"], "--web.external-url=")
    pod = {
        "metadata": {"labels": kube.labels(NAME, ROLE)},
        "spec": {
            "automountServiceAccountToken": False,
            # Alertmanager serves POST /-/reload without a flag; the receivers' secret files are read per notification.
            "containers": [container, config_reloader.container(NAME, PORT, [config_mount], route)],
            **kube.scheduling("alertmanager"),
            "securityContext": kube.restricted_pod(),
            "serviceAccountName": NAME,
        },
    }
    spec: dict[str, Any] = {
        "podManagementPolicy": "Parallel",
        "replicas": Param("alertmanager.replicas"),
        "selector": {"matchLabels": kube.selector(NAME)},
        "serviceName": CLUSTER_SERVICE,
        "template": pod,
    }
    if stack.alertmanager.storage:
        claim = {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": Param("alertmanager.storage.size")}},
                "storageClassName": Param("alertmanager.storage.storageClassName", omit_empty=True),
            },
        }
        spec["volumeClaimTemplates"] = [claim]
        pod["spec"]["volumes"] = volumes
    else:
        pod["spec"]["volumes"] = [*volumes, {"emptyDir": {}, "name": "data"}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": kube.metadata(NAME, NAME, ROLE, stack.namespace), "spec": spec}


def prometheus_section(stack: Stack) -> dict[str, Any]:
    """prometheus.yml's `alerting`: every Alertmanager pod, found through the web Service's
    EndpointSlices (each pod must get every alert; the Service would pick one). Where Alertmanager
    is switched off the Service has no endpoints and Prometheus sends nothing."""
    if not compiled(stack):
        return {}
    discovery = {"role": "endpointslice", "namespaces": {"names": [stack.namespace]}}
    keep = {
        "action": "keep",
        "regex": f"{NAME};web",
        "source_labels": ["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
    }
    target: dict[str, Any] = {"api_version": "v2", "kubernetes_sd_configs": [discovery], "relabel_configs": [keep]}
    if exposure.prefix(stack, NAME):
        target["path_prefix"] = exposure.prefix(stack, NAME)  # Alertmanager's route prefix
    return {"alerting": {"alertmanagers": [target]}}
