"""Bounded escape hatches: extra arguments, environment, annotations, labels and volumes that a
stack adds to kmc's components, applied to their objects (kmc.check.hatches checks them first).

What kmc owns is read from the objects the components build for this stack (the flags of a
container's `args`, its env names and mounts, the pod's volumes, the labels and annotations kmc
sets), so the table cannot drift from the emitters. A few flags kmc emits only under some stack
key are listed in `CONDITIONAL_FLAGS` (tests/test_hatches.py proves each is emitted when its key
is on); a flag whose value is a deploy-time parameter is owned by that parameter's key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from kmc.components.base import PROMETHEUS_SWITCH
from kmc.ir import Join, KObject, Param, Switch
from kmc.model import Hatch, Stack
from kmc.record import record

WORKLOADS = ("DaemonSet", "Deployment", "StatefulSet")


@record
class Target:
    """Where a stack section's hatches go: the component whose objects get the labels and
    annotations, and the container that gets the arguments, environment and mounts."""

    section: str
    component: str
    container: str
    switch: str  # the component's `enabled`: where it is off, so are its hatches' needs
    pod_level: bool = True  # False: a sidecar, whose section takes arguments and environment only


TARGETS: tuple[Target, ...] = (
    Target("alertmanager", "alertmanager", "alertmanager", "alertmanager.enabled"),
    Target("grafana", "grafana", "grafana", "grafana.enabled"),
    Target("kubeStateMetrics", "kube-state-metrics", "kube-state-metrics", "kubeStateMetrics.enabled"),
    Target("metricsServer", "metrics-server", "metrics-server", "metricsServer.enabled"),
    Target("nodeExporter", "node-exporter", "node-exporter", "nodeExporter.enabled"),
    Target("prometheus", "prometheus", "prometheus", PROMETHEUS_SWITCH),
    Target("prometheus.thanos.query", "thanos-query", "thanos-query", PROMETHEUS_SWITCH),
    Target("prometheus.thanos.sidecar", "prometheus", "thanos-sidecar", PROMETHEUS_SWITCH, pod_level=False),
    Target("prometheusAdapter", "prometheus-adapter", "prometheus-adapter", "prometheusAdapter.enabled"),
)

# Flags kmc emits only under some stack key: owned by that key whether or not this stack sets it
# (an extra `--kubelet-insecure-tls` would be the insecure choice without its warning).
CONDITIONAL_FLAGS: Mapping[str, Mapping[str, str]] = {
    "kubeStateMetrics": {
        "custom-resource-state-config-file": "kubeStateMetrics.customResourceState",
        "custom-resource-state-config": "kubeStateMetrics.customResourceState",
        "custom-resource-state-only": "kubeStateMetrics.customResourceState",
    },
    "metricsServer": {
        "kubelet-insecure-tls": "metricsServer.kubelet.insecureTLS",
        "kubelet-use-node-status-port": "metricsServer.kubelet.useNodeStatusPort",
        "tls-cert-file": "metricsServer.tls",
        "tls-private-key-file": "metricsServer.tls",
    },
    "nodeExporter": {"collector.systemd": "nodeExporter.systemd", "collector.systemd.unit-include": "nodeExporter.systemd"},
    "prometheus": {
        "enable-feature": "prometheus.features",
        "web.enable-remote-write-receiver": "prometheus.features.remoteWriteReceiver",
        "web.enable-otlp-receiver": "prometheus.features.otlpReceiver",
        "storage.tsdb.max-block-duration": "prometheus.thanos.sidecar.objectStorage",
        "storage.tsdb.min-block-duration": "prometheus.thanos.sidecar.objectStorage",
    },
    "prometheus.thanos.sidecar": {"objstore.config-file": "prometheus.thanos.sidecar.objectStorage"},
    "prometheusAdapter": {"tls-cert-file": "prometheusAdapter.tls", "tls-private-key-file": "prometheusAdapter.tls"},
}


@record
class Owned:
    """What kmc sets on one target, read from its objects."""

    flags: Mapping[str, str]  # flag name (no dashes) -> the stack key that owns it ("" : kmc itself)
    env: frozenset[str]
    mount_paths: tuple[str, ...]
    volumes: frozenset[str]
    labels: frozenset[str]
    pod_annotations: frozenset[str]
    service_annotations: frozenset[str]


def owned(target: Target, objects: Sequence[KObject]) -> Owned:
    """What kmc sets on `target` in `objects` (the component's objects for this stack)."""
    flags: dict[str, str] = {}
    env: set[str] = set()
    paths: set[str] = set()
    volumes: set[str] = set()
    labels: set[str] = set()
    pod_annotations: set[str] = set()
    service_annotations: set[str] = set()
    for obj in objects:
        if obj.component != target.component:
            continue
        labels.update(obj.body["metadata"].get("labels", {}))
        if obj.kind == "Service":
            service_annotations.update(obj.body["metadata"].get("annotations", {}))
        for template, container in _containers(obj, target.container):
            labels.update(template["metadata"].get("labels", {}))
            pod_annotations.update(template["metadata"].get("annotations", {}))
            volumes.update(volume["name"] for volume in _items(template["spec"].get("volumes", [])))
            volumes.update(claim["metadata"]["name"] for claim in obj.body["spec"].get("volumeClaimTemplates", []))
            env.update(var["name"] for var in _items(container.get("env", [])))
            paths.update(mount["mountPath"] for mount in _items(container.get("volumeMounts", [])))
            for arg in _items(container.get("args", [])):
                name, owner = _flag(arg)
                if name:
                    flags.setdefault(name, owner)
    for name, key in CONDITIONAL_FLAGS.get(target.section, {}).items():
        flags.setdefault(name, key)
    return Owned(flags, frozenset(env), tuple(sorted(paths)), frozenset(volumes), frozenset(labels), frozenset(pod_annotations), frozenset(service_annotations))


def _containers(obj: KObject, name: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod template, container) of a workload's containers named `name`."""
    if obj.kind not in WORKLOADS:
        return
    template = obj.body["spec"]["template"]
    for container in template["spec"]["containers"]:
        if container["name"] == name:
            yield template, container


def _flag(arg: Any) -> tuple[str, str]:
    """The flag name of an emitted argument and the parameter that owns its value ("" : none)."""
    if isinstance(arg, Join):
        head = arg.parts[0]
        params = [part.path for part in arg.parts if isinstance(part, Param)]
        return (flag_name(head) if isinstance(head, str) else "", params[0] if params else "")
    return (flag_name(arg) if isinstance(arg, str) else "", "")


def flag_name(arg: str) -> str:
    """`--a.b=c` -> `a.b`; "" for an argument that is no flag (a subcommand)."""
    if not arg.startswith("-"):
        return ""
    return arg.lstrip("-").split("=", 1)[0]


def applied(stack: Stack, objects: Iterable[KObject]) -> Iterator[KObject]:
    """`objects` with the stack's hatches applied (after `problems` found none)."""
    by_component: dict[str, list[tuple[Target, Hatch]]] = {}
    for target in TARGETS:
        hatch = stack.hatches.get(target.section)
        if hatch:
            by_component.setdefault(target.component, []).append((target, hatch))
    for obj in objects:
        hatches = by_component.get(obj.component)
        if not hatches:
            yield obj
            continue
        body = _copy(obj.body)
        for target, hatch in hatches:
            _apply(body, target, hatch)
        yield KObject(body, obj.component, obj.conditions, obj.private)


def _apply(body: dict[str, Any], target: Target, hatch: Hatch) -> None:
    if target.pod_level and hatch.labels:
        body["metadata"]["labels"] = {**body["metadata"].get("labels", {}), **hatch.labels}
    if target.pod_level and body["kind"] == "Service" and hatch.service_annotations:
        body["metadata"]["annotations"] = {**body["metadata"].get("annotations", {}), **hatch.service_annotations}
    if body["kind"] not in WORKLOADS:
        return
    template = body["spec"]["template"]
    containers = [container for container in template["spec"]["containers"] if container["name"] == target.container]
    if not containers:
        return
    if target.pod_level:
        meta = template["metadata"]
        meta["labels"] = {**meta.get("labels", {}), **hatch.labels}
        if hatch.pod_annotations:
            meta["annotations"] = {**meta.get("annotations", {}), **hatch.pod_annotations}
        if hatch.volumes:
            template["spec"]["volumes"] = _appended(template["spec"].get("volumes", []), [dict(volume) for volume in hatch.volumes])
    for container in containers:
        if hatch.args:
            container["args"] = _appended(container.get("args", []), list(hatch.args))
        if hatch.env:
            container["env"] = _appended(container.get("env", []), [dict(var) for var in hatch.env])
        if hatch.volume_mounts:
            container["volumeMounts"] = _appended(container.get("volumeMounts", []), [dict(mount) for mount in hatch.volume_mounts])


def _items(value: Any) -> list[Any]:
    """The items of a list kmc built, on both sides of a list that differs by a parameter (a Switch)."""
    if isinstance(value, Switch):
        return [*_items(value.on), *_items(value.off)]
    return list(value)


def _appended(value: Any, extra: list[Any]) -> Any:
    """The list `value` with `extra` at its end; on both sides of a list that differs by a parameter."""
    if isinstance(value, Switch):
        return Switch(value.path, _appended(value.on, extra), _appended(value.off, extra))
    return [*value, *extra]


def _copy(value: Any) -> Any:
    """A copy of the mappings and lists of a body; parameters and scalars are shared (they are frozen)."""
    if isinstance(value, Mapping):
        return {key: _copy(child) for key, child in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(item) for item in value]
    return value


def references(stack: Stack) -> Iterator[tuple[Target, str, str, str, str]]:
    """(target, kind, name, key, what uses it) of every Secret and ConfigMap the stack's hatches
    name and the output does not hold (`extraObjects` may hold them; `optional` ones are left out)."""
    held = {(obj["kind"], obj["metadata"]["name"]) for obj in stack.extra_objects}
    for target in TARGETS:
        hatch = stack.hatches.get(target.section)
        if not hatch:
            continue
        found: list[tuple[str, str, str, str]] = []
        for var in hatch.env:
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = var.get("valueFrom", {}).get(field)
                if ref is not None and not ref.get("optional"):
                    found.append((kind, ref["name"], ref["key"], f"{target.section}.extraEnv {var['name']}"))
        for volume in hatch.volumes:
            for field, kind, name_key in (("secret", "Secret", "secretName"), ("configMap", "ConfigMap", "name")):
                source = volume.get(field)
                if source is not None and not source.get("optional"):
                    for key in [item["key"] for item in source.get("items", [])] or [""]:
                        found.append((kind, source[name_key], key, f"{target.section}.extraVolumes {volume['name']}"))
        for kind, name, key, why in found:
            if (kind, name) not in held:
                yield target, kind, name, key, why
