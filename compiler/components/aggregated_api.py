"""What the aggregated API servers (metrics-server, prometheus-adapter) share: their serving
certificates, APIService objects and the RBAC every extension API server needs."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kmc.components import adapter_rules, kube
from kmc.ir import KObject
from kmc.model import ApiServerTls, Stack
from kmc.record import record

if TYPE_CHECKING:
    from kmc.tls.request import ServingRequest

METRICS_SERVER = "metrics-server"
PROMETHEUS_ADAPTER = "prometheus-adapter"
SERVING_PORT = 10250  # the container port; the Service offers it as 443
CERT_DIR = "/etc/kmc-tls"
# Where the Prometheus pods find the CA of each server they scrape (`<server>/ca.crt`).
SCRAPE_CA_DIR = "/etc/prometheus-api-ca"
SCRAPE_CA_NAME = "prometheus-api-ca"  # the ConfigMap of the CAs kmc knows at compile time
SERVING_KEYS = ("tls.crt", "tls.key")  # what the server reads of the kubernetes.io/tls Secret kmc's certificate goes into
KUBE_SYSTEM = "kube-system"
# The deploy-time switch of each server: where it is off, its objects (and its Secret) are not needed.
SWITCHES = {METRICS_SERVER: "metricsServer.enabled", PROMETHEUS_ADAPTER: "prometheusAdapter.enabled"}


@record
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
        """What kmc.tls.certs makes or reuses for modes `generate` and `ca`."""
        from kmc.tls.request import ServingRequest

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
        """The Secret the server reads its certificate from (a `kubernetes.io/tls` one unless mode `secret` names other keys)."""
        return self.tls.secret_name or f"{self.name}-tls"

    @property
    def switch(self) -> str:
        return SWITCHES[self.name]


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
    return bool(adapter_rules.serves(stack.prometheus_adapter, keda=stack.uses_keda))


# -- self-monitoring: Prometheus scrapes each server's /metrics as an authorized caller --------


def scrape_ca_file(name: str, tls: ApiServerTls) -> str | None:
    """Where the Prometheus pods find the CA of server `name` (None: its mode is `insecure`)."""
    return None if tls.mode == "insecure" else f"{SCRAPE_CA_DIR}/{name}/ca.crt"


def scrape_ca(stack: Stack, servers: Iterable[TlsServer]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The objects and the projected volume that give the Prometheus pods each server's CA.

    The CA kmc knows (modes generate, ca, secret) is compiled into a ConfigMap; cert-manager's is
    read from the Certificate's Secret (`ca.crt` only, never the key). That Secret exists only
    where the server is switched on, hence `optional`."""
    known: dict[str, str] = {}
    sources: list[dict[str, Any]] = []
    for server in servers:
        path = f"{server.name}/ca.crt"
        if server.tls.mode == "cert-manager":
            sources.append({"secret": {"items": [{"key": "ca.crt", "path": path}], "name": server.secret_name, "optional": True}})
        elif server.tls.mode != "insecure" and server.name in stack.tls:  # absent only when validating
            bundle = stack.tls[server.name].ca_bundle
            assert bundle is not None
            known[f"{server.name}.crt"] = bundle
            sources.append({"configMap": {"items": [{"key": f"{server.name}.crt", "path": path}], "name": SCRAPE_CA_NAME}})
    bodies = []
    if known:
        metadata = kube.metadata(SCRAPE_CA_NAME, "prometheus", "server", stack.namespace)
        bodies.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": known})
    volume = {"name": "api-ca", "projected": {"sources": sources}} if sources else None
    return bodies, volume


# -- objects every aggregated API server needs -------------------------------------------------


