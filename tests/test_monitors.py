"""Imported Prometheus Operator objects (`monitors`), the job-naming modes and the "selects
nothing" check: what a stack compiles from the corpus in tests/monitors, and every refusal with
its position in the monitor file."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import PROMTOOLS, ROOT, TOOLS, tool

from kmc import pipeline
from kmc.check import monitors, schema_gate, selects
from kmc.components import job_names, rule_packs
from kmc.errors import StackInvalid
from kmc.read.manifest_files import read_objects

CORPUS = ROOT / "tests" / "monitors"
APPS = ("shop", "worker", "probes", "export")
INVALID = sorted((CORPUS / "invalid").glob("*.yaml"))
BASE = {"version": 1, "cluster": {"name": "demo", "kubernetesVersion": "1.33"}, "namespace": "monitoring"}


def _stack(tmp_path: Path, extra: dict[str, Any], copy: tuple[str, ...] = APPS) -> Path:
    for name in copy:
        shutil.copytree(CORPUS / name, tmp_path / name)
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump({**BASE, **extra}, sort_keys=False), encoding="utf-8")
    return path


def problems_of(stack: Path) -> list[str]:
    """Every error of the stack at `stack`, as `file:line:col: error: path: message`."""
    with pytest.raises(StackInvalid) as raised:
        pipeline.compile_stack(stack, "stack.yaml")
    return [f"{d.file}:{d.line}:{d.column}: {d.severity}: {d.path}: {d.message}" for d in raised.value.diagnostics]


def _config(compiled: pipeline.Compiled) -> dict[str, Any]:
    config = next(obj.body for obj in compiled.graph.objects if obj.body["kind"] == "ConfigMap" and obj.body["metadata"]["name"] == "prometheus")
    loaded: dict[str, Any] = yaml.safe_load(config["data"]["prometheus.yml"])
    return loaded


def _jobs(compiled: pipeline.Compiled) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in _config(compiled)["scrape_configs"]}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> pipeline.Compiled:
    return pipeline.compile_stack(
        _stack(tmp_path_factory.mktemp("corpus"), {"monitors": {"files": ["shop/", "worker/rendered.yaml", "probes/*.yaml", "export"]}})
    )


def test_the_corpus_compiles_to_the_operators_jobs(corpus: pipeline.Compiled) -> None:
    jobs = _jobs(corpus)
    imported = [name for name in jobs if "/" in name]
    assert imported == [
        "podMonitor/jobs/worker/0",
        "podMonitor/jobs/worker/1",
        "probe/monitoring/ingresses",
        "probe/monitoring/website",
        "serviceMonitor/search/search-api/0",
        "serviceMonitor/shop/checkout/0",
        "serviceMonitor/shop/checkout/1",
    ]
    checkout = jobs["serviceMonitor/shop/checkout/0"]
    assert checkout["kubernetes_sd_configs"] == [{"role": "endpointslice", "namespaces": {"names": ["shop"]}}]
    assert (checkout["scrape_interval"], checkout["scrape_timeout"], checkout["sample_limit"], checkout["params"]) == (
        "30s",
        "10s",
        20000,
        {"format": ["prometheus"]},
    )
    steps = checkout["relabel_configs"]
    assert {
        "action": "keep",
        "regex": "(checkout);true",
        "source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name", "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name"],
    } in steps
    assert {"action": "drop", "regex": "true", "source_labels": ["__meta_kubernetes_service_labelpresent_canary"]} in steps
    assert {"action": "keep", "regex": "metrics", "source_labels": ["__meta_kubernetes_endpointslice_port_name"]} in steps
    assert steps[-2:] == [
        {"action": "replace", "replacement": "metrics", "target_label": "endpoint"},
        {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node", "action": "replace"},
    ]
    assert checkout["metric_relabel_configs"] == [{"source_labels": ["__name__"], "regex": "go_gc_.*", "action": "drop"}]
    secure = jobs["serviceMonitor/shop/checkout/1"]
    assert secure["tls_config"] == {
        "ca_file": "/etc/prometheus-secrets/monitors/checkout-scrape/ca.crt",
        "cert_file": "/etc/prometheus-secrets/monitors/checkout-scrape/tls.crt",
        "key_file": "/etc/prometheus-secrets/monitors/checkout-scrape/tls.key",
        "server_name": "checkout.shop.svc",
    }
    assert secure["authorization"] == {"type": "Bearer", "credentials_file": "/etc/prometheus-secrets/monitors/checkout-scrape/token"}
    assert jobs["podMonitor/jobs/worker/1"]["basic_auth"] == {
        "password_file": "/etc/prometheus-secrets/monitors/worker-metrics/password",
        "username_file": "/etc/prometheus-secrets/monitors/worker-metrics/username",
    }
    assert jobs["podMonitor/jobs/worker/0"]["kubernetes_sd_configs"] == [{"role": "pod"}]  # namespaceSelector any
    assert jobs["serviceMonitor/search/search-api/0"]["authorization"]["credentials_file"].endswith("/search-metrics/token")
    assert jobs["probe/monitoring/website"]["static_configs"] == [
        {"labels": {"namespace": "monitoring", "site": "shop"}, "targets": ["https://shop.example.com", "https://shop.example.com/health"]}
    ]
    assert corpus.stack.monitors.job_values == {"serviceMonitor/shop/checkout/0": ("checkout",), "serviceMonitor/shop/checkout/1": ("checkout",)}


def test_annotation_jobs_leave_what_monitors_select(corpus: pipeline.Compiled) -> None:
    jobs = _jobs(corpus)
    service_drop = {
        "action": "drop",
        "regex": "(shop);(checkout);(true);(shop);(true)",
        "source_labels": [
            "__meta_kubernetes_namespace",
            "__meta_kubernetes_service_label_app_kubernetes_io_name",
            "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name",
            "__meta_kubernetes_service_label_app_kubernetes_io_instance",
            "__meta_kubernetes_service_labelpresent_app_kubernetes_io_instance",
        ],
    }
    # checkout's selector has a DoesNotExist term: a mark, cleared where the label is there, then the drop.
    assert {**service_drop, "action": "replace", "replacement": "1", "target_label": "__tmp_kmc_monitor"} in jobs["kubernetes-service-endpoints"][
        "relabel_configs"
    ]
    assert {"action": "drop", "regex": "1", "source_labels": ["__tmp_kmc_monitor"]} in jobs["kubernetes-pods"]["relabel_configs"]  # the worker's NotIn
    assert not any(
        "__meta_kubernetes_service_label_app_kubernetes_io_name" in step.get("source_labels", ()) for step in jobs["kubernetes-pods"]["relabel_configs"]
    )


def test_the_secrets_are_mounted_and_listed(corpus: pipeline.Compiled) -> None:
    deployment = next(obj.body for obj in corpus.graph.objects if obj.body["kind"] == "Deployment" and obj.body["metadata"]["name"] == "prometheus")
    pod = deployment["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"] if volume["name"].startswith("monitor-secret-")}
    assert [volume["secret"] for volume in volumes.values()] == [
        {"items": [{"key": key, "path": key} for key in ("ca.crt", "tls.crt", "tls.key", "token")], "secretName": "checkout-scrape"},
        {"items": [{"key": "token", "path": "token"}], "secretName": "search-metrics"},
        {"items": [{"key": "password", "path": "password"}, {"key": "username", "path": "username"}], "secretName": "worker-metrics"},
    ]
    mounts = [mount["mountPath"] for mount in pod["containers"][0]["volumeMounts"] if mount["name"] in volumes]
    assert mounts == [f"/etc/prometheus-secrets/monitors/{name}" for name in ("checkout-scrape", "search-metrics", "worker-metrics")]
    needed = [item.ref for item in pipeline.prerequisites(corpus.stack, "manifests")["default"]]
    assert {"Secret monitoring/checkout-scrape", "Secret monitoring/search-metrics", "Secret monitoring/worker-metrics"} <= set(needed)


def test_other_kinds_are_skipped_and_counted(corpus: pipeline.Compiled) -> None:
    said = sorted(f"{Path(w.file).parent.name}: {w.message}" for w in corpus.warnings if "skipped" in w.message)
    assert said == [
        "shop: skipped 3 objects of kinds kmc does not import: apps/v1 Deployment, v1 Service, v1 ServiceAccount",
        "worker: skipped 1 object of kinds kmc does not import: apps/v1 Deployment",
    ]


def test_an_ingress_probe_may_read_ingresses_and_nothing_else_does(corpus: pipeline.Compiled, tmp_path: Path) -> None:
    def rules(compiled: pipeline.Compiled) -> list[Any]:
        role = next(obj.body for obj in compiled.graph.objects if obj.body["kind"] == "ClusterRole" and obj.body["metadata"]["name"] == "monitoring-prometheus")
        return [rule.get("resources") for rule in role["rules"]]

    assert ["ingresses"] in rules(corpus)
    assert ["ingresses"] not in rules(pipeline.compile_stack(_stack(tmp_path, {"monitors": {"files": ["shop/"]}}, ("shop",))))


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_promtool_accepts_the_config_and_every_imported_rule_file(corpus: pipeline.Compiled, version: str, tmp_path: Path) -> None:
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(_config(corpus)), encoding="utf-8")
    checked = subprocess.run([tool(PROMTOOLS[version]), "check", "config", "--syntax-only", tmp_path / "prometheus.yml"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    files = {name: text for name, text in corpus.stack.rules.files.items() if name.startswith(monitors.RULE_FILE_PREFIX)}
    assert sorted(files) == ["monitor-search-search.yaml", "monitor-shop-checkout.yaml"]
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    checked = subprocess.run([tool(PROMTOOLS[version]), "check", "rules", *sorted(tmp_path.glob("monitor-*.yaml"))], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: ")
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", INVALID, ids=[path.stem for path in INVALID])
def test_an_unsupported_or_wrong_monitor_is_a_located_error(path: Path, tmp_path: Path) -> None:
    shutil.copy(path, tmp_path / path.name)
    stack = _stack(tmp_path, {"monitors": {"files": [path.name]}}, ())
    with pytest.raises(StackInvalid) as raised:
        pipeline.compile_stack(stack, "stack.yaml")
    said = [f"{d.line}:{d.column}: {d.severity}: {d.path}: {d.message}" for d in raised.value.diagnostics if d.file == path.name]
    assert any(line.startswith(_expected(path)) for line in said), said


def test_a_list_export_keeps_each_items_position(tmp_path: Path) -> None:
    objects = list(read_objects(CORPUS / "export" / "monitors.yaml", "monitors.yaml"))
    assert [obj.data["kind"] for obj in objects] == ["ServiceMonitor", "PrometheusRule"]
    assert objects[1].position(("spec", "groups", 0, "rules", 0, "expr")) == (39, 21)


def test_a_file_that_names_nothing_is_an_error_in_the_stack(tmp_path: Path) -> None:
    stack = _stack(tmp_path, {"monitors": {"files": ["charts/*/rendered.yaml", "absent/"]}}, ())
    assert problems_of(stack) == [
        "stack.yaml:8:5: error: $.monitors.files[0]: charts/*/rendered.yaml names no YAML file",
        "stack.yaml:9:5: error: $.monitors.files[1]: no such file or directory: absent/",
    ]


def _selecting(tmp_path: Path, monitor: dict[str, Any], extra: dict[str, Any] | None = None, files: tuple[dict[str, Any], ...] = ()) -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "m.yaml").write_text(yaml.safe_dump_all([*files, monitor]), encoding="utf-8")
    return _stack(tmp_path, {"monitors": {"files": ["m.yaml"]}, **(extra or {})}, ())


SELECT_NODE_EXPORTER = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "node-exporter", "namespace": "monitoring"},
    "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "node-exporter"}}, "endpoints": [{"port": "metrics"}]},
}
KUBE_DNS_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "kps-coredns", "namespace": "kube-system", "labels": {"app": "kps-coredns", "jobLabel": "coredns"}},
    "spec": {"selector": {"k8s-app": "kube-dns"}, "ports": [{"name": "http-metrics", "port": 9153}]},
}
SELECT_COREDNS = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "kps-coredns", "namespace": "monitoring"},
    "spec": {
        "jobLabel": "jobLabel",
        "namespaceSelector": {"matchNames": ["kube-system"]},
        "selector": {"matchLabels": {"app": "kps-coredns"}},
        "endpoints": [{"port": "http-metrics"}],
    },
}


def test_a_monitor_of_what_kmc_scrapes_is_an_error_naming_both(tmp_path: Path) -> None:
    assert [line.split(": error: ")[1] for line in problems_of(_selecting(tmp_path, SELECT_NODE_EXPORTER)) if "m.yaml" in line] == [
        "$.spec.selector: ServiceMonitor monitoring/node-exporter selects kmc's Service monitoring/node-exporter, which kmc's job 'node-exporter' already scrapes"
    ]


def test_a_services_pods_known_from_the_monitor_files_make_the_overlap_provable(tmp_path: Path) -> None:
    assert [line.split(": error: ")[1] for line in problems_of(_selecting(tmp_path, SELECT_COREDNS, files=(KUBE_DNS_SERVICE,))) if "m.yaml" in line] == [
        "$.spec.selector: ServiceMonitor monitoring/kps-coredns selects the Service kube-system/kps-coredns of the monitor files"
        " (its pods: the k8s-app=kube-dns pods of kube-system), which kmc's job 'coredns' already scrapes"
    ]


def test_with_precedence_monitor_kmcs_job_leaves_the_target_to_the_monitor(tmp_path: Path) -> None:
    # The coredns job discovers pods and cannot see the Service's labels: it is left out whole.
    compiled = pipeline.compile_stack(
        _selecting(tmp_path / "a", SELECT_COREDNS, {"monitors": {"files": ["m.yaml"], "precedence": "monitor"}}, (KUBE_DNS_SERVICE,))
    )
    assert compiled.stack.monitors.taken_jobs == ("coredns",)
    assert "coredns" not in _jobs(compiled) and "serviceMonitor/monitoring/kps-coredns/0" in _jobs(compiled)
    # node-exporter's job discovers EndpointSlices: it keeps running and drops what the monitor selects.
    compiled = pipeline.compile_stack(_selecting(tmp_path / "b", SELECT_NODE_EXPORTER, {"monitors": {"files": ["m.yaml"], "precedence": "monitor"}}))
    assert compiled.stack.monitors.taken_jobs == ()
    assert _jobs(compiled)["node-exporter"]["relabel_configs"][-1] == {
        "action": "drop",
        "regex": "(monitoring);(node-exporter);(true)",
        "source_labels": [
            "__meta_kubernetes_namespace",
            "__meta_kubernetes_service_label_app_kubernetes_io_name",
            "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name",
        ],
    }


def test_precedence_monitor_leaves_the_kubelets_to_a_kube_prometheus_kubelet_monitor(tmp_path: Path) -> None:
    kubelet = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "kubelet", "namespace": "monitoring"},
        "spec": {
            "namespaceSelector": {"matchNames": ["kube-system"]},
            "selector": {"matchLabels": {"app.kubernetes.io/name": "kubelet", "k8s-app": "kubelet"}},
            "endpoints": [
                {
                    "port": "https-metrics",
                    "scheme": "https",
                    "path": "/metrics/cadvisor",
                    "tlsConfig": {"caFile": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"},
                }
            ],
        },
    }
    assert "kmc's job 'cadvisor' already scrapes" in "\n".join(problems_of(_selecting(tmp_path / "a", kubelet)))
    compiled = pipeline.compile_stack(_selecting(tmp_path / "b", kubelet, {"monitors": {"files": ["m.yaml"], "precedence": "monitor"}}))
    assert compiled.stack.monitors.taken_jobs == ("cadvisor",)
    assert "cadvisor" not in _jobs(compiled) and "kubelet" in _jobs(compiled)


def test_kube_prometheus_job_names(tmp_path: Path) -> None:
    compiled = pipeline.compile_stack(
        _stack(tmp_path, {"scrape": {"jobNames": "kube-prometheus", "kubernetes": {"etcd": {"enabled": True, "secretName": "etcd-client"}}}}, ())
    )
    jobs = _jobs(compiled)
    assert jobs["cadvisor"]["relabel_configs"][-2:] == [
        {"action": "replace", "replacement": "kubelet", "target_label": "job"},
        {"action": "replace", "source_labels": ["__metrics_path__"], "target_label": "metrics_path"},
    ]
    assert jobs["kubelet"]["relabel_configs"][-1] == {"action": "replace", "source_labels": ["__metrics_path__"], "target_label": "metrics_path"}
    assert {"action": "replace", "replacement": "kube-etcd", "target_label": "job"} in jobs["etcd"]["relabel_configs"]
    produced = {found.describe() for job in jobs.values() for found in selects.produced(job)}
    assert {
        "kubelet (metrics_path=/metrics)",
        "kubelet (metrics_path=/metrics/cadvisor)",
        "kube-etcd",
        "node-exporter",
        "kube-state-metrics",
        "apiserver",
    } <= produced
    assert "cadvisor" not in produced and "etcd" not in produced
    workloads = yaml.safe_load(compiled.stack.rules.files["workloads.yaml"])
    assert 'container_cpu_usage_seconds_total{job="kubelet", metrics_path="/metrics/cadvisor", container!=""' in json.dumps(workloads).replace('\\"', '"')


@pytest.mark.parametrize("mode", job_names.MODES)
@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_the_rule_library_holds_in_both_naming_modes(mode: str, version: str, tmp_path: Path) -> None:
    """Every pack renders to rules promtool accepts, with no `${job:...}` left, in each mode."""
    for name, pack in rule_packs.library().items():
        text = yaml.safe_dump(rule_packs.pack_file(pack, {}, (), mode))
        assert "${job:" not in text
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    checked = subprocess.run([tool(PROMTOOLS[version]), "check", "rules", *sorted(tmp_path.glob("*.yaml"))], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_job_reference_of_the_library_is_in_the_table() -> None:
    texts = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "library" / "rules").glob("*.yaml"))]
    referenced = {match for text in texts for match in job_names.REFERENCE.findall(text)}
    assert referenced and referenced <= set(job_names.TABLE)
    assert not any(re.search(r'job="(' + "|".join(job_names.TABLE) + ')"', text) for text in texts), "a literal job name of the table"


def test_a_rule_that_selects_no_job_names_the_selector_and_the_jobs(tmp_path: Path) -> None:
    stack = _stack(
        tmp_path,
        {"rules": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": 'up{job="cadvisor"} == 0'}]}]}, "scrape": {"jobNames": "kube-prometheus"}},
        (),
    )
    (problem,) = problems_of(stack)
    assert problem.startswith(
        "stack.yaml:11:13: error: $.rules.groups[0].rules[0].expr: rule 'A' selects up{job=\"cadvisor\"}, which no scrape job of the stack produces"
    )


def test_an_environment_without_the_job_is_named(tmp_path: Path) -> None:
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "nodes", "namespace": "monitoring"}}
    rule["spec"] = {"groups": [{"name": "nodes", "rules": [{"alert": "NodeDown", "expr": 'up{job="node-exporter"} == 0'}]}]}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(rule), encoding="utf-8")
    stack = _stack(tmp_path, {"monitors": {"files": ["m.yaml"]}, "environments": {"dev": {"nodeExporter": {"enabled": False}}}}, ())
    assert [line.split(" error: ")[1] for line in problems_of(stack)] == [
        "$.spec.groups[0].rules[0].expr: rule 'NodeDown' of PrometheusRule monitoring/nodes selects up{job=\"node-exporter\"}, which no scrape job of the stack produces in environment 'dev'"
    ]


def test_the_fast_gate_agrees_with_jsonschema_on_the_corpus() -> None:
    from jsonschema import Draft202012Validator

    for path in sorted(CORPUS.rglob("*.yaml")):
        for obj in read_objects(path, path.name):
            kind = monitors.KINDS.get(obj.data.get("kind"))
            if kind is None:
                continue
            schema = monitors._by_kind(kind)
            for data in (obj.data, {**obj.data, "spec": {**obj.data["spec"], "typo": 1}}, {**obj.data, "metadata": {"name": 3}}):
                assert schema_gate.is_valid(schema, data) == Draft202012Validator(schema).is_valid(data), (path, data)


def test_the_monitors_schema_is_valid_and_every_field_is_described() -> None:
    from jsonschema import Draft202012Validator

    schema = monitors.load_schema()
    Draft202012Validator.check_schema(schema)

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, child in node.get("properties", {}).items():
                assert "description" in child or "$ref" in child, f"{where}.{name} has no description"
            for key, child in node.items():
                walk(child, f"{where}.{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}[{index}]")

    walk(schema, "$")


def test_a_job_label_a_recording_rule_sets_is_a_job_rules_may_select(tmp_path: Path) -> None:
    groups = [
        {"name": "slo", "rules": [{"record": "slo:up", "expr": "max(up)", "labels": {"job": "slo"}}, {"alert": "SloDown", "expr": 'slo:up{job="slo"} == 0'}]}
    ]
    pipeline.compile_stack(_stack(tmp_path, {"rules": {"groups": groups}}, ()))


def test_skipping_tls_verification_is_said_on_every_build(tmp_path: Path) -> None:
    monitor = {**SELECT_NODE_EXPORTER, "metadata": {"name": "web", "namespace": "shop"}}
    monitor["spec"] = {
        "selector": {"matchLabels": {"app": "web"}},
        "endpoints": [{"port": "https", "scheme": "https", "tlsConfig": {"insecureSkipVerify": True}}],
    }
    compiled = pipeline.compile_stack(_selecting(tmp_path, monitor))
    assert [(w.line, w.column, w.path, w.message) for w in compiled.warnings if Path(w.file).name == "m.yaml"] == [
        (11, 27, "$.spec.endpoints[0].tlsConfig.insecureSkipVerify", "ServiceMonitor shop/web scrapes without verifying the target's certificate")
    ]


def test_an_adapter_metric_may_name_a_monitors_job_by_its_label(tmp_path: Path) -> None:
    adapter = {
        "enabled": True,
        "tls": {"mode": "cert-manager"},
        "customMetrics": [{"name": "checkout_requests", "series": "http_requests_total", "resource": "pod", "type": "rate", "job": "checkout"}],
    }
    compiled = pipeline.compile_stack(_stack(tmp_path, {"monitors": {"files": ["shop/"]}, "prometheusAdapter": adapter}, ("shop",)))
    config = next(obj.body for obj in compiled.graph.objects if obj.body["kind"] == "ConfigMap" and obj.body["metadata"]["name"] == "prometheus-adapter")
    assert 'http_requests_total{namespace!="",pod!="",job="checkout"}' in str(config["data"])


def test_the_adapters_resource_queries_follow_the_naming_mode(tmp_path: Path) -> None:
    adapter = {"enabled": True, "tls": {"mode": "cert-manager"}, "resourceMetrics": {"enabled": True, "nodes": "node-exporter"}}
    compiled = pipeline.compile_stack(_stack(tmp_path, {"scrape": {"jobNames": "kube-prometheus"}, "prometheusAdapter": adapter}, ()))
    config = next(obj.body for obj in compiled.graph.objects if obj.body["kind"] == "ConfigMap" and obj.body["metadata"]["name"] == "prometheus-adapter")
    rules = yaml.safe_load(config["data"]["config.yaml"])["resourceRules"]
    assert 'container_cpu_usage_seconds_total{job="kubelet",metrics_path="/metrics/cadvisor",container!="",pod!=""' in rules["cpu"]["containerQuery"]
    assert 'node_cpu_seconds_total{job="node-exporter",mode!="idle"' in rules["cpu"]["nodeQuery"]


# -- the Prometheus Operator's own CRD validators -------------------------------------------------

OPERATOR_VALIDATOR = TOOLS / "prometheus-operator-schemas" / "validate"
GOLDEN_MONITORS = ROOT / "golden" / "full" / "monitors"


def _operator(objects: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    validator = tool(OPERATOR_VALIDATOR)
    return subprocess.run([validator], input=json.dumps(objects), capture_output=True, text=True, timeout=120, check=False)


def _operator_objects(path: Path) -> list[dict[str, Any]]:
    """The ServiceMonitors, PodMonitors, Probes and PrometheusRules of the file at `path`, read by
    PyYAML (not by kmc's reader), a `kind: List`'s items included."""
    found = []
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        items = doc.get("items", []) if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
        found += [obj for obj in items if isinstance(obj, dict) and obj.get("kind") in monitors.KINDS]
    return found


def test_the_monitor_corpus_matches_the_operators_crds() -> None:
    """Every monitor object kmc is shown importing (tests/monitors but its invalid/ corpus, and
    golden/full/monitors) is valid against the Prometheus Operator's own CRD schemas (npm
    @kubernetes-models/prometheus-operator, generated from the operator's CRDs): the corpus holds
    objects a cluster with the operator would take, not objects only kmc's schema knows."""
    paths = sorted({*CORPUS.rglob("*.yaml"), *GOLDEN_MONITORS.rglob("*.yaml")} - {*(CORPUS / "invalid").rglob("*.yaml")})
    by_path = {path: _operator_objects(path) for path in paths}
    assert all(by_path.values()), "every file of the corpus holds monitor objects (a List's items too)"
    objects = [obj for found in by_path.values() for obj in found]
    assert {obj["kind"] for obj in objects} == set(monitors.KINDS), "the corpus shows every kind kmc imports"
    assert {obj["apiVersion"] for obj in objects} == {monitors.API_VERSION}
    result = _operator(objects)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("valid ") == len(objects)


@pytest.mark.parametrize("name", ["typo", "unsupported-field"])
def test_a_monitor_the_crds_accept_may_still_be_refused_by_kmcs_schema(name: str) -> None:
    """The CRD validators do not flag a field their CRD lacks (`intervall`), and a field the CRD
    has is valid there even when kmc cannot compile it (`oauth2`): both reach a cluster. kmc's own
    strict schema (schema/monitors.schema.json, additionalProperties false) is what refuses them,
    with a located error (test_an_unsupported_or_wrong_monitor_is_a_located_error)."""
    [obj] = _operator_objects(CORPUS / "invalid" / f"{name}.yaml")
    result = _operator([obj])
    assert result.returncode == 0, result.stdout + result.stderr
    assert not schema_gate.is_valid(monitors._by_kind(monitors.KINDS[obj["kind"]]), obj)


def test_the_operator_validator_rejects_a_broken_monitor() -> None:
    """The validator bites: a wrong type, a value outside an enum or pattern, a missing required field."""
    monitor = {
        "apiVersion": monitors.API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "api"}}, "endpoints": [{"port": "metrics", "scheme": "ftp", "interval": "30 seconds"}]},
    }
    rule = {
        "apiVersion": monitors.API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"groups": [{"rules": [{"alert": "ApiDown", "expr": "up == 0"}]}]},
    }
    no_list = {**monitor, "metadata": {"name": "no-list", "namespace": "shop"}, "spec": {**monitor["spec"], "endpoints": {"port": "metrics"}}}
    result = _operator([monitor, rule, no_list])
    assert result.returncode == 1
    said = result.stdout.splitlines()
    assert said[0].startswith("invalid ServiceMonitor api: data/spec/endpoints/0/interval must match pattern"), said
    assert said[0].endswith("data/spec/endpoints/0/scheme must be equal to one of the allowed values"), said
    assert said[1:] == [
        "invalid PrometheusRule api: data/spec/groups/0 must have required property name",
        "invalid ServiceMonitor no-list: data/spec/endpoints must be array",
    ]
