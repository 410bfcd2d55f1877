"""HA replicas and remote write (kmc.check.scaleout, `remoteWrite[].writers`).

With `prometheus.ha` and more than one replica in some environment, every replica sends its own
copy of every series, told apart by the replica label. What each store makes of that:
- InfluxDB 1.x keeps the label as a tag, so each replica's series stay apart and sums double: an
  error unless only one replica writes (`writers: one`);
- Mimir keeps one replica per cluster once its HA tracker is on, with the stack's cluster and
  replica labels (grafana/mimir docs/sources/mimir/configure/configure-high-availability-deduplication.md:
  `-distributor.ha-tracker.enable`, `-distributor.ha-tracker.cluster`/`.replica`, per tenant
  `accept_ha_samples`, `ha_cluster_label`, `ha_replica_label`): a warning until `writers` says;
- VictoriaMetrics deduplicates identical series only, with `-dedup.minScrapeInterval` set to the
  scrape interval (VictoriaMetrics docs/victoriametrics/README.md, "Deduplication": HA
  Prometheus pairs need identical external labels): a warning until the replica label is dropped
  for it and `writers` says;
- Thanos Receive is read through Thanos Query, which deduplicates by the replica label: nothing;
- a generic endpoint: kmc cannot tell, a warning until `writers` says.
`writers: one` keeps the series of the first pod of the StatefulSet only, by its replica label
(Prometheus adds external labels before write_relabel_configs: prometheus/prometheus v2.53.0 and
v3.5.0, storage/remote/queue_manager.go, QueueManager.StoreSeries). Real servers check it in
tests/test_scaleout_e2e.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from stack_diagnostics import diagnostics

from kmc import pipeline

STORES = (
    "    - {name: influx, kind: influxdb, url: 'http://influxdb:8086', database: prom}\n"
    "    - {name: mimir, kind: mimir, url: 'https://mimir.example.com', tenant: team-a}\n"
    "    - {name: thanos, kind: thanos-receive, url: 'http://receive:19291'}\n"
    "    - {name: vm, kind: victoriametrics, url: 'http://vm:8428'}\n"
    "    - {name: push, url: 'https://push.example.com/api/v1/write'}\n"
)
ENVIRONMENTS = "environments:\n  prod: {prometheus: {replicas: 2}}\n  dev: {prometheus: {retention: 2d}}\n"
MIMIR_HINT = (
    "enable Mimir's HA tracker, which keeps one replica's samples per cluster: -distributor.ha-tracker.enable=true with a KV store "
    "(-distributor.ha-tracker.store), -distributor.ha-tracker.enable-for-all-users=true (or accept_ha_samples: true for tenant team-a), "
    "and the stack's labels: -distributor.ha-tracker.cluster={cluster}, -distributor.ha-tracker.replica=prometheus_replica "
    "(ha_cluster_label and ha_replica_label per tenant); then set writers: all here. Or set writers: one"
)
VM_HINT = (
    "VictoriaMetrics deduplicates identical series only: drop the replica label for this store "
    "({action: labeldrop, regex: prometheus_replica} in writeRelabelConfigs) and start it with -dedup.minScrapeInterval=30s "
    "(the scrape interval); then set writers: all here. Or set writers: one"
)
GENERIC_HINT = (
    "kmc cannot tell whether this store deduplicates: if it keeps one replica's samples by the replica label prometheus_replica "
    "(as Cortex's HA tracker does), set writers: all; otherwise set writers: one"
)
INFLUX_HINT = (
    "InfluxDB keeps each replica's series apart (prometheus_replica is a tag), so sums and counts over them double, in Grafana too: "
    "set writers: one, so only the first replica ({pods}) sends; InfluxDB then misses what is scraped while that pod is down"
)


def _stack(stores: str, *, prometheus: str = "  ha: {enabled: true}\n  storage: {size: 50Gi}\n", environments: str = ENVIRONMENTS) -> str:
    return f"version: 1\nprometheus:\n{prometheus}  remoteWrite:\n{stores}{environments}"


def test_influxdb_written_by_every_replica_is_an_error(tmp_path: Path) -> None:
    assert diagnostics(tmp_path, _stack(STORES)) == [
        (
            "error",
            6,
            7,
            "$.prometheus.remoteWrite[0]",
            "each of the 2 Prometheus replicas in environment 'prod' sends its own copy of every series to InfluxDB (remoteWrite 'influx'), "
            "which cannot deduplicate them",
            INFLUX_HINT.format(pods="prometheus-0"),
        )
    ]


def test_every_store_that_may_keep_each_copy_is_warned_with_what_it_needs(tmp_path: Path) -> None:
    stores = STORES.replace("database: prom}", "database: prom, writers: one}")
    each = "each of the 2 Prometheus replicas in environment 'prod' sends its own copy of every series to"
    assert diagnostics(tmp_path, _stack(stores)) == [
        ("warning", 7, 7, "$.prometheus.remoteWrite[1]", f"{each} Mimir (remoteWrite 'mimir')", MIMIR_HINT.format(cluster="cluster")),
        ("warning", 9, 7, "$.prometheus.remoteWrite[3]", f"{each} VictoriaMetrics (remoteWrite 'vm')", VM_HINT),
        ("warning", 10, 7, "$.prometheus.remoteWrite[4]", f"{each} the store (remoteWrite 'push')", GENERIC_HINT),
    ]


def test_the_replicas_of_every_environment_are_named(tmp_path: Path) -> None:
    stack = _stack(
        "    - {name: push, url: 'https://push.example.com/api/v1/write'}\n",
        prometheus="  ha: {enabled: true}\n  replicas: 2\n",
        environments="environments:\n  big: {prometheus: {replicas: 3}}\n  small: {prometheus: {replicas: 1}}\n  prod: {prometheus: {retention: 2d}}\n",
    )
    assert [d[4] for d in diagnostics(tmp_path, stack)] == [
        "each of up to 3 Prometheus replicas in the stack's own values and environments 'big', 'prod' sends its own copy of every series to the store "
        "(remoteWrite 'push')"
    ]


def test_writers_all_is_the_users_word_that_the_store_deduplicates(tmp_path: Path) -> None:
    stores = (
        "    - {name: mimir, kind: mimir, url: 'https://mimir.example.com', writers: all}\n"
        "    - {name: push, url: 'https://push.example.com/api/v1/write', writers: all}\n"
        "    - name: vm\n"
        "      kind: victoriametrics\n"
        "      url: http://vm:8428\n"
        "      writeRelabelConfigs: [{action: labeldrop, regex: prometheus_replica}]\n"
        "      writers: all\n"
    )
    assert diagnostics(tmp_path, _stack(stores)) == []


def test_victoriametrics_keeps_both_copies_while_they_differ_by_the_replica_label(tmp_path: Path) -> None:
    stack = _stack("    - {name: vm, kind: victoriametrics, url: 'http://vm:8428', writers: all}\n")
    assert diagnostics(tmp_path, stack) == [
        (
            "warning",
            6,
            73,
            "$.prometheus.remoteWrite[0].writers",
            "VictoriaMetrics (remoteWrite 'vm') keeps the replicas' series apart: they differ by their prometheus_replica label",
            "VictoriaMetrics deduplicates identical series only: add {action: labeldrop, regex: prometheus_replica} to this store's writeRelabelConfigs",
        )
    ]


def test_victoriametrics_with_the_label_dropped_still_needs_its_dedup_interval(tmp_path: Path) -> None:
    stack = _stack("    - {name: vm, kind: victoriametrics, url: 'http://vm:8428', writeRelabelConfigs: [{action: labeldrop, regex: 'prometheus_.*'}]}\n")
    assert [d[5] for d in diagnostics(tmp_path, stack)] == [
        "VictoriaMetrics deduplicates identical series only: start it with -dedup.minScrapeInterval=30s (the scrape interval); "
        "then set writers: all here. Or set writers: one"
    ]


def test_sharded_replicas_need_a_cluster_label_per_shard_in_mimir(tmp_path: Path) -> None:
    prometheus = "  ha: {enabled: true}\n  storage: {}\n  shards: 2\n  thanos: {sidecar: {enabled: true}, query: {enabled: true}}\n"
    stack = _stack("    - {name: mimir, kind: mimir, url: 'https://mimir.example.com', tenant: team-a}\n", prometheus=prometheus)
    assert [d[5] for d in diagnostics(tmp_path, stack)] == [
        MIMIR_HINT.format(cluster="shard (the 2 shards share their cluster label: use a tenant only this stack writes to)")
    ]
    influx = _stack("    - {name: influx, kind: influxdb, url: 'http://influxdb:8086', database: prom}\n", prometheus=prometheus)
    assert [d[5] for d in diagnostics(tmp_path, influx)] == [INFLUX_HINT.format(pods="prometheus-shard-0-0, prometheus-shard-1-0")]


@pytest.mark.parametrize(
    "prometheus",
    [
        "  ha: {enabled: true}\n  storage: {}\n",  # one replica everywhere
        "  storage: {}\n",  # no replica label: warned about on its own (several replicas without a replica label)
    ],
)
def test_without_several_labelled_replicas_every_store_is_fine(tmp_path: Path, prometheus: str) -> None:
    found = diagnostics(tmp_path, _stack(STORES, prometheus=prometheus, environments="environments:\n  dev: {prometheus: {replicas: 1}}\n"))
    assert found == []


def test_writers_one_needs_the_replica_label_and_stable_pod_names(tmp_path: Path) -> None:
    stack = _stack("    - {name: influx, kind: influxdb, url: 'http://influxdb:8086', database: prom, writers: one}\n", prometheus="  replicas: 1\n")
    assert diagnostics(tmp_path, stack) == [
        (
            "error",
            5,
            92,
            "$.prometheus.remoteWrite[0].writers",
            "writers: one keeps the first replica's series by their replica label, and prometheus.ha is not enabled",
            "set prometheus.ha.enabled: true, or remove writers",
        ),
        (
            "error",
            5,
            92,
            "$.prometheus.remoteWrite[0].writers",
            "writers: one needs the first replica's pod name, and without prometheus.storage Prometheus is a Deployment, whose pods have random names",
            "set prometheus.storage (a StatefulSet, whose first pod is prometheus-0), or remove writers",
        ),
    ]


def _remote_write(tmp_path: Path, text: str) -> dict[str, list[dict[str, Any]]]:
    """The remote_write section of each Prometheus ConfigMap of the stack's own environment."""
    (tmp_path / "stack.yaml").write_text(text, encoding="utf-8")
    compiled = pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml")
    configs = {}
    for obj in compiled.graph.objects:
        body = obj.body
        if body["kind"] == "ConfigMap" and "prometheus.yml" in body.get("data", {}):
            configs[body["metadata"]["name"]] = yaml.safe_load(body["data"]["prometheus.yml"])["remote_write"]
    return configs


