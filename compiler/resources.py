"""Where kmc's shipped data (schema, library) lives, in a wheel and in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The directory `name` ("schema" or "library"): inside the installed package, else the checkout's."""
    installed = _PACKAGE / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def schema_path() -> Path:
    return data_dir("schema") / "stack.schema.json"
