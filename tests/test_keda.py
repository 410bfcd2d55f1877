"""KEDA as the autoscaling engine (kmc.components.keda).

The ScaledObjects and TriggerAuthentications kmc emits are valid against KEDA's own CRD schemas
(npm @kubernetes-models/keda, installed by scripts/install-tools); each Prometheus trigger runs
the very query prometheus-adapter runs for the same intent, and it computes the right number in
the real Prometheus engine (`promtool test rules`, 2.53 and 3.x); KEDA and the adapter never
both serve `external.metrics.k8s.io`; KEDA is a prerequisite of the output, never part of it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_schemas import iter_golden_manifest_files
from object_sets import LOADER
from tools import PROMTOOLS, ROOT, TOOLS, tool

from kmc import pipeline
from kmc.components.keda import threshold
from kmc.components.thanos import query_url as thanos_query_url
from kmc.errors import StackInvalid

KEDA_STACK = ROOT / "golden/keda/stack.yaml"
KEDA_VALIDATOR = TOOLS / "keda-schemas" / "validate"


def _objects(text: str, tmp_path: Path, env: str = "default") -> tuple[list[dict[str, Any]], list[str]]:
    """The manifests of `env` and the warnings of a stack."""
    (tmp_path / "stack.yaml").write_text(text, encoding="utf-8")
    compiled = pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml")
    files = pipeline.emit(compiled, ("manifests",), None)["manifests"]
    objects = [yaml.load(content, Loader=LOADER) for path, content in sorted(files.items()) if path.startswith(f"{env}/") and path.endswith(".yaml")]
    return objects, [f"{w.path}: {w.message}" for w in compiled.warnings]


def _errors(text: str, tmp_path: Path) -> list[str]:
    (tmp_path / "stack.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(StackInvalid) as raised:
        pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml")
    return [f"{d.path}: {d.message}" for d in raised.value.diagnostics]


def _of(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}": obj for obj in objects if obj["kind"] == kind}


def _keda_validate(objects: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool(KEDA_VALIDATOR)], input=json.dumps(objects), capture_output=True, text=True, timeout=120, check=False)


# -- KEDA's CRD schemas ---------------------------------------------------------------------------


def test_keda_objects_match_kedas_crds() -> None:
    """The ScaledObjects and TriggerAuthentications of every golden case, against KEDA's CRD schemas."""
    objects = [
        obj
        for path in iter_golden_manifest_files(ROOT)
        for obj in yaml.load_all(path.read_text(encoding="utf-8"), Loader=LOADER)
        if isinstance(obj, dict) and obj.get("apiVersion") == "keda.sh/v1alpha1"
    ]
    assert {obj["kind"] for obj in objects} == {"ScaledObject", "TriggerAuthentication"}, "golden/keda uses both"
    result = _keda_validate(objects)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("valid ") == len(objects)


def test_the_keda_validator_rejects_a_broken_scaled_object() -> None:
    broken = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"name": "x"}, "maxReplicaCount": "ten", "triggers": [{"metadata": {"threshold": 5}}]},
    }
    result = _keda_validate([broken])
    assert result.returncode == 1
    assert "invalid ScaledObject x" in result.stdout


# -- one query for both engines -------------------------------------------------------------------


def _hpa_twin() -> str:
    """golden/keda's stack with every entry on the HPA engine and the adapter serving its intents."""
    text = KEDA_STACK.read_text(encoding="utf-8")
    text = text.replace("autoscalingEngine: keda\n", "autoscalingEngine: hpa\n").replace("    engine: keda\n", "")
    return text.replace("prometheusAdapter:\n", "prometheusAdapter:\n  enabled: true\n  tls: {mode: cert-manager}\n")


def _expand(template: str, series: str, matchers: str, group_by: str = "") -> str:
    """What prometheus-adapter sends Prometheus for one request (its metricsQuery template filled in)."""
    return template.replace("<<.Series>>", series).replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", group_by)


