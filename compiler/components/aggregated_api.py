"""What the aggregated API servers (metrics-server, prometheus-adapter) share: their serving
certificates, APIService objects and the RBAC every extension API server needs."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kmc.components import kube
from kmc.ir import KObject
from kmc.model import ApiServerTls, Stack

if TYPE_CHECKING:
    from kmc.certs import ServingRequest

METRICS_SERVER = "metrics-server"
PROMETHEUS_ADAPTER = "prometheus-adapter"
SERVING_PORT = 10250  # the container port; the Service offers it as 443
CERT_DIR = "/etc/kmc-tls"
KUBE_SYSTEM = "kube-system"


@dataclasses.dataclass(frozen=True)
class TlsServer:
    """One aggregated API server of a stack and where its certificate comes from."""

    name: str  # the component's name: its Service, Deployment, and state subdirectory
    namespace: str
    cluster_domain: str
    tls: ApiServerTls
    where: tuple[str, ...]  # the stack path of its `tls` block, for diagnostics
    stack_dir: Path
    state_dir: Path

    def file(self, written: str) -> Path:
        """A path as the stack writes it, relative to the stack file."""
        return self.stack_dir / written

    def request(self) -> ServingRequest:
        """What kmc.certs makes or reuses for modes `generate` and `ca`."""
        from kmc.certs import ServingRequest

        ca = self.tls.mode == "ca"
        return ServingRequest(
            server=self.name,
            service=self.name,
            namespace=self.namespace,
            cluster_domain=self.cluster_domain,
            key_type=self.tls.key_type,
            ca_cert=self.file(self.tls.ca_cert) if ca and self.tls.ca_cert else None,
            ca_key=self.file(self.tls.ca_key) if ca and self.tls.ca_key else None,
        )

    @property
    def secret_name(self) -> str:
        """The `kubernetes.io/tls` Secret the server reads its certificate from."""
        return self.tls.secret_name or f"{self.name}-tls"


def tls_servers(stack: Stack, stack_dir: Path) -> tuple[TlsServer, ...]:
    """The stack's aggregated API servers, in name order."""
    state = stack_dir / stack.certificates.state_dir
    found = []
    if stack.enabled_somewhere("metricsServer.enabled"):
        found.append(TlsServer(METRICS_SERVER, stack.namespace, stack.cluster.domain, stack.metrics_server.tls, ("metricsServer", "tls"), stack_dir, state))
    if stack.enabled_somewhere("prometheusAdapter.enabled") and adapter_serves_anything(stack):
        adapter = stack.prometheus_adapter
        found.append(TlsServer(PROMETHEUS_ADAPTER, stack.namespace, stack.cluster.domain, adapter.tls, ("prometheusAdapter", "tls"), stack_dir, state))
    return tuple(sorted(found, key=lambda server: server.name))


def adapter_serves_anything(stack: Stack) -> bool:
    adapter = stack.prometheus_adapter
    return bool(adapter.custom or adapter.external or adapter.resource_metrics or adapter.raw_custom or adapter.raw_external)
