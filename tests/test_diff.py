"""`kmc diff`: object-level changes against a directory or a git revision, with the fields that
force a delete and recreate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tools import ROOT

from kmc.output.objdiff import diff, fields


def kmc(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmc", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose stacks/ directory holds golden/full's stack, committed."""
    (tmp_path / "stacks").mkdir()
    shutil.copy(ROOT / "golden/full/stack.yaml", tmp_path / "stacks/stack.yaml")
    shutil.copytree(ROOT / "golden/full/dashboards", tmp_path / "stacks/dashboards")
    shutil.copytree(ROOT / "golden/full/monitors", tmp_path / "stacks/monitors")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "stack")
    # Its certificate state, kept out of git as users keep it (diff reads it for every revision).
    shutil.copytree(ROOT / "golden/full/.kmc-state", tmp_path / "stacks/.kmc-state")
    return tmp_path


def edit(stack: Path, old: str, new: str) -> None:
    text = stack.read_text()
    assert old in text
    stack.write_text(text.replace(old, new, 1))


def test_unchanged_stack_has_no_difference_with_head(repo: Path) -> None:
    result = kmc("diff", "stack.yaml", cwd=repo / "stacks")
    assert result.returncode == 0, result.stderr
    assert "no difference between HEAD:stacks/stack.yaml and stack.yaml" in result.stderr


def test_changes_against_head_with_field_paths_and_recreate_flags(repo: Path) -> None:
    stack = repo / "stacks/stack.yaml"
    edit(stack, "retention: 30d", "retention: 45d")
    edit(stack, "size: 100Gi", "size: 200Gi")
    edit(stack, "nodeExporter:\n  enabled: true", "nodeExporter:\n  enabled: false")
    result = kmc("diff", "stack.yaml", "--rev", "HEAD", cwd=stack.parent)
    assert result.returncode == 4, result.stderr
    out = result.stdout
    assert "~ StatefulSet.apps monitoring/prometheus" in out
    assert 'spec.template.spec.containers[prometheus].args[2]: "--storage.tsdb.retention.time=30d" -> "--storage.tsdb.retention.time=45d"' in out
    assert "! delete and recreate needed: spec.volumeClaimTemplates[0].spec.resources.requests.storage cannot be changed in place" in out
    assert "- DaemonSet.apps monitoring/node-exporter  (no longer built" in out
    assert 'metadata.labels.pod-security.kubernetes.io/enforce: "privileged" -> "restricted"' in out
    assert "need delete and recreate" in result.stderr


def test_against_a_directory_of_manifests(repo: Path, tmp_path: Path) -> None:
    stacks = repo / "stacks"
    assert kmc("build", "-q", "stack.yaml", "--out", tmp_path / "out", cwd=stacks).returncode == 0
    same = kmc("diff", "stack.yaml", "--against", tmp_path / "out", "--env", "prod", cwd=stacks)
    assert same.returncode == 0, same.stderr + same.stdout
    edit(stacks / "stack.yaml", "retention: 30d", "retention: 31d")
    changed = kmc("diff", "stack.yaml", "--against", tmp_path / "out/manifests/default", cwd=stacks)
    assert changed.returncode == 4 and "retention.time=31d" in changed.stdout


def test_bad_revision_is_one_line_and_exit_1(repo: Path) -> None:
    result = kmc("diff", "stack.yaml", "--rev", "no-such-rev", cwd=repo / "stacks")
    assert result.returncode == 1
    assert result.stderr.startswith("kmc: error: git knows no revision 'no-such-rev': ") and len(result.stderr.strip().splitlines()) == 1


def test_outside_a_git_repository_says_so_and_names_the_way_out(tmp_path: Path) -> None:
    shutil.copy(ROOT / "golden/minimal/stack.yaml", tmp_path / "stack.yaml")
    result = kmc("diff", "stack.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "kmc: error: stack.yaml is not in a git repository, so there is no committed stack to compare with: "
        "compare with --against DIR (a directory of manifests, or an output directory such as charts-out)\n"
    )
    assert "fatal" not in result.stderr


def test_a_repository_without_commits_says_so(tmp_path: Path) -> None:
    shutil.copy(ROOT / "golden/minimal/stack.yaml", tmp_path / "stack.yaml")
    git(tmp_path, "init", "-q")
    result = kmc("diff", "stack.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("kmc: error: the repository has no commit yet: commit the stack first") and "fatal" not in result.stderr


def test_immutable_fields_by_kind() -> None:
    def workload(kind: str, **spec: object) -> dict[str, object]:
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w", "namespace": "n"}, "spec": spec}

    (item,) = diff(
        [workload("Deployment", selector={"matchLabels": {"a": "1"}}, replicas=1)], [workload("Deployment", selector={"matchLabels": {"a": "2"}}, replicas=2)]
    )
    assert item.recreate == ("spec.selector.matchLabels.a",)
    (item,) = diff([workload("Deployment", replicas=1)], [workload("Deployment", replicas=2)])
    assert item.recreate == ()
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "b"}, "roleRef": {"name": "x"}}
    (item,) = diff([binding], [{**binding, "roleRef": {"name": "y"}}])
    assert item.recreate == ("roleRef.name",)
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}, "immutable": True, "data": {"k": "1"}}
    (item,) = diff([config], [{**config, "data": {"k": "2"}}])
    assert item.recreate == ("data.k",)


def test_named_list_items_are_matched_by_name() -> None:
    old = {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}
    new = {"containers": [{"name": "b", "image": "y:2"}, {"name": "a", "image": "x:1"}]}
    assert [(c.path, c.old, c.new) for c in fields(old, new)] == [("containers[b].image", "y:1", "y:2")]
