"""The metrics APIs as real tools see them: the adapter's compiled queries, expanded the way the
adapter expands them, give the right numbers in the real Prometheus engine (`promtool test
rules`, 2.53 and 3.x) over series labelled as kmc's scrape jobs label them; the serving
certificate in the output verifies against the APIService's caBundle with the real openssl; and
certificates are state: made once, reused byte for byte, never made by `--check` or `validate`."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pod_files import Container
from tools import PROMTOOLS, ROOT, tool

from kmc import pipeline
from kmc.errors import StackInvalid


def _manifest(case: str, name: str) -> dict[str, Any]:
    (path,) = (ROOT / f"golden/{case}/out/manifests/default").glob(f"*-{name}.yaml")
    return yaml.safe_load(path.read_text())  # type: ignore[no-any-return]


def _adapter_config(case: str) -> dict[str, Any]:
    return yaml.safe_load(_manifest(case, "configmap-prometheus-adapter")["data"]["config.yaml"])  # type: ignore[no-any-return]


def _expand(template: str, series: str, matchers: str, group_by: str) -> str:
    """What prometheus-adapter sends Prometheus for one request."""
    return template.replace("<<.Series>>", series).replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", group_by)


def _rule(rules: list[dict[str, Any]], exposed: str) -> dict[str, Any]:
    return next(rule for rule in rules if rule.get("name", {}).get("as") == exposed)


def _promtool_test(version: str, tmp_path: Path, series: list[dict[str, str]], cases: list[dict[str, Any]]) -> None:
    test = {"rule_files": [], "evaluation_interval": "1m", "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": cases}]}
    path = tmp_path / "adapter.test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([tool(PROMTOOLS[version]), "test", "rules", path], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_custom_and_external_queries_compute_the_right_values(version: str, tmp_path: Path) -> None:
    config = _adapter_config("full")
    per_pod = _rule(config["rules"], "http_requests_per_second")
    per_service = _rule(config["rules"], "checkout_inflight_requests")
    queue = _rule(config["externalRules"], "queue_depth")
    series = [
        # 120 requests a minute on web-1, 60 on web-2, as the kubernetes-pods job labels them;
        {"series": 'http_requests_total{job="kubernetes-pods",namespace="shop",pod="web-1",node="n1"}', "values": "0+120x10"},
        {"series": 'http_requests_total{job="kubernetes-pods",namespace="shop",pod="web-2",node="n2"}', "values": "0+60x10"},
        # the same pod scraped by another job must not count (the rule names its job).
        {"series": 'http_requests_total{job="blackbox-http",namespace="shop",pod="web-1"}', "values": "0+6000x10"},
        {"series": 'checkout_inflight_requests{job="kubernetes-service-endpoints",namespace="shop",service="checkout",pod="c-1"}', "values": "7x10"},
        {"series": 'checkout_inflight_requests{job="kubernetes-service-endpoints",namespace="shop",service="checkout",pod="c-2"}', "values": "9x10"},
        {"series": 'rabbitmq_queue_messages{job="kubernetes-pods",namespace="shop",queue="orders",pod="rabbit-0"}', "values": "30x10"},
        {"series": 'rabbitmq_queue_messages{job="kubernetes-pods",namespace="shop",queue="orders",pod="rabbit-1"}', "values": "42x10"},
        {"series": 'rabbitmq_queue_messages{job="kubernetes-pods",namespace="shop",queue="billing",pod="rabbit-0"}', "values": "500x10"},
    ]
    cases = [
        {
            "eval_time": "10m",
            "expr": _expand(per_pod["metricsQuery"], "http_requests_total", 'namespace="shop",pod=~"web-1|web-2"', "pod"),
            "exp_samples": [{"labels": '{pod="web-1"}', "value": 2}, {"labels": '{pod="web-2"}', "value": 1}],
        },
        {
            "eval_time": "10m",
            "expr": _expand(per_service["metricsQuery"], "checkout_inflight_requests", 'namespace="shop",service="checkout"', "service"),
            "exp_samples": [{"labels": '{service="checkout"}', "value": 9}],
        },
        {
            "eval_time": "10m",
            "expr": _expand(queue["metricsQuery"], "rabbitmq_queue_messages", 'namespace="shop",queue="orders"', ""),
            "exp_samples": [{"labels": "{}", "value": 42}],
        },
    ]
    _promtool_test(version, tmp_path, series, cases)


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_resource_queries_compute_cpu_and_memory(version: str, tmp_path: Path) -> None:
    rules = _adapter_config("adapter-resource")["resourceRules"]
    series = [
        # cAdvisor: one container using half a core and 300 MiB; the pod-level cgroup has no container label.
        {"series": 'container_cpu_usage_seconds_total{job="cadvisor",namespace="batch",pod="worker-0",container="app",node="n1"}', "values": "0+30x10"},
        {"series": 'container_cpu_usage_seconds_total{job="cadvisor",namespace="batch",pod="worker-0",container="",node="n1"}', "values": "0+30x10"},
        {"series": 'container_memory_working_set_bytes{job="cadvisor",namespace="batch",pod="worker-0",container="app",node="n1"}', "values": "314572800x10"},
        # node-exporter on n1: 1.5 cores busy (user + system), idle and iowait not counted.
        {"series": 'node_cpu_seconds_total{job="node-exporter",node="n1",cpu="0",mode="user"}', "values": "0+60x10"},
        {"series": 'node_cpu_seconds_total{job="node-exporter",node="n1",cpu="1",mode="system"}', "values": "0+30x10"},
        {"series": 'node_cpu_seconds_total{job="node-exporter",node="n1",cpu="1",mode="idle"}', "values": "0+30x10"},
        {"series": 'node_cpu_seconds_total{job="node-exporter",node="n1",cpu="0",mode="iowait"}', "values": "0+30x10"},
        {"series": 'node_memory_MemTotal_bytes{job="node-exporter",node="n1"}', "values": "8000x10"},
        {"series": 'node_memory_MemAvailable_bytes{job="node-exporter",node="n1"}', "values": "3000x10"},
    ]
    pod = 'namespace="batch",pod=~"worker-0"'
    cases = [
        {
            "eval_time": "10m",
            "expr": _expand(rules["cpu"]["containerQuery"], "", pod, "pod,container"),
            "exp_samples": [{"labels": '{pod="worker-0",container="app"}', "value": 0.5}],
        },
        {
            "eval_time": "10m",
            "expr": _expand(rules["memory"]["containerQuery"], "", pod, "pod,container"),
            "exp_samples": [{"labels": '{pod="worker-0",container="app"}', "value": 314572800}],
        },
        {"eval_time": "10m", "expr": _expand(rules["cpu"]["nodeQuery"], "", 'node="n1"', "node"), "exp_samples": [{"labels": '{node="n1"}', "value": 1.5}]},
        {"eval_time": "10m", "expr": _expand(rules["memory"]["nodeQuery"], "", 'node="n1"', "node"), "exp_samples": [{"labels": '{node="n1"}', "value": 5000}]},
    ]
    _promtool_test(version, tmp_path, series, cases)


# -- the serving certificate in the output ------------------------------------------------------


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed", pytrace=False)
    return subprocess.run([openssl, *map(str, args)], capture_output=True, text=True, timeout=60, check=False)


def test_serving_certificate_verifies_against_the_api_service_ca_bundle(tmp_path: Path) -> None:
    secret = _manifest("full", "secret-metrics-server-tls")
    api_service = _manifest("full", "apiservice-v1beta1.metrics.k8s.io")
    (tmp_path / "ca.crt").write_bytes(base64.b64decode(api_service["spec"]["caBundle"]))
    (tmp_path / "tls.crt").write_bytes(base64.b64decode(secret["data"]["tls.crt"]))
    service = api_service["spec"]["service"]
    host = f"{service['name']}.{service['namespace']}.svc"
    ok = _openssl("verify", "-CAfile", tmp_path / "ca.crt", "-purpose", "sslserver", "-verify_hostname", host, tmp_path / "tls.crt")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = _openssl("verify", "-CAfile", tmp_path / "ca.crt", "-verify_hostname", f"impostor.{service['namespace']}.svc", tmp_path / "tls.crt")
    assert wrong.returncode != 0
    is_ca = _openssl("x509", "-in", tmp_path / "ca.crt", "-noout", "-ext", "basicConstraints")
    assert "CA:TRUE" in is_ca.stdout


def test_the_chart_holds_no_key_secret_and_says_how_to_make_it() -> None:
    chart = ROOT / "golden/full/out/helm/monitoring-full"
    assert not list(chart.glob("templates/*secret-metrics-server-tls*"))
    notes = (chart / "templates/NOTES.txt").read_text()
    assert "    kmc certs secrets stack.yaml --server metrics-server | kubectl apply -f -\n" in notes
    assert ".kmc-state" not in notes  # no path to a key: the command reads the state


SERVERS = [
    pytest.param(case, env, name, id=f"{case}-{env}-{name}")
    for case in sorted(path.parent.parent.name for path in ROOT.glob("golden/*/out/manifests"))
    for env in sorted(path.name for path in (ROOT / f"golden/{case}/out/manifests").iterdir())
    for name in ("metrics-server", "prometheus-adapter")
    if list((ROOT / f"golden/{case}/out/manifests/{env}").glob(f"*-deployment-{name}.yaml"))
]


@pytest.mark.parametrize(("case", "env", "name"), SERVERS)
def test_each_api_server_finds_its_certificate_and_key_where_its_flags_say(case: str, env: str, name: str, tmp_path: Path) -> None:
    """metrics-server v0.8.1 and prometheus-adapter take their serving pair from the generic API
    server's `--tls-cert-file`/`--tls-private-key-file` (kubernetes/apiserver v0.33.7,
    pkg/server/options/serving.go: any two file paths, read with
    NewDynamicServingContentFromFiles). The pod's Secret volume, laid out as the kubelet lays it out
    (tests/pod_files.py), must hold both files, whatever keys the Secret has (mode secret's
    `secret.keys`)."""
    objects = {}
    for path in (ROOT / f"golden/{case}/out/manifests/{env}").glob("*.yaml"):
        obj = yaml.safe_load(path.read_text())
        objects[(obj["kind"], obj["metadata"]["name"])] = obj
    pod = objects[("Deployment", name)]["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    flags = dict(arg.split("=", 1) for arg in server["args"] if arg.startswith("--tls-"))
    if not flags:  # mode insecure: a self-signed pair in its --cert-dir
        assert any(arg.startswith("--cert-dir=") for arg in server["args"])
        return
    container = Container(tmp_path, pod, server, objects)
    for flag in ("--tls-cert-file", "--tls-private-key-file"):
        assert container.host(flags[flag]).is_file(), f"{flag}={flags[flag]}: no such file in the pod"
    (volume,) = [volume for volume in pod["volumes"] if volume["name"] == "tls"]
    stack = yaml.safe_load((ROOT / f"golden/{case}/stack.yaml").read_text())
    section = {"metrics-server": "metricsServer", "prometheus-adapter": "prometheusAdapter"}[name]
    keys = (stack[section].get("tls", {}).get("secret") or {}).get("keys", {})
    assert [item["key"] for item in volume["secret"]["items"]] == [keys.get("cert", "tls.crt"), keys.get("key", "tls.key")]


# -- certificates are state ---------------------------------------------------------------------

STACK = """version: 1
metricsServer: {enabled: true}
certificates: {keysInOutput: true}
"""


def _tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_certificates_are_made_once_and_reused(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(STACK)
    pipeline.build(tmp_path / "stack.yaml", tmp_path / "out", pipeline.FORMATS, None)
    state = tmp_path / ".kmc-state"
    first_state, first_out = _tree(state), _tree(tmp_path / "out")
    mtimes = {path: path.stat().st_mtime_ns for path in state.rglob("*")}
    pipeline.build(tmp_path / "stack.yaml", tmp_path / "out", pipeline.FORMATS, None)
    assert _tree(state) == first_state and _tree(tmp_path / "out") == first_out
    assert {path: path.stat().st_mtime_ns for path in state.rglob("*")} == mtimes, "a rebuild rewrote the state"
    assert not pipeline.check(tmp_path / "stack.yaml", tmp_path / "out", pipeline.FORMATS, None)


def test_check_and_validate_never_make_certificates(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(STACK)
    pipeline.compile_stack(tmp_path / "stack.yaml", certificates="files")  # what `kmc validate` does
    assert not (tmp_path / ".kmc-state").exists()
    with pytest.raises(StackInvalid) as raised:
        pipeline.check(tmp_path / "stack.yaml", tmp_path / "out", ("manifests",), None)
    assert not (tmp_path / ".kmc-state").exists()
    (problem,) = raised.value.diagnostics
    assert problem.path == "$.metricsServer.tls.mode" and "kmc build" in problem.message + problem.hint


def test_a_ca_mode_stack_validates_and_builds_without_the_ca_key_once_issued(tmp_path: Path) -> None:
    """The CA's key only signs: a repository that keeps the certificate alone still validates and
    rebuilds; a missing CA certificate is an error at its key in the stack."""
    case = tmp_path / "case"
    shutil.copytree(ROOT / "golden/adapter-resource", case, ignore=shutil.ignore_patterns("out"))
    (case / "pki/ca.key").unlink()
    pipeline.compile_stack(case / "stack.yaml", certificates="files")
    pipeline.build(case / "stack.yaml", tmp_path / "out", ("manifests",), None)
    (case / "pki/ca.crt").unlink()
    with pytest.raises(StackInvalid) as raised:
        pipeline.compile_stack(case / "stack.yaml", certificates="files")
    (problem,) = raised.value.diagnostics
    assert problem.path == "$.prometheusAdapter.tls.ca.cert" and "pki/ca.crt" in problem.message


def test_the_lock_watches_the_state(tmp_path: Path) -> None:
    """A changed certificate in the state directory makes the output stale, even for the lock's fast path."""
    (tmp_path / "stack.yaml").write_text(STACK)
    pipeline.build(tmp_path / "stack.yaml", tmp_path / "out", ("manifests",), None)
    assert not pipeline.check(tmp_path / "stack.yaml", tmp_path / "out", ("manifests",), None)
    ca = tmp_path / ".kmc-state/metrics-server/ca.crt"
    ca.write_text(ca.read_text() + "\n")
    drift = pipeline.check(tmp_path / "stack.yaml", tmp_path / "out", ("manifests",), None)
    assert drift.compiled is not None, "the lock did not notice the state changed"
