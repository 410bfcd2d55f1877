"""Ingest what is read: for each scrape job kmc owns, the metric relabel steps that keep only the
series some query of the stack can select.

The model. kmc sees every query its stack runs (`queries`): the rule packs as the stack renders
them, the stack's own rules and the imported PrometheusRules, the library and user dashboards
(panels, template variables, annotations), prometheus-adapter's rules and the KEDA triggers,
over every environment at once (a job has one config for the whole stack). Each vector selector
of a query is a metric name (a literal, a `__name__` regex or none) and label matchers. A
selector may select a job's series when its `job`/`metrics_path` matchers hold for the labels the
job gives its series (kmc.components.job_names); without such matchers it may select any job.
A job is keep-listed when every selector that may select it names its metric (a literal or a
regex that does not match every name): a `keep` on `__name__` of those names and regexes and of
`scrape.keep`. Where every selector of a kept name constrains some other label positively
(`=`, `=~`, `!=""`), the series of that name no selector can select are dropped too: a `replace`
marks the selected ones with a temporary label, a `drop` removes the unmarked ones, a `labeldrop`
removes the mark. Matchers on the external labels (`cluster`, a shard's or replica's label)
narrow nothing: a series gets them only when it leaves Prometheus, where Thanos Query shows them.
A relabel regex cannot negate, so matchers that exclude values (`!=` a value,
`!~`) narrow a name only where every selector of it excludes the same values: a `drop` of those.
Anything else the steps cannot tell keeps more, never less. A query that does not parse keeps
every job it may select whole. Grafana's template variables are filled in first (`substituted`):
a variable in a matcher's value stands for any value and narrows nothing.

Upstream facts, read at the tags kmc pins (v2.53.x and v3.5.0 of prometheus/prometheus):
- `model/relabel/relabel.go`: a step joins its `source_labels`' values with `separator` (`;`),
  an absent label reading as ""; its regex is anchored as `^(?s:REGEX)$` (RE2); `replace` sets
  `target_label` to the expanded `replacement` where the regex matches and leaves it otherwise;
  `keep`/`drop` keep or drop the series on a match; `labeldrop` deletes the matching label names.
- `scrape/scrape.go` (`mutateSampleLabels`): metric relabeling runs on the series' labels with
  the target's labels already attached (`job`, `instance`, ...), and whatever it leaves is
  stored: a label starting with `__` is not removed after it, so the temporary label must be
  dropped by a step of its own.
- `scrape/scrape.go` (report samples): `up` and the `scrape_*` series are written without metric
  relabeling, so they need no keep-list entry; `ALERTS` and `ALERTS_FOR_STATE` come from rules.
- PromQL label matchers (`model/labels/regexp.go`) anchor their regex the same way as relabel
  steps, so a matcher's regex means the same inside a relabel regex.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kmc.components import job_names, sharding
from kmc.components.ingest_steps import MARK as MARK
from kmc.components.ingest_steps import Plan as Plan
from kmc.components.ingest_steps import describe as describe
from kmc.components.ingest_steps import quote_meta as quote_meta
from kmc.components.ingest_steps import steps as steps
from kmc.components.stack_queries import SERIES, Query, recorded
from kmc.components.stack_queries import queries as queries
from kmc.ir import lookup
from kmc.model import Stack
from kmc.record import record, replace

# Series Prometheus writes itself, never scraped from a target.
SYNTHETIC = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "scrape_timeout_seconds",
        "scrape_sample_limit",
        "scrape_body_size_bytes",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)
JOB_LABELS = ("job", "metrics_path")
# The jobs that scrape whatever is annotated: their metrics are the workloads', not kmc's.
ANNOTATION_JOBS = ("kubernetes-pods", "kubernetes-pods-slow", "kubernetes-service-endpoints", "kubernetes-service-endpoints-slow")
# Names a regex that stands for "any metric" matches: it bounds nothing.
_ANY_NAME = ("a", "up", "x_total", "node_cpu_seconds_total", "kmc:probe:sum")

Matcher = tuple[str, str, str]  # (label, operator, value); operator = != =~ !~


@record
class Selector:
    """One vector selector of a query (one alternative of an `or` of matcher sets)."""

    query: Query
    text: str  # as written (after template substitution)
    name: str | None  # the metric name, where literal
    pattern: str | None  # a `__name__` regex, where the name is one
    matchers: tuple[Matcher, ...]  # on the other labels, sorted

    @property
    def bounded(self) -> bool:
        """Whether the selector names the metrics it reads: a literal, or a regex that not every name matches."""
        if self.name is not None:
            return True
        return self.pattern is not None and not all(_full(self.pattern, name) for name in _ANY_NAME)

    def reads(self, name: str) -> bool:
        """Whether the selector may select series called `name`."""
        if self.name is not None:
            return self.name == name
        return self.pattern is None or _full(self.pattern, name)

    def positive(self, external: frozenset[str] = frozenset()) -> tuple[tuple[str, str], ...]:
        """The matchers a relabel regex can express, as (label, regex of the value), sorted; none
        on the `external` labels, which a series gets after ingestion (Thanos Query shows them)."""
        found = []
        for label, op, value in self.matchers:
            if label in JOB_LABELS or label in external:
                continue  # the job's are fixed within a job: they decide which jobs, not which series
            if op == "=":
                found.append((label, quote_meta(value)))
            elif op == "=~":
                found.append((label, _grouped(value)))
            elif op == "!=" and value == "":
                found.append((label, ".+"))
        return tuple(sorted(found))

    def negative(self, external: frozenset[str] = frozenset()) -> frozenset[tuple[str, str]]:
        """The matchers that exclude values (`!=` a value, `!~`), as (label, regex of the excluded
        values); none on the `external` labels."""
        return frozenset(
            (label, quote_meta(value) if op == "!=" else _grouped(value))
            for label, op, value in self.matchers
            if label not in JOB_LABELS and label not in external and (op == "!~" or (op == "!=" and value != ""))
        )

    def selects_job(self, labels: Mapping[str, str]) -> bool:
        """Whether the job whose series carry `labels` (its `job` and `metrics_path`, "" absent) may be selected."""
        return all(holds(op, value, labels.get(label, "")) for label, op, value in self.matchers if label in JOB_LABELS)


def _grouped(regex: str) -> str:
    """`regex` as one piece of a concatenation."""
    return f"(?:{regex})" if "|" in regex or "(?" in regex else regex


# RE2 syntax Python reads otherwise (POSIX classes, Unicode classes, quoting): such a regex is taken to match.
_RE2_ONLY = re.compile(r"\[:|\\[pPQzC]")


@functools.cache
def _python(regex: str) -> re.Pattern[str] | None:
    if _RE2_ONLY.search(regex):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(regex, re.DOTALL)
    except (re.error, OverflowError, RecursionError):
        return None


def _full(regex: str, value: str) -> bool:
    """Whether RE2 `regex` matches all of `value`; where Python reads it otherwise, taken to match."""
    pattern = _python(regex)
    return pattern is None or pattern.fullmatch(value) is not None


def holds(op: str, wanted: str, value: str) -> bool:
    """Whether a label's `value` ("" : absent) satisfies the matcher `op` `wanted`; a regex Python reads otherwise is taken to match."""
    if op in ("=", "!="):
        return (value == wanted) == (op == "=")
    pattern = _python(wanted)
    if pattern is None:
        return True
    return (pattern.fullmatch(value) is not None) == (op == "=~")


