"""kmc's rule library (library/rules/*.yaml) and the rule files a stack compiles from it.

A pack is a file of rule groups. An alert in a pack is written in a shape of our own: its
`severity` becomes a label; `summary`, `description` and `runbook` become annotations; and its
`thresholds` name the numbers a stack may override. A threshold appears in the expression and
the annotations as `${name}` — a spelling neither PromQL nor Prometheus' Go templates use, so the
substitution cannot touch anything else. A group's `requires` names the components or scrape jobs
its series come from; without them the group is left out. A stack may add a `runbook_url`
annotation to every alert (`rules.runbookUrl`, a URL with `{alert}` and `{pack}` placeholders) and
keeps the inline `runbook` text beside it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from kmc.components import job_names
from kmc.model import AlertOverride, Stack
from kmc.read import yaml_subset
from kmc.record import record, replace
from kmc.resources import data_dir
from kmc.text import yaml_text

PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")
# `{name}` in a runbook URL template; kmc.check.rules admits no other brace in one.
RUNBOOK_FIELD = re.compile(r"\{([^{}]*)\}")
RUNBOOK_FIELDS = ("alert", "pack")
CUSTOM_FILE = "custom.yaml"

# What a group may require: a component, which an environment may switch off by this parameter
# (the group is then left out of that environment's rule file), or a scrape job of the stack.
SWITCHED_REQUIREMENTS: Mapping[str, str] = {
    "alertmanager": "alertmanager.enabled",
    "kubeStateMetrics": "kubeStateMetrics.enabled",
    "nodeExporter": "nodeExporter.enabled",
}


def _component(switch: str) -> Callable[[Stack], bool]:
    return lambda stack: stack.enabled_somewhere(switch)


# `unsharded`: the group joins series of two scrape targets (cAdvisor's with kube-state-metrics'),
# which only one Prometheus holds together when it scrapes every target; on a shard the join
# would be silently partial, so such a group is left out of a sharded stack.
REQUIREMENTS: Mapping[str, Callable[[Stack], bool]] = {
    "apiserver": lambda stack: stack.scrape.kubernetes.apiserver.enabled,
    "cadvisor": lambda stack: stack.scrape.kubernetes.cadvisor.enabled,
    "controllerManager": lambda stack: stack.scrape.kubernetes.controller_manager.enabled,
    "coredns": lambda stack: stack.scrape.kubernetes.coredns.enabled,
    "etcd": lambda stack: stack.scrape.kubernetes.etcd.enabled,
    "kubelet": lambda stack: stack.scrape.kubernetes.kubelet.enabled,
    "kubeProxy": lambda stack: stack.scrape.kubernetes.kube_proxy.enabled,
    "remoteWrite": lambda stack: bool(stack.prometheus.remote_write),
    "scheduler": lambda stack: stack.scrape.kubernetes.scheduler.enabled,
    "systemdCollector": lambda stack: stack.node_exporter.systemd,
    "thanosQuery": lambda stack: stack.prometheus.thanos_query,
    "thanosSidecar": lambda stack: stack.prometheus.thanos_sidecar,
    "unsharded": lambda stack: stack.prometheus.shards == 1,
    **{need: _component(switch) for need, switch in SWITCHED_REQUIREMENTS.items()},
}


@record
class Threshold:
    default: float
    description: str


@record
class Alert:
    name: str
    expr: str
    for_: str
    severity: str
    thresholds: Mapping[str, Threshold]
    summary: str
    description: str
    runbook: str


@record
class Group:
    name: str
    requires: tuple[str, ...]
    rules: tuple[Alert | Mapping[str, Any], ...]  # alerts, and recording rules as Prometheus writes them


@record
class Pack:
    name: str
    description: str
    groups: tuple[Group, ...]

    def alerts(self) -> tuple[Alert, ...]:
        return tuple(rule for group in self.groups for rule in group.rules if isinstance(rule, Alert))


@functools.cache
def library() -> Mapping[str, Pack]:
    """Every pack of the library, by name (the file's stem), sorted; read once: validation and the
    rules component both ask."""
    return {name: _pack(name, data) for name, data in _read_library().items()}


def _read_library() -> dict[str, Any]:
    """The data of every rule file of the library, by stem."""
    files = sorted((data_dir("library") / "rules").glob("*.yaml"))
    return {path.stem: read_rule_file(path.read_text(encoding="utf-8")) for path in files}


def read_rule_file(text: str) -> Any:
    """A rule file's data, read without importing PyYAML when kmc's own reader can (it can for every
    file of the library: tests/test_yaml_subset.py holds it)."""
    read = yaml_subset.read(text)
    if read is not None:
        return read[0]
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _pack(name: str, data: Mapping[str, Any]) -> Pack:
    groups = tuple(Group(group["name"], tuple(group.get("requires", ())), tuple(_rule(rule) for rule in group["rules"])) for group in data["groups"])
    return Pack(name, data["description"], groups)


def _rule(data: Mapping[str, Any]) -> Alert | Mapping[str, Any]:
    if "record" in data:
        return dict(data)
    thresholds = {key: Threshold(value["default"], value["description"]) for key, value in data.get("thresholds", {}).items()}
    return Alert(data["alert"], data["expr"], data["for"], data["severity"], thresholds, data["summary"], data["description"], data["runbook"])


def alert_index(packs: Mapping[str, Pack]) -> dict[str, tuple[str, Alert]]:
    """Every alert of `packs` by name, with the name of its pack."""
    return {alert.name: (pack.name, alert) for pack in packs.values() for alert in pack.alerts()}


def active_packs(stack: Stack, packs: Mapping[str, Pack]) -> dict[str, Pack]:
    """The packs the stack turns on, each with only the groups whose requirements it meets."""
    active = {}
    for name, pack in packs.items():
        if not stack.rules.packs.get(name, True):
            continue
        groups = tuple(group for group in pack.groups if all(REQUIREMENTS[need](stack) for need in group.requires))
        if groups:
            active[name] = replace(pack, groups=groups)
    return active


def group_switches(stack: Stack, packs: Mapping[str, Pack]) -> dict[str, dict[str, str]]:
    """By rule file, the groups that exist only where a parameter is true: those whose series come
    from a component some environment switches off (a group needs at most one such component)."""
    found: dict[str, dict[str, str]] = {}
    for name, pack in active_packs(stack, packs).items():
        for group in pack.groups:
            switches = [SWITCHED_REQUIREMENTS[need] for need in group.requires if need in SWITCHED_REQUIREMENTS]
            off_somewhere = [switch for switch in switches if not stack.enabled_everywhere(switch)]
            assert len(off_somewhere) <= 1, f"group {group.name} needs two components an environment may switch off"
            if off_somewhere:
                found.setdefault(f"{name}.yaml", {})[group.name] = off_somewhere[0]
    return found


def number(value: float) -> str:
    """A threshold as PromQL and people read it: 10, not 10.0."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def runbook_url(template: str, alert: str, pack: str) -> str:
    """The runbook URL of `alert` (of `pack`): `template` with its placeholders filled (one it does
    not know is left as written: kmc.check.rules reports it)."""
    values = {"alert": alert, "pack": pack}
    return RUNBOOK_FIELD.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def render(alert: Alert, override: AlertOverride | None, mode: str = "kmc", runbook: str | None = None) -> dict[str, Any]:
    """The Prometheus alerting rule of `alert`, with the stack's override applied, its jobs
    named as `mode` (`scrape.jobNames`) names them, and `runbook` (a URL) as `runbook_url`."""
    values = {name: threshold.default for name, threshold in alert.thresholds.items()}
    if override is not None:
        values.update(override.thresholds)

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda match: number(values[match.group(1)]), text)

    annotations = {"summary": fill(alert.summary), "description": fill(alert.description), "runbook": fill(alert.runbook)}
    if runbook is not None:
        annotations["runbook_url"] = runbook
    return {
        "alert": alert.name,
        "expr": job_names.expand(fill(alert.expr), mode),
        "for": override.for_ if override is not None and override.for_ is not None else alert.for_,
        "labels": {"severity": override.severity if override is not None and override.severity is not None else alert.severity},
        "annotations": annotations,
    }