def test_writers_one_keeps_the_first_pods_series_before_the_stores_own_relabelling(tmp_path: Path) -> None:
    stores = (
        "    - name: influx\n"
        "      kind: influxdb\n"
        "      url: http://influxdb:8086\n"
        "      database: prom\n"
        "      writers: one\n"
        "      writeRelabelConfigs: [{action: labeldrop, regex: prometheus_replica}]\n"
        "    - {name: thanos, kind: thanos-receive, url: 'http://receive:19291', writers: one}\n"
        "    - {name: mimir, kind: mimir, url: 'https://mimir.example.com', writers: all}\n"
    )
    (entries,) = _remote_write(tmp_path, _stack(stores)).values()
    keep = {"action": "keep", "regex": "prometheus-0", "source_labels": ["prometheus_replica"]}
    assert [entry.get("write_relabel_configs") for entry in entries] == [
        [keep, {"action": "labeldrop", "regex": "prometheus_replica"}],
        [keep],
        None,
    ]


def test_each_shard_keeps_its_first_pod(tmp_path: Path) -> None:
    prometheus = "  ha: {enabled: true}\n  storage: {}\n  shards: 3\n  thanos: {sidecar: {enabled: true}, query: {enabled: true}}\n"
    stack = _stack("    - {name: thanos, kind: thanos-receive, url: 'http://receive:19291', writers: one}\n", prometheus=prometheus)
    configs = _remote_write(tmp_path, stack)
    assert sorted(configs) == ["prometheus-shard-0", "prometheus-shard-1", "prometheus-shard-2"]
    for entries in configs.values():
        assert entries[0]["write_relabel_configs"] == [
            {"action": "keep", "regex": "prometheus-shard-0-0|prometheus-shard-1-0|prometheus-shard-2-0", "source_labels": ["prometheus_replica"]}
        ]
