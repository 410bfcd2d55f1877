"""What Prometheus ingests of each job kmc owns (`prometheus.ingest`), as `kmc build` and
`kmc explain prometheus.ingest --stack FILE` say it."""

from __future__ import annotations

from kmc.components.ingest_steps import describe, families
from kmc.components.prometheus import ingest_mode
from kmc.model import Stack


def summary(stack: Stack, path: str) -> str | None:
    """One line for `kmc build` of the stack file at `path`: per job, how many metric families
    `used` keeps; None without owned jobs."""
    if not stack.ingest:
        return None
    counts, whole = [], []
    for name, found in sorted(stack.ingest.items()):
        kept = families(found, stack.scrape.keep)
        if kept is None:
            whole.append(name)
        else:
            counts.append(f"{name} {kept}")
    envs = (None, *stack.environments)
    where_all = sorted({env or "default" for env in envs for name in stack.ingest if ingest_mode(stack, name, env) == "all"})
    line = "kmc: prometheus.ingest used keeps only what the stack's queries read, in metric families: " + ", ".join(counts)
    if whole:
        line += f"; keeping all: {', '.join(whole)}"
    if where_all:
        line += f"; some jobs ingest all in: {', '.join(where_all)}"
    return line + f" (per job: kmc explain prometheus.ingest --stack {path})"


def table(stack: Stack) -> str:
    """Per owned job: its ingest in each environment and what `used` keeps there."""
    if not stack.ingest:
        return "  the stack has no Prometheus: nothing is ingested\n"
    envs = (None, *stack.environments)
    width = max(len(name) for name in stack.ingest)
    lines = []
    for name, found in sorted(stack.ingest.items()):
        modes = ", ".join(f"{env or 'default'} {ingest_mode(stack, name, env)}" for env in envs)
        lines.append(f"  {name:<{width}}  {modes}; used {describe(found, stack.scrape.keep)}")
    return "\n".join(lines) + "\n"
