"""The queries a compiled stack ships, and the vector selectors inside them.

Shipped queries are read from the objects `kmc build` wrote (manifests format):
- the rule files of ConfigMap `prometheus-rules` (every `expr` of every group);
- the Grafana dashboards in the ConfigMaps `grafana-dashboard-*` (every target's `expr`, nested
  rows included, and every query variable's `label_values(...)`/`query_result(...)` query);
- the prometheus-adapter configuration in ConfigMap `prometheus-adapter` (each rule's
  `seriesQuery` and its `metricsQuery` with the adapter's template fields filled in, and the
  `resourceRules` queries);
- the `query` of every `prometheus` trigger of every KEDA ScaledObject.

Grafana variables mean "any value": a matcher on `$var` becomes `=~".*"`, `$__rate_interval` and
its kind become a 2m range, so that a query asks for what any choice on the dashboard could show.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import promql_parser
import yaml

Obj = dict[str, Any]

RANGE_VARIABLES = re.compile(r"\$(?:__rate_interval|__interval|__range|\{__rate_interval\}|\{__interval\}|\{__range\})")
MATCHER_ON_VARIABLE = re.compile(r'(=~|!~|=|!=)\s*"[^"]*\$[^"]*"')
OTHER_VARIABLE = re.compile(r"\$\{?\w+\}?")
LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*\w+\s*\)\s*$", re.DOTALL)
QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.DOTALL)
ADAPTER_FIELDS = {"<<.LabelMatchers>>": 'namespace!=""', "<<.GroupBy>>": "namespace"}
MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


@dataclasses.dataclass(frozen=True)
class Query:
    """One shipped query: where it comes from (object/field) and its PromQL, variables filled in."""

    source: str
    expr: str


def shipped_queries(objects: Iterable[Obj]) -> list[Query]:
    """Every query the objects ship, in a fixed order (by source, then text), duplicates kept once."""
    found: set[Query] = set()
    for obj in objects:
        kind, name = obj.get("kind"), obj.get("metadata", {}).get("name", "")
        data: Mapping[str, str] = obj.get("data") or {}
        if kind == "ConfigMap" and name == "prometheus-rules":
            found.update(_rule_queries(data))
        elif kind == "ConfigMap" and name.startswith("grafana-dashboard-"):
            for key, text in data.items():
                found.update(_dashboard_queries(f"{name}/{key}", json.loads(text)))
        elif kind == "ConfigMap" and name == "prometheus-adapter":
            for key, text in data.items():
                found.update(_adapter_queries(f"{name}/{key}", yaml.safe_load(text)))
        elif kind == "ScaledObject":
            for index, trigger in enumerate(obj["spec"].get("triggers", [])):
                if trigger.get("type") == "prometheus":
                    found.add(Query(f"ScaledObject/{name}/triggers[{index}]", trigger["metadata"]["query"]))
    return sorted(found, key=lambda query: (query.source, query.expr))


def _rule_queries(data: Mapping[str, str]) -> Iterator[Query]:
    for key, text in sorted(data.items()):
        for group in (yaml.safe_load(text) or {}).get("groups", []):
            for rule in group.get("rules", []):
                what = rule.get("record") or rule.get("alert")
                yield Query(f"prometheus-rules/{key}/{group['name']}/{what}", str(rule["expr"]))


def _dashboard_queries(source: str, dashboard: Obj) -> Iterator[Query]:
    def panels(items: list[Obj]) -> Iterator[Obj]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield Query(f"{source}/{panel.get('title', '')}", grafana_expr(target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        values, result = LABEL_VALUES.match(text), QUERY_RESULT.match(text)
        expr = values["selector"] if values else result["expr"] if result else None
        if expr:
            yield Query(f"{source}/${variable['name']}", grafana_expr(expr))


def grafana_expr(expr: str) -> str:
    """`expr` with Grafana's variables replaced by "any value"."""
    expr = RANGE_VARIABLES.sub("2m", expr)
    expr = MATCHER_ON_VARIABLE.sub('=~".*"', expr)
    return OTHER_VARIABLE.sub(".*", expr)


def _adapter_queries(source: str, config: Obj) -> Iterator[Query]:
    for section in ("rules", "externalRules"):
        for index, rule in enumerate(config.get(section) or []):
            where = f"{source}/{section}[{index}]"
            yield Query(f"{where}/seriesQuery", rule["seriesQuery"])
            if "metricsQuery" in rule:
                for name in _series_names(rule["seriesQuery"]):
                    yield Query(f"{where}/metricsQuery", _adapter_template(rule["metricsQuery"], name))
    for resource, rule in sorted((config.get("resourceRules") or {}).items()):
        if not isinstance(rule, dict):
            continue
        for field in ("containerQuery", "nodeQuery"):
            if field in rule:
                name = _series_names(rule[field].split("<<.Series>>")[0] + "x")[0] if "<<.Series>>" not in rule[field] else ""
                yield Query(f"{source}/resourceRules/{resource}/{field}", _adapter_template(rule[field], name))


def _series_names(series_query: str) -> list[str]:
    """The metric names a seriesQuery may list: its name, or the alternatives of a simple `__name__=~` regex."""
    tree = promql_parser.parse(series_query)
    assert isinstance(tree, promql_parser.VectorSelector), series_query
    if tree.name:
        return [tree.name]
    for matcher in tree.matchers.matchers:
        if matcher.name == "__name__":
            return _alternatives(matcher.value)
    return []


def _alternatives(regex: str) -> list[str]:
    """The names a regex of the form `^prefix(a|b)suffix$` spells out."""
    match = re.fullmatch(r"\^?(?P<head>[\w:]*)\((?P<alts>[\w:|]+)\)(?P<tail>[\w:]*)\$?", regex)
    if match is None:
        return [regex.strip("^$")]
    return [f"{match['head']}{alt}{match['tail']}" for alt in match["alts"].split("|")]


def _adapter_template(template: str, series: str) -> str:
    expr = template.replace("<<.Series>>", series)
    for field, value in ADAPTER_FIELDS.items():
        expr = expr.replace(field, value)
    return expr


def selectors(expr: str) -> list[str]:
    """Every vector selector of `expr` as a `match[]` for /api/v1/series (offsets and @ dropped)."""
    found: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            sets = [list(node.matchers.matchers)] + [list(alternative) for alternative in (node.matchers.or_matchers or ())]
            for matchers in sets:
                terms = [f'__name__="{node.name}"'] if node.name else []
                terms += [f"{m.name}{MATCH_OPS[str(m.op)]}{json.dumps(m.value)}" for m in matchers]
                found.append("{" + ",".join(terms) + "}")
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found
