"""The writer is atomic: a failure at any write leaves the previous output byte-identical and no temp dir.

A successful run is recorded first: every call the writer makes that changes the file system
(`os.mkdir`, temporary directories included; `Path.chmod`; the writer's `open` of each new file;
`os.rename`; `tempfile.mkdtemp` too, should the writer use it). Then the same write is repeated
once per recorded call, that call failing as a full disk would (a file write leaves half the file
behind first); a file write between two others is skipped, as it fails just as its neighbours do. Each time the writer must raise its `WriteError`, the output directory must be
exactly as before, and no `.kmc-tmp-*` directory may remain; a retry must then succeed.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from kmc import pipeline
from kmc.commands import cli
from kmc.output import writer
from kmc.output.writer import TEMP_PREFIX, WriteError, write_trees

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "golden" / "full" / "stack.yaml"
Trees = Mapping[str, Mapping[str, bytes]]
Snapshot = dict[str, tuple[int, bytes | None]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under `root`: permission bits, and bytes for files (None for directories)."""
    if not root.exists():
        return {}
    return {
        path.relative_to(root).as_posix(): (stat.S_IMODE(path.lstat().st_mode), path.read_bytes() if path.is_file() else None)
        for path in sorted(root.rglob("*"))
    }


def restore(state: Snapshot, root: Path) -> None:
    """Recreate the entries of a snapshot under `root` (directories first: the snapshot is sorted)."""
    for name, (mode, content) in state.items():
        path = root / name
        if content is None:
            path.mkdir(exist_ok=True)
        else:
            path.write_bytes(content)
        path.chmod(mode)


def temp_dirs(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob(f"{TEMP_PREFIX}*"))


def trees(formats: tuple[pipeline.Format, ...], env: str | None, stack: Path = STACK) -> Trees:
    return pipeline.emit(pipeline.compile_stack(stack), formats, env)


MINIMAL = ROOT / "golden" / "minimal" / "stack.yaml"  # a previous build that differs (a current one is left alone)


