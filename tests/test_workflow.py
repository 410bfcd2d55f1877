"""Everyday commands: build --check (and its lock), validate of several stacks, explain,
shell completion, -q, colours."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tools import ROOT

from kmc.commands import report
from kmc.output.lock import LOCK_NAME


def kmc(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmc", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "golden/full/stack.yaml", tmp_path / "stack.yaml")
    shutil.copytree(ROOT / "golden/full/dashboards", tmp_path / "dashboards")
    shutil.copytree(ROOT / "golden/full/monitors", tmp_path / "monitors")
    shutil.copytree(ROOT / "golden/full/.kmc-state", tmp_path / ".kmc-state")
    assert kmc("build", "-q", "stack.yaml", "--format", "all", cwd=tmp_path).returncode == 0
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_check_of_a_fresh_build_is_proven_by_the_lock(built: Path) -> None:
    result = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=built)
    assert result.returncode == 0, result.stderr
    assert "current (" in result.stderr and "; lock;" in result.stderr


def test_rebuild_of_an_unchanged_stack_is_proven_by_the_lock_and_repeats_the_warnings(tmp_path: Path) -> None:
    shutil.copy(ROOT / "golden/full/stack.yaml", tmp_path / "stack.yaml")
    shutil.copytree(ROOT / "golden/full/dashboards", tmp_path / "dashboards")
    shutil.copytree(ROOT / "golden/full/monitors", tmp_path / "monitors")
    shutil.copytree(ROOT / "golden/full/.kmc-state", tmp_path / ".kmc-state")
    first = kmc("build", "stack.yaml", "--format", "all", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    warnings = first.stderr[: first.stderr.index("kmc: ")]
    assert ": warning: " in warnings
    before = snapshot(tmp_path)
    again = kmc("build", "./stack.yaml", "--format", "all", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    # As a compile would name them: the stack, and a monitor file beside it, by the path given.
    assert again.stderr.startswith(warnings.replace("stack.yaml:", "./stack.yaml:").replace("monitors/", "./monitors/")), again.stderr
    assert "current (" in again.stderr and "; lock;" in again.stderr
    assert snapshot(tmp_path) == before


def test_rebuild_after_a_hand_edit_compiles_and_restores_the_file(built: Path) -> None:
    values = built / "charts-out/helm/monitoring-full/values.yaml"
    good = values.read_bytes()
    values.write_text(values.read_text().replace("replicas: 1", "replicas: 4", 1))
    result = kmc("build", "stack.yaml", "--format", "all", cwd=built)
    assert result.returncode == 0, result.stderr
    assert "; lock;" not in result.stderr and " objects, " in result.stderr
    assert values.read_bytes() == good


def test_check_without_lock_compiles_and_compares(built: Path) -> None:
    (built / "charts-out" / LOCK_NAME).unlink()
    result = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=built)
    assert result.returncode == 0, result.stderr
    assert "compiled and compared" in result.stderr


@pytest.mark.parametrize("lock", ["kept", "deleted"])
def test_check_reports_every_drift_and_writes_nothing(built: Path, lock: str) -> None:
    out = built / "charts-out"
    if lock == "deleted":
        (out / LOCK_NAME).unlink()
    values = out / "helm/monitoring-full/values.yaml"
    values.write_text(values.read_text().replace("replicas: 1", "replicas: 4", 1))  # a hand edit
    (out / "manifests/dev/99-stray.yaml").write_text("kind: Stray\n")  # a stray file
    gone = next((out / "kustomize/base").glob("*configmap*"))
    gone.unlink()  # a deleted file
    before = snapshot(built)
    result = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=built)
    assert result.returncode == 1
    assert "changed: charts-out/helm/monitoring-full/values.yaml" in result.stderr
    assert "-  replicas: 4" in result.stderr and "+  replicas: 1" in result.stderr
    assert "unexpected: charts-out/manifests/dev/99-stray.yaml\n" in result.stderr
    assert f"missing: charts-out/kustomize/base/{gone.name}\n" in result.stderr
    assert "3 files differ" in result.stderr
    assert snapshot(built) == before


def test_check_of_a_changed_stack_compiles(built: Path) -> None:
    stack = built / "stack.yaml"
    stack.write_text(stack.read_text().replace("retention: 30d", "retention: 31d"))
    result = kmc("build", "--check", "stack.yaml", cwd=built)
    assert result.returncode == 1
    assert "changed: charts-out/manifests/default/" in result.stderr


def test_check_of_another_stack_is_not_proven_by_this_lock(built: Path) -> None:
    shutil.copy(ROOT / "golden/minimal/stack.yaml", built / "other.yaml")
    result = kmc("build", "--check", "other.yaml", "--format", "all", cwd=built)
    assert result.returncode == 1, result.stderr


def test_lock_fast_path_imports_neither_click_nor_yaml(built: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kmc", "build", "--check", "-q", "stack.yaml", "--format", "all"],
        cwd=built,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert not {"click", "yaml", "jsonschema", "jinja2"} & imported
    assert "kmc.output.lock" in imported


def test_lock_records_inputs_and_outputs(built: Path) -> None:
    lock = json.loads((built / "charts-out" / LOCK_NAME).read_text())
    assert sorted(lock["trees"]) == ["helm", "kustomize", "manifests"]
    # The metrics-server's certificate material is an input too (not the CA key: it only signs).
    # Each is named as the build named it (relative to the stack's directory), with the file it reached (relative to the output).
    state = {f".kmc-state/metrics-server/{name}" for name in ("ca.crt", "tls.crt", "tls.key")}
    for entry in lock["trees"].values():
        inputs = {"stack.yaml", "dashboards/checkout.json", "monitors", "monitors/checkout.yaml", *state}
        assert entry["stack"] == "../stack.yaml" and set(entry["inputs"]) == inputs
        assert entry["inputs"]["dashboards/checkout.json"]["file"] == "../dashboards/checkout.json"
        assert entry["inputs"]["monitors"]["file"] == "listing"  # which files the directory holds
    assert len(lock["trees"]["manifests"]["files"]) == len([path for path in (built / "charts-out/manifests").rglob("*") if path.is_file()])
    # One environment rebuilt: its entry replaces the whole-manifests one, the others stay.
    assert kmc("build", "-q", "stack.yaml", "--env", "dev", cwd=built).returncode == 0
    lock = json.loads((built / "charts-out" / LOCK_NAME).read_text())
    assert sorted(lock["trees"]) == ["helm", "kustomize", "manifests/dev"]
    assert kmc("build", "--check", "stack.yaml", "--env", "dev", cwd=built).returncode == 0


def test_repo_output_is_current() -> None:
    """The repository dogfoods the check: charts-out/ is what stack.yaml builds."""
    result = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_validate_takes_several_stacks_and_fails_if_any_is_invalid(tmp_path: Path) -> None:
    shutil.copy(ROOT / "golden/minimal/stack.yaml", tmp_path / "good.yaml")
    (tmp_path / "bad.yaml").write_text("version: 1\nnamespace: Not_A_Label\n")
    result = kmc("validate", "good.yaml", "bad.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "good.yaml: valid" in result.stdout
    assert "bad.yaml:2:12: error: $.namespace:" in result.stderr


def test_quiet_build_prints_nothing(tmp_path: Path) -> None:
    shutil.copy(ROOT / "golden/minimal/stack.yaml", tmp_path / "stack.yaml")
    for args in (["-q", "build", "stack.yaml"], ["build", "-q", "stack.yaml"]):
        result = kmc(*args, cwd=tmp_path)
        assert result.returncode == 0 and result.stderr == "" and result.stdout == ""


def test_explain_describes_a_key_and_suggests_on_a_typo(tmp_path: Path) -> None:
    result = kmc("explain", "prometheus.retention", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("prometheus.retention: string\n  How long samples are kept")
    assert '  default: "15d"' in result.stdout and "deploy-time parameter" in result.stdout
    top = kmc("explain", cwd=tmp_path)
    assert "keys:" in top.stdout and "    prometheus " in top.stdout
    typo = kmc("explain", "prometheus.servce", cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean prometheus.service?" in typo.stderr


def test_every_schema_key_can_be_explained() -> None:
    from kmc.check.schema import load_schema
    from kmc.commands.explain import explain, paths

    schema = load_schema()
    every = list(paths(schema))
    assert "prometheus.service.nodePort" in every and "environments.<name>.prometheus.replicas" in every
    for path in every:
        assert explain(schema, path).startswith(f"{path}: ")


def test_shell_completion_offers_schema_keys(tmp_path: Path) -> None:
    script = kmc("completion", "bash", cwd=tmp_path)
    assert script.returncode == 0 and "_KMC_COMPLETE" in script.stdout
    env = {**dict(__import__("os").environ), "_KMC_COMPLETE": "bash_complete", "COMP_WORDS": "kmc explain prometheus.ret", "COMP_CWORD": "2"}
    result = kmc(cwd=tmp_path, env=env)
    assert result.stdout.split() == ["plain,prometheus.retention", "plain,prometheus.retentionSize"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colours_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert report.colours_wanted(Terminal()) and not report.colours_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not report.colours_wanted(Terminal())
    text = "s.yaml:1:2: error: $.x: bad\n  hint: fix it\n"
    assert "\033[1;31merror\033[0m" in report.coloured(text) and "\033[36mhint\033[0m" in report.coloured(text)


def test_plain_build_skips_click(built: Path) -> None:
    (built / "charts-out" / LOCK_NAME).unlink()  # so that it compiles
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kmc", "build", "-q", "stack.yaml", "--format", "all"], cwd=built, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "click" not in imported and "kmc.pipeline" in imported


@pytest.mark.parametrize(
    "args",
    [
        ["build", "stack.yaml", "--format", "all"],
        ["-q", "build", "broken.yaml"],
        ["build", "stack.yaml", "--env", "staging"],
        ["build", "--check", "stack.yaml", "--out", "elsewhere"],
        ["build", "-v", "stack.yaml", "--format=helm", "--out=o2"],
    ],
    ids=["build", "invalid", "unknown-env", "stale-check", "verbose"],
)
def test_fast_path_and_click_path_say_the_same(built: Path, args: list[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    """A plain build line runs without click (kmc.commands.entry); the same line through click (kmc.commands.cli) must
    print the same and exit the same."""
    from kmc.commands.argv import parse_build

    assert parse_build(args) is not None
    (built / "broken.yaml").write_text("version: 1\nprometheus:\n  replicas: many\n")
    runs = []
    for module in ("kmc", "kmc.commands.cli"):
        code = (
            "import sys; from kmc.commands.cli import main; sys.argv[0] = 'kmc'; main()"
            if module == "kmc.commands.cli"
            else "from kmc.commands.entry import main; main()"
        )
        workdir = tmp_path_factory.mktemp(module) / "stack"  # each from the same start: the first run's output would change the second's
        shutil.copytree(built, workdir)
        result = subprocess.run([sys.executable, "-c", code, *args], cwd=workdir, capture_output=True, text=True, timeout=120)
        runs.append((result.returncode, re.sub(r"\(\d+\.\d\ds\)|\d+\.\d\ds\)", "(T)", result.stderr), result.stdout))
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "stack.yaml"],
        ["-q", "validate", "stack.yaml"],
        ["validate", "broken.yaml"],
        ["validate", "stack.yaml", "broken.yaml", "-v"],
        ["validate", "--output-format", "json", "stack.yaml", "broken.yaml"],
        ["validate", "--output-format=json", "stack.yaml"],
    ],
    ids=["valid", "quiet", "invalid", "two", "json", "json-valid"],
)
def test_validate_says_the_same_without_click(built: Path, args: list[str]) -> None:
    from kmc.commands.argv import parse_validate

    assert parse_validate(args) is not None
    (built / "broken.yaml").write_text("version: 1\nprometheus:\n  replicas: many\n")
    runs = []
    for code in ("from kmc.commands.entry import main; main()", "import sys; from kmc.commands.cli import main; sys.argv[0] = 'kmc'; main()"):
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], cwd=built, capture_output=True, text=True, timeout=120)
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
        stderr = "".join(line for line in result.stderr.splitlines(keepends=True) if not line.startswith("import time:"))
        runs.append((result.returncode, stderr, result.stdout, "click" in imported))
    assert runs[0][:3] == runs[1][:3]
    assert (runs[0][3], runs[1][3]) == (False, True)


def test_anything_else_goes_to_click() -> None:
    from kmc.commands.argv import parse_build, parse_validate

    for args in (
        ["build", "--help"],
        ["build"],
        ["build", "a.yaml", "b.yaml"],
        ["build", "s.yaml", "--format", "yaml"],
        ["validate", "s.yaml"],
        ["build", "s.yaml", "--out", "a", "--out", "b"],
    ):
        assert parse_build(args) is None, args
    for args in (["validate"], ["validate", "--help"], ["validate", "s.yaml", "--output-format", "xml"], ["validate", "s.yaml", "--output-format"]):
        assert parse_validate(args) is None, args
    line = parse_build(["-q", "build", "--env=dev", "s.yaml", "--check", "--out", "o"])
    assert line is not None and (line.stack, line.out, line.env, line.check, line.quiet, line.fmt) == (
        "s.yaml",
        "o",
        "dev",
        True,
        True,
        "manifests",
    )


def test_lock_watches_the_dashboard_files_the_stack_names(built: Path) -> None:
    """A vendored dashboard is an input: editing it must defeat the lock's shortcut."""
    lock = json.loads((built / "charts-out" / LOCK_NAME).read_text())
    assert "dashboards/checkout.json" in lock["trees"]["manifests"]["inputs"]
    board = built / "dashboards/checkout.json"
    board.write_text(board.read_text().replace('"title": "', '"title": "Edited ', 1))
    result = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=built)
    assert result.returncode == 1, result.stderr
    assert "changed: charts-out/manifests/default/" in result.stderr


@pytest.mark.parametrize("directory", ["charts-out", "./out/", "a//b/./c", "/", "//net/x", "///x", ".", "", "../up", "a/../b"])
def test_fast_path_prints_paths_as_pathlib_does(directory: str) -> None:
    from kmc.commands.argv import shown

    assert shown(directory, "manifests/dev") == str(Path(directory) / "manifests/dev")


def test_a_file_added_to_a_directory_the_stack_names_is_a_changed_input(built: Path) -> None:
    """The stack names the directory monitors/: a file added there (even one kmc skips) is read by
    the next build, so the lock no longer vouches for the output; removing it makes it current again."""
    from kmc.output import lock

    out, stack = built / "charts-out", built / "stack.yaml"
    names = ["helm", "kustomize", "manifests"]
    assert lock.current(out, stack, names) is not None
    added = built / "monitors" / "more.yaml"
    added.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated, namespace: shop}\n")
    assert lock.current(out, stack, names) is None
    added.unlink()
    assert lock.current(out, stack, names) is not None
