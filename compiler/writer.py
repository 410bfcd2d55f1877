"""The only code that touches the output directory.

Each built subtree (e.g. `manifests`, or `manifests/prod` for one environment) is written into a
temporary sibling directory first and then swapped in with renames, so a failure leaves the
previous output as it was and no partial tree behind; files that are no longer produced
disappear with the old tree.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from kmc.errors import KmcError

TEMP_PREFIX = ".kmc-tmp-"


class WriteError(KmcError):
    """The output directory could not be written."""


def write_trees(out: Path, trees: Mapping[str, Mapping[str, bytes]]) -> None:
    """Replace each `out/<subtree>` by exactly the given files (relative path → content)."""
    staged: list[tuple[Path, Path]] = []
    if out.exists() and not out.is_dir():
        raise WriteError(f"cannot write {out}: it is not a directory; the previous output is unchanged")
    try:
        for subtree, files in sorted(trees.items()):
            target = out / subtree
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=target.parent))
            staged.append((temp, target))
            temp.chmod(0o755)  # mkdtemp makes it private; the swapped-in tree is ordinary output
            for relative, content in sorted(files.items()):
                path = temp / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
        for temp, target in staged:
            _swap(temp, target)
    except OSError as err:
        for temp, _ in staged:
            shutil.rmtree(temp, ignore_errors=True)
        raise WriteError(f"cannot write {out}: {err.strerror or err}; the previous output is unchanged") from None


def _swap(temp: Path, target: Path) -> None:
    if target.is_symlink() or target.is_file():
        raise OSError(f"{target} exists and is not a directory")
    if not target.exists():
        os.rename(temp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=target.parent))
    os.rename(target, old / "previous")
    try:
        os.rename(temp, target)
    except OSError:
        os.rename(old / "previous", target)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
