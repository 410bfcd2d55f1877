"""Builders for the Kubernetes fragments every component uses: names, labels, security contexts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kmc.ir import Param

PART_OF = "kmc"
PART_OF_LABEL = "app.kubernetes.io/part-of"
_NOT_LABEL_CHARACTER = re.compile(r"[^a-zA-Z0-9_]")


def sanitize(name: str) -> str:
    """How Prometheus turns a Kubernetes label or annotation name into part of a `__meta_` label."""
    return _NOT_LABEL_CHARACTER.sub("_", name)


def labels(name: str, role: str) -> dict[str, str]:
    """The labels of every object of component `name`."""
    return {"app.kubernetes.io/component": role, "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def selector(name: str) -> dict[str, str]:
    """The immutable subset of `labels` that selects a component's pods."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def metadata(name: str, component: str, role: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = labels(component, role)
    meta.update(extra)
    return meta


def cluster_name(namespace: str, component: str) -> str:
    """Name of a cluster-scoped object, unique per stack namespace."""
    return f"{namespace}-{component}"


def service_account(name: str, namespace: str, role: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(name, name, role, namespace),
        "automountServiceAccountToken": False,
    }


def cluster_role_binding(name: str, namespace: str, role: str, cluster_role: str, account: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata(cluster_name(namespace, name), name, role),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


def restricted_pod(user: int = 65534) -> dict[str, Any]:
    """Pod security context meeting the `restricted` Pod Security Standard."""
    return {
        "fsGroup": user,
        "runAsGroup": user,
        "runAsNonRoot": True,
        "runAsUser": user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_container() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }


def scheduling(section: str) -> dict[str, Any]:
    """nodeSelector and tolerations of a pod spec, as parameters that vanish when empty."""
    return {
        "nodeSelector": Param(f"{section}.nodeSelector", omit_empty=True),
        "tolerations": Param(f"{section}.tolerations", omit_empty=True),
    }


def pod_template(name: str, role: str, section: str, container: Mapping[str, Any], *, token: bool, **spec: Any) -> dict[str, Any]:
    """The pod template of component `name`: one container, restricted security, the section's
    scheduling parameters, its own service account (its token mounted only with `token`)."""
    return {
        "metadata": {"labels": labels(name, role)},
        "spec": {
            "automountServiceAccountToken": token,
            "containers": [container],
            **scheduling(section),
            "securityContext": restricted_pod(),
            "serviceAccountName": name,
            **spec,
        },
    }


def deployment(name: str, role: str, namespace: str, replicas: Any, template: Mapping[str, Any], **spec: Any) -> dict[str, Any]:
    """The Deployment of component `name` (`spec` between its selector and its pod template)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, name, role, namespace),
        "spec": {"replicas": replicas, "selector": {"matchLabels": selector(name)}, **spec, "template": template},
    }


def http_probe(path: str, port: str, period: int = 10) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": 5}


def service(name: str, namespace: str, role: str, ports: Sequence[Mapping[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, name, role, namespace),
        "spec": {**spec, "ports": list(ports), "selector": selector(name)},
    }


def network_policy(name: str, namespace: str, role: str, ingress: Any) -> dict[str, Any]:
    """A NetworkPolicy isolating component `name`'s pods: ingress only by the `ingress` rules (egress is left open)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, name, role, namespace),
        "spec": {"ingress": ingress, "podSelector": {"matchLabels": selector(name)}, "policyTypes": ["Ingress"]},
    }


def tcp_ports(*ports: int) -> list[dict[str, Any]]:
    """NetworkPolicy ports by number: named ports are not enforced by every CNI plugin."""
    return [{"port": port, "protocol": "TCP"} for port in ports]
