"""`kmc diff`: what applying the stack's objects would change, object by object and field by field.

Objects are matched by (API group, kind, namespace, name). A changed object lists the paths of its
changed fields; a change to a field the API server refuses to update in place (a workload's
selector, a StatefulSet's volumeClaimTemplates, a Service's clusterIP, a binding's roleRef, ...)
is flagged: such an object has to be deleted and created again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Obj = Mapping[str, Any]
Key = tuple[str, str, str, str]

# Field paths (prefixes) the API server will not change in place, by kind.
IMMUTABLE: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"),
    "Job": ("spec.selector", "spec.template"),
    "Service": ("spec.clusterIP", "spec.clusterIPs"),
    "PersistentVolumeClaim": ("spec.storageClassName", "spec.accessModes", "spec.volumeName", "spec.volumeMode", "spec.selector"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
}
_MISSING = object()


@dataclasses.dataclass(frozen=True)
class Change:
    path: str
    old: Any  # _MISSING when added
    new: Any  # _MISSING when removed


@dataclasses.dataclass(frozen=True)
class ObjectDiff:
    key: Key
    status: str  # "added", "removed" or "changed"
    changes: tuple[Change, ...] = ()
    was_immutable: bool = False  # a ConfigMap or Secret marked `immutable: true`

    @property
    def recreate(self) -> tuple[str, ...]:
        """The changed fields that force a delete and re-create."""
        prefixes = IMMUTABLE.get(self.key[1], ())
        immutable = [c.path for c in self.changes if any(c.path == p or c.path.startswith((p + ".", p + "[")) for p in prefixes)]
        if self.key[1] in ("ConfigMap", "Secret") and self.was_immutable:
            immutable += [c.path for c in self.changes if c.path.split(".")[0] in ("data", "stringData", "binaryData")]
        return tuple(immutable)


def key_of(obj: Obj) -> Key:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    metadata = obj.get("metadata", {})
    return (group, str(obj.get("kind", "")), str(metadata.get("namespace", "")), str(metadata.get("name", "")))


def diff(old: Iterable[Obj], new: Iterable[Obj]) -> list[ObjectDiff]:
    before = {key_of(obj): obj for obj in old}
    after = {key_of(obj): obj for obj in new}
    result = []
    for key in sorted(set(before) | set(after), key=lambda k: (k[1], k[2], k[3], k[0])):
        if key not in before:
            result.append(ObjectDiff(key, "added"))
        elif key not in after:
            result.append(ObjectDiff(key, "removed"))
        else:
            changes = tuple(fields(before[key], after[key]))
            if changes:
                result.append(ObjectDiff(key, "changed", changes, bool(before[key].get("immutable"))))
    return result


def fields(old: Any, new: Any, path: str = "") -> Iterable[Change]:
    """The changed leaves between two values; lists of named items are matched by name."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        yield from _keyed(old, new, lambda key: f"{path}.{key}" if path else str(key))
        return
    if isinstance(old, list) and isinstance(new, list) and old != new:
        if _named(old) and _named(new):
            old_by, new_by = {item["name"]: item for item in old}, {item["name"]: item for item in new}
            if len(old_by) == len(old) and len(new_by) == len(new):
                yield from _keyed(old_by, new_by, lambda name: f"{path}[{name}]")
                return
        if len(old) == len(new):
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                yield from fields(a, b, f"{path}[{index}]")
            return
    if old != new:
        yield Change(path, old, new)


def _keyed(old: Mapping[Any, Any], new: Mapping[Any, Any], where: Callable[[Any], str]) -> Iterable[Change]:
    for key in sorted(set(old) | set(new), key=str):
        if key not in old:
            yield Change(where(key), _MISSING, new[key])
        elif key not in new:
            yield Change(where(key), old[key], _MISSING)
        else:
            yield from fields(old[key], new[key], where(key))


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, Mapping) and isinstance(item.get("name"), str) for item in items)


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def render(diffs: Iterable[ObjectDiff]) -> str:
    lines = []
    for item in diffs:
        group, kind, namespace, name = item.key
        what = f"{kind}{'.' + group if group else ''} {namespace + '/' if namespace else ''}{name}"
        if item.status == "added":
            lines.append(f"+ {what}  (new)")
            continue
        if item.status == "removed":
            lines.append(f"- {what}  (no longer built: delete it, kubectl apply --prune or helm upgrade does)")
            continue
        lines.append(f"~ {what}")
        for change in item.changes:
            lines.append(f"    {change.path}: {_show(change.old)} -> {_show(change.new)}")
        if item.recreate:
            lines.append(f"  ! delete and recreate needed: {', '.join(item.recreate)} cannot be changed in place")
    return "\n".join(lines) + ("\n" if lines else "")
