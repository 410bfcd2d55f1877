"""No empty panel: each library dashboard as a stack gets it, with only the panels whose series a
job of the stack scrapes or a rule of the stack records.

A panel's needs are read from its queries, so they cannot drift from them: every selector of the
library names its `job` (tests/test_dashboards_library.py holds it), which this table maps to what
the stack must have for that job to exist (the names of kmc.components.rule_packs.REQUIREMENTS),
and a series the rule library records needs its group active in the stack, and so whatever the
group requires. A panel missing something the whole stack lacks is dropped; a row left without
panels goes with it, and a dashboard left without panels is not provisioned. A panel needing a
component some environment switches off (SWITCHED_REQUIREMENTS) is there only where it is on: the
dashboard then has that switch and a reduced text without those panels (kmc.model.Dashboard).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from kmc.components import rule_packs
from kmc.model import Stack

# The job a selector names → what the stack needs for that job (None: always scraped).
JOB_NEEDS: Mapping[str, str | None] = {
    "alertmanager": "alertmanager",
    "apiserver": "apiserver",
    "cadvisor": "cadvisor",
    "coredns": "coredns",
    "etcd": "etcd",
    "kube-controller-manager": "controllerManager",
    "kube-proxy": "kubeProxy",
    "kube-scheduler": "scheduler",
    "kube-state-metrics": "kubeStateMetrics",
    "kubelet": "kubelet",
    "node-exporter": "nodeExporter",
    "prometheus": None,
    "thanos-query": "thanosQuery",
    "thanos-sidecar": "thanosSidecar",
}
_JOB = re.compile(r'\bjob="([^"]*)"')
_NAME = re.compile(r"(?<![\w:.\"])[a-zA-Z_][a-zA-Z0-9_]*(?::[a-zA-Z0-9_]+)+")
_LINK = re.compile(r"^/d/(kmc-[a-z0-9-]+)/")


@functools.cache
def recorders() -> Mapping[str, tuple[str, str]]:
    """Each series the rule library records → (pack, group) recording it."""
    return {
        rule["record"]: (pack.name, group.name)
        for pack in rule_packs.library().values()
        for group in pack.groups
        for rule in group.rules
        if isinstance(rule, Mapping) and "record" in rule
    }


def expressions(panel: Mapping[str, Any]) -> list[str]:
    return [str(target["expr"]) for target in panel.get("targets", []) if "expr" in target]


def panel_needs(panel: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """What `panel` reads from: the requirements of its jobs, and the rule groups recording its series."""
    jobs = {job for expr in expressions(panel) for job in _JOB.findall(expr)}
    needs = {need for need in (JOB_NEEDS[job] for job in jobs) if need is not None}
    groups = {recorders()[name] for expr in expressions(panel) for name in _NAME.findall(expr) if name in recorders()}
    return frozenset(needs), frozenset(groups)


def _group_requires(pack: str, group: str) -> tuple[str, ...]:
    (found,) = [candidate for candidate in rule_packs.library()[pack].groups if candidate.name == group]
    return found.requires


def _switches(stack: Stack, panel: Mapping[str, Any], active: set[tuple[str, str]]) -> set[str] | None:
    """The switches `panel` needs that some environment turns off; None when the stack cannot fill it at all."""
    needs, groups = panel_needs(panel)
    if not groups <= active:
        return None
    wanted = set(needs).union(*(_group_requires(*group) for group in groups))
    if not all(rule_packs.REQUIREMENTS[need](stack) for need in wanted):
        return None
    switches = (rule_packs.SWITCHED_REQUIREMENTS[need] for need in wanted if need in rule_packs.SWITCHED_REQUIREMENTS)
    return {switch for switch in switches if not stack.enabled_everywhere(switch)}


def _text(board: Mapping[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def _compose(board: Mapping[str, Any], kept: Sequence[bool]) -> dict[str, Any] | None:
    """`board` with the panels `kept` says, and the rows that still head one; None when no panel is left."""
    panels: list[dict[str, Any]] = []
    row: dict[str, Any] | None = None
    for panel, keep in zip(board["panels"], kept, strict=True):
        if panel["type"] == "row":
            row = panel
        elif keep:
            if row is not None:
                panels.append(row)
                row = None
            panels.append(panel)
    return {**board, "panels": panels} if panels else None


def active_groups(stack: Stack) -> set[tuple[str, str]]:
    return {(name, group.name) for name, pack in rule_packs.active_packs(stack, rule_packs.library()).items() for group in pack.groups}


def select(stack: Stack, text: str, active: set[tuple[str, str]]) -> tuple[dict[str, Any], str | None, dict[str, Any] | None] | None:
    """A library dashboard as `stack` gets it: (the dashboard, its switch, the dashboard where the
    switch is off or None); None when no panel is left."""
    board = json.loads(text)
    switches = [set[str]() if panel["type"] == "row" else _switches(stack, panel, active) for panel in board["panels"]]
    full = _compose(board, [found is not None for found in switches])
    if full is None:
        return None
    used = sorted(set().union(*(found for found in switches if found)))
    # tests/test_dashboards_library.py: no library dashboard reads from two switchable components.
    assert len(used) <= 1, f"dashboard {board['uid']} has panels of two components an environment may switch off: {used}"
    if not used:
        return full, None, None
    return full, used[0], _compose(board, [found == set() for found in switches])


def without_links(board: dict[str, Any], provisioned: set[str]) -> str:
    """`board`'s text, without the data links to kmc dashboards the stack does not provision."""
    for panel in board["panels"]:
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        if "links" in defaults:
            links = [link for link in defaults["links"] if (match := _LINK.match(link["url"])) is None or match.group(1) in provisioned]
            panel["fieldConfig"] = {**panel["fieldConfig"], "defaults": {**defaults, "links": links}}
            if not links:
                del panel["fieldConfig"]["defaults"]["links"]
    return _text(board)
