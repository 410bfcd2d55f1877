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
removes the mark. Matchers a relabel regex cannot express (`!=` a value, `!~`) are ignored there:
the steps keep more, never less. A query that does not parse keeps every job it may select whole.

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

import json
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from types import MappingProxyType
from typing import Any

from kmc.components import adapter_rules, job_names, keda, prometheus_adapter, rule_packs
from kmc.model import Stack
from kmc.read.document import JsonPath
from kmc.record import record

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
MARK = "__tmp_kmc_used"  # the temporary label of the steps that drop the series no selector selects
JOB_LABELS = ("job", "metrics_path")
# The jobs that scrape whatever is annotated: their metrics are the workloads', not kmc's.
ANNOTATION_JOBS = ("kubernetes-pods", "kubernetes-pods-slow", "kubernetes-service-endpoints", "kubernetes-service-endpoints-slow")
# Names a regex that stands for "any metric" matches: it bounds nothing.
_ANY_NAME = ("a", "up", "x_total", "node_cpu_seconds_total", "kmc:probe:sum")

Matcher = tuple[str, str, str]  # (label, operator, value); operator = != =~ !~


@record
class Query:
    """One PromQL expression the stack runs, and where it comes from."""

    source: str  # as a person reads it: "kmc's rule 'KubePodCrashLooping' (pack 'workloads')"
    where: JsonPath
    expr: str


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

    def positive(self) -> tuple[tuple[str, str], ...]:
        """The matchers a relabel regex can express, as (label, regex of the value), sorted."""
        found = []
        for label, op, value in self.matchers:
            if label in JOB_LABELS:
                continue  # fixed within a job: they decide which jobs, not which series
            if op == "=":
                found.append((label, quote_meta(value)))
            elif op == "=~":
                found.append((label, _grouped(value)))
            elif op == "!=" and value == "":
                found.append((label, ".+"))
        return tuple(sorted(found))

    def negative(self) -> frozenset[tuple[str, str]]:
        """The matchers that exclude values (`!=` a value, `!~`), as (label, regex of the excluded values)."""
        return frozenset(
            (label, quote_meta(value) if op == "!=" else _grouped(value))
            for label, op, value in self.matchers
            if label not in JOB_LABELS and (op == "!~" or (op == "!=" and value != ""))
        )

    def selects_job(self, labels: Mapping[str, str]) -> bool:
        """Whether the job whose series carry `labels` (its `job` and `metrics_path`, "" absent) may be selected."""
        return all(holds(op, value, labels.get(label, "")) for label, op, value in self.matchers if label in JOB_LABELS)


@record
class Plan:
    """One owned job's ingest `used`: the names and name regexes it keeps, or why it keeps all."""

    job: str
    names: tuple[str, ...]  # literal metric names, sorted
    patterns: tuple[str, ...]  # `__name__` regexes, sorted
    refined: Mapping[str, tuple[tuple[tuple[str, str], ...], ...]]  # name → its selectors' positive matchers
    # name → the (label, excluded values) every selector of the name excludes
    excluded: Mapping[str, tuple[tuple[str, str], ...]] = field(default=MappingProxyType({}))
    keeps_all: str | None = None  # why the job cannot be keep-listed


def _grouped(regex: str) -> str:
    """`regex` as one piece of a concatenation."""
    return f"(?:{regex})" if "|" in regex or "(?" in regex else regex


def quote_meta(text: str) -> str:
    """`text` as an RE2 regex matching exactly it, as Go's regexp.QuoteMeta writes it."""
    return "".join(f"\\{char}" if char in _META else char for char in text)


_META = frozenset("\\.+*?()|[]{}^$")


def _python(regex: str) -> re.Pattern[str] | None:
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
    if op in ("=", "!="):
        return (value == wanted) == (op == "=")
    pattern = _python(wanted)
    if pattern is None:
        return True
    return (pattern.fullmatch(value) is not None) == (op == "=~")


# -- the queries -------------------------------------------------------------------------------


def queries(stack: Stack) -> list[Query]:
    """Every query the stack runs or serves, in a fixed order: rules, dashboards, adapter, KEDA."""
    return [*_rule_queries(stack), *_dashboard_queries(stack), *_adapter_queries(stack), *_keda_queries(stack)]


