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


@functools.cache
def shipped_files() -> str:
    """A line `NAME DIGEST` for each file kmc ships (code and data, named as in the wheel; DIGEST is
    its sha256 in RECORD's spelling), sorted: what makes this kmc this kmc.

    An installed kmc reads them from the RECORD its installer wrote (PEP 376; ~0.2 ms); a checkout
    or an editable install, whose RECORD does not list the package, hashes its files (~3 ms).
    """
    files = _recorded_files() or _hashed_files()
    return "".join(f"{name} {files[name]}\n" for name in sorted(files))


_SHIPPED = (".py", ".json", ".yaml", ".j2")


def _recorded_files() -> dict[str, str] | None:
    """`{kmc/...: urlsafe base64 sha256}` of the installed package, from its RECORD; None without one."""
    from kmc import __version__

    record = os.path.join(os.path.dirname(_PACKAGE), f"kmc-{__version__}.dist-info", "RECORD")
    try:
        with open(record, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError:
        return None
    files: dict[str, str] = {}
    for line in lines:
        name, _, rest = line.partition(",")
        if name.startswith("kmc/") and name.endswith(_SHIPPED) and "/__pycache__/" not in name:
            algorithm, _, value = rest.partition("=")
            if algorithm != "sha256":
                return None
            files[name] = value.partition(",")[0]
    return files or None


def _hashed_files() -> dict[str, str]:
    """What `_recorded_files` reads from a RECORD, computed from the files themselves."""
    import base64
    import hashlib

    files: dict[str, str] = {}
    roots = [("kmc", _PACKAGE), ("kmc/schema", data_location("schema")), ("kmc/library", data_location("library"))]
    for name, root in roots:
        for directory, subdirs, names in os.walk(root):
            relative = os.path.relpath(directory, root)
            prefix = f"{name}/" if relative == "." else f"{name}/{relative}/"
            # In a wheel the data lives inside the package: counted once, under its own name.
            skipped = {"__pycache__", "schema", "library"} if prefix == "kmc/" else {"__pycache__"}
            subdirs[:] = [subdir for subdir in subdirs if subdir not in skipped]
            for file in names:
                if file.endswith(_SHIPPED):
                    with open(os.path.join(directory, file), "rb") as handle:
                        digest = hashlib.sha256(handle.read()).digest()
                    files[prefix + file] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return files


def data_dir(name: str) -> Path:
    """`data_location(name)` as a Path."""
    from pathlib import Path

    return Path(data_location(name))


def schema_path() -> Path:
    return data_dir("schema") / "stack.schema.json"
