"""kmc's whole rule library run by a real Prometheus (2.53 and 3.x): every group of every pack, as
kmc writes the rule files, evaluated against live series without an error, and its alerts firing.

The series are the input series of the promtool unit tests (tests/rules/*.test.yaml), so they
have the names and labels kmc's scrape jobs produce (kube-state-metrics' `namespace`/`pod`,
the kubelet's `node`, ...). One local exporter serves them all, and one scrape job with
`honor_labels` keeps each series' own `job` and `instance`, as if each job had scraped it. A
series whose unit test starts it at `a` and adds `b` a step is served at `a + b·n` on the n-th
scrape, so counters grow and rates, ratios and quantiles have values. Unit tests check what
each rule computes; this test checks that the real server accepts the files and evaluates
every rule against data shaped as in a cluster — a join that matches many-to-many, a vector
with two series of one label set after the alert's labels, a function a version lacks would
show here as a rule whose health is not "ok".

The unit tests and this run take the metric names from the rules themselves, so a misspelt
name would pass both: the real Prometheus (2.53 and 3.x, with rules, an Alertmanager and a
remote-write queue that sends), node-exporter and Alertmanager (clustered) are run as well, and
every series name the rules read from them must be on their /metrics pages. (The Kubernetes
components' and kube-state-metrics' names come from their documentation: none of them can run
here.)
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from local_processes import free_port, get_json, http_get, running, wait_for
from test_alerting_e2e import alertmanager_binary
from test_prometheus_e2e import NODE_EXPORTER, PROMETHEUS, running_prometheus
from tools import ROOT, tool

from kmc.components import rule_packs
from kmc.text import yaml_text

pytestmark = pytest.mark.slow
TIMEOUT = 60
SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
START_AND_STEP = re.compile(r"^(-?[0-9.]+(?:e[+-]?[0-9]+)?)(?:([+-][0-9.]+(?:e[+-]?[0-9]+)?)x[0-9]+)?")
# Written by Prometheus itself: a served `up` or `ALERTS` would be a second copy of the server's own.
OWN_SERIES = ("up", "ALERTS", "ALERTS_FOR_STATE")
# Alerts whose condition the unit tests' first values meet at once: pending (or firing) within seconds.
EXPECTED_ACTIVE = {
    "Watchdog",
    "KubeApiserverErrorsHigh",
    "CoreDnsErrorsHigh",
    "EtcdDatabaseNearQuota",
    "KubeNodeNotReady",
    "KubeNodeUnreachable",
    "KubePersistentVolumeErrors",
    "KubePersistentVolumeAlmostFull",
    "NodeFilesystemAlmostFull",
    "KubePodCrashLooping",
    "AlertmanagerNotificationsFailing",
}


def fixture_series() -> dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]]:
    """(name, labels) → (start, step) of every input series of the unit tests; the first test naming a series wins."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]] = {}
    for path in sorted((ROOT / "tests" / "rules").glob("*.test.yaml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for entry in test.get("input_series") or ():
                name, labels = _parsed(entry["series"])
                values = START_AND_STEP.match(str(entry["values"]).strip())
                if name in OWN_SERIES or values is None:
                    continue
                found.setdefault((name, labels), (float(values.group(1)), float(values.group(2) or 0)))
    return found


def _parsed(series: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    match = SERIES.match(series.strip())
    assert match, series
    return match.group(1), tuple(sorted(LABEL.findall(match.group(2) or "")))


class Exporter:
    """Serves the fixture series at /metrics, each at start + step · (scrapes so far)."""

    def __init__(self, series: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]]) -> None:
        self.scrapes = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                n, owner.scrapes = owner.scrapes, owner.scrapes + 1
                lines = []
                for (name, labels), (start, step) in sorted(series.items()):
                    text = ",".join(f'{key}="{value}"' for key, value in labels)
                    lines.append(f"{name}{{{text}}} {start + step * n!r}")
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    served = Exporter(fixture_series())
    yield served
    served.stop()


def _rule_files(directory: Path) -> list[str]:
    """Every pack with every group and its default thresholds, as kmc writes rule files."""
    directory.mkdir()
    for name, pack in rule_packs.library().items():
        (directory / f"{name}.yaml").write_text(yaml_text.dump(rule_packs.pack_file(pack, {})))
    return sorted(f"{directory}/{path.name}" for path in directory.glob("*.yaml"))


def _groups(url: str) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = get_json(f"{url}/api/v1/rules")["data"]["groups"]
    return groups


def _problems(groups: list[dict[str, Any]]) -> list[str]:
    return [
        f"{group['name']}: {rule.get('name')}: {rule['health']} {rule.get('lastError', '')}"
        for group in groups
        for rule in group["rules"]
        if rule["health"] != "ok" or rule.get("lastError")
    ]


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_every_rule_evaluates_on_live_series(version: str, exporter: Exporter, tmp_path: Path) -> None:
    files = _rule_files(tmp_path / "rules")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": files,
        "scrape_configs": [{"job_name": "fixtures", "honor_labels": True, "static_configs": [{"targets": [exporter.address]}]}],
    }
    expected_groups = {group.name for pack in rule_packs.library().values() for group in pack.groups}
    rules = sum(len(group.rules) for pack in rule_packs.library().values() for group in pack.groups)
    with running_prometheus(tool(PROMETHEUS[version]), config, tmp_path / "prometheus") as prometheus:

        def active() -> set[str]:
            return {alert["labels"]["alertname"] for alert in get_json(f"{prometheus.url}/api/v1/alerts")["data"]["alerts"]}

        def settled() -> bool:
            # Every group evaluated since the exporter was scraped a few times: rates have their samples.
            started = exporter.scrapes
            evaluated = {group["name"] for group in _groups(prometheus.url) if not group["lastEvaluation"].startswith("0001-")}
            return started >= 4 and evaluated == expected_groups and active() >= EXPECTED_ACTIVE

        wait_for(
            "every group evaluated and the expected alerts active", settled, TIMEOUT, 0.5, lambda: f"active: {sorted(active())}\n{prometheus.process.tail()}"
        )
        groups = _groups(prometheus.url)
        assert {group["name"] for group in groups} == expected_groups
        assert sum(len(group["rules"]) for group in groups) == rules
        assert _problems(groups) == [], json.dumps(_problems(groups), indent=1)


