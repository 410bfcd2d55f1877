"""Semantic checks of remote storage, shards and Thanos (called from kmc.check.semantic)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kmc.components import prometheus, remote_storage, sharding
from kmc.model import REMOTE_DATASOURCE_UID, REMOTE_DATASOURCES, Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str, bool]

if TYPE_CHECKING:
    RelabelCheck = Callable[[Mapping[str, Any], JsonPath], Iterator[Problem]]


def risks(stack: Stack) -> Iterator[tuple[JsonPath, str, str]]:
    """Warnings: replicas that would send identical series without a label telling them apart,
    replicas that each send their copy to a store that may keep both, and a Service setting that
    shards leave unused."""
    yield from _service_unused(stack)
    yield from _duplicate_writes(stack)
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
    yield from _writers(stack)
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


STORES = {"generic": "the store", "influxdb": "InfluxDB", "mimir": "Mimir", "thanos-receive": "Thanos Receive", "victoriametrics": "VictoriaMetrics"}


def _replicated(stack: Stack) -> list[tuple[str | None, int]]:
    """Where HA replicas each send their own copy: the environments (None: the stack's own values)
    running several Prometheus replicas with the replica label, and how many."""
    if not sharding.ha_active(stack):
        return []
    counts = [(env, int(stack.values(env)["prometheus"]["replicas"])) for env in (None, *stack.environments)]
    return [(env, count) for env, count in counts if count > 1]


def _each_replica(replicated: list[tuple[str | None, int]]) -> str:
    """`each of the 2 Prometheus replicas in environment 'prod'`, and the like."""
    counts = {count for _, count in replicated}
    envs = [env for env, _ in replicated if env is not None]
    places = ["the stack's own values"] if len(envs) < len(replicated) else []
    if envs:
        places.append(("environment " if len(envs) == 1 else "environments ") + ", ".join(repr(env) for env in envs))
    number = f"the {counts.pop()}" if len(counts) == 1 else f"up to {max(counts)}"
    return f"each of {number} Prometheus replicas in {' and '.join(places)}"


def _writers(stack: Stack) -> Iterator[Problem]:
    """`writers: one` where it cannot pick the first replica, and InfluxDB sent a copy by every replica."""
    prom = stack.prometheus
    replicated = _replicated(stack)
    for index, entry in enumerate(prom.remote_write):
        here: JsonPath = ("prometheus", "remoteWrite", index)
        writers = entry.get("writers")
        if writers == "one":
            if not prom.ha_enabled:
                yield (
                    (*here, "writers"),
                    "writers: one keeps the first replica's series by their replica label, and prometheus.ha is not enabled",
                    "set prometheus.ha.enabled: true, or remove writers",
                    False,
                )
            if not prom.storage:
                yield (
                    (*here, "writers"),
                    "writers: one needs the first replica's pod name, and without prometheus.storage Prometheus is a Deployment, whose pods have random names",
                    f"set prometheus.storage (a StatefulSet, whose first pod is {_first_pods(stack)}), or remove writers",
                    False,
                )
        elif entry["kind"] == "influxdb" and replicated:
            yield (
                (*here, "writers") if writers else here,
                f"{_each_replica(replicated)} sends its own copy of every series to InfluxDB (remoteWrite {entry['name']!r}), which cannot deduplicate them",
                f"InfluxDB keeps each replica's series apart ({prom.ha_replica_label} is a tag), so sums and counts over them double, in Grafana too: "
                f"set writers: one, so only the first replica ({_first_pods(stack)}) sends"
                + ("" if prom.storage else " (with prometheus.storage: a Deployment's pods have random names)")
                + "; InfluxDB then misses what is scraped while that pod is down",
                False,
            )


def _first_pods(stack: Stack) -> str:
    return ", ".join(remote_storage.first_pods(stack, prometheus.NAME))


def _duplicate_writes(stack: Stack) -> Iterator[tuple[JsonPath, str, str]]:
    """Stores every HA replica sends its copy to, and what each needs to keep one (InfluxDB, which
    never can, is an error; Thanos Receive is queried through Thanos Query, which deduplicates)."""
    replicated = _replicated(stack)
    if not replicated:
        return
    label = stack.prometheus.ha_replica_label
    for index, entry in enumerate(stack.prometheus.remote_write):
        kind, writers, name = entry["kind"], entry.get("writers"), entry["name"]
        here: JsonPath = ("prometheus", "remoteWrite", index)
        if writers == "one" or kind in ("influxdb", "thanos-receive"):
            continue
        if writers == "all":
            if kind == "victoriametrics" and not _drops(entry, label):
                yield (
                    (*here, "writers"),
                    f"VictoriaMetrics (remoteWrite {name!r}) keeps the replicas' series apart: they differ by their {label} label",
                    f"VictoriaMetrics deduplicates identical series only: add {{action: labeldrop, regex: {label}}} to this store's writeRelabelConfigs",
                )
            continue
        yield (
            here,
            f"{_each_replica(replicated)} sends its own copy of every series to {STORES[kind]} (remoteWrite {name!r})",
            _deduplication(stack, entry),
        )


def _deduplication(stack: Stack, entry: Mapping[str, Any]) -> str:
    """What the store needs to keep one replica's samples, then `writers: all`; or `writers: one`."""
    label, kind = stack.prometheus.ha_replica_label, entry["kind"]
    if kind == "mimir":
        tenant = f"for tenant {entry['tenant']}" if "tenant" in entry else "in the tenant's overrides"
        cluster = "cluster"
        if stack.prometheus.shards > 1:
            cluster = f"{sharding.SHARD_LABEL} (the {stack.prometheus.shards} shards share their cluster label: use a tenant only this stack writes to)"
        return (
            "enable Mimir's HA tracker, which keeps one replica's samples per cluster: -distributor.ha-tracker.enable=true with a KV store "
            f"(-distributor.ha-tracker.store), -distributor.ha-tracker.enable-for-all-users=true (or accept_ha_samples: true {tenant}), and the stack's labels: "
            f"-distributor.ha-tracker.cluster={cluster}, -distributor.ha-tracker.replica={label} (ha_cluster_label and ha_replica_label per tenant); "
            "then set writers: all here. Or set writers: one"
        )
    if kind == "victoriametrics":
        drop = "" if _drops(entry, label) else f"drop the replica label for this store ({{action: labeldrop, regex: {label}}} in writeRelabelConfigs) and "
        return (
            f"VictoriaMetrics deduplicates identical series only: {drop}start it with -dedup.minScrapeInterval={stack.prometheus.scrape_interval} "
            "(the scrape interval); then set writers: all here. Or set writers: one"
        )
    return (
        f"kmc cannot tell whether this store deduplicates: if it keeps one replica's samples by the replica label {label} "
        "(as Cortex's HA tracker does), set writers: all; otherwise set writers: one"
    )


def _drops(entry: Mapping[str, Any], label: str) -> bool:
    """Whether the entry's write relabelling drops `label`."""
    for rule in entry.get("writeRelabelConfigs", []):
        if rule.get("action") == "labeldrop":
            try:
                if re.fullmatch(rule.get("regex", "(.*)"), label):
                    return True
            except re.error:
                continue  # not Python's syntax: reported by the relabel check if it is not RE2's either
    return False