class Writes:
    """Wraps the file-system-changing calls the writer makes; records them, fails the `fail_at`-th and those `fails` picks."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None, fails: Callable[[str, tuple[Any, ...]], bool] | None = None) -> None:
        self.calls: list[str] = []
        self.fail_at = fail_at
        self.fails = fails or (lambda name, args: False)
        originals: dict[tuple[Any, str], Callable[..., Any]] = {
            (os, "mkdir"): os.mkdir,
            (Path, "chmod"): Path.chmod,
            (tempfile, "mkdtemp"): tempfile.mkdtemp,
            (os, "rename"): os.rename,
        }
        for (owner, name), original in originals.items():
            monkeypatch.setattr(owner, name, self._wrap(name, original))
        monkeypatch.setattr(writer, "open", self._open, raising=False)  # the writer's own `open`: files it writes and reads

    def _wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(f"{name}{tuple(str(arg) for arg in args)}")
            if len(self.calls) - 1 == self.fail_at or self.fails(name, args):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return original(*args, **kwargs)

        return call

    def _open(self, path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        """Records and may fail an `open` that creates or changes a file; a read only reads."""
        if not set(mode) & set("wxa+"):
            return open(path, mode, *args, **kwargs)
        self.calls.append(f"open{(str(path), mode)}")
        if len(self.calls) - 1 == self.fail_at or self.fails("open", (path, mode)):
            return _FullDisk(open(path, mode, *args, **kwargs))
        return open(path, mode, *args, **kwargs)


class _FullDisk:
    """A file opened for writing on a disk that fills up: a write takes part of its data, then fails."""

    def __init__(self, file: Any) -> None:
        self.file = file

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def close(self) -> None:
        self.file.close()

    def write(self, content: bytes) -> int:
        self.file.write(content[: len(content) // 2])
        self.file.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _failure_points(calls: list[str]) -> list[tuple[int, str]]:
    """The recorded calls worth failing: all but a file write between two file writes.

    Such a write fails inside the writer's loop over one staged tree, with the same trees staged
    and none swapped as its neighbours; only the number of files already in the staging directory
    differs, and the roll-back removes that directory whole. Traced line by line, each of them
    runs exactly the writer lines of the write before it, so failing them adds no case. The first
    and last write of each tree, and every write after a new directory, stay.
    """
    kinds = [call.split("(")[0] for call in calls]
    return [
        (index, call)
        for index, call in enumerate(calls)
        if kinds[index] != "open" or index in (0, len(calls) - 1) or kinds[index - 1] != "open" or kinds[index + 1] != "open"
    ]


SCENARIOS = [
    pytest.param(pipeline.FORMATS, None, True, id="every-format-over-a-previous-build"),
    pytest.param(("manifests",), "dev", True, id="one-environment-over-a-previous-build"),
    pytest.param(pipeline.FORMATS, None, False, id="every-format-into-nothing"),
    pytest.param(("manifests",), "dev", False, id="one-environment-into-nothing"),
]


@pytest.mark.parametrize(("formats", "env", "previous"), SCENARIOS)
def test_a_failure_at_any_write_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, formats: tuple[pipeline.Format, ...], env: str | None, previous: bool
) -> None:
    out = tmp_path / "out"
    built = trees(formats, env)
    if previous:  # an older build of another stack: different files, some of the same names
        write_trees(out, trees(pipeline.FORMATS, None, MINIMAL))
        (out / "notes.txt").write_text("the user's own file\n")
    before = snapshot(tmp_path)

    rehearsal = tmp_path / "rehearsal" / "out"  # the same write on a copy, to count its calls
    if previous:
        shutil.copytree(out, rehearsal, symlinks=True)
    else:
        rehearsal.parent.mkdir()
    with monkeypatch.context() as patch:
        recorder = Writes(patch)
        write_trees(rehearsal, built)
    shutil.rmtree(rehearsal.parent)
    kinds = {call.split("(")[0] for call in recorder.calls}
    assert {"mkdir", "chmod", "open", "rename"} <= kinds <= {"mkdir", "mkdtemp", "chmod", "open", "rename"}
    assert sum(call.startswith("open(") for call in recorder.calls) == sum(map(len, built.values()))  # every file written is a failure point

    broken = []
    points = _failure_points(recorder.calls)
    for index, call in points:
        with monkeypatch.context() as patch:
            Writes(patch, fail_at=index)
            try:
                write_trees(out, built)
                error = "no error"
            except WriteError as failure:
                error = str(failure)
        after = snapshot(tmp_path)
        changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
        if error != f"cannot write {out}: No space left on device; the previous output is unchanged" or changed:
            broken.append(f"write {index + 1} ({call.replace(str(rehearsal), 'OUT')}): {error}; changed: {changed}")
            shutil.rmtree(tmp_path / "out", ignore_errors=True)  # back to the previous state for the next case
            if previous:
                restore(before, tmp_path)
    assert not broken, f"{len(broken)} of {len(points)} failure points break atomicity:\n" + "\n".join(broken)

    write_trees(out, built)
    for subtree, files in built.items():
        assert {name: content for name, (_, content) in snapshot(out / subtree).items() if content is not None} == files, f"the retry of {subtree}"
    assert temp_dirs(tmp_path) == []


def test_a_failed_roll_back_says_where_the_previous_output_is(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_trees(out, trees(("kustomize", "manifests"), None, MINIMAL))
    previous_kustomize = snapshot(out / "kustomize")

    def fails(name: str, args: tuple[Any, ...]) -> bool:
        if name != "rename":
            return False
        source, destination = map(Path, args)
        swap_in = source.name.startswith(TEMP_PREFIX) and destination == out / "manifests"  # kustomize is swapped by then
        put_back = source.name == "previous" and destination == out / "kustomize"
        return swap_in or put_back

    Writes(monkeypatch, fails=fails)
    with pytest.raises(WriteError) as failure:
        write_trees(out, trees(("kustomize", "manifests"), None))

    message = str(failure.value)
    assert message.startswith(f"cannot write {out}: No space left on device; restoring the previous output failed too, it is still in: ")
    stranded = Path(message.rsplit(": ", 1)[1])
    assert stranded.parent.parent == out and stranded.parent.name.startswith(TEMP_PREFIX)
    assert snapshot(stranded) == previous_kustomize


def test_the_cli_reports_a_failed_write_and_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    write_trees(out, trees(pipeline.FORMATS, None, MINIMAL))
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    Writes(monkeypatch, fail_at=3)

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["build", str(STACK), "--format", "all", "--out", "out"])

    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "kmc: error: cannot write out: No space left on device; the previous output is unchanged\n"
    assert snapshot(tmp_path) == before


def test_a_current_subtree_is_left_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "out"
    built = trees(pipeline.FORMATS, None)
    write_trees(out, built)
    before = {path: path.stat().st_mtime_ns for path in out.rglob("*")}
    with monkeypatch.context() as patch:
        recorder = Writes(patch)
        write_trees(out, built)
    assert recorder.calls == []
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*")} == before


@pytest.mark.parametrize("change", ["edited", "extra-file", "missing-file", "empty-dir", "symlink"])
def test_a_subtree_that_differs_in_any_way_is_rewritten(tmp_path: Path, change: str) -> None:
    out = tmp_path / "out"
    built = trees(("manifests",), None)
    write_trees(out, built)
    first = sorted(built["manifests"])[0]
    if change == "edited":
        (out / "manifests" / first).write_bytes(b"edited by hand\n")
    elif change == "extra-file":
        (out / "manifests" / "stray.yaml").write_bytes(b"{}\n")
    elif change == "missing-file":
        (out / "manifests" / first).unlink()
    elif change == "empty-dir":
        (out / "manifests" / "empty").mkdir()
    else:
        target = out / "manifests" / first
        (tmp_path / "elsewhere").write_bytes(target.read_bytes())
        target.unlink()
        target.symlink_to(tmp_path / "elsewhere")
    write_trees(out, built)
    assert snapshot(out / "manifests") == {
        **{directory: (0o755, None) for directory in {str(Path(name).parent) for name in built["manifests"]} - {"."}},
        **{name: (0o644, content) for name, content in built["manifests"].items()},
    }
