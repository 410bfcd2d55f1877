"""The stack's `extraObjects`: Kubernetes objects added to the output as written, in the stack's
namespace (kmc.check.extra_objects checks them against kmc's own objects first)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kmc.components import kube
from kmc.components.base import Facts, ServiceTarget
from kmc.ir import KObject
from kmc.model import Stack

NAME = "extra-objects"

# The kinds of the Kubernetes API (and of the add-ons kmc knows) that live outside namespaces.
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CSIDriver",
        "ClusterIssuer",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
    }
)


def compiled(stack: Stack) -> bool:
    return bool(stack.extra_objects)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return ()


def body(stack: Stack, written: Mapping[str, Any]) -> dict[str, Any]:
    """An extra object as the output holds it: a namespaced kind in the stack's namespace."""
    meta = dict(written["metadata"])
    # Part of the stack like kmc's own objects (and never an empty label set, which Helm's
    # labels helper would fill differently from the manifests).
    meta["labels"] = {kube.PART_OF_LABEL: kube.PART_OF, **meta.get("labels", {})}
    if written["kind"] not in CLUSTER_SCOPED:
        meta["namespace"] = stack.namespace
    # Read as people write objects: apiVersion, kind, metadata (name first), then the rest.
    order = ("name", "namespace", "labels", "annotations")
    metadata = {key: meta[key] for key in order if key in meta}
    rest = {key: written[key] for key in sorted(written) if key not in ("apiVersion", "kind", "metadata")}
    return {"apiVersion": written["apiVersion"], "kind": written["kind"], "metadata": metadata, **rest}


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    return [KObject(body(stack, written), NAME) for written in stack.extra_objects]