# -- selectors ---------------------------------------------------------------------------------

VARIABLE = "kmc_grafana_variable"  # what a Grafana template variable reads as: any value
_VARIABLES = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
_DURATIONS = frozenset({"__interval", "__rate_interval", "__range", "__auto"})
_NUMBERS = frozenset({"__interval_ms", "__rate_interval_ms", "__range_s", "__range_ms", "__from", "__to"})
# A variable right after these is a number: `topk($n, ...)`.
_NUMBER_BEFORE = re.compile(r"\b(?:topk|bottomk|limitk|limit_ratio|quantile|quantile_over_time|histogram_quantile)\s*\(\s*$")


def substituted(expr: str) -> str:
    """`expr` with Grafana's template variables (`$var`, `${var}`, `${var:format}`, `[[var]]`)
    written so that it parses: durations (`$__rate_interval`, a variable as a range or offset) as
    5m, numbers as 300, anything else as VARIABLE, which stands for any value."""

    def written(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        before, after = expr[: match.start()].rstrip(), expr[match.end() :].lstrip()
        if name in _DURATIONS or before.endswith("[") or before.lower().endswith("offset") or (before.endswith(":") and after.startswith("]")):
            return "5m"
        if name in _NUMBERS or _NUMBER_BEFORE.search(before):
            return "300"
        return VARIABLE

    return _VARIABLES.sub(written, expr)


# promql_parser's matcher operators, as PromQL spells them.
OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def selectors(query: Query) -> list[Selector] | None:
    """The vector selectors of `query`, each `or` alternative apart; None when it does not parse."""
    import promql_parser

    text = substituted(query.expr) if query.grafana else query.expr
    try:
        tree = promql_parser.parse(text)
    except ValueError:
        return None
    found: list[Selector] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            found.extend(_alternatives(query, node))
        return True

    promql_parser.walk(tree, visit)
    return found


def _alternatives(query: Query, node: Any) -> Iterator[Selector]:
    sets = [list(node.matchers.matchers)] if node.matchers.matchers or not node.matchers.or_matchers else []
    sets += [list(alternative) for alternative in node.matchers.or_matchers or ()]
    text = str(node.prettify()).strip().replace(VARIABLE, "$variable")
    for matchers in sets:
        name: str | None = node.name or None
        pattern: str | None = None
        rest: list[Matcher] = []
        for matcher in matchers:
            op, value = OPS[str(matcher.op)], str(matcher.value)
            if matcher.name == "__name__" and op in ("=", "=~"):
                name, pattern = (value, None) if op == "=" else (None, value)
            elif VARIABLE not in value and VARIABLE not in matcher.name and matcher.name != "__name__":
                rest.append((str(matcher.name), op, value))  # a variable's value is any value: it narrows nothing
        if name is not None and VARIABLE in name:  # a variable in a name: whatever it is set to
            pattern = ".*".join(quote_meta(part) for part in name.split(VARIABLE))
            name = None
        elif pattern is not None and VARIABLE in pattern:
            pattern = pattern.replace(VARIABLE, ".*")
        if name == SERIES:
            name = None
        yield Selector(query, text, name, pattern, tuple(sorted(rest)))


# -- the jobs and their steps ------------------------------------------------------------------


def owned_jobs(stack: Stack) -> list[dict[str, Any]]:
    """The scrape configs of the jobs kmc owns: all but the annotation jobs, the imported monitors' and `scrape.extraJobs`."""
    from kmc.components import facts
    from kmc.components.scrape_jobs import scrape_configs

    others = {*ANNOTATION_JOBS, *(str(job["job_name"]) for job in (*stack.monitors.jobs, *stack.scrape.extra_jobs))}
    return [job for job in scrape_configs(stack, facts(stack).service_targets) if job["job_name"] not in others]


def job_labels(stack: Stack, job_name: str) -> dict[str, str]:
    """The `job` and `metrics_path` labels an owned job gives its series ("" : none)."""
    found = job_names.label(job_name, stack.scrape.job_names)
    return {"job": found.job, "metrics_path": found.metrics_path or ""}


@record
class Analysis:
    """The stack's selectors of scraped series, and the queries that do not parse."""

    selectors: tuple[Selector, ...]
    unparsed: tuple[Query, ...]


def analyse(stack: Stack) -> Analysis:
    """Every selector of the stack's queries that reads scraped series (not a recorded or synthetic name)."""
    skip = recorded(stack) | SYNTHETIC
    found: list[Selector] = []
    unparsed: list[Query] = []
    for query in queries(stack):
        parsed = selectors(query)
        if parsed is None:
            unparsed.append(query)
        else:
            found += [selector for selector in parsed if selector.name not in skip]
    return Analysis(tuple(found), tuple(unparsed))


_JOB_TEXT = re.compile(r'\bjob\s*(=~?|!=|!~)\s*"([^"]*)"')


def _unparsed_may_select(query: Query, labels: Mapping[str, str]) -> bool:
    """Whether a query kmc cannot parse may select the job: unless its text names other jobs only."""
    named = _JOB_TEXT.findall(query.expr)
    return not named or any(holds(op, value, labels["job"]) for op, value in named if VARIABLE not in substituted(value))


def plan(selectors: Sequence[Selector], labels: Mapping[str, str], job: str, unparsed: Sequence[Query] = (), external: frozenset[str] = frozenset()) -> Plan:
    """Job `job`'s ingest `used`, its series labelled `labels`, from the stack's selectors; the
    `external` labels (`external_labels`) narrow nothing."""
    for query in unparsed:
        if _unparsed_may_select(query, labels):
            return Plan(job, (), (), {}, keeps_all=f"{query.source} does not parse as PromQL: {query.expr!r}")
    mine = [selector for selector in selectors if selector.selects_job(labels)]
    for selector in mine:
        if not selector.bounded:
            return Plan(job, (), (), {}, keeps_all=f"{selector.query.source} selects {selector.text}, which does not bound the metric name")
    by_name: dict[str, list[Selector]] = {}
    for selector in mine:
        if selector.name is not None:
            by_name.setdefault(selector.name, []).append(selector)
    by_pattern = [selector for selector in mine if selector.pattern is not None]
    names = tuple(sorted(by_name))
    patterns = tuple(sorted({selector.pattern for selector in by_pattern if selector.pattern is not None}))
    refined: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {}
    excluded: dict[str, tuple[tuple[str, str], ...]] = {}
    conditioned: dict[str, tuple[tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]], ...]] = {}
    for name in names:
        readers = [*by_name[name], *(selector for selector in by_pattern if selector.reads(name))]
        rows = [selector.positive(external) for selector in readers]
        negatives = [selector.negative(external) for selector in readers]
        shared = frozenset.intersection(*negatives)
        if shared:
            excluded[name] = tuple(sorted(shared))
        if all(rows) and not any(negative - shared for negative in negatives):
            refined[name] = tuple(sorted(set(rows)))
        elif all(row or negative - shared for row, negative in zip(rows, negatives, strict=True)):
            # Some selector excludes what another reads: each selector marks what it selects.
            conditioned[name] = tuple(sorted({(row, tuple(sorted(negative - shared))) for row, negative in zip(rows, negatives, strict=True)}))
    return Plan(job, names, patterns, refined, excluded, conditioned)


