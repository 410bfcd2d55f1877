"""Scale-out run by real Prometheus servers (2.53 and 3.x): shards, the HA replica label, remote write.

Shards: the default stack of tests/test_prometheus_e2e.py, compiled with `shards: 3`, runs as three
real Prometheus processes against the same fixture cluster (Kubernetes API stub, live targets).
Every fixture target is active on exactly one shard: the shards' targets are pairwise disjoint
and their union is the unsharded stack's target set; only the self-scrape (localhost) is on every
shard. Each shard reports its own `shard` external label and, started with the flags of the
compiled workload and a POD_NAME variable as the downward API sets it, its replica label.

Remote write: a stack whose `remoteWrite` points at (1) a second real Prometheus started with the
remote-write receiver, and (2) a tiny HTTP server that records each request's Authorization
header. The compiled config's credential file paths are moved to a temporary directory holding
the password file (the one rewrite besides `api_server`); the receiver must then hold the sender's
samples with its external labels (cluster and the expanded replica label), and the HTTP server must
have seen Basic credentials made of the user name and the password read from the file.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_api_stub import KubeApiStub
from local_processes import Process, free_port, get_json, http_get, wait_for
from test_prometheus_e2e import (
    DEFAULT_STACK,
    FAST,
    POD_LOCAL,
    PROMETHEUS,
    TIMEOUT,
    Built,
    Cluster,
    Target,
    _merged,
    active,
    built_objects,
    cluster,  # noqa: F401  (the fixture cluster, shared with the unsharded test)
    expected_targets,
    pointed_at,
    stacks,  # noqa: F401  (the cluster fixture builds on it)
)
from tools import tool

from kmc.components.remote_storage import SECRETS_DIR

pytestmark = pytest.mark.slow

SHARDS = 3
SHARDED = {"prometheus": {"shards": SHARDS, "ha": {"enabled": True}, "thanos": {"sidecar": {"enabled": True}, "query": {"enabled": True}}}}


def _config(objects: Mapping[tuple[str, str], dict[str, Any]], name: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(objects[("ConfigMap", name)]["data"]["prometheus.yml"])
    return config


def _feature_flags(workload: Mapping[str, Any]) -> list[str]:
    """The compiled Prometheus container's --enable-feature flags."""
    container = workload["spec"]["template"]["spec"]["containers"][0]
    return [arg for arg in container["args"] if isinstance(arg, str) and arg.startswith("--enable-feature=")]


@contextlib.contextmanager
def _prometheus(binary: Path, config: Mapping[str, Any], work: Path, pod_name: str, *extra: str) -> Iterator[str]:
    """A real Prometheus with `config`, POD_NAME in its environment (as the downward API sets it); yields its URL."""
    work.mkdir()
    (work / "prometheus.yml").write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    address = f"127.0.0.1:{free_port()}"
    args = [
        binary,
        f"--config.file={work / 'prometheus.yml'}",
        f"--storage.tsdb.path={work / 'data'}",
        f"--web.listen-address={address}",
        "--scrape.discovery-reload-interval=1s",
        *extra,
    ]
    previous = os.environ.get("POD_NAME")
    os.environ["POD_NAME"] = pod_name  # inherited by the process started now
    try:
        process = Process(args, work / "prometheus.log")
    finally:
        if previous is None:
            del os.environ["POD_NAME"]
        else:
            os.environ["POD_NAME"] = previous
    url = f"http://{address}"
    try:
        wait_for(f"Prometheus on {address}", lambda: process.alive() and http_get(f"{url}/-/ready")[0] == 200, TIMEOUT, describe=process.tail)
        yield url
    finally:
        process.stop()


def _external_labels(url: str) -> dict[str, str]:
    loaded = yaml.safe_load(get_json(f"{url}/api/v1/status/config")["data"]["yaml"])
    labels: dict[str, str] = loaded["global"]["external_labels"]
    return labels


