"""Nothing a query reads is dropped at ingestion: the guard rail of ingest `used`.

For every job kmc owns whose compiled scrape config carries `metric_relabel_configs`, each
selector of the stack's queries that may select the job's series (kmc.components.ingest) is made
into a series it selects: its metric name, the job's `job` and `metrics_path` labels, for `=` the
value, for `=~` a value the regex matches, for `!=` and `!~` a non-empty value they accept. That
series is run through the job's steps as Prometheus runs them (`model/relabel/relabel.go` at
v2.53.x and v3.5.0: `source_labels` joined by `separator`, default `;`, an absent label read as
""; the regex anchored as `^(?s:REGEX)$`; `replace` writes the expanded `replacement`, default
`$1`, into `target_label` where the regex matches, and deletes the label when that is empty).
A series the steps drop is a problem: that query would read nothing. The regexes are read with
Python's `re`, which agrees with RE2 on the subset kmc writes (literals quoted as Go's
regexp.QuoteMeta does, alternations, the queries' own regexes); a selector for which no such
series can be made (a regex Python reads otherwise) is not judged.

A query that does not parse once Grafana's template variables are filled in is a warning: kmc
cannot tell what it reads, so every job it may select keeps all its series.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kmc.components import ingest
from kmc.components.base import PROMETHEUS_SWITCH
from kmc.ir import lookup
from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str]
_REFERENCE = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")  # Go's regexp.Expand: $$, ${name}, $name
_CANDIDATES = ("x", "1", "a", "kmc", "")
_GROUP = re.compile(r"\((?:\?:)?([^()|]*)(?:\|[^()]*)?\)")  # a group of plain alternatives


class Unmodelled(Exception):
    """A relabel action this check does not evaluate: the job is not judged."""


@functools.cache
def _regex(text: str) -> re.Pattern[str] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(f"(?s:{text})")
    except (re.error, OverflowError, RecursionError):
        return None


def _expand(template: str, match: re.Match[str]) -> str:
    """`template` with its `$1`, `${1}`, `$name` references to `match`'s groups filled (an unknown one: "")."""

    def filled(reference: re.Match[str]) -> str:
        name = reference.group(1) or reference.group(2)
        if name is None:
            return "$"
        try:
            found = match.group(int(name)) if name.isdigit() else match.group(name)
        except (IndexError, re.error):
            return ""
        return found or ""

    return _REFERENCE.sub(filled, template)


