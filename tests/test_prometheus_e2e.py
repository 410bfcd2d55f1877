"""The prometheus.yml kmc compiles, run by a real Prometheus (2.53 and 3.x) against real targets.

Two fixture stacks are built with the `kmc` command: one with the default annotation prefix
(`prometheus.io`) and the custom-prefix golden stack (`example.com`), both with 1-2 s scrape
intervals so that a run takes seconds. Each runs in its own Prometheus, on loopback, against one
fixture cluster served by a Kubernetes API stub (`kube_api_stub`, which also answers the
watch-list requests of Prometheus 3): kmc's own node-exporter pods (the real Debian
`prometheus-node-exporter`), its kube-state-metrics and Prometheus pods and kubeadm's CoreDNS
behind an annotated kube-dns service (tiny `/metrics` servers), and workload pods in `apps`: an
annotated pod, a service annotated for scraping with two pods behind it, one of them annotated
itself and the other with a port the service does not expose, a service with a `port`
annotation in front of a two-port pod, a `scrape_slow` pod and a `scrape_slow` service, a pod
with `param_*` annotations, a multi-port pod, a Pending pod, a pod annotated with the custom
prefix, an annotated IPv6 pod and an IPv6 pod behind an annotated service. Every port of every pod has a live server (each pod
on its own loopback address 127.0.0.X; the IPv6 ones share ::1), so a target the config should
have dropped would show up, healthy.

The test asserts, through Prometheus' HTTP API, the exact set of active targets with their
labels, that no scrape URL appears twice, `up == 1` for each; on the servers' side, that
exactly the target servers were asked, each only for its own path, and that the `param_*`
annotations arrived as query parameters; and that the Pending pod was discovered and dropped
rather than never seen.

What is rewritten in the compiled prometheus.yml, and why:
- every `kubernetes_sd_configs` entry gets `api_server: <the stub's URL>`; without it Prometheus
  uses the in-cluster configuration, which needs a pod's environment and token. Nothing else.
Consequences of running outside a pod, left as they are:
- the jobs that verify TLS against the in-pod cluster CA file (apiserver, kubelet, cadvisor)
  cannot create their HTTP client, so Prometheus logs an error for them and they have no
  targets; the fixture cluster has nothing for them either (no nodes, no `default/kubernetes`
  endpoints). Their configuration is judged by promtool (tests/test_promtool.py).
- the self-scrape job's static target is `localhost:9090`, where Prometheus listens in its pod.
  Here Prometheus listens on a free port, so that target is asserted present with its labels,
  but its health is not asserted.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import subprocess
import sys
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from kube_api_stub import KubeApiStub
from kube_objects import endpoints_for, pod, pod_of_workload, service
from local_processes import MetricsServer, Process, free_port, get_json, http_get, wait_for
from tools import ROOT, TOOLS, tool

PROMETHEUS = {"2.53": TOOLS / "prometheus-2" / "prometheus", "3.x": TOOLS / "prometheus-3" / "prometheus"}
NODE_EXPORTER = TOOLS / "node-exporter" / "prometheus-node-exporter"
FAST = {"prometheus": {"scrapeInterval": "1s", "scrapeTimeout": "1s", "evaluationInterval": "1s"}, "scrape": {"slow": {"interval": "2s", "timeout": "1s"}}}
DEFAULT_STACK = {"version": 1, "namespace": "monitoring"}
CUSTOM_PREFIX_STACK = ROOT / "golden" / "custom-prefix" / "stack.yaml"
COREDNS_PORT = 9153  # fixed by kmc's coredns job, like the real CoreDNS
SELF = ("prometheus", (("instance", "localhost:9090"), ("job", "prometheus")))
RELOADER = ("prometheus-config-reloader", (("instance", "localhost:8080"), ("job", "prometheus-config-reloader")))
# The containers of the Prometheus pod itself, scraped on localhost: nothing answers there in
# this test, so their presence and labels are asserted, not their health.
POD_LOCAL = frozenset((SELF, RELOADER))
# The fixture servers (see `cluster`) that are targets; the others must never be asked for anything.
SCRAPED_SERVERS = {
    "monitoring/ksm",
    "kube-system/coredns",
    "apps/annotated",
    "apps/params",
    "apps/multi-port",
    "apps/slow",
    "apps/web-a",
    "apps/web-b",
    "apps/api-0",
    "apps/batch-0",
    "apps/ipv6",
    "apps/ipv6-behind",
    "apps/custom",
}
TIMEOUT = 30  # seconds, for each wait; a run takes about 7

pytestmark = pytest.mark.slow

Labels = tuple[tuple[str, str], ...]
Target = tuple[str, Labels]  # (scrape pool, labels)


def _labels(**labels: str) -> Labels:
    return tuple(sorted(labels.items()))


# --- the stacks, built by kmc ---------------------------------------------------------------------


def _merged(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        return {**base, **{key: _merged(base.get(key), value) for key, value in extra.items()}}
    return copy.deepcopy(extra)


@dataclasses.dataclass(frozen=True)
class Built:
    """A stack as `kmc build` compiled it: its prometheus.yml and its objects by (kind, name)."""

    config: dict[str, Any]
    objects: Mapping[tuple[str, str], dict[str, Any]]

    @property
    def namespace(self) -> str:
        return str(self.objects[("Deployment", "prometheus")]["metadata"]["namespace"])


def built_objects(doc: Mapping[str, Any], work: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """`kmc build` of `doc` in `work` (manifests, default environment): every object by (kind, name)."""
    work.mkdir(exist_ok=True)
    (work / "stack.yaml").write_text(yaml.safe_dump(dict(doc), sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "kmc", "build", "stack.yaml", "--out", "out", "--format", "manifests"], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    objects = {}
    for path in sorted((work / "out" / "manifests" / "default").glob("*.yaml")):
        obj = yaml.safe_load(path.read_text(encoding="utf-8"))
        objects[(obj["kind"], obj["metadata"]["name"])] = obj
    return objects


def _build(doc: Mapping[str, Any], work: Path) -> Built:
    objects = built_objects(doc, work)
    config = yaml.safe_load(objects[("ConfigMap", "prometheus")]["data"]["prometheus.yml"])
    return Built(config, objects)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    work = tmp_path_factory.mktemp("stacks")
    custom = yaml.safe_load(CUSTOM_PREFIX_STACK.read_text(encoding="utf-8"))
    return {
        "default-prefix": _build(_merged(DEFAULT_STACK, FAST), work / "default-prefix"),
        "custom-prefix": _build(_merged(custom, FAST), work / "custom-prefix"),
    }


def pointed_at(config: Mapping[str, Any], api_server: str) -> dict[str, Any]:
    """`config` with every Kubernetes discovery (of scrape targets and of Alertmanagers) asking
    `api_server` (the one rewrite; see the module docstring)."""
    rewritten = copy.deepcopy(dict(config))
    for section in (*rewritten["scrape_configs"], *rewritten.get("alerting", {}).get("alertmanagers", [])):
        for discovery in section.get("kubernetes_sd_configs", []):
            discovery["api_server"] = api_server
    return rewritten


# --- the fixture cluster and its live targets -------------------------------------------------------


@dataclasses.dataclass
class Cluster:
    objects: list[dict[str, Any]]
    servers: dict[str, MetricsServer]  # by pod (namespace/name), plus extra ports as namespace/name:port
    node_exporters: dict[str, str]  # namespace -> address of its real node-exporter


@contextlib.contextmanager
def _node_exporter(host: str, log: Path) -> Iterator[str]:
    address = f"{host}:{free_port(host)}"
    process = Process([tool(NODE_EXPORTER), f"--web.listen-address={address}"], log)
    try:
        wait_for(f"node-exporter on {address}", lambda: http_get(f"http://{address}/metrics")[0] == 200, TIMEOUT, describe=process.tail)
        yield address
    finally:
        process.stop()


@pytest.fixture(scope="module")
def cluster(stacks: dict[str, Built], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp("node-exporter")
    servers: dict[str, MetricsServer] = {}
    with contextlib.ExitStack() as stack:

        def serve(key: str, host: str, path: str = "/metrics", port: int = 0) -> MetricsServer:
            server = MetricsServer(host, path, port=port)
            stack.callback(server.stop)
            servers[key] = server
            return server

        node_exporters = {
            "monitoring": stack.enter_context(_node_exporter("127.0.0.2", logs / "monitoring.log")),
            "observability": stack.enter_context(_node_exporter("127.0.0.4", logs / "observability.log")),
        }
        ksm_metrics, ksm_telemetry = serve("monitoring/ksm", "127.0.0.3"), serve("monitoring/ksm:telemetry", "127.0.0.3")
        annotated = serve("apps/annotated", "127.0.0.10", "/custom/path")
        params = serve("apps/params", "127.0.0.11")
        multi_metrics, multi_http = serve("apps/multi-port", "127.0.0.12"), serve("apps/multi-port:http", "127.0.0.12", "/")
        slow = serve("apps/slow", "127.0.0.13")
        web_a, web_a_admin = serve("apps/web-a", "127.0.0.14", "/stats/prometheus"), serve("apps/web-a:admin", "127.0.0.14", "/admin")
        web_b = serve("apps/web-b", "127.0.0.15")
        api_http, api_metrics = serve("apps/api-0:http", "127.0.0.18", "/"), serve("apps/api-0", "127.0.0.18")
        batch = serve("apps/batch-0", "127.0.0.19")
        pending = serve("apps/pending", "127.0.0.16")
        v6, v6_behind = serve("apps/ipv6", "::1"), serve("apps/ipv6-behind", "::1")  # the one IPv6 loopback address
        custom = serve("apps/custom", "127.0.0.17", "/custom-metrics")
        coredns = serve("kube-system/coredns", "127.0.0.20", port=COREDNS_PORT)

        scrape = {"prometheus.io/scrape": "true"}
        objects: list[dict[str, Any]] = []
        for (name, built), prometheus_ip in zip(stacks.items(), ("127.0.0.5", "127.0.0.6"), strict=True):
            ns = built.namespace
            exporter_host, exporter_port = node_exporters[ns].rsplit(":", 1)
            objects.append(
                pod_of_workload(built.objects[("DaemonSet", "node-exporter")], "node-exporter-x7k2p", ip=exporter_host, ports={"metrics": int(exporter_port)})
            )
            objects.append(
                pod_of_workload(
                    built.objects[("Deployment", "prometheus")], "prometheus-5b9d7c6f4-q2w3e", ip=prometheus_ip, ports={"web": 9090, "reloader-web": 8080}
                )
            )
            objects += [obj for (kind, _), obj in built.objects.items() if kind == "Service"]
            if name == "default-prefix":
                ksm = built.objects[("Deployment", "kube-state-metrics")]
                objects.append(
                    pod_of_workload(
                        ksm, "kube-state-metrics-6d4c8b9f7-abcde", ip=ksm_metrics.host, ports={"metrics": ksm_metrics.port, "telemetry": ksm_telemetry.port}
                    )
                )
        objects += [
            pod(
                "apps",
                "annotated",
                ip=annotated.host,
                containers={"app": {"metrics": annotated.port}},
                annotations={**scrape, "prometheus.io/path": "/custom/path"},
            ),
            pod(
                "apps",
                "params",
                ip=params.host,
                containers={"probe": {"metrics": params.port}},
                annotations={**scrape, "prometheus.io/param_module": "http_2xx", "prometheus.io/param_target": "example.com"},
            ),
            pod(
                "apps",
                "multi-port",
                ip=multi_metrics.host,
                containers={"app": {"http": multi_http.port}, "sidecar": {"metrics": multi_metrics.port}},
                annotations={**scrape, "prometheus.io/port": str(multi_metrics.port)},
            ),
            pod("apps", "slow", ip=slow.host, containers={"app": {"metrics": slow.port}}, annotations={**scrape, "prometheus.io/scrape_slow": "true"}),
            pod("apps", "web-a", ip=web_a.host, containers={"web": {"http": web_a.port, "admin": web_a_admin.port}}, labels={"app": "web"}),
            pod("apps", "web-b", ip=web_b.host, containers={"web": {"http": web_b.port}}, labels={"app": "web"}, annotations=scrape),
            service(
                "apps",
                "web",
                ports={"http": (80, "http")},
                selector={"app": "web"},
                annotations={**scrape, "prometheus.io/path": "/stats/prometheus"},
            ),
            pod("apps", "api-0", ip=api_http.host, containers={"api": {"http": api_http.port, "metrics": api_metrics.port}}, labels={"app": "api"}),
            service("apps", "api", ports={"http": (80, "http")}, selector={"app": "api"}, annotations={**scrape, "prometheus.io/port": str(api_metrics.port)}),
            pod("apps", "ipv6", ip=v6.host, containers={"app": {"metrics": v6.port}}, annotations={**scrape, "prometheus.io/port": str(v6.port)}),
            pod("apps", "ipv6-behind", ip=v6_behind.host, containers={"app": {"http": v6_behind.port}}, labels={"app": "ipv6"}),
            service("apps", "ipv6", ports={"http": (80, "http")}, selector={"app": "ipv6"}, annotations={**scrape, "prometheus.io/port": str(v6_behind.port)}),
            pod("apps", "batch-0", ip=batch.host, containers={"batch": {"metrics": batch.port}}, labels={"app": "batch"}),
            service("apps", "batch", ports={"metrics": (9000, "metrics")}, selector={"app": "batch"}, annotations={"prometheus.io/scrape_slow": "true"}),
            pod("apps", "pending", ip=pending.host, containers={"app": {"metrics": pending.port}}, annotations=scrape, phase="Pending"),
            pod(
                "apps",
                "custom",
                ip=custom.host,
                containers={"app": {"metrics": custom.port}},
                annotations={"example.com/scrape": "true", "example.com/port": str(custom.port), "example.com/path": "/custom-metrics"},
            ),
            # kubeadm's CoreDNS: an annotated kube-dns service, pods that are not annotated.
            pod(
                "kube-system",
                "coredns-7db6d8ff4d-x8k2m",
                ip=coredns.host,
                containers={"coredns": {"dns-tcp": 53, "metrics": COREDNS_PORT}},
                labels={"k8s-app": "kube-dns"},
            ),
            service(
                "kube-system",
                "kube-dns",
                ports={"dns-tcp": (53, 53), "metrics": (COREDNS_PORT, COREDNS_PORT)},
                selector={"k8s-app": "kube-dns"},
                labels={"k8s-app": "kube-dns"},
                annotations={**scrape, "prometheus.io/port": str(COREDNS_PORT)},
            ),
        ]
        objects += endpoints_for(objects)
        yield Cluster(objects, servers, node_exporters)


def expected_targets(cluster: Cluster) -> dict[str, set[Target]]:
    """Per stack, the exact active targets: (scrape pool, labels)."""

    def at(key: str) -> str:
        return cluster.servers[key].address

    def pod_target(job: str, key: str, address: str | None = None) -> Target:
        namespace, name = key.split("/")
        return (job, _labels(job=job, instance=address or at(key), namespace=namespace, pod=name, node="node-1"))

    def node_exporter(namespace: str) -> Target:
        return (
            "node-exporter",
            _labels(job="node-exporter", instance=cluster.node_exporters[namespace], namespace=namespace, pod="node-exporter-x7k2p", node="node-1"),
        )

    return {
        "default-prefix": {
            *POD_LOCAL,
            node_exporter("monitoring"),
            ("kube-state-metrics", _labels(job="kube-state-metrics", instance=at("monitoring/ksm"), node="node-1")),
            pod_target("coredns", "kube-system/coredns-7db6d8ff4d-x8k2m", f"127.0.0.20:{COREDNS_PORT}"),
            pod_target("kubernetes-pods", "apps/annotated"),
            pod_target("kubernetes-pods", "apps/params"),
            pod_target("kubernetes-pods", "apps/multi-port"),
            pod_target("kubernetes-pods", "apps/web-b"),
            pod_target("kubernetes-pods", "apps/ipv6"),
            pod_target("kubernetes-pods-slow", "apps/slow"),
            (
                "kubernetes-service-endpoints",
                _labels(job="kubernetes-service-endpoints", instance=at("apps/web-a"), namespace="apps", service="web", pod="web-a", node="node-1"),
            ),
            (
                "kubernetes-service-endpoints-slow",
                _labels(job="kubernetes-service-endpoints-slow", instance=at("apps/batch-0"), namespace="apps", service="batch", pod="batch-0", node="node-1"),
            ),
            (
                "kubernetes-service-endpoints",
                _labels(job="kubernetes-service-endpoints", instance=at("apps/api-0"), namespace="apps", service="api", pod="api-0", node="node-1"),
            ),
            (
                "kubernetes-service-endpoints",
                _labels(
                    job="kubernetes-service-endpoints", instance=at("apps/ipv6-behind"), namespace="apps", service="ipv6", pod="ipv6-behind", node="node-1"
                ),
            ),
        },
        "custom-prefix": {
            *POD_LOCAL,
            node_exporter("observability"),
            pod_target("kubernetes-pods", "apps/custom"),
        },
    }


# --- Prometheus ---------------------------------------------------------------------------------


@dataclasses.dataclass
class RunningPrometheus:
    url: str
    process: Process

    def active_targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = get_json(f"{self.url}/api/v1/targets?state=active")["data"]["activeTargets"]
        return targets

    def dropped_targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = get_json(f"{self.url}/api/v1/targets?state=dropped")["data"]["droppedTargets"]
        return targets

    def query(self, promql: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = get_json(f"{self.url}/api/v1/query?query={quote(promql)}")["data"]["result"]
        return result


@contextlib.contextmanager
def running_prometheus(binary: Path, config: Mapping[str, Any], work: Path) -> Iterator[RunningPrometheus]:
    work.mkdir()
    (work / "prometheus.yml").write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    address = f"127.0.0.1:{free_port()}"
    process = Process(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address={address}",
            "--scrape.discovery-reload-interval=1s",  # hand discovered targets to the scrapers every second, not every 5
        ],
        work / "prometheus.log",
    )
    try:
        running = RunningPrometheus(f"http://{address}", process)
        wait_for(
            f"Prometheus on {address} to be ready", lambda: process.alive() and http_get(f"{running.url}/-/ready")[0] == 200, TIMEOUT, describe=process.tail
        )
        yield running
    finally:
        process.stop()


def active(prometheus: RunningPrometheus) -> list[Target]:
    return [(target["scrapePool"], _labels(**target["labels"])) for target in prometheus.active_targets()]


def _describe(prometheus: RunningPrometheus, expected: set[Target]) -> str:
    targets = prometheus.active_targets()
    seen = {(target["scrapePool"], _labels(**target["labels"])): target for target in targets}
    lines = [f"missing: {target}" for target in sorted(expected - set(seen))]
    for target in sorted(set(seen) - expected):
        discovered = seen[target]["discoveredLabels"]
        lines.append(f"unexpected: {target} {seen[target]['scrapeUrl']}, discovered as {dict(sorted(discovered.items()))}")
    lines += [f"{target['health']}: {target['scrapeUrl']} {target['lastError']}" for target in targets]
    return "\n".join(lines) + "\n" + prometheus.process.tail()


def settled(prometheus: RunningPrometheus, expected: set[Target]) -> bool:
    """Exactly the expected targets are active, every one but the self-scrape has been scraped
    successfully, and the self-scrape has been tried (until then it has no `up` series)."""
    targets = prometheus.active_targets()
    if {(target["scrapePool"], _labels(**target["labels"])) for target in targets} != expected:
        return False
    local = {job for job, _ in POD_LOCAL}
    return all(target["health"] == "up" if target["scrapePool"] not in local else target["health"] != "unknown" for target in targets)


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_real_prometheus_scrapes_exactly_the_annotated_targets(version: str, stacks: dict[str, Built], cluster: Cluster, tmp_path: Path) -> None:
    binary = tool(PROMETHEUS[version])
    expected = expected_targets(cluster)
    for server in cluster.servers.values():
        server.forget()
    with KubeApiStub(cluster.objects) as api, contextlib.ExitStack() as running:
        prometheuses = {
            name: running.enter_context(running_prometheus(binary, pointed_at(built.config, api.url), tmp_path / name)) for name, built in stacks.items()
        }
        for name, prometheus in prometheuses.items():
            wait_for(
                f"the targets of the {name} stack", partial(settled, prometheus, expected[name]), TIMEOUT, 0.25, partial(_describe, prometheus, expected[name])
            )

        for name, prometheus in prometheuses.items():
            targets = prometheus.active_targets()
            assert sorted(active(prometheus)) == sorted(expected[name]), f"{name}: a target twice"
            urls = [target["scrapeUrl"] for target in targets]
            assert len(urls) == len(set(urls)), f"{name}: a scrape URL in two jobs: {sorted(urls)}"
            up = {
                _labels(**{key: value for key, value in series["metric"].items() if key != "__name__"}): series["value"][1] for series in prometheus.query("up")
            }
            assert set(up) == {labels for _, labels in expected[name]}, f"{name}: the series of up"
            local = {labels for _, labels in POD_LOCAL}
            assert {labels: value for labels, value in up.items() if labels not in local} == {
                labels: "1" for _, labels in expected[name] if labels not in local
            }
            status, metrics = http_get(f"{prometheus.url}/metrics")
            assert status == 200 and b"\nprometheus_config_last_reload_successful 1\n" in metrics, f"{name}: the configuration did not load"
        dropped = {
            (target["discoveredLabels"].get("job"), target["discoveredLabels"].get("__meta_kubernetes_pod_name"))
            for target in prometheuses["default-prefix"].dropped_targets()
            if target["discoveredLabels"].get("__meta_kubernetes_pod_phase") == "Pending"
        }
        requests = api.seen()

    seen = {key: server.seen() for key, server in cluster.servers.items()}
    assert {key for key, requests in seen.items() if requests} == SCRAPED_SERVERS, "which servers Prometheus asked for metrics"
    wrong = {key: requests for key, requests in seen.items() if any(path != cluster.servers[key].path for path, _ in requests)}
    assert not wrong, f"requests for another path than the target's: {wrong}"
    assert {str(query) for _, query in seen["apps/params"]} == {str({"module": ["http_2xx"], "target": ["example.com"]})}, "the param_* annotations"
    assert ("kubernetes-pods", "pending") in dropped, "the Pending pod was never discovered, so its absence proves nothing"
    assert not [request for request in requests if request.mode == "unknown"], f"requests the stub could not answer: {requests}"
    # Prometheus 3 streams each initial state (watch-list); a list request would mean it refused the stub's stream and fell back.
    modes = {"2.53": {"version", "list", "watch"}, "3.x": {"watch-list"}}[version]
    assert {request.mode for request in requests} == modes, "how Prometheus asked the API"
