"""Shards at compile time: each shard's prometheus.yml is the unsharded one plus the shard's hashmod
steps and external label; `shards: 1` changes nothing. (Real Prometheus servers judge the result
in tests/test_scaleout_e2e.py.)"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
import yaml
from object_sets import LOADER
from test_properties import build, by_environment
from tools import ROOT

from kmc.components.sharding import HASH_LABEL, POD_LOCAL_JOBS

FULL = yaml.safe_load((ROOT / "golden/full/stack.yaml").read_text())
FULL["grafana"]["dashboards"]["files"] = []  # built elsewhere than golden/full, without its dashboard file
FULL["monitors"]["files"] = [str(ROOT / "golden/full/monitors")]  # nor beside its monitor files
FULL["metricsServer"]["tls"] = {"mode": "cert-manager"}  # nor its certificate state: a mode that needs none


def _configs(doc: Any) -> dict[str, dict[str, Any]]:
    """The prometheus.yml of each Prometheus ConfigMap of the stack's own environment, by ConfigMap name."""
    tree = by_environment(build(doc))["default"]
    configs = {}
    for content in tree.values():
        obj = yaml.load(content, Loader=LOADER)
        if obj["kind"] == "ConfigMap" and "prometheus.yml" in obj.get("data", {}):
            configs[obj["metadata"]["name"]] = yaml.safe_load(obj["data"]["prometheus.yml"])
    return configs


def _with(doc: Any, **prometheus: Any) -> Any:
    """`doc` with `prometheus` keys set; with shards, no Prometheus Service to expose (Thanos Query's is)."""
    changed = copy.deepcopy(doc)
    changed["prometheus"].update(prometheus)
    return _unexposed(changed) if prometheus.get("shards", 1) > 1 else changed


def _unexposed(doc: Any) -> Any:
    """`doc` without Prometheus' own exposure (and so without its path prefix)."""
    changed = copy.deepcopy(doc)
    changed["prometheus"].pop("expose", None)
    for env in changed.get("environments", {}).values():
        env.get("prometheus", {}).pop("expose", None)
    return changed


def test_one_shard_is_the_unsharded_output() -> None:
    written = copy.deepcopy(FULL)
    del written["prometheus"]["shards"]
    assert build(written) == build(_with(FULL, shards=1))


@functools.cache
def _unsharded() -> dict[str, Any]:
    """The one prometheus.yml of FULL without shards (nor exposure, as the sharded builds); read only."""
    (base,) = _configs(_unexposed(FULL)).values()
    return base


@pytest.mark.parametrize("shards", range(2, 7))
def test_each_shard_keeps_its_part_of_every_job_but_the_pod_local_ones(shards: int) -> None:
    base = _unsharded()
    sharded = _configs(_with(FULL, shards=shards))
    assert sorted(sharded) == [f"prometheus-shard-{index}" for index in range(shards)]
    for index in range(shards):
        config = sharded[f"prometheus-shard-{index}"]
        assert config["global"]["external_labels"] == {**base["global"]["external_labels"], "shard": str(index)}
        assert [job["job_name"] for job in config["scrape_configs"]] == [job["job_name"] for job in base["scrape_configs"]]
        for job, unsharded in zip(config["scrape_configs"], base["scrape_configs"], strict=True):
            if job["job_name"] in POD_LOCAL_JOBS:
                assert job == unsharded, "each shard scrapes itself and its own sidecars"
                assert job["static_configs"][0]["targets"][0].startswith("localhost:")
                continue
            *rest, hashmod, keep = job["relabel_configs"]
            assert rest == unsharded.get("relabel_configs", [])
            assert hashmod == {"action": "hashmod", "modulus": shards, "source_labels": ["__address__"], "target_label": HASH_LABEL}
            assert keep == {"action": "keep", "regex": str(index), "source_labels": [HASH_LABEL]}
            assert {key: value for key, value in job.items() if key != "relabel_configs"} == {
                key: value for key, value in unsharded.items() if key != "relabel_configs"
            }


@pytest.mark.parametrize("enabled", [False, True])
def test_replica_label_is_the_stacks_choice_for_every_environment(enabled: bool) -> None:
    doc = {"version": 1, "prometheus": {"ha": {"enabled": enabled}}, "environments": {"prod": {"prometheus": {"replicas": 3}}}}
    (config,) = _configs(doc).values()
    labels = config["global"]["external_labels"]
    assert labels.get("prometheus_replica") == ("${POD_NAME}" if enabled else None)


def test_replicas_alert_as_one() -> None:
    """With `alerting` in prometheus.yml, HA replicas drop their replica label from alerts, so Alertmanager deduplicates them."""
    from kmc.check.schema import load_schema
    from kmc.components.sharding import shard_config
    from kmc.model import Stack

    stack = Stack.from_data(load_schema(), {"version": 1, "prometheus": {"ha": {"enabled": True}}})
    base = {"global": {"external_labels": {"cluster": "c"}}, "scrape_configs": [], "alerting": {"alertmanagers": []}}
    config = shard_config(base, stack, 1)
    assert config["alerting"]["alert_relabel_configs"] == [{"action": "labeldrop", "regex": "prometheus_replica"}]
    assert config["global"]["external_labels"] == {"cluster": "c", "shard": "1", "prometheus_replica": "${POD_NAME}"}
    assert "alert_relabel_configs" not in base["alerting"], "the unsharded config is left alone"


def test_a_prometheus_service_the_shards_leave_unused_is_warned_where_it_is_set(tmp_path: Any) -> None:
    from kmc import pipeline

    (tmp_path / "stack.yaml").write_text(
        "version: 1\n"
        "prometheus:\n"
        "  shards: 2\n"
        "  service: {type: NodePort, nodePort: 30090}\n"
        "  thanos: {sidecar: {enabled: true, objectStorage: {secretName: s, key: k}}, query: {enabled: true}}\n"
        "environments:\n"
        "  dev: {prometheus: {retention: 2d}}\n"
        "  prod:\n"
        "    prometheus:\n"
        "      service: {nodePort: 30091}\n"
    )
    warnings = pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml").warnings
    assert [(w.line, w.path, w.severity) for w in warnings if "no effect" in w.message] == [
        (4, "$.prometheus.service", "warning"),
        (10, "$.environments.prod.prometheus.service", "warning"),
    ]
    assert all("thanos-query" in w.hint for w in warnings if "no effect" in w.message)
