"""`kmc build` and `kmc build --check`, without click: a pre-commit hook's hot path.

`kmc.commands.entry` runs a plain `kmc build ...` line through here directly (click and what it
imports cost a build ~45 ms); `kmc.commands.cli` calls the same functions, so both paths print
the same lines and exit with the same codes. `proven_current` answers from the lock alone,
importing nothing but the standard library.
"""

from __future__ import annotations

import sys
import time

from kmc.commands.argv import FORMATS, BuildLine, shown
from kmc.commands.output import Output, problems
from kmc.errors import KmcError, StackInvalid

TYPE_CHECKING = False  # not typing's: importing typing costs ~4 ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any


def proven_current(line: BuildLine) -> bool:
    """Whether the lock proves `line`'s output current (then said, unless -q); stdlib only.

    A build then has nothing to write; it repeats the warnings its compile gave and what to
    create before applying. The click CLI asks the same first, so both paths say the same."""
    started = time.perf_counter()
    from kmc.output import lock

    names = lock.subtrees(FORMATS[line.fmt], line.env)
    try:
        proof = lock.proven(line.out, line.stack, names)
    except OSError:
        return False
    if proof is None:
        return False
    files, warnings, needed = proof
    if not line.check and warnings and not line.quiet:
        _replay(line.stack, warnings)
    if not line.quiet:
        for text in [] if line.check else before_you_apply(needed):
            print(text, file=sys.stderr)
        where = ", ".join(shown(line.out, name) for name in names)
        print(f"kmc: {where} current ({files} files; lock; {time.perf_counter() - started:.2f}s)", file=sys.stderr)
    return True


def before_you_apply(needed: Mapping[str, Any]) -> list[str]:
    """The lines `kmc build` says before its summary line: each object the built subtrees need and do not hold, with
    its keys, and where only some formats or environments need it. `needed`: by subtree, by
    environment, the objects as kmc.pipeline.prerequisites lists them (or the lock recorded them)."""
    pairs: dict[str, set[tuple[str, str]]] = {}  # object → the (format, environment) pairs needing it
    keys: dict[str, set[str]] = {}
    built: dict[str, set[str]] = {}  # format → its environments
    try:
        for subtree, by_env in needed.items():
            fmt = subtree.split("/", 1)[0]
            for env, items in by_env.items():
                built.setdefault(fmt, set()).add(env)
                for item in items:
                    pairs.setdefault(item["object"], set()).add((fmt, env))
                    keys.setdefault(item["object"], set()).update(item["keys"])
    except (AttributeError, KeyError, TypeError):
        return []  # a lock edited by hand: its list is not kmc's
    if not pairs:
        return []
    every = {(fmt, env) for fmt, envs in built.items() for env in envs}
    told = [text for fmt, text in (("manifests", "PREREQUISITES.md"), ("kustomize", "PREREQUISITES.md"), ("helm", "the chart's NOTES.txt")) if fmt in built]
    settings = any(name.startswith(SETTING_REF) for name in pairs)
    also = ", and set the cluster up so" if settings else ""
    lines = [f"kmc: before you apply, create what the output needs and does not hold{also} (why and how: {', '.join(dict.fromkeys(told))}):"]
    for name in sorted(pairs, key=_object_order):
        held = f": {', '.join(sorted(keys[name]))}" if keys[name] else ""
        lines.append(f"  {name}{held}{_only(pairs[name], every, built)}")
    return lines


def _object_order(name: str) -> tuple[int, str]:
    kind = name.split(" ", 1)[0]
    return (_KINDS.index(kind) if kind in _KINDS else len(_KINDS), name)


# The kinds of prerequisites in the order kmc.components.prerequisites lists them (by kmc.ir.KIND_ORDER);
# the cluster settings last.
_KINDS = ("Namespace", "CustomResourceDefinition", "Secret", "Issuer", "ClusterIssuer", "Gateway", "IngressClass", "PriorityClass", "StorageClass")
SETTING_REF = "cluster setting: "  # how kmc.components.prerequisites names a setting of the cluster (its `ref`)


