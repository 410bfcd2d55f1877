"""Semantic checks of remote storage, shards and Thanos (called from kmc.check.semantic)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kmc.components import sharding
from kmc.model import REMOTE_DATASOURCE_UID, REMOTE_DATASOURCES, Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str, bool]

if TYPE_CHECKING:
    RelabelCheck = Callable[[Mapping[str, Any], JsonPath], Iterator[Problem]]


def risks(stack: Stack) -> Iterator[tuple[JsonPath, str, str]]:
    """Warnings: replicas that would send identical series without a label telling them apart, and
    a Service setting that shards leave unused."""
    yield from _service_unused(stack)
    for env in sharding.replicas_without_ha(stack):
        where: JsonPath = ("environments", env, "prometheus", "replicas") if env else ("prometheus", "replicas")
        if env and "replicas" not in stack.environments[env].get("prometheus", {}):
            continue  # inherited from the stack: reported there
        yield (
            where,
            "several Prometheus replicas without a replica label" + (f" in environment {env!r}" if env else ""),
            "set prometheus.ha.enabled: true so that remote storage and Thanos can tell the replicas' identical series apart and deduplicate them",
        )


def _service_unused(stack: Stack) -> Iterator[tuple[JsonPath, str, str]]:
    """`prometheus.service` shapes the one Prometheus Service; shards get a ClusterIP Service each."""
    shards = stack.prometheus.shards
    if shards <= 1:
        return
    for env in (None, *stack.environments):
        if env is not None and "service" not in stack.environments[env].get("prometheus", {}):
            continue  # inherited from the stack: reported there
        service = stack.values(env)["prometheus"]["service"]
        if service.get("type", "ClusterIP") != "ClusterIP" or service.get("nodePort"):
            yield (
                ("environments", env, "prometheus", "service") if env else ("prometheus", "service"),
                f"prometheus.service ({service.get('type')}) has no effect with {shards} shards" + (f" in environment {env!r}" if env else ""),
                "each shard gets its own ClusterIP Service (prometheus-shard-N), as one node port cannot serve them all; "
                "clients outside the cluster should query Thanos Query (Service thanos-query), which merges the shards",
            )


def problems(stack: Stack, relabel: RelabelCheck) -> Iterator[Problem]:
    prom = stack.prometheus
    for field, entries in (("remoteWrite", prom.remote_write), ("remoteRead", prom.remote_read)):
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            here: JsonPath = ("prometheus", field, index)
            yield from _endpoint(entry, here)
            name = entry["name"]
            if name in seen:
                yield ((*here, "name"), f"the name {name!r} is used twice (also prometheus.{field}[{seen[name]}])", "give each endpoint its own name", False)
            seen.setdefault(name, index)
            for step, rule in enumerate(entry.get("writeRelabelConfigs", [])):
                yield from relabel(rule, (*here, "writeRelabelConfigs", step))
            if entry.get("grafanaDatasource"):
                yield from _datasource(stack, entry, here)
    owned = {
        **({sharding.SHARD_LABEL: "the shard label"} if prom.shards > 1 else {}),
        **({prom.ha_replica_label: "the replica label"} if sharding.ha_active(stack) else {}),
    }
    for label, what in owned.items():
        if label in prom.external_labels:
            where: JsonPath = ("prometheus", "externalLabels", label) if label != "cluster" else ("prometheus", "ha", "replicaLabel")
            yield (where, f"the external label {label!r} is {what}, which kmc sets on each Prometheus", "rename or remove one of the two", label != "cluster")
    if prom.shards > 1 and not prom.thanos_query:
        yield (
            ("prometheus", "shards"),
            f"{prom.shards} shards each hold a part of the series, and nothing queries them together",
            "enable prometheus.thanos.sidecar and prometheus.thanos.query: Grafana then asks Thanos Query, which merges the shards",
            False,
        )
    if prom.thanos_query and not prom.thanos_sidecar:
        yield (
            ("prometheus", "thanos", "query"),
            "Thanos Query needs the Thanos sidecar: without it there is no Store API to query",
            "set prometheus.thanos.sidecar.enabled: true",
            False,
        )


def _endpoint(entry: Mapping[str, Any], here: JsonPath) -> Iterator[Problem]:
    kind = entry["kind"]
    if kind == "influxdb" and "database" not in entry:
        yield (here, "an InfluxDB endpoint needs `database`", "name the InfluxDB database the samples go to (the `db` parameter)", True)
    if kind != "influxdb" and "database" in entry:
        yield ((*here, "database"), f"`database` is for kind influxdb, not {kind}", "remove it, or set `kind: influxdb`", False)
    if kind != "mimir" and "tenant" in entry:
        yield ((*here, "tenant"), f"`tenant` is for kind mimir, not {kind}", "remove it, or set `kind: mimir`", False)
    if "basicAuth" in entry and "bearerToken" in entry:
        yield ((*here, "bearerToken"), "basicAuth and bearerToken cannot be combined", "Prometheus sends one Authorization header: keep one of them", False)
    tls = entry.get("tls", {})
    if ("cert" in tls) != ("key" in tls):
        missing = "key" if "cert" in tls else "cert"
        yield ((*here, "tls"), f"a client certificate needs both `cert` and `key`; `{missing}` is missing", f"add tls.{missing}, or remove the other", False)


def _datasource(stack: Stack, entry: Mapping[str, Any], here: JsonPath) -> Iterator[Problem]:
    where = (*here, "grafanaDatasource")
    kind = entry["kind"]
    if kind not in REMOTE_DATASOURCES:
        kinds = ", ".join(sorted(REMOTE_DATASOURCES))
        yield (
            where,
            f"kmc makes Grafana datasources for {kinds} stores, not {kind}",
            "add the store's query endpoint under grafana.datasources yourself",
            False,
        )
        return
    if "bearerToken" in entry or "tenant" in entry or "tls" in entry:
        yield (
            where,
            "kmc's datasource for a remote store carries basic authentication only, not a bearer token, tenant header or TLS files",
            "add the datasource under grafana.datasources with the settings Grafana needs",
            False,
        )
    if not stack.enabled_somewhere("grafana.enabled"):
        yield (where, "Grafana is not enabled in the stack or any environment", "set grafana.enabled, or remove grafanaDatasource", False)
    uid = REMOTE_DATASOURCE_UID + entry["name"]
    if [source.uid for source in stack.grafana.datasources].count(uid) > 1:  # the store's own, and another
        yield (where, f"the datasource uid {uid!r} is taken by a datasource in grafana.datasources", "rename that datasource's uid", False)
