"""Prometheus (2.53 and 3.x) and Alertmanager (0.28) exposed under a path prefix, run with the
args kmc compiles: every in-pod and in-stack caller still reaches them.

kmc gives each `--web.route-prefix` = the exposed path (an Ingress cannot strip a prefix
portably, so requests reach the pod with it) and `--web.external-url` = https://HOST/PATH/. Both
programs mount their whole web router under the route prefix (Prometheus web/web.go and
Alertmanager's ui/web.go at the pinned versions: `router.WithPrefix(routePrefix)`, /metrics,
/-/ready, /-/healthy and /-/reload included), so the compiled pods are played here as in
test_reload_e2e.py and asked, at their compiled paths:
- the readiness and liveness probes' `httpGet.path` answer 200, and the same path without the
  prefix does not (so the probes must carry it);
- the config-reloader's `--reload-url` (POST) answers 200;
- the self-scrape job (`metrics_path`) and the Alertmanager job are up;
- Prometheus sends alerts to Alertmanager under the prefix (`path_prefix`), and the alert it sends
  links back through the external URL (`generatorURL`); Prometheus reports the external URL as
  its `web.external-url` flag.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from kube_api_stub import KubeApiStub
from kube_objects import endpoints_for, pod_of_workload
from local_processes import free_port, get_json, http_get, http_post, running, wait_for
from pod_files import local_args
from test_alerting_e2e import PROMETHEUS, alertmanager_args, alertmanager_binary
from test_prometheus_e2e import built_objects
from test_reload_e2e import Pod, _alertmanager_yml, _prometheus_yml, _targets
from tools import tool

from kmc.components import config_reloader

TIMEOUT = 40
HOST = "127.0.0.1"
WEBHOOK = ("alertmanager-receivers", "webhook-url")
PROM_PATH, AM_PATH = "/monitoring/prometheus", "/alertmanager"
PROM_URL, AM_URL = f"https://ui.example.com{PROM_PATH}/", f"https://alerts.example.com{AM_PATH}/"
STACK: dict[str, Any] = {
    "version": 1,
    "namespace": "monitoring",
    "prometheus": {
        "scrapeInterval": "1s",
        "scrapeTimeout": "1s",
        "evaluationInterval": "1s",
        "expose": {"host": "ui.example.com", "path": PROM_PATH},
    },
    "rules": {
        "groups": [
            {"name": "e2e", "rules": [{"alert": "E2eAlwaysFiring", "expr": "vector(1)", "labels": {"severity": "info"}, "annotations": {"summary": "Always."}}]}
        ]
    },
    "alertmanager": {
        "enabled": True,
        "route": {"receiver": "hook", "groupWait": "1s", "groupInterval": "1s", "repeatInterval": "1h"},
        "receivers": [{"name": "hook", "webhookConfigs": [{"url": {"secretName": WEBHOOK[0], "key": WEBHOOK[1]}}]}],
        "expose": {"host": "alerts.example.com", "path": AM_PATH, "tls": {"secretName": "alerts-tls"}, "ingress": {"enabled": True}},
    },
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    return built_objects(STACK, tmp_path_factory.mktemp("exposed"))


def _container(workload: dict[str, Any], name: str) -> dict[str, Any]:
    (container,) = [container for container in workload["spec"]["template"]["spec"]["containers"] if container["name"] == name]
    return container


def test_the_compiled_args_follow_host_and_path(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    prometheus = _container(objects[("Deployment", "prometheus")], "prometheus")
    alertmanager = _container(objects[("StatefulSet", "alertmanager")], "alertmanager")
    assert {f"--web.route-prefix={PROM_PATH}", f"--web.external-url={PROM_URL}"} <= set(prometheus["args"])
    assert {f"--web.route-prefix={AM_PATH}", f"--web.external-url={AM_URL}"} <= set(alertmanager["args"])
    config = yaml.safe_load(objects[("ConfigMap", "prometheus")]["data"]["prometheus.yml"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["prometheus"]["metrics_path"] == f"{PROM_PATH}/metrics" and jobs["alertmanager"]["metrics_path"] == f"{AM_PATH}/metrics"
    assert config["alerting"]["alertmanagers"][0]["path_prefix"] == AM_PATH


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_probes_reloads_and_scrapes_work_under_the_prefix(version: str, objects: dict[tuple[str, str], dict[str, Any]], tmp_path: Path) -> None:
    prom_port, web, gossip = free_port(HOST), free_port(HOST), free_port(HOST)
    am_workload = objects[("StatefulSet", "alertmanager")]
    cluster = [pod_of_workload(am_workload, "alertmanager-0", ip=HOST, ports={"web": web, "cluster-tcp": gossip, "cluster-udp": gossip, "reloader-web": 8080})]
    cluster += [obj for (kind, _), obj in objects.items() if kind == "Service"]
    cluster += endpoints_for(cluster)
    with KubeApiStub(cluster) as api, contextlib.ExitStack() as pods:
        prom = Pod(objects[("Deployment", "prometheus")], tmp_path / "prometheus", {})
        am = Pod(am_workload, tmp_path / "alertmanager", {WEBHOOK: "http://127.0.0.1:9/never-called"})
        prom.project(objects, _prometheus_yml(prom, api.url, f"{HOST}:{prom_port}"))
        am.project(objects, _alertmanager_yml(am))
        # The route prefix is a URL path, not a file: it stays as compiled (it may even equal a mount path).
        prom_args = local_args(prom.container("prometheus"), prom.volumes, {"--web.listen-address": f"{HOST}:{prom_port}", "--web.route-prefix": PROM_PATH})
        # Resend firing alerts every second, not every minute (kmc leaves the default): the alert
        # fires before Alertmanager is discovered, and only its resend reaches it.
        prom_args.append("--rules.alert.resend-delay=1s")
        am_args = [
            f"--web.route-prefix={AM_PATH}" if arg.startswith("--web.route-prefix=") else arg
            for arg in alertmanager_args(am_workload, am.volumes, HOST, web, gossip)
        ]
        prometheus_base, alertmanager_base = f"http://{HOST}:{prom_port}", f"http://{HOST}:{web}"
        ready = {
            "prometheus": f"{prometheus_base}{prom.container('prometheus')['readinessProbe']['httpGet']['path']}",
            "alertmanager": f"{alertmanager_base}{am.container('alertmanager')['readinessProbe']['httpGet']['path']}",
        }
        pods.enter_context(running("alertmanager", [alertmanager_binary(am.root), *am_args], ready["alertmanager"], am.root, TIMEOUT))
        prometheus = pods.enter_context(running("prometheus", [tool(PROMETHEUS[version]), *prom_args], ready["prometheus"], prom.root, TIMEOUT))

        # The probes, at their compiled paths; without the prefix the programs answer otherwise.
        for pod, name, base, prefix in ((prom, "prometheus", prometheus_base, PROM_PATH), (am, "alertmanager", alertmanager_base, AM_PATH)):
            for probe in ("readinessProbe", "livenessProbe"):
                path = pod.container(name)[probe]["httpGet"]["path"]
                assert path.startswith(prefix + "/-/") and http_get(base + path)[0] == 200, (name, probe, path)
                assert http_get(base + path.removeprefix(prefix))[0] != 200, f"{name} serves {path.removeprefix(prefix)} outside its route prefix"

        # The config-reloader's reload URL, its port moved here.
        for pod, port in ((prom, prom_port), (am, web)):
            (url,) = [arg.partition("=")[2] for arg in pod.container(config_reloader.NAME)["args"] if arg.startswith("--reload-url=")]
            assert http_post(f"http://{HOST}:{port}{urlsplit(url).path}")[0] == 200, url

        # The scrapes of Prometheus itself and of Alertmanager, with their compiled metrics_path.
        api_base = prometheus_base + PROM_PATH
        wait_for(
            "Prometheus to scrape itself and Alertmanager under their prefixes",
            lambda: _targets(api_base).items() >= {"prometheus": ["up"], "alertmanager": ["up"]}.items(),
            TIMEOUT,
            0.25,
            lambda: f"{_targets(api_base)}\n{prometheus.tail()}",
        )
        assert get_json(f"{api_base}/api/v1/status/flags")["data"]["web.external-url"] == PROM_URL

        # Alerts reach Alertmanager under its prefix, linking back through Prometheus' external URL.
        active = get_json(f"{api_base}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
        assert [entry["url"] for entry in active] == [f"http://{HOST}:{web}{AM_PATH}/api/v2/alerts"]
        # An alert that fired before Alertmanager was discovered is sent again after the resend
        # delay (set to 1s above).
        wait_for(
            "the alert in Alertmanager",
            lambda: any(alert["labels"]["alertname"] == "E2eAlwaysFiring" for alert in get_json(f"{alertmanager_base}{AM_PATH}/api/v2/alerts")),
            TIMEOUT,
            0.5,
            lambda: f"{get_json(f'{api_base}/api/v1/alerts')}\n{prometheus.tail()}",
        )
        (alert,) = [alert for alert in get_json(f"{alertmanager_base}{AM_PATH}/api/v2/alerts") if alert["labels"]["alertname"] == "E2eAlwaysFiring"]
        assert alert["generatorURL"].startswith(PROM_URL + "graph?"), alert["generatorURL"]
