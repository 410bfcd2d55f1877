"""Checks of the stack's `rules` and `alertmanager` sections that the schema cannot express:
alert names that exist, thresholds an alert declares, runbook URLs that are http(s) URLs with known
placeholders, PromQL that parses, unique group names, routes that name known receivers, matchers
Alertmanager can read."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from kmc.components import rule_packs
from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str, bool]  # path, message, hint, at the key

# name op value, as Alertmanager's matcher parser reads them (value quoted or plain).
_RUNBOOK_EXAMPLE = "e.g. https://wiki.example.com/runbooks/{alert}"
_MATCHER = re.compile(r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*("(\\.|[^"\\])*"|[^"\s{},]*)\s*$')


def check(stack: Stack, packs: Mapping[str, rule_packs.Pack]) -> list[Problem]:
    """Every problem of the stack's rules (against kmc's `packs`) and Alertmanager configuration."""
    return [*_rules(stack, packs), *_alertmanager(stack), *_node_port(stack)]


def _close(word: str, options: list[str]) -> str:
    import difflib  # only to explain a mistake

    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else ""


def _rules(stack: Stack, packs: Mapping[str, rule_packs.Pack]) -> Iterator[Problem]:
    alerts = rule_packs.alert_index(packs)
    names = sorted(alerts)

    def unknown(name: str, path: JsonPath, key: bool) -> Iterator[Problem]:
        if name not in alerts:
            hint = _close(name, names) or "docs/rules-and-alertmanager.md (Alerts) lists the alerts of kmc's packs; `rules.groups` holds your own"
            yield (path, f"no alert {name!r} in kmc's rule packs", hint, key)
        elif not stack.rules.packs.get(alerts[name][0], True):
            yield (
                path,
                f"alert {name!r} belongs to pack {alerts[name][0]!r}, which is switched off",
                f"remove it here, or turn rules.packs.{alerts[name][0]} on",
                key,
            )

    if stack.rules.runbook_url is not None:
        yield from _runbook_url(stack.rules.runbook_url, ("rules", "runbookUrl"))
    for index, name in enumerate(stack.rules.disabled):
        yield from unknown(name, ("rules", "disabled", index), False)
        if name in stack.rules.disabled[:index]:
            yield (("rules", "disabled", index), f"{name!r} is listed twice", "list each alert once", False)
    for name, override in stack.rules.overrides.items():
        here: JsonPath = ("rules", "overrides", name)
        yield from unknown(name, here, True)
        if override.runbook_url is not None:
            yield from _runbook_url(override.runbook_url, (*here, "runbookUrl"))
        if name in alerts:
            declared = sorted(alerts[name][1].thresholds)
            for threshold in override.thresholds:
                if threshold not in declared:
                    hint = _close(threshold, declared) or (f"{name} declares: {', '.join(declared)}" if declared else f"{name} declares no thresholds")
                    yield ((*here, "thresholds", threshold), f"alert {name!r} has no threshold {threshold!r}", hint, True)
    yield from _groups(stack, packs)


def _runbook_url(template: str, path: JsonPath) -> Iterator[Problem]:
    """A runbook URL template: `{alert}` and `{pack}` its only braces, and an http(s) URL once they
    are filled (Alertmanager's and Grafana's links open it as written)."""
    from urllib.parse import urlsplit  # only for a stack that sets a runbook URL

    fields = [f"{{{field}}}" for field in rule_packs.RUNBOOK_FIELDS]
    known = f"the placeholders are {', '.join(fields)}"
    filled = rule_packs.RUNBOOK_FIELD.sub("x", template)  # every placeholder, as a value would fill it
    if "{" in filled or "}" in filled:
        hint = f"{known} (no template actions such as {{{{ $labels.x }}}}); percent-encode a brace the URL itself holds (%7B, %7D)"
        yield (path, "a brace in the runbook URL that is not part of a placeholder", hint, False)
        return
    for field in rule_packs.RUNBOOK_FIELD.findall(template):
        if f"{{{field}}}" not in fields:
            yield (path, f"unknown placeholder {{{field}}} in the runbook URL", _close(f"{{{field}}}", fields) or known, False)
    try:
        parts = urlsplit(filled)
        host, _ = parts.hostname, parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number (below 65536)
        parts, host = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host or any(char.isspace() or not char.isprintable() for char in filled):
        yield (path, f"{template!r} is not an http(s) URL", f"write an absolute http:// or https:// URL, {_RUNBOOK_EXAMPLE}", False)


def _groups(stack: Stack, packs: Mapping[str, rule_packs.Pack]) -> Iterator[Problem]:
    taken = {group.name: f"kmc's pack {pack.name!r}" for pack in packs.values() for group in pack.groups}
    for index, group in enumerate(stack.rules.groups):
        here: JsonPath = ("rules", "groups", index)
        name = group["name"]
        if name in taken:
            yield ((*here, "name"), f"rule group name {name!r} is already used by {taken[name]}", "rule group names must be unique", False)
        taken.setdefault(name, f"rules.groups[{index}]")
        if not group["rules"]:
            yield ((*here, "rules"), f"rule group {name!r} has no rules", "add rules, or remove the group", False)
        for position, rule in enumerate(group["rules"]):
            yield from _rule(rule, (*here, "rules", position))


def _rule(rule: Mapping[str, Any], path: JsonPath) -> Iterator[Problem]:
    if ("alert" in rule) == ("record" in rule):
        yield (
            path,
            "a rule needs exactly one of `alert` and `record`",
            "`alert: Name` for an alerting rule, `record: level:metric:operations` for a recording rule",
            False,
        )
    elif "record" in rule:
        for key in ("for", "keep_firing_for", "annotations"):
            if key in rule:
                yield ((*path, key), f"a recording rule has no `{key}`", "only alerting rules wait, keep firing and carry annotations", True)
    import promql_parser  # here: a stack without rules of its own does not pay its import (~1 ms)

    try:
        promql_parser.parse(rule["expr"])
    except ValueError as error:
        yield ((*path, "expr"), f"invalid PromQL: {error}", "Prometheus would refuse to load the rule file", False)


def _alertmanager(stack: Stack) -> Iterator[Problem]:
    config = stack.alertmanager
    names: dict[str, int] = {}
    for index, receiver in enumerate(config.receivers):
        if receiver["name"] in names:
            yield (
                ("alertmanager", "receivers", index, "name"),
                f"receiver {receiver['name']!r} is defined twice (also receivers[{names[receiver['name']]}])",
                "receiver names must be unique",
                False,
            )
        names.setdefault(receiver["name"], index)
        for position, pager in enumerate(receiver.get("pagerdutyConfigs", ())):
            if ("routingKey" in pager) == ("serviceKey" in pager):
                where = ("alertmanager", "receivers", index, "pagerdutyConfigs", position)
                yield (
                    where,
                    "a PagerDuty receiver needs exactly one of `routingKey` and `serviceKey`",
                    "routingKey for Events API v2 integrations, serviceKey for v1",
                    False,
                )
    if stack.enabled_somewhere("alertmanager.enabled"):
        if "receiver" not in config.route:
            yield (
                ("alertmanager", "route"),
                "Alertmanager's root route has no `receiver`",
                "name the receiver (in `receivers`) that gets every alert no child route takes",
                False,
            )
        if not config.receivers:
            yield (
                ("alertmanager",),
                "Alertmanager is enabled but has no receivers",
                "add `receivers:` (webhook, e-mail, Slack or PagerDuty), or leave Alertmanager off",
                False,
            )
    if config.route.get("matchers"):
        yield (
            ("alertmanager", "route", "matchers"),
            "the root route takes every alert and cannot have matchers",
            "move the matchers to a child route under `routes`",
            True,
        )
    yield from _route(config.route, ("alertmanager", "route"), sorted(names))
    for index, rule in enumerate(config.inhibit_rules):
        for key in ("sourceMatchers", "targetMatchers"):
            if not rule[key]:
                yield (
                    ("alertmanager", "inhibitRules", index, key),
                    f"`{key}` is empty",
                    "with no matcher the rule would take every alert: name at least one",
                    False,
                )
            yield from _matchers(rule[key], ("alertmanager", "inhibitRules", index, key))


def _route(route: Mapping[str, Any], path: JsonPath, receivers: list[str]) -> Iterator[Problem]:
    if "receiver" in route and route["receiver"] not in receivers:
        hint = _close(route["receiver"], receivers) or ("receivers: " + ", ".join(receivers) if receivers else "define it in alertmanager.receivers")
        yield ((*path, "receiver"), f"no receiver named {route['receiver']!r}", hint, False)
    yield from _matchers(route.get("matchers", ()), (*path, "matchers"))
    group_by = route.get("groupBy", [])
    for index, label in enumerate(group_by):
        if label in group_by[:index]:
            yield ((*path, "groupBy", index), f"{label!r} is listed twice", "Alertmanager refuses a label twice in group_by", False)
    for index, child in enumerate(route.get("routes", ())):
        yield from _route(child, (*path, "routes", index), receivers)


def _matchers(matchers: Any, path: JsonPath) -> Iterator[Problem]:
    for index, matcher in enumerate(matchers):
        if not _MATCHER.match(matcher):
            yield (
                (*path, index),
                f"{matcher!r} is not an Alertmanager matcher",
                'write label, operator (=, !=, =~, !~) and value, e.g. severity="critical"',
                False,
            )


def _node_port(stack: Stack) -> Iterator[Problem]:
    """Alertmanager's Service in every environment: a node port only with type NodePort, in the
    default range, and not one Prometheus' or Grafana's Service takes there."""
    reported: set[tuple[str, int]] = set()
    for env in [None, *stack.environments]:
        values = stack.values(env)
        service = values["alertmanager"]["service"]
        node_port = service.get("nodePort")
        if node_port is None or not values["alertmanager"]["enabled"]:
            continue
        written = "nodePort" in stack.environments.get(env, {}).get("alertmanager", {}).get("service", {}) if env else False
        where: JsonPath = ("environments", env, "alertmanager", "service", "nodePort") if env and written else ("alertmanager", "service", "nodePort")
        suffix = f" in environment {env!r}" if env else ""
        taken = {
            other: values[other]["service"].get("nodePort")
            for other in ("prometheus", "grafana")
            if values[other]["service"]["type"] == "NodePort" and values[other].get("enabled", True)
        }
        clash = sorted({"prometheus": "Prometheus'", "grafana": "Grafana's"}[other] for other, port in taken.items() if port == node_port)
        if service["type"] != "NodePort":
            problem = (f"nodePort is set but the service type is {service['type']}{suffix}", "set `type: NodePort`, or remove nodePort")
        elif clash:
            problem = (f"node port {node_port} is {clash[0]} too{suffix}", "two Services cannot share a node port: choose another one for Alertmanager")
        else:
            continue
        if (str(where), node_port) not in reported:
            reported.add((str(where), node_port))
            yield (where, *problem, False)
