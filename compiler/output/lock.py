"""The output lock: what each built subtree was built from, and what it holds.

`kmc build` writes `OUT/.kmc-lock.json`:

    {"lock": 1,
     "trees": {"manifests": {"inputs": {"../stack.yaml": "<sha256>", ...},
                             "kmc": "<version>+<digest of kmc's code and data>",
                             "files": {"default/00-namespace-monitoring.yaml": "<sha256>", ...},
                             "warnings": [{"line": 121, "column": 60, "path": "$...", ...}],
                             "prerequisites": {"default": [{"object": "Secret monitoring/...",
                                                            "keys": [...]}], ...}}}}

Output is a deterministic function of the inputs, so when every input still hashes the same and
the files on disk are exactly the recorded ones, the output is current without compiling: the
fast path of `kmc build --check`, and of `kmc build` itself, which then has nothing to write and
repeats the build's warnings and its list of what to create before applying from the lock (they
are functions of the inputs too). Anything else
(no lock, another kmc, a changed input, a hand edit, a stray file) compiles; the lock is only
ever a shortcut.

Stdlib only, and without pathlib (~5 ms with what it imports): the fast path runs before click,
PyYAML or the compiler are imported. Paths are strings or `os.PathLike`s.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Mapping

LOCK_NAME = ".kmc-lock.json"
LOCK_FORMAT = 1


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def kmc_identity() -> str:
    """kmc's version and a digest of its code and shipped data: another kmc may build other output.

    The digest is over each shipped file's name and sha256 (kmc.resources.shipped_files: from the
    installer's RECORD, ~0.2 ms, where hashing every file would cost each build ~3 ms). One kmc has
    one identity installed or in a checkout, so a lock written by the one proves output to the other.
    """
    from kmc import __version__
    from kmc.resources import shipped_files

    return f"{__version__}+{sha256(shipped_files().encode())}"


def _read(path: str | os.PathLike[str]) -> bytes:
    """The content of `path`: open, read to the end, close (open() adds an fstat and an isatty check
    to each of the hundreds of files a lock proof reads)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(descriptor, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def disk_tree(root: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every file under `root` (relative POSIX path → content); empty when it does not exist.

    As os.walk sees the tree: a symlinked directory is not entered, an unreadable one is skipped."""
    files: dict[str, bytes] = {}
    if os.path.isdir(root):
        _collect(os.fspath(root), "", files)
    return files


def _collect(directory: str, prefix: str, files: dict[str, bytes]) -> None:
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return
    subdirs = []
    for entry in entries:
        if entry.is_dir():
            subdirs.append(entry)
        else:
            files[prefix + entry.name] = _read(entry.path)
    for entry in subdirs:
        if not entry.is_symlink():
            _collect(entry.path, f"{prefix}{entry.name}/", files)


def _input_key(path: str | os.PathLike[str], out: str | os.PathLike[str]) -> str:
    return os.path.relpath(os.path.realpath(path), os.path.realpath(out))


def read(out: str | os.PathLike[str]) -> dict[str, dict[str, object]]:
    """The lock's trees; {} when there is none or it is unreadable (then it is simply not used)."""
    try:
        data = json.loads(_read(os.path.join(out, LOCK_NAME)))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("lock") != LOCK_FORMAT or not isinstance(data.get("trees"), dict):
        return {}
    trees: dict[str, dict[str, object]] = data["trees"]
    return trees


def subtrees(formats: Iterable[str], env: str | None) -> list[str]:
    """The subdirectories of the output that a build with these options replaces."""
    return sorted(("manifests" if env is None else f"manifests/{env}") if fmt == "manifests" else fmt for fmt in formats)


def updated(
    out: str | os.PathLike[str],
    stack: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str]],
    trees: Mapping[str, Mapping[str, bytes]],
    warnings: Iterable[Mapping[str, object]] = (),
    prerequisites: Mapping[str, object] | None = None,
) -> bytes:
    """The lock text after a build of `trees` from `stack` and `inputs` (other subtrees' entries are kept).

    `warnings`: the build's warnings about the stack, without the file name (the next build may
    spell the stack's path differently); `prerequisites`: by subtree, what it needs and does not
    hold, by environment (kmc.pipeline.prerequisites)."""
    entries = {
        name: entry
        for name, entry in read(out).items()
        if not any(name == built or name.startswith(built + "/") or built.startswith(name + "/") for built in trees)
    }
    recorded_inputs = {_input_key(path, out): sha256(_read(path)) for path in inputs}
    for name, files in trees.items():
        entries[name] = {
            "stack": _input_key(stack, out),
            "inputs": recorded_inputs,
            "kmc": kmc_identity(),
            "files": {path: sha256(content) for path, content in sorted(files.items())},
            "warnings": list(warnings),
            "prerequisites": (prerequisites or {}).get(name, {}),
        }
    return (json.dumps({"lock": LOCK_FORMAT, "trees": entries}, indent=1, sort_keys=True) + "\n").encode()


def write(out: str | os.PathLike[str], text: bytes) -> None:
    """Replace the lock atomically (a rename); a lock that fails to write only costs speed."""
    lock = os.path.join(out, LOCK_NAME)
    try:
        if _read(lock) == text:
            return  # a rebuild of an unchanged stack writes nothing
    except OSError:
        pass
    partial = f"{lock}.partial"
    with open(partial, "wb") as file:
        file.write(text)
    os.replace(partial, lock)


def current(out: str | os.PathLike[str], stack: str | os.PathLike[str], names: Iterable[str]) -> int | None:
    """The number of files in subtrees `names` when the lock proves them built from `stack` and
    current, else None."""
    proof = proven(out, stack, names)
    return None if proof is None else proof[0]


def proven(
    out: str | os.PathLike[str], stack: str | os.PathLike[str], names: Iterable[str]
) -> tuple[int, list[dict[str, object]], dict[str, dict[str, object]]] | None:
    """`current`, the warnings the build of those subtrees gave and what each subtree needs and
    does not hold (as `updated` recorded them)."""
    entries = read(out)
    count = 0
    warnings: list[dict[str, object]] = []
    needed: dict[str, dict[str, object]] = {}
    for name in names:
        entry = entries.get(name)
        if not isinstance(entry, dict) or entry.get("kmc") != kmc_identity() or entry.get("stack") != _input_key(stack, out):
            return None
        inputs, files, recorded = entry.get("inputs"), entry.get("files"), entry.get("warnings")
        prerequisites = entry.get("prerequisites")
        if not isinstance(inputs, dict) or not isinstance(files, dict) or not isinstance(recorded, list) or not isinstance(prerequisites, dict):
            return None
        needed[name] = prerequisites
        for relative, digest in inputs.items():
            try:
                if sha256(_read(os.path.join(out, relative))) != digest:
                    return None
            except OSError:
                return None
        on_disk = disk_tree(os.path.join(out, name))
        if set(on_disk) != set(files) or any(sha256(content) != files[path] for path, content in on_disk.items()):
            return None
        count += len(files)
        warnings += [warning for warning in recorded if warning not in warnings]  # every subtree's build gave the same
    return count, warnings, needed
