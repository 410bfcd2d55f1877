"""`kmc validate`: each stack compiled without certificates; every problem of each reported."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from kmc.commands.output import Output, problems
from kmc.errors import StackInvalid

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


def validate(stacks: Sequence[Path], output_format: str, output: Output) -> None:
    """`kmc validate`: each stack compiled without certificates; every problem of each reported."""
    from kmc import pipeline
    from kmc.commands import report

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
