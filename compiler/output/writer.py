"""The only code that touches the output directory.

Each built subtree (e.g. `manifests`, or `manifests/prod` for one environment) is written into a
temporary sibling directory first and then swapped in with renames. The swaps of one build are
one unit: if any step fails, the subtrees already swapped are swapped back, so a failure leaves
the previous output as it was, no partial tree and no directory the build created behind;
files that are no longer produced disappear with the old tree. A subtree that already holds
exactly the built files is left alone: a rebuild of an unchanged stack writes nothing (and costs
reads, not writes, renames and a tree removal).

A subtree holds only what kmc writes: a symlink, an empty directory, a FIFO, a device or a file
kmc did not write makes it differ, and the swap replaces it (a symlink is removed, never
followed; a FIFO is never opened). A subtree that is itself a symlink or a file is refused: it
is not kmc's to replace.

Staging directories (`.kmc-tmp-*`) may hold private keys (`certificates.keysInOutput`), so none
may outlive the build that made it, even one killed with SIGKILL. Every build holds a shared
flock on OUT while it writes; a build that gets the lock exclusively knows no other build is
writing, so every staging directory there was left by a dead one, and removes it first. The
kernel drops a dead process's flock: nothing to clean up by hand.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from kmc.errors import KmcError
from kmc.output.lock import TEMP_PREFIX, scan, staging_dirs

__all__ = ["TEMP_PREFIX", "WriteError", "stale_staging", "write_trees"]


class WriteError(KmcError):
    """The output directory could not be written."""


def write_trees(out: Path, trees: Mapping[str, Mapping[str, bytes]]) -> None:
    """Replace each `out/<subtree>` by exactly the given files (relative path → content)."""
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise WriteError(f"cannot write {out}: it is not a directory; the previous output is unchanged")
    created: list[Path] = []  # directories above the subtrees that this write made, outermost first
    try:
        _make_parents(out, created)
    except OSError as err:
        raise WriteError(f"cannot write {out}: {err.strerror or err}; the previous output is unchanged") from None
    with _writing(out):
        _write_locked(out, trees, created)


def _write_locked(out: Path, trees: Mapping[str, Mapping[str, bytes]], created: list[Path]) -> None:
    trees = {subtree: files for subtree, files in trees.items() if not _holds(out / subtree, files)}
    if not trees:
        return
    for subtree in trees:
        parts = subtree.split("/")
        for depth in range(1, len(parts) + 1):
            place = out.joinpath(*parts[:depth])
            if place.is_symlink() or (place.exists() and not place.is_dir()):
                what = "a symlink" if place.is_symlink() else "not a directory"
                raise WriteError(
                    f"cannot write {out}: {place} is {what}; kmc replaces only directories it wrote, and never follows or "
                    "removes a link there: remove it (or choose another --out), then build again; the previous output is unchanged"
                )
    staged: list[tuple[Path, Path]] = []  # (temporary tree, target)
    swapped: list[tuple[Path, Path | None]] = []  # (target, where its previous tree waits, if it had one)
    try:
        for subtree, files in sorted(trees.items()):
            target = out / subtree
            _make_parents(target.parent, created)
            temp = _temp_dir(target.parent)
            staged.append((temp, target))
            temp.chmod(0o755)  # made private; the swapped-in tree is ordinary output
            root = str(temp)
            made = {""}
            for relative, content in sorted(files.items()):
                directory = relative.rpartition("/")[0]
                if directory not in made:
                    os.makedirs(f"{root}/{directory}", exist_ok=True)
                    made.add(directory)
                _write_new(f"{root}/{relative}", content)
        for temp, target in staged:
            swapped.append((target, _swap(temp, target)))
    except OSError as err:
        problem = f"cannot write {out}: {err.strerror or err}"
        stranded = _roll_back(staged, swapped, created)
        if stranded:
            raise WriteError(f"{problem}; restoring the previous output failed too, it is still in: {', '.join(stranded)}") from None
        raise WriteError(f"{problem}; the previous output is unchanged") from None
    previous_trees = [previous for _, previous in swapped if previous is not None]
    if previous_trees:
        import shutil  # here and below, not at the top: ~3 ms, only needed to remove a tree

        for previous in previous_trees:
            shutil.rmtree(previous.parent, ignore_errors=True)


def _write_new(path: str, content: bytes) -> None:
    """Create `path` holding `content`; it must not exist yet."""
    with open(path, "xb") as file:
        file.write(content)


def _temp_dir(parent: Path) -> Path:
    """A new private directory in `parent`, as tempfile.mkdtemp makes one (without its ~2 ms import)."""
    while True:
        path = parent / f"{TEMP_PREFIX}{os.urandom(6).hex()}"
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return path


def _holds(directory: Path, files: Mapping[str, bytes]) -> bool:
    """Whether `directory` holds exactly `files`: no other file, no empty directory, no symlink,
    nothing but regular files (kmc.output.lock.scan opens nothing else)."""
    if directory.is_symlink() or not directory.is_dir():
        return False
    tree = scan(directory)
    return not tree.strays and tree.files == files


@contextlib.contextmanager
def _writing(out: Path) -> Iterator[None]:
    """Hold a shared flock on `out` while writing into it; first, when no other build holds it,
    remove the staging directories that builds killed before they could clean up left behind."""
    import fcntl

    try:
        descriptor = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise WriteError(f"cannot write {out}: {err.strerror or err}; the previous output is unchanged") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # another build is writing: its staging is live, and any dead one's waits for a quiet moment
        else:
            _remove_staging(out, staging_dirs(out))
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)  # closing drops the lock


def stale_staging(out: Path) -> list[str]:
    """The staging directories in `out` (relative to it) that builds which died left behind; none
    while a build is writing (its own are live). Takes the lock only to ask, writes nothing."""
    found = staging_dirs(out)
    if not found:
        return []
    import fcntl

    try:
        descriptor = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return []
    finally:
        os.close(descriptor)
    return found


def _remove_staging(out: Path, found: list[str]) -> None:
    if found:
        import shutil

        for relative in found:
            path = out / relative
            if path.is_symlink() or not path.is_dir():
                with contextlib.suppress(OSError):
                    path.unlink()
            else:
                shutil.rmtree(path, ignore_errors=True)


def _make_parents(directory: Path, created: list[Path]) -> None:
    missing = []
    for parent in (directory, *directory.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        try:
            parent.mkdir()
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours to remove
        created.append(parent)


def _swap(temp: Path, target: Path) -> Path | None:
    """Move `temp` to `target`; return where the previous `target` tree now is (None if there was none)."""
    if target.is_symlink() or target.is_file():
        raise OSError(f"{target} exists and is not a directory")
    if not target.exists():
        os.rename(temp, target)
        return None
    import shutil

    aside = _temp_dir(target.parent)
    previous = aside / "previous"
    try:
        os.rename(target, previous)
    except OSError:
        shutil.rmtree(aside, ignore_errors=True)
        raise
    try:
        os.rename(temp, target)
    except OSError:
        os.rename(previous, target)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    return previous


def _roll_back(staged: list[tuple[Path, Path]], swapped: list[tuple[Path, Path | None]], created: list[Path]) -> list[str]:
    """Undo a failed write; return the places of previous trees that could not be put back."""
    import shutil

    stranded = []
    for target, previous in reversed(swapped):
        shutil.rmtree(target, ignore_errors=True)
        if previous is not None:
            try:
                os.rename(previous, target)
            except OSError:
                stranded.append(str(previous))
                continue
            shutil.rmtree(previous.parent, ignore_errors=True)
    for temp, _ in staged:
        shutil.rmtree(temp, ignore_errors=True)
    for directory in reversed(created):
        with contextlib.suppress(OSError):  # not empty (a stranded tree) or gone: leave it
            directory.rmdir()
    return stranded
