"""NetworkPolicies: present exactly in the environments that switch them on, never a rule that
admits everyone, exporters open to the stack's Prometheus pods only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from object_sets import LOADER
from stack_strategies import dump, stacks
from test_properties import build, by_environment, examples
from tools import ROOT

from kmc import pipeline
from kmc.check.schema import load_schema
from kmc.components import prometheus_adapter
from kmc.ir import lookup
from kmc.model import Stack

ENVIRONMENTS = sorted(ROOT.glob("golden/*/out/manifests/*")) + sorted(ROOT.glob("charts-out/manifests/*"))


def _objects(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [yaml.load(content, Loader=LOADER) for content in files.values()]


def check_policies(objects: list[dict[str, Any]], values: Any, stack: Stack) -> None:
    """The policies of one environment's objects agree with its values, and admit only what they say
    (Prometheus' also admits the stack's prometheus-adapter, when the adapter queries it)."""
    policies = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "NetworkPolicy"}
    pods = {obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"] for obj in objects if "template" in obj.get("spec", {})}
    if "prometheus-shard-0" in pods:  # sharded: every shard's pods are Prometheus pods
        pods["prometheus"] = pods["prometheus-shard-0"]
    expected = set()
    if lookup(values, "prometheus.networkPolicy.enabled"):
        expected.add("prometheus")
    if lookup(values, "kubeStateMetrics.enabled") and lookup(values, "kubeStateMetrics.networkPolicy.enabled"):
        expected.add("kube-state-metrics")
    if lookup(values, "grafana.enabled") and lookup(values, "grafana.networkPolicy.enabled"):
        expected.add("grafana")
    if lookup(values, "alertmanager.enabled") and lookup(values, "alertmanager.networkPolicy.enabled"):
        expected.add("alertmanager")
    query = "thanos-query" in pods  # Thanos Query's policy follows Prometheus'
    if query and lookup(values, "prometheus.networkPolicy.enabled"):
        expected.add("thanos-query")
    # An exposed UI whose policy is on: one more policy per route kind, admitting the pods that
    # section names (the ingress controller's, the Gateway's) to its web port, or no one.
    exposed = {}
    uis = (("grafana", "grafana.expose", 3000), ("prometheus", "prometheus.expose", 9090), ("alertmanager", "alertmanager.expose", 9093))
    for section, key, port in (*uis, ("thanos-query", "prometheus.thanosQueryExpose", 10902)):
        if section in expected:
            for kind, suffix in (("ingress", "ingress-controller"), ("httpRoute", "gateway")):
                if lookup(values, f"{key}.{kind}.enabled"):
                    peers = lookup(values, f"{key}.{kind}.from")
                    exposed[f"{section}-{suffix}"] = (section, [{"from": peers, "ports": [{"port": port, "protocol": "TCP"}]}] if peers else [])
    assert set(policies) == expected | set(exposed)
    for name, (section, rules) in exposed.items():
        assert policies.pop(name)["spec"] == {**policies[section]["spec"], "ingress": rules}, name
    for name, policy in policies.items():
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress"]
        assert spec["podSelector"]["matchLabels"].items() <= pods[name].items(), "the policy selects its component's pods"
        for rule in spec["ingress"]:
            assert rule["from"] and rule["ports"], f"{name}: a rule without peers or ports admits everyone"
    web = [{"port": 9090, "protocol": "TCP"}]
    adapter = {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus-adapter", "app.kubernetes.io/part-of": "kmc"}}}]}
    # The stack's adapter asks the stack's Prometheus URL: Prometheus, or Thanos Query when there is one.
    own = prometheus_adapter.compiled(stack) and stack.prometheus_adapter.prometheus_url is None
    if "prometheus" in policies:
        peers = lookup(values, "prometheus.networkPolicy.from")
        ingress = policies["prometheus"]["spec"]["ingress"]
        # With Thanos Query: Query, and only Query, reaches the sidecars' Store API.
        store_api = (
            [
                {
                    "from": [{"podSelector": {"matchLabels": policies["thanos-query"]["spec"]["podSelector"]["matchLabels"]}}],
                    "ports": [{"port": 10901, "protocol": "TCP"}],
                }
            ]
            if query
            else []
        )
        mine = [{**adapter, "ports": web}] if own and not query else []
        assert ingress == ([{"from": peers, "ports": web}] if peers else []) + mine + store_api
    if "thanos-query" in policies:
        peers = lookup(values, "prometheus.networkPolicy.from")
        http = [{"port": 10902, "protocol": "TCP"}]
        scrape = {"from": [{"podSelector": {"matchLabels": policies["prometheus"]["spec"]["podSelector"]["matchLabels"]}}], "ports": http}
        mine = [{**adapter, "ports": http}] if own else []
        assert policies["thanos-query"]["spec"]["ingress"] == ([{"from": peers, "ports": http}] if peers else []) + mine + [scrape]
    if "grafana" in policies:
        peers = lookup(values, "grafana.networkPolicy.from")
        http = [{"port": 3000, "protocol": "TCP"}]
        # The stack's Prometheus scrapes Grafana's /metrics, whatever the user lists.
        scrape = {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/part-of": "kmc"}}}], "ports": http}
        assert scrape["from"][0]["podSelector"]["matchLabels"].items() <= pods["prometheus"].items()
        assert policies["grafana"]["spec"]["ingress"] == ([{"from": peers, "ports": http}] if peers else []) + [scrape]
    if "alertmanager" in policies:
        # The web port: the stack's Prometheus (also on its config-reloader's metrics port) and the
        # listed peers; the cluster port: only the other Alertmanagers.
        web, *peer_rules, gossip = policies["alertmanager"]["spec"]["ingress"]
        assert web["ports"] == [{"port": 9093, "protocol": "TCP"}, {"port": 8080, "protocol": "TCP"}] and len(web["from"]) == 1
        assert set(web["from"][0]) == {"podSelector"} and web["from"][0]["podSelector"]["matchLabels"].items() <= pods["prometheus"].items()
        peers = lookup(values, "alertmanager.networkPolicy.from")
        assert peer_rules == ([{"from": peers, "ports": [{"port": 9093, "protocol": "TCP"}]}] if peers else [])
        (peer,) = gossip["from"]
        assert peer["podSelector"]["matchLabels"].items() <= pods["alertmanager"].items()
        assert gossip["ports"] == [{"port": 9094, "protocol": "TCP"}, {"port": 9094, "protocol": "UDP"}]
    if "kube-state-metrics" in policies:
        (rule,) = policies["kube-state-metrics"]["spec"]["ingress"]
        (peer,) = rule["from"]
        assert set(peer) == {"podSelector"} and peer["podSelector"]["matchLabels"].items() <= pods["prometheus"].items()
        assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_golden_policies(env: Path) -> None:
    out = env.parents[1]
    stack_file = ROOT / "stack.yaml" if out.name == "charts-out" else out.parent / "stack.yaml"
    stack = pipeline.compile_stack(stack_file).stack
    files = {path.name: path.read_bytes() for path in sorted(env.glob("*.yaml"))}
    check_policies(_objects(files), stack.values(None if env.name == "default" else env.name), stack)


def test_golden_full_has_every_policy() -> None:
    names = {path.name for path in (ROOT / "golden/full/out/manifests/default").glob("*networkpolicy*")}
    assert names == {
        "15-networkpolicy-alertmanager.yaml",
        "15-networkpolicy-alertmanager-gateway.yaml",
        "15-networkpolicy-alertmanager-ingress-controller.yaml",
        "15-networkpolicy-grafana.yaml",
        "15-networkpolicy-grafana-ingress-controller.yaml",
        "15-networkpolicy-prometheus-gateway.yaml",
        "15-networkpolicy-kube-state-metrics.yaml",
        "15-networkpolicy-prometheus.yaml",
        "15-networkpolicy-thanos-query.yaml",
        "15-networkpolicy-thanos-query-gateway.yaml",
        "15-networkpolicy-thanos-query-ingress-controller.yaml",
    }


def test_golden_full_prometheus_admits_its_grafana() -> None:
    """With both policies on, Grafana's pods must be among Prometheus' peers or its datasource is cut off."""
    env = ROOT / "golden/full/out/manifests/default"
    policy = yaml.safe_load((env / "15-networkpolicy-prometheus.yaml").read_text())
    grafana = yaml.safe_load((env / "12-deployment-grafana.yaml").read_text())["spec"]["template"]["metadata"]["labels"]
    peers = policy["spec"]["ingress"][0]["from"]
    assert any(set(peer) == {"podSelector"} and peer["podSelector"]["matchLabels"].items() <= grafana.items() for peer in peers)


@examples(25)
@given(stacks())
def test_generated_policies(doc: dict[str, Any]) -> None:
    envs = by_environment(build(doc))
    stack = Stack.from_data(load_schema(), doc)
    for env, files in envs.items():
        check_policies(_objects(files), stack.values(None if env == "default" else env), stack)


NODE_PORT = """version: 1
prometheus:
  service: {type: NodePort}
  networkPolicy:
    enabled: true
    from: [{namespaceSelector: {}}]
