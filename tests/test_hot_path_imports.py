"""What a plain `kmc build` imports: the speed of a pre-commit hook, held without timing anything.

Import time is most of a build's cost (see docs/performance.md), and one stray
top-level import of a heavy library undoes the work silently. So each case runs the console
script's `main` in a fresh interpreter, as `kmc` runs it, and lists the modules it imported.
A module named here that a build must now import needs a measurement and a line in docs/performance.md, not
just a change to this list.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Never on a build's path: the full CLI (plain build lines skip click), the schema validator
# (only to explain a stack the fast gate rejects), PyYAML (kmc reads and writes the YAML of its
# stacks, rule library and outputs itself; PyYAML only reads what that reader declines), the test
# tools, and modules that cost more than their use (dataclasses imports inspect; kmc uses kmc.record).
NEVER = {
    "click", "jsonschema", "referencing", "jinja2", "yaml", "hypothesis", "pytest", "dataclasses", "inspect", "ast", "dis", "difflib", "decimal",
}  # fmt: skip
# Libraries only a component that needs them may import, and only when a stack compiles it:
# golden/minimal enables nothing optional and must not pay for them.
OPTIONAL = {"cryptography", "jsonschema", "jinja2", "requests", "urllib3"}
# Only needed to remove a previous tree that changed.
REPLACING = {"tempfile", "shutil"}


def _imported(*args: str, cwd: Path) -> set[str]:
    """The modules `kmc ARGS` imports (and their top-level packages) beyond what the interpreter's
    start imported (an editable install imports pathlib then), run as the console script runs it."""
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import json\n"
        "from kmc.commands import entry\n"
        "entry._leave = sys.exit  # to list the modules once main is done, rather than leave at once\n"
        f"sys.argv = ['kmc', *{list(args)!r}]\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    names: list[str] = json.loads(result.stdout.splitlines()[-1])
    return set(names)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for case in ("full", "minimal"):
        shutil.copytree(ROOT / "golden" / case, tmp_path / case, ignore=shutil.ignore_patterns("out"))
    return tmp_path


@pytest.mark.parametrize("fmt", ["manifests", "helm", "kustomize", "all"])
def test_a_build_of_the_full_stack_imports_nothing_heavy(workdir: Path, fmt: str) -> None:
    imported = _imported("build", "-q", "stack.yaml", "--format", fmt, "--out", "out", cwd=workdir / "full")
    assert not (NEVER | REPLACING) & imported  # into an empty directory: nothing to remove
    assert "kmc.pipeline" in imported  # it did build


def test_a_rebuild_of_an_unchanged_stack_replaces_nothing(workdir: Path) -> None:
    _imported("build", "-q", "stack.yaml", "--format", "all", "--out", "out", cwd=workdir / "full")
    imported = _imported("build", "-q", "stack.yaml", "--format", "all", "--out", "out", cwd=workdir / "full")
    assert not (NEVER | REPLACING) & imported


def test_a_minimal_stack_pays_for_no_optional_component(workdir: Path) -> None:
    imported = _imported("build", "-q", "stack.yaml", "--format", "all", "--out", "out", cwd=workdir / "minimal")
    assert not (NEVER | OPTIONAL) & imported


def test_a_check_the_lock_proves_imports_no_compiler(workdir: Path) -> None:
    _imported("build", "-q", "stack.yaml", "--format", "all", "--out", "out", cwd=workdir / "full")
    imported = _imported("build", "--check", "-q", "stack.yaml", "--format", "all", "--out", "out", cwd=workdir / "full")
    assert not (NEVER | REPLACING | {"kmc.pipeline", "kmc.read.loader", "pathlib", "typing"}) & imported
    assert "kmc.output.lock" in imported


def test_a_build_the_lock_proves_imports_no_compiler_even_to_repeat_its_warnings(workdir: Path) -> None:
    _imported("build", "-q", "stack.yaml", "--format", "all", "--out", "out", cwd=workdir / "full")
    imported = _imported("build", "stack.yaml", "--format", "all", "--out", "out", cwd=workdir / "full")  # golden/full warns
    assert not (NEVER | REPLACING | {"yaml", "kmc.pipeline", "kmc.read.loader", "pathlib", "typing"}) & imported
    assert {"kmc.output.lock", "kmc.commands.report"} <= imported
