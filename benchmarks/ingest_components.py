"""Payloads for kmc's own components in the fixture cluster (our own generators): Alertmanager and
its config reloader, Grafana, Thanos Query, metrics-server and prometheus-adapter. Family names and
label sets follow, at the versions golden/full runs:

- Alertmanager (prometheus/alertmanager v0.28): `notify/notify.go` (notifications by integration),
  `dispatch/dispatch.go` and `provider/mem/mem.go` (alerts by state), `silence/silence.go`,
  `nflog/nflog.go`, `cluster/cluster.go`, `config/coordinator.go`, and the HTTP instrumentation of
  `api/api.go` (by handler and method).
- the config reloader (prometheus-operator v0.8x, built on thanos-io/thanos `pkg/reloader`):
  `reloader_reloads_total`, `reloader_reloads_failed_total`, `reloader_last_reload_*`,
  `reloader_config_apply_operations_total`.
- Grafana (grafana/grafana v12): `pkg/middleware/request_metrics.go` (HTTP requests by handler,
  method and status code) and `pkg/infra/metrics/metrics.go` (grafana_stat_*, grafana_build_info).
- Thanos Query (thanos-io/thanos v0.39): `pkg/extprom/http` (http_requests_total and durations by
  handler and code), `pkg/query/endpointset.go` (thanos_store_nodes_grpc_connections) and
  go-grpc-prometheus' grpc_client_* towards its stores.
- metrics-server (kubernetes-sigs/metrics-server v0.8): `pkg/scraper/scraper.go`,
  `pkg/storage/storage.go`, `pkg/server/server.go`; prometheus-adapter (v0.12): the
  k8s.io/apiserver request metrics both serve as aggregated API servers.
"""

from __future__ import annotations

import random

from ingest_exposition import Family, Payload
from ingest_payloads import DEFAULT_BUCKETS, go_process, rest_client

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _family(name: str, kind: str, text: str) -> Family:
    return Family(name, "counter" if kind == "counter" else "histogram" if kind == "histogram" else "gauge", text)


def _http(rng: random.Random, prefix: str, handlers: tuple[str, ...], labels: tuple[str, ...]) -> list[Family]:
    """Requests and their duration by handler (and method/code, as `labels` name them)."""
    total = _family(f"{prefix}_requests_total", "counter", "Total number of HTTP requests.")
    duration = _family(f"{prefix}_request_duration_seconds", "histogram", "Histogram of latencies for HTTP requests.")
    for handler in handlers:
        for code in ("200", "400", "500"):
            series = dict(zip(labels, (handler, "get", code), strict=False))
            total.counter(series, rng.uniform(0.001, 2) if code == "200" else 0.0)
        duration.histogram(dict(zip(labels, (handler, "get"), strict=False)), HTTP_BUCKETS, rng.uniform(0.01, 2), 0.02)
    return [total, duration]


def alertmanager(seed: str) -> Payload:
    rng = random.Random(seed)
    families = go_process(rng)
    alerts = _family("alertmanager_alerts", "gauge", "How many alerts by state.")
    for state in ("active", "suppressed", "unprocessed"):
        alerts.gauge({"state": state}, rng.randint(0, 20))
    notifications = _family("alertmanager_notifications_total", "counter", "The total number of attempted notifications.")
    failed = _family("alertmanager_notifications_failed_total", "counter", "The total number of failed notifications.")
    latency = _family("alertmanager_notification_latency_seconds", "histogram", "The latency of notifications in seconds.")
    for integration in (
        "discord",
        "email",
        "msteams",
        "msteamsv2",
        "opsgenie",
        "pagerduty",
        "pushover",
        "rocketchat",
        "slack",
        "sns",
        "telegram",
        "victorops",
        "webex",
        "webhook",
        "wechat",
        "jira",
    ):
        notifications.counter({"integration": integration}, 0.01 if integration in ("slack", "pagerduty", "webhook") else 0.0)
        failed.counter({"integration": integration, "reason": "other"}, 0.0)
        latency.histogram({"integration": integration}, (1, 5, 10, 15, 20), 0.01, 0.5)
    members = _family("alertmanager_cluster_members", "gauge", "Number indicating current number of members in cluster.")
    members.gauge({}, 2)
    reload_ok = _family("alertmanager_config_last_reload_successful", "gauge", "Whether the last configuration reload attempt was successful.")
    reload_ok.gauge({}, 1)
    silences = _family("alertmanager_silences", "gauge", "How many silences by state.")
    for state in ("active", "expired", "pending"):
        silences.gauge({"state": state}, rng.randint(0, 5))
    nflog = _family("alertmanager_nflog_queries_total", "counter", "Number of notification log queries were received.")
    nflog.counter({}, 0.1)
    peers = _family("alertmanager_cluster_messages_received_total", "counter", "Total number of cluster messages received.")
    for kind in ("full_state", "update"):
        peers.counter({"msg_type": kind}, 0.2)
    handlers = ("/api/v2/alerts", "/api/v2/silences", "/api/v2/status", "/-/healthy", "/-/ready", "/metrics")
    http = _family("alertmanager_http_request_duration_seconds", "histogram", "Histogram of latencies for HTTP requests.")
    for handler in handlers:
        http.histogram({"handler": handler, "method": "get"}, DEFAULT_BUCKETS, rng.uniform(0.01, 1), 0.005)
    return Payload([*families, alerts, notifications, failed, latency, members, reload_ok, silences, nflog, peers, http])


