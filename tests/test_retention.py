"""Size-based retention against the Prometheus volume (kmc.check.retention).

Prometheus reads `--storage.tsdb.retention.size` with kingpin's BytesVar, that is
alecthomas/units' ParseBase2Bytes: KB, MB, GB… are powers of 1024 (prometheus/prometheus v2.53.0
and v3.5.0, cmd/prometheus/main.go: "Based on powers-of-2, so 1KB is 1024B"; alecthomas/units
bytes.go at the version v3.5.0's go.mod pins). The real binaries confirm it below: their
runtime information prints the limit in those units. Prometheus' docs/storage.md (same tags)
counts the WAL and the head chunks in the limit, deletes whole blocks only, and recommends at
most 80-85% of the volume: kmc refuses more than 85%, wherever the value comes from.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from local_processes import Process, free_port, get_json, http_get, wait_for
from stack_diagnostics import diagnostics
from test_prometheus_e2e import PROMETHEUS, TIMEOUT
from tools import tool

from kmc.check.retention import quantity_bytes, retention_bytes

GIB = 1024**3
HINT = (
    "Prometheus deletes only whole blocks, once their total has passed the limit, and the WAL, the head chunks and compaction "
    "share the volume (its GB is 1024³ bytes): set retentionSize to at most {fits} (85% of the volume) or storage.size to at least {volume}"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0B", 0), ("512B", 512), ("1KB", 1024), ("512MB", 512 * 1024**2), ("45GB", 45 * GIB), ("2TB", 2 * 1024**4), ("1EB", 1024**6)],
)
def test_retention_sizes_are_powers_of_1024(text: str, expected: int) -> None:
    assert retention_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10Gi", 10 * GIB),
        ("100G", 100 * 1000**3),
        ("1.5Ti", 3 * 1024**4 // 2),
        ("500M", 500 * 1000**2),
        ("512Mi", 512 * 1024**2),
        ("1k", 1000),
        ("5m", 0),  # whole bytes: a volume has no fraction of one
        ("1073741824", GIB),
        ("0.5", 0),
        ("1.0001k", 1000),
    ],
)
def test_volume_sizes_are_kubernetes_quantities(text: str, expected: int) -> None:
    assert quantity_bytes(text) == expected


_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5, "EiB": 1024**6}


@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_prometheus_reads_the_retention_size_as_kmc_does(version: str, tmp_path: Path) -> None:
    """The real Prometheus, started with a retention size, reports it in /api/v1/status/runtimeinfo
    as units.Base2Bytes prints it (web/web.go): "1536MB" must come back as 1GiB512MiB."""
    (tmp_path / "prometheus.yml").write_text("global: {}\n", encoding="utf-8")
    address = f"127.0.0.1:{free_port()}"
    process = Process(
        [
            tool(PROMETHEUS[version]),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={address}",
            "--storage.tsdb.retention.time=30d",
            "--storage.tsdb.retention.size=1536MB",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        wait_for("Prometheus", lambda: process.alive() and http_get(f"http://{address}/-/ready")[0] == 200, TIMEOUT, describe=process.tail)
        retention = get_json(f"http://{address}/api/v1/status/runtimeinfo")["data"]["storageRetention"]
    finally:
        process.stop()
    assert retention == "30d or 1GiB512MiB"
    size = retention.split(" or ")[1]
    assert sum(int(amount) * _UNITS[unit] for amount, unit in re.findall(r"(\d+)([A-Za-z]+)", size)) == retention_bytes("1536MB")


def test_a_retention_size_above_85_percent_of_the_volume_is_an_error(tmp_path: Path) -> None:
    stack = "version: 1\nprometheus:\n  retentionSize: 9GB\n  storage: {size: 10Gi}\n"
    assert diagnostics(tmp_path, stack) == [
        (
            "error",
            3,
            18,
            "$.prometheus.retentionSize",
            "retentionSize 9GB is 90% of the 10Gi volume: the disk fills up before size-based retention deletes a block",
            HINT.format(fits="8GB", volume="11Gi"),
        )
    ]


@pytest.mark.parametrize("size", ["8GB", "8704MB", "0B"])
def test_a_retention_size_within_85_percent_or_none_is_accepted(tmp_path: Path, size: str) -> None:
    assert diagnostics(tmp_path, f"version: 1\nprometheus:\n  retentionSize: {size}\n  storage: {{size: 10Gi}}\n") == []


def test_decimal_volume_sizes_are_smaller_than_binary_retention_units(tmp_path: Path) -> None:
    """100G is 10^11 bytes, 93.1 GiB: 80GB (85.9%) no longer fits; 79GB does."""
    assert [d[4] for d in diagnostics(tmp_path, "version: 1\nprometheus:\n  retentionSize: 80GB\n  storage: {size: 100G}\n")] == [
        "retentionSize 80GB is 86% of the 100G volume: the disk fills up before size-based retention deletes a block"
    ]
    assert diagnostics(tmp_path, "version: 1\nprometheus:\n  retentionSize: 79GB\n  storage: {size: 100G}\n") == []


def test_the_default_volume_size_counts(tmp_path: Path) -> None:
    assert [d[3:5] for d in diagnostics(tmp_path, "version: 1\nprometheus:\n  retentionSize: 45GB\n  storage: {}\n")] == [
        ("$.prometheus.retentionSize", "retentionSize 45GB is 90% of the 50Gi volume: the disk fills up before size-based retention deletes a block")
    ]


def test_without_persistent_storage_nothing_is_compared(tmp_path: Path) -> None:
    assert diagnostics(tmp_path, "version: 1\nprometheus:\n  retentionSize: 45EB\n") == []


@pytest.mark.parametrize("storage", ["{}", "{className: fast}"])
def test_storage_an_environment_adds_is_refused_not_compared(tmp_path: Path, storage: str) -> None:
    """An environment may not give Prometheus storage the stack lacks (semantic's check says so,
    alone); `{className: fast}` is a schema error, and the rest of the stack is still checked."""
    found = diagnostics(tmp_path, f"version: 1\nenvironments:\n  dev:\n    prometheus:\n      storage: {storage}\n")
    assert found and all(d[0] == "error" for d in found)
    paths = {d[3] for d in found}
    assert paths <= {"$.environments.dev.prometheus.storage", "$.environments.dev.prometheus.storage.className"}


def test_each_environment_is_reported_where_its_value_is_written(tmp_path: Path) -> None:
    stack = (
        "version: 1\n"
        "prometheus:\n"
        "  retentionSize: 45GB\n"
        "  storage: {size: 100Gi}\n"
        "environments:\n"
        "  dev:\n"  # a smaller volume under the stack's retentionSize: the volume is at fault
        "    prometheus:\n"
        "      storage: {size: 10Gi}\n"
        "  staging:\n"  # its own retentionSize on the stack's volume
        "    prometheus: {retentionSize: 95GB}\n"
        "  prod:\n"  # both: its retentionSize is reported
        "    prometheus: {retentionSize: 30GB, storage: {size: 20Gi}}\n"
        "  qa:\n"  # inherits both: fits, like the stack's own
        "    prometheus: {retention: 2d}\n"
        "  edge:\n"  # a larger volume: fits
        "    prometheus: {storage: {size: 1Ti}}\n"
    )
    assert diagnostics(tmp_path, stack) == [
        (
            "error",
            8,
            23,
            "$.environments.dev.prometheus.storage.size",
            "retentionSize 45GB is 450% of the 10Gi volume in environment 'dev': the disk fills up before size-based retention deletes a block",
            HINT.format(fits="8GB", volume="53Gi"),
        ),
        (
            "error",
            10,
            33,
            "$.environments.staging.prometheus.retentionSize",
            "retentionSize 95GB is 95% of the 100Gi volume in environment 'staging': the disk fills up before size-based retention deletes a block",
            HINT.format(fits="85GB", volume="112Gi"),
        ),
        (
            "error",
            12,
            33,
            "$.environments.prod.prometheus.retentionSize",
            "retentionSize 30GB is 150% of the 20Gi volume in environment 'prod': the disk fills up before size-based retention deletes a block",
            HINT.format(fits="17GB", volume="36Gi"),
        ),
    ]


def test_a_stack_value_that_no_environment_fixes_is_reported_once(tmp_path: Path) -> None:
    stack = "version: 1\nprometheus:\n  retentionSize: 45GB\n  storage: {size: 10Gi}\nenvironments:\n  dev: {prometheus: {retention: 2d}}\n"
    assert [d[3] for d in diagnostics(tmp_path, stack)] == ["$.prometheus.retentionSize"]


def test_a_tiny_volume_gets_a_volume_to_set(tmp_path: Path) -> None:
    assert [d[4:] for d in diagnostics(tmp_path, "version: 1\nprometheus:\n  retentionSize: 500MB\n  storage: {size: 0}\n")] == [
        (
            "retentionSize 500MB does not fit the 0 volume: the disk fills up before size-based retention deletes a block",
            "Prometheus deletes only whole blocks, once their total has passed the limit, and the WAL, the head chunks and compaction "
            "share the volume (its GB is 1024³ bytes): set retentionSize to at most 85% of the volume or storage.size to at least 589Mi",
        )
    ]
