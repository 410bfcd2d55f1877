"""Every query of kmc's library dashboards run by a real Prometheus (2.53 and 3.x), on the live
series and recording rules of tests/test_rules_e2e.py (the unit tests' input series, served by a
local exporter, and every rule of the library): each answers without an error, Grafana's
variables substituted as a dashboard showing everything sends them (`$cluster` → `.*`, which
also matches series without the label, the others → `.+`, `$__rate_interval` → 1m).

And each selector whose series (by name and job) the fixture has, or the rules record from it,
returns data: its `job`, `cluster` and other matchers select series shaped as kmc's scrape jobs
make them. The series the dashboards read that no unit test serves are added here.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from local_processes import get_json, http_get, wait_for
from test_dashboards_library import LIBRARY, selectors, substituted
from test_prometheus_e2e import PROMETHEUS, running_prometheus
from test_rules_e2e import TIMEOUT, Exporter, _groups, _rule_files, fixture_series
from tools import tool

from kmc.components import dashboard_needs, rule_packs

pytestmark = pytest.mark.slow


def queries() -> list[tuple[str, str]]:
    """(dashboard/panel, PromQL) of every target of the library, variables substituted."""
    return [
        (f"{path.stem}/{panel['title']}", substituted(expr))
        for path in LIBRARY
        for panel in json.loads(path.read_text())["panels"]
        for expr in dashboard_needs.expressions(panel)
    ]


def _query(url: str, expr: str) -> dict[str, Any]:
    status, body = http_get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    answer: dict[str, Any] = json.loads(body)
    answer["http"] = status
    return answer


# Series the dashboards read that no rule's unit test serves, shaped as their programs expose them
# (the apiserver's for the metrics API groups, Thanos', the kubelet's, node-exporter's, ...).
KSM, APISERVER = (("job", "kube-state-metrics"),), (("instance", "10.0.0.1:6443"), ("job", "apiserver"))
METRICS_API = (*APISERVER, ("code", "200"), ("group", "metrics.k8s.io"), ("resource", "pods"), ("verb", "LIST"), ("version", "v1beta1"))
EXTRA: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]] = {
    ("apiserver_request_total", METRICS_API): (10, 5),
    ("apiserver_request_duration_seconds_bucket", (*METRICS_API[:2], *METRICS_API[3:], ("le", "0.1"))): (8, 4),
    ("apiserver_request_duration_seconds_bucket", (*METRICS_API[:2], *METRICS_API[3:], ("le", "+Inf"))): (10, 5),
    ("apiserver_current_inflight_requests", (*APISERVER, ("request_kind", "readOnly"))): (3, 0),
    ("http_requests_total", (("code", "200"), ("handler", "query"), ("instance", "10.0.0.9:10902"), ("job", "thanos-query"))): (5, 2),
    ("process_resident_memory_bytes", (("instance", "10.0.0.9:10902"), ("job", "thanos-query"))): (1e8, 0),
    ("process_resident_memory_bytes", (("instance", "localhost:9090"), ("job", "prometheus"))): (4e8, 0),
    ("thanos_objstore_bucket_operations_total", (("instance", "localhost:10902"), ("job", "thanos-sidecar"), ("operation", "upload"))): (1, 1),
    ("kubelet_running_pods", (("job", "kubelet"), ("node", "node-1"))): (12, 0),
    ("kubelet_running_containers", (("container_state", "running"), ("job", "kubelet"), ("node", "node-1"))): (20, 0),
    ("kube_node_info", (*KSM, ("node", "node-1"))): (1, 0),
    ("kube_job_status_active", (*KSM, ("job_name", "nightly-1"), ("namespace", "reports"))): (1, 0),
    ("node_uname_info", (("instance", "10.0.0.2:9100"), ("job", "node-exporter"), ("nodename", "node-1"))): (1, 0),
    ("node_load15", (("instance", "10.0.0.2:9100"), ("job", "node-exporter"))): (0.5, 0),
    ("node_disk_read_bytes_total", (("device", "sda"), ("instance", "10.0.0.2:9100"), ("job", "node-exporter"))): (1e6, 1e4),
    ("node_disk_written_bytes_total", (("device", "sda"), ("instance", "10.0.0.2:9100"), ("job", "node-exporter"))): (1e6, 2e4),
    ("alertmanager_alerts", (("instance", "10.0.0.7:9093"), ("job", "alertmanager"), ("state", "active"))): (2, 0),
    ("prometheus_tsdb_head_series", (("instance", "localhost:9090"), ("job", "prometheus"))): (1e4, 0),
}


def served() -> dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]]:
    return {**fixture_series(), **{(name, tuple(sorted(labels))): value for (name, labels), value in EXTRA.items()}}


@pytest.fixture
def exporter() -> Any:
    served_series = Exporter(served())
    yield served_series
    served_series.stop()


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_every_dashboard_query_runs_on_live_series(version: str, exporter: Exporter, tmp_path: Path) -> None:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": _rule_files(tmp_path / "rules"),
        "scrape_configs": [{"job_name": "fixtures", "honor_labels": True, "static_configs": [{"targets": [exporter.address]}]}],
    }
    fixture_jobs = {(name, dict(labels).get("job")) for name, labels in served()}
    groups = {group.name for pack in rule_packs.library().values() for group in pack.groups}
    with running_prometheus(tool(PROMETHEUS[version]), config, tmp_path / "prometheus") as prometheus:

        def settled() -> bool:
            evaluated = {group["name"] for group in _groups(prometheus.url) if not group["lastEvaluation"].startswith("0001-")}
            return exporter.scrapes >= 4 and evaluated == groups

        wait_for("the fixture scraped and every rule group evaluated", settled, TIMEOUT, 0.5, prometheus.process.tail)
        recorded = {name for name in dashboard_needs.recorders() if get_json(f"{prometheus.url}/api/v1/series?match[]={name}")["data"]}
        errors, empty, with_data = [], [], 0
        for where, expr in queries():
            answer = _query(prometheus.url, expr)
            if answer["status"] != "success" or answer.get("warnings"):
                errors.append(f"{where}: {expr}: {answer.get('error')} {answer.get('warnings', '')}")
                continue
            with_data += bool(answer["data"]["result"])
            for selector in selectors(expr):
                job = next((matcher.value for matcher in selector.matchers.matchers if matcher.name == "job"), None)
                served_here = (selector.name, job) in fixture_jobs or selector.name in recorded
                if served_here and not _query(prometheus.url, str(selector))["data"]["result"]:
                    empty.append(f"{where}: {selector}")
        assert errors == [], "\n".join(errors)
        assert empty == [], "selectors with no data although the fixture has their series:\n" + "\n".join(empty)
        # Most panels show data on the fixture; the others read series no unit test serves (e.g.
        # etcd's fsync buckets are there, the kubelet's running pods are not).
        assert with_data >= len(queries()) // 2, with_data
