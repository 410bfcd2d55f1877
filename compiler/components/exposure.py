"""Exposure of a UI (Grafana, Prometheus, Alertmanager, Thanos Query): Ingress, HTTPRoute, external URL, route prefix.

Each UI's `expose` section (schema `$defs/expose`; Thanos Query's is `prometheus.thanosQueryExpose`,
beside its other parameters) is a deploy-time parameter except `path` and `tls`, which are the stack's: the path prefix reaches compiled configuration (Grafana's
datasource URL, prometheus.yml's self-scrape and `path_prefix`), and the cert-manager annotation
is chosen at compile time.

Prometheus and Alertmanager serve every endpoint under `--web.route-prefix` (their web router is
mounted there, /metrics and /-/reload included). An Ingress has no portable way to strip a prefix,
so the prefix is the route prefix: what reaches the pod already carries it. Every in-cluster
client (probes, the config-reloader, the self-scrape, Grafana, prometheus-adapter, the Thanos
sidecar, Prometheus' alerting) uses it too. Thanos Query is served at the root only
(kmc.check.exposure): its own host keeps its probes and UI as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kmc.components import kube
from kmc.ir import Join, KObject, Param, Switch
from kmc.model import Stack
from kmc.record import record

INGRESS_API = "networking.k8s.io/v1"
HTTP_ROUTE_API = "gateway.networking.k8s.io/v1"
THANOS_QUERY_KEY = "thanosQueryExpose"


@record
class Section:
    """Where one exposable UI's settings are: `section`.`key` of the parameters (`section` also
    holds the `networkPolicy` its pods follow), its name in messages, its switch (None: always on),
    and its Service."""

    section: str
    key: str
    title: str
    switch: str | None
    service: str

    @property
    def path(self) -> str:
        """`grafana.expose`, `prometheus.thanosQueryExpose`."""
        return f"{self.section}.{self.key}"


SECTIONS: tuple[Section, ...] = (
    Section("grafana", "expose", "Grafana", "grafana.enabled", "grafana"),
    Section("prometheus", "expose", "Prometheus", "prometheus.enabled", "prometheus"),
    Section("alertmanager", "expose", "Alertmanager", "alertmanager.enabled", "alertmanager"),
    Section("prometheus", THANOS_QUERY_KEY, "Thanos Query", "prometheus.enabled", "thanos-query"),
)


def sections(stack: Stack) -> tuple[Section, ...]:
    """The exposable UIs the stack compiles: Thanos Query only where `prometheus.thanos.query` is on."""
    return tuple(ui for ui in SECTIONS if ui.key != THANOS_QUERY_KEY or stack.prometheus.thanos_query)


@record
class Exposed:
    """One exposable UI's objects: its parameter section, Service and container port, its switch
    (None: always on), the key of its `expose` settings, and its Service's port where that is fixed
    (None: `service_port`)."""

    section: str
    service: str
    role: str
    container_port: int
    switch: str | None
    key: str = "expose"
    port: int | None = None


def possessive(title: str) -> str:
    """Prometheus' and Grafana's."""
    return f"{title}'" if title.endswith("s") else f"{title}'s"


def settings(stack: Stack, section: str, key: str = "expose") -> dict[str, Any]:
    """The stack's own `expose` values of `section` (path and tls are compile-time)."""
    return dict(stack.parameters[section][key])


def prefix(stack: Stack, section: str, key: str = "expose") -> str:
    """The path prefix of `section`'s UI: "" at the root, else "/grafana" (no trailing slash)."""
    return str(settings(stack, section, key)["path"]).rstrip("/")


def route_args(stack: Stack, section: str) -> list[str]:
    """`--web.route-prefix` of Prometheus or Alertmanager: none at the root."""
    path = prefix(stack, section)
    return [f"--web.route-prefix={path}"] if path else []


def external_url(stack: Stack, section: str) -> Join:
    """https://HOST/PATH/ of `section`'s UI, HOST being the environment's `expose.host`."""
    return Join(("https://", Param(f"{section}.expose.host"), prefix(stack, section) + "/"))


