"""The ConfigMap of Prometheus' rule files: kmc's rule packs and the stack's own groups.

The files themselves are compiled by the validation stage (`Stack.rules.files`, see
kmc.components.rule_packs); the Prometheus pods mount this ConfigMap, and their config-reloader sidecar
has Prometheus reload the files in place when they change (kmc.components.config_reloader).
A group whose series come from a component that some environment switches off is there only
where the component is on: no alert is left that could never fire.
"""

from __future__ import annotations

from collections.abc import Iterable

from kmc.components import kube, rule_packs
from kmc.components.base import PROMETHEUS_SWITCH, Facts, ServiceTarget, prometheus_conditions
from kmc.ir import KObject, Text
from kmc.model import Stack
from kmc.text import yaml_text

NAME = "prometheus-rules"
ROLE = "rules"
MOUNT = "/etc/prometheus-rules"


def compiled(stack: Stack) -> bool:
    return bool(stack.rules.files) and stack.enabled_somewhere(PROMETHEUS_SWITCH)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return ()


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": kube.metadata(NAME, NAME, ROLE, stack.namespace),
        "data": _files(stack),
    }
    return [KObject(body, NAME, conditions=prometheus_conditions(stack))]


def _files(stack: Stack) -> dict[str, str | Text]:
    files: dict[str, str | Text] = dict(stack.rules.files)
    if all(stack.enabled_everywhere(switch) for switch in rule_packs.SWITCHED_REQUIREMENTS.values()):
        return files
    packs = rule_packs.active_packs(stack, rule_packs.library())
    for name, groups in rule_packs.group_switches(stack, rule_packs.library()).items():
        # The data `stack.rules.files[name]` was dumped from: built again, not parsed back from the text.
        data = rule_packs.pack_file(
            packs[name.removesuffix(".yaml")], stack.rules.overrides, stack.rules.disabled, stack.scrape.job_names, stack.rules.runbook_url
        )
        files[name] = yaml_text.dump_sectioned(data, "groups", [groups.get(group["name"]) for group in data["groups"]])
    return files


def prometheus_section(stack: Stack) -> dict[str, object]:
    """prometheus.yml's `rule_files`: every file of the mounted ConfigMap (none: no key)."""
    return {"rule_files": [f"{MOUNT}/*.yaml"]} if stack.rules.files else {}
