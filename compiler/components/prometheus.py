"""The Prometheus server: config, RBAC for discovery, Service, Deployment or StatefulSet."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from kmc import yaml_text
from kmc.components import alertmanager, kube, rules
from kmc.components.base import Facts, ServiceTarget
from kmc.components.scrape_jobs import ETCD_CERTS, prometheus_config
from kmc.ir import Join, KObject, Param, Switch
from kmc.model import Stack

NAME = "prometheus"
ROLE = "server"
PORT = 9090
POLICY_SWITCH = "prometheus.networkPolicy.enabled"


def compiled(stack: Stack) -> bool:
    return True


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return ()  # Prometheus scrapes itself through a static job


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    ns = stack.namespace
    config = yaml_text.dump({**prometheus_config(stack, facts.service_targets), **rules.prometheus_section(stack), **alertmanager.prometheus_section(stack)})
    bodies = [
        kube.service_account(NAME, ns, ROLE),
        _cluster_role(ns),
        kube.cluster_role_binding(NAME, ns, ROLE, kube.cluster_name(ns, NAME), NAME),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": kube.metadata(NAME, NAME, ROLE, ns),
            "data": {"prometheus.yml": config},
        },
        kube.service(
            NAME,
            ns,
            ROLE,
            [{"name": "web", "nodePort": Param("prometheus.service.nodePort", omit_empty=True), "port": PORT, "targetPort": "web"}],
            type=Param("prometheus.service.type"),
        ),
        _workload(stack, hashlib.sha256(config.encode()).hexdigest()),
    ]
    objects = [KObject(body, NAME) for body in bodies]
    if stack.enabled_somewhere(POLICY_SWITCH):
        objects.append(KObject(kube.network_policy(NAME, ns, ROLE, _web_ingress(facts)), NAME, conditions=(POLICY_SWITCH,)))
    return objects


def _web_ingress(facts: Facts) -> Switch:
    # A rule with an empty `from` would admit everyone: with no peers there is no rule at all.
    # The stack's own clients (prometheus-adapter) are admitted whatever the user lists.
    peers = "prometheus.networkPolicy.from"
    own = (
        [{"from": [{"podSelector": {"matchLabels": dict(pods)}} for pods in facts.prometheus_clients], "ports": kube.tcp_ports(PORT)}]
        if facts.prometheus_clients
        else []
    )
    return Switch(peers, on=[{"from": Param(peers), "ports": kube.tcp_ports(PORT)}, *own], off=own)


def _cluster_role(namespace: str) -> dict[str, Any]:
    read = ["get", "list", "watch"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": kube.metadata(kube.cluster_name(namespace, NAME), NAME, ROLE),
        "rules": [
            {"apiGroups": [""], "resources": ["endpoints", "nodes", "nodes/metrics", "pods", "services"], "verbs": read},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
        ],
    }


def _workload(stack: Stack, config_hash: str) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [
        {"mountPath": "/etc/prometheus", "name": "config", "readOnly": True},
        {"mountPath": "/prometheus", "name": "data"},
    ]
    volumes: list[dict[str, Any]] = [{"configMap": {"name": NAME}, "name": "config"}]
    etcd = stack.scrape.kubernetes.etcd
    if etcd.enabled:
        mounts.append({"mountPath": ETCD_CERTS, "name": "etcd-client", "readOnly": True})
        volumes.append({"name": "etcd-client", "secret": {"secretName": etcd.secret_name}})
    annotations = {"checksum/config": config_hash}
    if stack.rules.files:
        mounts.append({"mountPath": rules.MOUNT, "name": "rules", "readOnly": True})
        volumes.append({"configMap": {"name": rules.NAME}, "name": "rules"})
        annotations["checksum/rules"] = hashlib.sha256(json.dumps(dict(stack.rules.files), sort_keys=True).encode()).hexdigest()
    container = {
        "name": NAME,
        "image": Param("prometheus.image"),
        "args": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            Join(("--storage.tsdb.retention.time=", Param("prometheus.retention"))),
            Join(("--storage.tsdb.retention.size=", Param("prometheus.retentionSize"))),
            "--web.listen-address=:9090",
        ],
        "ports": [{"containerPort": PORT, "name": "web"}],
        "readinessProbe": kube.http_probe("/-/ready", "web", 5),
        "livenessProbe": {**kube.http_probe("/-/healthy", "web", 15), "failureThreshold": 10},
        "resources": Param("prometheus.resources"),
        "securityContext": kube.restricted_container(),
        "volumeMounts": mounts,
    }
    pod = {
        "metadata": {"annotations": annotations, "labels": kube.labels(NAME, ROLE)},
        "spec": {
            "automountServiceAccountToken": True,
            "containers": [container],
            **kube.scheduling("prometheus"),
            "securityContext": kube.restricted_pod(),
            "serviceAccountName": NAME,
            "terminationGracePeriodSeconds": 600,
        },
    }
    spec: dict[str, Any] = {"replicas": Param("prometheus.replicas"), "selector": {"matchLabels": kube.selector(NAME)}}
    if stack.prometheus.storage:
        claim = {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": Param("prometheus.storage.size")}},
                "storageClassName": Param("prometheus.storage.storageClassName", omit_empty=True),
            },
        }
        pod["spec"]["volumes"] = volumes
        spec.update(serviceName=NAME, template=pod, volumeClaimTemplates=[claim])
        kind = "StatefulSet"
    else:
        pod["spec"]["volumes"] = [*volumes, {"emptyDir": {}, "name": "data"}]
        spec["template"] = pod
        kind = "Deployment"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": kube.metadata(NAME, NAME, ROLE, stack.namespace), "spec": spec}
