"""Per environment, nothing is left that could never fire or never find a target.

An environment may switch a component off (`kubeStateMetrics.enabled: false` in `dev`). Then its
Prometheus must have no job for that component and no rule built on the component's series: an
alert on `job="kube-state-metrics"` with no such job is silent for ever, and a team believes it is
covered. Checked on every golden stack's manifests, environment by environment, from what the
environment's Prometheus really loads: the jobs of its `prometheus.yml` and the rules of its
mounted rule files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from object_sets import LOADER
from tools import ROOT

from kmc.check import selects


def _environments() -> Iterator[tuple[str, Path]]:
    for stack in sorted(ROOT.glob("golden/*/stack.yaml")):
        for env in sorted((stack.parent / "out" / "manifests").iterdir()):
            yield f"{stack.parent.name}/{env.name}", env


ENVIRONMENTS = list(_environments())


def _objects(env: Path) -> dict[tuple[str, str], dict[str, Any]]:
    objects = {}
    for path in sorted(env.glob("*.yaml")):
        obj = yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)
        objects[(obj["kind"], obj["metadata"]["name"])] = obj
    return objects


def _job_matchers(expr: str) -> Iterator[tuple[str, str]]:
    """Each `job` matcher of `expr`: (operator, value)."""
    found: list[tuple[str, str]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.extend((str(matcher.op), matcher.value) for matcher in node.matchers.matchers if matcher.name == "job")

    promql_parser.walk(promql_parser.parse(expr), visit)
    yield from found


@pytest.mark.parametrize(("name", "env"), ENVIRONMENTS, ids=[name for name, _ in ENVIRONMENTS])
def test_every_rule_asks_for_jobs_the_environment_scrapes(name: str, env: Path) -> None:
    objects = _objects(env)
    configs = [obj for (kind, _), obj in objects.items() if kind == "ConfigMap" and "prometheus.yml" in obj.get("data", {})]
    if not configs:
        # Prometheus switched off (golden/metrics-only): then nothing of it is left either.
        assert not [key for key in objects if key[1].startswith("prometheus") and key[0] in ("Deployment", "StatefulSet", "ConfigMap")], name
        assert yaml.safe_load((env.parents[2] / "stack.yaml").read_text())["prometheus"]["enabled"] is False, f"{name}: no prometheus.yml"
        return
    for config_map in configs:
        scrape_configs = yaml.safe_load(config_map["data"]["prometheus.yml"])["scrape_configs"]
        jobs = {job["job_name"] for job in scrape_configs}
        # The `job` labels the jobs give their series (scrape.jobNames may relabel them).
        labels = {found.job for job in scrape_configs for found in selects.produced(job) if found.job is not None}
        # A kmc component's job finds its pods through the component's Service: the Service is there too.
        for job in yaml.safe_load(config_map["data"]["prometheus.yml"])["scrape_configs"]:
            for step in job.get("relabel_configs", []):
                if step.get("source_labels", [None])[0] == "__meta_kubernetes_service_name" and step["action"] == "keep" and job["job_name"] in jobs:
                    service = step["regex"].split(";", 1)[0]
                    namespaces = job["kubernetes_sd_configs"][0].get("namespaces", {}).get("names", [])
                    if namespaces == [config_map["metadata"]["namespace"]] and service != "kubernetes":
                        assert ("Service", service) in objects, (
                            f"{name}: job {job['job_name']} looks for Service {service}, which this environment does not have"
                        )
        rules = objects.get(("ConfigMap", "prometheus-rules"), {}).get("data", {})
        # kmc's packs; the stack's own groups (custom.yaml) and imported PrometheusRules (monitor-*)
        # may read jobs whose names discovery decides (kmc.check.selects checks them at compile time).
        for file, text in sorted(rules.items()):
            if file == "custom.yaml" or file.startswith("monitor-"):
                continue
            for group in yaml.safe_load(text)["groups"] or []:
                for rule in group["rules"]:
                    for op, value in _job_matchers(rule["expr"]):
                        if op == "MatchOp.Equal":
                            assert value in labels, (
                                f"{name}: {file} {rule.get('alert') or rule.get('record')} asks for job {value!r}, which is not scraped here"
                            )
                        elif op == "MatchOp.Re":
                            assert any(job in labels for job in value.split("|")), (
                                f"{name}: {file} {rule.get('alert') or rule.get('record')}: no job of {value!r} is scraped here"
                            )


def test_an_environment_without_kube_state_metrics_has_neither_its_job_nor_its_alerts() -> None:
    """golden/full's `dev` switches kube-state-metrics off: its job and workload alerts go, and only there."""
    dev, default = _objects(dict(ENVIRONMENTS)["full/dev"]), _objects(dict(ENVIRONMENTS)["full/default"])

    def jobs(objects: dict[tuple[str, str], dict[str, Any]]) -> set[str]:
        return {job["job_name"] for job in yaml.safe_load(objects[("ConfigMap", "prometheus")]["data"]["prometheus.yml"])["scrape_configs"]}

    def alerts(objects: dict[tuple[str, str], dict[str, Any]]) -> set[str]:
        files = objects[("ConfigMap", "prometheus-rules")]["data"].values()
        return {rule["alert"] for text in files for group in yaml.safe_load(text)["groups"] or [] for rule in group["rules"] if "alert" in rule}

    assert "kube-state-metrics" in jobs(default) and "kube-state-metrics" not in jobs(dev)
    assert {"KubePodCrashLooping", "KubeDeploymentReplicasMismatch"} <= alerts(default) - alerts(dev)
    assert jobs(default) - jobs(dev) == {"kube-state-metrics", "prometheus-adapter"}
