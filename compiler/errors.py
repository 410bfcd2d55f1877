"""The one error base of kmc and the diagnostics it carries.

Expected problems (a bad stack, an unwritable output directory) are `KmcError`s: the CLI prints
them without a traceback and exits with their `exit_code`. Anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence

from kmc.record import field, record

TYPE_CHECKING = False  # not typing's: errors are on the lock's fast path, which typing would cost ~4 ms
if TYPE_CHECKING:
    from typing import Literal

    Severity = Literal["error", "warning"]


@record(order=True)
class Diagnostic:
    """One problem found in a stack file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str = ""
    severity: Severity = "error"
    source_line: str = field(default="", compare=False)

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class KmcError(Exception):
    """An expected failure; the CLI reports it and exits with `exit_code`."""

    exit_code = 1


class UsageError(KmcError):
    """The command line asked for something kmc cannot do."""

    exit_code = 2


class StackInvalid(KmcError):
    """The stack has one or more problems; all of them are in `diagnostics`."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(sorted(diagnostics))
        count = len(self.diagnostics)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the stack")
        self.consequence = ""
