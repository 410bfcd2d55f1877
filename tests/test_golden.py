"""Golden cases: what kmc builds for each golden/<case>/stack.yaml equals the committed tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden_trees import REFRESH, flatten, read_tree, tree_diff

from kmc import pipeline, record

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted(path.parent for path in ROOT.glob("golden/*/stack.yaml"))
# The repo's own stack and its committed output (kept current like a golden case).
BUILDS = [pytest.param(case / "stack.yaml", case / "out", id=case.name) for case in CASES]
BUILDS.append(pytest.param(ROOT / "stack.yaml", ROOT / "charts-out", id="charts-out"))


def test_required_cases_exist() -> None:
    assert {"minimal", "full", "custom-prefix"} <= {case.name for case in CASES}


@pytest.mark.parametrize(("stack", "out"), BUILDS)
def test_build_matches_golden(stack: Path, out: Path) -> None:
    compiled = pipeline.compile_stack(stack)
    built = flatten(pipeline.emit(compiled, pipeline.FORMATS, None))
    diff = tree_diff(read_tree(out), built)
    assert not diff, f"{stack.relative_to(ROOT)} no longer builds {out.relative_to(ROOT)}; if the change is intended, run {REFRESH}\n{diff}"


@pytest.mark.parametrize(("stack", "out"), BUILDS)
def test_single_environment_build_equals_its_part_of_the_full_build(stack: Path, out: Path) -> None:
    compiled = pipeline.compile_stack(stack)
    everything = flatten(pipeline.emit(compiled, ("manifests",), None))
    for env in ["default", *compiled.stack.environments]:
        alone = flatten(pipeline.emit(compiled, ("manifests",), env))
        assert alone == {name: content for name, content in everything.items() if name.startswith(f"manifests/{env}/")}


def test_full_case_enables_every_component() -> None:
    from kmc.components import COMPONENTS

    compiled = pipeline.compile_stack(ROOT / "golden/full/stack.yaml")
    assert {obj.component for obj in compiled.graph.objects} == set(COMPONENTS)
    kube = compiled.stack.scrape.kubernetes
    assert all(getattr(kube, field).enabled for field in record.fields(kube))