def relabel(labels: Mapping[str, str], steps: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """`labels` after `steps` (keep, drop, replace, labeldrop, labelkeep), or None when a step
    drops the series; Unmodelled for any other action or a regex Python cannot read."""
    out = dict(labels)
    for step in steps:
        action = step.get("action", "replace")
        pattern = _regex(str(step.get("regex", "(.*)")))
        if pattern is None or action not in ("keep", "drop", "replace", "labeldrop", "labelkeep"):
            raise Unmodelled(action)
        value = str(step.get("separator", ";")).join(out.get(label, "") for label in step.get("source_labels", ()))
        if action in ("keep", "drop"):
            if (pattern.fullmatch(value) is not None) != (action == "keep"):
                return None
        elif action == "replace":
            match = pattern.fullmatch(value)
            if match is None:
                continue
            target = _expand(str(step["target_label"]), match)
            written = _expand(str(step.get("replacement", "$1")), match)
            if written:
                out[target] = written
            else:
                out.pop(target, None)
        else:
            out = {name: found for name, found in out.items() if (pattern.fullmatch(name) is not None) == (action == "labelkeep")}
    return out


def sample(regex: str) -> str | None:
    """A value the (PromQL, anchored) regex matches, where an easy one exists."""
    pattern = _regex(regex)
    if pattern is None:
        return None
    plain = regex.strip("^$")
    first_choices = _GROUP.sub(r"\1", plain)  # `a_(b|c)_d` → `a_b_d`
    pieces = [plain, first_choices, *plain.split("|")]
    candidates = [*(re.sub(r"\\(.)", r"\1", piece.replace(".*", "").replace(".+", "x").replace("\\d+", "1")) for piece in pieces), *_CANDIDATES]
    return next((candidate for candidate in candidates if pattern.fullmatch(candidate)), None)


def _value(matchers: Sequence[tuple[str, str]]) -> str | None:
    """A value every matcher of one label accepts ("" : the label absent), where one is easy to find."""
    candidates = [value for op, value in matchers if op == "="]
    candidates += [found for op, value in matchers if op == "=~" and (found := sample(value)) is not None]
    for candidate in [*candidates, *_CANDIDATES]:
        if all(ingest.holds(op, value, candidate) for op, value in matchers):
            return candidate
    return None


def series(selector: ingest.Selector, job_labels: Mapping[str, str], external: frozenset[str] = frozenset()) -> dict[str, str] | None:
    """A series `selector` selects among the job's, as its labels at ingestion (without the
    `external` labels, which it gets only when it leaves Prometheus); None where none is easy to make."""
    name = selector.name if selector.name is not None else (sample(selector.pattern) if selector.pattern is not None else None)
    if not name:
        return None
    labels = {"__name__": name, **{label: value for label, value in job_labels.items() if value}}
    by_label: dict[str, list[tuple[str, str]]] = {}
    for label, op, value in selector.matchers:
        by_label.setdefault(label, []).append((op, value))
    for label, matchers in by_label.items():
        if label in ingest.JOB_LABELS or label in external:
            continue  # the job's own (selects_job holds), or not there at ingestion
        found = _value(matchers)
        if found is None:
            return None
        if found:
            labels[label] = found
    return labels


def check(stack: Stack) -> tuple[dict[str, ingest.Plan], list[Problem], list[Problem]]:
    """What each owned job keeps under ingest `used` (kmc.components.ingest.plans), with the
    problems of the stack's ingest settings and the warnings of queries kmc cannot read."""
    if not stack.enabled_somewhere(PROMETHEUS_SWITCH):
        return {}, [], []
    analysis = ingest.analyse(stack)
    plans = ingest.plans(stack, analysis)
    jobs = [{"job_name": name, "metric_relabel_configs": ingest.steps(found, stack.scrape.keep)} for name, found in plans.items()]
    found = [*unknown_jobs(stack, plans), *problems(stack, jobs, analysis)]
    return plans, found, unparsed(stack, analysis)


def unknown_jobs(stack: Stack, plans: Mapping[str, ingest.Plan]) -> Iterator[Problem]:
    """`prometheus.ingest.jobs` entries, in the stack or an environment, naming no job kmc owns
    nor one the stack may opt in."""
    known = {*plans, *ingest.opt_in_candidates(stack)}
    for env in (None, *stack.environments):
        written = stack.parameters if env is None else stack.environments[env]
        entries = lookup(written, "prometheus.ingest.jobs") or {}
        for name in sorted(entries):
            if name in known:
                continue
            where: JsonPath = ("prometheus", "ingest", "jobs", name) if env is None else ("environments", env, "prometheus", "ingest", "jobs", name)
            import difflib  # only to explain a mistake

            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            yield (
                where,
                f"the stack has no job {name!r} whose ingest could be chosen",
                f"{hint}the jobs here: {', '.join(sorted(known))} (imported monitors' jobs, and extra jobs that relabel `job`, keep everything)",
            )


def problems(stack: Stack, jobs: Sequence[Mapping[str, Any]], analysis: ingest.Analysis | None = None) -> list[Problem]:
    """A problem for each selector of the stack's queries whose series a job of `jobs` (scrape
    configs of the jobs ingest `used` keep-lists, with their steps) drops in its `metric_relabel_configs`."""
    analysis = analysis or ingest.analyse(stack)
    found: list[Problem] = []
    for job in jobs:
        name = str(job["job_name"])
        steps = job.get("metric_relabel_configs")
        if not steps:
            continue
        found += _dropped(analysis.selectors, name, ingest.job_labels(stack, name), steps, ingest.external_labels(stack))
    return list(dict.fromkeys(found))


def _dropped(
    selectors: Sequence[ingest.Selector], job: str, labels: Mapping[str, str], steps: Sequence[Mapping[str, Any]], external: frozenset[str]
) -> Iterator[Problem]:
    for selector in selectors:
        if not selector.selects_job(labels):
            continue
        made = series(selector, labels, external)
        if made is None:
            continue
        try:
            kept = relabel(made, steps)
        except Unmodelled:
            return
        if kept is None:
            name = selector.name or selector.pattern
            yield (
                selector.query.where,
                f"{selector.query.source} selects {selector.text}, whose series job {job!r} drops at ingestion (its metric_relabel_configs)",
                f"add {name} to scrape.keep, or set prometheus.ingest.jobs.{job}: all",
            )


def unparsed(stack: Stack, analysis: ingest.Analysis | None = None) -> list[Problem]:
    """A warning for each query kmc cannot parse: the jobs it may select keep all their series."""
    return [
        (
            query.where,
            f"{query.source} does not parse as PromQL once its template variables are filled in: {query.expr!r}",
            "the jobs it may select keep all their series (prometheus.ingest: used cannot tell what it reads); fix the query",
        )
        for query in (analysis or ingest.analyse(stack)).unparsed
    ]
