"""The CLI's contract beyond bad input: a kmc bug exits 3 with a traceback and a plea to report it;
Ctrl-C exits 130; a good build prints a one-line summary and writes the documented layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmc import pipeline
from kmc.commands import cli


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    return int(exit_info.value.code or 0)


def test_a_bug_exits_3_with_a_traceback(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(pipeline, "compile_stack", broken)
    (tmp_path / "stack.yaml").write_text("version: 1\n")
    assert _run(["validate", str(tmp_path / "stack.yaml")]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: simulated bug" in err
    assert "internal error; please report it with the stack that caused it" in err


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "compile_stack", interrupted)
    (tmp_path / "stack.yaml").write_text("version: 1\n")
    assert _run(["validate", str(tmp_path / "stack.yaml")]) == 130
    assert capsys.readouterr().err.strip() == "kmc: interrupted"  # click ends the ^C line first


def test_build_writes_the_documented_layout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text("version: 1\nenvironments:\n  prod:\n    prometheus: {replicas: 2}\n")
    assert _run(["build", str(tmp_path / "stack.yaml"), "--format", "all", "--out", str(tmp_path / "out")]) == 0
    summary = capsys.readouterr().err.splitlines()[-1]  # after the warning about replicas without prometheus.ha
    assert summary.startswith("kmc: 17 objects, ") and " files in " in summary  # 15 + the rules ConfigMap + prod's PodDisruptionBudget
    out = tmp_path / "out"
    assert sorted(path.name for path in (out / "manifests").iterdir()) == ["default", "prod"]
    assert (out / "manifests/default/00-namespace-monitoring.yaml").is_file()
    assert sorted(path.name for path in (out / "kustomize").iterdir()) == ["base", "components", "overlays"]
    assert sorted(path.name for path in (out / "kustomize/overlays").iterdir()) == ["default", "prod"]


def test_env_build_replaces_only_that_environment(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text("version: 1\nenvironments:\n  prod:\n    prometheus: {replicas: 2}\n")
    out = tmp_path / "out"
    assert _run(["build", str(tmp_path / "stack.yaml"), "--out", str(out)]) == 0
    default_before = {path: path.read_bytes() for path in (out / "manifests/default").iterdir()}
    (out / "manifests/prod/stale.yaml").write_text("left over\n")
    assert _run(["build", str(tmp_path / "stack.yaml"), "--out", str(out), "--env", "prod"]) == 0
    assert not (out / "manifests/prod/stale.yaml").exists()
    assert {path: path.read_bytes() for path in (out / "manifests/default").iterdir()} == default_before


def test_images_lists_each_image_once_sorted_on_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(
        "version: 1\nimages: {registry: mirror.example.com:5000/kmc}\nenvironments:\n  lean:\n    nodeExporter: {enabled: false}\n    kubeStateMetrics: {enabled: false}\n"
    )
    assert _run(["images", str(tmp_path / "stack.yaml"), "--env", "lean"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == [
        "mirror.example.com:5000/kmc/prometheus-operator/prometheus-config-reloader:v0.93.0",
        "mirror.example.com:5000/kmc/prometheus/prometheus:v3.5.0",
    ]
    assert _run(["images", str(tmp_path / "stack.yaml"), "--env", "nope"]) == 2
