"""A kube-state-metrics payload for the fixture cluster (our own generator).

Family names and label sets follow kube-state-metrics v2.15's documentation:
`docs/metrics/workload/pod-metrics.md`, `deployment-metrics.md`, `replicaset-metrics.md`,
`statefulset-metrics.md`, `daemonset-metrics.md`, `docs/metrics/cluster/node-metrics.md`,
`namespace-metrics.md` and `docs/metrics/service/service-metrics.md`: the families kube-state-metrics
exposes by default (no `*_labels`/`*_annotations` allow-list), one series per object and state.
"""

from __future__ import annotations

from collections.abc import Mapping

from ingest_cluster import NAMESPACES, Cluster
from ingest_exposition import Family, Payload

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
CONDITIONS = ("true", "false", "unknown")
NODE_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
WAITING = (
    "ContainerCreating",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "ErrImagePull",
    "ImagePullBackOff",
    "CreateContainerError",
    "InvalidImageName",
)
TERMINATED = ("OOMKilled", "Completed", "Error", "ContainerCannotRun", "DeadlineExceeded", "Evicted")


class _Families(dict[str, Family]):
    def at(self, name: str, kind: str = "gauge") -> Family:
        if name not in self:
            self[name] = Family(name, "counter" if kind == "counter" else "gauge", f"kube-state-metrics family {name}.")
        return self[name]

    def gauge(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self.at(name).gauge(labels, value)


def kube_state_metrics(cluster: Cluster) -> Payload:
    f = _Families()
    for node in cluster.nodes:
        n = {"node": node.name}
        f.gauge(
            "kube_node_info",
            {
                **n,
                "container_runtime_version": "containerd://1.7.24",
                "internal_ip": node.ip,
                "kernel_version": "6.1.0-31-cloud-amd64",
                "kubelet_version": "v1.33.0",
                "kubeproxy_version": "deprecated",
                "os_image": "Debian GNU/Linux 12 (bookworm)",
                "pod_cidr": "10.244.0.0/24",
                "provider_id": f"aws:///eu-west-1a/i-{node.name}",
                "system_uuid": f"{node.name}-uuid",
            },
            1,
        )
        f.gauge("kube_node_created", n, 1.7e9)
        f.gauge("kube_node_spec_unschedulable", n, 0)
        for condition in NODE_CONDITIONS:
            for status in CONDITIONS:
                f.gauge("kube_node_status_condition", {**n, "condition": condition, "status": status}, int((status == "true") == (condition == "Ready")))
        for resource, unit, value in (("cpu", "core", 8), ("memory", "byte", 32 * 2**30), ("pods", "integer", 110), ("ephemeral_storage", "byte", 100 * 2**30)):
            f.gauge("kube_node_status_capacity", {**n, "resource": resource, "unit": unit}, value)
            f.gauge("kube_node_status_allocatable", {**n, "resource": resource, "unit": unit}, value * 0.95)
        if node.control_plane:
            f.gauge("kube_node_spec_taint", {**n, "effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane", "value": ""}, 1)
    for namespace in ("default", "kube-system", "monitoring", *NAMESPACES):
        f.gauge("kube_namespace_created", {"namespace": namespace}, 1.7e9)
        for phase in ("Active", "Terminating"):
            f.gauge("kube_namespace_status_phase", {"namespace": namespace, "phase": phase}, int(phase == "Active"))
    for pod in cluster.pods:
        p = {"namespace": pod.namespace, "pod": pod.name, "uid": pod.uid}
        f.gauge(
            "kube_pod_info",
            {
                **p,
                "created_by_kind": pod.owner_kind,
                "created_by_name": pod.owner_name,
                "host_ip": pod.node.ip,
                "host_network": str(pod.ip == pod.node.ip).lower(),
                "node": pod.node.name,
                "pod_ip": pod.ip,
                "priority_class": "",
            },
            1,
        )
        f.gauge("kube_pod_owner", {**p, "owner_is_controller": "true", "owner_kind": pod.owner_kind, "owner_name": pod.owner_name}, 1)
        f.gauge("kube_pod_created", p, 1.7e9)
        f.gauge("kube_pod_start_time", p, 1.7e9)
        f.gauge("kube_pod_restart_policy", {**p, "type": "Always"}, 1)
        f.gauge("kube_pod_service_account", {**p, "service_account": "default"}, 1)
        f.gauge("kube_pod_status_qos_class", {**p, "qos_class": pod.qos.title()}, 1)
        f.gauge("kube_pod_ips", {**p, "ip": pod.ip, "ip_family": "4"}, 1)
        f.gauge("kube_pod_scheduler", {**p, "name": "default-scheduler"}, 1)
        f.gauge("kube_pod_status_ready_time", p, 1.7e9)
        f.gauge("kube_pod_status_container_ready_time", p, 1.7e9)
        for phase in PHASES:
            f.gauge("kube_pod_status_phase", {**p, "phase": phase}, int(phase == "Running"))
        for condition in CONDITIONS:
            f.gauge("kube_pod_status_ready", {**p, "condition": condition}, int(condition == "true"))
            f.gauge("kube_pod_status_scheduled", {**p, "condition": condition}, int(condition == "true"))
        for reason in ("Evicted", "NodeAffinity", "NodeLost", "Shutdown", "UnexpectedAdmissionError"):
            f.gauge("kube_pod_status_reason", {**p, "reason": reason}, 0)
        f.gauge(
            "kube_pod_tolerations", {**p, "effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "toleration_seconds": "300"}, 1
        )
        f.gauge(
            "kube_pod_tolerations", {**p, "effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "toleration_seconds": "300"}, 1
        )
        if pod.owner_kind == "StatefulSet":
            f.gauge("kube_pod_spec_volumes_persistentvolumeclaims_info", {**p, "persistentvolumeclaim": f"data-{pod.name}", "volume": "data"}, 1)
            f.gauge("kube_pod_spec_volumes_persistentvolumeclaims_readonly", {**p, "persistentvolumeclaim": f"data-{pod.name}", "volume": "data"}, 0)
        for container, image in pod.containers:
            c = {"container": container, "namespace": pod.namespace, "pod": pod.name, "uid": pod.uid}
            f.gauge(
                "kube_pod_container_info",
                {**c, "container_id": f"containerd://{pod.uid}{container}", "image": image, "image_id": f"{image}@sha256:0", "image_spec": image},
                1,
            )
            f.gauge("kube_pod_container_status_ready", c, 1)
            f.gauge("kube_pod_container_status_running", c, 1)
            f.gauge("kube_pod_container_status_waiting", c, 0)
            f.gauge("kube_pod_container_status_terminated", c, 0)
            f.gauge("kube_pod_container_state_started", c, 1.7e9)
            f.at("kube_pod_container_status_restarts_total", "counter").counter(c, 0.0)
            for resource, unit, request in (("cpu", "core", 0.1), ("memory", "byte", 268435456.0)):
                f.gauge("kube_pod_container_resource_requests", {**c, "node": pod.node.name, "resource": resource, "unit": unit}, request)
                f.gauge("kube_pod_container_resource_limits", {**c, "node": pod.node.name, "resource": resource, "unit": unit}, request * 2)
    for (namespace, kind, name), members in sorted(cluster.workloads().items()):
        if kind == "ReplicaSet":
            r = {"namespace": namespace, "replicaset": name}
            deployment = members[0].workload
            f.gauge("kube_replicaset_owner", {**r, "owner_is_controller": "true", "owner_kind": "Deployment", "owner_name": deployment}, 1)
            for family in (
                "kube_replicaset_spec_replicas",
                "kube_replicaset_status_replicas",
                "kube_replicaset_status_ready_replicas",
                "kube_replicaset_status_fully_labeled_replicas",
            ):
                f.gauge(family, r, len(members))
            f.gauge("kube_replicaset_created", r, 1.7e9)
            f.gauge("kube_replicaset_metadata_generation", r, 1)
            f.gauge("kube_replicaset_status_observed_generation", r, 1)
            d = {"deployment": deployment, "namespace": namespace}
            for family in (
                "kube_deployment_spec_replicas",
                "kube_deployment_status_replicas",
                "kube_deployment_status_replicas_available",
                "kube_deployment_status_replicas_ready",
                "kube_deployment_status_replicas_updated",
            ):
                f.gauge(family, d, len(members))
            f.gauge("kube_deployment_status_replicas_unavailable", d, 0)
            f.gauge("kube_deployment_created", d, 1.7e9)
            f.gauge("kube_deployment_metadata_generation", d, 1)
            f.gauge("kube_deployment_status_observed_generation", d, 1)
            f.gauge("kube_deployment_spec_paused", d, 0)
            f.gauge("kube_deployment_spec_strategy_rollingupdate_max_unavailable", d, 0)
            f.gauge("kube_deployment_spec_strategy_rollingupdate_max_surge", d, 1)
            for condition in ("Available", "Progressing"):
                for status in CONDITIONS:
                    f.gauge("kube_deployment_status_condition", {**d, "condition": condition, "reason": "", "status": status}, int(status == "true"))
        elif kind == "StatefulSet":
            s = {"namespace": namespace, "statefulset": name}
            for family in (
                "kube_statefulset_replicas",
                "kube_statefulset_status_replicas",
                "kube_statefulset_status_replicas_ready",
                "kube_statefulset_status_replicas_current",
                "kube_statefulset_status_replicas_updated",
                "kube_statefulset_status_replicas_available",
            ):
                f.gauge(family, s, len(members))
            f.gauge("kube_statefulset_created", s, 1.7e9)
            f.gauge("kube_statefulset_metadata_generation", s, 1)
            f.gauge("kube_statefulset_status_observed_generation", s, 1)
            f.gauge("kube_statefulset_status_current_revision", {**s, "revision": f"{name}-5d8f7c9b6"}, 1)
            f.gauge("kube_statefulset_status_update_revision", {**s, "revision": f"{name}-5d8f7c9b6"}, 1)
        elif kind == "DaemonSet":
            ds = {"daemonset": name, "namespace": namespace}
            for family in (
                "kube_daemonset_status_desired_number_scheduled",
                "kube_daemonset_status_current_number_scheduled",
                "kube_daemonset_status_number_available",
                "kube_daemonset_status_number_ready",
                "kube_daemonset_status_updated_number_scheduled",
            ):
                f.gauge(family, ds, len(members))
            for family in ("kube_daemonset_status_number_misscheduled", "kube_daemonset_status_number_unavailable"):
                f.gauge(family, ds, 0)
            f.gauge("kube_daemonset_created", ds, 1.7e9)
            f.gauge("kube_daemonset_metadata_generation", ds, 1)
            f.gauge("kube_daemonset_status_observed_generation", ds, 1)
        if kind in ("ReplicaSet", "StatefulSet") and namespace in NAMESPACES:
            service = members[0].workload
            sv = {"namespace": namespace, "service": service, "uid": f"svc-{namespace}-{service}"}
            f.gauge("kube_service_info", {**sv, "cluster_ip": "10.96.0.1", "external_name": "", "load_balancer_ip": ""}, 1)
            f.gauge("kube_service_created", sv, 1.7e9)
            f.gauge("kube_service_spec_type", {**sv, "type": "ClusterIP"}, 1)
    return Payload(list(f.values()))
