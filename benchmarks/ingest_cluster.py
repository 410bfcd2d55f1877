"""The fixture cluster of the ingest benchmark: N nodes and M workload pods, drawn from a seed.

Each node has its own loopback address 127.0.1.X. The first nodes (1 in a cluster of fewer than 5
nodes, else 3) are control-plane nodes: they run the host-network static pods of kubeadm
(kube-apiserver, etcd, kube-scheduler, kube-controller-manager) at the node's address. Two CoreDNS
pods, kmc's node-exporter on every node (host network) and its kube-state-metrics run in the
cluster, and kmc's own Alertmanager, Grafana, Thanos Query, metrics-server and prometheus-adapter
(each at its own 127.0.4.X); the workload pods belong to Deployments (through ReplicaSets), StatefulSets and
DaemonSets spread over a few namespaces, each with one to three containers.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

KUBELET_PORT = 10250
NODE_EXPORTER_PORT = 9100
APISERVER_PORT = 6443
ETCD_PORT = 2379
SCHEDULER_PORT = 10259
CONTROLLER_MANAGER_PORT = 10257
COREDNS_PORT = 9153
KSM_PORT = 8080
KSM_TELEMETRY_PORT = 8081
KSM_IP = "127.0.3.1"
# kmc's own components: (workload, pod name, loopback address) and the ports of their Services
OWN = (
    ("alertmanager", "alertmanager-0", "127.0.4.1"),
    ("grafana", "grafana-7c9f8d6b5-k2x4p", "127.0.4.2"),
    ("thanos-query", "thanos-query-5f7d9c8b6-m3n5q", "127.0.4.3"),
    ("metrics-server", "metrics-server-6b8c7d9f5-p4r6s", "127.0.4.4"),
    ("prometheus-adapter", "prometheus-adapter-8d9e7f6c5-t7v9w", "127.0.4.5"),
)
OWN_PORTS = {"web": 9093, "reloader-web": 8080, "http": 3000, "https": 10250}
NAMESPACES = ("shop", "payments", "search", "data", "web", "batch", "ml", "auth")
CONTAINER_NAMES = ("app", "sidecar", "proxy")
IMAGES = {"app": "registry.example.com/{workload}:1.4.2", "sidecar": "registry.example.com/log-shipper:2.1.0", "proxy": "registry.example.com/envoy:1.31.0"}
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    ip: str
    control_plane: bool


@dataclasses.dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    node: Node
    ip: str
    uid: str
    owner_kind: str  # ReplicaSet, StatefulSet, DaemonSet
    owner_name: str
    workload: str  # the Deployment's name for a ReplicaSet's pod, else the owner
    containers: tuple[tuple[str, str], ...]  # (name, image)
    labels: tuple[tuple[str, str], ...] = ()
    qos: str = "burstable"


@dataclasses.dataclass(frozen=True)
class Cluster:
    nodes: tuple[Node, ...]
    pods: tuple[Pod, ...]  # every pod: system, kmc's and the workload

    @property
    def control_plane(self) -> tuple[Node, ...]:
        return tuple(node for node in self.nodes if node.control_plane)

    def on(self, node: Node) -> Iterator[Pod]:
        return (pod for pod in self.pods if pod.node == node)

    def workloads(self) -> dict[tuple[str, str, str], list[Pod]]:
        """Pods by (namespace, owner kind, owner name)."""
        found: dict[tuple[str, str, str], list[Pod]] = {}
        for pod in self.pods:
            found.setdefault((pod.namespace, pod.owner_kind, pod.owner_name), []).append(pod)
        return found


def cluster(nodes: int, pods: int, seed: int = 1) -> Cluster:
    """A cluster of `nodes` nodes and `pods` workload pods, the same for the same arguments."""
    rng = random.Random(seed)
    control = 1 if nodes < 5 else 3
    node_list = tuple(Node(f"node-{index + 1:02d}", f"127.0.1.{index + 1}", index < control) for index in range(nodes))
    found: list[Pod] = []
    counter = iter(range(1, 1 << 30))

    def uid() -> str:
        return f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-8{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"

    def add(namespace: str, name: str, node: Node, ip: str, owner: tuple[str, str, str], containers: tuple[tuple[str, str], ...], **labels: str) -> None:
        found.append(Pod(namespace, name, node, ip, uid(), owner[0], owner[1], owner[2], containers, tuple(sorted(labels.items()))))

    for node in node_list:
        if node.control_plane:
            for component in ("kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager"):
                add(
                    "kube-system",
                    f"{component}-{node.name}",
                    node,
                    node.ip,
                    ("Node", node.name, component),
                    ((component, f"registry.k8s.io/{component}:v1.33.0"),),
                    component=component,
                    tier="control-plane",
                )
        add(
            "kube-system",
            f"kube-proxy-{rng.getrandbits(20):05x}",
            node,
            node.ip,
            ("DaemonSet", "kube-proxy", "kube-proxy"),
            (("kube-proxy", "registry.k8s.io/kube-proxy:v1.33.0"),),
            **{"k8s-app": "kube-proxy"},
        )
        add(
            "monitoring",
            f"node-exporter-{rng.getrandbits(20):05x}",
            node,
            node.ip,
            ("DaemonSet", "node-exporter", "node-exporter"),
            (("node-exporter", "quay.io/prometheus/node-exporter:v1.9.1"),),
        )
    for index in range(2):
        add(
            "kube-system",
            f"coredns-7db6d8ff4d-{rng.getrandbits(20):05x}",
            node_list[index % nodes],
            f"127.0.2.{index + 1}",
            ("ReplicaSet", "coredns-7db6d8ff4d", "coredns"),
            (("coredns", "registry.k8s.io/coredns/coredns:v1.12.0"),),
            **{"k8s-app": "kube-dns"},
        )
    for workload, name, ip in OWN:
        kind = "StatefulSet" if workload == "alertmanager" else "ReplicaSet"
        owner = workload if kind == "StatefulSet" else name.rsplit("-", 1)[0]
        add("monitoring", name, node_list[-1], ip, (kind, owner, workload), ((workload, f"registry.example.com/{workload}:latest"),))
    add(
        "monitoring",
        "kube-state-metrics-6d4c8b9f7-abcde",
        node_list[-1],
        KSM_IP,
        ("ReplicaSet", "kube-state-metrics-6d4c8b9f7", "kube-state-metrics"),
        (("kube-state-metrics", "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.15.0"),),
    )

    made = 0
    while made < pods:
        namespace = NAMESPACES[rng.randrange(len(NAMESPACES))]
        kind = rng.choices(("Deployment", "StatefulSet"), weights=(5, 1))[0]
        workload = f"{rng.choice(('api', 'worker', 'cache', 'front', 'queue', 'db', 'indexer'))}-{next(counter)}"
        replicas = min(rng.randint(1, 6), pods - made)
        names = CONTAINER_NAMES[: rng.choices((1, 2, 3), weights=(5, 3, 1))[0]]
        containers = tuple((name, IMAGES[name].format(workload=workload)) for name in names)
        hash_ = f"{rng.getrandbits(36):09x}"[:9]
        for replica in range(replicas):
            node = node_list[rng.randrange(nodes)]
            ip = f"10.244.{rng.randrange(256)}.{rng.randrange(1, 255)}"  # never scraped, so need not be loopback
            if kind == "Deployment":
                add(
                    namespace,
                    f"{workload}-{hash_}-{rng.getrandbits(20):05x}",
                    node,
                    ip,
                    ("ReplicaSet", f"{workload}-{hash_}", workload),
                    containers,
                    app=workload,
                )
            else:
                add(namespace, f"{workload}-{replica}", node, ip, ("StatefulSet", workload, workload), containers, app=workload)
        made += replicas
    return Cluster(node_list, tuple(found))
