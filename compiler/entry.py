"""The `kmc` console script: answers the hot paths of a pre-commit hook before importing click.

`kmc --version`, a `kmc build` or `kmc build --check` whose output the lock proves current
(standard library only) and any plain `kmc build` or `kmc validate` command line (no click) run here; everything else, and any
argument this parser does not know (--help, a typo), goes to the full CLI in `kmc.cli`, which
parses the command line itself. Both paths print through `kmc.commands`.
"""

from __future__ import annotations

import gc
import os
import sys
import time

from kmc import __version__

TYPE_CHECKING = False  # not typing's: importing typing costs ~4 ms
if TYPE_CHECKING:
    from typing import NoReturn

_VALUED = {"--format", "--out", "--env"}
_OUTPUT_FLAGS = {"-q": "quiet", "--quiet": "quiet", "-v": "verbose", "--verbose": "verbose"}
_FORMATS = {"manifests": ("manifests",), "helm": ("helm",), "kustomize": ("kustomize",), "all": ("helm", "kustomize", "manifests")}


class BuildLine:
    """A parsed `kmc build` line; paths as given (pathlib costs ~5 ms that a lock-proven check saves)."""

    __slots__ = ("check", "env", "fmt", "out", "quiet", "stack", "verbose")

    def __init__(self, stack: str, fmt: str, out: str, env: str | None, check: bool, quiet: bool, verbose: bool) -> None:
        self.stack, self.fmt, self.out, self.env = stack, fmt, out, env
        self.check, self.quiet, self.verbose = check, quiet, verbose


class _Line:
    """A `kmc [-q|-v] COMMAND ...` line split into its flags, options and arguments."""

    __slots__ = ("options", "positional", "seen")

    def __init__(self) -> None:
        self.options: dict[str, str] = {}
        self.positional: list[str] = []
        self.seen: set[str] = set()


def _scan(argv: list[str], command: str, flags: dict[str, str], valued: set[str]) -> _Line | None:
    """`argv` as a `kmc [-q|-v] COMMAND` line with these flags and valued options (each at most
    once), or None when it is anything else: --help, a typo, a repeated option are the full CLI's
    business."""
    line = _Line()
    while argv and argv[0] in _OUTPUT_FLAGS:
        line.seen.add(_OUTPUT_FLAGS[argv[0]])
        argv = argv[1:]
    if not argv or argv[0] != command:
        return None
    rest = argv[1:]
    while rest:
        token, rest = rest[0], rest[1:]
        name, equals, value = token.partition("=")
        if token in flags:
            line.seen.add(flags[token])
        elif name in valued and equals and name not in line.options:
            line.options[name] = value
        elif token in valued and rest and token not in line.options:
            line.options[token], rest = rest[0], rest[1:]
        elif token.startswith("-") and token != "-":
            return None
        else:
            line.positional.append(token)
    return line


def parse_build(argv: list[str]) -> BuildLine | None:
    """`argv` as a `kmc [-q|-v] build STACK [options]` line, or None when it is anything else."""
    line = _scan(argv, "build", {**_OUTPUT_FLAGS, "--check": "check"}, _VALUED)
    if line is None:
        return None
    fmt = line.options.get("--format", "manifests")
    if len(line.positional) != 1 or fmt not in _FORMATS:
        return None
    seen = line.seen
    out, env = line.options.get("--out", "charts-out"), line.options.get("--env")
    return BuildLine(line.positional[0], fmt, out, env, "check" in seen, "quiet" in seen, "verbose" in seen and "quiet" not in seen)


class ValidateLine:
    """A parsed `kmc validate` line."""

    __slots__ = ("output_format", "quiet", "stacks", "verbose")

    def __init__(self, stacks: list[str], output_format: str, quiet: bool, verbose: bool) -> None:
        self.stacks, self.output_format, self.quiet, self.verbose = stacks, output_format, quiet, verbose