# Each KEDA trigger: (ScaledObject, trigger index) → the adapter rule it stands for, its series, and
# the request the HPA would make of the adapter (label matchers, group by), as the adapter expands it.
REQUESTS = {
    ("shop/checkout", 1): ("rules", "checkout_inflight_requests", 'namespace="shop",service="checkout"', "namespace,service"),
    ("shop/checkout", 2): ("externalRules", "orders_per_second", 'namespace="shop"', ""),
    ("jobs/order-worker", 0): ("externalRules", "queue_depth", 'namespace="jobs",queue="orders",vhost=~"shop\\\\.eu|shop\\\\.us"', ""),
    ("jobs/order-worker", 1): ("externalRules", "cloud_queue_backlog", "", ""),
    ("jobs/order-worker", 2): ("rules", "namespace_pods_running", 'namespace="jobs"', "namespace"),
}
SERIES = {
    "checkout_inflight_requests": "checkout_inflight_requests",
    "orders_per_second": "orders_created_total",
    "queue_depth": "rabbitmq_queue_messages",
    "cloud_queue_backlog": "sqs_messages_visible",
    "namespace_pods_running": "kube_pod_status_phase",
}


def _queries(tmp_path: Path) -> tuple[dict[tuple[str, int], str], dict[tuple[str, int], str]]:
    """Every KEDA trigger's query, and the adapter's query for the same intent and request."""
    keda_dir, hpa_dir = tmp_path / "keda", tmp_path / "hpa"
    keda_dir.mkdir()
    hpa_dir.mkdir()
    keda_objects, _ = _objects(KEDA_STACK.read_text(encoding="utf-8"), keda_dir)
    hpa_objects, _ = _objects(_hpa_twin(), hpa_dir)
    config = yaml.safe_load(_of(hpa_objects, "ConfigMap")["monitoring/prometheus-adapter"]["data"]["config.yaml"])
    keda: dict[tuple[str, int], str] = {}
    for name, obj in _of(keda_objects, "ScaledObject").items():
        for index, trigger in enumerate(obj["spec"]["triggers"]):
            if trigger["type"] == "prometheus":
                keda[(name, index)] = trigger["metadata"]["query"]
    adapter = {}
    for key, (section, metric, matchers, group_by) in REQUESTS.items():
        rule = next(rule for rule in config[section] if rule["name"]["as"] == metric)
        adapter[key] = _expand(rule["metricsQuery"], SERIES[metric], matchers, group_by)
    return keda, adapter


def test_each_keda_query_is_the_adapters_query_for_the_same_intent(tmp_path: Path) -> None:
    keda, adapter = _queries(tmp_path)
    assert set(keda) == set(REQUESTS), "every Prometheus trigger is accounted for"
    # The adapter leaves `{}` where a request has no matcher and no job; so does KEDA's query.
    assert keda == adapter


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_keda_queries_compute_the_right_values(version: str, tmp_path: Path) -> None:
    keda, _ = _queries(tmp_path)
    series = [
        {"series": 'checkout_inflight_requests{job="kubernetes-service-endpoints",namespace="shop",service="checkout",pod="c-1"}', "values": "7x10"},
        {"series": 'checkout_inflight_requests{job="kubernetes-service-endpoints",namespace="shop",service="checkout",pod="c-2"}', "values": "9x10"},
        # another job's copy of the series does not count: the intent names its job
        {"series": 'checkout_inflight_requests{job="blackbox",namespace="shop",service="checkout"}', "values": "900x10"},
        {"series": 'orders_created_total{job="kubernetes-pods",namespace="shop",pod="o-1"}', "values": "0+30x10"},
        {"series": 'orders_created_total{job="kubernetes-pods",namespace="shop",pod="o-2"}', "values": "0+90x10"},
        {"series": 'orders_created_total{job="kubernetes-pods",namespace="other",pod="o-3"}', "values": "0+6000x10"},
        {"series": 'rabbitmq_queue_messages{job="kubernetes-pods",namespace="jobs",queue="orders",vhost="shop.eu"}', "values": "30x10"},
        {"series": 'rabbitmq_queue_messages{job="kubernetes-pods",namespace="jobs",queue="orders",vhost="shop.us"}', "values": "42x10"},
        {"series": 'rabbitmq_queue_messages{job="kubernetes-pods",namespace="jobs",queue="orders",vhost="shopxeu"}', "values": "999x10"},
        {"series": 'rabbitmq_queue_messages{job="kubernetes-pods",namespace="jobs",queue="billing",vhost="shop.eu"}', "values": "500x10"},
        {"series": 'sqs_messages_visible{job="cloudwatch",queue="a"}', "values": "400x10"},
        {"series": 'sqs_messages_visible{job="cloudwatch",queue="b"}', "values": "700x10"},
        {"series": 'kube_pod_status_phase{job="kube-state-metrics",namespace="jobs",pod="w-1",phase="Running"}', "values": "1x10"},
        {"series": 'kube_pod_status_phase{job="kube-state-metrics",namespace="jobs",pod="w-2",phase="Running"}', "values": "1x10"},
        {"series": 'kube_pod_status_phase{job="kube-state-metrics",namespace="shop",pod="c-1",phase="Running"}', "values": "1x10"},
    ]
    expected = {
        ("shop/checkout", 1): ('{namespace="shop",service="checkout"}', 9),
        ("shop/checkout", 2): ("{}", 2),  # (30 + 90) per minute
        ("jobs/order-worker", 0): ("{}", 42),
        ("jobs/order-worker", 1): ("{}", 1100),
        ("jobs/order-worker", 2): ('{namespace="jobs"}', 2),
    }
    cases = [{"eval_time": "10m", "expr": keda[key], "exp_samples": [{"labels": labels, "value": value}]} for key, (labels, value) in sorted(expected.items())]
    test = {"rule_files": [], "evaluation_interval": "1m", "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": cases}]}
    path = tmp_path / "keda.test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([tool(PROMTOOLS[version]), "test", "rules", path], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# -- what the ScaledObjects say -------------------------------------------------------------------


