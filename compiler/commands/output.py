"""How every command speaks: status lines, diagnostics, and errors mapped to exit codes.

Exit codes: 0 ok; 1 invalid stack or build error; 2 usage; 3 unexpected (a bug in kmc, with its
traceback and "please report"); 130 interrupted; 141 the reader of standard output went away
(`kmc ... | head`), quietly, as a shell reports a tool that SIGPIPE ended.
"""

from __future__ import annotations

import sys

from kmc import __version__
from kmc.errors import KmcError, StackInvalid
from kmc.record import record

TYPE_CHECKING = False  # not typing's: importing typing costs ~4 ms
if TYPE_CHECKING:
    from collections.abc import Callable


@record
class Output:
    quiet: bool = False
    verbose: bool = False

    def say(self, message: str) -> None:
        """A status line on stderr, unless -q."""
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


def problems(text: str) -> None:
    """Diagnostics or drift on stderr, in colour on a terminal."""
    from kmc.commands import report

    report.show(text)


# 128 + SIGPIPE: the status a shell gives `cat` when its reader goes away. kmc does not let SIGPIPE
# kill it (Python ignores the signal, and `kmc publish` talks to sockets): it exits with the same status.
READER_GONE = 141


def reader_gone() -> int:
    """Stop writing to a standard output nobody reads: point it at /dev/null, so that no later flush
    (the interpreter's own at exit) fails again, and return the exit status of a tool SIGPIPE ended."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind stdout (a test's capture)
        pass
    return READER_GONE


def failure(err: BaseException) -> int:
    """Report an error that ended a command; its exit code (3 and a traceback for a bug in kmc)."""
    if isinstance(err, BrokenPipeError):
        return reader_gone()
    if isinstance(err, StackInvalid):
        from kmc.commands import report

        problems(report.text(err.diagnostics))
        print(f"kmc: {err}" + (f"; {err.consequence}" if err.consequence else ""), file=sys.stderr)
        return err.exit_code
    if isinstance(err, KmcError):
        print(f"kmc: error: {err}", file=sys.stderr)
        return err.exit_code
    if isinstance(err, KeyboardInterrupt):
        print("kmc: interrupted", file=sys.stderr)
        return 130
    import traceback  # only a bug in kmc gets here; not worth its import on every run

    traceback.print_exception(err)
    print(f"kmc {__version__}: internal error; please report it with the stack that caused it", file=sys.stderr)
    return 3


def guarded(action: Callable[[], None]) -> int:
    """Run `action`; every outcome as an exit code."""
    try:
        action()
    except SystemExit:
        raise
    except BaseException as err:  # noqa: BLE001 - mapped to exit codes; a bug in kmc is 3 with its traceback
        return failure(err)
    return 0
