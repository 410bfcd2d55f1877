"""What the output needs and does not hold: the objects to create before applying it.

Declared from the stack model, component by component (never read back from the emitted
objects; the tests hold the two together: every object a pod or an object of the output names is
in the output or declared here, and everything declared here is named by one). A missing Secret
keeps its pods in ContainerCreating, a missing StorageClass keeps a claim and its pod Pending,
and an object in a missing Namespace or of a missing CustomResourceDefinition is refused.

Objects every conformant cluster has are not listed: the namespaces kube-system and default,
the `system:` ClusterRoles, kube-system's `extension-apiserver-authentication-reader` Role and
the HPA controller's service account.

Settings of the cluster itself (kubelet serving certificates signed by the cluster CA, metrics
bind addresses) are listed too, as kind `ClusterSetting` with the steps on the stack's platform
(kmc.components.cluster_setup), and only for a named `cluster.platform`.

Each need carries the switches under which it holds (a component's `enabled`), so that the
same list serves every environment (`for_values`) and the Helm chart's NOTES.txt (`merged`,
whose `when` becomes the template's condition).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kmc.components import (
    aggregated_api,
    alertmanager,
    alertmanager_config,
    autoscaling,
    cluster_setup,
    exposure,
    grafana,
    hatches,
    keda,
    kube_state_metrics,
    metrics_server,
    node_exporter,
    prometheus_adapter,
    remote_storage,
)
from kmc.components.base import PROMETHEUS_SWITCH
from kmc.components.exposure import possessive
from kmc.components.scrape_jobs import ETCD_KEYS
from kmc.ir import KIND_ORDER, Param, lookup, resolve
from kmc.model import Stack
from kmc.platforms import GENERIC, KUBEADM_BASED
from kmc.record import field, record

CERT_MANAGER_INSTALL = "install cert-manager (https://cert-manager.io/docs/installation/)"
GATEWAY_API_INSTALL = "install the Gateway API's CRDs and a Gateway controller (https://gateway-api.sigs.k8s.io/guides/)"
HTTP_ROUTES_CRD = "httproutes.gateway.networking.k8s.io"
KEDA_INSTALL = "install KEDA 2.19 or later (https://keda.sh/docs/2.19/deploy/): its CRDs and its operator"
KEDA_NAMESPACE = "keda"  # where KEDA's own install puts its operator
PRIVILEGED = "pod-security.kubernetes.io/enforce=privileged"
# What a `kubectl create secret` line puts where it knows no value: a key with a dot in its name
# (`ca.crt`, `objstore.yml`) is read from a file, any other (`password`, `webhook-url`) is a literal.
UNKNOWN_VALUE = "..."
SETTING = "ClusterSetting"  # the kind of a setting of the cluster itself: not an object
# Where kubeadm keeps etcd's CA and the health-check client certificate it issues (kubeadm's
# constants EtcdCACertName, EtcdHealthcheckClientCertName and -KeyName), on a control-plane node.
KUBEADM_ETCD_CLIENT = MappingProxyType(
    {
        "ca.crt": "--from-file=ca.crt=/etc/kubernetes/pki/etcd/ca.crt",
        "tls.crt": "--from-file=tls.crt=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
        "tls.key": "--from-file=tls.key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
    }
)


@record
class Need:
    """One use of an object the output does not hold, by one component.

    `name` is a Param where a deploy-time value names the object (a StorageClass); `sources` give
    the `kubectl create secret` flag of a key whose value kmc knows where to find
    (`--from-file=tls.crt=...`) or how to make (`--from-literal=secret-key="$(openssl ...)"`);
    `command`, the one command that makes the whole object, where kmc has one (`kmc certs secrets`)."""

    kind: str
    namespace: str  # "" for cluster-scoped kinds
    name: str | Param
    keys: tuple[str, ...]
    why: str
    conditions: tuple[str, ...] = ()  # the switches that must all be on for the need to hold
    sources: Mapping[str, str] | None = field(default=None, compare=False)
    how: tuple[str, ...] = field(default=(), compare=False)  # a ClusterSetting's steps
    command: str = field(default="", compare=False)
    # A list parameter of references (an HTTPRoute's parentRefs): the need holds only where the
    # list names this object (a `namespace` left out is the stack's). The Helm chart's NOTES.txt
    # cannot test that, and leaves such needs out.
    among: str = ""

    def holds(self, values: Mapping[str, Any]) -> bool:
        if self.among and not any(
            ref.get("name") == self.name and ref.get("namespace", self.namespace) == self.namespace for ref in lookup(values, self.among) or ()
        ):
            return False
        return all(lookup(values, path) for path in self.conditions)


@record
class Prerequisite:
    """An object to create before applying the output: what it is, the keys (a Secret's data keys,
    a Namespace's labels as `name=value`) it must hold, why, and how to make or check it.

    `when` (only from `merged`): the alternative sets of switches under which it is needed, as
    the Helm chart's NOTES.txt tests them; () from `for_values`, whose environment needs it."""

    kind: str
    namespace: str
    name: str | Param
    keys: tuple[str, ...]
    why: str
    when: tuple[tuple[str, ...], ...] = ()
    # A Secret's keys whose `kubectl create secret` flag kmc knows (see `Need.sources`).
    sources: Mapping[str, str] = field(default=MappingProxyType({}), compare=False)
    how: tuple[str, ...] = field(default=(), compare=False)  # a ClusterSetting's steps on the stack's platform
    command: str = field(default="", compare=False)  # see `Need.command`

    @property
    def create(self) -> tuple[str, ...]:
        """The commands that make the object, or check that the cluster has it."""
        return commands(self, str(self.name))

    @property
    def ref(self) -> str:
        """`Kind namespace/name` (or `Kind name`, cluster-scoped; `cluster setting: what`), as people read it."""
        if self.kind == SETTING:
            return f"cluster setting: {self.name}"
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


def needs(stack: Stack, *, keys_in_output: bool) -> tuple[Need, ...]:
    """Every need of the stack's output in any environment.

    `keys_in_output`: whether the output holds the serving-certificate Secrets of the keys kmc
    made (manifests and kustomize with `certificates.keysInOutput`; never a Helm chart)."""
    return (
        *_namespaces(stack),
        *_api_servers(stack, keys_in_output),
        *_prometheus(stack),
        *_grafana(stack),
        *_alertmanager(stack),
        *_exposure(stack),
        *_hatches(stack),
        *_storage_classes(stack),
        *_priority_classes(stack),
        *_pull_secrets(stack),
        *_cluster_settings(stack),
        *_keda(stack),
    )


def for_values(found: Iterable[Need], values: Mapping[str, Any]) -> tuple[Prerequisite, ...]:
    """The prerequisites of one environment (its parameter values), one per object, in a fixed order."""
    resolved = [_resolved(need, values) for need in found if need.holds(values)]
    return _merge(need for need in resolved if need.name and not _built_in(need))


def by_environment(stack: Stack, environments: Iterable[str], *, keys_in_output: bool) -> dict[str, tuple[Prerequisite, ...]]:
    """`for_values` of each named environment (`default`: the stack's own values)."""
    found = needs(stack, keys_in_output=keys_in_output)
    return {env: for_values(found, stack.values(None if env == "default" else env)) for env in environments}


def merged(found: Iterable[Need]) -> tuple[Prerequisite, ...]:
    """Every object any environment needs, each with `when` it is needed (for the Helm chart)."""
    return _merge((need for need in found if not need.among), keep_conditions=True)


def _resolved(need: Need, values: Mapping[str, Any]) -> Need:
    name = resolve(need.name, values)
    return Need(need.kind, need.namespace, "" if name is None else str(name), need.keys, need.why, (), need.sources, how=need.how, command=need.command)


def _merge(found: Iterable[Need], *, keep_conditions: bool = False) -> tuple[Prerequisite, ...]:
    groups: dict[tuple[str, str, str], list[Need]] = {}
    for need in found:
        groups.setdefault((need.kind, need.namespace, str(need.name)), []).append(need)
    out = []
    for group in groups.values():
        first = group[0]
        keys = tuple(sorted({key for need in group for key in need.keys}))
        whys = tuple(dict.fromkeys(need.why for need in group))
        sources = {key: flag for need in group for key, flag in (need.sources or {}).items()}
        command = next((need.command for need in group if need.command), "")
        when: tuple[tuple[str, ...], ...] = ()
        if keep_conditions:
            alternatives = list(dict.fromkeys(need.conditions for need in group))
            when = () if () in alternatives else tuple(alternatives)
        out.append(
            Prerequisite(first.kind, first.namespace, first.name, keys, "; ".join(whys), when, MappingProxyType(sources), how=first.how, command=command)
        )
    return tuple(sorted(out, key=_order))


def _order(item: Prerequisite) -> tuple[int, str, str, str]:
    rank = KIND_ORDER.index(item.kind) if item.kind in KIND_ORDER else len(KIND_ORDER) + (item.kind == SETTING)  # the cluster's settings last
    name = item.name.path if isinstance(item.name, Param) else item.name
    return (rank, item.kind, item.namespace, name)


def commands(item: Prerequisite, name: str) -> tuple[str, ...]:
    """The commands that make `item`, named `name` (or, for what a cluster provides, check it is there)."""
    keys, ns = item.keys, item.namespace
    if item.kind == SETTING:
        return item.how
    if item.command:
        return (item.command,)
    if item.kind == "Secret":
        flags = {key: item.sources.get(key, f"--from-{'file' if '.' in key else 'literal'}={key}={UNKNOWN_VALUE}") for key in keys}
        if keys == ("tls.crt", "tls.key"):  # a kubernetes.io/tls Secret: certificate and key files
            files = [flags[key].split("=", 2)[2] for key in keys]
            return (f"kubectl -n {ns} create secret tls {name} --cert={files[0]} --key={files[1]}",)
        return (f"kubectl -n {ns} create secret generic {name} {' '.join(flags.values())}",)
    if item.kind == "Namespace":
        return (f"kubectl create namespace {name}", *(f"kubectl label namespace {name} {label}" for label in keys))
    if item.kind == "CustomResourceDefinition":
        if name.endswith(".gateway.networking.k8s.io"):
            return (GATEWAY_API_INSTALL,)
        return (KEDA_INSTALL if name.endswith(".keda.sh") else CERT_MANAGER_INSTALL,)
    scope = f"-n {ns} " if ns else ""
    return (f"kubectl {scope}get {item.kind.lower()} {name}",)


# -- the needs, component by component ----------------------------------------------------------


def _namespaces(stack: Stack) -> list[Need]:
    found = []
    if not stack.create_namespace:
        found.append(Need("Namespace", "", stack.namespace, (), "every object of the stack lives in it (createNamespace: false)"))
        if node_exporter.compiled(stack):
            why = "node-exporter's host network, PID namespace and mounts need Pod Security level privileged"
            found.append(Need("Namespace", "", stack.namespace, (PRIVILEGED,), why, (node_exporter.SWITCH,)))
    for hpa in stack.autoscaling:
        if hpa.namespace != stack.namespace or not stack.create_namespace:
            why = f"the {'ScaledObject' if hpa.engine == 'keda' else 'HorizontalPodAutoscaler'} {hpa.name} lives in it (autoscaling)"
            found.append(Need("Namespace", "", hpa.namespace, (), why, autoscaling.providers(stack, hpa)))
    return found


def _api_servers(stack: Stack, keys_in_output: bool) -> list[Need]:
    found = []
    for server in aggregated_api.tls_servers(stack, Path()):
        switch = server.switch
        mode, ns = server.tls.mode, server.namespace
        serving = f"{server.name}'s serving certificate and key"
        if mode in ("generate", "ca") and not keys_in_output:
            # kmc prints the Secret from its state (the key never enters an output tree).
            command = f"kmc certs secrets {stack.file_name} --server {server.name} | kubectl apply -f -"
            held_out = "a Helm chart never holds a private key" if stack.certificates.keys_in_output else "certificates.keysInOutput: false"
            why = f"{serving}, made by kmc and kept in its state directory ({held_out})"
            found.append(Need("Secret", ns, server.secret_name, aggregated_api.SERVING_KEYS, why, (switch,), command=command))
        elif mode == "secret":
            found.append(Need("Secret", ns, server.secret_name, server.tls.serving_keys, f"{serving} (tls.secret)", (switch,)))
        elif mode == "cert-manager":
            found.append(Need("CustomResourceDefinition", "", "certificates.cert-manager.io", (), f"{server.name}'s Certificate", (switch,)))
            if server.tls.issuer_name is None:
                found.append(Need("CustomResourceDefinition", "", "issuers.cert-manager.io", (), f"{server.name}'s CA Issuers", (switch,)))
            else:
                kind = server.tls.issuer_kind or "Issuer"
                why = f"it signs {server.name}'s serving certificate (tls.certManager.issuer)"
                found.append(Need(kind, ns if kind == "Issuer" else "", server.tls.issuer_name, (), why, (switch,)))
    return found


def _prometheus(stack: Stack) -> list[Need]:
    ns, prom = stack.namespace, stack.prometheus
    found = []
    etcd = stack.scrape.kubernetes.etcd
    if etcd.enabled and etcd.secret_name:
        why = "Prometheus' client certificate for etcd (scrape.kubernetes.etcd.secretName)"
        sources = None
        if stack.cluster.platform in KUBEADM_BASED:  # the health-check client kubeadm issued for etcd serves
            why += f"; on {stack.cluster.platform}, made on a control-plane node from the files kubeadm keeps there"
            sources = KUBEADM_ETCD_CLIENT
        found.append(Need("Secret", ns, etcd.secret_name, ETCD_KEYS, why, (), sources))
    for way, entries in (("write", prom.remote_write), ("read", prom.remote_read)):
        for entry in entries:
            for ref in remote_storage.entry_refs(entry):
                why = f"Prometheus' remote {way} {entry['name']!r} (prometheus.remote{way.capitalize()})"
                found.append(Need("Secret", ns, ref.secret_name, (ref.key,), why))
    if prom.thanos_sidecar and prom.thanos_object_storage is not None:
        ref = prom.thanos_object_storage
        found.append(Need("Secret", ns, ref.secret_name, (ref.key,), "the Thanos sidecar's object storage (prometheus.thanos.sidecar.objectStorage)"))
    for ref, who in stack.monitors.secrets:
        # The Prometheus pods mount Secrets of their own namespace: a monitor's Secret is copied there.
        found.append(Need("Secret", ns, ref.secret_name, (ref.key,), f"{who} (copy it from the monitor's namespace)"))
    return found


def _grafana(stack: Stack) -> list[Need]:
    if not grafana.compiled(stack):
        return []
    admin = stack.grafana.admin_secret
    made = {
        admin.user_key: f"--from-literal={admin.user_key}=admin",
        admin.password_key: f'--from-literal={admin.password_key}="$(openssl rand -base64 24)"',
        admin.secret_key_key: f'--from-literal={admin.secret_key_key}="$(openssl rand -base64 32)"',
    }
    found = []
    for ref, why in grafana.secret_uses(stack):
        sources = {ref.key: made[ref.key]} if ref.secret_name == admin.name and ref.key in made else None
        found.append(Need("Secret", stack.namespace, ref.secret_name, (ref.key,), why, (grafana.SWITCH,), sources))
    return found


def _alertmanager(stack: Stack) -> list[Need]:
    if not alertmanager.compiled(stack):
        return []
    uses = alertmanager_config.secret_uses(stack.alertmanager)
    return [Need("Secret", stack.namespace, ref.secret_name, (ref.key,), why, (alertmanager.SWITCH,)) for ref, why in uses]


def _exposure(stack: Stack) -> list[Need]:
    """What the UIs' Ingresses and HTTPRoutes need: the IngressClass, the TLS Secret or the
    cert-manager issuer, the Gateway API's CRD and the Gateways they attach to."""
    found = []
    ns = stack.namespace
    for ui in exposure.sections(stack):
        expose, title, switches = ui.path, ui.title, (ui.switch,) if ui.switch else ()
        settings = exposure.settings(stack, ui.section, ui.key)
        ingress = (*switches, f"{expose}.ingress.enabled")
        if stack.enabled_somewhere(*ingress):
            path = f"{expose}.ingress.className"
            why = f"{possessive(title)} Ingress names it ({path}); an ingress controller must serve it"
            found.append(Need("IngressClass", "", Param(path), (), why, (*ingress, path)))
            tls = settings.get("tls") or {}
            issuer = tls.get("clusterIssuer") or tls.get("issuer")
            if issuer:
                kind = "ClusterIssuer" if "clusterIssuer" in tls else "Issuer"
                why = f"it issues the certificate of {possessive(title)} Ingress ({expose}.tls), through cert-manager's ingress-shim"
                found.append(Need(kind, "" if kind == "ClusterIssuer" else ns, issuer, (), why, ingress))
                found.append(
                    Need(
                        "CustomResourceDefinition",
                        "",
                        "certificates.cert-manager.io",
                        (),
                        f"the Certificate cert-manager makes for {possessive(title)} Ingress",
                        ingress,
                    )
                )
            elif tls:
                why = f"the certificate and key of {possessive(title)} Ingress ({expose}.tls.secretName)"
                found.append(Need("Secret", ns, tls["secretName"], ("tls.crt", "tls.key"), why, ingress))
        route = (*switches, f"{expose}.httpRoute.enabled")
        if stack.enabled_somewhere(*route):
            why = f"{possessive(title)} HTTPRoute; the Gateways it names must exist, terminate TLS and admit routes from {ns}"
            found.append(Need("CustomResourceDefinition", "", HTTP_ROUTES_CRD, (), why, route))
            refs = f"{expose}.httpRoute.parentRefs"
            names = {(ref.get("namespace", ns), ref["name"]) for env in (None, *stack.environments) for ref in lookup(stack.values(env), refs) or ()}
            for where, name in sorted(names):
                why = f"{possessive(title)} HTTPRoute attaches to it ({refs}); it must terminate TLS and admit routes from {ns}"
                found.append(Need("Gateway", where, name, (), why, route, among=refs))
    return found


def _hatches(stack: Stack) -> list[Need]:
    """The Secrets and ConfigMaps the escape hatches read (kmc.components.hatches)."""
    return [
        Need(kind, stack.namespace, name, (key,) if key else (), why, (target.switch,))
        for target, kind, name, key, why in hatches.references(stack)
        if stack.enabled_somewhere(target.switch)
    ]


def _keda(stack: Stack) -> list[Need]:
    """KEDA is a cluster add-on kmc does not deploy: its CRDs and operator, and the Secret its
    Prometheus triggers authenticate with (keda.authentication)."""
    if not stack.uses_keda:
        return []
    scaled = ", ".join(f"{hpa.namespace}/{hpa.name}" for hpa in stack.autoscaling if hpa.engine == "keda")
    found = [
        Need("CustomResourceDefinition", "", "scaledobjects.keda.sh", (), f"the ScaledObjects {scaled} (autoscaling, engine keda)", (keda.SWITCH,)),
        Need("Deployment", KEDA_NAMESPACE, "keda-operator", (), f"KEDA's operator scales {scaled} and serves external.metrics.k8s.io", (keda.SWITCH,)),
    ]
    auth = stack.keda_authentication
    if auth is not None:
        why = "the TriggerAuthentications of KEDA's Prometheus triggers (keda.authentication)"
        found.append(Need("CustomResourceDefinition", "", "triggerauthentications.keda.sh", (), why, (keda.SWITCH,)))
        keys = tuple(keda.SECRET_KEYS[auth.mode].values())
        for namespace in keda.namespaces(stack):
            found.append(
                Need("Secret", namespace, auth.secret_name, keys, f"KEDA's credentials for Prometheus ({auth.mode}, keda.authentication)", (keda.SWITCH,))
            )
    return found


def _storage_classes(stack: Stack) -> list[Need]:
    """The StorageClasses the claims name (a deploy-time value: needed where it is set)."""
    found = []
    claims = (
        ("prometheus", stack.prometheus.storage, (), "Prometheus' volume claims ask"),
        ("grafana", stack.grafana.storage and grafana.compiled(stack), (grafana.SWITCH,), "Grafana's volume claim asks"),
        ("alertmanager", stack.alertmanager.storage and alertmanager.compiled(stack), (alertmanager.SWITCH,), "Alertmanager's volume claims ask"),
    )
    for section, used, switches, what in claims:
        if used:
            path = f"{section}.storage.storageClassName"
            found.append(Need("StorageClass", "", Param(path), (), f"{what} for it ({path})", (*switches, path)))
    return found


# The sections whose pods may name a PriorityClass, with the switch of their component and
# whether the stack builds the component at all (the chart's values have no section otherwise).
PRIORITY_SECTIONS: tuple[tuple[str, str, str, Callable[[Stack], bool]], ...] = (
    ("alertmanager", "Alertmanager", alertmanager.SWITCH, alertmanager.compiled),
    ("grafana", "Grafana", grafana.SWITCH, grafana.compiled),
    ("kubeStateMetrics", "kube-state-metrics", kube_state_metrics.SWITCH, kube_state_metrics.compiled),
    ("metricsServer", "metrics-server", metrics_server.SWITCH, metrics_server.compiled),
    ("nodeExporter", "node-exporter", node_exporter.SWITCH, node_exporter.compiled),
    ("prometheus", "Prometheus and Thanos Query", PROMETHEUS_SWITCH, lambda stack: stack.enabled_somewhere(PROMETHEUS_SWITCH)),
    ("prometheusAdapter", "prometheus-adapter", prometheus_adapter.SWITCH, prometheus_adapter.compiled),
)


def _priority_classes(stack: Stack) -> list[Need]:
    """The PriorityClasses the pods name (a deploy-time value: needed where it is set); the
    admission plugin Priority refuses a pod whose class does not exist."""
    found = []
    for section, who, switch, built in PRIORITY_SECTIONS:
        if not built(stack):
            continue
        path = f"{section}.priorityClassName"
        why = f"the {who} pods' priority class ({path})"
        found.append(Need("PriorityClass", "", Param(path), (), why, (switch, path)))
    return found


# The PriorityClasses every cluster has: the API server creates them when it starts (Kubernetes'
# scheduling API, its system priority classes).
BUILT_IN_PRIORITY_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})


