"""kmc's own components, scraped by a real Prometheus (2.53 and 3.x) as the compiled config says.

The stack runs Grafana, Alertmanager, metrics-server and prometheus-adapter. Prometheus must scrape
Grafana's, Alertmanager's and its config-reloader's `/metrics` over HTTP (the reloader's through
the headless peer Service), and each aggregated API server's `/metrics` over HTTPS as an authorized
caller: verifying the serving certificate kmc minted (for the Service's DNS name, since the target
is a pod address) with the CA the Prometheus pod mounts, and sending its service account token.

Stand-ins, each on its own loopback address behind the Kubernetes API stub: the API servers are
HTTPS servers holding the very certificate and key kmc generated for them (read from the stack's
state directory), which answer only a caller with the token; the others are plain `/metrics`
servers.
What is rewritten in the compiled prometheus.yml: discovery's `api_server` (see
tests/test_prometheus_e2e.py), and the in-pod file paths (the service account token, the CA files)
to where this test lays out the pod's volumes — the CA files from the objects kmc emitted, through
the projected volume's items, as the kubelet would.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_api_stub import KubeApiStub
from kube_objects import endpoints_for, pod_of_workload
from local_processes import MetricsServer, wait_for
from test_prometheus_e2e import FAST, PROMETHEUS, TIMEOUT, _merged, built_objects, pointed_at, running_prometheus
from tools import tool

from kmc.components.aggregated_api import SCRAPE_CA_DIR
from kmc.components.scrape_jobs import SA_DIR

STACK = {
    "version": 1,
    "namespace": "monitoring",
    "kubeStateMetrics": {"enabled": False},
    "nodeExporter": {"enabled": False},
    "grafana": {"enabled": True},
    "alertmanager": {
        "enabled": True,
        "route": {"receiver": "oncall"},
        "receivers": [{"name": "oncall", "emailConfigs": [{"to": "oncall@example.com", "from": "am@example.com", "smarthost": "smtp.example.com:25"}]}],
    },
    "metricsServer": {"enabled": True},
    "prometheusAdapter": {
        "enabled": True,
        "customMetrics": [{"name": "http_requests_per_second", "series": "http_requests_total", "resource": "pod", "type": "rate", "window": "2m"}],
    },
}
TOKEN = "prometheus-service-account-token"
API_SERVERS = ("metrics-server", "prometheus-adapter")
# Each job kmc adds for its own components: the workload whose pod it scrapes, the pod's address, the port's name.
JOBS = {
    "metrics-server": ("Deployment", "metrics-server", "127.0.0.41", "https"),
    "prometheus-adapter": ("Deployment", "prometheus-adapter", "127.0.0.42", "https"),
    "grafana": ("Deployment", "grafana", "127.0.0.43", "http"),
    "alertmanager": ("StatefulSet", "alertmanager", "127.0.0.44", "web"),
    "alertmanager-config-reloader": ("StatefulSet", "alertmanager", "127.0.0.44", "reloader-web"),
}
UNSCRAPED_PORT = 9094  # the pods' other ports (Alertmanager's gossip): nothing listens


def _api_ca_files(objects: dict[tuple[str, str], dict[str, Any]], root: Path) -> None:
    """The Prometheus pod's `api-ca` projected volume, laid out from the emitted ConfigMap."""
    pod = objects[("Deployment", "prometheus")]["spec"]["template"]["spec"]
    (volume,) = [volume for volume in pod["volumes"] if volume["name"] == "api-ca"]
    for source in volume["projected"]["sources"]:
        config_map = objects[("ConfigMap", source["configMap"]["name"])]
        for item in source["configMap"]["items"]:
            path = root / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(config_map["data"][item["key"]], encoding="utf-8")


def _in_this_test(config: dict[str, Any], pod_files: Path) -> dict[str, Any]:
    """The in-pod paths of the token and the API servers' CA files, moved under `pod_files`."""
    for job in config["scrape_configs"]:
        authorization = job.get("authorization", {})
        if authorization.get("credentials_file") == f"{SA_DIR}/token":
            authorization["credentials_file"] = str(pod_files / "token")
        tls = job.get("tls_config", {})
        if tls.get("ca_file", "").startswith(SCRAPE_CA_DIR + "/"):
            tls["ca_file"] = str(pod_files / "api-ca" / tls["ca_file"][len(SCRAPE_CA_DIR) + 1 :])
    return config


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_prometheus_scrapes_kmcs_own_components(version: str, tmp_path: Path) -> None:
    objects = built_objects(_merged(STACK, FAST), tmp_path / "stack")
    pod_files = tmp_path / "pod"
    pod_files.mkdir()
    (pod_files / "token").write_text(TOKEN, encoding="utf-8")
    _api_ca_files(objects, pod_files / "api-ca")
    state = tmp_path / "stack" / ".kmc-state"

    with contextlib.ExitStack() as running:
        servers: dict[str, MetricsServer] = {}
        for job, (_, _, ip, _) in JOBS.items():
            tls = (state / job / "tls.crt", state / job / "tls.key") if job in API_SERVERS else None
            servers[job] = MetricsServer(ip, tls=tls, token=TOKEN if job in API_SERVERS else None)
            running.callback(servers[job].stop)
        cluster = []
        for kind, name, ip in sorted({(kind, name, ip) for kind, name, ip, _ in JOBS.values()}):
            workload = objects[(kind, name)]
            named = [port["name"] for container in workload["spec"]["template"]["spec"]["containers"] for port in container.get("ports", [])]
            ports = {port: UNSCRAPED_PORT for port in named} | {port: servers[job].port for job, (_, owner, _, port) in JOBS.items() if owner == name}
            cluster.append(pod_of_workload(workload, f"{name}-0", ip=ip, ports=ports))
        cluster += [obj for (kind, _), obj in objects.items() if kind == "Service"]
        cluster += endpoints_for(cluster)
        api = running.enter_context(KubeApiStub(cluster))
        compiled = yaml.safe_load(objects[("ConfigMap", "prometheus")]["data"]["prometheus.yml"])
        config = _in_this_test(pointed_at(compiled, api.url), pod_files)
        prometheus = running.enter_context(running_prometheus(tool(PROMETHEUS[version]), config, tmp_path / "prometheus"))

        def health() -> dict[str, list[str]]:
            found: dict[str, list[str]] = {}
            for target in prometheus.active_targets():
                found.setdefault(target["scrapePool"], []).append(f"{target['health']} {target['scrapeUrl']} {target['lastError']}".strip())
            return found

        def settled() -> bool:
            found = health()
            return all(found.get(name, [""])[0].startswith("up ") for name in servers)

        wait_for("kmc's own components to be scraped", settled, TIMEOUT, 0.25, lambda: f"{health()}\n{prometheus.process.tail()}")
        found = health()

    for name, server in servers.items():
        assert len(found[name]) == 1, f"{name} is scraped by one job, once: {found}"
        assert found[name][0].startswith(f"up {'https' if name in API_SERVERS else 'http'}://{server.address}/metrics")
        assert server.seen(), f"{name} was asked for its metrics"
        others = [pool for pool, targets in found.items() if pool != name and any(f"//{server.address}/" in target for target in targets)]
        assert not others, f"{name} is also scraped by {others}"
    for name in API_SERVERS:
        assert servers[name].refused == 0, f"Prometheus called {name} without its token"
