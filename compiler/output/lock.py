"""The output lock: what each built subtree was built from, and what it holds.

`kmc build` writes `OUT/.kmc-lock.json`:

    {"lock": 2,
     "trees": {"manifests": {"stack": "../stack.yaml",
                             "inputs": {"stack.yaml": {"file": "../stack.yaml", "sha256": "<sha256>"},
                                        "dashboards/app.json": {"file": "../boards/app.json", ...}, ...},
                             "kmc": {"version": "0.1.0", "code": "<sha256>", "pyyaml": "<sha256>",
                                     "libyaml": true, "python": "cpython 3.11"},
                             "files": {"default/00-namespace-monitoring.yaml": "<sha256>", ...},
                             "warnings": [{"line": 121, "column": 60, "path": "$...", ...}],
                             "prerequisites": {"default": [{"object": "Secret monitoring/...",
                                                            "keys": [...]}], ...}}}}

`inputs` are exactly the bytes the build read (kmc.read.inputs: hashed when read, not when the
lock is written), named as the build named them (relative to the stack file's directory, the
way the stack names its files) with the file each name reached (`file`, relative to OUT, symlinks
resolved). `kmc` is what was running (kmc.resources.code_identity: the code and data kmc ships,
the PyYAML it would use and whether with libyaml, the Python version).

Output is a deterministic function of all that, so when every input name still reaches the same
file with the same bytes, kmc is the same, and each subtree on disk holds exactly the recorded
regular files and nothing else (no symlink, empty directory, FIFO or device; no staging left
by a build), the output is current without compiling: the fast path of `kmc build --check`, and
of `kmc build` itself, which then has nothing to write and repeats the build's warnings and its
list of what to create before applying from the lock (they are functions of the inputs too).
Anything else compiles; the lock is only ever a shortcut.

Stdlib only, and without pathlib (~5 ms with what it imports): the fast path runs before click,
PyYAML or the compiler are imported. Paths are strings or `os.PathLike`s.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping

from kmc.read.inputs import LISTING, Heard, NotAFile, listing, listing_sha256, read_file

LOCK_NAME = ".kmc-lock.json"
LOCK_FORMAT = 2
# The staging directories a build writes a subtree into before swapping it in (kmc.output.writer):
# in OUT, and in OUT/manifests for one environment's subtree.
TEMP_PREFIX = ".kmc-tmp-"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def kmc_identity() -> dict[str, object]:
    """This kmc as the lock records it (kmc.resources.code_identity)."""
    from kmc.resources import code_identity

    return code_identity()


def _read(path: str | os.PathLike[str]) -> bytes:
    return read_file(path)[0]


class Tree:
    """What a directory of the output holds: its regular files (relative POSIX path → content) and
    everything else (`strays`: path → what it is), which no output of kmc holds."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.strays: dict[str, str] = {}


def scan(root: str | os.PathLike[str]) -> Tree:
    """What `root` holds, looked at without following a symlink or opening anything but a regular
    file (a FIFO or a device is named, never opened: opening one can wait for ever). Empty when
    `root` does not exist."""
    tree = Tree()
    try:
        status = os.lstat(root)
    except FileNotFoundError:
        return tree
    if not stat.S_ISDIR(status.st_mode):
        tree.strays[""] = _kind(status.st_mode)
        return tree
    _collect(os.fspath(root), "", tree)
    return tree


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISDIR(mode):
        return "an empty directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _collect(directory: str, prefix: str, tree: Tree) -> None:
    try:
        with os.scandir(directory) as entries:
            found = sorted(entries, key=lambda entry: entry.name)
    except OSError as err:
        tree.strays[prefix.rstrip("/")] = f"unreadable ({err.strerror or err})"
        return
    if not found and prefix:
        tree.strays[prefix.rstrip("/")] = "an empty directory"
    for entry in found:
        name = prefix + entry.name
        try:
            # The directory entry's type, without a stat call per file; the open checks it again.
            if entry.is_dir(follow_symlinks=False):
                _collect(entry.path, name + "/", tree)
            elif entry.is_file(follow_symlinks=False):
                tree.files[name] = _read_regular(entry.path)
            else:
                tree.strays[name] = _kind(entry.stat(follow_symlinks=False).st_mode)
        except NotAFile:
            tree.strays[name] = "not a regular file"  # replaced by one since it was listed
        except OSError as err:
            tree.strays[name] = f"unreadable ({err.strerror or err})"


