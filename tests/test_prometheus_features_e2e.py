"""`prometheus.features` against the real Prometheus 2.53 and 3.x: kmc's emitted arguments start
each major, and the receivers they turn on accept a remote write and an OTLP export whose series
can then be queried. Without the features, the same requests are refused.

Debian's 2.53 and 3.x builds have their OTLP endpoint cut out ("Disable OTLP Ingestion endpoint",
their changelogs, until the OpenTelemetry collector is packaged): 3.x's build lacks the
`--web.enable-otlp-receiver` flag itself. With such a build the test checks that the changelog
says so, starts Prometheus with every other emitted argument, and leaves the OTLP spelling to
upstream's cmd/prometheus/main.go at v2.53.3 (feature `otlp-write-receiver`) and v3.5.0 (flag
`--web.enable-otlp-receiver`), which tests/test_hatches.py pins per major.

The request bodies are built here by hand from the protocols' messages (prometheus/prompb
types.proto WriteRequest; opentelemetry-proto metrics/v1 ExportMetricsServiceRequest), snappy
framed as a single literal block (the format allows an uncompressed block).
"""

from __future__ import annotations

import json
import struct
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from local_processes import Process, free_port, get_json, http_get, wait_for
from test_prometheus_e2e import built_objects
from tools import TOOLS, tool


def otlp_built_in(binary: Path) -> bool:
    """Whether this build serves OTLP at all (Debian's 2.53 does not; see the module's docstring)."""
    import gzip
    import subprocess

    help_text = subprocess.run([tool(binary), "--help"], capture_output=True, text=True, timeout=30).stdout
    if "otlp" in help_text:
        return True
    changelog = binary.parent / "root" / "usr" / "share" / "doc" / "prometheus" / "changelog.Debian.gz"
    assert "Disable OTLP Ingestion endpoint" in gzip.decompress(changelog.read_bytes()).decode("utf-8"), "a build without OTLP, and not Debian's known one"
    return False


IMAGES = {"2.53": "quay.io/prometheus/prometheus:v2.53.3", "3.x": "quay.io/prometheus/prometheus:v3.5.0"}
BINARIES = {"2.53": TOOLS / "prometheus-2" / "prometheus", "3.x": TOOLS / "prometheus-3" / "prometheus"}
FEATURES = {"remoteWriteReceiver": True, "otlpReceiver": True, "nativeHistograms": True, "enable": ["exemplar-storage"]}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _snappy(data: bytes) -> bytes:
    """Snappy's block format with the whole input as one literal (valid, uncompressed)."""
    size = len(data) - 1
    if size < 60:
        tag = bytes([size << 2])
    elif size < 256:
        tag = bytes([60 << 2, size])
    else:
        tag = bytes([61 << 2]) + struct.pack("<H", size)
    return _varint(len(data)) + tag + data


def remote_write_body(name: str, now_ms: int) -> bytes:
    label = _field(1, _field(1, b"__name__") + _field(2, name.encode()))
    sample = _field(2, b"\x09" + struct.pack("<d", 1.0) + b"\x10" + _varint(now_ms))
    return _snappy(_field(1, label + sample))