def test_scaled_objects_carry_the_entries_and_the_stacks_prometheus(tmp_path: Path) -> None:
    objects, _ = _objects(KEDA_STACK.read_text(encoding="utf-8"), tmp_path)
    checkout = _of(objects, "ScaledObject")["shop/checkout"]["spec"]
    assert checkout["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"}
    assert (checkout["minReplicaCount"], checkout["maxReplicaCount"]) == (2, 20)
    cpu, inflight, orders = checkout["triggers"]
    assert cpu == {"metadata": {"value": "70"}, "metricType": "Utilization", "type": "cpu"}
    assert inflight["metricType"] == "Value" and inflight["metadata"]["threshold"] == "200"
    assert orders["metricType"] == "AverageValue" and orders["metadata"]["threshold"] == "0.5"  # 500m
    for trigger in (inflight, orders):
        assert trigger["metadata"]["serverAddress"] == "http://prometheus.monitoring.svc.cluster.local:9090"
        assert trigger["metadata"]["ignoreNullValues"] == "false"
        assert trigger["metadata"]["authModes"] == "bearer" and trigger["authenticationRef"] == {"name": "prometheus"}
    auths = _of(objects, "TriggerAuthentication")
    assert sorted(auths) == ["jobs/prometheus", "shop/prometheus"], "one per namespace of a KEDA-scaled workload"
    assert auths["shop/prometheus"]["spec"] == {"secretTargetRef": [{"key": "token", "name": "prometheus-reader", "parameter": "bearerToken"}]}
    assert not [obj for obj in objects if "adapter" in obj["metadata"]["name"]], "every entry on KEDA: no adapter"
    assert not _of(objects, "HorizontalPodAutoscaler")


