"""Imported monitors, run by a real Prometheus (2.53 and 3.x) against the Kubernetes API stub.

A stack imports a ServiceMonitor (label and set-based selector, `jobLabel`, `targetLabels`,
`podTargetLabels`, a named port), a second ServiceMonitor whose endpoint is a `targetPort` and
whose target only answers the bearer token of a Secret (`authorization`), a PodMonitor with a
`NotIn` expression, a Probe of a static URL through a prober and a Probe of the Ingresses
labelled for probing. The Service and the pods the
monitors select are annotated for kmc's annotation jobs too (the checkout pod on the very port
its ServiceMonitor scrapes; its Service is in the monitor file, as in a rendered chart): those
jobs must leave them to the monitors, so each is scraped once. A plain annotated pod shows the annotation jobs still work.

The expected labels are written from the Prometheus Operator's documentation of what its
generated configuration gives a target (API reference of ServiceMonitor/PodMonitor/Probe,
docs "Monitoring with ServiceMonitors"): `job` is the Service's name, or the value of its
`jobLabel` label; a PodMonitor's job is `<namespace>/<name>`; `namespace`, `service`, `pod`,
`container` and `endpoint` (the port's name) come from discovery; `instance` is the address; a
Probe's target is its `instance` and the prober's `target` parameter, with `namespace` and the
static labels.

The one rewrite of the compiled prometheus.yml besides `api_server` (see test_prometheus_e2e):
the Secret files under kmc's monitor Secrets directory are read from a temporary directory that
holds them as the kubelet would mount them.
"""

from __future__ import annotations

import contextlib
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_api_stub import KubeApiStub
from kube_objects import endpoints_for, pod, service
from local_processes import MetricsServer, wait_for
from test_prometheus_e2e import FAST, POD_LOCAL, PROMETHEUS, TIMEOUT, _describe, _labels, active, built_objects, pointed_at, running_prometheus, settled
from tools import tool

from kmc.components.monitor_jobs import SECRETS_DIR

pytestmark = pytest.mark.slow
TOKEN = "s3cret-scrape-token"
OFF = {"enabled": False}
STACK = {
    "version": 1,
    "namespace": "monitoring",
    **FAST,
    "nodeExporter": OFF,
    "kubeStateMetrics": OFF,
    "scrape": {
        **FAST["scrape"],
        "kubernetes": {name: OFF for name in ("apiserver", "kubelet", "cadvisor", "controllerManager", "scheduler", "kubeProxy", "coredns", "etcd")},
    },
    "monitors": {"files": ["monitors/"]},
}


def _monitors(prober: MetricsServer) -> list[dict[str, Any]]:
    v1 = "monitoring.coreos.com/v1"
    return [
        {
            "apiVersion": v1,
            "kind": "ServiceMonitor",
            "metadata": {"name": "checkout", "namespace": "shop"},
            "spec": {
                "jobLabel": "app.kubernetes.io/name",
                "selector": {
                    "matchLabels": {"app.kubernetes.io/name": "checkout"},
                    "matchExpressions": [{"key": "team", "operator": "In", "values": ["payments"]}],
                },
                "targetLabels": ["team"],
                "podTargetLabels": ["version"],
                "endpoints": [{"port": "metrics", "interval": "1s", "scrapeTimeout": "1s"}],
            },
        },
        {
            "apiVersion": v1,
            "kind": "ServiceMonitor",
            "metadata": {"name": "secure", "namespace": "shop"},
            "spec": {
                "selector": {"matchLabels": {"app": "secure"}},
                "endpoints": [{"targetPort": "metrics", "interval": "1s", "authorization": {"credentials": {"name": "secure-scrape", "key": "token"}}}],
            },
        },
        {
            "apiVersion": v1,
            "kind": "PodMonitor",
            "metadata": {"name": "worker", "namespace": "jobs"},
            "spec": {
                "selector": {"matchLabels": {"app": "worker"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["frontend"]}]},
                "podMetricsEndpoints": [{"port": "metrics", "interval": "1s"}],
            },
        },
        {
            "apiVersion": v1,
            "kind": "Probe",
            "metadata": {"name": "website", "namespace": "monitoring"},
            "spec": {
                "jobName": "blackbox",
                "interval": "1s",
                "module": "http_2xx",
                "prober": {"url": prober.address, "path": "/probe"},
                "targets": {"staticConfig": {"static": ["https://shop.example.com"], "labels": {"site": "shop"}}},
            },
        },
        {
            "apiVersion": v1,
            "kind": "Probe",
            "metadata": {"name": "ingresses", "namespace": "monitoring"},
            "spec": {
                "interval": "1s",
                "module": "http_2xx",
                "prober": {"url": prober.address},
                "targets": {"ingress": {"selector": {"matchLabels": {"probe": "true"}}, "namespaceSelector": {"any": True}}},
            },
        },
    ]


def _ingress(namespace: str, name: str, host: str, labels: dict[str, str]) -> dict[str, Any]:
    rule = {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"rules": [rule]},
    }