def _active(url: str) -> list[Target]:
    class _View:
        def active_targets(self) -> list[dict[str, Any]]:
            targets: list[dict[str, Any]] = get_json(f"{url}/api/v1/targets?state=active")["data"]["activeTargets"]
            return targets

    return active(_View())  # type: ignore[arg-type]


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_every_target_is_scraped_by_exactly_one_shard(version: str, stacks: dict[str, Built], cluster: Cluster, tmp_path: Path) -> None:  # noqa: F811
    binary = tool(PROMETHEUS[version])
    objects = built_objects(_merged(_merged(DEFAULT_STACK, FAST), SHARDED), tmp_path / "stack")
    names = [f"prometheus-shard-{index}" for index in range(SHARDS)]
    assert sorted(name for kind, name in objects if kind == "ConfigMap" and name.startswith("prometheus-shard-")) == names
    expected = expected_targets(cluster)["default-prefix"]
    others = expected - POD_LOCAL
    # Each pod scrapes its own Thanos sidecar, as it scrapes itself and its config-reloader.
    sidecar = ("thanos-sidecar", (("instance", "localhost:10902"), ("job", "thanos-sidecar")))
    local = {*POD_LOCAL, sidecar}

    def shard_targets(url: str) -> set[Target]:
        return set(_active(url))

    with KubeApiStub(cluster.objects) as api, contextlib.ExitStack() as running:
        urls = {}
        for name in names:
            workload = objects[("Deployment", name)]
            config = pointed_at(_config(objects, name), api.url)
            urls[name] = running.enter_context(_prometheus(binary, config, tmp_path / name, f"{name}-5b9d7c6f4-q2w3e", *_feature_flags(workload)))

        def settled() -> bool:
            found = [shard_targets(url) - local for url in urls.values()]
            return set().union(*found) == others and sum(len(targets) for targets in found) == len(others)

        def describe() -> str:
            return "\n".join(f"{name}: {sorted(shard_targets(url))}" for name, url in urls.items())

        wait_for("the shards' targets", settled, TIMEOUT, 0.25, describe)
        per_shard = {name: shard_targets(url) for name, url in urls.items()}
        labels = {name: _external_labels(url) for name, url in urls.items()}

    for name in names:
        assert local <= per_shard[name], f"{name} scrapes itself and its sidecars"
    found = [per_shard[name] - local for name in names]
    assert set().union(*found) == others, "the union of the shards' targets is every fixture target"
    for first in range(SHARDS):
        for second in range(first + 1, SHARDS):
            assert not found[first] & found[second], f"shards {first} and {second} share targets"
    assert sum(bool(targets) for targets in found) >= 2, f"the targets are spread over the shards: {found}"
    for index, name in enumerate(names):
        assert labels[name]["shard"] == str(index)
        assert labels[name]["prometheus_replica"] == f"{name}-5b9d7c6f4-q2w3e", "the replica label expanded from POD_NAME"


