"""The cluster settings kmc's output needs on each platform, and how to get there.

What must be true of the cluster itself, beyond the objects kmc.components.prerequisites lists:
said only for a named `cluster.platform` (`generic` assumes nothing about the cluster), each
with the steps on that platform as shell lines (`#` lines say what a command cannot). The
upstream facts (the sources are named in kmc.platforms and docs/platforms.md):

- A kubelet's serving certificate is self-signed unless `serverTLSBootstrap: true` and its CSR
  (signer kubernetes.io/kubelet-serving) is approved; kubeadm and kind set neither, and
  kube-controller-manager approves no serving CSR by itself (kubeadm's "Certificate Management"
  page, "Kubelet serving certificates"). EKS's node images (amazon-eks-ami v20260724,
  nodeadm/internal/kubelet/config.go) set `serverTLSBootstrap: true`. k3s signs every kubelet's
  serving certificate with its server CA (pkg/server/handlers `ServingKubeletCert`), the CA
  kube-controller-manager puts in every service account (`--root-ca-file`): nothing to do there.
- kubeadm starts kube-controller-manager and kube-scheduler with `--bind-address=127.0.0.1` and
  no `--tls-cert-file`, and kube-proxy's `metricsBindAddress` defaults to 127.0.0.1:10249.
- k3s deploys its own metrics-server (`--disable=metrics-server` removes it), which holds
  APIService v1beta1.metrics.k8s.io.
"""

from __future__ import annotations

from kmc.platforms import COMPONENTS, KUBEADM_BASED

KUBELET_CERTS = "kubelet serving certificates signed by the cluster CA"
K3S_METRICS_SERVER = "no metrics-server of k3s's own (k3s server --disable=metrics-server)"
CHECK_KUBELET_CERTS = "kubectl get csr --field-selector spec.signerName=kubernetes.io/kubelet-serving   # one approved, issued request per node"

_KUBELET_CERTS_HOW = {
    "kubeadm": (
        "# serverTLSBootstrap: true in the KubeletConfiguration: for kubeadm init/join --config, or in kube-system's",
        "# ConfigMap kubelet-config and each node's /var/lib/kubelet/config.yaml, then: systemctl restart kubelet",
        "kubectl get csr --field-selector spec.signerName=kubernetes.io/kubelet-serving",
        "kubectl certificate approve CSR_NAME   # each node's, once its requestor and addresses are checked",
    ),
    "kind": (
        "# create the cluster with a KubeletConfiguration patch: kubeadmConfigPatches: [kind: KubeletConfiguration, serverTLSBootstrap: true]",
        "kubectl get csr --field-selector spec.signerName=kubernetes.io/kubelet-serving",
        "kubectl certificate approve CSR_NAME   # each node's",
    ),
    "eks": ("# EKS node images set serverTLSBootstrap: true and EKS signs the requests; a custom image must set it too", CHECK_KUBELET_CERTS),
    "gke": ("# GKE manages the kubelets: check that each node's serving certificate was issued by the cluster CA", CHECK_KUBELET_CERTS),
    "aks": (
        "# AKS node pools with kubelet serving certificate rotation carry kubernetes.azure.com/kubelet-serving-ca=cluster",
        "kubectl get nodes -L kubernetes.azure.com/kubelet-serving-ca",
    ),
}


def kubelet_certs_how(platform: str) -> tuple[str, ...]:
    """How the kubelets get serving certificates the cluster CA signs on `platform`."""
    return _KUBELET_CERTS_HOW[platform]


def bound(field: str) -> str:
    """The setting that a control-plane component of `field` (a scrape.kubernetes key) serves its metrics beyond 127.0.0.1."""
    return f"{COMPONENTS[field]} metrics on the node's address"


def signed(field: str) -> str:
    """The setting that `field`'s component serves a certificate the cluster CA signed."""
    return f"{COMPONENTS[field]} serving certificate signed by the cluster CA"


def bound_how(field: str, platform: str) -> tuple[str, ...]:
    """How `field`'s component comes to serve its metrics on the node's address on `platform`."""
    component = COMPONENTS[field]
    if field == "kubeProxy":
        if platform in KUBEADM_BASED:
            return (
                "# metricsBindAddress: 0.0.0.0:10249 in the KubeProxyConfiguration (kubeadm init --config), or on a running cluster:",
                "kubectl -n kube-system edit configmap kube-proxy",
                "kubectl -n kube-system rollout restart daemonset kube-proxy",
            )
        return ("# metricsBindAddress: 0.0.0.0:10249 in kube-proxy's configuration; its pods then listen on the node's address",)
    return (
        f"# {field}.extraArgs bind-address=0.0.0.0 in kubeadm's ClusterConfiguration, or on each control-plane node",
        f"# --bind-address=0.0.0.0 in /etc/kubernetes/manifests/{component}.yaml (the kubelet restarts it)",
    )


def signed_how(field: str) -> tuple[str, ...]:
    """How a kubeadm control-plane component of `field` gets a serving certificate the cluster CA signed."""
    component = COMPONENTS[field]
    return (
        f"# kubeadm gives {component} a self-signed serving certificate: pass --tls-cert-file and --tls-private-key-file",
        f"# of one the cluster CA signed for the node's address, or set scrape.kubernetes.{field}.insecureSkipVerify: true",
    )


K3S_METRICS_SERVER_HOW = (
    "# on every k3s server: disable: [metrics-server] in /etc/rancher/k3s/config.yaml (or --disable=metrics-server), then restart k3s",
    "kubectl -n kube-system get deployment metrics-server   # NotFound once it is gone",
)