environments:
  dev: {prometheus: {retention: 2d}}
  lab: {prometheus: {networkPolicy: {from: [{ipBlock: {cidr: 10.0.0.0/8}}]}}}
  qa: {prometheus: {service: {type: ClusterIP}}}
  edge: {prometheus: {networkPolicy: {from: []}}}
"""


def test_a_closed_node_port_is_warned_about_once_per_place(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(NODE_PORT)
    warnings = pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml").warnings
    assert [(w.line, w.path, w.message) for w in warnings] == [
        (5, "$.prometheus.networkPolicy", "Prometheus' Service is a NodePort, but its NetworkPolicy admits no IP block"),
        (
            11,
            "$.environments.edge.prometheus.networkPolicy",
            "Prometheus' Service is a NodePort, but its NetworkPolicy admits no IP block in environment 'edge'",
        ),
    ]
    assert all(w.severity == "warning" for w in warnings)


def test_the_node_port_example_builds(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_bytes(dump(yaml.safe_load(NODE_PORT)))
    compiled = pipeline.compile_stack(tmp_path / "stack.yaml")
    assert {obj.name for obj in compiled.graph.objects if obj.kind == "NetworkPolicy"} == {"prometheus"}


CLOSED_TO_GRAFANA = """version: 1
prometheus:
  networkPolicy: {enabled: true, from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: grafana}}}]}
grafana: {enabled: true}
environments:
  dev: {prometheus: {retention: 2d}}
  lab: {prometheus: {networkPolicy: {from: [{podSelector: {matchLabels: {app.kubernetes.io/name: grafana}}}]}}}
  edge: {prometheus: {networkPolicy: {from: [{namespaceSelector: {}}]}}}
  other: {prometheus: {networkPolicy: {from: [{podSelector: {matchLabels: {app: other}}}]}}}
"""


def test_a_prometheus_closed_to_the_stacks_grafana_is_warned_about_once_per_place(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(CLOSED_TO_GRAFANA)
    warnings = pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml").warnings
    # dev inherits the stack's policy (reported there); lab admits Grafana's pods, edge every pod.
    assert [(w.line, w.path, w.message, w.severity) for w in warnings] == [
        (3, "$.prometheus.networkPolicy", "Prometheus' NetworkPolicy does not admit the stack's Grafana", "warning"),
        (9, "$.environments.other.prometheus.networkPolicy", "Prometheus' NetworkPolicy does not admit the stack's Grafana in environment 'other'", "warning"),
    ]
