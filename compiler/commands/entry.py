"""The `kmc` console script: answers the hot paths of a pre-commit hook before importing click.

`kmc --version`, a `kmc build` or `kmc build --check` whose output the lock proves current
(standard library only) and any plain `kmc build` or `kmc validate` command line (no click) run
here; everything else, and any argument `kmc.commands.argv` does not know (--help, a typo), goes
to the full CLI in `kmc.commands.cli`, which parses the command line itself. Both paths run the
same command modules and print through `kmc.commands.output`.
"""

from __future__ import annotations

import os
import sys

from kmc import __version__
from kmc.commands.argv import parse_build, parse_validate

TYPE_CHECKING = False  # not typing's: importing typing costs ~4 ms
if TYPE_CHECKING:
    from typing import NoReturn


def main() -> None:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        print(f"kmc {__version__}")
        _leave(0)
    line = parse_build(argv)
    if line is not None:
        from kmc.commands.build import proven_current

        if proven_current(line):
            _leave(0)
        from pathlib import Path

        from kmc.commands.build import build
        from kmc.commands.output import Output, guarded

        output = Output(line.quiet, line.verbose)
        _leave(guarded(lambda: build(Path(line.stack), line.fmt, Path(line.out), line.env, line.check, output)))
    checked = parse_validate(argv)
    if checked is not None:
        from pathlib import Path

        from kmc.commands.output import Output, guarded
        from kmc.commands.validate import validate

        output = Output(checked.quiet, checked.verbose)
        _leave(guarded(lambda: validate([Path(stack) for stack in checked.stacks], checked.output_format, output)))
    from kmc.commands.cli import main as full

    full()


def _leave(code: int) -> NoReturn:
    """Exit with `code` once stdout and stderr are flushed, without tearing the interpreter down.

    Freeing every module and object of a build costs golden/full ~8 ms, a tenth of the build.
    Nothing these paths leave needs the teardown: files are written through `with` or os.write,
    and they register no atexit handler (the full CLI, whose commands may use temporary
    directories, exits the usual way).
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a reader that went away (`kmc validate ... | head`)
        from kmc.commands.output import reader_gone

        code = reader_gone()
    os._exit(code)
