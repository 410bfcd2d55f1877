"""Read a stack file into plain data that remembers where every value came from.

Most stacks are read by kmc's own reader of the YAML they use (kmc.read.yaml_subset), which
spares a build PyYAML's import; whatever it declines (anything unusual, and every malformed
file) is read by PyYAML with its marks (kmc.read.pyyaml_loader), which reports duplicate
keys, non-string keys, cyclic or exploding aliases and non-JSON types with their position.
"""

from __future__ import annotations

from pathlib import Path

from kmc.read import inputs
from kmc.read.document import Document, located

MAX_STACK_BYTES = 1024 * 1024


def read_stack(path: Path, display: str | None = None) -> Document:
    """Load `path`; raise StackInvalid for anything that is not a readable YAML mapping."""
    name = display or str(path)
    if not path.exists():
        raise located(name, 1, 1, "no such file", "check the path, or create one with `kmc init`")
    if path.is_dir():
        raise located(name, 1, 1, "is a directory, not a stack file", f"pass the file, e.g. {name}/stack.yaml")
    try:
        size = path.stat().st_size
        if size > MAX_STACK_BYTES:
            raise located(
                name,
                1,
                1,
                f"the file is {size / 1e6:.1f} MB; kmc reads stack files up to 1 MiB",
                "a stack describes a monitoring system in a few hundred lines; is this the right file?",
            )
        raw = inputs.read(path)  # the bytes the build is made of: heard by its recording
    except OSError as err:
        raise located(name, 1, 1, f"cannot read the file: {err.strerror}") from None
    return parse_stack(raw, name)


def parse_stack(raw: bytes, file: str) -> Document:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise located(file, line, column, "the file is not UTF-8 text", "save it as UTF-8 (stack files are UTF-8 YAML)") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = tuple(text.splitlines())
    from kmc.read import yaml_subset

    # No size switch: kmc's reader beat libyaml's compose and the build below at every size
    # measured on this 2-core machine (golden/full, 432 lines: 6-8 against 10-13 ms; a generated
    # 20,000-line stack: 0.3-0.45 against 1.0-1.3 s), besides sparing PyYAML's import.
    read = yaml_subset.read(text)
    if read is None:
        from kmc.read import pyyaml_loader  # PyYAML's import costs more than reading a stack

        return pyyaml_loader.parse(text, file, lines)
    data, positions, key_positions, scalars = read
    return Document(file, data, lines, positions, key_positions, scalars)
