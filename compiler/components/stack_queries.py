"""Every PromQL query a stack runs or serves, with where it comes from: the rule packs as the
stack renders them, its own rules and the imported PrometheusRules, the library and user
dashboards (panel targets, template variables' queries, annotations), prometheus-adapter's rules
and the KEDA triggers. A query is read as the program that runs it reads it: an adapter
metricsQuery with its template actions filled as no request narrows it, a Grafana query with its
template variables still in it (kmc.components.ingest fills them in).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from kmc.components import adapter_rules, keda, prometheus_adapter, rule_packs
from kmc.model import Stack
from kmc.read.document import JsonPath
from kmc.record import record


@record
class Query:
    """One PromQL expression the stack runs, and where it comes from."""

    source: str  # as a person reads it: "kmc's rule 'KubePodCrashLooping' (pack 'workloads')"
    where: JsonPath
    expr: str
    grafana: bool = False  # a Grafana query: it may hold template variables (`$namespace`)


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
    others = frozenset(ref for source in grafana.datasources if source.type != "prometheus" for ref in (source.uid, source.name))
    for position, board in enumerate(grafana.dashboards):
        where: JsonPath
        if position < library:
            where = ("grafana", "dashboards", "library", names.index(board.name))
        else:
            where = ("grafana", "dashboards", "files", position - library, "file")
        yield from dashboard_queries(board.name, json.loads(board.json), where, others)


def dashboard_queries(name: str, board: Mapping[str, Any], where: JsonPath, others: frozenset[str] = frozenset()) -> Iterator[Query]:
    """The PromQL of a dashboard: its panels' targets, its template variables' queries and its
    annotations; `others`: the uids and names of the datasources that are not a Prometheus."""
    for panel in _panels(board):
        title = panel.get("title") or "(untitled)"
        for target in panel.get("targets") or ():
            if isinstance(target, Mapping) and _promql(target, panel, others) and isinstance(target.get("expr"), str) and target["expr"].strip():
                yield Query(f"dashboard {name!r} panel {title!r}", where, target["expr"], grafana=True)
    for variable in (board.get("templating") or {}).get("list") or ():
        if isinstance(variable, Mapping) and variable.get("type") == "query" and _promql(variable, {}, others):
            found = variable.get("query")
            text = found.get("query") if isinstance(found, Mapping) else found
            expr = _variable_expr(text) if isinstance(text, str) else None
            if expr:
                yield Query(f"dashboard {name!r} variable {variable.get('name')!r}", where, expr, grafana=True)
    for annotation in (board.get("annotations") or {}).get("list") or ():
        if isinstance(annotation, Mapping) and _promql(annotation, {}, others) and isinstance(annotation.get("expr"), str) and annotation["expr"].strip():
            yield Query(f"dashboard {name!r} annotation {annotation.get('name')!r}", where, annotation["expr"], grafana=True)


def _panels(board: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every panel, those inside rows (collapsed rows, old-style `rows`) included."""
    pending = [*(board.get("panels") or ()), *(panel for row in board.get("rows") or () if isinstance(row, Mapping) for panel in row.get("panels") or ())]
    while pending:
        panel = pending.pop(0)
        if isinstance(panel, Mapping):
            yield panel
            pending[:0] = list(panel.get("panels") or ())


def _promql(item: Mapping[str, Any], panel: Mapping[str, Any], others: frozenset[str]) -> bool:
    """Whether a target, variable or annotation queries a Prometheus (Loki's `expr` is LogQL): its
    datasource's type where it says, else whether its uid or name is one of the `others`."""
    for holder in (item, panel):
        source = holder.get("datasource")
        if isinstance(source, Mapping) and isinstance(source.get("type"), str):
            return bool(source["type"] == "prometheus")
        if isinstance(source, Mapping) and isinstance(source.get("uid"), str):
            return source["uid"] not in others
        if isinstance(source, str):
            return source not in others
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
    import promql_parser

    try:
        tree = promql_parser.parse(series_query)
    except ValueError:
        return None, None
    if not isinstance(tree, promql_parser.VectorSelector):
        return None, None
    if tree.name:
        return str(tree.name), None
    for matcher in tree.matchers.matchers:
        if matcher.name == "__name__" and str(matcher.op) in ("MatchOp.Equal", "MatchOp.Re"):
            value = str(matcher.value)
            return (value, None) if str(matcher.op) == "MatchOp.Equal" else (None, value)
    return None, None


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
