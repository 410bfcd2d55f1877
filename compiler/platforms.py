"""What `cluster.platform` changes: the defaults that suit each kind of cluster.

A platform changes defaults and nothing else. kmc.model fills them where the stack leaves a key
out, before the schema's own defaults, so any key the stack writes wins over its platform.
`generic` changes nothing: it is kmc without a platform. Each default says why; `kmc explain KEY`
prints it and docs/platforms.md gives the whole story. The upstream facts behind them:

- kubeadm (Kubernetes v1.33, cmd/kubeadm/app/phases/controlplane/manifests.go) starts
  kube-controller-manager and kube-scheduler with `--bind-address=127.0.0.1` and no
  `--tls-cert-file` (so a self-signed serving certificate); kube-proxy's `metricsBindAddress`
  defaults to 127.0.0.1:10249 (pkg/proxy/apis/config/v1alpha1/defaults.go) and kubeadm leaves it;
  kubeadm documents joining Windows worker nodes.
- kind (v0.32.0, pkg/cluster/internal/kubeadm/config.go) is kubeadm with those defaults (it
  sets `bind-address` only for IPv6 clusters); its nodes are Linux containers.
- k3s runs kube-controller-manager, kube-scheduler, kube-proxy and embedded etcd inside the k3s
  process: there is no pod in kube-system for kmc's jobs to find. Its CoreDNS carries
  `k8s-app: kube-dns` and serves metrics on 9153 (k3s manifests/coredns.yaml), as kmc expects.
- EKS, GKE and AKS run the control plane outside the cluster: no controller-manager, scheduler
  or etcd pods. All three run Windows node pools next to Linux ones; kmc's images are
  Linux-only, and every kubelet labels its node `kubernetes.io/os` (upstream metrics-server
  v0.8.1 selects `kubernetes.io/os: linux` for the same reason, manifests/base/deployment.yaml).
- GKE's cluster DNS is kube-dns (GKE's "About kube-dns" page), labelled `k8s-app: kube-dns` like
  CoreDNS but without CoreDNS's metrics port 9153.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from kmc.record import record

GENERIC = "generic"
PLATFORMS = (GENERIC, "kubeadm", "kind", "k3s", "eks", "gke", "aks")
MANAGED = ("eks", "gke", "aks")  # the control plane runs outside the cluster
KUBEADM_BASED = ("kubeadm", "kind")

# The sections whose pods take a nodeSelector (each a deploy-time parameter), but node-exporter:
# a DaemonSet on every node, it selects Linux nodes by default on every platform.
POD_SECTIONS = ("alertmanager", "grafana", "kubeStateMetrics", "metricsServer", "prometheus", "prometheusAdapter")
LINUX = MappingProxyType({"kubernetes.io/os": "linux"})
OFF = MappingProxyType({"enabled": False})


@record
class PlatformDefault:
    """A default a platform sets: the stack key (dotted), its value, and why."""

    path: str
    value: Mapping[str, Any]
    why: str

    def fresh(self) -> dict[str, Any]:
        """The value as a new plain mapping, the stack's data to be."""
        return dict(self.value)


# The components of kmc's scrape.kubernetes jobs, as their binaries are called.
COMPONENTS = MappingProxyType({"controllerManager": "kube-controller-manager", "scheduler": "kube-scheduler", "kubeProxy": "kube-proxy", "etcd": "etcd"})


def _jobs(names: tuple[str, ...], why: str) -> tuple[PlatformDefault, ...]:
    """The jobs `names` switched off, each for `why` with its component's name."""
    return tuple(PlatformDefault(f"scrape.kubernetes.{name}", OFF, why.format(component=COMPONENTS[name])) for name in names)


def _linux(why: str) -> tuple[PlatformDefault, ...]:
    return tuple(PlatformDefault(f"{section}.nodeSelector", LINUX, why) for section in POD_SECTIONS)


def _loopback(binds: str) -> tuple[PlatformDefault, ...]:
    """The jobs of the components a kubeadm control plane keeps on 127.0.0.1 (`binds`: who, and how)."""
    return (
        *_jobs(("controllerManager", "scheduler"), binds + " {component} to 127.0.0.1, with a self-signed serving certificate"),
        PlatformDefault("scrape.kubernetes.kubeProxy", OFF, "kube-proxy serves its metrics on 127.0.0.1:10249 unless metricsBindAddress says otherwise"),
    )


_MANAGED_JOBS = (
    *_jobs(("controllerManager", "scheduler", "etcd"), "the provider runs the control plane outside the cluster: there is no {component} pod to scrape"),
    PlatformDefault("scrape.kubernetes.kubeProxy", OFF, "kube-proxy serves its metrics on 127.0.0.1:10249 unless its configuration says otherwise"),
)

PRESETS: Mapping[str, tuple[PlatformDefault, ...]] = {
    GENERIC: (),
    "kubeadm": (*_loopback("kubeadm binds"), *_linux("Windows worker nodes can join a kubeadm cluster; kmc's images are Linux-only")),
    "kind": _loopback("kind keeps kubeadm's defaults, which bind"),
    "k3s": _jobs(("controllerManager", "scheduler", "kubeProxy", "etcd"), "k3s runs {component} inside the k3s process: there is no pod to scrape"),
    "eks": (*_MANAGED_JOBS, *_linux("EKS runs Windows node groups beside Linux ones; kmc's images are Linux-only")),
    "gke": (
        *_MANAGED_JOBS,
        PlatformDefault("scrape.kubernetes.coredns", OFF, "GKE's cluster DNS is kube-dns, which has no CoreDNS metrics port 9153"),
        *_linux("GKE runs Windows node pools beside Linux ones; kmc's images are Linux-only"),
    ),
    "aks": (*_MANAGED_JOBS, *_linux("AKS runs Windows node pools beside Linux ones; kmc's images are Linux-only")),
}


def preset(platform: str) -> tuple[PlatformDefault, ...]:
    """The defaults `platform` sets (none for `generic`)."""
    return PRESETS[platform]


def defaults_of(path: str) -> list[tuple[str, PlatformDefault]]:
    """Each platform's default of the stack key `path` (dotted), in PLATFORMS order."""
    return [(platform, found) for platform in PLATFORMS for found in PRESETS[platform] if found.path == path]
