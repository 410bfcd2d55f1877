"""Kubernetes objects for the API stub: pods, services, and the endpoints a cluster derives from them.

`endpoints_for` plays the endpoint and endpointslice controllers: every Service with a selector
gets an Endpoints and an EndpointSlice listing the Running pods it selects, with named target
ports resolved to each pod's container port, as the real controllers do.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]
NODE = "node-1"
NODE_IP = "127.0.0.1"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def pod(
    namespace: str,
    name: str,
    *,
    ip: str,
    containers: Mapping[str, Mapping[str, int]],
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    phase: str = "Running",
) -> Obj:
    """A pod on `NODE` at `ip`; `containers` maps each container's name to its named ports."""
    spec_containers = [
        {
            "name": container,
            "image": "example.invalid/app",
            "ports": [{"name": port, "containerPort": number, "protocol": "TCP"} for port, number in ports.items()],
        }
        for container, ports in containers.items()
    ]
    return _pod(namespace, name, ip, spec_containers, dict(labels or {}), dict(annotations or {}), phase)


def pod_of_workload(workload: Obj, name: str, *, ip: str, ports: Mapping[str, int]) -> Obj:
    """A Running pod of a Deployment or DaemonSet as kmc emits it, its named container ports moved to `ports`."""
    template = workload["spec"]["template"]
    containers = copy.deepcopy(template["spec"]["containers"])
    for container in containers:
        for port in container.get("ports", []):
            port["containerPort"] = ports[port["name"]]
            port.pop("hostPort", None)
    metadata = template["metadata"]
    return _pod(workload["metadata"]["namespace"], name, ip, containers, metadata.get("labels", {}), metadata.get("annotations", {}), "Running")


def _pod(namespace: str, name: str, ip: str, containers: list[Obj], labels: dict[str, str], annotations: dict[str, str], phase: str) -> Obj:
    running = phase == "Running"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "spec": {"nodeName": NODE, "containers": containers},
        "status": {
            "phase": phase,
            "hostIP": NODE_IP,
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if running else "False"}],
            "containerStatuses": [
                {
                    "name": container["name"],
                    "ready": running,
                    "restartCount": 0,
                    "image": container["image"],
                    "imageID": "",
                    "containerID": f"containerd://{name}",
                }
                for container in containers
            ],
        },
    }


def service(
    namespace: str,
    name: str,
    *,
    ports: Mapping[str, tuple[int, int | str]],
    selector: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    """A ClusterIP service; `ports` maps each port's name to (port, targetPort)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {}), "annotations": dict(annotations or {})},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.10",
            "selector": dict(selector),
            "ports": [{"name": port, "port": number, "targetPort": target, "protocol": "TCP"} for port, (number, target) in ports.items()],
        },
    }


def endpoints_for(objects: Iterable[Obj]) -> list[Obj]:
    """The Endpoints and EndpointSlices of every Service with a selector among `objects`."""
    objects = list(objects)
    pods = [obj for obj in objects if obj["kind"] == "Pod" and obj["status"]["phase"] == "Running"]
    derived: list[Obj] = []
    for svc in (obj for obj in objects if obj["kind"] == "Service" and obj["spec"].get("selector")):
        namespace, selector = svc["metadata"]["namespace"], svc["spec"]["selector"]
        members = [p for p in pods if p["metadata"]["namespace"] == namespace and selector.items() <= p["metadata"]["labels"].items()]
        resolved = [(member, [(port, _target_port(member, port["targetPort"])) for port in svc["spec"]["ports"]]) for member in members]
        derived += [_endpoints(svc, resolved), *_endpoint_slices(svc, resolved)]
    return derived


def _target_port(member: Obj, target: int | str) -> int:
    if isinstance(target, int):
        return target
    for container in member["spec"]["containers"]:
        for port in container.get("ports", []):
            if port["name"] == target:
                number: int = port["containerPort"]
                return number
    raise LookupError(f"pod {member['metadata']['name']} has no port named {target!r}")


def _target_ref(member: Obj) -> Obj:
    metadata = member["metadata"]
    return {"kind": "Pod", "namespace": metadata["namespace"], "name": metadata["name"], "uid": f"uid-Pod-{metadata['namespace']}-{metadata['name']}"}


def _endpoints(svc: Obj, resolved: list[tuple[Obj, list[tuple[Obj, int]]]]) -> Obj:
    subsets = [
        {
            "addresses": [{"ip": member["status"]["podIP"], "nodeName": NODE, "targetRef": _target_ref(member)}],
            "ports": [{"name": port["name"], "port": number, "protocol": "TCP"} for port, number in ports],
        }
        for member, ports in resolved
    ]
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": svc["metadata"]["name"], "namespace": svc["metadata"]["namespace"]},
        "subsets": subsets,
    }


def _endpoint_slices(svc: Obj, resolved: list[tuple[Obj, list[tuple[Obj, int]]]]) -> list[Obj]:
    """One slice per address family and set of resolved port numbers (pods may number a named port differently), as the controller does."""
    groups: dict[tuple[bool, tuple[int, ...]], list[tuple[Obj, list[tuple[Obj, int]]]]] = {}
    for member, ports in resolved:  # a slice holds one address family
        groups.setdefault((":" in member["status"]["podIP"], tuple(number for _, number in ports)), []).append((member, ports))
    name = svc["metadata"]["name"]
    return [
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-{index}",
                "namespace": svc["metadata"]["namespace"],
                "labels": {SERVICE_NAME_LABEL: name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
            },
            "addressType": "IPv6" if ":" in group[0][0]["status"]["podIP"] else "IPv4",
            "endpoints": [
                {
                    "addresses": [member["status"]["podIP"]],
                    "conditions": {"ready": True, "serving": True, "terminating": False},
                    "nodeName": NODE,
                    "targetRef": _target_ref(member),
                }
                for member, _ in group
            ],
            "ports": [{"name": port["name"], "port": number, "protocol": "TCP"} for port, number in group[0][1]],
        }
        for index, group in enumerate(groups.values())
    ]
