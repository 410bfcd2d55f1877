"""Rules and alerting as kmc compiles them, run by real processes: Prometheus (2.53 and 3.x) loads
the rules ConfigMap's files and evaluates every group without an error, finds Alertmanager through
the EndpointSlices of the compiled Service (served by the Kubernetes API stub), and sends it the
alerts of a rule of the stack's own that always fires and of kmc's Watchdog; the real
Alertmanager (0.28) routes them to the webhook receiver, whose URL it reads from a Secret file,
and a local HTTP server receives the notifications.

What is rewritten, and why (everything else runs as compiled):
- `kubernetes_sd_configs` entries get `api_server: <the stub>` (no in-cluster configuration here);
- `rule_files` and the Secret file paths in alertmanager.yml point at the test's directory instead
  of the pods' mount points;
- Alertmanager runs with the flags of the compiled StatefulSet, their values made local: paths
  into the test's directory, addresses on loopback, and itself as the cluster peer (the pod IP
  and the headless Service's DNS name exist only in a cluster).
- Debian's Alertmanager reads its default notification templates from the absolute path
  /usr/share/prometheus/alertmanager (a packaging patch; upstream embeds them), which is not
  installed on this machine and must not be written. The test runs a copy of the binary in
  which that one string constant is replaced by a relative path of the same length, and runs it
  in a directory holding the package's templates.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_api_stub import KubeApiStub
from kube_objects import endpoints_for, pod_of_workload
from local_processes import free_port, get_json, http_get, running, wait_for
from pod_files import local_args
from test_prometheus_e2e import built_objects, pointed_at
from tools import TOOLS, tool

from kmc.components import alertmanager_config, rules

PROMETHEUS = {"2.53": TOOLS / "prometheus-2" / "prometheus", "3.x": TOOLS / "prometheus-3" / "prometheus"}
ALERTMANAGER = TOOLS / "alertmanager" / "prometheus-alertmanager"
DEBIAN_TEMPLATES = b"/usr/share/prometheus/alertmanager"
TIMEOUT = 40
STACK: dict[str, Any] = {
    "version": 1,
    "namespace": "monitoring",
    "prometheus": {"scrapeInterval": "1s", "scrapeTimeout": "1s", "evaluationInterval": "1s"},
    "rules": {
        "groups": [
            {"name": "e2e", "rules": [{"alert": "E2eAlwaysFiring", "expr": "vector(1)", "labels": {"severity": "info"}, "annotations": {"summary": "Always."}}]}
        ]
    },
    "alertmanager": {
        "enabled": True,
        "route": {"receiver": "hook", "groupBy": ["alertname"], "groupWait": "1s", "groupInterval": "1s", "repeatInterval": "1h"},
        "receivers": [{"name": "hook", "webhookConfigs": [{"url": {"secretName": "alertmanager-receivers", "key": "webhook-url"}}]}],
    },
}

pytestmark = pytest.mark.slow


class Webhook:
    """A local HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                owner.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def alertmanager_binary(work: Path) -> Path:
    """A copy of Debian's Alertmanager that reads its templates from ./<same length> (see the module docstring)."""
    original = tool(ALERTMANAGER).resolve()
    relative = b"./" + b"t" * (len(DEBIAN_TEMPLATES) - 2)
    data = original.read_bytes()
    assert data.count(DEBIAN_TEMPLATES) >= 1
    binary = work / "alertmanager"
    binary.write_bytes(data.replace(DEBIAN_TEMPLATES, relative))
    binary.chmod(0o755)
    shutil.copytree(original.parents[1] / "share/prometheus/alertmanager", work / relative.decode())
    return binary


def alertmanager_args(workload: Mapping[str, Any], volumes: Mapping[str, Path], host: str, web: int, gossip: int) -> list[str]:
    """The args of the compiled StatefulSet's alertmanager container as they run here: paths moved
    to `volumes` (volume name → directory), addresses on loopback `host`, and itself as the cluster
    peer (the pod IP and the headless Service's DNS name exist only in a cluster)."""
    (container,) = [container for container in workload["spec"]["template"]["spec"]["containers"] if container["name"] == "alertmanager"]
    addresses = {
        "--web.listen-address": f"{host}:{web}",
        "--cluster.listen-address": f"{host}:{gossip}",
        "--cluster.advertise-address": f"[{host}]:{gossip}",
        "--cluster.peer": f"{host}:{gossip}",
    }
    return local_args(container, volumes, addresses)


def _alertmanager_config(objects: dict[tuple[str, str], dict[str, Any]], work: Path, webhook: Webhook) -> Path:
    secrets = work / "secrets"
    (secrets / "alertmanager-receivers").mkdir(parents=True)
    (secrets / "alertmanager-receivers" / "webhook-url").write_text(webhook.url)
    text = objects[("ConfigMap", "alertmanager")]["data"]["alertmanager.yml"]
    assert webhook.url not in text and "url_file: " + alertmanager_config.SECRETS_DIR in text
    (work / "alertmanager.yml").write_text(text.replace(alertmanager_config.SECRETS_DIR, str(secrets)))
    return work / "alertmanager.yml"


