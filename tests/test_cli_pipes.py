"""A reader that goes away (`kmc validate a b | head -1`) ends kmc quietly, as it ends `cat`.

The shell reports a process killed by SIGPIPE as status 128 + 13 = 141; kmc exits with that
status, prints nothing (no traceback, no "internal error"), for every command and on both entry
paths (the click-free hot path of `kmc validate`/`kmc build`, and the full CLI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
INVALID = REPO_ROOT / "golden" / "invalid" / "several-problems" / "stack.yaml"
MINIMAL = REPO_ROOT / "golden" / "minimal" / "stack.yaml"
SIGPIPE_STATUS = 141


def run_into_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run kmc with its stdout a pipe whose reader has already gone: every write fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "kmc", *args], cwd=cwd, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--output-format", "json", "bad.yaml", "bad.yaml"],
        ["validate", "good.yaml", "good.yaml"],
        ["-v", "validate", "--output-format=json", "good.yaml"],
        ["schema"],
        ["explain", "prometheus"],
        ["--help"],
        ["build", "--help"],
        ["completion", "bash"],
    ],
    ids=lambda args: " ".join(args),
)
def test_a_reader_that_goes_away_ends_kmc_quietly(tmp_path: Path, args: list[str]) -> None:
    shutil.copyfile(INVALID, tmp_path / "bad.yaml")
    shutil.copyfile(MINIMAL, tmp_path / "good.yaml")
    result = run_into_closed_pipe(args, tmp_path)
    assert result.returncode == SIGPIPE_STATUS, result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert "BrokenPipe" not in result.stderr and "Broken pipe" not in result.stderr