def _rule_queries(stack: Stack) -> Iterator[Query]:
    for name, pack in rule_packs.active_packs(stack, rule_packs.library()).items():
        data = rule_packs.pack_file(pack, stack.rules.overrides, stack.rules.disabled, stack.scrape.job_names)
        for group in data["groups"]:
            for rule in group["rules"]:
                title = rule.get("alert") or rule.get("record")
                yield Query(f"kmc's rule {title!r} (pack {name!r})", ("rules", "packs", name), str(rule["expr"]))
    for index, group in enumerate(stack.rules.groups):
        for position, rule in enumerate(group["rules"]):
            title = rule.get("alert") or rule.get("record")
            yield Query(f"rule {title!r}", ("rules", "groups", index, "rules", position, "expr"), str(rule["expr"]))
    for file, text in sorted(stack.monitors.rule_files.items()):
        for group in rule_packs.read_rule_file(text)["groups"]:
            for rule in group["rules"]:
                title = rule.get("alert") or rule.get("record")
                yield Query(f"imported rule {title!r} ({file})", ("monitors", "files"), str(rule["expr"]))


def recorded(stack: Stack) -> frozenset[str]:
    """The names the stack's rules record: Prometheus writes them, no target exposes them."""
    names = {str(rule["record"]) for group in stack.rules.groups for rule in group["rules"] if "record" in rule}
    for pack in rule_packs.active_packs(stack, rule_packs.library()).values():
        names.update(str(rule["record"]) for group in pack.groups for rule in group.rules if isinstance(rule, Mapping) and "record" in rule)
    for text in stack.monitors.rule_files.values():
        names.update(str(rule["record"]) for group in rule_packs.read_rule_file(text)["groups"] for rule in group["rules"] if "record" in rule)
    return frozenset(names)


def _dashboard_queries(stack: Stack) -> Iterator[Query]:
    if not stack.enabled_somewhere("grafana.enabled"):
        return
    grafana = stack.grafana
    # kmc.components.dashboards.vendor: the library's that have panels left, in library order,
    # then one per file, in stack order.
    library = len(grafana.dashboards) - len(grafana.files)
    names = [f"kmc-{name}" for name in grafana.library]
    for position, board in enumerate(grafana.dashboards):
        where: JsonPath
        if position < library:
            where = ("grafana", "dashboards", "library", names.index(board.name))
        else:
            where = ("grafana", "dashboards", "files", position - library, "file")
        yield from dashboard_queries(board.name, json.loads(board.json), where)


def dashboard_queries(name: str, board: Mapping[str, Any], where: JsonPath) -> Iterator[Query]:
    """The PromQL of a dashboard: its panels' targets, its template variables' queries and its annotations."""
    for panel in _panels(board):
        title = panel.get("title") or "(untitled)"
        for target in panel.get("targets") or ():
            if isinstance(target, Mapping) and _promql(target, panel) and isinstance(target.get("expr"), str) and target["expr"].strip():
                yield Query(f"dashboard {name!r} panel {title!r}", where, target["expr"])
    for variable in (board.get("templating") or {}).get("list") or ():
        if isinstance(variable, Mapping) and variable.get("type") == "query" and _promql(variable, {}):
            found = variable.get("query")
            text = found.get("query") if isinstance(found, Mapping) else found
            expr = _variable_expr(text) if isinstance(text, str) else None
            if expr:
                yield Query(f"dashboard {name!r} variable {variable.get('name')!r}", where, expr)
    for annotation in (board.get("annotations") or {}).get("list") or ():
        if isinstance(annotation, Mapping) and _promql(annotation, {}) and isinstance(annotation.get("expr"), str) and annotation["expr"].strip():
            yield Query(f"dashboard {name!r} annotation {annotation.get('name')!r}", where, annotation["expr"])


