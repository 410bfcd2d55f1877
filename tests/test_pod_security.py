"""Every pod kmc emits meets the `restricted` Pod Security Standard, except node-exporter, which
needs `privileged` for exactly its host access; the Namespace enforces what the pods need."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from object_sets import LOADER
from pod_security import baseline, pod_template, restricted
from tools import ROOT

# Every environment of every golden case, and the repo's own output.
ENVIRONMENTS = sorted(ROOT.glob("golden/*/out/manifests/*")) + sorted(ROOT.glob("charts-out/manifests/*"))
NODE_EXPORTER = "node-exporter"
# What node-exporter's host access costs, control by control (volumes and port added per pod).
NODE_EXPORTER_NAMESPACES = {("Host Namespaces", "hostNetwork"), ("Host Namespaces", "hostPID")}
NODE_EXPORTER_HOST_PATHS = ("proc", "sys", "root", "dbus")  # dbus: only with the systemd collector


def _objects(env: Path) -> list[dict[str, Any]]:
    return [yaml.load(path.read_text(), Loader=LOADER) for path in sorted(env.glob("*.yaml"))]


def _pods(env: Path) -> list[tuple[str, Any]]:
    return [(f"{obj['kind']}/{obj['metadata']['name']}", pod) for obj in _objects(env) if (pod := pod_template(obj)) is not None]


def _prometheus_on(env: Path) -> bool:
    """Whether the stack behind an output environment switches Prometheus on there (`prometheus.enabled`)."""
    stack = env.parents[2] / "stack.yaml" if env.parents[2].name != "charts-out" else ROOT / "stack.yaml"
    doc = yaml.safe_load(stack.read_text())
    on = doc.get("prometheus", {}).get("enabled", True)
    return bool(doc.get("environments", {}).get(env.name, {}).get("prometheus", {}).get("enabled", on))


def test_every_environment_runs_prometheus_unless_switched_off() -> None:
    assert ENVIRONMENTS
    assert not all(_prometheus_on(env) for env in ENVIRONMENTS), "a golden stack without Prometheus (golden/metrics-only)"
    for env in ENVIRONMENTS:
        # One Prometheus workload, or one per shard (prometheus-shard-K); none where it is off.
        names = {name.split("/", 1)[1] for name, _ in _pods(env) if name.split("/")[0] in ("Deployment", "StatefulSet")}
        assert bool(names & {"prometheus", "prometheus-shard-0"}) == _prometheus_on(env), env


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_pods_meet_restricted_or_node_exporter_exactly_its_host_access(env: Path) -> None:
    for name, pod in _pods(env):
        found = set(restricted(pod["metadata"], pod["spec"]))
        if name != f"DaemonSet/{NODE_EXPORTER}":
            assert not found, f"{env.relative_to(ROOT)}: {name} breaks restricted: {sorted(found)}"
            continue
        spec = pod["spec"]
        host_paths = [volume["name"] for volume in spec["volumes"] if "hostPath" in volume]
        assert set(host_paths) <= set(NODE_EXPORTER_HOST_PATHS) and {"proc", "sys", "root"} <= set(host_paths)
        port = spec["containers"][0]["ports"][0]["hostPort"]
        expected_baseline = NODE_EXPORTER_NAMESPACES | {("HostPath Volumes", path) for path in host_paths} | {("Host Ports", f"{NODE_EXPORTER} {port}")}
        assert set(baseline(pod["metadata"], spec)) == expected_baseline
        # Beyond baseline, only the volume type of those same host paths: it still runs as
        # non-root, without privilege escalation or capabilities, under RuntimeDefault seccomp.
        assert found == expected_baseline | {("Volume Types", f"{path}: hostPath") for path in host_paths}


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_namespace_enforces_the_level_its_pods_need(env: Path) -> None:
    namespaces = [obj for obj in _objects(env) if obj["kind"] == "Namespace"]
    if not namespaces:
        return  # createNamespace: false; the namespace is managed elsewhere
    labels = namespaces[0]["metadata"]["labels"]
    needs_privileged = any(restricted(pod["metadata"], pod["spec"]) for _, pod in _pods(env))
    assert labels["pod-security.kubernetes.io/enforce"] == ("privileged" if needs_privileged else "restricted")
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"


# --- the checker itself: a restricted pod, and one change per control that breaks it -------------------

GOOD: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.27",
                "ports": [{"containerPort": 8080}],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": "web"}}, {"name": "tmp", "emptyDir": {}}],
    },
}


def _changed(path: str, value: Any) -> dict[str, Any]:
    pod = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node: Any = pod
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[last] = value
    return pod


BASELINE_BREAKS = [
    ("spec.hostNetwork", True, ("Host Namespaces", "hostNetwork")),
    ("spec.hostIPC", True, ("Host Namespaces", "hostIPC")),
    ("spec.containers.0.securityContext.privileged", True, ("Privileged Containers", "web")),
    ("spec.containers.0.securityContext.capabilities.add", ["SYS_ADMIN"], ("Capabilities", "web adds SYS_ADMIN")),
    ("spec.containers.0.ports", [{"containerPort": 80, "hostPort": 80}], ("Host Ports", "web 80")),
    ("spec.volumes", [{"name": "etc", "hostPath": {"path": "/etc"}}], ("HostPath Volumes", "etc")),
    ("spec.containers.0.securityContext.procMount", "Unmasked", ("/proc Mount Type", "web")),
    ("spec.securityContext.seccompProfile", {"type": "Unconfined"}, ("Seccomp", "Unconfined")),
    ("spec.securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}], ("Sysctls", "kernel.msgmax")),
    ("spec.securityContext.seLinuxOptions", {"type": "spc_t"}, ("SELinux", "{'type': 'spc_t'}")),
    ("spec.securityContext.appArmorProfile", {"type": "Unconfined"}, ("AppArmor", "{'type': 'Unconfined'}")),
    ("spec.securityContext.windowsOptions", {"hostProcess": True}, ("HostProcess", "windowsOptions.hostProcess")),
    (
        "metadata.annotations",
        {"container.apparmor.security.beta.kubernetes.io/web": "unconfined"},
        ("AppArmor", "container.apparmor.security.beta.kubernetes.io/web=unconfined"),
    ),
]
RESTRICTED_BREAKS = [
    ("spec.volumes", [{"name": "data", "nfs": {"server": "nfs", "path": "/"}}], ("Volume Types", "data: nfs")),
    ("spec.containers.0.securityContext.allowPrivilegeEscalation", True, ("Privilege Escalation", "web")),
    ("spec.securityContext.runAsNonRoot", False, ("Running as Non-root", "web")),
    ("spec.containers.0.securityContext.runAsNonRoot", False, ("Running as Non-root", "web")),
    ("spec.containers.0.securityContext.runAsUser", 0, ("Running as Non-root user", "web runAsUser 0")),
    ("spec.securityContext.seccompProfile", None, ("Seccomp", "web: None")),
    ("spec.containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}, ("Capabilities", "web does not drop ALL")),
    ("spec.containers.0.securityContext.capabilities.add", ["CHOWN"], ("Capabilities", "web adds CHOWN")),
]


def test_the_good_pod_meets_restricted() -> None:
    assert restricted(GOOD["metadata"], GOOD["spec"]) == []


@pytest.mark.parametrize(("path", "value", "violation"), BASELINE_BREAKS, ids=[case[2][0] + ":" + case[0] for case in BASELINE_BREAKS])
def test_each_baseline_control_fires(path: str, value: Any, violation: tuple[str, str]) -> None:
    pod = _changed(path, value)
    assert violation in baseline(pod["metadata"], pod["spec"])
    assert violation in restricted(pod["metadata"], pod["spec"])


@pytest.mark.parametrize(("path", "value", "violation"), RESTRICTED_BREAKS, ids=[case[2][0] + ":" + case[0] for case in RESTRICTED_BREAKS])
def test_each_restricted_control_fires(path: str, value: Any, violation: tuple[str, str]) -> None:
    pod = _changed(path, value)
    assert restricted(pod["metadata"], pod["spec"]) == [violation]
    assert violation not in baseline(pod["metadata"], pod["spec"])
