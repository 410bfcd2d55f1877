"""Every pod kmc emits can start and every rollout can finish, once the declared prerequisites exist.

Over every environment of every golden stack and of generated stacks: the manifests as emitted
(with the prerequisites of the manifests tree), and the Helm chart's objects (no Secret holding
a private key, so the prerequisites of a chart). The rules and their upstream sources are in
`startability`; the checker's own tests come last, each rule shown failing once.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from local_processes import Process, free_port, http_get, wait_for
from stack_diagnostics import diagnostics
from stack_strategies import stacks
from startability import drains, fenceposts, problems, rollout
from test_properties import examples, stack_file
from tools import ROOT, TOOLS, tool

from kmc import pipeline
from kmc.check import scheduling
from kmc.components import metrics_server
from kmc.components.prerequisites import PRIVILEGED, Prerequisite
from kmc.emitters.manifests import DEFAULT_ENV
from kmc.ir import resolve

CASES = sorted(path.parent.name for path in ROOT.glob("golden/*/stack.yaml"))
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _compiled(case: str) -> pipeline.Compiled:
    return pipeline.compile_stack(ROOT / "golden" / case / "stack.yaml", certificates="read")


def _manifests(compiled: pipeline.Compiled) -> dict[str, list[dict[str, Any]]]:
    """Each environment's objects, read back from the emitted manifests."""
    envs: dict[str, list[dict[str, Any]]] = {}
    for path, content in sorted(pipeline.emit(compiled, ("manifests",), None)["manifests"].items()):
        env, name = path.split("/", 1)
        if name.endswith(".yaml"):
            envs.setdefault(env, []).append(yaml.load(content, Loader=LOADER))
    return envs


def _chart_objects(compiled: pipeline.Compiled, env: str) -> list[dict[str, Any]]:
    """What the Helm chart renders for `env`: the objects switched on, none holding a private key."""
    values = compiled.stack.values(None if env == DEFAULT_ENV else env)
    return [resolve(obj.body, values) for obj in compiled.graph.objects if obj.switched_on(values) and not obj.private]


def _assert_startable(compiled: pipeline.Compiled, label: str) -> None:
    manifests = pipeline.prerequisites(compiled.stack, "manifests")
    chart = pipeline.prerequisites(compiled.stack, "helm")
    for env, objects in _manifests(compiled).items():
        assert problems(objects, manifests[env]) == [], f"{label}, manifests of {env}"
        assert problems(_chart_objects(compiled, env), chart[env]) == [], f"{label}, chart with values of {env}"


@pytest.mark.parametrize("case", CASES)
def test_golden_pods_start_and_roll(case: str) -> None:
    _assert_startable(_compiled(case), f"golden/{case}")


def test_the_repository_stack_pods_start_and_roll() -> None:
    _assert_startable(pipeline.compile_stack(ROOT / "stack.yaml", certificates="read"), "stack.yaml")


@examples(25)
@given(stacks())
def test_generated_pods_start_and_roll(doc: dict[str, Any]) -> None:
    with stack_file(doc) as path:
        compiled = pipeline.compile_stack(path, "stack.yaml")
    _assert_startable(compiled, "generated stack")


# -- the fixes the check demanded ---------------------------------------------------------------


def test_metrics_server_ha_rolls_out_on_as_many_nodes_as_replicas() -> None:
    """metrics-server's HA pods refuse to share a node. Upstream's high-availability manifest
    (kubernetes-sigs/metrics-server v0.8.1, manifests/components/high-availability/patch.yaml)
    sets `maxUnavailable: 1` for this reason; kmc's old `maxSurge: 1, maxUnavailable: 0` waited
    forever for a node for the surge pod."""
    deployment = next(obj for obj in _manifests(_compiled("full"))["default"] if obj["kind"] == "Deployment" and obj["metadata"]["name"] == metrics_server.NAME)
    strategy = deployment["spec"]["strategy"]
    for replicas in range(2, 7):
        assert rollout(strategy, replicas, nodes=replicas, one_per_node=True), replicas
        assert not rollout({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, replicas, nodes=replicas, one_per_node=True)
        assert rollout({"rollingUpdate": {"maxUnavailable": 1}}, replicas, nodes=replicas, one_per_node=True)  # upstream's


def test_sharded_prometheus_has_a_governing_service_per_shard() -> None:
    objects = _manifests(_compiled("sharded"))["default"]
    sets = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "StatefulSet"}
    services = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "Service"}
    assert sets, "golden/sharded keeps its data on volumes"
    for name, workload in sets.items():
        governing = services[workload["spec"]["serviceName"]]
        assert governing["metadata"]["name"] == f"{name}-headless" and governing["spec"]["clusterIP"] == "None"
        assert governing["spec"]["selector"] == workload["spec"]["selector"]["matchLabels"]


