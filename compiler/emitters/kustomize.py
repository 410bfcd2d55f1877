"""Kustomize: a base, one component per optional stack component, one overlay per environment.

Layout (under `kustomize/`):

    base/                     objects every environment has, with the stack's own values
    components/<switch>/      a kustomize Component per set of switches (a stack component's
                              `enabled`, a feature's such as `prometheus.networkPolicy.enabled`),
                              named after the last one: node-exporter, prometheus-network-policy
    overlays/<env>/           `default` and each environment: base + the components switched on
                              there + JSON 6902 patches carrying the environment's values (and,
                              from the pipeline, PREREQUISITES.md: kmc.emitters.prerequisites_file)

Patches are exact (`replace`/`add`/`remove` at a path) rather than strategic merges, so what an
overlay does never depends on kustomize's knowledge of a kind's merge keys. No `namespace:` and no
generators are used: APIService service references and object names stay as compiled.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from kmc.emitters.manifests import file_name
from kmc.ir import KObject, ObjectGraph, condition_path, dynamic_nodes, resolve
from kmc.text import yaml_text

# Where a camelCase word continues with a capital: `kubeStateMetrics` → `kube-state-metrics`.
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
COMPONENT_API = "kustomize.config.k8s.io/v1alpha1"


def json_patch(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """The JSON 6902 operations that turn `old` into `new`."""
    if old == new:  # most of an object is the same in every environment: one comparison in C
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        ops: list[dict[str, Any]] = [{"op": "remove", "path": f"{path}/{_token(key)}"} for key in old if key not in new]
        for key, value in new.items():
            here = f"{path}/{_token(key)}"
            ops += json_patch(old[key], value, here) if key in old else [{"op": "add", "path": here, "value": value}]
        return ops
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [op for index, (a, b) in enumerate(zip(old, new, strict=True)) for op in json_patch(a, b, f"{path}/{index}")]
    return [] if old == new else [{"op": "replace", "path": path, "value": new}]


def _token(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _target(obj: Mapping[str, Any]) -> dict[str, str]:
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    target = {"group": group, "version": version, "kind": str(obj["kind"]), "name": str(obj["metadata"]["name"])}
    if "namespace" in obj["metadata"]:
        target["namespace"] = str(obj["metadata"]["namespace"])
    return target


def _kustomization(kind: str, **fields: Any) -> bytes:
    api = COMPONENT_API if kind == "Component" else KUSTOMIZE_API
    return yaml_text.dump({"apiVersion": api, "kind": kind, **fields}).encode("utf-8")


def _directory(prefix: str, objects: Iterable[Mapping[str, Any]], kind: str) -> dict[str, bytes]:
    files = {f"{prefix}/{file_name(obj)}": yaml_text.dump(obj).encode("utf-8") for obj in objects}
    names = [path.rsplit("/", 1)[1] for path in files]
    files[f"{prefix}/kustomization.yaml"] = _kustomization(kind, resources=names)
    return files


def component_name(conditions: tuple[str, ...]) -> str:
    """The kustomize Component of objects switched by `conditions`: `kubeStateMetrics.networkPolicy.enabled` → kube-state-metrics-network-policy.

    A switch inside another's section (kubeStateMetrics.enabled, then kubeStateMetrics.networkPolicy.enabled)
    is named by the inner one; switches of unrelated sections are all named, joined by `-and-`.
    """
    sections = [condition_path(condition).removesuffix(".enabled") for condition in conditions]
    named = [section for section in sections if not any(other.startswith(section + ".") for other in sections)]
    words = "-and-".join(section.replace(".", "-") for section in named)
    return _WORD_BOUNDARY.sub("-", words).lower()


def emit(graph: ObjectGraph, defaults: Mapping[str, Any], environments: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, bytes]:
    """`{path: content}` of the kustomize tree; `defaults` are the values the base is built with."""
    base = [obj for obj in graph.objects if not obj.conditions]
    optional: dict[str, list[KObject]] = {}
    for obj in graph.objects:
        if obj.conditions:
            group = optional.setdefault(component_name(obj.conditions), [])
            if group and group[0].conditions != obj.conditions:
                raise ValueError(f"kustomize component {component_name(obj.conditions)} would hold objects of different switches")
            group.append(obj)
    # Each object with the stack's values: the base and components hold it, overlays patch from it.
    before = {obj.key: resolve(obj.body, defaults) for obj in graph.objects}
    files = _directory("base", (before[obj.key] for obj in base), "Kustomization")
    for component, objects in sorted(optional.items()):
        files.update(_directory(f"components/{component}", (before[obj.key] for obj in objects), "Component"))
    dynamic = {obj.key for obj in graph.objects if any(dynamic_nodes(obj.body))}  # the objects an overlay may patch
    for env, values in environments:
        files.update(_overlay(env, graph, before, dynamic, values, optional))
    return files


def _overlay(
    env: str,
    graph: ObjectGraph,
    before: Mapping[tuple[str, str, str, str], Any],
    dynamic: Collection[tuple[str, str, str, str]],
    values: Mapping[str, Any],
    optional: Mapping[str, list[KObject]],
) -> dict[str, bytes]:
    switched_on = [component for component, objects in sorted(optional.items()) if objects[0].switched_on(values)]
    files: dict[str, bytes] = {}
    patches = []
    for obj in graph.objects:
        if not obj.switched_on(values) or obj.key not in dynamic:
            continue  # off here, or the same in every environment
        original = before[obj.key]
        ops = json_patch(original, resolve(obj.body, values))
        if ops:
            path = f"patches/{file_name(original)}"
            files[f"overlays/{env}/{path}"] = yaml_text.dump(ops).encode("utf-8")
            patches.append({"path": path, "target": _target(original)})
    fields: dict[str, Any] = {"resources": ["../../base"]}
    if switched_on:
        fields["components"] = [f"../../components/{component}" for component in switched_on]
    if patches:
        fields["patches"] = patches
    files[f"overlays/{env}/kustomization.yaml"] = _kustomization("Kustomization", **fields)
    return files
