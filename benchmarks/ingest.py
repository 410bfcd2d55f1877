"""What the compile-time keep-lists (`prometheus.ingest`) save at ingestion: the real Prometheus 3
runs the prometheus.yml and rule files kmc compiles for a stack, once with `ingest.default: used`
and once with `all`, side by side, against one fixture cluster on loopback.

    .venv/bin/python benchmarks/ingest.py [--sizes 3x60,10x300] [--stack golden/full/stack.yaml] [--check]

Per cluster size (nodes x workload pods) it reports, for both modes: active head series
(`prometheus_tsdb_head_series`), samples per scrape (sums of `scrape_samples_scraped` and
`scrape_samples_post_metric_relabeling`), peak RSS (VmHWM), rule-evaluation time (sum of
`prometheus_rule_group_last_duration_seconds`), the ratio all/used, and the FLOOR: the series the
shipped queries (benchmarks/ingest_queries.py) select on the `all` server, asked with
/api/v1/series and counted as a union; then series per job for both modes and the floor (the
kubelet's cAdvisor series apart, as `kubelet/cadvisor`), and the metric families `used` keeps
most series of beyond the floor: where a keep-list is wider than the queries need. The stack's
`scrape.keep` names (kept on purpose, for readers kmc does not see) are reported as a second
floor that includes them; `up`, `scrape_*` and `ALERTS*`, which no keep-list touches, are counted apart.
The floor is read from the default environment's objects, the ones these servers run; kmc keeps
what the queries of every environment read, so a query only another environment ships shows here
as excess.
With `--check` it also runs every shipped query on both servers at the same evaluation time,
after both have ingested the same grid points and evaluated their rules on them, and exits 1
listing the queries whose answers differ (label sets, or values beyond a relative 1e-9; a query
on `scrape_duration_seconds`, which times each scrape, by label sets only), or that have data
under `all` and none under `used`.

The cluster (benchmarks/ingest_cluster.py) is served by the Kubernetes API stub of the tests:
nodes at 127.0.1.X with their kubelet port, kubeadm's static control-plane pods, CoreDNS, the
Pods, Services and EndpointSlices of kmc's node-exporter, kube-state-metrics, Alertmanager,
Grafana, Thanos Query, metrics-server and prometheus-adapter (Prometheus' own pod is left out:
its self-scrape targets localhost, where these servers do not listen), the `default/kubernetes`
EndpointSlice and the workload pods. The exporters that cannot run here are fixtures
(benchmarks/ingest_payloads.py, ingest_ksm.py, ingest_components.py); node metrics come from the real Debian
node-exporter, one per node, read once and served on the grid (benchmarks/ingest_fixtures.py).

What is rewritten in the compiled prometheus.yml to run outside a pod, the same for both modes:
- `api_server:` of every `kubernetes_sd_configs` entry: the stub;
- the in-pod files: the service-account CA and token, the etcd client certificate, key and CA,
  the CA files of the aggregated API servers (metrics-server, prometheus-adapter), the rule file
  directory: files this benchmark writes (a throwaway CA that signed the fixture
  servers' certificates for their loopback addresses, a token nobody checks);
- `alerting`, `remote_write` and `remote_read` are dropped (nothing here receives them);
- the global scrape interval becomes 5 s (timeout 4 s) and the evaluation interval 5 s, and a
  job's or rule group's own interval the same, so that a run takes a minute, not an hour.
Everything else — relabeling, `metric_relabel_configs`, the rules — is kept byte for byte.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import ingest_cluster as shape  # noqa: E402
import ingest_components as components  # noqa: E402
import ingest_payloads as payloads  # noqa: E402
from ingest_exposition import Payload  # noqa: E402
from ingest_fixtures import Clock, FixtureServer, regularised, server_context, tls_material  # noqa: E402
from ingest_ksm import kube_state_metrics  # noqa: E402
from ingest_queries import Query, selectors, shipped_queries  # noqa: E402
from kube_api_stub import KubeApiStub  # noqa: E402
from local_processes import Process, free_port, http_get, wait_for  # noqa: E402

TOOLS = Path(os.environ.get("KMC_TOOLS_DIR", ROOT / ".tools"))
PROMETHEUS = TOOLS / "prometheus-3" / "prometheus"
NODE_EXPORTER = TOOLS / "node-exporter" / "prometheus-node-exporter"
MODES = ("used", "all")
SCRAPE = "5s"
GRID = 10.0  # seconds between grid points: two scrapes in each, so no server misses one
POINTS = 5  # grid points ingested before the clock stops (< 5m of data: see `check`)
SETTLE = 2 * GRID  # after the stop: rules evaluated on the frozen data (> 1.1 grid steps after it)
REL_TOLERANCE = 1e-9
EXCESS_SHOWN = 25
# Series that measure the scrape itself (wall time): compared by label sets only.
TIMED = ("scrape_duration_seconds",)
Obj = dict[str, Any]


# --- the stacks ------------------------------------------------------------------------------------


def build(stack: Path, mode: str, work: Path) -> list[Obj]:
    """The objects kmc builds for `stack` with `prometheus.ingest.default: mode` (manifests, default
    environment); the rest of the stack as written, its files beside it copied along."""
    doc = yaml.safe_load(stack.read_text(encoding="utf-8"))
    doc.setdefault("prometheus", {}).setdefault("ingest", {})["default"] = mode
    work.mkdir(parents=True)
    (work / "stack.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    for relative in _stack_files(stack):
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((stack.parent / relative).read_bytes())
    kmc = Path(sys.executable).parent / "kmc"
    result = subprocess.run([kmc, "build", "stack.yaml", "--out", "out", "--format", "manifests"], cwd=work, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"kmc build of {stack} with ingest {mode} failed:\n{result.stdout}{result.stderr}")
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted((work / "out" / "manifests" / "default").glob("*.yaml"))]


def _stack_files(stack: Path) -> list[Path]:
    """Files beside the stack it may refer to (dashboards, rules, certificates), relative to it."""
    return [
        path.relative_to(stack.parent)
        for path in stack.parent.rglob("*")
        if path.is_file() and path.name != "stack.yaml" and "out" not in path.relative_to(stack.parent).parts
    ]


def config_map(objects: list[Obj], name: str) -> Mapping[str, str]:
    (found,) = [obj for obj in objects if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == name]
    data: Mapping[str, str] = found["data"]
    return data


def rewritten(config: Obj, api_server: str, files: Mapping[str, Path], rules: Path) -> Obj:
    """The compiled prometheus.yml with the rewrites of the module docstring, and nothing else."""
    config = copy.deepcopy(config)
    for key in ("alerting", "remote_write", "remote_read"):
        config.pop(key, None)
    config["global"].update({"scrape_interval": SCRAPE, "scrape_timeout": "4s", "evaluation_interval": SCRAPE})
    config["rule_files"] = [str(rules / "*.yaml")]
    in_pod = {
        "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt": files["ca.crt"],
        "/var/run/secrets/kubernetes.io/serviceaccount/token": files["token"],
        "/etc/prometheus-secrets/etcd/ca.crt": files["ca.crt"],
        "/etc/prometheus-secrets/etcd/tls.crt": files["client.crt"],
        "/etc/prometheus-secrets/etcd/tls.key": files["client.key"],
    }
    for job in config["scrape_configs"]:
        for discovery in job.get("kubernetes_sd_configs", []):
            discovery["api_server"] = api_server
        if "scrape_interval" in job:
            job["scrape_interval"] = SCRAPE
        if "scrape_timeout" in job:
            job["scrape_timeout"] = "4s"
        for section in (job.get("tls_config", {}), job.get("authorization", {})):
            for key in ("ca_file", "cert_file", "key_file", "credentials_file"):
                if section.get(key) in in_pod:
                    section[key] = str(in_pod[section[key]])
                elif key == "ca_file" and str(section.get(key, "")).startswith("/etc/prometheus-api-ca/"):
                    section[key] = str(files["ca.crt"])  # the CA of an aggregated API server's serving certificate
    return config


def _scrape_configs(objects: list[Obj]) -> list[Obj]:
    jobs: list[Obj] = yaml.safe_load(config_map(objects, "prometheus")["prometheus.yml"])["scrape_configs"]
    return jobs


def write_rules(data: Mapping[str, str], directory: Path) -> None:
    directory.mkdir(parents=True)
    for name, text in data.items():
        doc = yaml.safe_load(text)
        for group in doc.get("groups", []):
            if "interval" in group:
                group["interval"] = SCRAPE
        (directory / name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


# --- the cluster's objects ----------------------------------------------------------------------------


def kube_objects(cluster: shape.Cluster, built: list[Obj], namespace: str) -> list[Obj]:
    objects: list[Obj] = []
    for node in cluster.nodes:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node.name,
                    "labels": {"kubernetes.io/hostname": node.name, **({"node-role.kubernetes.io/control-plane": ""} if node.control_plane else {})},
                },
                "status": {
                    "addresses": [{"type": "InternalIP", "address": node.ip}, {"type": "Hostname", "address": node.name}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": shape.KUBELET_PORT}},
                },
            }
        )
    templates = {obj["metadata"]["name"]: obj for obj in built if obj["kind"] in ("DaemonSet", "Deployment", "StatefulSet")}
    for pod in cluster.pods:
        labels = dict(pod.labels)
        if pod.namespace == namespace and pod.workload in templates:
            labels = templates[pod.workload]["spec"]["template"]["metadata"]["labels"]
        containers = [{"name": name, "image": image} for name, image in pod.containers]
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": labels, "uid": pod.uid},
                "spec": {"nodeName": pod.node.name, "containers": containers, "hostNetwork": pod.ip == pod.node.ip},
                "status": {
                    "phase": "Running",
                    "hostIP": pod.node.ip,
                    "podIP": pod.ip,
                    "podIPs": [{"ip": pod.ip}],
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
    ports_of = {
        "node-exporter": {"metrics": shape.NODE_EXPORTER_PORT},
        "kube-state-metrics": {"metrics": shape.KSM_PORT, "telemetry": shape.KSM_TELEMETRY_PORT},
    }
    for obj in built:
        if obj["kind"] != "Service" or not obj["spec"].get("selector"):
            continue
        workload = obj["spec"]["selector"].get("app.kubernetes.io/name", "")
        members = [pod for pod in cluster.pods if pod.namespace == namespace and pod.workload == workload]
        ports = {port["name"]: ports_of.get(workload, shape.OWN_PORTS).get(port["name"], port["port"]) for port in obj["spec"]["ports"]}
        if members:  # Prometheus' own pod is not part of the fixture: its Services have none
            objects.append(obj)
            objects.append(_slice(namespace, obj["metadata"]["name"], ports, [(pod.ip, pod.node.name, pod.name) for pod in members]))
    kubernetes = {"name": "https", "port": 443, "targetPort": shape.APISERVER_PORT}
    objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default"}, "spec": {"ports": [kubernetes]}})
    objects.append(_slice("default", "kubernetes", {"https": shape.APISERVER_PORT}, [(node.ip, None, None) for node in cluster.control_plane]))
    return objects


def _slice(namespace: str, service: str, ports: Mapping[str, int], members: list[tuple[str, str | None, str | None]]) -> Obj:
    endpoints = []
    for ip, node, pod in members:
        endpoint: Obj = {"addresses": [ip], "conditions": {"ready": True, "serving": True, "terminating": False}}
        if node:
            endpoint["nodeName"] = node
        if pod:
            endpoint["targetRef"] = {"kind": "Pod", "namespace": namespace, "name": pod}
        endpoints.append(endpoint)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-0", "namespace": namespace, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": name, "port": port, "protocol": "TCP"} for name, port in ports.items()],
    }


# --- the fixture exporters -------------------------------------------------------------------------------


@contextlib.contextmanager
def exporters(cluster: shape.Cluster, clock: Clock, files: Mapping[str, Path], work: Path) -> Iterator[int]:
    """Every fixture server of `cluster` (yields how many series they serve in all)."""
    https, mtls = server_context(files, client_auth=False), server_context(files, client_auth=True)
    with contextlib.ExitStack() as stack:
        servers: list[FixtureServer] = []

        def serve(host: str, port: int, routes: Mapping[str, Payload], tls: ssl.SSLContext | None = None) -> None:
            server = FixtureServer(host, port, routes, clock, tls)
            stack.callback(server.stop)
            servers.append(server)

        for node in cluster.nodes:
            serve(node.ip, shape.KUBELET_PORT, {"/metrics": payloads.kubelet(cluster, node), "/metrics/cadvisor": payloads.cadvisor(cluster, node)}, https)
            serve(node.ip, shape.NODE_EXPORTER_PORT, {"/metrics": regularised(_read_node_exporter(node.ip, work))})
            if node.control_plane:
                serve(node.ip, shape.APISERVER_PORT, {"/metrics": payloads.apiserver(cluster, node)}, https)
                serve(node.ip, shape.ETCD_PORT, {"/metrics": payloads.etcd(cluster, node)}, mtls)
                serve(node.ip, shape.SCHEDULER_PORT, {"/metrics": payloads.scheduler(cluster, node)}, https)
                serve(node.ip, shape.CONTROLLER_MANAGER_PORT, {"/metrics": payloads.controller_manager(cluster, node)}, https)
        for pod in cluster.pods:
            if dict(pod.labels).get("k8s-app") == "kube-dns":
                serve(pod.ip, shape.COREDNS_PORT, {"/metrics": payloads.coredns(cluster, pod)})
        serve(shape.KSM_IP, shape.KSM_PORT, {"/metrics": kube_state_metrics(cluster)})
        own = {workload: ip for workload, _, ip in shape.OWN}
        serve(own["alertmanager"], shape.OWN_PORTS["web"], {"/alertmanager/metrics": components.alertmanager("alertmanager")})
        serve(own["alertmanager"], shape.OWN_PORTS["reloader-web"], {"/metrics": components.config_reloader("alertmanager-config-reloader")})
        serve(own["grafana"], shape.OWN_PORTS["http"], {"/metrics": components.grafana("grafana")})
        serve(own["thanos-query"], shape.OWN_PORTS["http"], {"/metrics": components.thanos_query("thanos-query")})
        for workload in ("metrics-server", "prometheus-adapter"):
            serve(own[workload], shape.OWN_PORTS["https"], {"/metrics": components.aggregated_api_server(workload, workload)}, https)
        yield sum(payload.series_count() for server in servers for payload in server.routes.values())


def _read_node_exporter(host: str, work: Path) -> str:
    """One reading of a real node-exporter listening on `host` (started and stopped here)."""
    address = f"{host}:{free_port(host)}"
    process = Process([NODE_EXPORTER, f"--web.listen-address={address}"], work / f"node-exporter-{host}.log")
    try:
        wait_for(f"node-exporter on {address}", lambda: http_get(f"http://{address}/metrics")[0] == 200, 30, describe=process.tail)
        return http_get(f"http://{address}/metrics")[1].decode("utf-8")
    finally:
        process.stop()


# --- Prometheus ------------------------------------------------------------------------------------------


class Server:
    """A running Prometheus 3 and what it is asked."""

    def __init__(self, mode: str, config: Obj, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        (work / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.mode = mode
        self.url = f"http://127.0.0.1:{free_port()}"
        os.environ["POD_NAME"] = f"prometheus-{mode}"  # the replica external label's variable
        self.process = Process(
            [
                PROMETHEUS,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
                "--scrape.discovery-reload-interval=1s",
            ],
            work / "prometheus.log",
        )
        wait_for(f"Prometheus ({mode}) to be ready", lambda: self.process.alive() and http_get(f"{self.url}/-/ready")[0] == 200, 60, describe=self.process.tail)

    def api(self, path: str, params: list[tuple[str, str]], *, post: bool = True) -> Any:
        data = urllib.parse.urlencode(params)
        request = urllib.request.Request(f"{self.url}{path}", data=data.encode("ascii")) if post else urllib.request.Request(f"{self.url}{path}?{data}")
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def query(self, expr: str, at: float) -> Any:
        return self.api("/api/v1/query", [("query", expr), ("time", f"{at:.3f}")])["data"]

    def vector(self, expr: str, at: float) -> dict[str, float]:
        return {json.dumps(item["metric"], sort_keys=True): float(item["value"][1]) for item in self.query(expr, at)["result"]}

    def own_metrics(self) -> dict[str, float]:
        """The sums of Prometheus' own families, read from its /metrics."""
        sums: dict[str, float] = {}
        for line in http_get(f"{self.url}/metrics")[1].decode("utf-8").splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                name = series.split("{", 1)[0]
                sums[name] = sums.get(name, 0.0) + float(value)
        return sums

    def peak_rss(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def targets_up(self, jobs: set[str]) -> bool:
        targets = self.api("/api/v1/targets", [("state", "active")], post=False)["data"]["activeTargets"]
        mine = [target for target in targets if target["scrapePool"] in jobs]
        return bool(mine) and {target["scrapePool"] for target in mine} == jobs and all(target["health"] == "up" for target in mine)

    def stop(self) -> None:
        self.process.stop()


BY_FAMILY = 'count by (job, metrics_path, __name__) ({__name__=~".+"})'
FIXTURE_JOBS = {
    "apiserver",
    "kubelet",
    "cadvisor",
    "kube-controller-manager",
    "kube-scheduler",
    "coredns",
    "etcd",
    "kube-state-metrics",
    "node-exporter",
    "alertmanager",
    "alertmanager-config-reloader",
    "grafana",
    "thanos-query",
    "metrics-server",
    "prometheus-adapter",
}


# --- measuring ----------------------------------------------------------------------------------------------


def run_size(nodes: int, pods: int, stack: Path, check: bool, work: Path) -> tuple[dict[str, Any], list[str]]:
    cluster = shape.cluster(nodes, pods)
    objects = {mode: build(stack, mode, work / f"build-{mode}") for mode in MODES}
    namespace = next(obj["metadata"]["namespace"] for obj in objects["all"] if obj["kind"] == "DaemonSet")
    ips = sorted({node.ip for node in cluster.nodes})
    server_names = sorted({job["tls_config"]["server_name"] for job in _scrape_configs(objects["all"]) if "server_name" in job.get("tls_config", {})})
    files = tls_material(work / "tls", ips, server_names)
    clock = Clock(GRID)
    queries = shipped_queries(objects["all"])
    with KubeApiStub(kube_objects(cluster, objects["all"], namespace)) as api, exporters(cluster, clock, files, work) as served:
        servers: dict[str, Server] = {}
        try:
            for mode in MODES:
                prometheus_yml = yaml.safe_load(config_map(objects[mode], "prometheus")["prometheus.yml"])
                write_rules(config_map(objects[mode], "prometheus-rules"), work / f"rules-{mode}")
                servers[mode] = Server(mode, rewritten(prometheus_yml, api.url, files, work / f"rules-{mode}"), work / f"prometheus-{mode}")
            time.sleep(3)  # discovery
            clock.start()
            assert clock.origin is not None
            for server in servers.values():
                wait_for(f"every fixture target up ({server.mode})", partial(server.targets_up, FIXTURE_JOBS), 120, 1, partial(_down, server))
            _sleep_until(clock.origin + (POINTS - 1) * GRID + 1)
            end = clock.freeze()
            _sleep_until(end + GRID + SETTLE)
            at = math.floor(time.time())
            keep = list(yaml.safe_load(stack.read_text(encoding="utf-8")).get("scrape", {}).get("keep", []))
            figures = measure(servers, queries, keep, at, nodes, pods, served)
            problems = compare(servers, queries, at) if check else []
            return figures, problems
        finally:
            for server in servers.values():
                server.stop()


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def _down(server: Server) -> str:
    targets = server.api("/api/v1/targets", [("state", "active")], post=False)["data"]["activeTargets"]
    missing = sorted(FIXTURE_JOBS - {target["scrapePool"] for target in targets})
    down = [f"{t['scrapePool']} {t['scrapeUrl']} {t['health']} {t['lastError']}" for t in targets if t["health"] != "up" and t["scrapePool"] in FIXTURE_JOBS]
    return "\n".join([f"jobs without targets: {', '.join(missing) or 'none'}", *down, server.process.tail()])


def measure(servers: Mapping[str, Server], queries: list[Query], keep: list[str], at: float, nodes: int, pods: int, served: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"nodes": nodes, "pods": pods, "fixture_series": served, "modes": {}}
    for mode, server in servers.items():
        own = server.own_metrics()
        figures["modes"][mode] = {
            "head_series": int(own.get("prometheus_tsdb_head_series", 0)),
            "samples_scraped": _scalar(server, "sum(scrape_samples_scraped)", at),
            "samples_post_relabeling": _scalar(server, "sum(scrape_samples_post_metric_relabeling)", at),
            "peak_rss_bytes": server.peak_rss(),
            "rule_eval_seconds": own.get("prometheus_rule_group_last_duration_seconds", 0.0),
            "series_by_family": {_job_family(json.loads(key)): int(value) for key, value in server.vector(BY_FAMILY, at).items()},
        }
    matches = sorted({selector for query in queries for selector in selectors(query.expr)})
    figures["floor"], _ = _floor(servers["all"], matches, at)
    kept_too = [f"{{__name__=~{json.dumps(name)}}}" for name in keep]
    figures["floor_with_keep"], figures["floor_by_family"] = _floor(servers["all"], matches + kept_too, at)
    figures["scrape_keep"] = keep
    return figures


def _scalar(server: Server, expr: str, at: float) -> float:
    values = list(server.vector(expr, at).values())
    return values[0] if values else 0.0


def _job_family(labels: Mapping[str, str]) -> str:
    """`job name` (a kubelet's cAdvisor series as `kubelet/cadvisor`): how the report groups series."""
    job = labels.get("job", "")
    if labels.get("metrics_path") == "/metrics/cadvisor":
        job += "/cadvisor"
    return f"{job} {labels.get('__name__', '')}"


def _floor(server: Server, matches: list[str], at: float) -> tuple[int, dict[str, int]]:
    """The series the selectors `matches` select on `server`, as one union (and per job and family)."""
    seen: set[str] = set()
    for start in range(0, len(matches), 40):
        params = [("match[]", match) for match in matches[start : start + 40]] + [("start", f"{at - 300:.0f}"), ("end", f"{at:.0f}")]
        seen.update(json.dumps(series, sort_keys=True) for series in server.api("/api/v1/series", params)["data"])
    by_family: dict[str, int] = {}
    for key in seen:
        group = _job_family(json.loads(key))
        by_family[group] = by_family.get(group, 0) + 1
    return len(seen), by_family


def compare(servers: Mapping[str, Server], queries: list[Query], at: float) -> list[str]:
    """The queries whose answers differ between the servers at `at`."""
    problems = []
    for query in queries:
        used, full = (_answer(servers[mode], query.expr, at) for mode in ("used", "all"))
        if full and not used:
            problems.append(f"{query.source}: no data under `used`, {len(full)} series under `all`: {query.expr}")
        elif set(used) != set(full):
            problems.append(
                f"{query.source}: label sets differ ({len(set(full) - set(used))} only under all, {len(set(used) - set(full))} only under used): {query.expr}"
            )
        elif any(name in query.expr for name in TIMED):
            continue
        elif any(
            not math.isclose(used[key], full[key], rel_tol=REL_TOLERANCE, abs_tol=1e-12) and not (math.isnan(used[key]) and math.isnan(full[key]))
            for key in full
        ):
            problems.append(f"{query.source}: values differ: {query.expr}")
    return problems


def _answer(server: Server, expr: str, at: float) -> dict[str, float]:
    data = server.query(expr, at)
    if data["resultType"] == "scalar":
        return {"": float(data["result"][1])}
    return {json.dumps(item["metric"], sort_keys=True): float(item["value"][1]) for item in data["result"]}


# --- the report ------------------------------------------------------------------------------------------------


def report(figures: dict[str, Any]) -> str:
    used, full = figures["modes"]["used"], figures["modes"]["all"]
    floor = figures["floor"]
    lines = [f"## {figures['nodes']} nodes, {figures['pods']} workload pods ({figures['fixture_series']} series served by the fixtures)"]
    lines.append(f"{'':34} {'used':>12} {'all':>12} {'all/used':>9}")
    for key, label, unit in (
        ("head_series", "active head series", 1),
        ("samples_scraped", "samples per scrape (scraped)", 1),
        ("samples_post_relabeling", "samples per scrape (kept)", 1),
        ("peak_rss_bytes", "peak RSS (MiB)", 2**20),
        ("rule_eval_seconds", "rule evaluation (ms)", 1e-3),
    ):
        a, b = used[key] / unit, full[key] / unit
        lines.append(f"{label:34} {a:12.1f} {b:12.1f} {b / a if a else math.nan:9.2f}")
    lines.append(
        f"{'floor (series the queries select)':34} {floor:12d}   used/floor {used['head_series'] / floor if floor else math.nan:.2f}   all/floor {full['head_series'] / floor if floor else math.nan:.2f}"
    )
    with_keep = figures["floor_with_keep"]
    lines.append(
        f"{'floor and the stack`s scrape.keep':34} {with_keep:12d}   used/floor {used['head_series'] / with_keep if with_keep else math.nan:.2f}   ({', '.join(figures['scrape_keep']) or 'none'})"
    )
    unlisted = sum(count for group, count in used["series_by_family"].items() if _synthetic(group))
    lines.append(f"{'of which no keep-list can touch':34} {unlisted:12d}   (up, scrape_*, ALERTS*: written by Prometheus itself)")
    lines.append("")
    jobs = {
        name: _per_job(figures[name] if name == "floor_by_family" else figures["modes"][name]["series_by_family"])
        for name in ("used", "all", "floor_by_family")
    }
    lines.append(f"{'job (floor: with scrape.keep)':34} {'used':>9} {'all':>9} {'floor':>9} {'used/floor':>10}")
    for job in sorted(set(jobs["all"]) | set(jobs["used"]), key=lambda job: -jobs["all"].get(job, 0)):
        u, a, f = jobs["used"].get(job, 0), jobs["all"].get(job, 0), jobs["floor_by_family"].get(job, 0)
        lines.append(f"{job or '(no job: recorded)':34} {u:9d} {a:9d} {f:9d} {u / f if f else math.nan:10.2f}")
    excess = {group: count - figures["floor_by_family"].get(group, 0) for group, count in used["series_by_family"].items() if not _synthetic(group)}
    lines.append("")
    lines.append(f"the families `used` keeps most series of beyond the floor with scrape.keep (job family: kept - floor), {EXCESS_SHOWN} at most:")
    for group, extra in sorted(excess.items(), key=lambda item: (-item[1], item[0]))[:EXCESS_SHOWN]:
        if extra <= 0:
            break
        lines.append(f"  {group:70} {extra:8d}")
    return "\n".join(lines)


def _synthetic(group: str) -> bool:
    name = group.rsplit(" ", 1)[-1]
    return name in ("up", "ALERTS", "ALERTS_FOR_STATE") or name.startswith("scrape_")


def _per_job(by_family: Mapping[str, int]) -> dict[str, int]:
    jobs: dict[str, int] = {}
    for group, count in by_family.items():
        job = group.split(" ", 1)[0]
        jobs[job] = jobs.get(job, 0) + count
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="3x60,10x300", help="cluster sizes, NODESxPODS, comma-separated")
    parser.add_argument("--stack", type=Path, default=ROOT / "golden/full/stack.yaml")
    parser.add_argument("--check", action="store_true", help="also compare every shipped query's answers; exit 1 on a difference")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not os.access(PROMETHEUS, os.X_OK) or not os.access(NODE_EXPORTER, os.X_OK):
        raise SystemExit(f"needs {PROMETHEUS} and {NODE_EXPORTER}: run scripts/install-tools (or set KMC_TOOLS_DIR)")
    all_figures, all_problems = [], []
    for size in args.sizes.split(","):
        nodes, pods = (int(part) for part in size.lower().split("x"))
        with tempfile.TemporaryDirectory(prefix="kmc-ingest-") as work:
            figures, problems = run_size(nodes, pods, args.stack.resolve(), args.check, Path(work))
        print(report(figures), flush=True)
        if args.check:
            print(f"check: {len(problems)} of the shipped queries differ" + "".join(f"\n  {problem}" for problem in problems), flush=True)
        print(flush=True)
        all_figures.append(figures)
        all_problems += problems
    if args.json:
        args.json.write_text(json.dumps(all_figures, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if all_problems else 0


if __name__ == "__main__":
    sys.exit(main())
