"""The checks of the stack's `extraObjects`: they pass kmc's own guarantees or are refused where
they are written. No clash with kmc's objects (group, kind, namespace, name); no pods (kmc's
pod-security guarantee covers the pods it builds); no Secret data and no private key (the output
and the chart may be published); no wildcard RBAC; the stack's namespace for namespaced kinds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kmc.components import extra_objects
from kmc.ir import KObject
from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str, bool]

POD_KINDS = frozenset({"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "PodTemplate", "ReplicaSet", "ReplicationController", "StatefulSet"})
RBAC_KINDS = frozenset({"ClusterRole", "Role"})
PRIVATE_KEY = "PRIVATE KEY-----"


def problems(stack: Stack, own: Sequence[KObject]) -> Iterator[Problem]:
    """What keeps each extra object out of the output, at the object's key."""
    taken = {obj.key: obj.component for obj in own}
    for index, written in enumerate(stack.extra_objects):
        where: JsonPath = ("extraObjects", index)
        kind = written["kind"]
        namespace = written["metadata"].get("namespace")
        if kind in POD_KINDS:
            yield (
                (*where, "kind"),
                f"extraObjects may not hold a {kind}",
                "kmc proves its own pods meet the `restricted` Pod Security Standard; deploy other workloads with their own chart",
                False,
            )
            continue
        if namespace is not None and kind not in extra_objects.CLUSTER_SCOPED and namespace != stack.namespace:
            yield (
                (*where, "metadata", "namespace"),
                f"{kind} {written['metadata']['name']} is not in the stack's namespace {stack.namespace}",
                "leave `namespace` out: kmc puts it in the stack's",
                False,
            )
        if namespace is not None and kind in extra_objects.CLUSTER_SCOPED:
            yield ((*where, "metadata", "namespace"), f"{kind} is cluster-scoped and has no namespace", "leave `namespace` out", False)
        obj = KObject(extra_objects.body(stack, written), extra_objects.NAME)
        if obj.key in taken:
            owner = taken[obj.key]
            yield (
                (*where, "metadata", "name"),
                f"{kind} {obj.namespace + '/' if obj.namespace else ''}{obj.name} is also built by kmc's {owner}",
                "rename it, or set what you need through the stack's keys",
                False,
            )
        taken.setdefault(obj.key, extra_objects.NAME)
        if kind == "Secret" and (written.get("data") or written.get("stringData")):
            yield (
                where,
                "an extra Secret holds data",
                "the output (and a published chart) would carry it: create the Secret in the cluster, as kmc's prerequisites are",
                True,
            )
        elif _holds_private_key(written):
            yield (where, "an extra object holds a private key", "private keys stay out of the output: keep it in a Secret made in the cluster", True)
        if kind in RBAC_KINDS:
            yield from _wildcards(where, written.get("rules"))


def _holds_private_key(value: Any) -> bool:
    if isinstance(value, str):
        return PRIVATE_KEY in value
    if isinstance(value, Mapping):
        return any(_holds_private_key(child) for child in value.values())
    if isinstance(value, list):
        return any(_holds_private_key(child) for child in value)
    return False


def _wildcards(where: JsonPath, rules: Any) -> Iterator[Problem]:
    if not isinstance(rules, list):
        return
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        for field in ("apiGroups", "resources", "verbs", "nonResourceURLs"):
            if "*" in (rule.get(field) or []):
                yield (
                    (*where, "rules", index, field),
                    f"a wildcard in {field}",
                    "grant exactly the groups, resources and verbs needed (kmc's own RBAC is least privilege)",
                    False,
                )
