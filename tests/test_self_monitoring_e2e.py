"""kmc's own components, scraped by a real Prometheus (2.53 and 3.x) as the compiled config says.

The stack runs Grafana, metrics-server and prometheus-adapter. Prometheus must scrape Grafana's
`/metrics` over HTTP, and each aggregated API server's `/metrics` over HTTPS as an authorized
caller: verifying the serving certificate kmc minted (for the Service's DNS name, since the target
is a pod address) with the CA the Prometheus pod mounts, and sending its service account token.

Stand-ins, each on its own loopback address behind the Kubernetes API stub: the API servers are
HTTPS servers holding the very certificate and key kmc generated for them (read from the stack's
state directory), which answer only a caller with the token; Grafana is a plain `/metrics` server.
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
    "metricsServer": {"enabled": True},
    "prometheusAdapter": {
        "enabled": True,
        "customMetrics": [{"name": "http_requests_per_second", "series": "http_requests_total", "resource": "pod", "type": "rate", "window": "2m"}],
    },
}
TOKEN = "prometheus-service-account-token"
API_SERVERS = {"metrics-server": "127.0.0.41", "prometheus-adapter": "127.0.0.42"}
GRAFANA_IP = "127.0.0.43"


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
        for name, ip in API_SERVERS.items():
            tls = (state / name / "tls.crt", state / name / "tls.key")
            servers[name] = MetricsServer(ip, tls=tls, token=TOKEN)
        servers["grafana"] = MetricsServer(GRAFANA_IP)
        for server in servers.values():
            running.callback(server.stop)
        ips = {**API_SERVERS, "grafana": GRAFANA_IP}
        ports = {"metrics-server": "https", "prometheus-adapter": "https", "grafana": "http"}
        cluster = [
            pod_of_workload(objects[("Deployment", name)], f"{name}-6d4c8b9f7-abcde", ip=ips[name], ports={ports[name]: servers[name].port}) for name in servers
        ]
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
        assert found[name][0].startswith(f"up {'https' if name in API_SERVERS else 'http'}://{ips[name]}:{server.port}/metrics")
        assert server.seen(), f"{name} was asked for its metrics"
        others = [pool for pool, targets in found.items() if pool != name and any(f"//{ips[name]}:" in target for target in targets)]
        assert not others, f"{name} is also scraped by {others}"
    for name in API_SERVERS:
        assert servers[name].refused == 0, f"Prometheus called {name} without its token"