def test_real_prometheus_scrapes_each_monitor_target_once_with_the_operators_labels(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        servers: dict[str, MetricsServer] = {}

        def serve(key: str, host: str, path: str = "/metrics", token: str | None = None) -> MetricsServer:
            server = MetricsServer(host, path, token=token)
            stack.callback(server.stop)
            servers[key] = server
            return server

        checkout, checkout_http = serve("shop/checkout-0", "127.0.0.30"), serve("shop/checkout-0:http", "127.0.0.30", "/")
        secure = serve("shop/secure-0", "127.0.0.31", token=TOKEN)
        worker, frontend = serve("jobs/worker-0", "127.0.0.32"), serve("jobs/worker-fe", "127.0.0.33")
        plain = serve("apps/plain", "127.0.0.34")
        prober = serve("monitoring/prober", "127.0.0.35", "/probe")
        scrape = {"prometheus.io/scrape": "true"}

        checkout_service = service(
            "shop",
            "checkout",
            ports={"http": (80, "http"), "metrics": (9102, "metrics")},
            selector={"app.kubernetes.io/name": "checkout"},
            labels={"app.kubernetes.io/name": "checkout", "team": "payments"},
            annotations=scrape,
        )
        work = tmp_path / "stack"
        (work / "monitors").mkdir(parents=True)
        # As a rendered chart has it: the Service beside its ServiceMonitor.
        (work / "monitors" / "app.yaml").write_text(yaml.safe_dump_all([checkout_service, *_monitors(prober)]), encoding="utf-8")
        objects = built_objects(STACK, work)
        config = yaml.safe_load(objects[("ConfigMap", "prometheus")]["data"]["prometheus.yml"])
        secrets = tmp_path / "secrets"
        (secrets / "secure-scrape").mkdir(parents=True)
        (secrets / "secure-scrape" / "token").write_text(TOKEN, encoding="utf-8")
        text = yaml.safe_dump(config).replace(SECRETS_DIR, str(secrets))

        cluster = [
            pod(
                "shop",
                "checkout-0",
                ip=checkout.host,
                containers={"app": {"http": checkout_http.port, "metrics": checkout.port}},
                labels={"app.kubernetes.io/name": "checkout", "version": "v3"},
                # Annotated itself too, on the port the ServiceMonitor scrapes: still one target.
                annotations={**scrape, "prometheus.io/port": str(checkout.port)},
            ),
            checkout_service,
            pod("shop", "secure-0", ip=secure.host, containers={"app": {"metrics": secure.port}}, labels={"app": "secure"}),
            service("shop", "secure", ports={"web": (8443, "metrics")}, selector={"app": "secure"}, labels={"app": "secure"}),
            pod(
                "jobs",
                "worker-0",
                ip=worker.host,
                containers={"worker": {"metrics": worker.port}},
                labels={"app": "worker", "tier": "backend"},
                annotations=scrape,
            ),
            pod("jobs", "worker-fe", ip=frontend.host, containers={"worker": {"metrics": frontend.port}}, labels={"app": "worker", "tier": "frontend"}),
            pod("apps", "plain", ip=plain.host, containers={"app": {"metrics": plain.port}}, annotations=scrape),
            _ingress("shop", "storefront", "shop.example.com", {"probe": "true"}),
            _ingress("shop", "admin", "admin.example.com", {}),
        ]
        cluster += endpoints_for(cluster)
        expected = {
            *POD_LOCAL,
            (
                "serviceMonitor/shop/checkout/0",
                _labels(
                    job="checkout",
                    instance=checkout.address,
                    namespace="shop",
                    service="checkout",
                    pod="checkout-0",
                    container="app",
                    endpoint="metrics",
                    team="payments",
                    version="v3",
                ),
            ),
            (
                "serviceMonitor/shop/secure/0",
                _labels(job="secure", instance=secure.address, namespace="shop", service="secure", pod="secure-0", container="app", endpoint="metrics"),
            ),
            (
                "podMonitor/jobs/worker/0",
                _labels(job="jobs/worker", instance=worker.address, namespace="jobs", pod="worker-0", container="worker", endpoint="metrics"),
            ),
            ("probe/monitoring/website", _labels(job="blackbox", instance="https://shop.example.com", namespace="monitoring", site="shop")),
            (
                "probe/monitoring/ingresses",
                _labels(job="probe/monitoring/ingresses", instance="http://shop.example.com/", namespace="shop", ingress="storefront"),
            ),
            ("kubernetes-pods", _labels(job="kubernetes-pods", instance=plain.address, namespace="apps", pod="plain", node="node-1")),
        }
        for version in sorted(PROMETHEUS):
            for server in servers.values():
                server.forget()
            with (
                KubeApiStub(cluster) as api,
                running_prometheus(tool(PROMETHEUS[version]), pointed_at(yaml.safe_load(text), api.url), tmp_path / version) as prometheus,
            ):
                wait_for(f"the monitors' targets ({version})", partial(settled, prometheus, expected), TIMEOUT, 0.25, partial(_describe, prometheus, expected))
                assert sorted(active(prometheus)) == sorted(expected), f"{version}: a target twice"
                urls = [target["scrapeUrl"] for target in prometheus.active_targets()]
                assert len(urls) == len(set(urls)), f"{version}: a scrape URL in two jobs"
            assert not checkout_http.seen() and not frontend.seen(), f"{version}: a port or pod no monitor selects was scraped"
            assert secure.refused == 0 and secure.seen(), f"{version}: the token from the Secret file reached the target"
            asked = {(path, tuple(query["target"]), tuple(query["module"])) for path, query in prober.seen()}
            assert asked == {("/probe", ("https://shop.example.com",), ("http_2xx",)), ("/probe", ("http://shop.example.com/",), ("http_2xx",))}
