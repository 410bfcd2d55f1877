"""Exposure of the UIs (kmc.components.exposure, kmc.check.exposure): the Ingress and HTTPRoute
of each environment, the URL and prefix flags, the located errors and warnings."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from stack_diagnostics import diagnostics
from test_properties import build, by_environment
from tools import HELMS, tool

from kmc import pipeline
from kmc.check.schema import load_schema
from kmc.components.prerequisites import commands, for_values, needs
from kmc.model import Stack

EXPOSED = """version: 1
grafana:
  enabled: true
  service: {port: 80}
  expose:
    host: grafana.example.com
    path: /grafana
    tls: {secretName: grafana-tls, issuer: internal-ca}
    ingress: {enabled: true, className: nginx}
alertmanager:
  enabled: true
  route: {receiver: hook}
  receivers: [{name: hook, webhookConfigs: [{url: {secretName: am, key: url}}]}]
  expose:
    host: alerts.example.com
    httpRoute: {enabled: true, parentRefs: [{name: public, namespace: gateways}]}
environments:
  dev:
    grafana: {expose: {host: grafana.dev.example.com, ingress: {className: traefik}}}
    alertmanager: {expose: {httpRoute: {enabled: false}}}
  lab:
    grafana: {expose: {ingress: {enabled: false}}}
"""


def _objects(files: dict[str, bytes]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for content in files.values():
        obj = yaml.safe_load(content)
        found[(obj["kind"], obj["metadata"]["name"])] = obj
    return found


def test_each_environment_gets_its_routes_hosts_and_urls() -> None:
    envs = {env: _objects(files) for env, files in by_environment(build(yaml.safe_load(EXPOSED))).items()}
    default, dev, lab = envs["default"], envs["dev"], envs["lab"]
    ingress = default[("Ingress", "grafana")]
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/issuer": "internal-ca"}
    assert ingress["spec"] == {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": "grafana.example.com",
                "http": {"paths": [{"path": "/grafana", "pathType": "Prefix", "backend": {"service": {"name": "grafana", "port": {"number": 80}}}}]},
            }
        ],
        "tls": [{"hosts": ["grafana.example.com"], "secretName": "grafana-tls"}],
    }
    assert dev[("Ingress", "grafana")]["spec"]["ingressClassName"] == "traefik"
    assert dev[("Ingress", "grafana")]["spec"]["tls"][0]["hosts"] == ["grafana.dev.example.com"]
    assert ("Ingress", "grafana") not in lab
    assert default[("Service", "grafana")]["spec"]["ports"][0]["port"] == 80
    route = default[("HTTPRoute", "alertmanager")]["spec"]
    assert route == {
        "parentRefs": [{"name": "public", "namespace": "gateways"}],
        "hostnames": ["alerts.example.com"],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": "alertmanager", "port": 9093}]}],
    }
    assert ("HTTPRoute", "alertmanager") not in dev
    # Grafana's public URL by environment variables (grafana.ini's ConfigMap is the same everywhere).
    env = {item["name"]: item.get("value") for item in dev[("Deployment", "grafana")]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GF_SERVER_ROOT_URL"] == "https://grafana.dev.example.com/grafana/" and env["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true"
    args = default[("StatefulSet", "alertmanager")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--web.external-url=https://alerts.example.com/" in args and not any(arg.startswith("--web.route-prefix") for arg in args)
    # Prometheus has no host: no external URL, nothing exposed.
    prom_args = default[("Deployment", "prometheus")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not any(arg.startswith(("--web.external-url", "--web.route-prefix")) for arg in prom_args)


def test_prerequisites_of_exposure_follow_the_environment() -> None:
    stack = Stack.from_data(load_schema(), yaml.safe_load(EXPOSED))
    found = needs(stack, keys_in_output=False)
    refs = {env: [item.ref for item in for_values(found, stack.values(env)) if item.kind != "Secret"] for env in (None, "dev", "lab")}
    assert refs[None] == [
        "CustomResourceDefinition certificates.cert-manager.io",
        "CustomResourceDefinition httproutes.gateway.networking.k8s.io",
        "Issuer monitoring/internal-ca",
        "Gateway gateways/public",
        "IngressClass nginx",
    ]
    assert refs["dev"] == ["CustomResourceDefinition certificates.cert-manager.io", "Issuer monitoring/internal-ca", "IngressClass traefik"]
    assert refs["lab"] == ["CustomResourceDefinition httproutes.gateway.networking.k8s.io", "Gateway gateways/public"]
    (crd,) = [item for item in for_values(found, stack.values("lab")) if item.kind == "CustomResourceDefinition"]
    assert commands(crd, str(crd.name)) == ("install the Gateway API's CRDs and a Gateway controller (https://gateway-api.sigs.k8s.io/guides/)",)


def test_a_tls_secret_of_yours_is_a_prerequisite(tmp_path: Path) -> None:
    text = EXPOSED.replace("tls: {secretName: grafana-tls, issuer: internal-ca}", "tls: {secretName: grafana-tls}")
    stack = Stack.from_data(load_schema(), yaml.safe_load(text))
    (secret,) = [item for item in for_values(needs(stack, keys_in_output=False), stack.values(None)) if item.ref == "Secret monitoring/grafana-tls"]
    assert secret.keys == ("tls.crt", "tls.key")
    assert commands(secret, "grafana-tls") == ("kubectl -n monitoring create secret tls grafana-tls --cert=... --key=...",)


BAD = """version: 1
prometheus:
  expose:
    ingress: {enabled: true}
