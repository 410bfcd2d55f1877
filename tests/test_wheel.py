"""The wheel carries the schema and library: an installed kmc, away from the checkout, builds golden/full in every format."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from golden_trees import read_tree, tree_diff

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_installed_wheel_builds_the_full_stack(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, ROOT], check=True, timeout=300)
    wheel = next(dist.glob("kmc-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    subprocess.run([env_dir / "bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel], check=True, timeout=300)
    work = tmp_path / "work"
    shutil.copytree(ROOT / "golden/full", work, ignore=shutil.ignore_patterns("out"))
    as_users_run = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"} | {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        [env_dir / "bin/kmc", "build", "stack.yaml", "--out", "out", "--format", "all"], cwd=work, capture_output=True, text=True, timeout=120, env=as_users_run
    )
    assert result.returncode == 0, result.stderr
    assert not tree_diff(read_tree(ROOT / "golden/full/out"), read_tree(work / "out"))  # the chart's texts come from the library
    assert not (tmp_path / "cache").exists()  # kmc keeps no cache of its own
    # The same kmc, installed or in the checkout, has one identity: the lock the wheel wrote proves the output to the checkout's kmc.
    check = subprocess.run(
        [sys.executable, "-m", "kmc", "build", "--check", "stack.yaml", "--format", "all", "--out", "out"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0 and "; lock;" in check.stderr, check.stderr
    init = subprocess.run([env_dir / "bin/kmc", "init", "fresh"], cwd=work, capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    assert (work / "fresh/stack.schema.json").read_bytes() == (ROOT / "schema/stack.schema.json").read_bytes()
    # Uninstalling leaves nothing of kmc in site-packages.
    subprocess.run([env_dir / "bin/python", "-m", "pip", "uninstall", "--yes", "--quiet", "kmc"], check=True, timeout=300)
    assert not list((env_dir / "lib").glob("python3*/site-packages/kmc"))
