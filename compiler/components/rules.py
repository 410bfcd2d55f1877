"""The ConfigMap of Prometheus' rule files: kmc's rule packs and the stack's own groups.

The files themselves are compiled by the validation stage (`Stack.rules.files`, see
kmc.components.rule_packs); the Prometheus pods mount this ConfigMap, and their config-reloader sidecar
has Prometheus reload the files in place when they change (kmc.components.config_reloader).
"""

from __future__ import annotations

from collections.abc import Iterable

from kmc.components import kube
from kmc.components.base import Facts, ServiceTarget
from kmc.ir import KObject
from kmc.model import Stack

NAME = "prometheus-rules"
ROLE = "rules"
MOUNT = "/etc/prometheus-rules"


def compiled(stack: Stack) -> bool:
    return bool(stack.rules.files)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return ()


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": kube.metadata(NAME, NAME, ROLE, stack.namespace),
        "data": dict(stack.rules.files),
    }
    return [KObject(body, NAME)]


def prometheus_section(stack: Stack) -> dict[str, object]:
    """prometheus.yml's `rule_files`: every file of the mounted ConfigMap (none: no key)."""
    return {"rule_files": [f"{MOUNT}/*.yaml"]} if stack.rules.files else {}