# What the real programs here cannot show: the systemd collector asks systemd over the system
# bus, which this machine does not run.
NOT_SHOWN = {"node_systemd_unit_state"}
SOURCES = {"prometheus_": "Prometheus", "alertmanager_": "Alertmanager", "node_": "node-exporter"}


def _metric_names(node: Any) -> set[str]:
    """The metric names an expression selects (promql-parser's tree)."""
    names: set[str] = set()
    if isinstance(node, promql_parser.VectorSelector):
        names.add(node.name or "")
    for attribute in ("lhs", "rhs", "expr", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None:
            names |= _metric_names(child)
    for child in getattr(node, "args", None) or ():
        names |= _metric_names(child)
    return names


def read_from(source: str) -> set[str]:
    """The metric names (not recorded series) the library's rules read from one program."""
    prefix = next(prefix for prefix, name in SOURCES.items() if name == source)
    names = {
        name
        for pack in rule_packs.library().values()
        for group in rule_packs.pack_file(pack, {})["groups"]
        for rule in group["rules"]
        for name in _metric_names(promql_parser.parse(rule["expr"]))
    }
    return {name for name in names if name.startswith(prefix) and ":" not in name} - NOT_SHOWN


def _exposed(url: str) -> set[str]:
    """The families a /metrics page exposes, histograms and summaries by their series' names."""
    text = http_get(url)[1].decode()
    return {match.group(1) for match in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)", text, re.MULTILINE)}


class RemoteWriteSink:
    """Accepts remote-write requests (204), so a queue sends and records what it sent."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/write"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_prometheus_exposes_what_the_rules_read(version: str, tmp_path: Path) -> None:
    """Every prometheus_* series the rules read is one the real server exposes, running as kmc configures it:
    with rules, an Alertmanager to send to and a remote-write queue that sends."""
    sink = RemoteWriteSink()
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "one", "rules": [{"record": "one", "expr": "vector(1)"}]}]}))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yaml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:9"]}]}]},
        "remote_write": [{"url": sink.url, "name": "sink", "queue_config": {"batch_send_deadline": "1s"}}],
        "scrape_configs": [],
    }
    wanted = read_from("Prometheus")
    try:
        with running_prometheus(tool(PROMETHEUS[version]), config, tmp_path / "prometheus") as prometheus:
            wait_for(
                "the series the rules read",
                lambda: wanted <= _exposed(f"{prometheus.url}/metrics"),
                TIMEOUT,
                0.5,
                lambda: str(sorted(wanted - _exposed(f"{prometheus.url}/metrics"))),
            )
    finally:
        sink.stop()


def test_node_exporter_exposes_what_the_rules_read(tmp_path: Path) -> None:
    """Every node_* series the rules read is one the real node-exporter exposes with the collectors kmc leaves on."""
    address = f"127.0.0.1:{free_port()}"
    wanted = read_from("node-exporter")
    with running("node-exporter", [tool(NODE_EXPORTER), f"--web.listen-address={address}"], f"http://{address}/metrics", tmp_path):
        assert sorted(wanted - _exposed(f"http://{address}/metrics")) == []


def test_alertmanager_exposes_what_the_rules_read(tmp_path: Path) -> None:
    """Every alertmanager_* series the rules read is one the real Alertmanager (clustered, as kmc runs it) exposes."""
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump({"route": {"receiver": "none"}, "receivers": [{"name": "none"}]}))
    web, gossip = free_port(), free_port()
    args = [
        alertmanager_binary(tmp_path),
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{web}",
        f"--cluster.listen-address=127.0.0.1:{gossip}",
        f"--cluster.advertise-address=127.0.0.1:{gossip}",
    ]
    wanted = read_from("Alertmanager")
    with running("alertmanager", args, f"http://127.0.0.1:{web}/-/ready", tmp_path):
        assert sorted(wanted - _exposed(f"http://127.0.0.1:{web}/metrics")) == []
