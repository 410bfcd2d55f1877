"""What every workload kmc emits gets, whichever component made it: its section's scheduling
parameters (priorityClassName, affinity, topologySpreadConstraints), the stack's image pull
Secrets, and a PodDisruptionBudget, there where it runs more than one pod (a condition on its
replicas parameter, so that each environment's output depends on its own values only).

Done once over the object graph rather than in each component, so that no pod — a sidecar's,
an init container's, a workload added later — can be left out. A pod's section is the one its
nodeSelector parameter names (`kube.scheduling`); a workload's PodDisruptionBudget is switched by
the section of its replicas parameter (Thanos Query's `prometheus.thanosQueryReplicas`: Prometheus').
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kmc.ir import MORE_THAN_ONE, KObject, Param, Switch
from kmc.model import PARAMETER_SECTIONS, Stack

POD_WORKLOADS = ("DaemonSet", "Deployment", "Job", "StatefulSet")
REPLICATED = ("Deployment", "StatefulSet")
AFFINITIES = ("nodeAffinity", "podAffinity", "podAntiAffinity")
# PodDisruptionBudget's unhealthyPodEvictionPolicy: beta and on by default from Kubernetes 1.27 (GA in 1.31).
UNHEALTHY_POLICY_MINOR = 27


def finished(stack: Stack, objects: Iterable[KObject]) -> Iterator[KObject]:
    """`objects`, each workload with what every workload gets, each replicated one followed by its PodDisruptionBudget."""
    for obj in objects:
        if obj.kind not in POD_WORKLOADS:
            yield obj
            continue
        spec = dict(obj.body["spec"])
        template = dict(spec["template"])
        template["spec"] = pod_spec(stack, template["spec"], spread=obj.kind in REPLICATED)
        spec["template"] = template
        body = {**obj.body, "spec": spec}
        yield KObject(body, obj.component, obj.conditions, obj.private)
        budget = disruption_budget(stack, obj)
        if budget is not None:
            yield budget


def section_of(pod: Mapping[str, Any]) -> str | None:
    """The stack section whose scheduling parameters a pod spec reads (None: none)."""
    selector = pod.get("nodeSelector")
    return selector.path.split(".")[0] if isinstance(selector, Param) else None


def pod_spec(stack: Stack, pod: Mapping[str, Any], *, spread: bool) -> dict[str, Any]:
    """`pod` with the pull Secrets and its section's scheduling parameters."""
    section = section_of(pod)
    added: dict[str, Any] = {}
    if stack.images.pull_secrets:
        added["imagePullSecrets"] = [{"name": name} for name in stack.images.pull_secrets]
    keys = PARAMETER_SECTIONS.get(section or "", ())
    if "priorityClassName" in keys:
        added["priorityClassName"] = Param(f"{section}.priorityClassName", omit_empty=True)
    if spread and "topologySpreadConstraints" in keys:
        added["topologySpreadConstraints"] = Param(f"{section}.topologySpreadConstraints", omit_empty=True)
    out: dict[str, Any] = {}
    if section is not None and "affinity" in keys:
        out["affinity"] = affinity(section, pod.get("affinity"))
    for key, value in pod.items():
        if key != "affinity":
            out[key] = value
        if key == "tolerations":
            out.update(added)
            added = {}
    out.update(added)
    return out


def affinity(section: str, own: Mapping[str, Any] | None) -> Any:
    """The section's `affinity` parameter, around kmc's own rules where a pod has some: the user's
    node and pod affinity beside them; the kind of rule kmc holds is kmc's (kmc.check.scheduling)."""
    if not own:
        return Param(f"{section}.affinity", omit_empty=True)
    return {kind: own[kind] if kind in own else Param(f"{section}.affinity.{kind}", omit_empty=True) for kind in AFFINITIES}


def replicas_path(obj: KObject) -> str | None:
    replicas = obj.body["spec"].get("replicas")
    return replicas.path if isinstance(replicas, Param) else None


def disruption_budget(stack: Stack, obj: KObject) -> KObject | None:
    """The PodDisruptionBudget of a replicated workload, there where it runs more than one pod."""
    path = replicas_path(obj) if obj.kind in REPLICATED else None
    if path is None:
        return None
    section = path.split(".")[0]
    if "podDisruptionBudget" not in PARAMETER_SECTIONS.get(section, ()):
        return None
    budget = f"{section}.podDisruptionBudget"
    common: dict[str, Any] = {"selector": obj.body["spec"]["selector"]}
    if int(stack.cluster.kubernetes_version.split(".")[1]) >= UNHEALTHY_POLICY_MINOR:
        # Pods that are not ready may always be evicted: a crash-looping pod never holds a drain up.
        common["unhealthyPodEvictionPolicy"] = "AlwaysAllow"
    spec = Switch(
        f"{budget}.minAvailable",
        on={"minAvailable": Param(f"{budget}.minAvailable"), **common},
        off={"maxUnavailable": Param(f"{budget}.maxUnavailable"), **common},
    )
    metadata = {key: obj.body["metadata"][key] for key in ("name", "namespace", "labels") if key in obj.body["metadata"]}
    body = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata, "spec": spec}
    return KObject(body, obj.component, (*obj.conditions, path + MORE_THAN_ONE, f"{budget}.enabled"))
