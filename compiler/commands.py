"""`kmc build` (and `--check`) and `kmc validate` without click: the hooks' hot paths, shared by the click CLI.

`kmc.entry` runs a plain `kmc build ...` command line through here directly (click and what it
imports cost ~45 ms of a ~230 ms build); `kmc.cli` calls the same functions, so both paths
print the same lines and exit with the same codes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kmc import __version__
from kmc.errors import KmcError, StackInvalid
from kmc.record import record


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
    from kmc import report

    report.show(text)


def build(stack: Path, fmt: str, out: Path, env: str | None, check: bool, output: Output) -> None:
    from kmc import pipeline, report

    started = time.perf_counter()
    formats = pipeline.FORMATS if fmt == "all" else (fmt,)
    if check:
        _check(stack, out, formats, env, started, output)
        return
    try:
        result = pipeline.build(stack, out, formats, env, display=str(stack))  # type: ignore[arg-type]
    except StackInvalid as err:
        err.consequence = "nothing was written"
        raise
    if result.compiled.warnings and not output.quiet:
        problems(report.text(result.compiled.warnings))
    files = sum(len(tree) for tree in result.trees.values())
    where = ", ".join(str(out / subtree) for subtree in result.trees)
    if output.verbose:
        for subtree, tree in sorted(result.trees.items()):
            output.say(f"kmc: wrote {out / subtree}/ ({len(tree)} files)")
    elapsed = time.perf_counter() - started
    output.say(f"kmc: {len(result.compiled.graph.objects)} objects, {files} files in {where} ({elapsed:.2f}s)")


def validate(stacks: Sequence[Path], output_format: str, output: Output) -> None:
    """`kmc validate`: each stack compiled without certificates; every problem of each reported."""
    from kmc import pipeline, report

    invalid: StackInvalid | None = None
    for stack in stacks:
        try:
            compiled = pipeline.compile_stack(stack, display=str(stack), certificates="files")
        except StackInvalid as err:
            if output_format == "json":
                print(report.as_json(err.diagnostics), end="", flush=True)
            elif len(stacks) > 1:
                problems(report.text(err.diagnostics))
                print(f"kmc: {stack}: {err}", file=sys.stderr, flush=True)
            invalid = err
            continue
        if output_format == "json":
            print(report.as_json(compiled.warnings), end="", flush=True)
            continue
        if compiled.warnings and not output.quiet:
            problems(report.text(compiled.warnings))
        if not output.quiet:
            print(f"{stack}: valid ({len(compiled.graph.objects)} objects)", flush=True)
    if invalid is not None:
        if output_format == "json" or len(stacks) > 1:
            raise SystemExit(invalid.exit_code)
        raise invalid


def _check(stack: Path, out: Path, formats: tuple[str, ...], env: str | None, started: float, output: Output) -> None:
    from kmc import lock, pipeline

    drift = pipeline.check(stack, out, formats, env, display=str(stack))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    where = ", ".join(str(out / subtree) for subtree in lock.subtrees(formats, env))
    if not drift:
        how = "lock" if drift.compiled is None else "compiled and compared"
        output.say(f"kmc: {where} current ({drift.files} files; {how}; {elapsed:.2f}s)")
        return
    lines = [f"added:   {out / name}\n" for name in drift.added]
    lines += [f"removed: {out / name}\n" for name in drift.removed]
    for name, diff in drift.changed:
        lines.append(f"changed: {out / name}\n")
        if not output.quiet:
            lines.append(diff)
    problems("".join(lines))
    count = len(drift.added) + len(drift.removed) + len(drift.changed)
    raise KmcError(
        f"{where} is not current: {count} file{'s differ' if count != 1 else ' differs'}; run: kmc build {stack} --out {out}"
        + ("" if formats == ("manifests",) and env is None else " with the same --format/--env")
    )


def failure(err: BaseException) -> int:
    """Report an error that ended a command; its exit code (3 and a traceback for a bug in kmc)."""
    if isinstance(err, StackInvalid):
        from kmc import report

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