def test_node_exporter_mounts_the_bus_directory_and_starts_without_a_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The systemd collector of node-exporter v1.9.1 (collector/systemd_linux.go,
    `newSystemdDbusConn`) connects through go-systemd v22.5.0's `dbus.NewWithContext` to
    godbus v5.1.0's `SystemBusPrivate`: `$DBUS_SYSTEM_BUS_ADDRESS`, else
    `unix:path=/var/run/dbus/system_bus_socket` (conn_unix.go), on every scrape. So the pod
    mounts that socket's directory, made where missing, and a node without a bus runs the
    exporter with only that collector failing, as the real binary shows."""
    daemon_set = next(obj for obj in _manifests(_compiled("full"))["default"] if obj["kind"] == "DaemonSet")
    spec = daemon_set["spec"]["template"]["spec"]
    (dbus,) = [volume for volume in spec["volumes"] if volume["name"] == "dbus"]
    assert dbus["hostPath"] == {"path": "/var/run/dbus", "type": "DirectoryOrCreate"}
    (mount,) = [mount for mount in spec["containers"][0]["volumeMounts"] if mount["name"] == "dbus"]
    assert mount == {"mountPath": "/var/run/dbus", "name": "dbus", "readOnly": True}
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/run/dbus/system_bus_socket")  # a node without a bus
    address = f"127.0.0.1:{free_port()}"
    exporter = Process([tool(TOOLS / "node-exporter" / "prometheus-node-exporter"), f"--web.listen-address={address}", "--collector.systemd"], tmp_path / "log")
    try:
        wait_for("node-exporter", lambda: http_get(f"http://{address}/metrics")[0] == 200, 30, describe=exporter.tail)
        metrics = http_get(f"http://{address}/metrics")[1].decode()
    finally:
        exporter.stop()
    assert 'node_scrape_collector_success{collector="systemd"} 0' in metrics
    assert 'node_scrape_collector_success{collector="cpu"} 1' in metrics


def test_no_container_mounts_inside_a_read_only_mount() -> None:
    """Prometheus' and Alertmanager's Secrets sit beside their config directory, not in it."""
    for case in CASES:
        for objects in _manifests(_compiled(case)).values():
            for obj in objects:
                for container in obj["spec"]["template"]["spec"]["containers"] if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet") else []:
                    paths = [mount["mountPath"] for mount in container.get("volumeMounts", [])]
                    assert not [(a, b) for a in paths for b in paths if b.startswith(a + "/")], (case, obj["metadata"]["name"])


# -- node drains under a PodDisruptionBudget -------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "replicas", "one_per_node", "finishes"),
    [
        ({"maxUnavailable": 1}, 2, True, True),  # kmc's default: one pod at a time
        ({"maxUnavailable": 1}, 3, False, True),
        ({"minAvailable": 1}, 2, True, True),
        ({"minAvailable": 2}, 2, True, False),  # minAvailable == replicas: no eviction ever passes
        ({"minAvailable": 2}, 2, False, False),
        ({"minAvailable": 3}, 2, False, False),
        ({"minAvailable": "100%"}, 3, True, False),
        ({"minAvailable": "60%"}, 3, True, True),  # 1.8 rounds up to 2, below 3
        ({"minAvailable": "67%"}, 3, True, False),  # 2.01 rounds up to 3
        ({"maxUnavailable": "1%"}, 5, True, True),  # rounds up to 1
        ({"maxUnavailable": 0}, 2, True, False),
        ({"minAvailable": 1}, 1, False, False),  # one pod, at least one up: the drain of its node waits
        ({"maxUnavailable": 1}, 1, False, True),
    ],
)
def test_drains_under_a_disruption_budget(budget: dict[str, Any], replicas: int, one_per_node: bool, finishes: bool) -> None:
    assert drains(budget, replicas, max(replicas, 2), one_per_node) is finishes


@given(
    replicas=st.integers(1, 7),
    budget=st.one_of(
        st.fixed_dictionaries({"minAvailable": st.one_of(st.integers(1, 8), st.integers(1, 100).map(lambda share: f"{share}%"))}),
        st.fixed_dictionaries({"maxUnavailable": st.one_of(st.integers(1, 8), st.integers(1, 100).map(lambda share: f"{share}%"))}),
    ),
    one_per_node=st.booleans(),
)
def test_kmc_refuses_exactly_the_budgets_that_hold_a_drain_forever(replicas: int, budget: dict[str, Any], one_per_node: bool) -> None:
    """kmc.check.scheduling's compile-time rule agrees with the eviction model, with and without kmc's one-pod-per-node anti-affinity."""
    assert (scheduling.disruptions_allowed(budget, replicas) > 0) is drains(budget, replicas, max(replicas, 2), one_per_node)


def test_a_budget_at_the_replicas_is_refused_where_it_is_written(tmp_path: Path) -> None:
    text = (
        "version: 1\n"
        "metricsServer: {enabled: true, replicas: 2, podDisruptionBudget: {minAvailable: 2}}\n"
        "environments:\n"
        "  prod:\n"
        "    prometheus: {replicas: 3, podDisruptionBudget: {minAvailable: '100%'}}\n"
        "  dev:\n"
        "    metricsServer: {podDisruptionBudget: {enabled: false}}\n"
    )
    assert diagnostics(tmp_path, text) == [
        (
            "error",
            2,
            81,
            "$.metricsServer.podDisruptionBudget.minAvailable",
            "the PodDisruptionBudget of metricsServer.replicas (minAvailable 2 of 2 replicas in the stack) lets no eviction through: a node drain would wait forever",
            "keep minAvailable below the replicas, or use maxUnavailable; or set metricsServer.podDisruptionBudget.enabled: false",
        ),
        (
            "error",
            5,
            67,
            "$.environments.prod.prometheus.podDisruptionBudget.minAvailable",
            "the PodDisruptionBudget of prometheus.replicas (minAvailable 100% of 3 replicas in environment 'prod') lets no eviction through: a node drain would wait forever",
            "keep minAvailable below the replicas, or use maxUnavailable; or set prometheus.podDisruptionBudget.enabled: false in environment 'prod'",
        ),
    ]


def test_a_required_anti_affinity_against_its_own_pods_is_a_warning_the_model_confirms(tmp_path: Path) -> None:
    text = (
        "version: 1\n"
        "grafana:\n"
        "  enabled: true\n"
        "  affinity:\n"
        "    podAntiAffinity:\n"
        "      requiredDuringSchedulingIgnoredDuringExecution:\n"
        "        - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app.kubernetes.io/name: grafana}}}\n"
    )
    assert diagnostics(tmp_path, text) == [
        (
            "warning",
            7,
            9,
            "$.grafana.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution",
            "grafana's pods refuse to share a node, and its rollouts start a new pod before an old one goes: with as many eligible nodes as replicas, a rollout waits forever",
            "keep a node to spare, or use preferredDuringSchedulingIgnoredDuringExecution",
        )
    ]
    objects = [
        resolve(obj.body, pipeline.compile_stack(tmp_path / "stack.yaml").stack.values(None))
        for obj in pipeline.compile_stack(tmp_path / "stack.yaml").graph.objects
    ]
    assert any("a rollout" in problem and "grafana" in problem for problem in problems(objects, []))


def test_golden_budgets_never_hold_a_drain() -> None:
    """Every PodDisruptionBudget of golden/full, in every environment, lets each node's drain finish (problems() plays it out); one is there."""
    for env in ("default", "dev", "prod"):
        objects = [yaml.safe_load(path.read_text()) for path in sorted((ROOT / "golden/full/out/manifests" / env).glob("*.yaml"))]
        assert any(obj["kind"] == "PodDisruptionBudget" for obj in objects)
        assert not [problem for problem in problems(objects, []) if "PodDisruptionBudget" in problem]


