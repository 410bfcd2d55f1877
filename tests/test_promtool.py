"""The real promtool (Prometheus 2.53 and 3.x) accepts every prometheus.yml kmc emits."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from tools import PROMTOOLS, ROOT, tool

from kmc.components.monitor_jobs import SECRETS_DIR as MONITOR_SECRETS_DIR
from kmc.components.remote_storage import SECRETS_DIR
from kmc.components.scrape_jobs import ETCD_CERTS, SA_DIR

# One config per Prometheus, or one per shard (04-configmap-prometheus-shard-K.yaml).
CONFIGS = [
    path
    for path in sorted(ROOT.glob("golden/*/out/manifests/*/04-configmap-prometheus*.yaml"))
    + sorted(ROOT.glob("charts-out/manifests/*/04-configmap-prometheus*.yaml"))
    if re.fullmatch(r"04-configmap-prometheus(-shard-\d+)?\.yaml", path.name)  # not the adapter's or the rules'
]


def _config(configmap: Path) -> str:
    text: str = yaml.safe_load(configmap.read_text())["data"]["prometheus.yml"]
    return text


def _relocated(text: str, root: Path) -> str:
    """The config with the in-pod files it reads (token, CA, etcd client certs) created under `root`."""
    for directory, names in ((SA_DIR, ("token", "ca.crt")), (ETCD_CERTS, ("ca.crt", "tls.crt", "tls.key"))):
        local = root / directory.strip("/")
        local.mkdir(parents=True, exist_ok=True)
        for name in names:
            (local / name).write_text("placeholder\n")
        text = text.replace(directory, str(local))
    # The remote storage and monitor credentials: DIR/<secret>/<key>, each file the config names.
    for directory in (SECRETS_DIR, MONITOR_SECRETS_DIR):
        local = root / directory.strip("/")
        for secret, key in set(re.findall(re.escape(directory) + r"/([^/\s]+)/([^/\s]+)", text)):
            (local / secret).mkdir(parents=True, exist_ok=True)
            (local / secret / key).write_text("placeholder\n")
        text = text.replace(directory, str(local))
    return text


def test_every_golden_case_has_a_config() -> None:
    assert len(CONFIGS) >= 6


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
@pytest.mark.parametrize("configmap", CONFIGS, ids=lambda path: str(path.relative_to(ROOT).parent))
def test_promtool_accepts_config(version: str, configmap: Path, tmp_path: Path) -> None:
    promtool = tool(PROMTOOLS[version])
    config = tmp_path / "prometheus.yml"
    config.write_text(_relocated(_config(configmap), tmp_path / "pod"))
    result = subprocess.run([promtool, "check", "config", config], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_promtool_rejects_a_broken_config(version: str, tmp_path: Path) -> None:
    """The check can fail: a relabel action Prometheus does not know is rejected."""
    promtool = tool(PROMTOOLS[version])
    text = _config(ROOT / "golden/full/out/manifests/default/04-configmap-prometheus.yaml").replace("action: keep", "action: keepit", 1)
    config = tmp_path / "prometheus.yml"
    config.write_text(_relocated(text, tmp_path / "pod"))
    result = subprocess.run([promtool, "check", "config", config], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
