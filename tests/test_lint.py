"""ruff (lint + format) and mypy --strict hold for the whole package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def test_ruff_lint_and_format() -> None:
    lint = _run(BIN / "ruff", "check", "compiler", "tests", "benchmarks")
    assert lint.returncode == 0, lint.stdout
    fmt = _run(BIN / "ruff", "format", "--check", "compiler", "tests", "benchmarks")
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict(tmp_path: Path) -> None:
    # The import package kmc lives in compiler/: check it under its installed name.
    (tmp_path / "kmc").symlink_to(ROOT / "compiler")
    result = _run(BIN / "mypy", "--cache-dir", str(tmp_path / "cache"), "-p", "kmc", env={**os.environ, "MYPYPATH": str(tmp_path)})
    assert result.returncode == 0, result.stdout