# -- the rollout model ----------------------------------------------------------------------------

UPSTREAM_FENCEPOSTS = [
    # ResolveFenceposts' own examples (pkg/controller/deployment/util/deployment_util.go)
    ({"maxUnavailable": "1%", "maxSurge": "0%"}, 2, (0, 1)),
    ({"maxUnavailable": "1%", "maxSurge": "0%"}, 1, (0, 1)),
    ({"maxUnavailable": "25%", "maxSurge": "1%"}, 2, (1, 0)),
    ({"maxUnavailable": "25%", "maxSurge": "1%"}, 1, (1, 0)),
    ({"maxUnavailable": "0%", "maxSurge": "1%"}, 2, (1, 0)),
    ({}, 4, (1, 1)),  # the defaults, 25% each
    ({}, 2, (1, 0)),
]


@pytest.mark.parametrize(("rolling", "replicas", "expected"), UPSTREAM_FENCEPOSTS)
def test_fenceposts_resolve_as_the_deployment_controller(rolling: dict[str, Any], replicas: int, expected: tuple[int, int]) -> None:
    assert fenceposts({"rollingUpdate": rolling}, replicas) == expected


@pytest.mark.parametrize(
    ("strategy", "replicas", "finishes"),
    [
        ({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, 2, False),
        ({}, 2, False),  # 25% surge rounds up to 1, 25% unavailable down to 0
        ({}, 3, False),
        ({}, 4, True),
        ({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}, 3, True),
        ({"rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "50%"}}, 2, True),
        ({"type": "Recreate"}, 3, True),
    ],
)
def test_rollouts_under_required_anti_affinity(strategy: dict[str, Any], replicas: int, finishes: bool) -> None:
    assert rollout(strategy, replicas, nodes=replicas, one_per_node=True) is finishes
    assert rollout(strategy, replicas, nodes=replicas, one_per_node=False), "without anti-affinity any strategy finishes"
    assert rollout(strategy, replicas, nodes=replicas + 1, one_per_node=True), "one node to spare takes the surge pod"


# -- the checker, one rule at a time ---------------------------------------------------------------

NS = "apps"


def _good() -> list[dict[str, Any]]:
    labels = {"app": "web"}
    container = {
        "name": "web",
        "image": "example.invalid/web",
        "ports": [{"containerPort": 8080, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "token", "key": "token"}}}],
        "volumeMounts": [{"mountPath": "/etc/web", "name": "config", "readOnly": True}, {"mountPath": "/data", "name": "data"}],
    }
    pod = {
        "metadata": {"labels": labels},
        "spec": {
            "serviceAccountName": "web",
            "containers": [container],
            "volumes": [
                {"name": "config", "configMap": {"name": "web", "items": [{"key": "web.conf", "path": "web.conf"}]}},
                {"name": "data", "hostPath": {"path": "/var/lib/web", "type": "DirectoryOrCreate"}},
            ],
        },
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": NS}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": NS}, "data": {"web.conf": ""}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http"}]},
        },
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS}, "spec": {"replicas": 2, "template": pod}},
    ]