def _built_in(need: Need) -> bool:
    return need.kind == "PriorityClass" and need.name in BUILT_IN_PRIORITY_CLASSES


def _pull_secrets(stack: Stack) -> list[Need]:
    """The Secrets every pod pulls its images with (images.pullSecrets)."""
    registry = stack.images.registry or "REGISTRY"
    found = []
    for name in stack.images.pull_secrets:
        command = f"kubectl -n {stack.namespace} create secret docker-registry {name} --docker-server={registry.split('/')[0]} --docker-username=... --docker-password=..."
        why = "every pod pulls its images with it (images.pullSecrets); without it a registry that wants a login refuses the pulls (ErrImagePull)"
        found.append(Need("Secret", stack.namespace, name, (".dockerconfigjson",), why, command=command))
    return found


def _cluster_settings(stack: Stack) -> list[Need]:
    """What the cluster itself must be set to for the output to work, on a named platform."""
    platform = stack.cluster.platform
    if platform == GENERIC:
        return []
    kube = stack.scrape.kubernetes
    found = []
    if platform != "k3s":  # k3s signs the kubelets' serving certificates with the cluster CA itself
        how = cluster_setup.kubelet_certs_how(platform)
        jobs = [name for name, job in (("kubelet", kube.kubelet), ("cadvisor", kube.cadvisor)) if job.enabled and not job.insecure_skip_verify]
        if jobs:
            verify = "jobs verify" if len(jobs) > 1 else "job verifies"
            why = f"Prometheus' {' and '.join(jobs)} {verify} them (scrape.kubernetes.*.insecureSkipVerify: false)"
            found.append(_setting(cluster_setup.KUBELET_CERTS, why, how))
        if metrics_server.compiled(stack) and not stack.metrics_server.insecure_kubelet_tls:
            why = "metrics-server verifies them (metricsServer.kubelet.insecureTLS: false): until then it is never Ready, and kubectl top and HPAs on CPU and memory fail"
            found.append(_setting(cluster_setup.KUBELET_CERTS, why, how, (metrics_server.SWITCH,)))
    for name, job in (("controllerManager", kube.controller_manager), ("scheduler", kube.scheduler)):
        if job.enabled and platform in KUBEADM_BASED:
            why = f"Prometheus scrapes it on each control-plane node's address (scrape.kubernetes.{name}); {platform} binds it to 127.0.0.1"
            found.append(_setting(cluster_setup.bound(name), why, cluster_setup.bound_how(name, platform)))
            if not job.insecure_skip_verify:
                why = f"Prometheus verifies it (scrape.kubernetes.{name}.insecureSkipVerify: false); {platform}'s is self-signed"
                found.append(_setting(cluster_setup.signed(name), why, cluster_setup.signed_how(name)))
    if kube.kube_proxy.enabled and platform != "k3s":
        why = "Prometheus scrapes kube-proxy on each node's address (scrape.kubernetes.kubeProxy); it listens on 127.0.0.1:10249 by default"
        found.append(_setting(cluster_setup.bound("kubeProxy"), why, cluster_setup.bound_how("kubeProxy", platform)))
    if platform == "k3s":
        why = "kmc's {} serves v1beta1.metrics.k8s.io, which k3s's own metrics-server holds"
        if metrics_server.compiled(stack):
            found.append(
                _setting(cluster_setup.K3S_METRICS_SERVER, why.format("metrics-server"), cluster_setup.K3S_METRICS_SERVER_HOW, (metrics_server.SWITCH,))
            )
        if prometheus_adapter.compiled(stack) and stack.prometheus_adapter.resource_metrics:
            why = why.format("prometheus-adapter (resourceMetrics)")
            found.append(_setting(cluster_setup.K3S_METRICS_SERVER, why, cluster_setup.K3S_METRICS_SERVER_HOW, (prometheus_adapter.SWITCH,)))
    return found


def _setting(name: str, why: str, how: tuple[str, ...], conditions: tuple[str, ...] = ()) -> Need:
    return Need(SETTING, "", name, (), why, conditions, None, how)