class _AuthRecorder:
    """An HTTP server that answers every POST with 204 and records its Authorization header."""

    def __init__(self) -> None:
        self.headers: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                recorder.headers.append(self.headers.get("Authorization", ""))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/write"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _relocated(config: Mapping[str, Any], root: Path, secrets: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    """`config` with the Secret-mounted files under `root`, holding `secrets` by (Secret, key)."""
    for (secret, key), value in secrets.items():
        (root / secret).mkdir(parents=True, exist_ok=True)
        (root / secret / key).write_text(value, encoding="utf-8")
    text = yaml.safe_dump(dict(config), sort_keys=False).replace(SECRETS_DIR, str(root))
    relocated: dict[str, Any] = yaml.safe_load(text)
    return relocated


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_remote_write_reaches_a_real_receiver_with_file_credentials(version: str, tmp_path: Path) -> None:
    binary = tool(PROMETHEUS[version])
    recorder = _AuthRecorder()
    receiver_port = free_port()
    password = "s3cret-from-a-file"
    try:
        doc = _merged(
            _merged(DEFAULT_STACK, FAST),
            {
                "prometheus": {
                    "ha": {"enabled": True},
                    "remoteWrite": [
                        {"name": "receiver", "url": f"http://127.0.0.1:{receiver_port}/api/v1/write", "queueConfig": {"batch_send_deadline": "1s"}},
                        {
                            "name": "recorder",
                            "url": recorder.url,
                            "basicAuth": {"username": "prometheus", "password": {"secretName": "remote-auth", "key": "password"}},
                            "queueConfig": {"batch_send_deadline": "1s"},
                        },
                    ],
                }
            },
        )
        objects = built_objects(doc, tmp_path / "stack")
        config = _config(objects, "prometheus")
        assert config["remote_write"][1]["basic_auth"] == {"username": "prometheus", "password_file": f"{SECRETS_DIR}/remote-auth/password"}
        assert password not in yaml.safe_dump(config)
        with KubeApiStub([]) as api, contextlib.ExitStack() as running:
            receiver_work = tmp_path / "receiver"
            receiver_work.mkdir()
            (receiver_work / "prometheus.yml").write_text("global: {}\n", encoding="utf-8")
            receiver = Process(
                [
                    binary,
                    f"--config.file={receiver_work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={receiver_work / 'data'}",
                    f"--web.listen-address=127.0.0.1:{receiver_port}",
                    "--web.enable-remote-write-receiver",
                ],
                receiver_work / "prometheus.log",
            )
            running.callback(receiver.stop)
            receiver_url = f"http://127.0.0.1:{receiver_port}"
            wait_for("the receiving Prometheus", lambda: http_get(f"{receiver_url}/-/ready")[0] == 200, TIMEOUT, describe=receiver.tail)
            sender = _relocated(pointed_at(config, api.url), tmp_path / "secrets", {("remote-auth", "password"): password})
            running.enter_context(
                _prometheus(binary, sender, tmp_path / "sender", "prometheus-7c9f-abcde", *_feature_flags(objects[("Deployment", "prometheus")]))
            )

            def received() -> list[dict[str, Any]]:
                status, body = http_get(f"{receiver_url}/api/v1/query?query=up%7Bjob%3D%22prometheus%22%7D")
                if status != 200:
                    return []
                result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
                return result

            wait_for("samples at the receiver", lambda: bool(received()) and bool(recorder.headers), TIMEOUT, 0.25, receiver.tail)
            series = received()
        assert [entry["metric"] for entry in series] == [
            {"__name__": "up", "cluster": "kubernetes", "instance": "localhost:9090", "job": "prometheus", "prometheus_replica": "prometheus-7c9f-abcde"}
        ]
        expected = "Basic " + base64.b64encode(f"prometheus:{password}".encode()).decode()
        assert set(recorder.headers) == {expected}, "the recorder got the password read from the file"
    finally:
        recorder.stop()


@contextlib.contextmanager
def _receiver(binary: Path, work: Path, port: int) -> Iterator[str]:
    """A real Prometheus on `port` started with the remote-write receiver; yields its URL."""
    work.mkdir()
    (work / "prometheus.yml").write_text("global: {}\n", encoding="utf-8")
    address = f"127.0.0.1:{port}"
    process = Process(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address={address}",
            "--web.enable-remote-write-receiver",
        ],
        work / "prometheus.log",
    )
    try:
        wait_for(f"the receiving Prometheus on {address}", lambda: http_get(f"http://{address}/-/ready")[0] == 200, TIMEOUT, describe=process.tail)
        yield f"http://{address}"
    finally:
        process.stop()


def _replicas_received(url: str) -> set[str]:
    """The replica labels of the `up{job="prometheus"}` series a receiver holds."""
    status, body = http_get(f"{url}/api/v1/query?query=up%7Bjob%3D%22prometheus%22%7D")
    if status != 200:
        return set()
    return {entry["metric"].get("prometheus_replica", "") for entry in json.loads(body)["data"]["result"]}


def _samples_sent(url: str, remote: str) -> float:
    """prometheus_remote_storage_samples_total of one remote_write queue, read from the replica's /metrics."""
    status, body = http_get(f"{url}/metrics")
    assert status == 200
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith("prometheus_remote_storage_samples_total{") and f'remote_name="{remote}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_writers_one_sends_from_the_first_replica_only(version: str, tmp_path: Path) -> None:
    """Two replicas of the compiled StatefulSet (POD_NAME prometheus-0 and prometheus-1, as the
    downward API sets it): the store with `writers: one` receives prometheus-0's series only,
    while the store every replica writes to receives both, so both replicas are sending."""
    binary = tool(PROMETHEUS[version])
    one_port, all_port = free_port(), free_port()
    fast = {"batch_send_deadline": "1s"}
    doc = _merged(
        _merged(DEFAULT_STACK, FAST),
        {
            "prometheus": {
                "ha": {"enabled": True},
                "storage": {"size": "1Gi"},
                "remoteWrite": [
                    {"name": "one", "url": f"http://127.0.0.1:{one_port}/api/v1/write", "writers": "one", "queueConfig": fast},
                    {"name": "all", "url": f"http://127.0.0.1:{all_port}/api/v1/write", "writers": "all", "queueConfig": fast},
                ],
            }
        },
    )
    objects = built_objects(doc, tmp_path / "stack")
    flags = _feature_flags(objects[("StatefulSet", "prometheus")])
    with KubeApiStub([]) as api, contextlib.ExitStack() as running:
        config = pointed_at(_config(objects, "prometheus"), api.url)
        receivers = {}
        for name, port in (("one", one_port), ("all", all_port)):
            receivers[name] = running.enter_context(_receiver(binary, tmp_path / f"receiver-{name}", port))
        replicas = {pod: running.enter_context(_prometheus(binary, config, tmp_path / pod, pod, *flags)) for pod in ("prometheus-0", "prometheus-1")}
        wait_for(
            "both replicas' series at the store every replica writes to",
            lambda: _replicas_received(receivers["all"]) == {"prometheus-0", "prometheus-1"},
            TIMEOUT,
            0.25,
        )
        wait_for("prometheus-0's series at the one-writer store", lambda: bool(_replicas_received(receivers["one"])), TIMEOUT, 0.25)
        assert _replicas_received(receivers["one"]) == {"prometheus-0"}
        assert _samples_sent(replicas["prometheus-1"], "all") > 0
        assert _samples_sent(replicas["prometheus-1"], "one") == 0, "prometheus-1 keeps none of its series for the one-writer store"
        assert _samples_sent(replicas["prometheus-0"], "one") > 0
