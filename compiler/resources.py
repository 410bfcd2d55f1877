"""Where kmc's shipped data (schema, library) lives, in a wheel and in a source checkout."""

from __future__ import annotations

import functools
import os

TYPE_CHECKING = False  # not typing's: importing typing costs ~3 ms of the lock's fast path
if TYPE_CHECKING:
    from pathlib import Path

_PACKAGE = os.path.dirname(os.path.realpath(__file__))


def data_location(name: str) -> str:
    """The directory `name` ("schema" or "library"): inside the installed package, else the checkout's.

    A string, for the lock's fast path, which runs without importing pathlib.
    """
    installed = os.path.join(_PACKAGE, name)
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(_PACKAGE), name)


_SHIPPED = (".py", ".json", ".yaml", ".j2")


@functools.cache
def code_identity() -> dict[str, object]:
    """What makes this kmc build what it builds: its version, a digest of the code and data it runs
    (every shipped file's name and bytes), a digest of the PyYAML it would use (its modules and its
    libyaml extension, whose emitter writes some values kmc hands it), whether that extension is
    there (PyYAML then uses libyaml), and the Python version.

    The files are hashed, not taken from an installer's RECORD or from their sizes and times: an
    edited installed file would keep those. Measured on a 2-core machine: ~2 ms for kmc's ~100
    files (0.8 MB) and ~2 ms for PyYAML's (3 MB, most of it libyaml's extension), once per process.
    """
    import sys

    from kmc import __version__

    pyyaml, libyaml = _pyyaml_digest()
    return {
        "version": __version__,
        "code": _digest(_shipped_files()),
        "pyyaml": pyyaml,
        "libyaml": libyaml,
        "python": f"{sys.implementation.name} {sys.version_info.major}.{sys.version_info.minor}",
    }


def _shipped_files() -> list[tuple[str, str]]:
    """(name as in the wheel, path) of every file kmc ships: code and data, installed or in a checkout."""
    files: list[tuple[str, str]] = []
    roots = [("kmc/", _PACKAGE), ("kmc/schema/", data_location("schema")), ("kmc/library/", data_location("library"))]
    for prefix, root in roots:
        # In a wheel the data lives inside the package: counted once, under its own name.
        skipped = {"__pycache__", "schema", "library"} if prefix == "kmc/" else {"__pycache__"}
        _walk(root, prefix, skipped, _SHIPPED, files)
    return files


def _pyyaml_digest() -> tuple[str, bool]:
    """A digest of the files of the PyYAML package that `import yaml` would load, and whether its
    libyaml extension (`yaml/_yaml.*`) is among them; found without importing PyYAML (~20 ms)."""
    from importlib.machinery import EXTENSION_SUFFIXES, PathFinder

    spec = PathFinder.find_spec("yaml")
    if spec is None or not spec.submodule_search_locations:
        return "", False
    files: list[tuple[str, str]] = []
    _walk(spec.submodule_search_locations[0], "yaml/", {"__pycache__"}, None, files)
    libyaml = any(name == f"yaml/_yaml{suffix}" for name, _ in files for suffix in EXTENSION_SUFFIXES)
    return _digest(files), libyaml


def _walk(directory: str, prefix: str, skipped: set[str], suffixes: tuple[str, ...] | None, files: list[tuple[str, str]]) -> None:
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir():
            if entry.name not in skipped:
                _walk(entry.path, f"{prefix}{entry.name}/", skipped, suffixes, files)
        elif suffixes is None or entry.name.endswith(suffixes):
            files.append((prefix + entry.name, entry.path))


def _digest(files: list[tuple[str, str]]) -> str:
    """One sha256 over each file's name, length and bytes, in name order."""
    import hashlib

    digest = hashlib.sha256()
    for name, path in sorted(files):
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(descriptor, os.fstat(descriptor).st_size + 1)
            while chunk := os.read(descriptor, 1 << 20):
                data += chunk
        finally:
            os.close(descriptor)
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def data_dir(name: str) -> Path:
    """`data_location(name)` as a Path."""
    from pathlib import Path

    return Path(data_location(name))


def schema_path() -> Path:
    return data_dir("schema") / "stack.schema.json"
