"""Checks of scheduling and availability a schema cannot express: a PodDisruptionBudget that
would hold a node drain up forever, affinity kmc holds itself, and Grafana replicas that would
each keep a database of their own.

The disruption budget rule is the eviction API's (kubernetes/kubernetes, pkg/registry/core/pod/
storage/eviction.go, with the disruption controller's pkg/controller/disruption/disruption.go):
an eviction passes while the budget's `disruptionsAllowed` is above 0, that is while the healthy
pods outnumber the desired healthy ones; `minAvailable` is the desired count (a percentage of the
expected pods, rounded up), `maxUnavailable` takes its number (a percentage rounded up) off the
expected pods, which are the workload's replicas. With every pod healthy, `disruptionsAllowed`
is replicas - desired: when that is 0, no eviction ever passes and a `kubectl drain` waits
forever. Rollouts are not held up by a budget: the Deployment and StatefulSet controllers delete
pods, they do not evict them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kmc.ir import lookup
from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str]

# The replicas parameters of the workloads that get a PodDisruptionBudget, and the switch of their component (None: always there).
REPLICATED: tuple[tuple[str, str | None], ...] = (
    ("alertmanager.replicas", "alertmanager.enabled"),
    ("grafana.replicas", "grafana.enabled"),
    ("metricsServer.replicas", "metricsServer.enabled"),
    ("prometheus.replicas", None),
    ("prometheus.thanosQueryReplicas", None),
    ("prometheusAdapter.replicas", "prometheusAdapter.enabled"),
)
# Grafana's databases that several Grafana pods can share (its [database] type); sqlite3 is a file in one pod.
SHARED_DATABASES = ("mysql", "postgres")


def scaled(value: int | str, replicas: int) -> int:
    """An int-or-percent of `replicas`, rounded up (intstr.GetScaledValueFromIntOrPercent, roundUp true, as the disruption controller calls it)."""
    if isinstance(value, int):
        return value
    return -(-replicas * int(value.rstrip("%")) // 100)


def disruptions_allowed(budget: Mapping[str, Any], replicas: int) -> int:
    """The budget's `disruptionsAllowed` with every one of `replicas` pods healthy."""
    minimum = budget.get("minAvailable")
    desired = scaled(minimum, replicas) if minimum is not None else replicas - scaled(budget["maxUnavailable"], replicas)
    return max(0, replicas - desired)