def _read_regular(path: str) -> bytes:
    """The content of the regular file `path`, opened without following a symlink and without
    waiting (it may have been swapped for a FIFO since it was listed)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise NotAFile(path)
        chunks = []
        while chunk := os.read(descriptor, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def disk_tree(root: str | os.PathLike[str]) -> dict[str, bytes]:
    """The regular files under `root` (relative POSIX path → content); see `scan` for the rest."""
    return scan(root).files


def staging_dirs(out: str | os.PathLike[str]) -> list[str]:
    """The staging directories in OUT and OUT/manifests (relative to OUT), of builds running or dead."""
    found = []
    for relative in ("", "manifests"):
        try:
            with os.scandir(os.path.join(out, relative)) as entries:
                found += [f"{relative}/{entry.name}".lstrip("/") for entry in entries if entry.name.startswith(TEMP_PREFIX)]
        except OSError:
            continue
    return sorted(found)


def _target_key(target: str, out: str | os.PathLike[str]) -> str:
    return os.path.relpath(target, os.path.realpath(out))


def _stack_dir(stack: str | os.PathLike[str]) -> str:
    return os.path.dirname(os.fspath(stack)) or "."


def _input_name(path: str, base: str) -> str:
    """`path` as the stack named it: what the build joined to the stack's directory `base` (kept as
    written, `..` and all, so that joining it again reaches what the build reached); an absolute
    path stays absolute."""
    if base == ".":
        return path
    prefix = base.rstrip("/") + "/"
    if path.startswith(prefix):
        return path[len(prefix) :]
    return path if os.path.isabs(path) else os.path.relpath(path, base)


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
    inputs: Iterable[Heard] | None,
    trees: Mapping[str, Mapping[str, bytes]],
    warnings: Iterable[Mapping[str, object]] = (),
    prerequisites: Mapping[str, object] | None = None,
) -> bytes:
    """The lock text after a build of `trees` from `stack` (other subtrees' entries are kept).

    `inputs`: what the build read (kmc.read.inputs), None when it read one file twice with
    different results (then the lock vouches for none of `trees`: the next check compiles);
    `warnings`: the build's warnings about the stack, without the file name (the next build may
    spell the stack's path differently); `prerequisites`: by subtree, what it needs and does not
    hold, by environment (kmc.pipeline.prerequisites)."""
    entries = {
        name: entry
        for name, entry in read(out).items()
        if not any(name == built or name.startswith(built + "/") or built.startswith(name + "/") for built in trees)
    }
    if inputs is not None:
        base = _stack_dir(stack)
        recorded = {
            _input_name(found.path, base): {"file": found.target if found.target == LISTING else _target_key(found.target, out), "sha256": found.sha256}
            for found in inputs
        }
        for name, files in trees.items():
            entries[name] = {
                "stack": _target_key(os.path.realpath(stack), out),
                "inputs": dict(sorted(recorded.items())),
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
    names = list(names)
    if not names or not all(isinstance(entries.get(name), dict) for name in names) or staging_dirs(out):
        return None
    count = 0
    warnings: list[dict[str, object]] = []
    needed: dict[str, dict[str, object]] = {}
    stack_key = _target_key(os.path.realpath(stack), out)
    identity = kmc_identity()
    checked: set[str] = set()  # inputs already found unchanged (every subtree records the same)
    for name in names:
        entry = entries[name]
        if entry.get("kmc") != identity or entry.get("stack") != stack_key:
            return None
        inputs, files, recorded = entry.get("inputs"), entry.get("files"), entry.get("warnings")
        prerequisites = entry.get("prerequisites")
        if not isinstance(inputs, dict) or not isinstance(files, dict) or not isinstance(recorded, list) or not isinstance(prerequisites, dict):
            return None
        needed[name] = prerequisites
        if not _inputs_unchanged(inputs, stack, out, checked):
            return None
        on_disk = scan(os.path.join(out, name))
        if on_disk.strays or set(on_disk.files) != set(files) or any(sha256(content) != files[path] for path, content in on_disk.files.items()):
            return None
        count += len(files)
        warnings += [warning for warning in recorded if warning not in warnings]  # every subtree's build gave the same
    return count, warnings, needed


def _inputs_unchanged(inputs: Mapping[str, object], stack: str | os.PathLike[str], out: str | os.PathLike[str], checked: set[str]) -> bool:
    """Whether each input, named as the build named it, still reaches the recorded file with the recorded bytes."""
    base = _stack_dir(stack)
    for relative, record in inputs.items():
        key = json.dumps([relative, record], sort_keys=True)
        if key in checked:
            continue
        if not isinstance(record, dict):
            return False
        if record.get("file") == LISTING:  # which files a directory or glob the stack names holds
            pattern = os.path.join(base, relative)
            if listing_sha256(pattern, listing(pattern)) != record.get("sha256"):
                return False
            checked.add(key)
            continue
        try:
            data, target = read_file(os.path.join(base, relative))
        except OSError:
            return False
        if _target_key(target, out) != record.get("file") or sha256(data) != record.get("sha256"):
            return False
        checked.add(key)
    return True
