"""The interface every component meets, and the cross-component facts computed once per build."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from kmc.ir import KObject
from kmc.model import Stack
from kmc.record import record

if TYPE_CHECKING:
    from kmc.components.aggregated_api import TlsServer

    class Component(Protocol):
        """A stack component: a module with these attributes (see `components/__init__.py`)."""

        NAME: str

        def compiled(self, stack: Stack) -> bool:
            """Whether the component is part of the output (in the stack or any environment)."""
            ...

        def scrape_targets(self, stack: Stack) -> tuple[ServiceTarget, ...]:
            """The exporters this component asks Prometheus to scrape."""
            ...

        def objects(self, stack: Stack, facts: Facts) -> Iterable[KObject]:
            """The component's Kubernetes objects."""
            ...


# Prometheus is switchable like every component; where some environment switches it off, its
# objects (and the rules and Thanos that belong to it) exist only where it is on.
PROMETHEUS_SWITCH = "prometheus.enabled"


def prometheus_conditions(stack: Stack) -> tuple[str, ...]:
    """The conditions of the objects that belong to Prometheus (none where it is on everywhere)."""
    return () if stack.enabled_everywhere(PROMETHEUS_SWITCH) else (PROMETHEUS_SWITCH,)


@record
class TargetTls:
    """How Prometheus reaches an HTTPS target that authorizes its callers (an aggregated API
    server): with its service account token, verifying the serving certificate for `server_name`
    with the CA in `ca_file` (None: unverified, the server's conscious `insecure` mode)."""

    server_name: str
    ca_file: str | None


@record
class ServiceTarget:
    """An exporter of the stack that Prometheus scrapes through its Service's endpoints."""

    job: str
    namespace: str
    service: str
    port_name: str
    honor_labels: bool = False
    tls: TargetTls | None = None
    # The boolean parameter that switches the exporter on (None: always on): where it is off, so
    # is the job.
    switch: str | None = None
    metrics_path: str = "/metrics"  # under the program's route prefix, if it has one


def api_server_target(name: str, namespace: str, ca_file: str | None, switch: str) -> ServiceTarget:
    """An aggregated API server's own metrics: over HTTPS with Prometheus' token (its ClusterRole
    may `get /metrics`, which the server asks kube-apiserver about), the certificate verified for
    the Service's name, as kube-apiserver verifies it."""
    return ServiceTarget(name, namespace, name, "https", tls=TargetTls(f"{name}.{namespace}.svc", ca_file), switch=switch)


@record
class Facts:
    """What components need to know about each other, computed once from the stack."""

    prometheus_url: str
    service_targets: tuple[ServiceTarget, ...]
    # The labels that select the Prometheus pods: exporters' NetworkPolicies admit these.
    prometheus_pods: Mapping[str, str]
    # The stack's aggregated API servers (metrics-server, prometheus-adapter).
    api_servers: tuple[TlsServer, ...] = ()
    # Pod selectors of the stack's components that query Prometheus: its NetworkPolicy admits them.
    prometheus_clients: tuple[Mapping[str, str], ...] = ()