def otlp_body(name: str, now_ns: int) -> bytes:
    point = b"\x19" + struct.pack("<Q", now_ns) + b"\x21" + struct.pack("<d", 1.0)  # time_unix_nano (3), as_double (4)
    metric = _field(1, name.encode()) + _field(5, _field(1, point))  # name, gauge.data_points
    return _field(1, _field(2, _field(2, metric)))  # resource_metrics.scope_metrics.metrics


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def prometheus_args(work: Path, image: str, features: dict[str, Any]) -> list[str]:
    doc = {
        "version": 1,
        "cluster": {"name": "e2e", "kubernetesVersion": "1.33"},
        "namespace": "monitoring",
        "prometheus": {"image": image, "features": features},
    }
    objects = built_objects(doc, work)
    container = objects[("Deployment", "prometheus")]["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "prometheus"
    return [str(arg) for arg in container["args"]]


def started(binary: Path, args: list[str], work: Path) -> tuple[Process, str]:
    """The real Prometheus with kmc's arguments, its paths and address moved into `work`."""
    (work / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n", encoding="utf-8")
    port = free_port()
    local = {
        "--config.file": str(work / "prometheus.yml"),
        "--storage.tsdb.path": str(work / "data"),
        "--web.listen-address": f"127.0.0.1:{port}",
    }
    argv = [f"{arg.split('=', 1)[0]}={local[arg.split('=', 1)[0]]}" if arg.split("=", 1)[0] in local else arg for arg in args]
    process = Process([tool(binary), *argv], work / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    wait_for("Prometheus ready", lambda: not process.alive() or http_get(url + "/-/ready")[0] == 200, 60, describe=process.tail)
    assert process.alive(), process.tail()
    return process, url


def queried(url: str, name: str) -> list[Any]:
    found: list[Any] = get_json(f"{url}/api/v1/query?query={name}")["data"]["result"]
    return found


@pytest.mark.parametrize("major", sorted(IMAGES))
def test_emitted_features_start_prometheus_and_open_the_receivers(major: str, tmp_path: Path) -> None:
    args = prometheus_args(tmp_path / "stack", IMAGES[major], FEATURES)
    expected_otlp = "--web.enable-otlp-receiver" if major == "3.x" else "--enable-feature=exemplar-storage,native-histograms,otlp-write-receiver"
    assert expected_otlp in args
    assert "--web.enable-remote-write-receiver" in args
    otlp = otlp_built_in(BINARIES[major])
    run = args if otlp else [arg for arg in args if arg != "--web.enable-otlp-receiver"]
    process, url = started(BINARIES[major], run, tmp_path)
    try:
        now = int(time.time() * 1000)
        headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf", "X-Prometheus-Remote-Write-Version": "0.1.0"}
        assert post(url + "/api/v1/write", remote_write_body("kmc_remote_write_probe", now), headers) == 204
        wait_for("the remote-written series", lambda: bool(queried(url, "kmc_remote_write_probe")), 20, describe=process.tail)
        if otlp:
            status = post(url + "/api/v1/otlp/v1/metrics", otlp_body("kmc_otlp_probe", now * 1_000_000), {"Content-Type": "application/x-protobuf"})
            assert status == 200, process.tail()
            wait_for("the OTLP series", lambda: bool(queried(url, "kmc_otlp_probe")), 20, describe=process.tail)
            log = process.log.read_text(encoding="utf-8", errors="replace")
            assert "Unknown option for --enable-feature" not in log, log
        flags = json.loads(http_get(url + "/api/v1/status/flags")[1])["data"]
        assert "native-histograms" in flags["enable-feature"]
    finally:
        process.stop()


@pytest.mark.parametrize("major", sorted(IMAGES))
def test_without_the_features_the_receivers_are_closed(major: str, tmp_path: Path) -> None:
    args = prometheus_args(tmp_path / "stack", IMAGES[major], {})
    assert not [arg for arg in args if "receiver" in arg or arg.startswith("--enable-feature")]
    process, url = started(BINARIES[major], args, tmp_path)
    try:
        now = int(time.time() * 1000)
        headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf", "X-Prometheus-Remote-Write-Version": "0.1.0"}
        assert post(url + "/api/v1/write", remote_write_body("kmc_remote_write_probe", now), headers) != 204
        assert post(url + "/api/v1/otlp/v1/metrics", otlp_body("kmc_otlp_probe", now * 1_000_000), {"Content-Type": "application/x-protobuf"}) != 200
    finally:
        process.stop()


def test_the_2x_spelling_of_the_otlp_receiver_does_nothing_in_3x(tmp_path: Path) -> None:
    """Why kmc spells the flag per major: 3.x only logs the old feature name and keeps the endpoint closed."""
    args = prometheus_args(tmp_path / "stack", IMAGES["3.x"], {})
    process, url = started(BINARIES["3.x"], [*args, "--enable-feature=otlp-write-receiver"], tmp_path)
    try:
        status = post(url + "/api/v1/otlp/v1/metrics", otlp_body("kmc_otlp_probe", time.time_ns()), {"Content-Type": "application/x-protobuf"})
        assert status != 200
        assert "Unknown option for --enable-feature" in process.log.read_text(encoding="utf-8", errors="replace")
    finally:
        process.stop()