def _prometheus_config(objects: dict[tuple[str, str], dict[str, Any]], work: Path, api_server: str) -> Path:
    rule_dir = work / "rules"
    rule_dir.mkdir()
    for name, text in objects[("ConfigMap", rules.NAME)]["data"].items():
        (rule_dir / name).write_text(text)
    config = yaml.safe_load(objects[("ConfigMap", "prometheus")]["data"]["prometheus.yml"])
    assert config["rule_files"] == [f"{rules.MOUNT}/*.yaml"]
    config["rule_files"] = [f"{rule_dir}/*.yaml"]
    (work / "prometheus.yml").write_text(yaml.safe_dump(pointed_at(config, api_server), sort_keys=False))
    return work / "prometheus.yml"


def _rule_health(url: str) -> dict[str, list[str]]:
    groups = get_json(f"{url}/api/v1/rules")["data"]["groups"]
    return {group["name"]: [rule["health"] for rule in group["rules"]] for group in groups}


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_rules_evaluate_and_alerts_reach_the_webhook(version: str, tmp_path: Path) -> None:
    objects = built_objects(STACK, tmp_path)
    expected_groups = {"e2e"} | {group for data in objects[("ConfigMap", rules.NAME)]["data"].values() for group in _group_names(data)}
    host = "127.0.0.30"
    web = free_port(host)
    workload = objects[("StatefulSet", "alertmanager")]
    cluster = [pod_of_workload(workload, "alertmanager-0", ip=host, ports={"web": web, "cluster-tcp": 9094, "cluster-udp": 9094, "reloader-web": 8080})]
    cluster += [obj for (kind, _), obj in objects.items() if kind == "Service"]
    cluster += endpoints_for(cluster)
    webhook = Webhook()
    try:
        with KubeApiStub(cluster) as api:
            gossip = free_port(host)
            _alertmanager_config(objects, tmp_path, webhook)
            volumes = {"config": tmp_path, "data": tmp_path / "am-data"}
            am_args = [alertmanager_binary(tmp_path), *alertmanager_args(workload, volumes, host, web, gossip)]
            with running("alertmanager", am_args, f"http://{host}:{web}/-/ready", tmp_path, TIMEOUT) as alertmanager:
                address = f"127.0.0.1:{free_port()}"
                prom_args: list[str | Path] = [
                    tool(PROMETHEUS[version]),
                    f"--config.file={_prometheus_config(objects, tmp_path, api.url)}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address={address}",
                    # Resend firing alerts every second, not every minute: the first evaluation may come before Alertmanager is discovered.
                    "--rules.alert.resend-delay=1s",
                ]
                with running("prometheus", prom_args, f"http://{address}/-/ready", tmp_path, TIMEOUT) as prometheus:
                    url = f"http://{address}"

                    def all_evaluated() -> bool:
                        health = _rule_health(url)
                        return set(health) == expected_groups and all(state == "ok" for states in health.values() for state in states)

                    wait_for("every rule group evaluated without error", all_evaluated, TIMEOUT, 0.5, lambda: json.dumps(_rule_health(url)) + prometheus.tail())
                    wait_for(
                        "Prometheus to find Alertmanager",
                        lambda: (
                            [am["url"] for am in get_json(f"{url}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]]
                            == [f"http://{host}:{web}/api/v2/alerts"]
                        ),
                        TIMEOUT,
                        0.5,
                    )
                    wait_for(
                        "the webhook notifications of E2eAlwaysFiring and of kmc's Watchdog",
                        lambda: {"E2eAlwaysFiring", "Watchdog"} <= {alert["labels"]["alertname"] for body in webhook.bodies for alert in body["alerts"]},
                        TIMEOUT,
                        0.5,
                        lambda: (
                            f"Prometheus' alerts: {http_get(url + '/api/v1/alerts')[1]!r}\nAlertmanager's: {http_get(f'http://{host}:{web}/api/v2/alerts')[1]!r}\n"
                            + alertmanager.tail()
                        ),
                    )
    finally:
        webhook.stop()
    bodies = {body["groupLabels"]["alertname"]: body for body in webhook.bodies}
    body = bodies["E2eAlwaysFiring"]
    assert body["receiver"] == "hook" and body["status"] == "firing"
    assert [alert["labels"]["alertname"] for alert in body["alerts"]] == ["E2eAlwaysFiring"]
    assert body["alerts"][0]["labels"]["cluster"] == "kubernetes", "the external labels travel with the alert"
    # The dead man's switch of kmc's `kmc` pack reaches a receiver on its own.
    assert [alert["labels"]["severity"] for alert in bodies["Watchdog"]["alerts"]] == ["none"]


def _group_names(text: str) -> list[str]:
    return [group["name"] for group in yaml.safe_load(text)["groups"]]
