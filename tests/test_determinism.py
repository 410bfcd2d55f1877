"""Output is a function of the stack alone: separate `kmc` processes agree byte for byte.

Each process gets another `PYTHONHASHSEED` (so set and dict-of-str iteration orders differ),
another working directory and way of naming the stack and output (relative, absolute), another
time zone and locale; every one builds `golden/full` in every format and must produce the tree
committed in `golden/full/out`, file names, bytes and modes alike.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

from tools import ROOT

STACK_DIR = ROOT / "golden" / "full"
# (PYTHONHASHSEED, TZ, LC_ALL)
RUNS = [
    ("0", "UTC", "C.UTF-8"),
    ("1", "America/Los_Angeles", "C"),
    ("42", "Asia/Kolkata", "C.UTF-8"),
    ("4294967295", "Pacific/Chatham", "C"),
    ("random", "UTC", "C"),
]


def tree_hash(root: Path) -> str:
    """sha256 over every file's relative path, permission bits and bytes, in path order."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != ".kmc-lock.json":  # it names the stack by a path relative to the output
            relative = path.relative_to(root).as_posix()
            digest.update(f"{relative}\0{stat.S_IMODE(path.stat().st_mode):o}\0{path.stat().st_size}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_every_process_builds_the_same_tree(tmp_path: Path) -> None:
    runs = {}
    for index, (seed, tz, locale) in enumerate(RUNS):
        work = tmp_path / f"run-{index}"
        work.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed, "TZ": tz, "LC_ALL": locale}
        if index % 2:  # the stack by its relative name, the output by an absolute path
            cwd, stack, out = STACK_DIR, "stack.yaml", str(work / "out")
        else:
            cwd, stack, out = work, str(STACK_DIR / "stack.yaml"), "out"
        args = [sys.executable, "-m", "kmc", "build", stack, "--format", "all", "--out", out]
        runs[seed] = (work / "out", subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))

    hashes = {}
    for seed, (out, process) in runs.items():
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"PYTHONHASHSEED={seed}: {stderr.decode()}"
        assert sorted(path.name for path in out.iterdir()) == [".kmc-lock.json", "helm", "kustomize", "manifests"]
        hashes[seed] = tree_hash(out)
    # The runs that placed stack and output alike (same relative path between them) wrote the same lock.
    locks = {(out / ".kmc-lock.json").read_bytes() for index, (out, _) in enumerate(runs.values()) if index % 2 == 0}
    assert len(locks) == 1

    golden = tree_hash(STACK_DIR / "out")
    assert hashes == dict.fromkeys(hashes, golden), "a process built another tree than golden/full/out"
