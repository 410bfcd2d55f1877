"""The ingest benchmark's check mode at the small size: every shipped query of golden/full answers
the same on a Prometheus 3 running the `used` keep-lists as on one keeping `all` series, both
scraping the same time-gridded fixture cluster (benchmarks/ingest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tools import ROOT, TOOLS, tool

pytestmark = pytest.mark.slow


def test_used_keep_lists_answer_every_shipped_query_as_all_does(tmp_path: Path) -> None:
    """And at that size `used` holds the targets in series, which the fixtures make exact counts:
    at least 3 times fewer active series than `all`, and at most 1.2 times the floor."""
    tool(TOOLS / "prometheus-3" / "prometheus")
    tool(TOOLS / "node-exporter" / "prometheus-node-exporter")
    figures = tmp_path / "figures.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "ingest.py"), "--sizes", "3x60", "--check", "--json", str(figures)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "check: 0 of the shipped queries differ" in result.stdout
    (size,) = json.loads(figures.read_text())
    used, everything = size["modes"]["used"]["head_series"], size["modes"]["all"]["head_series"]
    assert everything / used >= 3, result.stdout
    assert used / size["floor"] <= 1.2, result.stdout