def _only(where: set[tuple[str, str]], every: set[tuple[str, str]], built: Mapping[str, set[str]]) -> str:
    """` (helm only)`, ` (dev, prod only)` or ` (helm: dev; manifests: dev, prod)`: where, when not everywhere."""
    if where == every:
        return ""
    formats = sorted({fmt for fmt, _ in where})
    envs = sorted({env for _, env in where})
    if where == {(fmt, env) for fmt in formats for env in built[fmt]}:
        return f" ({', '.join(formats)} only)"
    if where == {(fmt, env) for fmt in built for env in envs if env in built[fmt]}:
        return f" ({', '.join(envs)} only)"
    return " (" + "; ".join(f"{fmt}: {', '.join(sorted(env for f, env in where if f == fmt))}" for fmt in formats) + ")"


def _replay(stack: str, warnings: list[dict[str, object]]) -> None:
    """The warnings of the build the lock records, as that build printed them."""
    import os

    from kmc.commands import report
    from kmc.errors import Diagnostic

    try:
        diagnostics = [
            Diagnostic(
                os.path.join(os.path.dirname(stack), str(warning["input"])) if "input" in warning else stack,
                **{key: value for key, value in warning.items() if key != "input"},  # type: ignore[arg-type]
            )
            for warning in warnings
        ]
    except TypeError:
        return  # a lock edited by hand: its warnings are not kmc's
    report.show(report.text(diagnostics))


def build(stack: Path, fmt: str, out: Path, env: str | None, check: bool, output: Output) -> None:
    from kmc import pipeline
    from kmc.commands import report

    started = time.perf_counter()
    formats = pipeline.FORMATS if fmt == "all" else (fmt,)
    if check:
        _check(stack, out, formats, env, started, output)
        return
    try:
        # What the build mints into the certificate state is said even with -q: it is to be committed.
        result = pipeline.build(stack, out, formats, env, display=str(stack), say=_made)  # type: ignore[arg-type]
    except StackInvalid as err:
        err.consequence = "nothing was written"
        raise
    if result.compiled.warnings and not output.quiet:
        problems(report.text(result.compiled.warnings))
    if not output.quiet:
        from kmc.commands import ingest_report

        ingested = ingest_report.summary(result.compiled.stack, str(stack))
        if ingested:
            output.say(ingested)
    files = sum(len(tree) for tree in result.trees.values())
    where = ", ".join(str(out / subtree) for subtree in result.trees)
    if output.verbose:
        for subtree, tree in sorted(result.trees.items()):
            output.say(f"kmc: wrote {out / subtree}/ ({len(tree)} files)")
    for text in before_you_apply(result.prerequisites):
        output.say(text)
    elapsed = time.perf_counter() - started
    output.say(f"kmc: {len(result.compiled.graph.objects)} objects, {files} files in {where} ({elapsed:.2f}s)")


def _made(line: str) -> None:
    print(f"kmc: {line}; commit the certificates and issued.json (the .key files stay out of git)", file=sys.stderr, flush=True)


def _check(stack: Path, out: Path, formats: tuple[str, ...], env: str | None, started: float, output: Output) -> None:
    from kmc import pipeline
    from kmc.output import lock

    drift = pipeline.check(stack, out, formats, env, display=str(stack))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    where = ", ".join(str(out / subtree) for subtree in lock.subtrees(formats, env))
    if not drift:
        how = "lock" if drift.compiled is None else "compiled and compared"
        output.say(f"kmc: {where} current ({drift.files} files; {how}; {elapsed:.2f}s)")
        return
    # From the output's side: what a build would write that is not there, what is there that
    # kmc does not write (a build removes it), and what differs.
    lines = [f"missing: {out / name}\n" for name in drift.missing]
    lines += [f"unexpected: {out / name}{f' ({what})' if what else ''}\n" for name, what in drift.unexpected]
    for name, diff in drift.changed:
        lines.append(f"changed: {out / name}\n")
        if not output.quiet:
            lines.append(diff)
    problems("".join(lines))
    count = len(drift.missing) + len(drift.unexpected) + len(drift.changed)
    raise KmcError(
        f"{where} is not current: {count} file{'s differ' if count != 1 else ' differs'}; run: kmc build {stack} --out {out}"
        + ("" if formats == ("manifests",) and env is None else " with the same --format/--env")
    )