def with_external_url(stack: Stack, section: str, args: list[Any], flag: str) -> Switch | list[Any]:
    """`args`, plus `flag`=the external URL where the environment names a host."""
    if not stack.enabled_somewhere(f"{section}.expose.host"):
        return args
    return Switch(f"{section}.expose.host", on=[*args, Join((flag, *external_url(stack, section).parts))], off=list(args))


def objects(stack: Stack, ui: Exposed) -> Iterator[KObject]:
    """The Ingress, HTTPRoute and their NetworkPolicies of `ui`, each where it is switched on."""
    base = (ui.switch,) if ui.switch else ()
    section = f"{ui.section}.{ui.key}"
    if stack.enabled_somewhere(*base, f"{section}.ingress.enabled"):
        yield KObject(_ingress(stack, ui), ui.service, conditions=(*base, f"{section}.ingress.enabled"))
    if stack.enabled_somewhere(*base, f"{section}.httpRoute.enabled"):
        yield KObject(_http_route(stack, ui), ui.service, conditions=(*base, f"{section}.httpRoute.enabled"))
    policy = f"{ui.section}.networkPolicy.enabled"
    for kind, suffix in (("ingress", "ingress-controller"), ("httpRoute", "gateway")):
        switches = (*base, policy, f"{section}.{kind}.enabled")
        if stack.enabled_somewhere(*switches):
            peers = f"{section}.{kind}.from"
            rules = Switch(peers, on=[{"from": Param(peers), "ports": kube.tcp_ports(ui.container_port)}], off=[])
            body = kube.network_policy(ui.service, stack.namespace, ui.role, rules)
            body["metadata"]["name"] = f"{ui.service}-{suffix}"
            yield KObject(body, ui.service, conditions=switches)


def service_port(stack: Stack, section: str) -> Any:
    """The port of `section`'s Service: a deploy-time parameter, but Prometheus' (the stack's own
    clients reach Prometheus at a URL compiled with it, so it is the same in every environment)."""
    return stack.parameters[section]["service"]["port"] if section == "prometheus" else Param(f"{section}.service.port")


def _port(stack: Stack, ui: Exposed) -> Any:
    return service_port(stack, ui.section) if ui.port is None else ui.port


def _ingress(stack: Stack, ui: Exposed) -> dict[str, Any]:
    section = f"{ui.section}.{ui.key}"
    tls = settings(stack, ui.section, ui.key).get("tls") or {}
    annotations = {f"cert-manager.io/{key.replace('clusterIssuer', 'cluster-issuer')}": tls[key] for key in ("clusterIssuer", "issuer") if key in tls}
    meta = kube.metadata(ui.service, ui.service, ui.role, stack.namespace)
    if annotations:
        meta["annotations"] = annotations
    path = {
        "path": prefix(stack, ui.section, ui.key) or "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": ui.service, "port": {"number": _port(stack, ui)}}},
    }
    spec: dict[str, Any] = {
        "ingressClassName": Param(f"{section}.ingress.className", omit_empty=True),
        "rules": [{"host": Param(f"{section}.host"), "http": {"paths": [path]}}],
    }
    if tls:
        spec["tls"] = [{"hosts": [Param(f"{section}.host")], "secretName": tls["secretName"]}]
    return {"apiVersion": INGRESS_API, "kind": "Ingress", "metadata": meta, "spec": spec}


def _http_route(stack: Stack, ui: Exposed) -> dict[str, Any]:
    section = f"{ui.section}.{ui.key}"
    rule = {
        "matches": [{"path": {"type": "PathPrefix", "value": prefix(stack, ui.section, ui.key) or "/"}}],
        "backendRefs": [{"name": ui.service, "port": _port(stack, ui)}],
    }
    return {
        "apiVersion": HTTP_ROUTE_API,
        "kind": "HTTPRoute",
        "metadata": kube.metadata(ui.service, ui.service, ui.role, stack.namespace),
        "spec": {"parentRefs": Param(f"{section}.httpRoute.parentRefs"), "hostnames": [Param(f"{section}.host")], "rules": [rule]},
    }