GOOD_NEEDS = (
    Prerequisite("Namespace", "", NS, (PRIVILEGED,), "the app lives in it; its host path needs privileged"),
    Prerequisite("Secret", NS, "token", ("token",), "the app's token"),
)


def _pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = objects[3]["spec"]["template"]["spec"]
    return spec


def _change(change: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    objects = copy.deepcopy(_good())
    change(objects)
    return objects


def test_the_good_example_passes() -> None:
    assert problems(_good(), GOOD_NEEDS) == []


BROKEN: list[tuple[str, Callable[[list[dict[str, Any]]], None], str]] = [
    ("no service account", lambda o: o.pop(0), "ServiceAccount apps/web is neither in the output nor declared"),
    ("no ConfigMap", lambda o: o.pop(1), "ConfigMap apps/web is neither in the output nor declared"),
    ("an items key missing", lambda o: o[1].update(data={}), "ConfigMap apps/web has no key web.conf"),
    ("a socket host path", lambda o: _pod(o)["volumes"][1]["hostPath"].update(type="Socket"), "hostPath /var/lib/web of type Socket"),
    ("an unchecked host path that may be absent", lambda o: _pod(o)["volumes"][1]["hostPath"].pop("type"), "of type unset may be absent"),
    ("a mount of no volume", lambda o: _pod(o)["containers"][0]["volumeMounts"][1].update(name="lost"), "mounts 'lost', which is no volume"),
    (
        "a mount inside a ConfigMap mount",
        lambda o: _pod(o)["containers"][0]["volumeMounts"][1].update(mountPath="/etc/web/data"),
        "inside the read-only mount of 'config'",
    ),
    ("a probe of no port", lambda o: _pod(o)["containers"][0]["readinessProbe"]["httpGet"].update(port="metrics"), "asks port 'metrics'"),
    ("a targetPort of no port", lambda o: o[2]["spec"]["ports"][0].update(targetPort="web"), "targetPort 'web' is no port"),
    ("a Service selecting nothing", lambda o: o[2]["spec"].update(selector={"app": "other"}), "selects no pod"),
    (
        "a surge under anti-affinity",
        lambda o: _pod(o).update(
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
                    ]
                }
            }
        ),
        "waits forever for a surge pod",
    ),
    (
        "a StatefulSet governed by a Service with a cluster IP",
        lambda o: o[3].update(kind="StatefulSet", spec={**o[3]["spec"], "serviceName": "web"}),
        "serviceName 'web' is not a headless Service",
    ),
]


