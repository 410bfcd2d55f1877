"""Read the files of Kubernetes objects a stack names (`monitors.files`): files, glob patterns
or directories relative to the stack, each a multi-document YAML stream whose objects keep the
file, line and column of every value (a `kind: List`'s items are objects of their own)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kmc.read import inputs
from kmc.read.document import Document, JsonPath

MAX_FILE_BYTES = 16 * 1024 * 1024  # a rendered chart is large; this is more than any


def expand(patterns: tuple[str, ...], base: Path) -> tuple[list[Path], list[tuple[int, str, str]]]:
    """The files `patterns` name below `base`, sorted and each once; and (index, message, hint) for
    a pattern that names nothing."""
    found: dict[Path, None] = {}
    problems = []
    for index, pattern in enumerate(patterns):
        path = base / pattern
        if any(char in pattern for char in "*?[") or path.is_dir():
            names = inputs.listing(str(path))
            inputs.hear_listing(str(path), names)  # a file added or removed is a changed input
            matches = [Path(name) for name in names]
        elif path.is_file():
            matches = [path]
        else:
            problems.append((index, f"no such file or directory: {pattern}", "paths are relative to the stack file"))
            continue
        if not matches:
            problems.append((index, f"{pattern} names no YAML file", "a directory's .yaml and .yml files are read, recursively"))
        found.update(dict.fromkeys(matches))
    return list(found), problems


def read_objects(path: Path, display: str) -> Iterator[Document]:
    """Every object of the file at `path` (named `display` in diagnostics), each a Document whose
    positions are in that file; StackInvalid for a file that is not readable YAML."""
    from kmc.read.document import located

    try:
        raw = inputs.read(path)  # the bytes the build is made of: heard by its recording
    except OSError as err:
        raise located(display, 1, 1, f"cannot read the file: {err.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise located(display, 1, 1, f"the file is {len(raw) / 1e6:.1f} MB; kmc reads files of objects up to 16 MB")
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise located(display, 1, 1, "the file is not UTF-8 text") from None
    lines = tuple(text.splitlines())
    documents = _read_fast(text, display, lines)
    if documents is None:  # what kmc's reader declines, and every malformed file
        from kmc.read import pyyaml_loader  # PyYAML's import costs more than reading the file

        documents = pyyaml_loader.parse_all(text, display, lines)
    for doc in documents:
        data = doc.data
        if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
            for index, item in enumerate(data["items"]):
                yield _item(doc, ("items", index), item)
        else:
            yield doc


_SEPARATOR = re.compile(r"^---[ \t]*(#.*)?$")
_CONTENT = re.compile(r"^[ \t]*[^ \t#]")


def _read_fast(text: str, display: str, lines: tuple[str, ...]) -> list[Document] | None:
    """The documents of `text` as kmc's own YAML reader reads them (kmc.read.yaml_subset, which
    spares a build PyYAML's import), split at `---` lines; None when it declines any of them."""
    from kmc.read import yaml_subset

    if "\n..." in text or text.startswith("..."):
        return None  # document end markers: left to PyYAML
    starts = [0, *(index + 1 for index, line in enumerate(lines) if _SEPARATOR.match(line))]
    ends = [*(start - 1 for start in starts[1:]), len(lines)]
    documents = []
    for start, end in zip(starts, ends, strict=True):
        chunk = lines[start:end]
        if not any(_CONTENT.match(line) for line in chunk):
            continue
        read = yaml_subset.read("\n".join(chunk) + "\n")
        if read is None:
            return None
        data, positions, key_positions, scalars = read
        if data is None:
            continue

        def moved(table: dict[JsonPath, tuple[int, int]], by: int = start) -> dict[JsonPath, tuple[int, int]]:
            return {path: (line + by, column) for path, (line, column) in table.items()}

        documents.append(Document(display, data, lines, moved(positions), moved(key_positions), scalars))
    return documents


def _item(doc: Document, prefix: JsonPath, data: Any) -> Document:
    """The item of a List at `prefix` as a Document of its own, its positions still the file's."""
    size = len(prefix)

    def below(table: dict[JsonPath, Any]) -> dict[JsonPath, Any]:
        return {path[size:]: value for path, value in table.items() if path[:size] == prefix}

    return Document(doc.file, data, doc.lines, below(doc.positions), below(doc.key_positions), below(doc.scalars))