def plans(stack: Stack, analysis: Analysis | None = None) -> dict[str, Plan]:
    """By job name, the ingest `used` of each job kmc owns and of each job the stack opts in
    (`opted_in`); `analysis`: the stack's, where already made."""
    analysis = analysis or analyse(stack)
    found = {}
    for job in owned_jobs(stack):
        name = str(job["job_name"])
        found[name] = plan(analysis.selectors, job_labels(stack, name), name, analysis.unparsed, external_labels(stack))
    for name in opted_in(stack):
        chosen = plan(analysis.selectors, {"job": name, "metrics_path": ""}, name, analysis.unparsed, external_labels(stack))
        found[name] = replace(chosen, opted_in=True)
    return found


def opt_in_candidates(stack: Stack) -> list[str]:
    """The jobs whose metrics are the workloads' that a stack may opt in to ingest `used`: the
    annotation jobs and the extra jobs that do not relabel their `job` label (a query's `job`
    matcher must be able to tell them)."""
    annotation = [*(ANNOTATION_JOBS[:2] if stack.scrape.pods else ()), *(ANNOTATION_JOBS[2:] if stack.scrape.services else ())]
    extra = [str(job["job_name"]) for job in stack.scrape.extra_jobs if not any(step.get("target_label") == "job" for step in job.get("relabel_configs", ()))]
    return [*annotation, *extra]


def opted_in(stack: Stack) -> list[str]:
    """The candidates (`opt_in_candidates`) that `prometheus.ingest.jobs` sets to `used` in the stack or some environment."""
    named = {
        name for env in (None, *stack.environments) for name, mode in (lookup(stack.values(env), "prometheus.ingest.jobs") or {}).items() if mode == "used"
    }
    return [name for name in opt_in_candidates(stack) if name in named]


def external_labels(stack: Stack) -> frozenset[str]:
    """The labels Prometheus adds to its series only when they leave it (federation, remote write,
    Thanos' sidecar, alerts): absent at ingestion, so a matcher on one cannot narrow it."""
    return frozenset({*stack.prometheus.external_labels, sharding.SHARD_LABEL, stack.prometheus.ha_replica_label})
