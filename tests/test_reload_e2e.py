"""Configuration and rule changes reach a running Prometheus (2.53 and 3.x) and Alertmanager (0.28)
in place, the way the config-reloader sidecar of their compiled pods applies them: the same
processes run on with the new configuration. A configuration a program rejects leaves the previous
one running and raises kmc's reload-failed alert, evaluated by that Prometheus from kmc's own rule
files.

The pods are played from the compiled objects:
- Volumes: every ConfigMap volume of the compiled pod (Prometheus' config and rules, Alertmanager's
  config) and Alertmanager's projected Secret volume is a directory written as the kubelet's atomic
  writer writes it (`pod_files.atomic_write`: timestamped directory, `..data` symlink, top-level
  entries symlinked into `..data/`); emptyDir volumes are plain directories.
- Processes: Prometheus and Alertmanager run with the args of their compiled containers; paths under
  a mount are moved to the volume's directory, the listen addresses to loopback ports, and
  Alertmanager is its own cluster peer (`test_alerting_e2e.alertmanager_args`).
- Files: paths the configurations name under a mount are moved the same way (`rule_files`, the
  receivers' `*_file`); Kubernetes discovery asks the API stub (`test_prometheus_e2e.pointed_at`),
  which serves the Alertmanager pod, so Prometheus scrapes it with the compiled job; the self-scrape
  target `localhost:9090` is the port Prometheus listens on here.
- A change: the stack is edited and compiled again, and each ConfigMap volume is written again with
  the new ConfigMap's data, as the kubelet does when a ConfigMap changes (a new timestamped
  directory, `..data` replaced by an atomic rename). The pod templates must not change: a new one
  would roll the pods.

The config-reloader itself is not run (there is no binary of it here); the test does what it does,
as prometheus-operator v0.93.0 cmd/prometheus-config-reloader/main.go runs thanos v0.42.2
pkg/reloader/reloader.go:
- on an inotify event in a `--watched-dir` (the `..data` rename is one) or every `--watch-interval`,
  `Reloader.apply` hashes the watched directories (`reloader_hash` below) and reloads only when the
  hash differs from the last reload's; the test requires the hash to change after each write of a
  volume, so the sidecar watches every directory whose change matters;
- `HTTPReloader.TriggerReload` POSTs `--reload-url` with no body and takes anything but 200 as a
  failure, retried every `--retry-interval`; the test POSTs once to the sidecar's compiled
  `--reload-url`, only its port moved, and asserts the status.

Asserted through the programs' HTTP APIs: the added scrape job's target on /api/v1/targets and the
added receiver in Alertmanager's /api/v2/status after a good change; `*_config_last_reload_successful`
1 with an advanced success timestamp, then 0 with the last good configuration still running after a
broken rule file and an invalid prometheus.yml or alertmanager.yml; PrometheusConfigReloadFailed and
AlertmanagerConfigReloadFailed pending; and throughout, the same PIDs alive with an unchanged
`process_start_time_seconds`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from kube_api_stub import KubeApiStub
from kube_objects import endpoints_for, pod_of_workload
from local_processes import MetricsServer, Process, free_port, get_json, http_get, http_post, running, wait_for
from pod_files import atomic_write, local_args, local_path
from test_alerting_e2e import PROMETHEUS, alertmanager_args, alertmanager_binary
from test_prometheus_e2e import built_objects, pointed_at
from tools import tool

from kmc.components import config_reloader

TIMEOUT = 40
HOST = "127.0.0.1"
WEBHOOK = ("alertmanager-receivers", "webhook-url")
ADDED_JOB = "reload-added"
RELOAD_ALERTS = {"PrometheusConfigReloadFailed", "AlertmanagerConfigReloadFailed"}
BROKEN_RULES = "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: sum((\n"

pytestmark = pytest.mark.slow

Objects = dict[tuple[str, str], dict[str, Any]]


def _stack(added_target: str | None) -> dict[str, Any]:
    """The stack before the change (None) and after it: a scrape job and a receiver more."""
    receivers: list[dict[str, Any]] = [{"name": "hook", "webhookConfigs": [{"url": {"secretName": WEBHOOK[0], "key": WEBHOOK[1]}}]}]
    route: dict[str, Any] = {"receiver": "hook"}
    doc: dict[str, Any] = {
        "version": 1,
        "namespace": "monitoring",
        "prometheus": {"scrapeInterval": "1s", "scrapeTimeout": "1s", "evaluationInterval": "1s"},
        "alertmanager": {"enabled": True, "route": route, "receivers": receivers},
    }
    if added_target is not None:
        doc["scrape"] = {"extraJobs": [{"job_name": ADDED_JOB, "static_configs": [{"targets": [added_target]}]}]}
        receivers.append({"name": "added", "webhookConfigs": [{"url": {"secretName": WEBHOOK[0], "key": WEBHOOK[1]}}]})
        route["routes"] = [{"matchers": ['severity="critical"'], "receiver": "added"}]
    return doc


@dataclasses.dataclass(frozen=True)
class Builds:
    before: Objects
    after: Objects
    added: MetricsServer  # the added job's target


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    work = tmp_path_factory.mktemp("builds")
    added = MetricsServer(HOST)
    try:
        yield Builds(built_objects(_stack(None), work / "before"), built_objects(_stack(added.address), work / "after"), added)
    finally:
        added.stop()


# --- the reloader's view ----------------------------------------------------------------------------


def reloader_hash(directories: Sequence[Path]) -> bytes:
    """The hash the reloader compares (thanos v0.42.2 pkg/reloader/reloader.go, `Reloader.apply` and
    `hashFile`): one SHA-256 over the watched directories in order, each walked as Go's
    `filepath.Walk` walks (from the directory with its symlinks resolved, entries in lexical order,
    a symlink never entered), every entry that stat (following symlinks) finds not to be a directory
    hashed as 0xff, its path as walked, 0xff, its content."""
    digest = hashlib.sha256()
    for directory in directories:
        for path in _walk(os.path.realpath(directory)):
            if not os.path.isdir(path):
                digest.update(b"\xff" + path.encode() + b"\xff" + Path(path).read_bytes())
    return digest.digest()


def _walk(path: str) -> Iterator[str]:
    yield path
    if os.path.isdir(path) and not os.path.islink(path):
        for name in sorted(os.listdir(path)):
            yield from _walk(os.path.join(path, name))


# --- a compiled pod, played here ----------------------------------------------------------------------


class Pod:
    """The volumes of a compiled workload's pod as directories under `root`: its ConfigMap and
    Secret volumes written by the atomic writer, the others plain directories."""

    def __init__(self, workload: Mapping[str, Any], root: Path, secrets: Mapping[tuple[str, str], str]) -> None:
        self.spec = workload["spec"]["template"]["spec"]
        self.root = root
        self.config_maps: dict[str, str] = {}  # volume name -> ConfigMap name
        self.volumes: dict[str, Path] = {}
        for volume in [*self.spec["volumes"], *({"name": claim["metadata"]["name"]} for claim in workload["spec"].get("volumeClaimTemplates", []))]:
            name, directory = volume["name"], root / "volumes" / volume["name"]
            self.volumes[name] = directory
            if "configMap" in volume:
                self.config_maps[name] = volume["configMap"]["name"]
            elif "projected" in volume:
                items = [(source["secret"]["name"], item) for source in volume["projected"]["sources"] for item in source["secret"]["items"]]
                atomic_write(directory, {item["path"]: secrets[(secret, item["key"])].encode() for secret, item in items})
            else:
                directory.mkdir(parents=True)

    def container(self, name: str) -> dict[str, Any]:
        (container,) = [container for container in self.spec["containers"] if container["name"] == name]
        return container

    def mounts(self, container: str) -> dict[str, Path]:
        """Mount path → directory, for `container`."""
        return {mount["mountPath"]: self.volumes[mount["name"]] for mount in self.container(container)["volumeMounts"]}

    def write(self, volume: str, data: Mapping[str, str], local: Callable[[str, str], str]) -> bool:
        """Write ConfigMap volume `volume` with `data`, each file made local by `local(key, text)`;
        False when that is what it holds already (the kubelet writes nothing then)."""
        return atomic_write(self.volumes[volume], {key: local(key, text).encode() for key, text in data.items()})

    def project(self, objects: Objects, local: Callable[[str, str], str]) -> set[str]:
        """Write every ConfigMap volume with the data of its ConfigMap in `objects`; the names of the
        volumes that changed."""
        return {volume for volume, config_map in self.config_maps.items() if self.write(volume, objects[("ConfigMap", config_map)]["data"], local)}

    def watched(self) -> list[Path]:
        """The reloader's `--watched-dir`s, as directories here."""
        args = local_args(self.container(config_reloader.NAME), self.volumes, {})
        return [Path(arg.partition("=")[2]) for arg in args if arg.startswith("--watched-dir=")]

    def reload_url(self, port: int) -> str:
        """The reloader's `--reload-url`, its port moved to `port`."""
        (url,) = [arg.partition("=")[2] for arg in self.container(config_reloader.NAME)["args"] if arg.startswith("--reload-url=")]
        parts = urlsplit(url)
        assert parts.hostname == HOST, "the reloader calls the program on the pod's loopback"
        return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def _moved(value: Any, mounts: Mapping[str, Path], keys: Callable[[str], bool]) -> Any:
    """`value` with the path strings under the keys `keys` accepts moved from the pod's mounts to here."""
    if isinstance(value, dict):
        return {
            key: (
                local_path(item, mounts)
                if keys(key) and isinstance(item, str)
                else [local_path(path, mounts) for path in item]
                if keys(key) and isinstance(item, list)
                else _moved(item, mounts, keys)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_moved(item, mounts, keys) for item in value]
    return value


def _prometheus_yml(pod: Pod, api_server: str, address: str) -> Callable[[str, str], str]:
    def local(key: str, text: str) -> str:
        if key != "prometheus.yml":
            return text
        config = _moved(pointed_at(yaml.safe_load(text), api_server), pod.mounts("prometheus"), lambda key: key == "rule_files")
        (self_job,) = [job for job in config["scrape_configs"] if job["job_name"] == "prometheus"]
        assert self_job["static_configs"] == [{"targets": ["localhost:9090"]}]
        self_job["static_configs"] = [{"targets": [address]}]
        return yaml.safe_dump(config, sort_keys=False)

    return local


def _alertmanager_yml(pod: Pod) -> Callable[[str, str], str]:
    def local(key: str, text: str) -> str:
        config = _moved(yaml.safe_load(text), pod.mounts("alertmanager"), lambda key: key.endswith("_file"))
        return yaml.safe_dump(config, sort_keys=False)

    return local


# --- what the programs say ------------------------------------------------------------------------------


def _samples(url: str) -> dict[str, float]:
    """The label-less samples of a /metrics page, by name."""
    status, body = http_get(f"{url}/metrics")
    assert status == 200, f"GET {url}/metrics: {status}"
    lines = [line.split() for line in body.decode().splitlines() if line and not line.startswith("#") and "{" not in line]
    return {name: float(value) for name, value, *_ in lines}


@dataclasses.dataclass(frozen=True)
class Reload:
    """A program's reload state, from its /metrics."""

    successful: float
    success_at: float
    process_started: float

    @classmethod
    def of(cls, url: str, program: str) -> Reload:
        samples = _samples(url)
        return cls(
            samples[f"{program}_config_last_reload_successful"],
            samples[f"{program}_config_last_reload_success_timestamp_seconds"],
            samples["process_start_time_seconds"],
        )


def _targets(url: str) -> dict[str, list[str]]:
    """Health of the active targets, by job."""
    targets: dict[str, list[str]] = {}
    for target in get_json(f"{url}/api/v1/targets?state=active")["data"]["activeTargets"]:
        targets.setdefault(target["labels"]["job"], []).append(target["health"])
    return targets


def _reload_alerts(url: str) -> dict[str, tuple[str, str]]:
    """kmc's reload-failed alerts Prometheus holds: (state, instance) by alert name."""
    alerts = get_json(f"{url}/api/v1/alerts")["data"]["alerts"]
    return {alert["labels"]["alertname"]: (alert["state"], alert["labels"]["instance"]) for alert in alerts if alert["labels"]["alertname"] in RELOAD_ALERTS}


def _receivers(url: str) -> list[str]:
    """The receivers of the configuration Alertmanager runs."""
    return [receiver["name"] for receiver in yaml.safe_load(get_json(f"{url}/api/v2/status")["config"]["original"])["receivers"]]


def _still_running(process: Process, url: str, program: str, started: float) -> None:
    assert process.alive(), process.tail()
    assert Reload.of(url, program).process_started == started, f"{program} was restarted"


# --- the test --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_changes_are_reloaded_in_place(version: str, builds: Builds, tmp_path: Path) -> None:
    before, after = builds.before, builds.after
    for key in (("Deployment", "prometheus"), ("StatefulSet", "alertmanager")):
        assert before[key] == after[key], f"{key}: a changed pod template would restart the pods"
    prom_port, web, gossip = free_port(HOST), free_port(HOST), free_port(HOST)
    prometheus_url, alertmanager_url = f"http://{HOST}:{prom_port}", f"http://{HOST}:{web}"
    am_workload = before[("StatefulSet", "alertmanager")]
    cluster = [pod_of_workload(am_workload, "alertmanager-0", ip=HOST, ports={"web": web, "cluster-tcp": gossip, "cluster-udp": gossip, "reloader-web": 8080})]
    cluster += [obj for (kind, _), obj in before.items() if kind == "Service"]
    cluster += endpoints_for(cluster)

    with KubeApiStub(cluster) as api, contextlib.ExitStack() as pods:
        prom = Pod(before[("Deployment", "prometheus")], tmp_path / "prometheus", {})
        am = Pod(am_workload, tmp_path / "alertmanager", {WEBHOOK: "http://127.0.0.1:9/never-called"})
        prometheus_files, alertmanager_files = _prometheus_yml(prom, api.url, f"{HOST}:{prom_port}"), _alertmanager_yml(am)
        assert prom.project(before, prometheus_files) == {"config", "rules"} and am.project(before, alertmanager_files) == {"config"}
        prom_args = [tool(PROMETHEUS[version]), *local_args(prom.container("prometheus"), prom.volumes, {"--web.listen-address": f"{HOST}:{prom_port}"})]
        am_args = [alertmanager_binary(am.root), *alertmanager_args(am_workload, am.volumes, HOST, web, gossip)]
        alertmanager = pods.enter_context(running("alertmanager", am_args, f"{alertmanager_url}/-/ready", am.root, TIMEOUT))
        prometheus = pods.enter_context(running("prometheus", prom_args, f"{prometheus_url}/-/ready", prom.root, TIMEOUT))
        wait_for(
            "Prometheus to scrape itself and Alertmanager",
            lambda: _targets(prometheus_url).items() >= {"prometheus": ["up"], "alertmanager": ["up"]}.items(),
            TIMEOUT,
            0.25,
            lambda: f"{_targets(prometheus_url)}\n{prometheus.tail()}",
        )
        assert ADDED_JOB not in _targets(prometheus_url) and _receivers(alertmanager_url) == ["hook"]
        first = {"prometheus": Reload.of(prometheus_url, "prometheus"), "alertmanager": Reload.of(alertmanager_url, "alertmanager")}
        assert first["prometheus"].successful == first["alertmanager"].successful == 1
        urls = {"prometheus": prometheus_url, "alertmanager": alertmanager_url}
        processes = {"prometheus": prometheus, "alertmanager": alertmanager}

        def reload(pod: Pod, port: int, write: Callable[[], object]) -> int:
            """Write volumes as the kubelet does, then do what the reloader does: compare its hash, POST."""
            watched = reloader_hash(pod.watched())
            assert write(), "the kubelet would write nothing"
            assert reloader_hash(pod.watched()) != watched, f"the reloader sees no change in {pod.watched()}"
            return http_post(pod.reload_url(port))[0]

        # A good change: the added job (only prometheus.yml changes), the added receiver.
        assert reload(prom, prom_port, lambda: prom.project(after, prometheus_files) == {"config"}) == 200
        assert reload(am, web, lambda: am.project(after, alertmanager_files)) == 200
        wait_for(
            f"the {ADDED_JOB} target",
            lambda: _targets(prometheus_url).get(ADDED_JOB) == ["up"],
            TIMEOUT,
            0.25,
            lambda: f"{_targets(prometheus_url)}\n{prometheus.tail()}",
        )
        assert _receivers(alertmanager_url) == ["hook", "added"]
        good = {"prometheus": Reload.of(prometheus_url, "prometheus"), "alertmanager": Reload.of(alertmanager_url, "alertmanager")}
        for program, state in good.items():
            assert state.successful == 1 and state.success_at > first[program].success_at, f"{program}: {first[program]} -> {state}"
            _still_running(processes[program], urls[program], program, first[program].process_started)
        assert not _reload_alerts(prometheus_url)

        # Bad changes, as a hand-edited ConfigMap makes them: a broken rule file (only the rules
        # volume changes); an invalid prometheus.yml that also drops the added job, which must stay;
        # an alertmanager.yml routing to a receiver it does not define.
        rule_files = {key: text for key, text in after[("ConfigMap", "prometheus-rules")]["data"].items()}
        assert reload(prom, prom_port, lambda: prom.write("rules", {**rule_files, "broken.yaml": BROKEN_RULES}, prometheus_files)) == 500
        config = yaml.safe_load(after[("ConfigMap", "prometheus")]["data"]["prometheus.yml"])
        config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] != ADDED_JOB]
        config["global"]["scrape_interval"] = "soon"
        assert reload(prom, prom_port, lambda: prom.write("config", {"prometheus.yml": yaml.safe_dump(config)}, prometheus_files)) == 500
        routing = yaml.safe_load(after[("ConfigMap", "alertmanager")]["data"]["alertmanager.yml"])
        routing["route"]["receiver"] = "missing"
        assert reload(am, web, lambda: am.write("config", {"alertmanager.yml": yaml.safe_dump(routing)}, alertmanager_files)) == 500

        for program, state in good.items():
            failed = Reload.of(urls[program], program)
            assert failed.successful == 0 and failed.success_at == state.success_at, f"{program}: {state} -> {failed}"
            _still_running(processes[program], urls[program], program, first[program].process_started)
        assert _targets(prometheus_url).get(ADDED_JOB) == ["up"], "the last good prometheus.yml runs on"
        assert _receivers(alertmanager_url) == ["hook", "added"], "the last good alertmanager.yml runs on"
        expected = {"PrometheusConfigReloadFailed": f"{HOST}:{prom_port}", "AlertmanagerConfigReloadFailed": f"{HOST}:{web}"}
        wait_for(
            "kmc's reload-failed alerts",
            lambda: {name: instance for name, (state, instance) in _reload_alerts(prometheus_url).items() if state in ("pending", "firing")} == expected,
            TIMEOUT,
            0.25,
            lambda: f"{_reload_alerts(prometheus_url)}\n{prometheus.tail()}",
        )
        for program in processes:
            _still_running(processes[program], urls[program], program, first[program].process_started)
