"""Where kmc's shipped data (schema, library) lives, in a wheel and in a source checkout."""

from __future__ import annotations

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


def data_dir(name: str) -> Path:
    """`data_location(name)` as a Path."""
    from pathlib import Path

    return Path(data_location(name))


def schema_path() -> Path:
    return data_dir("schema") / "stack.schema.json"