def pack_file(
    pack: Pack, overrides: Mapping[str, AlertOverride], disabled: tuple[str, ...] = (), mode: str = "kmc", runbook: str | None = None
) -> dict[str, Any]:
    """The rule file of `pack` as data: its alerts rendered with `overrides`, those in `disabled`
    left out, empty groups dropped, jobs named as `mode` names them, and a `runbook_url` from the
    template `runbook` (`rules.runbookUrl`) or the alert's override."""

    def alert(rule: Alert) -> dict[str, Any]:
        override = overrides.get(rule.name)
        template = override.runbook_url if override is not None and override.runbook_url is not None else runbook
        return render(rule, override, mode, None if template is None else runbook_url(template, rule.name, pack.name))

    groups = []
    for group in pack.groups:
        rules = [
            alert(rule) if isinstance(rule, Alert) else _recording(rule, mode)
            for rule in group.rules
            if not (isinstance(rule, Alert) and rule.name in disabled)
        ]
        if rules:
            groups.append({"name": group.name, "rules": rules})
    return {"groups": groups}


def _recording(rule: Mapping[str, Any], mode: str) -> dict[str, Any]:
    return {**rule, "expr": job_names.expand(rule["expr"], mode)}


def vendor(stack: Stack, packs: Mapping[str, Pack]) -> Stack:
    """`stack` with its rule files compiled (`stack.rules.files`)."""
    return replace(stack, rules=replace(stack.rules, files=rule_files(stack, packs)))


def rule_files(stack: Stack, packs: Mapping[str, Pack]) -> dict[str, str]:
    """The rule files of the stack by file name (`<pack>.yaml`, then `custom.yaml`), as YAML text."""
    files = {}
    for name, pack in active_packs(stack, packs).items():
        data = pack_file(pack, stack.rules.overrides, stack.rules.disabled, stack.scrape.job_names, stack.rules.runbook_url)
        if data["groups"]:
            files[f"{name}.yaml"] = yaml_text.dump(data)
    if stack.rules.groups:
        files[CUSTOM_FILE] = yaml_text.dump({"groups": [dict(group) for group in stack.rules.groups]})
    return files