def api_service(server: TlsServer, stack: Stack, group: str, version: str, version_priority: int, switch: str) -> KObject:
    """The APIService routing `version.group` to the server, with the CA that verifies it."""
    spec: dict[str, Any] = {
        "group": group,
        "groupPriorityMinimum": 100,
        "service": {"name": server.name, "namespace": server.namespace, "port": 443},
        "version": version,
        "versionPriority": version_priority,
    }
    annotations: dict[str, str] = {}
    mode = server.tls.mode
    if mode == "insecure":
        spec["insecureSkipTLSVerify"] = True
    elif mode == "cert-manager":
        # cert-manager's cainjector writes the caBundle from the Certificate's Secret.
        annotations["cert-manager.io/inject-ca-from"] = f"{server.namespace}/{server.name}"
    elif server.name in stack.tls:  # absent only when validating, which emits nothing
        material = stack.tls[server.name]
        assert material.ca_bundle is not None
        spec["caBundle"] = _base64(material.ca_bundle)
    extra: dict[str, Any] = {"annotations": annotations} if annotations else {}
    body = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": kube.metadata(f"{version}.{group}", server.name, "api-server", **extra),
        "spec": spec,
    }
    return KObject(body, server.name, conditions=(switch,))


def delegation_rbac(server: TlsServer, switch: str) -> list[KObject]:
    """What every extension API server needs to authenticate and authorize its callers:
    `system:auth-delegator` (TokenReview, SubjectAccessReview) and the
    `extension-apiserver-authentication` ConfigMap in kube-system."""
    account = [{"kind": "ServiceAccount", "name": server.name, "namespace": server.namespace}]
    delegator = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": kube.metadata(kube.cluster_name(server.namespace, f"{server.name}-auth-delegator"), server.name, "api-server"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
        "subjects": account,
    }
    reader = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": kube.metadata(kube.cluster_name(server.namespace, f"{server.name}-auth-reader"), server.name, "api-server", KUBE_SYSTEM),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "extension-apiserver-authentication-reader"},
        "subjects": account,
    }
    return [KObject(delegator, server.name, conditions=(switch,)), KObject(reader, server.name, conditions=(switch,))]


def resource_metrics_reader(server: TlsServer, switch: str) -> KObject:
    """Lets every user who may view, edit or administer a namespace read its pods' metrics (`kubectl top`)."""
    aggregate = {f"rbac.authorization.k8s.io/aggregate-to-{role}": "true" for role in ("admin", "edit", "view")}
    meta = kube.metadata(kube.cluster_name(server.namespace, "aggregated-metrics-reader"), server.name, "api-server")
    meta["labels"] = {**meta["labels"], **aggregate}
    body = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta,
        "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["nodes", "pods"], "verbs": ["get", "list", "watch"]}],
    }
    return KObject(body, server.name, conditions=(switch,))


def serving_objects(server: TlsServer, stack: Stack, switch: str) -> list[KObject]:
    """The Secret or cert-manager objects that give the server its certificate."""
    mode = server.tls.mode
    if mode == "cert-manager":
        return [KObject(body, server.name, conditions=(switch,)) for body in _cert_manager(server)]
    material = stack.tls.get(server.name)
    # Without the key (a clone that has the certificates only) no Secret: a build whose output
    # would hold it stops before (kmc.pipeline), and a Helm chart never holds it.
    if mode in ("generate", "ca") and stack.certificates.keys_in_output and material is not None and material.key is not None:
        assert material.cert is not None and material.ca_bundle is not None
        return [KObject(serving_secret(server, material.ca_bundle, material.cert, material.key), server.name, conditions=(switch,), private=True)]
    return []


def serving_secret(server: TlsServer, ca_bundle: str, cert: str, key: str) -> dict[str, Any]:
    """The `kubernetes.io/tls` Secret of a certificate kmc made: what the output holds with
    `certificates.keysInOutput`, and what `kmc certs secrets` prints."""
    data = {"ca.crt": ca_bundle, SERVING_KEYS[0]: cert, SERVING_KEYS[1]: key}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": kube.metadata(server.secret_name, server.name, "api-server", server.namespace),
        "type": "kubernetes.io/tls",
        "data": {name: _base64(text) for name, text in data.items()},
    }


