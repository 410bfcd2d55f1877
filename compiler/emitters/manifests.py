"""Raw manifests: every parameter resolved, one file per object, one directory per environment.

Layout: `manifests/<env>/NN-<kind>-<name>.yaml`, where `<env>` is `default` for the stack's own
values and each environment's name otherwise, and NN is the kind's apply rank, so that
`kubectl apply -f manifests/<env>/` creates namespaces and RBAC before workloads. Beside them the
pipeline writes PREREQUISITES.md (kmc.emitters.prerequisites_file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kmc.ir import KIND_ORDER, ObjectGraph, dynamic_nodes, resolve
from kmc.text import yaml_text

DEFAULT_ENV = "default"


def render_objects(graph: ObjectGraph, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The graph's objects that are switched on under `values`, with parameters resolved."""
    return [resolve(obj.body, values) for obj in graph.objects if obj.switched_on(values)]


def file_name(obj: Mapping[str, Any]) -> str:
    kind = str(obj["kind"])
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    metadata = obj["metadata"]
    name = str(metadata["name"])
    # A Role's or RoleBinding's file names its namespace (kmc puts some in kube-system), unless its
    # name already starts with it: a stack in kube-system names those `kube-system-...` itself.
    # KEDA's objects live in their workloads' namespaces (one TriggerAuthentication in each).
    scoped = kind in ("Role", "RoleBinding", "TriggerAuthentication", "ScaledObject")
    scope = f"{metadata['namespace']}-" if scoped and not name.startswith(f"{metadata['namespace']}-") else ""
    return f"{rank:02d}-{kind.lower()}-{scope}{name}.yaml"


def emit(graph: ObjectGraph, environments: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, bytes]:
    """`{env/file: content}` for each (environment name, values) pair."""
    files: dict[str, bytes] = {}
    # An object without parameters reads the same in every environment: dumped once.
    fixed: dict[tuple[str, str, str, str], tuple[str, bytes]] = {}
    for obj in graph.objects:
        if not any(dynamic_nodes(obj.body)):
            fixed[obj.key] = (file_name(obj.body), yaml_text.dump(obj.body).encode("utf-8"))
    for env, values in environments:
        for obj in graph.objects:
            if not obj.switched_on(values):
                continue
            if obj.key in fixed:
                name, content = fixed[obj.key]
            else:
                resolved = resolve(obj.body, values)
                name, content = file_name(resolved), yaml_text.dump(resolved).encode("utf-8")
            path = f"{env}/{name}"
            assert path not in files, f"two objects map to {path}"
            files[path] = content
    return files