@pytest.mark.parametrize(("what", "change", "found"), BROKEN, ids=[case[0] for case in BROKEN])
def test_each_rule_finds_its_fault(what: str, change: Callable[[list[dict[str, Any]]], None], found: str) -> None:
    reported = problems(_change(change), GOOD_NEEDS)
    assert len(reported) == 1 and found in reported[0], reported


def test_prerequisites_are_neither_missing_nor_over_declared() -> None:
    assert "Secret apps/token is neither in the output nor declared" in problems(_good(), GOOD_NEEDS[:1])[0]
    extra = Prerequisite("Secret", NS, "unused", ("key",), "nothing reads it")
    assert problems(_good(), (*GOOD_NEEDS, extra)) == ["Secret apps/unused is declared a prerequisite, but nothing in the output needs it"]
    held = Prerequisite("ConfigMap", NS, "web", ("web.conf",), "the output holds it")
    assert problems(_good(), (*GOOD_NEEDS, held)) == ["ConfigMap apps/web is declared a prerequisite, but the output holds it"]
    wrong_keys = (GOOD_NEEDS[0], Prerequisite("Secret", NS, "token", ("token", "other"), "too many keys"))
    assert "is declared with keys ['other', 'token'], the pods read ['token']" in problems(_good(), wrong_keys)[0]


def test_a_namespace_prerequisite_says_the_level_its_pods_need() -> None:
    plain = (Prerequisite("Namespace", "", NS, (), "the app lives in it"), GOOD_NEEDS[1])
    assert "need Pod Security level privileged: True; the label declared: False" in problems(_good(), plain)[0]
    no_host = _change(lambda o: _pod(o)["volumes"].__setitem__(1, {"name": "data", "emptyDir": {}}))
    assert problems(no_host, plain) == []
    assert "need Pod Security level privileged: False; the label declared: True" in problems(no_host, GOOD_NEEDS)[0]
