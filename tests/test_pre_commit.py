"""kmc's pre-commit hooks, run by the real pre-commit framework on a temporary git repository
holding a stack and its compiled output.

`pre-commit try-repo` would install kmc into a fresh hook environment on every run (it keeps
its store in a temporary directory). So the module does once what try-repo does (a commit of
this checkout, uncommitted changes included) and each test runs `pre-commit run` with a config
naming that commit and one store: kmc is installed once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tools import ROOT

pytestmark = pytest.mark.slow


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture(scope="module")
def hooks_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pre-commit config naming kmc's hooks at a commit of this checkout as it is on disk
    (tracked files with their uncommitted changes, as `pre-commit try-repo` takes them)."""
    home = tmp_path_factory.mktemp("pre-commit")
    shadow = home / "kmc"
    git(home, "clone", "-q", str(ROOT), str(shadow))
    git(shadow, "checkout", "-q", "-b", "checked-out", git(ROOT, "rev-parse", "HEAD").strip())
    diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=ROOT, check=True, capture_output=True).stdout
    if diff:
        subprocess.run(["git", "apply", "--index"], cwd=shadow, input=diff, check=True, capture_output=True)
        git(shadow, "commit", "-q", "--no-verify", "-m", "uncommitted changes")
    manifest = yaml.safe_load((shadow / ".pre-commit-hooks.yaml").read_text())
    config = {"repos": [{"repo": str(shadow), "rev": git(shadow, "rev-parse", "HEAD").strip(), "hooks": [{"id": hook["id"]} for hook in manifest]}]}
    path = home / "pre-commit-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def try_repo(repo: Path, config: Path, hook: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`pre-commit run HOOK ARGS` in `repo` with kmc's hooks (one store for the module: kmc is installed once)."""
    env = {**os.environ, "PRE_COMMIT_HOME": str(config.parent / "store"), "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)
    command = [sys.executable, "-m", "pre_commit", "run", hook, "--config", str(config), "--color", "never", *args]
    return subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with golden/minimal's stack and its output, committed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "golden/minimal/stack.yaml", repo / "stack.yaml")
    subprocess.run([sys.executable, "-m", "kmc", "build", "-q", "stack.yaml", "--format", "all"], cwd=repo, check=True)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "stack")
    return repo


def test_check_passes_on_current_output_and_fails_on_stale(repo: Path, hooks_config: Path) -> None:
    current = try_repo(repo, hooks_config, "kmc-check", "--all-files")
    assert current.returncode == 0, current.stdout + current.stderr
    assert "Passed" in current.stdout
    values = next((repo / "charts-out/manifests/default").glob("*deployment-prometheus.yaml"))
    values.write_text(values.read_text().replace("replicas: 1", "replicas: 3"))
    stale = try_repo(repo, hooks_config, "kmc-check", "--all-files")
    assert stale.returncode == 1, stale.stdout
    assert "Failed" in stale.stdout and f"changed: charts-out/manifests/default/{values.name}" in stale.stdout
    assert values.read_text().count("replicas: 3") == 1  # --check writes nothing


def test_build_rewrites_stale_output_and_then_passes(repo: Path, hooks_config: Path) -> None:
    (repo / "stack.yaml").write_text((repo / "stack.yaml").read_text() + "environments:\n  dev:\n    prometheus: {retention: 2d}\n")
    changed = try_repo(repo, hooks_config, "kmc-build", "--all-files")
    assert changed.returncode == 1, changed.stdout  # pre-commit's rule: a hook that changed files fails
    assert "files were modified by this hook" in changed.stdout
    assert (repo / "charts-out/manifests/dev").is_dir()
    again = try_repo(repo, hooks_config, "kmc-build", "--all-files")
    assert again.returncode == 0, again.stdout


def test_validate_fails_with_the_located_error(repo: Path, hooks_config: Path) -> None:
    (repo / "stack.yaml").write_text("version: 1\nprometheus:\n  replicas: many\n")
    invalid = try_repo(repo, hooks_config, "kmc-validate", "--files", "stack.yaml")
    assert invalid.returncode == 1, invalid.stdout
    assert "stack.yaml:3:13: error: $.prometheus.replicas:" in invalid.stdout


@pytest.mark.parametrize("hook", ["kmc-check", "kmc-build"])
def test_a_commit_of_only_a_file_the_stack_names_runs_the_hooks(tmp_path: Path, hooks_config: Path, hook: str) -> None:
    """The output depends on the dashboards the stack names: a commit that stages only one of them
    must not let stale output through (no `files:` pattern can know what a stack names)."""
    repo = tmp_path / "repo"
    (repo / "boards").mkdir(parents=True)
    (repo / "boards/app.json").write_text('{"title": "App", "panels": []}\n')
    (repo / "stack.yaml").write_text("version: 1\ngrafana:\n  enabled: true\n  dashboards:\n    files:\n      - file: boards/app.json\n")
    subprocess.run([sys.executable, "-m", "kmc", "build", "-q", "stack.yaml", "--format", "all"], cwd=repo, check=True)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "stack")
    (repo / "boards/app.json").write_text('{"title": "App, renamed", "panels": []}\n')
    git(repo, "add", "boards/app.json")
    staged = try_repo(repo, hooks_config, hook)  # on the staged files, as a commit runs it
    assert staged.returncode == 1, staged.stdout
    assert "Failed" in staged.stdout and "Skipped" not in staged.stdout
