"""Checks of the Grafana section the schema cannot express: unique datasources, no credential
written into a datasource's jsonData (it ends up in a ConfigMap), Grafana's node port, and a
Prometheus that admits Grafana. What grafana.ini and secretSettings may set is
kmc.check.grafana_settings'."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kmc.check.grafana_settings import CREDENTIAL
from kmc.components.dashboards import PROMETHEUS_NAME, PROMETHEUS_UID, Problem
from kmc.model import Stack
from kmc.read.document import JsonPath


def check(stack: Stack) -> Iterator[Problem]:
    yield from _services(stack)
    grafana = stack.grafana
    for env, overrides in stack.environments.items():
        if "storage" in overrides.get("grafana", {}) and not grafana.storage:
            yield (
                ("environments", env, "grafana", "storage"),
                f"environment {env!r} sets grafana.storage, but the stack has no grafana.storage",
                "storage decides between a PersistentVolumeClaim and an emptyDir for every environment: declare `grafana.storage` at the top level",
            )
    uids, names = {PROMETHEUS_UID: "the stack's Prometheus"}, {PROMETHEUS_NAME: "the stack's Prometheus"}
    defaults = 0
    for index, source in enumerate(grafana.datasources):
        where = ("grafana", "datasources", index)
        if source.uid in uids:
            yield (*where, "uid"), f"datasource uid {source.uid!r} is taken by {uids[source.uid]}", "give each datasource its own uid"
        if source.name in names:
            yield (*where, "name"), f"datasource name {source.name!r} is taken by {names[source.name]}", "give each datasource its own name"
        uids.setdefault(source.uid, f"datasource {index}")
        names.setdefault(source.name, f"datasource {index}")
        defaults += bool(source.settings.get("isDefault"))
        if defaults > 1 and source.settings.get("isDefault"):
            yield (*where, "isDefault"), "only one datasource can be the default", ""
        for key in _keys(source.json_data):
            if CREDENTIAL.search(key):
                yield (
                    (*where, "jsonData", key),
                    f"jsonData.{key} looks like a credential",
                    "jsonData goes into a ConfigMap: move it to secureJsonData, read from a Secret",
                )


def _services(stack: Stack) -> Iterator[Problem]:
    """Grafana's Service in every environment: a node port only with type NodePort, in the
    default range, and not the one Prometheus' Service takes (Kubernetes would refuse it)."""
    reported: set[tuple[str, int]] = set()
    for env in [None, *stack.environments]:
        values = stack.values(env)
        service, node_port = values["grafana"]["service"], values["grafana"]["service"].get("nodePort")
        if node_port is None or not values["grafana"]["enabled"]:
            continue
        written = "nodePort" in stack.environments.get(env, {}).get("grafana", {}).get("service", {}) if env else False
        where: JsonPath = ("environments", env, "grafana", "service", "nodePort") if env and written else ("grafana", "service", "nodePort")
        suffix = f" in environment {env!r}" if env else ""
        prometheus = values["prometheus"]["service"]
        if service["type"] != "NodePort":
            problem = (f"nodePort is set but the service type is {service['type']}{suffix}", "set `type: NodePort`, or remove nodePort")
        elif prometheus["type"] == "NodePort" and prometheus.get("nodePort") == node_port:
            problem = (f"node port {node_port} is Prometheus' too{suffix}", "two Services cannot share a node port: choose another one for Grafana")
        else:
            continue
        if (str(where), node_port) not in reported:  # an environment that inherits it: reported once
            reported.add((str(where), node_port))
            yield (where, *problem)


def _keys(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield str(key)
            yield from _keys(child)
    elif isinstance(value, list):
        for child in value:
            yield from _keys(child)


def prometheus_closed_to_grafana(stack: Stack, grafana_pods: Mapping[str, str]) -> Iterator[Problem]:
    """Where Grafana runs but Prometheus' NetworkPolicy admits no peer sure to select Grafana's
    pods (its default datasource would time out): the stack, and each environment that differs."""
    closed_at_top = False
    for env in [None, *stack.environments]:
        values = stack.values(env)
        policy = values["prometheus"]["networkPolicy"]
        if not (values["grafana"]["enabled"] and policy["enabled"]) or any(_admits(peer, stack.namespace, grafana_pods) for peer in policy["from"]):
            continue
        written = "networkPolicy" in stack.environments.get(env, {}).get("prometheus", {}) if env else False
        if env is None:
            closed_at_top = True
        elif closed_at_top and not written:
            continue  # the stack's own policy, reported there
        where: JsonPath = (
            ("prometheus", "networkPolicy") if env is None else ("environments", env, "prometheus", "networkPolicy") if written else ("environments", env)
        )
        yield (
            where,
            "Prometheus' NetworkPolicy does not admit the stack's Grafana" + (f" in environment {env!r}" if env else ""),
            "add `{podSelector: {matchLabels: {app.kubernetes.io/name: grafana}}}` to prometheus.networkPolicy.from, or Grafana's Prometheus datasource times out",
        )


def _admits(peer: Mapping[str, Any], namespace: str, pods: Mapping[str, str]) -> bool:
    """Whether `peer` surely selects pods labelled `pods` in `namespace` (only what can be known at compile time)."""
    if "ipBlock" in peer:
        return False
    pod_selector = peer.get("podSelector", {})
    if pod_selector.get("matchExpressions") or not pod_selector.get("matchLabels", {}).items() <= pods.items():
        return False
    namespaces = peer.get("namespaceSelector")
    if namespaces is None:
        return True  # the policy's own namespace, which is the stack's
    own = {"kubernetes.io/metadata.name": namespace}
    return not namespaces.get("matchExpressions") and namespaces.get("matchLabels", {}).items() <= own.items()
