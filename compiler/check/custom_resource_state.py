"""The checks of `kubeStateMetrics.customResourceState` the schema cannot express, from
kube-state-metrics v2.16.0 (pkg/customresourcestate): `each.type` names the one block that is
there (registry_factory.go, newCompiledMetric, after config.go's configOverrides lowercases it);
the labels it reserves; metric names unique per prefix; one plural per kind (RBAC grants it)."""

from __future__ import annotations

from collections.abc import Iterator

from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str]

BLOCKS = {"Gauge": "gauge", "StateSet": "stateSet", "Info": "info"}
# config.go's Resource docs: "The customresource_group, customresource_version, and
# customresource_kind common labels are reserved, and will be overwritten".
RESERVED_LABELS = ("customresource_group", "customresource_version", "customresource_kind")
DEFAULT_PREFIX = "kube_customresource"  # config.go, GetMetricNamePrefix


def problems(stack: Stack) -> Iterator[Problem]:
    names: dict[str, JsonPath] = {}
    plurals: dict[tuple[str, str], str] = {}
    for index, resource in enumerate(stack.kube_state_metrics.custom_resource_state):
        where: JsonPath = ("kubeStateMetrics", "customResourceState", index)
        gvk = resource["groupVersionKind"]
        kind = (gvk["group"], gvk["kind"])
        if plurals.setdefault(kind, resource["resourcePlural"]) != resource["resourcePlural"]:
            yield (
                (*where, "resourcePlural"),
                f"{gvk['kind']}.{gvk['group']} has two plurals: {plurals[kind]} and {resource['resourcePlural']}",
                "a kind has one plural: its CRD's spec.names.plural",
            )
        yield from _reserved((*where, "commonLabels"), resource.get("commonLabels", {}))
        prefix = resource.get("metricNamePrefix", DEFAULT_PREFIX)
        for number, metric in enumerate(resource["metrics"]):
            at: JsonPath = (*where, "metrics", number)
            each = metric["each"]
            wanted = BLOCKS[each["type"]]
            others = sorted(block for block in BLOCKS.values() if block in each and block != wanted)
            if wanted not in each:
                yield (
                    (*at, "each", "type"),
                    f"type {each['type']} reads its `{wanted}` block, which is missing",
                    f"write `{wanted}:`, or the type of the block you wrote",
                )
            elif others:
                yield (*at, "each", others[0]), f"a `{others[0]}` block beside type {each['type']}", f"kube-state-metrics reads only `{wanted}`: remove it"
            yield from _reserved((*at, "commonLabels"), metric.get("commonLabels", {}))
            full = f"{prefix}_{metric['name']}" if prefix else metric["name"]
            if full in names:
                yield (*at, "name"), f"metric {full} is defined twice", "give each metric its own name (or its own metricNamePrefix)"
            names.setdefault(full, at)


def _reserved(where: JsonPath, labels: dict[str, str]) -> Iterator[Problem]:
    for label in labels:
        if label in RESERVED_LABELS:
            yield (*where, label), f"label {label} is kube-state-metrics' own", "it sets it from groupVersionKind: choose another name"