def test_with_thanos_keda_queries_the_global_view_as_the_adapter_does(tmp_path: Path) -> None:
    """Sharded or replicated, the stack's Thanos Query sees every series: KEDA asks it, as the adapter does."""
    thanos = "  shards: 2\n  thanos: {sidecar: {enabled: true}, query: {enabled: true}}\n"
    text = KEDA_STACK.read_text(encoding="utf-8").replace("prometheus:\n", f"prometheus:\n{thanos}", 1)
    objects, _ = _objects(text, tmp_path)
    addresses = {t["metadata"]["serverAddress"] for o in _of(objects, "ScaledObject").values() for t in o["spec"]["triggers"] if t["type"] == "prometheus"}
    assert addresses == {thanos_query_url(pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml").stack)}
    assert addresses == {"http://thanos-query.monitoring.svc.cluster.local:10902"}


@pytest.mark.parametrize(
    ("mode", "refs"),
    [
        ("basic", [("username", "username"), ("password", "password")]),
        ("tls", [("ca", "ca.crt"), ("cert", "tls.crt"), ("key", "tls.key")]),
    ],
)
def test_credentials_come_from_the_secret(mode: str, refs: list[tuple[str, str]], tmp_path: Path) -> None:
    text = KEDA_STACK.read_text(encoding="utf-8").replace("mode: bearer", f"mode: {mode}")
    objects, _ = _objects(text, tmp_path)
    auth = _of(objects, "TriggerAuthentication")["jobs/prometheus"]
    assert auth["spec"] == {"secretTargetRef": [{"key": key, "name": "prometheus-reader", "parameter": parameter} for parameter, key in refs]}
    assert _of(objects, "ScaledObject")["jobs/order-worker"]["spec"]["triggers"][0]["metadata"]["authModes"] == mode
    assert _keda_validate([auth]).returncode == 0


def test_no_authentication_no_trigger_authentication(tmp_path: Path) -> None:
    text = KEDA_STACK.read_text(encoding="utf-8").replace("keda:\n  authentication: {mode: bearer, secretName: prometheus-reader}\n", "")
    objects, _ = _objects(text, tmp_path)
    assert not _of(objects, "TriggerAuthentication")
    triggers = [t for o in _of(objects, "ScaledObject").values() for t in o["spec"]["triggers"]]
    assert not [t for t in triggers if "authenticationRef" in t or "authModes" in t["metadata"]]


@pytest.mark.parametrize(("quantity", "decimal"), [("100m", "0.1"), ("10", "10"), ("2k", "2000"), ("1Gi", "1073741824"), ("1e3", "1000"), ("0.5", "0.5")])
def test_thresholds_are_the_quantities_as_decimals(quantity: str, decimal: str) -> None:
    assert threshold(quantity) == decimal


# -- per environment -------------------------------------------------------------------------------


def test_an_environment_without_keda_gets_no_scaled_objects_and_is_told(tmp_path: Path) -> None:
    text = KEDA_STACK.read_text(encoding="utf-8")
    dev, warnings = _objects(text, tmp_path, "dev")
    prod, _ = _objects(text, tmp_path, "prod")
    assert not _of(dev, "ScaledObject") and not _of(dev, "TriggerAuthentication")
    assert sorted(_of(prod, "ScaledObject")) == ["jobs/order-worker", "shop/checkout"]
    assert warnings == [
        "$.environments.dev.keda.enabled: environment 'dev' leaves out the HPAs shop/checkout and jobs/order-worker: "
        "keda.enabled is false there, and they read metrics from KEDA"
    ]


def test_keda_is_a_prerequisite_not_part_of_the_output(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(KEDA_STACK.read_text(encoding="utf-8"), encoding="utf-8")
    compiled = pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml")
    files = pipeline.emit(compiled, ("manifests", "helm"), None)
    prerequisites = files["manifests"]["prod/PREREQUISITES.md"].decode()
    for needed in ("scaledobjects.keda.sh", "triggerauthentications.keda.sh", "keda-operator", "prometheus-reader", "https://keda.sh/docs/2.19/deploy/"):
        assert needed in prerequisites
    assert "scaledobjects.keda.sh" not in files["manifests"]["dev/PREREQUISITES.md"].decode(), "dev turns KEDA off"
    notes = next(content for path, content in files["helm"].items() if path.endswith("NOTES.txt")).decode()
    assert "scaledobjects.keda.sh" in notes and "keda.enabled" in notes
    kinds = {yaml.safe_load(content)["kind"] for path, content in files["manifests"].items() if path.endswith(".yaml")}
    assert "CustomResourceDefinition" not in kinds


# -- one provider of external.metrics.k8s.io -------------------------------------------------------

ADAPTER = (
    "version: 1\nprometheusAdapter:\n  enabled: true\n  tls: {mode: cert-manager}\n  externalMetrics: [{name: queue_depth, series: rabbitmq_queue_messages}]\n"
)


def _entry(name: str, metric: str, engine: str = "keda") -> str:
    return f"  - {{name: {name}, namespace: shop, engine: {engine}, target: {{kind: Deployment, name: {name}}}, maxReplicas: 5, metrics: [{metric}]}}\n"


def test_keda_takes_external_metrics_and_the_adapter_left_with_nothing_is_not_emitted(tmp_path: Path) -> None:
    objects, warnings = _objects(ADAPTER + "autoscaling:\n" + _entry("worker", "{external: queue_depth, value: '10'}"), tmp_path)
    assert warnings == []
    assert [obj["kind"] for obj in objects if obj["kind"] in ("ScaledObject", "APIService", "HorizontalPodAutoscaler")] == ["ScaledObject"]
    assert not [obj for obj in objects if "prometheus-adapter" in obj["metadata"]["name"]]


def test_beside_keda_the_adapter_serves_custom_metrics_only(tmp_path: Path) -> None:
    custom = "  customMetrics: [{name: rps, series: http_requests_total, resource: pod, type: rate}]\n"
    stack = (
        ADAPTER + custom + "autoscaling:\n" + _entry("worker", "{external: queue_depth, value: '10'}") + _entry("web", "{pods: rps, averageValue: '5'}", "hpa")
    )
    objects, _ = _objects(stack, tmp_path)
    services = sorted(_of(objects, "APIService"))
    assert services == ["/v1beta1.custom.metrics.k8s.io", "/v1beta2.custom.metrics.k8s.io"]
    config = yaml.safe_load(_of(objects, "ConfigMap")["monitoring/prometheus-adapter"]["data"]["config.yaml"])
    assert "externalRules" not in config and [rule["name"]["as"] for rule in config["rules"]] == ["rps"]
    assert sorted(_of(objects, "HorizontalPodAutoscaler")) == ["shop/web"] and sorted(_of(objects, "ScaledObject")) == ["shop/worker"]


def test_an_hpa_on_an_external_metric_beside_keda_is_an_error(tmp_path: Path) -> None:
    stack = ADAPTER + "autoscaling:\n" + _entry("worker", "{external: queue_depth, value: '10'}") + _entry("web", "{external: queue_depth, value: '5'}", "hpa")
    assert _errors(stack, tmp_path) == [
        "$.autoscaling[1].metrics[0].external: no HPA can read the external metric 'queue_depth' from prometheus-adapter: "
        "autoscaling[0] uses KEDA, whose operator serves external.metrics.k8s.io"
    ]


def test_raw_external_rules_beside_keda_are_an_error(tmp_path: Path) -> None:
    raw = (
        "  rules:\n"
        "    external:\n"
        "      - {seriesQuery: kafka_consumergroup_lag, resources: {namespaced: false}, name: {as: kafka_lag}, metricsQuery: 'sum(<<.Series>>)'}\n"
    )
    errors = _errors(ADAPTER + raw + "autoscaling:\n" + _entry("worker", "{external: queue_depth, value: '10'}"), tmp_path)
    assert errors == [
        "$.prometheusAdapter.rules.external: the adapter cannot serve these external rules: autoscaling[0] uses KEDA, "
        "whose operator serves external.metrics.k8s.io, and an API group has one provider"
    ]


def test_keda_entries_scale_only_on_intents_kmc_can_compile(tmp_path: Path) -> None:
    entries = (
        _entry("a", "{pods: rps, averageValue: '5'}")
        + _entry("b", "{external: nothing, value: '5'}")
        + _entry("c", "{object: {metric: rps, kind: Service, name: c}, value: '5'}")
    )
    assert _errors(ADAPTER + "autoscaling:\n" + entries, tmp_path) == [
        "$.autoscaling[0].metrics[0].pods: a KEDA entry cannot scale on a pods metric: its query would have to name the workload's pods, "
        "which kmc does not know",
        "$.autoscaling[1].metrics[0].external: no externalMetrics intent 'nothing' to compile KEDA's query from",
        "$.autoscaling[2].metrics[0].object: no customMetrics intent 'rps' for services to compile KEDA's query from",
    ]


def test_keda_intents_are_checked_without_the_adapter(tmp_path: Path) -> None:
    stack = (
        "version: 1\n"
        "prometheusAdapter:\n"
        "  externalMetrics: [{name: queue_depth, series: rabbitmq_queue_messages, job: no-such-job}]\n"
        "autoscaling:\n" + _entry("worker", "{external: queue_depth, value: '10'}")
    )
    (error,) = _errors(stack, tmp_path)
    assert error.startswith("$.prometheusAdapter.externalMetrics[0].job: no scrape job of this stack is named 'no-such-job'")


def test_an_adapter_left_with_nothing_to_serve_leaves_no_trace_in_the_chart(tmp_path: Path) -> None:
    """Every external metric goes to KEDA, so the adapter is not built: the chart's values have no
    prometheusAdapter section, and its NOTES must not read one (helm would stop on a nil value)."""
    (tmp_path / "stack.yaml").write_text(
        "version: 1\n"
        "prometheusAdapter:\n  enabled: true\n  priorityClassName: monitoring\n"
        "  externalMetrics: [{name: queue_depth, series: queue_messages, namespaced: false, type: gauge}]\n"
        "autoscaling:\n  - {name: worker, namespace: shop, engine: keda, target: {kind: Deployment, name: worker},"
        " maxReplicas: 5, metrics: [{external: queue_depth, value: '10'}]}\n"
    )
    chart = pipeline.emit(pipeline.compile_stack(tmp_path / "stack.yaml"), ("helm",), None)["helm"]
    assert not [name for name in chart if "prometheus-adapter" in name]
    assert not [name for name, text in chart.items() if b".Values.prometheusAdapter" in text]