def problems(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    """Each problem once, where it is written: an environment that inherits the stack's fault is not told again."""
    seen = set()
    for problem in (*_budgets(data, stack), *_own_affinity(data, stack), *_grafana_replicas(data, stack)):
        if problem[0] not in seen:
            seen.add(problem[0])
            yield problem


# The component of each section whose pods a Deployment with a surging rollout runs: a required
# anti-affinity of those pods against one another leaves a surge pod nowhere to go where the
# eligible nodes are as many as the replicas (the Deployment controller's maxSurge, rounded up).
_SURGING = {"grafana": "grafana", "kubeStateMetrics": "kube-state-metrics", "prometheusAdapter": "prometheus-adapter", "metricsServer": "metrics-server"}
_NAME_LABEL = "app.kubernetes.io/name"


def risks(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    """Warnings: a required anti-affinity of a Deployment's pods against one another, which a
    rollout that surges cannot meet on as many eligible nodes as replicas."""
    seen = set()
    for section, name in _SURGING.items():
        if section == "grafana" and stack.grafana.storage:
            continue  # Recreate: no surge
        for env in _environments(stack):
            terms = lookup(stack.values(env), f"{section}.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution") or []
            if not any(_selects_own(term, name) for term in terms):
                continue
            where = _where(data, env, section, "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
            if where in seen:
                continue
            seen.add(where)
            yield (
                where,
                f"{name}'s pods refuse to share a node, and its rollouts start a new pod before an old one goes: with as many eligible nodes as replicas, a rollout waits forever",
                "keep a node to spare, or use preferredDuringSchedulingIgnoredDuringExecution",
            )


def _selects_own(term: Any, name: str) -> bool:
    selector = term.get("labelSelector") if isinstance(term, Mapping) else None
    if term.get("topologyKey") != "kubernetes.io/hostname" or not isinstance(selector, Mapping) or selector.get("matchExpressions"):
        return False
    own = {_NAME_LABEL: name, "app.kubernetes.io/part-of": "kmc"}  # kmc.components.kube.selector's labels
    return bool((selector.get("matchLabels") or {}).items() <= own.items())


def _environments(stack: Stack) -> tuple[str | None, ...]:
    return (None, *stack.environments)


def _where(data: Mapping[str, Any], env: str | None, section: str, *keys: str) -> JsonPath:
    """The deepest of `section.keys` written in `env`'s overrides, else in the stack, else the section."""
    for scope in ((("environments", env),) if env else ()) + ((),):
        node: Any = data
        for key in scope:
            node = node.get(key, {}) if isinstance(node, Mapping) else {}
        path: JsonPath = (*scope, section)
        if not isinstance(node, Mapping) or section not in node:
            continue
        node = node[section]
        for key in keys:
            if not isinstance(node, Mapping) or key not in node:
                break
            node, path = node[key], (*path, key)
        if len(path) > len(scope) + 1 or not env:
            return path
    return (section,)


def _in(env: str | None) -> str:
    return f"environment {env!r}" if env else "the stack"


def _budgets(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    for path, switch in REPLICATED:
        section = path.split(".")[0]
        for env in _environments(stack):
            values = stack.values(env)
            budget = lookup(values, f"{section}.podDisruptionBudget")
            replicas = lookup(values, path) or 0
            if (switch and not lookup(values, switch)) or not budget["enabled"] or replicas < 2:
                continue  # no PodDisruptionBudget there
            if disruptions_allowed(budget, replicas) > 0:
                continue
            key = "minAvailable" if budget.get("minAvailable") is not None else "maxUnavailable"
            yield (
                _where(data, env, section, "podDisruptionBudget", key),
                f"the PodDisruptionBudget of {path} ({key} {budget[key]} of {replicas} replica{'s' if replicas > 1 else ''} in {_in(env)}) lets no eviction through: a node drain would wait forever",
                f"keep minAvailable below the replicas, or use maxUnavailable; or set {section}.podDisruptionBudget.enabled: false"
                + (f" in environment {env!r}" if env else ""),
            )


def _own_affinity(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    """metrics-server's highAvailability keeps one pod per node with a required anti-affinity of kmc's."""
    if not stack.metrics_server.high_availability:
        return
    for env in _environments(stack):
        written = lookup(stack.environments[env], "metricsServer.affinity.podAntiAffinity") if env else lookup(data, "metricsServer.affinity.podAntiAffinity")
        if written is not None:
            yield (
                _where(data, env, "metricsServer", "affinity", "podAntiAffinity"),
                "metrics-server's podAntiAffinity is kmc's with highAvailability: it keeps one pod per node",
                "leave podAntiAffinity out (nodeAffinity and podAffinity are yours), or turn metricsServer.highAvailability off",
            )


def _grafana_replicas(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    database = stack.grafana.ini.get("database", {})
    kind = str(database.get("type", "sqlite3"))
    external = kind in SHARED_DATABASES or "GF_DATABASE_URL" in stack.grafana.secret_settings
    for env in _environments(stack):
        values = stack.values(env)["grafana"]
        if not values["enabled"] or values["replicas"] < 2:
            continue
        where = _where(data, env, "grafana", "replicas")
        if not external:
            yield (
                where,
                f"{values['replicas']} Grafana replicas in {_in(env)} would each keep their own {kind} database: users, sessions and saved dashboards would differ from pod to pod",
                "give Grafana a shared database: grafana.ini: {database: {type: postgres, host: HOST:5432, name: grafana, user: grafana}} and "
                "grafana.secretSettings: {GF_DATABASE_PASSWORD: {secretName: NAME, key: password}}; or keep 1 replica",
            )
        elif stack.grafana.storage:
            yield (
                where,
                f"{values['replicas']} Grafana replicas in {_in(env)} cannot share grafana.storage, a ReadWriteOnce volume of one node",
                "leave grafana.storage out (the shared database holds what Grafana keeps), or keep 1 replica",
            )