def config_reloader(seed: str) -> Payload:
    rng = random.Random(seed)
    families = go_process(rng)
    for name, kind in (
        ("reloader_reloads_total", "counter"),
        ("reloader_reloads_failed_total", "counter"),
        ("reloader_config_apply_operations_total", "counter"),
        ("reloader_last_reload_successful", "gauge"),
        ("reloader_last_reload_success_timestamp_seconds", "gauge"),
        ("reloader_watches", "gauge"),
    ):
        family = _family(name, kind, f"config reloader's {name}.")
        (family.counter({}, 0.0001) if kind == "counter" else family.gauge({}, 1.7e9 if "timestamp" in name else 1))
        families.append(family)
    return Payload(families)


def grafana(seed: str) -> Payload:
    rng = random.Random(seed)
    families = go_process(rng)
    duration = _family("grafana_http_request_duration_seconds", "histogram", "Histogram of latencies for HTTP requests.")
    for handler in (
        "/api/dashboards/uid/:uid",
        "/api/ds/query",
        "/api/search",
        "/api/health",
        "/api/user",
        "/api/frontend/settings",
        "/public/*",
        "/login",
        "/metrics",
    ):
        for code in ("200", "304", "401"):
            duration.histogram(
                {"handler": handler, "method": "GET", "status_code": code, "status_source": "server"},
                (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100),
                rng.uniform(0.001, 1),
                0.05,
            )
    stats = []
    for name, value in (
        ("grafana_stat_totals_dashboard", 15),
        ("grafana_stat_total_users", 12),
        ("grafana_stat_total_orgs", 1),
        ("grafana_stat_totals_datasource", 2),
        ("grafana_stat_active_users", 3),
        ("grafana_stat_totals_alert_rules", 0),
    ):
        family = _family(name, "gauge", f"Grafana statistic {name}.")
        family.gauge({} if "datasource" not in name else {"dstype": "prometheus"}, value)
        stats.append(family)
    info = _family(
        "grafana_build_info", "gauge", "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which Grafana was built"
    )
    info.gauge({"branch": "HEAD", "edition": "oss", "goversion": "go1.24.4", "revision": "0", "version": "12.1.0"}, 1)
    return Payload([*families, duration, *stats, info])


def thanos_query(seed: str) -> Payload:
    rng = random.Random(seed)
    families = [*go_process(rng), *_http(rng, "http", ("query", "query_range", "series", "labels", "label_values", "status"), ("handler", "method", "code"))]
    connections = _family("thanos_store_nodes_grpc_connections", "gauge", "Number of gRPC connection to Store APIs.")
    connections.gauge({"external_labels": '{cluster="prod-eu-1"}', "store_type": "sidecar"}, 2)
    started = _family("grpc_client_started_total", "counter", "Total number of RPCs started on the client.")
    handled = _family("grpc_client_handled_total", "counter", "Total number of RPCs completed by the client.")
    for method in ("Series", "LabelNames", "LabelValues", "Info"):
        labels = {"grpc_method": method, "grpc_service": "thanos.Store", "grpc_type": "server_stream" if method == "Series" else "unary"}
        started.counter(labels, rng.uniform(0.01, 1))
        for code in ("OK", "Canceled", "DeadlineExceeded", "Unavailable"):
            handled.counter({**labels, "grpc_code": code}, rng.uniform(0.01, 1) if code == "OK" else 0.0)
    info = _family(
        "thanos_build_info", "gauge", "A metric with a constant '1' value labeled by version, revision, branch, goversion from which thanos was built."
    )
    info.gauge({"branch": "HEAD", "goversion": "go1.24.4", "revision": "0", "version": "0.39.2"}, 1)
    return Payload([*families, connections, started, handled, info])


def aggregated_api_server(seed: str, extra: str) -> Payload:
    """metrics-server or prometheus-adapter: an aggregated API server's request metrics and `extra`'s own."""
    rng = random.Random(seed)
    total = _family("apiserver_request_total", "counter", "Counter of apiserver requests.")
    duration = _family("apiserver_request_duration_seconds", "histogram", "Response latency distribution in seconds.")
    group = "metrics.k8s.io" if extra == "metrics-server" else "custom.metrics.k8s.io"
    for resource in ("pods", "nodes") if extra == "metrics-server" else ("*",):
        for verb in ("GET", "LIST"):
            base = {
                "component": "",
                "dry_run": "",
                "group": group,
                "resource": resource,
                "scope": "cluster",
                "subresource": "",
                "verb": verb,
                "version": "v1beta1",
            }
            total.counter({"code": "200", **base}, rng.uniform(0.01, 1))
            duration.histogram(base, DEFAULT_BUCKETS, rng.uniform(0.01, 1), 0.05)
    families = [*go_process(rng), *rest_client(rng, "10.96.0.1:443"), total, duration]
    if extra == "metrics-server":
        scrape = _family("metrics_server_kubelet_request_duration_seconds", "histogram", "Duration of requests to kubelet API in seconds")
        scrape.histogram({}, DEFAULT_BUCKETS, 0.2, 0.05)
        points = _family("metrics_server_storage_points", "gauge", "Number of metrics points stored.")
        for kind in ("container", "node"):
            points.gauge({"type": kind}, rng.randint(10, 2000))
        families += [scrape, points]
    else:
        queries = _family("prometheus_adapter_prometheus_client_request_duration_seconds", "histogram", "Prometheus client query latency in seconds.")
        queries.histogram({"code": "200", "path": "/api/v1/query"}, DEFAULT_BUCKETS, 0.5, 0.05)
        families.append(queries)
    return Payload(families)
