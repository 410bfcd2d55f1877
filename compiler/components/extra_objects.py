"""The stack's `extraObjects`: Kubernetes objects added to the output as written, in the stack's
namespace (kmc.check.extra_objects checks them against kmc's own objects first)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
    out = dict(written)
    if written["kind"] not in CLUSTER_SCOPED:
        out["metadata"] = {**written["metadata"], "namespace": stack.namespace}
    return out


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    return [KObject(body(stack, written), NAME) for written in stack.extra_objects]