def _panels(board: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every panel, those inside rows (collapsed rows, old-style `rows`) included."""
    pending = [*(board.get("panels") or ()), *(panel for row in board.get("rows") or () if isinstance(row, Mapping) for panel in row.get("panels") or ())]
    while pending:
        panel = pending.pop(0)
        if isinstance(panel, Mapping):
            yield panel
            pending[:0] = list(panel.get("panels") or ())


def _promql(item: Mapping[str, Any], panel: Mapping[str, Any]) -> bool:
    """Whether a target, variable or annotation queries a Prometheus (Loki's `expr` is LogQL)."""
    for holder in (item, panel):
        source = holder.get("datasource")
        if isinstance(source, Mapping) and isinstance(source.get("type"), str):
            return bool(source["type"] == "prometheus")
    return True


_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.DOTALL)


def _variable_expr(text: str) -> str | None:
    """The PromQL of a Prometheus template variable's query: `label_values(SELECTOR, label)` and
    `query_result(EXPR)`; `label_values(label)` and `metrics(regex)` read no series' samples."""
    for form in (_LABEL_VALUES, _QUERY_RESULT):
        match = form.match(text)
        if match:
            return match.group(1)
    return None


def _adapter_queries(stack: Stack) -> Iterator[Query]:
    if not prometheus_adapter.compiled(stack):
        return
    adapter = stack.prometheus_adapter
    base: JsonPath = ("prometheusAdapter",)
    for index, custom in enumerate(adapter.custom):
        yield from _rule_pair(f"adapter metric {custom.name!r}", (*base, "customMetrics", index), adapter_rules.custom_rule(custom), custom.series)
    for index, external in enumerate(adapter.external):
        yield from _rule_pair(f"adapter metric {external.name!r}", (*base, "externalMetrics", index), adapter_rules.external_rule(external), external.series)
    for kind, raws in (("custom", adapter.raw_custom), ("external", adapter.raw_external)):
        for index, raw in enumerate(raws):
            yield from _rule_pair(f"adapter {kind} rule {raw.get('seriesQuery')!r}", (*base, "rules", kind, index), raw, None)
    if adapter.resource_metrics:
        rules = adapter_rules.resource_rules(adapter, stack.scrape.job_names)
        for resource in ("cpu", "memory"):
            for field in ("containerQuery", "nodeQuery"):
                yield Query(f"adapter resource metric {resource} ({field})", (*base, "resourceMetrics"), _filled(rules[resource][field], None))


def _rule_pair(source: str, where: JsonPath, rule: Mapping[str, Any], series: str | None) -> Iterator[Query]:
    """An adapter rule's seriesQuery (the adapter lists series with it) and its metricsQuery."""
    series_query = str(rule.get("seriesQuery", ""))
    yield Query(f"{source} seriesQuery", where, series_query)
    if "metricsQuery" in rule:
        name, pattern = (series, None) if series is not None else _series_name(series_query)
        yield Query(f"{source} metricsQuery", where, _filled(str(rule["metricsQuery"]), name, pattern))


def _series_name(series_query: str) -> tuple[str | None, str | None]:
    """The metric name (a literal, or a regex) a seriesQuery lists: what `<<.Series>>` stands for."""
    found = selectors(Query("", (), series_query))
    if not found:
        return None, None
    first = found[0]
    return first.name, first.pattern


SERIES = "kmc_adapter_series"  # what `<<.Series>>` reads as when its names are unknown: any name


def _filled(template: str, name: str | None, pattern: str | None = None) -> str:
    """A metricsQuery with its template actions filled as no request narrows it: no label
    matchers, any grouping; `<<.Series>>` is the series' name or name regex."""
    if name is None and pattern is not None:
        quoted = json.dumps(pattern)
        template = template.replace("<<.Series>>{", f"{{__name__=~{quoted},").replace("<<.Series>>", f"{{__name__=~{quoted}}}")
    text = adapter_rules.expanded(template, name or SERIES, [], ("namespace", "pod"))
    return text.replace("<<.GroupBySlice>>", "namespace,pod").replace("{}", "")


def _keda_queries(stack: Stack) -> Iterator[Query]:
    for index, hpa in enumerate(stack.autoscaling):
        if hpa.engine != "keda":
            continue
        for position, metric in enumerate(hpa.metrics):
            if "resource" not in metric:
                yield Query(f"KEDA trigger of {hpa.namespace}/{hpa.name}", ("autoscaling", index, "metrics", position), keda.query(stack, hpa, metric))


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


_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def selectors(query: Query) -> list[Selector] | None:
    """The vector selectors of `query`, each `or` alternative apart; None when it does not parse."""
    import promql_parser

    text = substituted(query.expr)
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
            op, value = _OPS[str(matcher.op)], str(matcher.value)
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


def plan(selectors: Sequence[Selector], labels: Mapping[str, str], job: str, unparsed: Sequence[Query] = ()) -> Plan:
    """Job `job`'s ingest `used`, its series labelled `labels`, from the stack's selectors."""
    for query in unparsed:
        if _unparsed_may_select(query, labels):
            return Plan(job, (), (), {}, keeps_all=f"{query.source} does not parse as PromQL: {query.expr!r}")
    mine = [selector for selector in selectors if selector.selects_job(labels)]
    for selector in mine:
        if not selector.bounded:
            return Plan(job, (), (), {}, keeps_all=f"{selector.query.source} selects {selector.text}, which does not bound the metric name")
    names = tuple(sorted({selector.name for selector in mine if selector.name is not None}))
    patterns = tuple(sorted({selector.pattern for selector in mine if selector.pattern is not None}))
    refined: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {}
    excluded: dict[str, tuple[tuple[str, str], ...]] = {}
    for name in names:
        readers = [selector for selector in mine if selector.reads(name)]
        rows = [selector.positive() for selector in readers]
        if all(rows):
            refined[name] = tuple(sorted(set(rows)))
        if shared := frozenset.intersection(*(selector.negative() for selector in readers)):
            excluded[name] = tuple(sorted(shared))
    return Plan(job, names, patterns, refined, excluded)


def plans(stack: Stack) -> dict[str, Plan]:
    """By owned job name, its ingest `used`."""
    analysis = analyse(stack)
    found = {}
    for job in owned_jobs(stack):
        name = str(job["job_name"])
        found[name] = plan(analysis.selectors, job_labels(stack, name), name, analysis.unparsed)
    return found


def _alternation(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "|".join(items)


def steps(found: Plan, keep: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The `metric_relabel_configs` of a keep-listed job (none for one that keeps all)."""
    if found.keeps_all is not None:
        return []
    kept = sorted({*(quote_meta(name) for name in (*found.names, *keep)), *(f"(?:{pattern})" for pattern in found.patterns)})
    out: list[dict[str, Any]] = [{"action": "keep", "source_labels": ["__name__"], "regex": _alternation(kept)}]
    out += _exclusions({name: pairs for name, pairs in found.excluded.items() if name not in keep})
    refined = {name: rows for name, rows in found.refined.items() if name not in keep}
    if not refined:
        return out
    by_labels: dict[tuple[str, ...], set[str]] = {}
    for name, rows in refined.items():
        for row in rows:
            labels = tuple(label for label, _ in row)
            by_labels.setdefault(labels, set()).add(";".join([quote_meta(name), *(value for _, value in row)]))
    for labels, alternatives in sorted(by_labels.items()):
        out.append(
            {"action": "replace", "source_labels": ["__name__", *labels], "regex": _alternation(sorted(alternatives)), "target_label": MARK, "replacement": "1"}
        )
    names = _alternation(sorted(quote_meta(name) for name in refined))
    out.append({"action": "drop", "source_labels": ["__name__", MARK], "regex": f"(?:{names});" if len(refined) > 1 else f"{names};"})
    out.append({"action": "labeldrop", "regex": MARK})
    return out


def _exclusions(excluded: Mapping[str, tuple[tuple[str, str], ...]]) -> list[dict[str, Any]]:
    """A `drop` per label of the series every selector of their name excludes (`device!~"veth.+"`)."""
    by_label: dict[str, set[str]] = {}
    for name, pairs in excluded.items():
        for label, regex in pairs:
            by_label.setdefault(label, set()).add(f"{quote_meta(name)};{regex}")
    return [{"action": "drop", "source_labels": ["__name__", label], "regex": _alternation(sorted(rows))} for label, rows in sorted(by_label.items())]


def keep_steps(stack: Stack, keep: Sequence[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """By owned job name, the `metric_relabel_configs` of ingest `used`, with the names of `keep`
    (`scrape.keep`) kept whole on every job; a job some selector reads without bounding the
    metric name is left out: it keeps all (`report` says why)."""
    return {name: steps(found, keep) for name, found in plans(stack).items() if found.keeps_all is None}


def report(stack: Stack, keep: Sequence[str] = ()) -> dict[str, str]:
    """By owned job name, what ingest `used` keeps there, as a line a person reads."""
    out = {}
    for name, found in plans(stack).items():
        if found.keeps_all is not None:
            out[name] = f"keeps all series: {found.keeps_all}"
            continue
        families = len({*found.names, *keep}) + len(found.patterns)
        narrowed = len({*found.refined, *found.excluded} - set(keep))
        detail = f", {narrowed} of them narrowed to the series a query selects" if narrowed else ""
        out[name] = f"keeps {families} metric {'family' if families == 1 else 'families'}{detail}"
    return out