grafana:
  enabled: true
  ini: {server: {root_url: "https://old.example.com/"}}
  expose:
    host: grafana.example.com
    path: /grafana
    httpRoute: {enabled: true}
environments:
  dev:
    prometheus: {service: {port: 80}}
    grafana: {expose: {path: /g, tls: {secretName: other}}}
"""


def test_exposure_errors_are_located(tmp_path: Path) -> None:
    found = [(line, column, path, message) for severity, line, column, path, message, _ in diagnostics(tmp_path, BAD) if severity == "error"]
    # Each once, where it is written: dev's Prometheus and Grafana expose as the stack's own.
    assert found == [
        (4, 24, "$.prometheus.expose.ingress.enabled", "Prometheus has an Ingress but no expose.host"),
        (4, 24, "$.prometheus.expose.ingress.enabled", "Prometheus' Ingress has no TLS"),
        (7, 28, "$.grafana.ini.server.root_url", "grafana.ini sets server.root_url, and grafana.expose sets it too"),
        (11, 26, "$.grafana.expose.httpRoute.enabled", "Grafana's HTTPRoute names no Gateway"),
        (14, 34, "$.environments.dev.prometheus.service.port", "environment 'dev' sets prometheus.service.port, which is the same in every environment"),
        (15, 30, "$.environments.dev.grafana.expose.path", "environment 'dev' sets grafana.expose.path, which is the same in every environment"),
        (15, 39, "$.environments.dev.grafana.expose.tls", "environment 'dev' sets grafana.expose.tls, which is the same in every environment"),
    ]


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ("ingress: {enabled: true, from: [{}]}", "$.grafana.expose.ingress.from[0]", "the Kubernetes API rejects an empty peer"),
        ("path: grafana", "$.grafana.expose.path", "'grafana' is not of the expected form"),
        ("path: /grafana/", "$.grafana.expose.path", "'/grafana/' is not of the expected form"),
        ("tls: {secretName: x, issuer: a, clusterIssuer: b}", "$.grafana.expose.tls", "expose.tls names both a clusterIssuer and an issuer"),
        ("ingres: {enabled: true}", "$.grafana.expose.ingres", "unknown key 'ingres'"),
        ("httpRoute: {enabled: true, parentRefs: [{namespace: x}]}", "$.grafana.expose.httpRoute.parentRefs[0]", "name"),
    ],
)
def test_bad_expose_values_are_located(tmp_path: Path, change: str, path: str, message: str) -> None:
    tls = "" if change.startswith("tls") else "    tls: {secretName: g}\n"
    text = f"version: 1\ngrafana:\n  enabled: true\n  expose:\n    host: g.example.com\n{tls}    {change}\n"
    found = [(where, said) for severity, _, _, where, said, _ in diagnostics(tmp_path, text) if severity == "error"]
    assert any(where == path and message in said for where, said in found), found


def test_a_policy_that_drops_the_ingress_controller_is_warned_about(tmp_path: Path) -> None:
    text = """version: 1
grafana:
  enabled: true
  networkPolicy: {enabled: true}
  expose:
    host: g.example.com
    tls: {secretName: g}
    ingress: {enabled: true}
environments:
  named:
    grafana: {expose: {ingress: {from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]}}}
  open:
    grafana: {networkPolicy: {enabled: false}}
"""
    found = [(line, path, message) for severity, line, _, path, message, _ in diagnostics(tmp_path, text) if severity == "warning"]
    assert found == [(8, "$.grafana.expose.ingress", "Grafana's NetworkPolicy will drop the traffic of an Ingress's ingress controller")]


THANOS = """version: 1
prometheus:
  ha: {enabled: true}
  thanos: {sidecar: {enabled: true}, query: {enabled: true}}
  networkPolicy: {enabled: true}
  thanosQueryExpose:
    host: thanos.example.com
    tls: {secretName: thanos-tls, clusterIssuer: letsencrypt}
    ingress:
      enabled: true
      className: nginx
      from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
    httpRoute: {enabled: true, parentRefs: [{name: public, namespace: gateways}]}
