"""Scale-out of Prometheus: shards (each target scraped by exactly one shard) and HA replica labels.

Sharding is compile-time: relabel rules cannot read environment variables, so every shard gets its
own prometheus.yml, ConfigMap and workload (`prometheus-shard-K`). Every job but the pod-local ones
ends in a `hashmod` of the target's final `__address__` and a `keep` of the shard's index; the
pod-local jobs (Prometheus itself on `localhost:9090`, its sidecars) stay on every shard, because
each shard is its own localhost.

HA replicas are identical pods of one workload; they differ only in the replica external label,
whose value Prometheus expands from the `POD_NAME` environment variable (the downward API).
Prometheus 3 expands environment variables in external labels by default; 2.53 needs
`--enable-feature=expand-external-labels` (3.x only warns about that flag, so it is always passed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmc.model import Stack

SHARD_LABEL = "shard"
HASH_LABEL = "__tmp_hash"
POD_NAME_ENV = "POD_NAME"
EXPAND_FEATURE = "--enable-feature=expand-external-labels"
SELF_JOB = "prometheus"
RELOADER_JOB = "prometheus-config-reloader"
THANOS_SIDECAR_JOB = "thanos-sidecar"
# Jobs whose target is a container of the scraping pod itself: on every shard, never split.
POD_LOCAL_JOBS = frozenset((SELF_JOB, RELOADER_JOB, THANOS_SIDECAR_JOB))


def sharded(stack: Stack) -> bool:
    return stack.prometheus.shards > 1


def shard_name(base: str, index: int | None) -> str:
    """The name of shard `index`'s objects (`base` itself when the stack is not sharded)."""
    return base if index is None else f"{base}-shard-{index}"


def shard_indexes(stack: Stack) -> list[int | None]:
    """None for an unsharded stack, else 0 .. shards-1."""
    return list(range(stack.prometheus.shards)) if sharded(stack) else [None]


def ha_active(stack: Stack) -> bool:
    """Whether the replica label is set: `prometheus.ha.enabled`, a compile-time choice of the stack.

    Not derived from `replicas`: that is a deploy-time parameter, and one environment's value
    must not change another environment's output (kmc warns instead, see `replicas_without_ha`).
    """
    return stack.prometheus.ha_enabled


def replicas_without_ha(stack: Stack) -> list[str | None]:
    """The environments (None: the stack's own values) that run several replicas without the replica label."""
    if ha_active(stack):
        return []
    return [env for env in (None, *stack.environments) if int(stack.values(env)["prometheus"]["replicas"]) > 1]


def hashmod(shards: int, index: int) -> list[dict[str, Any]]:
    """The relabel steps that keep a target on shard `index` of `shards` only."""
    return [
        {"action": "hashmod", "modulus": shards, "source_labels": ["__address__"], "target_label": HASH_LABEL},
        {"action": "keep", "regex": str(index), "source_labels": [HASH_LABEL]},
    ]


def shard_config(config: Mapping[str, Any], stack: Stack, index: int | None) -> dict[str, Any]:
    """`config` (prometheus.yml as data) for shard `index`: external labels and hashmod steps added.

    `config` is left as it is: what changes is copied, the rest shared (no deep copy of every job,
    whose cost grows with the stack and is spent once per shard)."""
    out = dict(config)
    labels = dict(out["global"]["external_labels"])
    out["global"] = {**out["global"], "external_labels": labels}
    if index is not None:
        labels[SHARD_LABEL] = str(index)
        out["scrape_configs"] = [
            job
            if job["job_name"] in POD_LOCAL_JOBS
            else {**job, "relabel_configs": [*job.get("relabel_configs", []), *hashmod(stack.prometheus.shards, index)]}
            for job in out["scrape_configs"]
        ]
    if ha_active(stack):
        labels[stack.prometheus.ha_replica_label] = "${" + POD_NAME_ENV + "}"
        if "alerting" in out:
            # Replicas fire the same alerts: without their replica label Alertmanager sees one alert.
            drop = {"action": "labeldrop", "regex": stack.prometheus.ha_replica_label}
            out["alerting"] = {**out["alerting"], "alert_relabel_configs": [*out["alerting"].get("alert_relabel_configs", []), drop]}
    return out
