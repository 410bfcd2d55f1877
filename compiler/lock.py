"""The output lock: what each built subtree was built from, and what it holds.

`kmc build` writes `OUT/.kmc-lock.json`:

    {"lock": 1,
     "trees": {"manifests": {"inputs": {"../stack.yaml": "<sha256>", ...},
                             "kmc": "<version>+<sha256 of kmc's code and data>",
                             "files": {"default/00-namespace-monitoring.yaml": "<sha256>", ...}}}}

Output is a deterministic function of the inputs, so when every input still hashes the same and
the files on disk are exactly the recorded ones, the output is current without compiling: the
fast path of `kmc build --check`. Anything else (no lock, another kmc, a changed input, a hand
edit, a stray file) sends `--check` to the full comparison; the lock is only ever a shortcut.

Stdlib only: the fast path runs before click, PyYAML or the compiler are imported.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

LOCK_NAME = ".kmc-lock.json"
LOCK_FORMAT = 1
_PACKAGE = Path(__file__).resolve().parent


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def kmc_identity() -> str:
    """kmc's version and a digest of its code and shipped data: another kmc may build other output."""
    from kmc import __version__
    from kmc.resources import data_dir

    digest = hashlib.sha256()
    roots = [("kmc", _PACKAGE), ("schema", data_dir("schema")), ("library", data_dir("library"))]
    for name, root in roots:
        for directory, subdirs, files in os.walk(root):
            relative = Path(directory).relative_to(root).as_posix()
            prefix = f"{name}/" if relative == "." else f"{name}/{relative}/"
            # In a wheel the data lives inside the package: counted once, under its own name.
            skipped = {"__pycache__", "schema", "library"} if prefix == "kmc/" else {"__pycache__"}
            subdirs[:] = sorted(subdir for subdir in subdirs if subdir not in skipped)
            for file in sorted(files):
                if file.endswith((".py", ".json", ".yaml", ".j2")):
                    digest.update(f"{prefix}{file}\0".encode())
                    with open(os.path.join(directory, file), "rb") as content:
                        digest.update(content.read())
                    digest.update(b"\0")
    return f"{__version__}+{digest.hexdigest()}"


def disk_tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative POSIX path → content); empty when it does not exist."""
    files: dict[str, bytes] = {}
    if not root.is_dir():
        return files
    for directory, subdirs, names in os.walk(root):
        subdirs.sort()
        for name in sorted(names):
            path = Path(directory, name)
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def _input_key(path: Path, out: Path) -> str:
    return Path(os.path.relpath(path.resolve(), out.resolve())).as_posix()


def read(out: Path) -> dict[str, dict[str, object]]:
    """The lock's trees; {} when there is none or it is unreadable (then it is simply not used)."""
    try:
        data = json.loads((out / LOCK_NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("lock") != LOCK_FORMAT or not isinstance(data.get("trees"), dict):
        return {}
    trees: dict[str, dict[str, object]] = data["trees"]
    return trees


def subtrees(formats: Iterable[str], env: str | None) -> list[str]:
    """The subdirectories of the output that a build with these options replaces."""
    return sorted(("manifests" if env is None else f"manifests/{env}") if fmt == "manifests" else fmt for fmt in formats)


def updated(out: Path, stack: Path, inputs: Iterable[Path], trees: Mapping[str, Mapping[str, bytes]]) -> bytes:
    """The lock text after a build of `trees` from `stack` and `inputs` (other subtrees' entries are kept)."""
    entries = {
        name: entry
        for name, entry in read(out).items()
        if not any(name == built or name.startswith(built + "/") or built.startswith(name + "/") for built in trees)
    }
    recorded_inputs = {_input_key(path, out): sha256(path.read_bytes()) for path in inputs}
    for name, files in trees.items():
        entries[name] = {
            "stack": _input_key(stack, out),
            "inputs": recorded_inputs,
            "kmc": kmc_identity(),
            "files": {path: sha256(content) for path, content in sorted(files.items())},
        }
    return (json.dumps({"lock": LOCK_FORMAT, "trees": entries}, indent=1, sort_keys=True) + "\n").encode()


def write(out: Path, text: bytes) -> None:
    """Replace the lock atomically (a rename); a lock that fails to write only costs speed."""
    try:
        if (out / LOCK_NAME).read_bytes() == text:
            return  # a rebuild of an unchanged stack writes nothing
    except OSError:
        pass
    partial = out / f"{LOCK_NAME}.partial"
    partial.write_bytes(text)
    os.replace(partial, out / LOCK_NAME)


def current(out: Path, stack: Path, names: Iterable[str]) -> int | None:
    """The number of files in subtrees `names` when the lock proves them built from `stack` and
    current, else None."""
    entries = read(out)
    count = 0
    for name in names:
        entry = entries.get(name)
        if not isinstance(entry, dict) or entry.get("kmc") != kmc_identity() or entry.get("stack") != _input_key(stack, out):
            return None
        inputs, files = entry.get("inputs"), entry.get("files")
        if not isinstance(inputs, dict) or not isinstance(files, dict):
            return None
        for relative, digest in inputs.items():
            try:
                if sha256((out / relative).read_bytes()) != digest:
                    return None
            except OSError:
                return None
        on_disk = disk_tree(out / name)
        if set(on_disk) != set(files) or any(sha256(content) != files[path] for path, content in on_disk.items()):
            return None
        count += len(files)
    return count
