"""node-exporter: a DaemonSet on the host network with read-only host mounts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kmc.components import kube
from kmc.components.base import Facts, ServiceTarget
from kmc.ir import KObject, Param
from kmc.model import Stack

NAME = "node-exporter"
ROLE = "exporter"
SWITCH = "nodeExporter.enabled"
# The systemd collector asks systemd over the system bus, at the address libdbus and godbus
# default to (`unix:path=/var/run/dbus/system_bus_socket`). The directory is mounted, not the
# socket: a socket mount is checked by the kubelet before the pod starts and keeps it in
# ContainerCreating on a node without a bus, where the directory is made if missing (the
# collector then fails its scrapes alone) and a bus started later is seen.
DBUS_DIR = "/var/run/dbus"


def compiled(stack: Stack) -> bool:
    return stack.enabled_somewhere(SWITCH)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return (ServiceTarget(NAME, stack.namespace, NAME, "metrics", switch=SWITCH),)


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    ns = stack.namespace
    port = stack.node_exporter.port
    bodies = [
        kube.service_account(NAME, ns, ROLE),
        kube.service(NAME, ns, ROLE, [{"name": "metrics", "port": port, "targetPort": "metrics"}], clusterIP="None"),
        _daemon_set(stack),
    ]
    return [KObject(body, NAME, conditions=(SWITCH,)) for body in bodies]


def _daemon_set(stack: Stack) -> dict[str, Any]:
    exporter = stack.node_exporter
    args = [
        "--path.procfs=/host/proc",
        "--path.sysfs=/host/sys",
        "--path.rootfs=/host/root",
        f"--web.listen-address=:{exporter.port}",
        "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/containerd/.+|var/lib/docker/.+|var/lib/kubelet/.+)($|/)",
    ]
    mounts: list[dict[str, Any]] = [
        {"mountPath": "/host/proc", "name": "proc", "readOnly": True},
        {"mountPath": "/host/sys", "name": "sys", "readOnly": True},
        {"mountPath": "/host/root", "mountPropagation": "HostToContainer", "name": "root", "readOnly": True},
    ]
    volumes: list[dict[str, Any]] = [
        {"hostPath": {"path": "/proc"}, "name": "proc"},
        {"hostPath": {"path": "/sys"}, "name": "sys"},
        {"hostPath": {"path": "/"}, "name": "root"},
    ]
    if exporter.systemd:
        args += ["--collector.systemd", f"--collector.systemd.unit-include={exporter.systemd_unit_include}"]
        mounts.append({"mountPath": DBUS_DIR, "name": "dbus", "readOnly": True})
        volumes.append({"hostPath": {"path": DBUS_DIR, "type": "DirectoryOrCreate"}, "name": "dbus"})
    container = {
        "name": NAME,
        "image": Param("nodeExporter.image"),
        "args": args,
        "ports": [{"containerPort": exporter.port, "hostPort": exporter.port, "name": "metrics"}],
        "readinessProbe": kube.http_probe("/", "metrics"),
        "livenessProbe": kube.http_probe("/", "metrics", 30),
        "resources": Param("nodeExporter.resources"),
        "securityContext": kube.restricted_container(),
        "volumeMounts": mounts,
    }
    pod = {
        "metadata": {"labels": kube.labels(NAME, ROLE)},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [container],
            "dnsPolicy": "ClusterFirstWithHostNet",
            "hostNetwork": True,
            "hostPID": True,
            **kube.scheduling("nodeExporter"),
            "securityContext": kube.restricted_pod(),
            "serviceAccountName": NAME,
            "volumes": volumes,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": kube.metadata(NAME, NAME, ROLE, stack.namespace),
        "spec": {
            "selector": {"matchLabels": kube.selector(NAME)},
            "template": pod,
            "updateStrategy": {"rollingUpdate": {"maxUnavailable": "10%"}, "type": "RollingUpdate"},
        },
    }
