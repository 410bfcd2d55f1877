"""The files a build is made of, as it read them: their bytes, hashed when read, and where each path led.

Output is a function of the bytes a build reads, so the lock (kmc.output.lock) must vouch for
exactly those bytes, not for what the files hold when the build is done (a stack saved during a
build would pair the new stack with output made from the old one). Each reader of a file whose
bytes reach the output (the stack, a dashboard, the PEM texts of the certificate state or a
caBundle) reads it with `read`; the build's `recording` hears the path as the build named it,
the file it reached (symlinks resolved: a re-pointed link is another input) and the sha256 of
the bytes read. A recording that heard one path with two different contents vouches for nothing.

The recording is a context variable rather than an argument threaded through validation and
the certificate code: only a build records, and any reader outside one (validate, `kmc certs`)
simply is not heard.

Standard library only, without pathlib: the lock's fast path reads inputs the same way.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from contextvars import ContextVar


class Heard:
    """One input as a build read it: the path it opened, the file that path reached, the bytes' sha256."""

    __slots__ = ("path", "sha256", "target")

    def __init__(self, path: str, target: str, sha256: str) -> None:
        self.path, self.target, self.sha256 = path, target, sha256

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Heard) and (self.path, self.target, self.sha256) == (other.path, other.target, other.sha256)

    def __hash__(self) -> int:
        return hash((self.path, self.target, self.sha256))

    def __repr__(self) -> str:
        return f"Heard({self.path!r}, {self.target!r}, {self.sha256[:12]!r})"


class Recording:
    """What one build read: by path, and whether any path was read twice with different results."""

    def __init__(self) -> None:
        self.heard: dict[str, Heard] = {}
        self.conflicting: set[str] = set()

    def hear(self, found: Heard) -> None:
        known = self.heard.setdefault(found.path, found)
        if known != found:
            self.conflicting.add(found.path)


_RECORDING: ContextVar[Recording | None] = ContextVar("kmc_inputs_recording", default=None)


class NotAFile(OSError):
    """The path names something other than a regular file (a FIFO, a device, a directory): never read."""


def read_file(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    """The bytes of the regular file `path` and the real path of the file they came from.

    Never blocks on a FIFO or a device: it is opened without waiting and refused unless it is a
    regular file. The real path is the file that was read: resolved before the open and
    confirmed after it (same device and inode), so a link re-pointed meanwhile is caught."""
    for _ in range(3):
        target = os.path.realpath(path)
        data, opened = _read_regular(path)
        try:
            there = os.stat(target)
        except OSError:
            continue
        if (there.st_dev, there.st_ino) == (opened.st_dev, opened.st_ino):
            return data, target
    raise OSError(errno.EAGAIN, "it changed while it was read", os.fspath(path))


def _read_regular(path: str | os.PathLike[str]) -> tuple[bytes, os.stat_result]:
    descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotAFile(errno.EINVAL, "not a regular file", os.fspath(path))
        chunks = []
        while chunk := os.read(descriptor, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), status
    finally:
        os.close(descriptor)


def read_heard(path: str | os.PathLike[str]) -> tuple[bytes, Heard]:
    """The bytes of `path` and what a recording would hear of them; heard by none yet (see `hear`)."""
    data, target = read_file(path)
    return data, Heard(os.fspath(path), target, hashlib.sha256(data).hexdigest())


def hear(*found: Heard) -> None:
    """Tell the build's recording (if one is running) that its output is made of these reads."""
    recording = _RECORDING.get()
    if recording is not None:
        for item in found:
            recording.hear(item)


# A Heard's `target` when it is the listing of a directory or glob pattern, not a file's bytes.
LISTING = "listing"


def listing(pattern: str) -> list[str]:
    """The files a directory (its .yaml and .yml files, recursively) or a glob pattern names, sorted.

    Recorded by `hear_listing`, so a file added to or removed from a directory the stack names
    is a changed input, and the lock computes the same listing to check it."""
    import glob

    if any(char in pattern for char in "*?["):
        return sorted(path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path))
    found = []
    for directory, _, files in os.walk(pattern):
        found += [os.path.join(directory, name) for name in files if name.endswith((".yaml", ".yml"))]
    return sorted(path for path in found if os.path.isfile(path))


def listing_sha256(pattern: str, names: list[str]) -> str:
    """The digest a recording keeps of `listing(pattern)`: the names, relative to the pattern's directory."""
    base = pattern if os.path.isdir(pattern) else os.path.dirname(pattern)
    return hashlib.sha256("\n".join(os.path.relpath(name, base) for name in names).encode()).hexdigest()


def hear_listing(pattern: str, names: list[str]) -> None:
    """Tell the build's recording that its output depends on which files `pattern` names."""
    hear(Heard(pattern, LISTING, listing_sha256(pattern, names)))


def read(path: str | os.PathLike[str]) -> bytes:
    """The bytes of `path`, heard by the running recording: for a reader whose bytes reach the output."""
    data, found = read_heard(path)
    hear(found)
    return data


class recording:
    """Record what the reads within it hear (contextlib would cost the fast path its import)."""

    def __enter__(self) -> Recording:
        self._recording = Recording()
        self._token = _RECORDING.set(self._recording)
        return self._recording

    def __exit__(self, *exc: object) -> None:
        _RECORDING.reset(self._token)
