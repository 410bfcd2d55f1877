"""The stack's Namespace, labelled for Pod Security Admission."""

from __future__ import annotations

from collections.abc import Iterable

from kmc.components import kube, node_exporter
from kmc.components.base import Facts, ServiceTarget
from kmc.ir import KObject, Switch
from kmc.model import Stack

NAME = "namespace"


def compiled(stack: Stack) -> bool:
    return stack.create_namespace


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return ()


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    # node-exporter needs the host's network, PID namespace and filesystem: only `privileged`
    # admits it. Wherever it is off, every pod of the stack meets `restricted`, and that is enforced.
    level: str | Switch = Switch(node_exporter.SWITCH, "privileged", "restricted") if node_exporter.compiled(stack) else "restricted"
    labels = {
        **kube.labels("kmc", "namespace"),
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/enforce": level,
    }
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": stack.namespace, "labels": dict(sorted(labels.items()))}}
    return [KObject(body, NAME)]
