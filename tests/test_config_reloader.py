"""The config-reloader sidecar in every Prometheus pod (each shard, each replica) and Alertmanager
pod of every golden environment: it watches exactly the ConfigMaps the program reads, calls the
program's own port on the pod's loopback, and nothing rolls the pods on a configuration change
any more (tests/test_reload_e2e.py runs the reload itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import ROOT

from kmc.components import config_reloader

ENVIRONMENTS = sorted(ROOT.glob("golden/*/out/manifests/*")) + sorted(ROOT.glob("charts-out/manifests/*"))
PROGRAMS = {"prometheus": 9090, "alertmanager": 9093}  # the container, and the port its /-/reload is on


def _workloads(env: Path) -> dict[str, dict[str, Any]]:
    """The Prometheus and Alertmanager workloads, by name."""
    workloads = {}
    for path in sorted(env.glob("*.yaml")):
        obj = yaml.safe_load(path.read_text(encoding="utf-8"))
        if obj["kind"] in ("Deployment", "StatefulSet") and obj["metadata"]["labels"]["app.kubernetes.io/name"] in PROGRAMS:
            workloads[obj["metadata"]["name"]] = obj
    return workloads


def _stack_file(env: Path) -> Path:
    """The stack behind an output environment (`<case>/out/manifests/<env>`, or charts-out's)."""
    return ROOT / "stack.yaml" if env.parents[1].name == "charts-out" else env.parents[2] / "stack.yaml"


def _pods(env: Path) -> dict[str, dict[str, Any]]:
    """The pod templates of the Prometheus and Alertmanager workloads, by workload name."""
    return {name: workload["spec"]["template"] for name, workload in _workloads(env).items()}


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda env: f"{env.parents[2].name}/{env.name}")
def test_every_prometheus_and_alertmanager_pod_has_its_reloader(env: Path) -> None:
    pods = _pods(env)
    stack = yaml.safe_load(_stack_file(env).read_text(encoding="utf-8"))
    if stack.get("prometheus", {}).get("enabled", True):
        assert any(name.startswith("prometheus") for name in pods)
    for name, pod in pods.items():
        containers = {container["name"]: container for container in pod["spec"]["containers"]}
        program = next(program for program in PROGRAMS if program in containers)
        reloader = containers[config_reloader.NAME]
        volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
        # The stack's own volumes (extraVolumes) hold what the program reads as it goes (a CA, a
        # proxy setting), not configuration it reloads: the reloader leaves them alone.
        extra = {volume["name"] for volume in stack.get(program, {}).get("extraVolumes", [])}
        config_maps = [mount for mount in containers[program]["volumeMounts"] if "configMap" in volumes.get(mount["name"], {}) and mount["name"] not in extra]
        assert config_maps, f"{name}: {program} reads no ConfigMap"
        assert reloader["volumeMounts"] == config_maps, f"{name}: the reloader mounts the program's ConfigMaps, and nothing else"
        assert all(mount["readOnly"] for mount in reloader["volumeMounts"])
        # Under a route prefix (an exposed UI on a path) the program serves /-/reload below it.
        prefix = next((arg.split("=", 1)[1] for arg in containers[program]["args"] if arg.startswith("--web.route-prefix=")), "").rstrip("/")
        assert reloader["args"] == [
            f"--listen-address=:{config_reloader.PORT}",
            f"--reload-url=http://127.0.0.1:{PROGRAMS[program]}{prefix}/-/reload",
            *(f"--watched-dir={mount['mountPath']}" for mount in config_maps),
        ]
        assert {port["containerPort"]: port["name"] for port in containers[program]["ports"]}[PROGRAMS[program]] == "web"
        assert reloader["ports"] == [{"containerPort": config_reloader.PORT, "name": config_reloader.PORT_NAME}]
        if program == "prometheus":
            assert "--web.enable-lifecycle" in containers[program]["args"], f"{name}: Prometheus refuses /-/reload without it"
        annotations = pod["metadata"].get("annotations", {})
        assert not [key for key in annotations if key.startswith("checksum/")], f"{name}: a checksum would restart the pods the reloader spares"


def test_sharded_and_ha_stacks_reload_every_pod() -> None:
    """golden/sharded: three shards of two replicas each, each pod with its reloader beside Prometheus and the Thanos sidecar."""
    workloads = _workloads(ROOT / "golden/sharded/out/manifests/default")
    shards = {name: workload for name, workload in workloads.items() if name.startswith("prometheus-shard-")}
    assert sorted(shards) == ["prometheus-shard-0", "prometheus-shard-1", "prometheus-shard-2"]
    for workload in shards.values():
        assert workload["spec"]["replicas"] == 2
        containers = workload["spec"]["template"]["spec"]["containers"]
        assert [container["name"] for container in containers] == ["prometheus", config_reloader.NAME, "thanos-sidecar"]