environments:
  dev:
    prometheus: {thanosQueryExpose: {host: thanos.dev.example.com, httpRoute: {enabled: false}}}
"""


def test_thanos_query_is_exposed_at_the_root_of_its_own_host() -> None:
    envs = {env: _objects(files) for env, files in by_environment(build(yaml.safe_load(THANOS))).items()}
    default, dev = envs["default"], envs["dev"]
    ingress = default[("Ingress", "thanos-query")]
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    backend = {"service": {"name": "thanos-query", "port": {"number": 10902}}}
    assert ingress["spec"] == {
        "ingressClassName": "nginx",
        "rules": [{"host": "thanos.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}],
        "tls": [{"hosts": ["thanos.example.com"], "secretName": "thanos-tls"}],
    }
    assert default[("Service", "thanos-query")]["spec"]["ports"][0]["port"] == 10902
    assert default[("HTTPRoute", "thanos-query")]["spec"] == {
        "parentRefs": [{"name": "public", "namespace": "gateways"}],
        "hostnames": ["thanos.example.com"],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": "thanos-query", "port": 10902}]}],
    }
    assert dev[("Ingress", "thanos-query")]["spec"]["rules"][0]["host"] == "thanos.dev.example.com"
    assert ("HTTPRoute", "thanos-query") not in dev
    # Query's NetworkPolicy follows Prometheus': the controller's pods are admitted to its web port.
    policy = default[("NetworkPolicy", "thanos-query-ingress-controller")]["spec"]
    assert policy["podSelector"] == default[("NetworkPolicy", "thanos-query")]["spec"]["podSelector"]
    assert policy["ingress"] == [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}], "ports": [{"port": 10902, "protocol": "TCP"}]}
    ]
    assert ("NetworkPolicy", "thanos-query-gateway") in default  # no `from`: warned about, below
    stack = Stack.from_data(load_schema(), yaml.safe_load(THANOS))
    refs = [item.ref for item in for_values(needs(stack, keys_in_output=False), stack.values(None))]
    assert {"ClusterIssuer letsencrypt", "IngressClass nginx", "Gateway gateways/public"} <= set(refs)


def test_thanos_query_exposure_is_located(tmp_path: Path) -> None:
    found = [(severity, line, path, message) for severity, line, _, path, message, _ in diagnostics(tmp_path, THANOS)]
    assert found == [
        ("warning", 13, "$.prometheus.thanosQueryExpose.httpRoute", "Thanos Query's NetworkPolicy will drop the traffic of an HTTPRoute's Gateway")
    ]
    text = THANOS.replace("    host: thanos.example.com\n", "    host: thanos.example.com\n    path: /thanos\n")
    found = [(severity, line, path, message) for severity, line, _, path, message, _ in diagnostics(tmp_path, text)]
    assert found == [
        ("error", 8, "$.prometheus.thanosQueryExpose.path", "Thanos Query is served at the root only, and prometheus.thanosQueryExpose.path is '/thanos'")
    ]
    (hint,) = [hint for *_, hint in diagnostics(tmp_path, text)]
    assert "serve it on its own host" in hint
    off = "version: 1\nprometheus:\n  thanosQueryExpose: {host: t.example.com, httpRoute: {enabled: true, parentRefs: [{name: p}]}}\n"
    found = [(line, path, message) for severity, line, _, path, message, _ in diagnostics(tmp_path, off) if severity == "error"]
    assert found == [
        (
            3,
            "$.prometheus.thanosQueryExpose.httpRoute.enabled",
            "prometheus.thanosQueryExpose.httpRoute asks for an HTTPRoute of Thanos Query, which the stack does not run",
        )
    ]


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_a_host_with_no_route_switched_on_gives_a_chart_that_renders(tmp_path: Path, helm_name: str) -> None:
    """A host named, but no Ingress or HTTPRoute on anywhere: no object reads the host, so the
    chart's values do not hold it, and NOTES must not print a URL from it (Helm stops on a nil value)."""
    (tmp_path / "stack.yaml").write_text(
        "version: 1\nprometheus:\n  thanos: {sidecar: {enabled: true}, query: {enabled: true}}\n"
        "  thanosQueryExpose: {host: thanos.example.com, tls: {secretName: thanos-tls}}\n",
        encoding="utf-8",
    )
    pipeline.build(tmp_path / "stack.yaml", tmp_path / "out", ("helm",), None)
    (chart,) = (tmp_path / "out/helm").iterdir()
    for command in (["lint", "--strict"], ["template", "release"]):
        result = subprocess.run([tool(HELMS[helm_name]), *command, str(chart)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
