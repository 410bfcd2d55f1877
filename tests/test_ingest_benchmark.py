"""The ingest benchmark's check mode at the small size: every shipped query of golden/full answers
the same on a Prometheus 3 running the `used` keep-lists as on one keeping `all` series, both
scraping the same time-gridded fixture cluster (benchmarks/ingest.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tools import ROOT, TOOLS, tool

pytestmark = pytest.mark.slow


def test_used_keep_lists_answer_every_shipped_query_as_all_does() -> None:
    tool(TOOLS / "prometheus-3" / "prometheus")
    tool(TOOLS / "node-exporter" / "prometheus-node-exporter")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ingest.py"), "--sizes", "3x60", "--check"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "check: 0 of the shipped queries differ" in result.stdout
