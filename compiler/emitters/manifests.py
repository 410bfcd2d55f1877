"""Raw manifests: every parameter resolved, one file per object, one directory per environment.

Layout: `manifests/<env>/NN-<kind>-<name>.yaml`, where `<env>` is `default` for the stack's own
values and each environment's name otherwise, and NN is the kind's apply rank, so that
`kubectl apply -f manifests/<env>/` creates namespaces and RBAC before workloads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kmc import yaml_text
from kmc.ir import KIND_ORDER, ObjectGraph, resolve

DEFAULT_ENV = "default"


def render_objects(graph: ObjectGraph, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The graph's objects that are switched on under `values`, with parameters resolved."""
    return [resolve(obj.body, values) for obj in graph.objects if obj.switched_on(values)]


def file_name(obj: Mapping[str, Any]) -> str:
    kind = str(obj["kind"])
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    metadata = obj["metadata"]
    scope = f"{metadata['namespace']}-" if kind in ("Role", "RoleBinding") else ""
    return f"{rank:02d}-{kind.lower()}-{scope}{metadata['name']}.yaml"


def emit(graph: ObjectGraph, environments: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, bytes]:
    """`{env/file: content}` for each (environment name, values) pair."""
    files: dict[str, bytes] = {}
    for env, values in environments:
        for obj in render_objects(graph, values):
            path = f"{env}/{file_name(obj)}"
            assert path not in files, f"two objects map to {path}"
            files[path] = yaml_text.dump(obj).encode("utf-8")
    return files