def parse_validate(argv: list[str]) -> ValidateLine | None:
    """`argv` as a `kmc [-q|-v] validate [-q|-v] [--output-format text|json] STACK...` line, or None."""
    line = _scan(argv, "validate", _OUTPUT_FLAGS, {"--output-format"})
    if line is None:
        return None
    output_format = line.options.get("--output-format", "text")
    if not line.positional or output_format not in ("text", "json"):
        return None
    seen = line.seen
    return ValidateLine(line.positional, output_format, "quiet" in seen, "verbose" in seen and "quiet" not in seen)


def proven_current(line: BuildLine) -> bool:
    """Whether the lock proves `line`'s output current (then said, unless -q); stdlib only.

    A build then has nothing to write; it repeats the warnings its compile gave. The click CLI
    asks the same first, so both paths say the same."""
    started = time.perf_counter()
    from kmc import lock

    names = lock.subtrees(_FORMATS[line.fmt], line.env)
    try:
        proof = lock.proven(line.out, line.stack, names)
    except OSError:
        return False
    if proof is None:
        return False
    files, warnings = proof
    if not line.check and warnings and not line.quiet:
        _replay(line.stack, warnings)
    if not line.quiet:
        where = ", ".join(shown(line.out, name) for name in names)
        print(f"kmc: {where} current ({files} files; lock; {time.perf_counter() - started:.2f}s)", file=sys.stderr)
    return True


def _replay(stack: str, warnings: list[dict[str, object]]) -> None:
    """The warnings of the build the lock records, as that build printed them."""
    from kmc import report
    from kmc.errors import Diagnostic

    try:
        diagnostics = [Diagnostic(stack, **warning) for warning in warnings]  # type: ignore[arg-type]
    except TypeError:
        return  # a lock edited by hand: its warnings are not kmc's
    report.show(report.text(diagnostics))


def shown(directory: str, name: str) -> str:
    """`str(Path(directory) / name)` (how the other paths print it), without importing pathlib."""
    root = "//" if directory.startswith("//") and not directory.startswith("///") else "/" if directory.startswith("/") else ""
    return root + "/".join([*(part for part in directory.split("/") if part not in ("", ".")), name])


def main() -> None:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        print(f"kmc {__version__}")
        _leave(0)
    line = parse_build(argv)
    if line is not None:
        if proven_current(line):
            _leave(0)
        # A build allocates much and frees little, and makes no reference cycles worth collecting:
        # the default collector (every 700 new objects) spent ~10 % of a large stack's build, and
        # without it the peak memory of golden/full (21 MiB) and of the large stack (57 MiB) is the same.
        gc.disable()
        from pathlib import Path

        from kmc import commands

        output = commands.Output(line.quiet, line.verbose)
        _leave(commands.guarded(lambda: commands.build(Path(line.stack), line.fmt, Path(line.out), line.env, line.check, output)))
    checked = parse_validate(argv)
    if checked is not None:
        gc.disable()  # as for a build
        from pathlib import Path

        from kmc import commands

        output = commands.Output(checked.quiet, checked.verbose)
        _leave(commands.guarded(lambda: commands.validate([Path(stack) for stack in checked.stacks], checked.output_format, output)))
    from kmc.cli import main as full

    full()


def _leave(code: int) -> NoReturn:
    """Exit with `code` once stdout and stderr are flushed, without tearing the interpreter down.

    Freeing every module and object of a build costs golden/full ~8 ms, a tenth of the build.
    Nothing these paths leave needs the teardown: files are written through `with` or os.write,
    and the one atexit handler they may register, kmc.derived's, is called here (the full CLI,
    whose commands may use temporary directories, exits the usual way).
    """
    derived = sys.modules.get("kmc.derived")
    if derived is not None:
        derived.save()  # what kmc.derived would write at exit
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a reader that went away (`kmc build ... | head`): Python's own exit gives 120
        code = code or 120
    os._exit(code)
