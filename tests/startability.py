"""Can every pod of one environment's objects start, and can every rollout finish?

A model of what the kubelet, the scheduler and the workload controllers do with the objects,
each rule naming its upstream source (files of kubernetes/kubernetes, as of v1.33, the version
kmc targets by default):

- Volume setup (pkg/volume/configmap, secret, projected; pkg/kubelet/kubelet_pods.go): a pod
  whose ConfigMap, Secret or claim is missing, or whose `items` name a key the object does not
  have, stays in ContainerCreating (unless the reference is `optional`); an env var or envFrom
  of a missing object fails the container (CreateContainerConfigError); a missing service
  account or namespace makes the pod's creation fail.
- hostPath (pkg/volume/hostpath/host_path.go, `checkType`): a type of `Directory`, `File`,
  `Socket`, `CharDevice` or `BlockDevice` fails the mount, so the pod stays in ContainerCreating,
  when the path is absent or of another type; `DirectoryOrCreate` and `FileOrCreate` make what
  is missing; no type checks nothing. kmc targets Linux nodes, where only `/`, `/proc` and `/sys`
  always exist.
- Nested mounts (pkg/volume/util/nested_volumes.go): the kubelet creates the mount points of
  mounts nested in a ConfigMap, Secret, projected or downward-API volume, which every runtime
  then mounts read-only; a mount nested in any other read-only mount needs the runtime to
  create its mount point on a read-only file system and fails (kubernetes/kubernetes#121294).
  kmc nests no mount in another read-only one of any kind, and so needs neither that workaround
  of the kubelet nor a runtime that honours it (kata-containers#3140 is one that did not).
- Rollouts (pkg/controller/deployment/rolling.go and util/deployment_util.go: `maxSurge`
  rounds up, `maxUnavailable` down, both resolving to 0 means `maxUnavailable` 1; the new
  ReplicaSet grows while all pods number under replicas + maxSurge, the old one shrinks while
  the available pods stay at least replicas - maxUnavailable; `Recreate` removes every old pod
  first). The scheduler (pkg/scheduler/framework/plugins/interpodaffinity/filtering.go) puts no
  pod with a required anti-affinity on a node whose topology domain has a pod matching it, old
  or new. With as many eligible nodes as replicas, a rollout that needs a surge pod first never
  finishes: `rollout` below plays it out.
- StatefulSets (pkg/apis/apps/validation, pkg/controller/statefulset): `serviceName` names the
  governing Service, a headless one (clusterIP None) selecting the set's pods, which gives them
  their DNS names.
- Probes and Services (pkg/kubelet/prober, the endpoints controllers): a named probe port or
  Service targetPort resolves to a container port of that name, or the probe fails and the
  endpoint is left out.
- A DaemonSet whose pods hold a host port cannot surge: the new pod cannot bind the port the
  old one holds on the same node (pkg/scheduler/framework/plugins/nodeports).
- Node drains under a PodDisruptionBudget (pkg/registry/core/pod/storage/eviction.go, the
  eviction API; pkg/controller/disruption/disruption.go, which keeps the budget's status): the
  expected pods are the workload's replicas; `minAvailable` is the desired healthy count, or
  `maxUnavailable` is taken off the expected pods (a percentage of them rounded up, by
  intstr.GetScaledValueFromIntOrPercent with roundUp); an eviction of a healthy pod passes only
  while the healthy pods outnumber the desired ones, and then lowers the allowance by one; with
  `unhealthyPodEvictionPolicy: AlwaysAllow` a pod that is not ready is always evicted. `kubectl
  drain` cordons the node and retries a refused eviction until it passes. An evicted pod's
  ReplicaSet or StatefulSet makes a replacement, which the scheduler puts on an uncordoned node
  (under a required anti-affinity on hostname, one where no pod of the workload runs) or leaves
  Pending. `drains` plays out the maintenance of every node in turn; a budget that lets no
  eviction through holds the first drain forever. Rollouts do not evict (the Deployment and
  StatefulSet controllers delete pods), so a budget never holds a rollout up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pod_security import baseline

from kmc.components.prerequisites import PRIVILEGED, SETTING, Prerequisite

Obj = Mapping[str, Any]
Ref = tuple[str, str, str]  # (kind, namespace, name); namespace "" for cluster-scoped kinds

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
CLUSTER_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
ALWAYS_PRESENT = frozenset({"/", "/proc", "/sys"})  # on every Linux node
CHECKED_HOST_PATH_TYPES = frozenset({"Directory", "File", "Socket", "CharDevice", "BlockDevice"})
API_DATA_VOLUMES = ("configMap", "secret", "projected", "downwardAPI")
CERT_MANAGER_KINDS = {"Certificate": "certificates", "Issuer": "issuers", "ClusterIssuer": "clusterissuers"}
# The PriorityClasses the API server creates when it starts (Kubernetes' scheduling API,
# SystemPriorityClasses in pkg/apis/scheduling).
CLUSTER_PRIORITY_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})
KEDA_KINDS = {"ScaledObject": "scaledobjects", "TriggerAuthentication": "triggerauthentications"}
# What reconciles a ScaledObject: KEDA's operator, as KEDA's own install names it (kedacore/keda
# config/manager/manager.yaml: Deployment keda-operator in namespace keda).
KEDA_OPERATOR: Ref = ("Deployment", "keda", "keda-operator")


def pod_templates(objects: Iterable[Obj]) -> Iterator[tuple[Obj, Obj]]:
    """(workload, pod template) of each workload."""
    for obj in objects:
        if obj["kind"] in WORKLOADS:
            yield obj, obj["spec"]["template"]


def _name(obj: Obj) -> str:
    return f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _ref(obj: Obj) -> Ref:
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


class References:
    """What the objects name, by object, with the keys named (None: the whole object)."""

    def __init__(self) -> None:
        self.keys: dict[Ref, set[str] | None] = {}
        self.by: dict[Ref, list[str]] = {}

    def add(self, ref: Ref, who: str, keys: Iterable[str] | None = None) -> None:
        known = self.keys.get(ref, set())
        self.keys[ref] = None if keys is None or known is None else known | set(keys)
        self.by.setdefault(ref, []).append(who)


def references(objects: Sequence[Obj]) -> References:
    """Everything a pod or an object of `objects` names that must exist for it to start or be accepted."""
    found = References()
    for obj in objects:
        ns = obj["metadata"].get("namespace")
        if ns:
            found.add(("Namespace", "", ns), _name(obj))
        group = obj["apiVersion"].rpartition("/")[0]
        if group == "cert-manager.io":
            found.add(("CustomResourceDefinition", "", f"{CERT_MANAGER_KINDS[obj['kind']]}.cert-manager.io"), _name(obj))
            issuer = obj["spec"].get("issuerRef")
            if issuer:
                found.add((issuer["kind"], ns if issuer["kind"] == "Issuer" else "", issuer["name"]), _name(obj))
        if group == "keda.sh":
            found.add(("CustomResourceDefinition", "", f"{KEDA_KINDS[obj['kind']]}.keda.sh"), _name(obj))
            if obj["kind"] == "ScaledObject":
                found.add(KEDA_OPERATOR, _name(obj))
                for trigger in obj["spec"]["triggers"]:
                    if "authenticationRef" in trigger:
                        found.add(("TriggerAuthentication", ns, trigger["authenticationRef"]["name"]), _name(obj))
            for ref in obj["spec"].get("secretTargetRef", []):
                found.add(("Secret", ns, ref["name"]), _name(obj), (ref["key"],))
        if obj["kind"] == "PersistentVolumeClaim" and obj["spec"].get("storageClassName"):
            found.add(("StorageClass", "", obj["spec"]["storageClassName"]), _name(obj))
        if obj["kind"] == "APIService" and obj["spec"].get("service"):
            service = obj["spec"]["service"]
            found.add(("Service", service["namespace"], service["name"]), _name(obj))
        if obj["kind"] == "Ingress":
            _ingress_references(found, obj)
        if obj["kind"] == "HTTPRoute":
            # The kind exists only with the Gateway API's CRDs; each parent Gateway must exist.
            found.add(("CustomResourceDefinition", "", "httproutes.gateway.networking.k8s.io"), _name(obj))
            for parent in obj["spec"].get("parentRefs") or []:
                found.add(("Gateway", parent.get("namespace", ns), parent["name"]), _name(obj))
    for workload, template in pod_templates(objects):
        _pod_references(found, workload, template)
    return found


def _ingress_references(found: References, ingress: Obj) -> None:
    """An Ingress needs its IngressClass and the TLS Secret it names; with cert-manager's
    annotation, cert-manager's ingress-shim makes that Secret through a Certificate signed by the
    named issuer (https://cert-manager.io/docs/usage/ingress/)."""
    who, ns = _name(ingress), ingress["metadata"]["namespace"]
    if ingress["spec"].get("ingressClassName"):
        found.add(("IngressClass", "", ingress["spec"]["ingressClassName"]), who)
    annotations = ingress["metadata"].get("annotations") or {}
    issuers = [("ClusterIssuer", "", annotations.get("cert-manager.io/cluster-issuer")), ("Issuer", ns, annotations.get("cert-manager.io/issuer"))]
    named = [(kind, where, name) for kind, where, name in issuers if name]
    for ref in named:
        found.add(ref, who)
        found.add(("CustomResourceDefinition", "", "certificates.cert-manager.io"), who)
    for tls in ingress["spec"].get("tls") or []:
        if not named:
            found.add(("Secret", ns, tls["secretName"]), who, ["tls.crt", "tls.key"])


def _pod_references(found: References, workload: Obj, template: Obj) -> None:
    ns, who, spec = workload["metadata"]["namespace"], _name(workload), template["spec"]
    found.add(("ServiceAccount", ns, spec.get("serviceAccountName") or "default"), who)
    for secret in spec.get("imagePullSecrets") or []:
        found.add(("Secret", ns, secret["name"]), who)
    if spec.get("priorityClassName"):  # the Priority admission plugin refuses a pod of an unknown class
        found.add(("PriorityClass", "", spec["priorityClassName"]), who)
    for volume in spec.get("volumes") or []:
        if "configMap" in volume:
            _source(found, who, ns, "ConfigMap", volume["configMap"], "name")
        elif "secret" in volume:
            _source(found, who, ns, "Secret", volume["secret"], "secretName")
        elif "persistentVolumeClaim" in volume:
            found.add(("PersistentVolumeClaim", ns, volume["persistentVolumeClaim"]["claimName"]), who)
        elif "projected" in volume:
            for source in volume["projected"]["sources"]:
                if "configMap" in source:
                    _source(found, who, ns, "ConfigMap", source["configMap"], "name")
                elif "secret" in source:
                    _source(found, who, ns, "Secret", source["secret"], "name")
    for claim in workload["spec"].get("volumeClaimTemplates") or []:
        if claim["spec"].get("storageClassName"):
            found.add(("StorageClass", "", claim["spec"]["storageClassName"]), who)
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        for var in container.get("env") or []:
            source = var.get("valueFrom") or {}
            for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if field in source and not source[field].get("optional"):
                    found.add((kind, ns, source[field]["name"]), who, [source[field]["key"]])
        for source in container.get("envFrom") or []:
            for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if field in source and not source[field].get("optional"):
                    found.add((kind, ns, source[field]["name"]), who)


def _source(found: References, who: str, ns: str, kind: str, source: Obj, name_field: str) -> None:
    if source.get("optional"):
        return
    items = source.get("items")
    found.add((kind, ns, source[name_field]), who, None if items is None else [item["key"] for item in items])


def held(objects: Sequence[Obj]) -> dict[Ref, set[str] | None]:
    """The objects the output holds or makes through a controller, with their data keys (None: not a data object)."""
    found: dict[Ref, set[str] | None] = {}
    for obj in objects:
        data = None
        if obj["kind"] in ("ConfigMap", "Secret"):
            data = {*(obj.get("data") or {}), *(obj.get("binaryData") or {}), *(obj.get("stringData") or {})}
        found[_ref(obj)] = data
        if obj["kind"] == "Certificate":  # cert-manager writes the Secret: ca.crt, tls.crt, tls.key
            found[("Secret", obj["metadata"]["namespace"], obj["spec"]["secretName"])] = {"ca.crt", "tls.crt", "tls.key"}
        for claim in obj["spec"].get("volumeClaimTemplates") or [] if obj["kind"] == "StatefulSet" else []:
            found[("PersistentVolumeClaim", obj["metadata"]["namespace"], f"{claim['metadata']['name']}-{obj['metadata']['name']}")] = None
    return found


def _cluster_has(ref: Ref) -> bool:
    kind, _, name = ref
    return (
        (kind == "Namespace" and name in CLUSTER_NAMESPACES)
        or (kind == "ServiceAccount" and name == "default")
        or (kind == "PriorityClass" and name in CLUSTER_PRIORITY_CLASSES)
    )


def problems(objects: Sequence[Obj], needed: Sequence[Prerequisite]) -> list[str]:
    """Every reason a pod of `objects` could not start, or a rollout not finish, when the
    prerequisites `needed` exist; and every prerequisite nothing needs."""
    return [
        *reference_problems(objects, needed),
        *(problem for workload, template in pod_templates(objects) for problem in pod_problems(workload, template)),
        *service_problems(objects),
        *_budget_problems(objects),
    ]


def reference_problems(objects: Sequence[Obj], needed: Sequence[Prerequisite]) -> list[str]:
    refs, have = references(objects), held(objects)
    # A setting of the cluster is no object a pod names: test_platforms.py reads those back.
    declared = {(item.kind, item.namespace, str(item.name)): item for item in needed if item.kind != SETTING}
    found = []
    for ref, keys in sorted(refs.keys.items(), key=lambda pair: pair[0]):
        who = refs.by[ref][0]
        if ref in have:
            data = have[ref]
            missing = sorted(keys - data) if keys is not None and data is not None else []
            if missing:
                found.append(f"{who}: {ref[0]} {ref[1]}/{ref[2]} has no key {', '.join(missing)}")
        elif ref in declared:
            item = declared[ref]
            if keys is not None and ref[0] in ("Secret", "ConfigMap") and keys != set(item.keys):
                found.append(f"{who}: {item.ref} is declared with keys {sorted(item.keys)}, the pods read {sorted(keys)}")
        elif not _cluster_has(ref):
            found.append(f"{who}: {ref[0]} {ref[1]}/{ref[2]} is neither in the output nor declared a prerequisite")
    for ref, item in declared.items():
        if ref in have:
            found.append(f"{item.ref} is declared a prerequisite, but the output holds it")
        elif ref not in refs.keys:
            found.append(f"{item.ref} is declared a prerequisite, but nothing in the output needs it")
        elif ref[0] == "Namespace":
            found += _namespace_problems(item, objects)
    return found


def _namespace_problems(item: Prerequisite, objects: Sequence[Obj]) -> list[str]:
    """A declared Namespace must say the Pod Security level its pods need: privileged where one
    breaks baseline (such a pod is refused by a namespace enforcing baseline or restricted)."""
    needs = any(
        baseline(template["metadata"], template["spec"]) for workload, template in pod_templates(objects) if workload["metadata"]["namespace"] == item.name
    )
    if needs != (PRIVILEGED in item.keys):
        return [f"{item.ref}: pods that need Pod Security level privileged: {needs}; the label declared: {PRIVILEGED in item.keys}"]
    return []


def pod_problems(workload: Obj, template: Obj) -> list[str]:
    who, spec = _name(workload), template["spec"]
    found = [*_host_path_problems(who, spec), *_mount_problems(who, workload, spec), *_probe_problems(who, spec)]
    if workload["kind"] == "Deployment":
        found += _rollout_problems(who, workload, template)
    if workload["kind"] == "DaemonSet":
        found += _daemon_set_problems(who, workload, spec)
    return found


def _host_path_problems(who: str, spec: Obj) -> list[str]:
    found = []
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            path, kind = volume["hostPath"]["path"], volume["hostPath"].get("type", "")
            if kind in CHECKED_HOST_PATH_TYPES - {"Directory"} or (kind in ("", "Directory") and path not in ALWAYS_PRESENT):
                found.append(f"{who}: hostPath {path} of type {kind or 'unset'} may be absent on a node and keep the pod from starting")
    return found


def _mount_problems(who: str, workload: Obj, spec: Obj) -> list[str]:
    volumes = {volume["name"]: volume for volume in spec.get("volumes") or []}
    claims = {claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates") or []}
    found = []
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        mounts = container.get("volumeMounts") or []
        paths = [mount["mountPath"].rstrip("/") or "/" for mount in mounts]
        if len(set(paths)) != len(paths):
            found.append(f"{who}: container {container['name']} mounts two volumes at one path")
        for mount, path in zip(mounts, paths, strict=True):
            if mount["name"] not in volumes and mount["name"] not in claims:
                found.append(f"{who}: container {container['name']} mounts {mount['name']!r}, which is no volume of the pod")
                continue
            volume = volumes.get(mount["name"], {})
            if not (mount.get("readOnly") or any(kind in volume for kind in API_DATA_VOLUMES)):
                continue
            for inner, inner_path in zip(mounts, paths, strict=True):
                if inner is not mount and inner_path.startswith(path.rstrip("/") + "/"):
                    found.append(
                        f"{who}: container {container['name']} mounts {inner['name']!r} at {inner_path}, inside the read-only mount of {mount['name']!r}"
                    )
    return found


def _probe_problems(who: str, spec: Obj) -> list[str]:
    found = []
    for container in spec["containers"]:
        names = {port["name"] for port in container.get("ports") or [] if "name" in port}
        numbers = {port["containerPort"] for port in container.get("ports") or []}
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = container.get(kind) or {}
            for handler in ("httpGet", "tcpSocket", "grpc"):
                port = (probe.get(handler) or {}).get("port")
                if port is not None and port not in (names if isinstance(port, str) else numbers):
                    found.append(f"{who}: the {kind} of {container['name']} asks port {port!r}, which is no port of that container")
    return found


def scaled(value: int | str | None, replicas: int, *, up: bool) -> int:
    """An int-or-percent of `replicas`, rounded as the Deployment controller rounds it."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    share = replicas * int(value.rstrip("%"))
    return -(-share // 100) if up else share // 100


def fenceposts(strategy: Obj, replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a RollingUpdate strategy (defaults 25%/25%), as ResolveFenceposts resolves them."""
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled(rolling.get("maxSurge", "25%"), replicas, up=True)
    unavailable = scaled(rolling.get("maxUnavailable", "25%"), replicas, up=False)
    return (surge, 1) if surge == 0 and unavailable == 0 else (surge, unavailable)


def rollout(strategy: Obj, replicas: int, nodes: int, one_per_node: bool) -> bool:
    """Whether replacing every pod of a Deployment finishes on `nodes` eligible nodes.

    Every pod is ready as soon as it is scheduled; a scaled-down pod is gone at once (a
    terminating pod still holds its node for a while, which only delays). Each round the
    controller scales the new and the old ReplicaSet, then the scheduler places pending pods."""
    old, new_scheduled, new_pending = replicas, 0, 0
    recreate = strategy.get("type") == "Recreate"
    surge, unavailable = fenceposts(strategy, replicas)
    for _ in range(4 * (replicas + 2)):
        if recreate:
            wanted = 0 if old else replicas
            old = 0
        else:
            total = old + new_scheduled + new_pending
            wanted = new_scheduled + new_pending + max(0, min(replicas + surge - total, replicas - new_scheduled - new_pending))
        new_pending += wanted - new_scheduled - new_pending
        if not recreate:
            removable = (old + new_scheduled + new_pending) - (replicas - unavailable) - new_pending
            old -= max(0, min(removable, old))
        free = nodes - old - new_scheduled if one_per_node else new_pending
        placed = min(new_pending, max(0, free))
        new_scheduled, new_pending = new_scheduled + placed, new_pending - placed
        if old == 0 and new_scheduled == replicas:
            return True
    return False


def required_anti_affinity_on_itself(template: Obj) -> bool:
    """Whether the pods refuse to share a node with one another (required anti-affinity on hostname)."""
    labels = template["metadata"].get("labels") or {}
    terms = (((template["spec"].get("affinity") or {}).get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")) or []
    # A term without a labelSelector matches no pod (PodAffinityTerm's API documentation); matchExpressions are not modelled: kmc writes none.
    return any(
        term["topologyKey"] == "kubernetes.io/hostname"
        and "labelSelector" in term
        and not term["labelSelector"].get("matchExpressions")
        and (term["labelSelector"].get("matchLabels") or {}).items() <= labels.items()
        for term in terms
    )


def _rollout_problems(who: str, workload: Obj, template: Obj) -> list[str]:
    spec = workload["spec"]
    replicas = spec.get("replicas", 1)
    strategy = spec.get("strategy") or {}
    found = []
    if replicas and required_anti_affinity_on_itself(template) and not rollout(strategy, replicas, nodes=replicas, one_per_node=True):
        found.append(f"{who}: with {replicas} eligible nodes for {replicas} replicas, a rollout ({strategy}) waits forever for a surge pod")
    claims = [volume for volume in template["spec"].get("volumes") or [] if "persistentVolumeClaim" in volume]
    if claims and (replicas > 1 or strategy.get("type") != "Recreate"):
        found.append(f"{who}: a volume claim of one node and {replicas} replicas with {strategy}: a second pod cannot mount it")
    return found


def desired_healthy(budget: Obj, replicas: int) -> int:
    """The budget's desired healthy pods of `replicas` expected ones (the disruption controller's getExpectedPodCount)."""
    if budget.get("minAvailable") is not None:
        return scaled(budget["minAvailable"], replicas, up=True)
    return max(0, replicas - scaled(budget.get("maxUnavailable", 0), replicas, up=True))


def drains(budget: Obj, replicas: int, nodes: int, one_per_node: bool) -> bool:
    """Whether draining each of `nodes` nodes in turn (cordon, evict every pod of the workload
    through the budget, uncordon when it is empty) finishes for a workload of `replicas` pods.

    Pods start spread one per node where the anti-affinity asks it, else all on the first node
    (the worst case for a budget). Each round: the drain asks to evict each pod of the node, the
    eviction API answers by the budget, the controller replaces evicted pods, the scheduler
    places Pending ones (ready at once)."""
    placed = [index % nodes if one_per_node else 0 for index in range(replicas)]  # node of each running pod
    pending = 0
    desired = desired_healthy(budget, replicas)
    for node in range(nodes):
        for _ in range(4 * (replicas + 2)):
            free = [other for other in range(nodes) if other != node and (not one_per_node or other not in placed)]
            while pending and free:  # the scheduler places Pending replacements off the cordoned node
                placed.append(free.pop(0) if one_per_node else free[0])
                pending -= 1
            on_node = [index for index, where in enumerate(placed) if where == node]
            if not on_node:
                break  # drained: uncordon, and the next node's maintenance starts
            if len(placed) - desired <= 0:
                return False  # every healthy pod is needed: the eviction is refused (429), again and again
            placed.pop(on_node[0])
            pending += 1
        else:
            return False
    return True


def _budget_problems(objects: Sequence[Obj]) -> list[str]:
    """Every PodDisruptionBudget must let the drain of each node in turn finish."""
    found = []
    workloads = [obj for obj in objects if obj["kind"] in ("Deployment", "StatefulSet")]
    for budget in (obj for obj in objects if obj["kind"] == "PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        matched = [w for w in workloads if selector.items() <= (w["spec"]["template"]["metadata"].get("labels") or {}).items()]
        if not matched:
            found.append(f"{_name(budget)} selects no workload's pods")
            continue
        for workload in matched:
            replicas = workload["spec"].get("replicas", 1)
            spread = required_anti_affinity_on_itself(workload["spec"]["template"])
            nodes = max(replicas, 2)
            if replicas and not drains(budget["spec"], replicas, nodes, spread):
                found.append(f"{_name(budget)}: with {replicas} replicas of {_name(workload)}, a node drain waits forever ({budget['spec']})")
    return found


def _daemon_set_problems(who: str, workload: Obj, spec: Obj) -> list[str]:
    host_ports = spec.get("hostNetwork") or any(port.get("hostPort") for container in spec["containers"] for port in container.get("ports") or [])
    surge = ((workload["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}).get("maxSurge", 0)
    if host_ports and surge not in (0, "0%"):
        return [f"{who}: its pods hold host ports, so a surge pod cannot start beside the old one (maxSurge {surge})"]
    return []


def service_problems(objects: Sequence[Obj]) -> list[str]:
    """Services select pods, name their ports; a StatefulSet's serviceName is a headless Service of its pods."""
    templates = [(workload, template) for workload, template in pod_templates(objects)]
    services = {(obj["metadata"]["namespace"], obj["metadata"]["name"]): obj for obj in objects if obj["kind"] == "Service"}
    found = []
    for (ns, name), service in sorted(services.items()):
        selector = service["spec"].get("selector")
        if not selector:
            continue
        selected = [(w, t) for w, t in templates if w["metadata"]["namespace"] == ns and selector.items() <= (t["metadata"].get("labels") or {}).items()]
        if not selected:
            found.append(f"Service {ns}/{name} selects no pod of the output")
        for port in service["spec"]["ports"]:
            target = port.get("targetPort")
            for workload, template in selected:
                names = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports") or [] if "name" in p}
                if isinstance(target, str) and target not in names:
                    found.append(f"Service {ns}/{name}: targetPort {target!r} is no port of {_name(workload)}")
    for workload, template in templates:
        if workload["kind"] != "StatefulSet":
            continue
        ns, governing = workload["metadata"]["namespace"], workload["spec"].get("serviceName")
        service = services.get((ns, governing))
        labels = template["metadata"].get("labels") or {}
        if service is None or service["spec"].get("clusterIP") != "None" or not (service["spec"].get("selector") or {}).items() <= labels.items():
            found.append(f"{_name(workload)}: serviceName {governing!r} is not a headless Service of its pods")
    return found