def _cert_manager(server: TlsServer) -> list[dict[str, Any]]:
    tls, ns, name = server.tls, server.namespace, server.name
    api = "cert-manager.io/v1"
    algorithm, size = ("ECDSA", 256) if tls.key_type == "ecdsa-p256" else ("RSA", int(tls.key_type.split("-")[1]))
    key = {"algorithm": algorithm, "rotationPolicy": "Always", "size": size}
    bodies: list[dict[str, Any]] = []
    if tls.issuer_name is None:
        # A CA of the stack's own, made by cert-manager: self-signed root → CA issuer → serving cert.
        root, issuer = f"{name}-selfsigned", f"{name}-ca"
        bodies += [
            {"apiVersion": api, "kind": "Issuer", "metadata": kube.metadata(root, name, "api-server", ns), "spec": {"selfSigned": {}}},
            {
                "apiVersion": api,
                "kind": "Certificate",
                "metadata": kube.metadata(issuer, name, "api-server", ns),
                "spec": {
                    "commonName": f"{name}-ca",
                    "duration": "87600h",
                    "isCA": True,
                    "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": root},
                    "privateKey": key,
                    "secretName": f"{name}-ca",
                },
            },
            {"apiVersion": api, "kind": "Issuer", "metadata": kube.metadata(issuer, name, "api-server", ns), "spec": {"ca": {"secretName": f"{name}-ca"}}},
        ]
        issuer_ref: dict[str, Any] = {"group": "cert-manager.io", "kind": "Issuer", "name": issuer}
    else:
        issuer_ref = {"group": "cert-manager.io", "kind": tls.issuer_kind, "name": tls.issuer_name}
    bodies.append(
        {
            "apiVersion": api,
            "kind": "Certificate",
            "metadata": kube.metadata(name, name, "api-server", ns),
            "spec": {
                "dnsNames": dns_names(server),
                "duration": "8760h",
                "issuerRef": issuer_ref,
                "privateKey": key,
                "renewBefore": "720h",
                "secretName": server.secret_name,
                "usages": ["digital signature", "key encipherment", "server auth"],
            },
        }
    )
    return bodies


def dns_names(server: TlsServer) -> list[str]:
    svc, ns = server.name, server.namespace
    return [svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.{server.cluster_domain}"]


def tls_mount(server: TlsServer) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """The server's TLS flags, volume mounts and volumes. Mode `insecure`: the server makes a
    self-signed certificate in its writable cert dir at start."""
    mounts: list[dict[str, Any]] = [{"mountPath": "/tmp", "name": "tmp"}]
    volumes: list[dict[str, Any]] = [{"emptyDir": {}, "name": "tmp"}]
    args = ["--cert-dir=/tmp"]
    if server.tls.mode != "insecure":
        # Each key of the Secret becomes the file of its name (mode `secret`: the keys your Secret has).
        cert, key = server.tls.serving_keys
        args += [f"--tls-cert-file={CERT_DIR}/{cert}", f"--tls-private-key-file={CERT_DIR}/{key}"]
        mounts.append({"mountPath": CERT_DIR, "name": "tls", "readOnly": True})
        volumes.append({"name": "tls", "secret": {"items": [{"key": name, "path": name} for name in (cert, key)], "secretName": server.secret_name}})
    return args, mounts, volumes


def probes(failure_threshold: int, initial_delay: int = 0) -> dict[str, Any]:
    """Readiness and liveness over HTTPS on the serving port, as the generic API server offers them."""

    def probe(path: str) -> dict[str, Any]:
        return {"failureThreshold": failure_threshold, "httpGet": {"path": path, "port": "https", "scheme": "HTTPS"}, "periodSeconds": 10}

    ready = probe("/readyz")
    if initial_delay:
        ready["initialDelaySeconds"] = initial_delay
    return {"readinessProbe": ready, "livenessProbe": probe("/livez")}


def hardened_pod(stack: Stack, server: TlsServer, section: str, container: dict[str, Any], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    """The pod template of an API server: restricted security, its own service account; its pods
    roll when a certificate kmc knows of changes."""
    pod = kube.pod_template(server.name, "api-server", section, container, token=True, volumes=volumes)
    material = stack.tls.get(server.name)
    if material is not None:
        digest = hashlib.sha256(f"{material.ca_bundle}{material.cert}".encode()).hexdigest()
        pod["metadata"]["annotations"] = {"checksum/tls": digest}
    return pod


def objects_of(bodies: Iterable[dict[str, Any]], component: str, switch: str) -> list[KObject]:
    return [KObject(body, component, conditions=(switch,)) for body in bodies]


def _base64(text: str) -> str:
    """`text` in base64, as a Secret's data and a caBundle hold it."""
    return base64.b64encode(text.encode()).decode("ascii")
