"""Whenever the lock says "current", a fresh build into another directory writes exactly the files on
disk: under random edits of the stack and of a dashboard, re-pointed symlinks (a dashboard file, the
dashboards directory), edits saved while a build runs, and entries added to the output tree."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kmc import pipeline
from kmc.output import lock

FORMATS: tuple[pipeline.Format, ...] = ("manifests",)
NAMES = lock.subtrees(FORMATS, None)
STACKS = (
    "version: 1\ngrafana:\n  enabled: true\n  dashboards:\n    files: [{file: dashboards/app.json}]\n"
    "metricsServer:\n  enabled: true\n  tls: {mode: generate, keyType: ecdsa-p256}\ncertificates: {keysInOutput: true}\n",
    "version: 1\ngrafana:\n  enabled: true\n  dashboards:\n    files: [{file: dashboards/app.json}]\n"
    "metricsServer:\n  enabled: true\n  tls: {mode: generate, keyType: ecdsa-p256}\n",
    "version: 1\nnamespace: observability\ngrafana:\n  enabled: true\n  dashboards:\n    files: [{file: dashboards/app.json, folder: Apps}]\n",
)
TITLES = ("A", "B")

ops = st.one_of(
    st.just(("build",)),
    st.tuples(st.just("stack"), st.integers(0, len(STACKS) - 1)),
    st.tuples(st.just("title"), st.sampled_from(("boards-a", "boards-b")), st.sampled_from(("one", "two")), st.sampled_from(TITLES)),
    st.tuples(st.just("link-file"), st.sampled_from(("boards-a", "boards-b")), st.sampled_from(("one", "two"))),
    st.tuples(st.just("link-dir"), st.sampled_from(("boards-a", "boards-b"))),
    st.tuples(st.just("saved-during-build"), st.integers(0, len(STACKS) - 1), st.sampled_from(TITLES)),
    st.tuples(st.just("stray"), st.sampled_from(("file", "symlink", "empty-dir", "fifo", "linked-dir"))),
)


def board(title: str) -> str:
    return json.dumps({"title": title, "panels": []}) + "\n"


def repoint(link: Path, target: str) -> None:
    link.unlink()
    link.symlink_to(target)


def files(out: Path) -> dict[str, bytes]:
    return {f"{name}/{path}": content for name in NAMES for path, content in lock.disk_tree(out / name).items()}


def apply(case: Path, op: tuple[object, ...]) -> None:
    out = case / "charts-out"
    kind = op[0]
    if kind == "build":
        pipeline.build(case / "stack.yaml", out, FORMATS, None)
    elif kind == "stack":
        (case / "stack.yaml").write_text(STACKS[int(str(op[1]))])
    elif kind == "title":
        (case / str(op[1]) / f"{op[2]}.json").write_text(board(str(op[3])))
    elif kind == "link-file":
        repoint(case / str(op[1]) / "app.json", f"{op[2]}.json")
    elif kind == "link-dir":
        repoint(case / "dashboards", str(op[1]))
    elif kind == "saved-during-build":
        emit = pipeline.emit_with_needs

        def saved(*args: object, **kwargs: object) -> object:
            (case / "stack.yaml").write_text(STACKS[int(str(op[1]))])
            (case / "dashboards/app.json").write_text(board(str(op[2])))  # through both links
            return emit(*args, **kwargs)  # type: ignore[arg-type]

        pipeline.emit_with_needs = saved  # type: ignore[assignment]
        try:
            pipeline.build(case / "stack.yaml", out, FORMATS, None)
        finally:
            pipeline.emit_with_needs = emit
    elif kind == "stray" and out.is_dir():
        where = out / "manifests/default"
        if not where.is_dir():
            return
        stray = op[1]
        if stray == "file":
            (where / "extra.yaml").write_text("kind: Stray\n")
        elif stray == "symlink":
            os.symlink(case / "stack.yaml", where / "linked.yaml")
        elif stray == "empty-dir":
            (where / "empty").mkdir(exist_ok=True)
        elif stray == "fifo" and not (where / "fifo").exists():
            os.mkfifo(where / "fifo")
        elif stray == "linked-dir" and not (where / "linked").exists():
            os.symlink(case / "boards-a", where / "linked")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=4))
def test_current_means_a_fresh_build_writes_the_same_bytes(steps: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        case = Path(directory)
        for boards in ("boards-a", "boards-b"):
            (case / boards).mkdir()
            for name in ("one", "two"):
                (case / boards / f"{name}.json").write_text(board(f"{boards} {name}"))
            (case / boards / "app.json").symlink_to("one.json")
        (case / "dashboards").symlink_to("boards-a")
        (case / "stack.yaml").write_text(STACKS[0])
        pipeline.build(case / "stack.yaml", case / "charts-out", FORMATS, None)
        for step in steps:
            apply(case, step)
            if lock.current(case / "charts-out", case / "stack.yaml", NAMES) is None:
                continue
            event("the lock said current")
            fresh = case / "fresh"
            shutil.rmtree(fresh, ignore_errors=True)
            pipeline.build(case / "stack.yaml", fresh, FORMATS, None)
            assert files(fresh) == files(case / "charts-out"), step
