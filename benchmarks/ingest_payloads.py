"""Payload generators for the exporters that cannot run here: the kubelet (/metrics and
/metrics/cadvisor), kube-apiserver, etcd, kube-scheduler, kube-controller-manager, CoreDNS and
kube-state-metrics. Our own code; the family names, types and label sets follow these upstream
sources (read at the versions named):

- cAdvisor as the kubelet embeds it: google/cadvisor `metrics/prometheus.go` (v0.52) — the
  container_* families with the kubelet's labels container, id, image, name, namespace, pod;
  one series set per cgroup: every container, the pod's own cgroup (`container=""`, no image),
  the sandbox (pause) container (`container=""`, the pause image) and the system slices (id
  only); network families per interface of the pod, filesystem/blkio per device; machine_*.
- kubelet: kubernetes/kubernetes `pkg/kubelet/metrics/metrics.go`,
  `pkg/kubelet/server/metrics/metrics.go`, `pkg/volume/util/metrics.go`, the volume stats
  collector `pkg/kubelet/metrics/collectors/volume_stats.go` and the certificate manager's
  gauges (v1.33).
- kube-apiserver: `staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go` (request
  counts and durations by verb/group/version/resource/subresource/scope/component, response
  sizes), `.../storage/etcd3/metrics/metrics.go` (etcd_request_duration_seconds by
  operation/type), `.../server/filters/maxinflight.go`, the aggregator's
  `aggregator_unavailable_apiservice`, `.../authentication/request/x509` (client certificate
  expiration) (v1.33).
- client-go and component-base, common to the Kubernetes components: `rest_client_*`
  (`k8s.io/client-go/tools/metrics`), `workqueue_*` (`component-base/metrics/prometheus/workqueue`),
  and the Go collector's `go_*` and `process_*` (prometheus/client_golang).
- etcd: `server/etcdserver/metrics.go`, `server/storage/wal/metrics.go`,
  `server/storage/backend/metrics.go`, `server/storage/mvcc/metrics.go` and go-grpc-prometheus'
  `grpc_server_*` (v3.5).
- CoreDNS: `plugin/metrics/vars/vars.go`, `plugin/cache/metrics.go`, `plugin/forward/metrics.go` (v1.12).
- kube-scheduler: `pkg/scheduler/metrics/metrics.go`; kube-controller-manager: the workqueues of its
  controllers and `node_collector_*` (v1.33).
- kube-state-metrics: `docs/metrics/workload/{pod,deployment,replicaset,statefulset,daemonset}-metrics.md`,
  `docs/metrics/cluster/{node,namespace}-metrics.md`, `docs/metrics/service/service-metrics.md` (v2.15).

Every generator is deterministic: rates and sizes come from a `random.Random` seeded with the target.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from ingest_cluster import PAUSE_IMAGE, Cluster, Node, Pod
from ingest_exposition import DAY, Family, Payload

REQUEST_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60)
SLI_BUCKETS = (0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60)
CLIENT_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
ETCD_DISK_BUCKETS = tuple(0.001 * 2**index for index in range(14))
SIZE_BUCKETS = tuple(float(100 * 10**index) for index in range(8))
DNS_BUCKETS = (0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192)
CERT_BUCKETS = tuple(float(hours * 3600) for hours in (0, 1800 / 3600, 1, 2, 6, 12, 24, 48, 72, 168, 336, 720, 1440, 2880, 4320, 8640, 17280, 25920, 34560))
# (resource, group, version, namespaced) a cluster's clients ask the apiserver about
RESOURCES = (
    ("pods", "", "v1", True),
    ("services", "", "v1", True),
    ("endpoints", "", "v1", True),
    ("configmaps", "", "v1", True),
    ("secrets", "", "v1", True),
    ("nodes", "", "v1", False),
    ("namespaces", "", "v1", False),
    ("events", "", "v1", True),
    ("serviceaccounts", "", "v1", True),
    ("persistentvolumeclaims", "", "v1", True),
    ("persistentvolumes", "", "v1", False),
    ("leases", "coordination.k8s.io", "v1", True),
    ("endpointslices", "discovery.k8s.io", "v1", True),
    ("deployments", "apps", "v1", True),
    ("replicasets", "apps", "v1", True),
    ("statefulsets", "apps", "v1", True),
    ("daemonsets", "apps", "v1", True),
    ("jobs", "batch", "v1", True),
    ("cronjobs", "batch", "v1", True),
    ("horizontalpodautoscalers", "autoscaling", "v2", True),
    ("ingresses", "networking.k8s.io", "v1", True),
    ("networkpolicies", "networking.k8s.io", "v1", True),
    ("roles", "rbac.authorization.k8s.io", "v1", True),
    ("rolebindings", "rbac.authorization.k8s.io", "v1", True),
    ("clusterroles", "rbac.authorization.k8s.io", "v1", False),
    ("clusterrolebindings", "rbac.authorization.k8s.io", "v1", False),
    ("customresourcedefinitions", "apiextensions.k8s.io", "v1", False),
    ("apiservices", "apiregistration.k8s.io", "v1", False),
    ("storageclasses", "storage.k8s.io", "v1", False),
    ("csinodes", "storage.k8s.io", "v1", False),
    ("poddisruptionbudgets", "policy", "v1", True),
    ("priorityclasses", "scheduling.k8s.io", "v1", False),
    ("flowschemas", "flowcontrol.apiserver.k8s.io", "v1", False),
    ("prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io", "v1", False),
    ("validatingwebhookconfigurations", "admissionregistration.k8s.io", "v1", False),
    ("certificatesigningrequests", "certificates.k8s.io", "v1", False),
    ("pods", "metrics.k8s.io", "v1beta1", True),
    ("nodes", "metrics.k8s.io", "v1beta1", False),
    ("*", "custom.metrics.k8s.io", "v1beta2", True),
    ("*", "external.metrics.k8s.io", "v1beta1", True),
)
READ_VERBS = ("GET", "LIST", "WATCH")
WRITE_VERBS = ("CREATE", "UPDATE", "PATCH", "DELETE", "APPLY")


def _rng(*key: object) -> random.Random:
    return random.Random("/".join(str(part) for part in key))


# --- shared by the Kubernetes components ---------------------------------------------------------


def go_process(rng: random.Random) -> list[Family]:
    """The Go collector and the process collector of client_golang."""
    families = []
    gc = Family("go_gc_duration_seconds", "summary", "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.")
    for quantile in ("0", "0.25", "0.5", "0.75", "1"):
        gc.gauge({"quantile": quantile}, 0.0001 * (1 + float(quantile) * 20))
    gc.samples += [("go_gc_duration_seconds_sum", 0.0005 * DAY, 0.0005), ("go_gc_duration_seconds_count", 0.05 * DAY, 0.05)]
    families.append(gc)
    for name, value in (("go_goroutines", rng.randint(200, 2000)), ("go_threads", rng.randint(10, 60))):
        family = Family(name, "gauge", "Number of goroutines that currently exist." if name == "go_goroutines" else "Number of OS threads created.")
        family.gauge({}, value)
        families.append(family)
    info = Family("go_info", "gauge", "Information about the Go environment.")
    info.gauge({"version": "go1.24.2"}, 1)
    families.append(info)
    for name in (
        "alloc_bytes",
        "heap_alloc_bytes",
        "heap_idle_bytes",
        "heap_inuse_bytes",
        "heap_released_bytes",
        "heap_sys_bytes",
        "stack_inuse_bytes",
        "sys_bytes",
        "next_gc_bytes",
    ):
        family = Family(f"go_memstats_{name}", "gauge", f"Go runtime memory statistic {name}.")
        family.gauge({}, rng.randint(10, 400) * 2**20)
        families.append(family)
    for name in ("alloc_bytes_total", "mallocs_total", "frees_total"):
        family = Family(f"go_memstats_{name}", "counter", f"Go runtime memory statistic {name}.")
        family.counter({}, rng.uniform(1e4, 1e6))
        families.append(family)
    for name, kind, amount in (
        ("process_cpu_seconds_total", "counter", rng.uniform(0.01, 0.5)),
        ("process_resident_memory_bytes", "gauge", float(rng.randint(50, 900) * 2**20)),
        ("process_virtual_memory_bytes", "gauge", float(rng.randint(1, 4) * 2**30)),
        ("process_open_fds", "gauge", float(rng.randint(20, 300))),
        ("process_max_fds", "gauge", 1048576.0),
        ("process_start_time_seconds", "gauge", 1.7e9),
    ):
        family = Family(name, "counter" if kind == "counter" else "gauge", f"Process statistic {name}.")
        (family.counter({}, amount) if kind == "counter" else family.gauge({}, amount))
        families.append(family)
    return families


def rest_client(rng: random.Random, host: str) -> list[Family]:
    """client-go's request metrics towards the apiserver at `host`."""
    total = Family("rest_client_requests_total", "counter", "Number of HTTP requests, partitioned by status code, method, and host.")
    duration = Family("rest_client_request_duration_seconds", "histogram", "Request latency in seconds. Broken down by verb, and host.")
    limiter = Family("rest_client_rate_limiter_duration_seconds", "histogram", "Client side rate limiter latency in seconds. Broken down by verb, and host.")
    for method, code in (("GET", "200"), ("GET", "404"), ("PATCH", "200"), ("PUT", "200"), ("POST", "201"), ("DELETE", "200"), ("PUT", "409")):
        total.counter({"code": code, "host": host, "method": method}, rng.uniform(0.01, 5))
    for verb in ("GET", "PATCH", "POST", "PUT", "DELETE"):
        duration.histogram({"host": host, "verb": verb}, CLIENT_BUCKETS, rng.uniform(0.05, 5), rng.uniform(0.005, 0.05))
        limiter.histogram({"host": host, "verb": verb}, CLIENT_BUCKETS, rng.uniform(0.05, 5), 0.0001)
    return [total, duration, limiter]


def workqueues(rng: random.Random, names: tuple[str, ...]) -> list[Family]:
    """component-base's workqueue metrics for each named queue."""
    adds = Family("workqueue_adds_total", "counter", "Total number of adds handled by workqueue")
    depth = Family("workqueue_depth", "gauge", "Current depth of workqueue")
    retries = Family("workqueue_retries_total", "counter", "Total number of retries handled by workqueue")
    longest = Family("workqueue_longest_running_processor_seconds", "gauge", "How many seconds has the longest running processor for workqueue been running.")
    unfinished = Family("workqueue_unfinished_work_seconds", "gauge", "How many seconds of work has done that is in progress.")
    queue = Family("workqueue_queue_duration_seconds", "histogram", "How long in seconds an item stays in workqueue before being requested.")
    work = Family("workqueue_work_duration_seconds", "histogram", "How long in seconds processing an item from workqueue takes.")
    buckets = tuple(10.0**power for power in range(-8, 2))
    for name in names:
        adds.counter({"name": name}, rng.uniform(0.01, 3))
        depth.gauge({"name": name}, rng.randint(0, 3))
        retries.counter({"name": name}, rng.uniform(0, 0.1))
        longest.gauge({"name": name}, 0)
        unfinished.gauge({"name": name}, 0)
        queue.histogram({"name": name}, buckets, rng.uniform(0.01, 3), 0.001)
        work.histogram({"name": name}, buckets, rng.uniform(0.01, 3), 0.01)
    return [adds, depth, retries, longest, unfinished, queue, work]


def build_info(component: str) -> Family:
    family = Family("kubernetes_build_info", "gauge", f"Build information of {component}.")
    family.gauge(
        {
            "build_date": "2025-04-23T13:02:16Z",
            "compiler": "gc",
            "git_commit": "60a317eadfcb839692a68eab88b2096f4d708f4f",
            "git_tree_state": "clean",
            "git_version": "v1.33.0",
            "go_version": "go1.24.2",
            "major": "1",
            "minor": "33",
            "platform": "linux/amd64",
        },
        1,
    )
    return family


# --- the kubelet ------------------------------------------------------------------------------------


def kubelet(cluster: Cluster, node: Node) -> Payload:
    rng = _rng("kubelet", node.name)
    pods = list(cluster.on(node))
    families = [
        build_info("kubelet"),
        *go_process(rng),
        *rest_client(rng, "api.cluster.local:6443"),
        *workqueues(rng, ("DynamicCABundle-client-ca-bundle", "DynamicServingCertificateController")),
    ]
    node_name = Family("kubelet_node_name", "gauge", "The node's name. The count is always 1.")
    node_name.gauge({"node": node.name}, 1)
    running_pods = Family("kubelet_running_pods", "gauge", "Number of pods that have a running pod sandbox")
    running_pods.gauge({}, len(pods))
    running = Family("kubelet_running_containers", "gauge", "Number of containers currently running")
    containers = sum(len(pod.containers) for pod in pods)
    for state, count in (("created", 0), ("exited", rng.randint(0, 3)), ("running", containers), ("unknown", 0)):
        running.gauge({"container_state": state}, count)
    pleg = Family("kubelet_pleg_relist_duration_seconds", "histogram", "Duration in seconds for relisting pods in PLEG.")
    pleg.histogram({}, DEFAULT_BUCKETS, 1.0, 0.02)
    pleg_interval = Family("kubelet_pleg_relist_interval_seconds", "histogram", "Interval in seconds between relisting in PLEG.")
    pleg_interval.histogram({}, DEFAULT_BUCKETS, 1.0, 1.0)
    start = Family(
        "kubelet_pod_start_duration_seconds", "histogram", "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run"
    )
    start.histogram({}, (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600), 0.001, 4)
    worker = Family(
        "kubelet_pod_worker_duration_seconds", "histogram", "Duration in seconds to sync a single pod. Broken down by operation type: create, update, or sync"
    )
    for operation in ("create", "sync", "update"):
        worker.histogram({"operation_type": operation}, DEFAULT_BUCKETS, rng.uniform(0.01, 2), 0.05)
    ops = Family("kubelet_runtime_operations_total", "counter", "Cumulative number of runtime operations by operation type.")
    ops_duration = Family(
        "kubelet_runtime_operations_duration_seconds", "histogram", "Duration in seconds of runtime operations. Broken down by operation type."
    )
    for operation in (
        "container_status",
        "create_container",
        "exec_sync",
        "image_status",
        "list_containers",
        "list_images",
        "list_podsandbox",
        "podsandbox_status",
        "remove_container",
        "start_container",
        "status",
        "stop_container",
        "version",
    ):
        ops.counter({"operation_type": operation}, rng.uniform(0.01, 3))
        ops_duration.histogram({"operation_type": operation}, tuple(0.005 * 2.5**power for power in range(15)), rng.uniform(0.01, 3), 0.01)
    cgroup = Family("kubelet_cgroup_manager_duration_seconds", "histogram", "Duration in seconds for cgroup manager operations. Broken down by method.")
    for operation in ("create", "destroy", "update"):
        cgroup.histogram({"operation_type": operation}, DEFAULT_BUCKETS, rng.uniform(0.001, 0.2), 0.01)
    http = Family("kubelet_http_requests_total", "counter", "Number of the http requests received since the server started")
    http_duration = Family("kubelet_http_requests_duration_seconds", "histogram", "Duration in seconds to serve http requests")
    for path in ("metrics", "metrics/cadvisor", "metrics/probes", "pods", "stats", "healthz"):
        labels = {"long_running": "false", "method": "GET", "path": path, "server_type": "readonly" if path == "healthz" else "readwrite"}
        http.counter(labels, rng.uniform(0.01, 1))
        http_duration.histogram(labels, DEFAULT_BUCKETS, rng.uniform(0.01, 1), 0.01)
    ttl = {
        name: Family(f"kubelet_certificate_manager_{name}_ttl_seconds", "gauge", f"TTL of the kubelet's {name} certificate.") for name in ("client", "server")
    }
    for family in ttl.values():
        family.gauge({}, 86400 * rng.randint(100, 300))
    client_errors = Family("kubelet_certificate_manager_client_expiration_renew_errors", "counter", "Counter of certificate renewal errors.")
    client_errors.counter({}, 0)
    server_errors = Family("kubelet_server_expiration_renew_errors", "counter", "Counter of certificate renewal errors.")
    server_errors.counter({}, 0)
    volumes = Family("volume_manager_total_volumes", "gauge", "Number of volumes in Volume Manager")
    for plugin in ("kubernetes.io/configmap", "kubernetes.io/projected", "kubernetes.io/secret", "kubernetes.io/csi:ebs.csi.aws.com"):
        for state in ("actual_state_of_world", "desired_state_of_world"):
            volumes.gauge({"plugin_name": plugin, "state": state}, rng.randint(0, 2 * len(pods)))
    storage = Family("storage_operation_duration_seconds", "histogram", "Storage operation duration")
    for operation in ("volume_mount", "volume_unmount", "verify_controller_attached_volume"):
        for plugin in ("kubernetes.io/configmap", "kubernetes.io/projected", "kubernetes.io/secret"):
            storage.histogram(
                {"migrated": "false", "operation_name": operation, "status": "success", "volume_plugin": plugin},
                (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600),
                rng.uniform(0.001, 0.1),
                0.2,
            )
    stats = {
        name: Family(f"kubelet_volume_stats_{name}", "gauge", f"Volume statistic {name}.")
        for name in ("available_bytes", "capacity_bytes", "used_bytes", "inodes", "inodes_free", "inodes_used")
    }
    for pod in pods:
        if pod.owner_kind == "StatefulSet":
            labels = {"namespace": pod.namespace, "persistentvolumeclaim": f"data-{pod.name}"}
            capacity = 10 * 2**30
            for name, value in (
                ("capacity_bytes", capacity),
                ("used_bytes", capacity // 3),
                ("available_bytes", capacity - capacity // 3),
                ("inodes", 655360),
                ("inodes_used", 1200),
                ("inodes_free", 654160),
            ):
                stats[name].gauge(labels, value)
    families += [
        node_name,
        running_pods,
        running,
        pleg,
        pleg_interval,
        start,
        worker,
        ops,
        ops_duration,
        cgroup,
        http,
        http_duration,
        *ttl.values(),
        client_errors,
        server_errors,
        volumes,
        storage,
        *stats.values(),
    ]
    return Payload(families)


# --- cAdvisor, as the kubelet serves it ------------------------------------------------------------


CADVISOR_CPU = (
    ("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds."),
    ("container_cpu_user_seconds_total", "counter", "Cumulative user cpu time consumed in seconds."),
    ("container_cpu_system_seconds_total", "counter", "Cumulative system cpu time consumed in seconds."),
    ("container_cpu_cfs_periods_total", "counter", "Number of elapsed enforcement period intervals."),
    ("container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled period intervals."),
    ("container_cpu_cfs_throttled_seconds_total", "counter", "Total time duration the container has been throttled."),
    ("container_cpu_load_average_10s", "gauge", "Value of container cpu load average over the last 10 seconds."),
    ("container_memory_usage_bytes", "gauge", "Current memory usage in bytes, including all memory regardless of when it was accessed"),
    ("container_memory_working_set_bytes", "gauge", "Current working set in bytes."),
    ("container_memory_rss", "gauge", "Size of RSS in bytes."),
    ("container_memory_cache", "gauge", "Number of bytes of page cache memory."),
    ("container_memory_swap", "gauge", "Container swap usage in bytes."),
    ("container_memory_mapped_file", "gauge", "Size of memory mapped files in bytes."),
    ("container_memory_max_usage_bytes", "gauge", "Maximum memory usage recorded in bytes"),
    ("container_memory_failcnt", "counter", "Number of memory usage hits limits"),
    ("container_memory_kernel_usage", "gauge", "Size of kernel memory allocated in bytes."),
    ("container_oom_events_total", "counter", "Count of out of memory events observed for the container"),
    ("container_spec_cpu_period", "gauge", "CPU period of the container."),
    ("container_spec_cpu_shares", "gauge", "CPU share of the container."),
    ("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container."),
    ("container_spec_memory_reservation_limit_bytes", "gauge", "Memory reservation limit for the container."),
    ("container_spec_memory_swap_limit_bytes", "gauge", "Memory swap limit for the container."),
    ("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds."),
    ("container_last_seen", "gauge", "Last time a container was seen by the exporter"),
    ("container_threads", "gauge", "Number of threads running inside the container"),
    ("container_threads_max", "gauge", "Maximum number of threads allowed inside the container, infinity if value is zero"),
    ("container_sockets", "gauge", "Number of open sockets for the container."),
    ("container_file_descriptors", "gauge", "Number of open file descriptors for the container."),
    ("container_processes", "gauge", "Number of processes running inside the container."),
)
CADVISOR_NETWORK = tuple(
    (f"container_network_{direction}_{what}_total", "counter", f"Cumulative count of {what.replace('_', ' ')} {direction}d")
    for direction in ("receive", "transmit")
    for what in ("bytes", "packets", "packets_dropped", "errors")
)
CADVISOR_FS = (
    ("container_fs_reads_bytes_total", "counter", "Cumulative count of bytes read"),
    ("container_fs_writes_bytes_total", "counter", "Cumulative count of bytes written"),
    ("container_fs_reads_total", "counter", "Cumulative count of reads completed"),
    ("container_fs_writes_total", "counter", "Cumulative count of writes completed"),
    ("container_fs_usage_bytes", "gauge", "Number of bytes that are consumed by the container on this filesystem."),
    ("container_fs_limit_bytes", "gauge", "Number of bytes that can be consumed by the container on this filesystem."),
    ("container_fs_inodes_total", "gauge", "Number of Inodes"),
    ("container_fs_inodes_free", "gauge", "Number of available Inodes"),
    ("container_fs_io_current", "gauge", "Number of I/Os currently in progress"),
    ("container_fs_io_time_seconds_total", "counter", "Cumulative count of seconds spent doing I/Os"),
    ("container_fs_io_time_weighted_seconds_total", "counter", "Cumulative weighted I/O time in seconds"),
    ("container_fs_read_seconds_total", "counter", "Cumulative count of seconds spent reading"),
    ("container_fs_write_seconds_total", "counter", "Cumulative count of seconds spent writing"),
    ("container_fs_reads_merged_total", "counter", "Cumulative count of reads merged"),
    ("container_fs_writes_merged_total", "counter", "Cumulative count of writes merged"),
    ("container_fs_sector_reads_total", "counter", "Cumulative count of sector reads completed"),
    ("container_fs_sector_writes_total", "counter", "Cumulative count of sector writes completed"),
)
SYSTEM_SLICES = (
    "/",
    "/kubepods.slice",
    "/kubepods.slice/kubepods-besteffort.slice",
    "/kubepods.slice/kubepods-burstable.slice",
    "/system.slice",
    "/system.slice/containerd.service",
    "/system.slice/kubelet.service",
    "/system.slice/systemd-journald.service",
    "/system.slice/systemd-udevd.service",
    "/system.slice/ssh.service",
    "/system.slice/cron.service",
    "/user.slice",
)
DEVICES = (("/dev/nvme0n1", "259", "0"), ("/dev/nvme0n1p1", "259", "1"))


def _cgroups(cluster: Cluster, node: Node, rng: random.Random) -> Iterator[tuple[dict[str, str], str]]:
    """Every cgroup cAdvisor reports on `node`: (kubelet labels, what it is: system, pod, pause or container)."""
    for slice_ in SYSTEM_SLICES:
        yield {"container": "", "id": slice_, "image": "", "name": "", "namespace": "", "pod": ""}, "system"
    for pod in cluster.on(node):
        uid = pod.uid.replace("-", "_")
        pod_cgroup = f"/kubepods.slice/kubepods-{pod.qos}.slice/kubepods-{pod.qos}-pod{uid}.slice"
        common = {"namespace": pod.namespace, "pod": pod.name}
        yield {"container": "", "id": pod_cgroup, "image": "", "name": "", **common}, "pod"
        sandbox = f"{rng.getrandbits(128):032x}{rng.getrandbits(128):032x}"
        yield {"container": "", "id": f"{pod_cgroup}/cri-containerd-{sandbox}.scope", "image": PAUSE_IMAGE, "name": sandbox, **common}, "pause"
        for container, image in pod.containers:
            cid = f"{rng.getrandbits(128):032x}{rng.getrandbits(128):032x}"
            yield {"container": container, "id": f"{pod_cgroup}/cri-containerd-{cid}.scope", "image": image, "name": cid, **common}, "container"


def cadvisor(cluster: Cluster, node: Node) -> Payload:
    rng = _rng("cadvisor", node.name)
    cpu = {name: Family(name, kind, text) for name, kind, text in CADVISOR_CPU}  # type: ignore[arg-type]
    failures = Family("container_memory_failures_total", "counter", "Cumulative count of memory allocation failures.")
    network = {name: Family(name, kind, text) for name, kind, text in CADVISOR_NETWORK}  # type: ignore[arg-type]
    fs = {name: Family(name, kind, text) for name, kind, text in CADVISOR_FS}  # type: ignore[arg-type]
    blkio = Family("container_blkio_device_usage_total", "counter", "Blkio Device bytes usage")
    for labels, what in _cgroups(cluster, node, rng):
        cores = rng.uniform(0.001, 0.5)
        memory = rng.randint(10, 2000) * 2**20
        for name, family in cpu.items():
            if family.kind == "counter":
                family.counter(labels, cores * (0.3 if "throttled" in name else 1.0) * (10 if "periods" in name else 1))
            else:
                family.gauge(labels, memory if "memory" in name else 1.7e9 if "time" in name or "seen" in name else rng.randint(1, 100))
        for failure in ("pgfault", "pgmajfault"):
            for scope in ("container", "hierarchy"):
                failures.counter({**labels, "failure_type": failure, "scope": scope}, rng.uniform(1, 100) / (50 if failure == "pgmajfault" else 1))
        if what in ("pod", "pause", "system"):
            interfaces = ("eth0",) if what != "system" else ("ens5", "cni0")
            for interface in interfaces:
                for name, family in network.items():
                    family.counter({**labels, "interface": interface}, rng.uniform(10, 1e5) / (1000 if "errors" in name or "dropped" in name else 1))
        for device, major, minor in DEVICES if what != "pause" else ():
            for family in fs.values():
                device_labels = {**labels, "device": device}
                (family.counter(device_labels, rng.uniform(0.1, 1e4)) if family.kind == "counter" else family.gauge(device_labels, rng.randint(1, 1 << 34)))
            for operation in ("Async", "Discard", "Read", "Sync", "Total", "Write"):
                blkio.counter({**labels, "device": device, "major": major, "minor": minor, "operation": operation}, rng.uniform(1, 1e4))
    machine = []
    for name, value in (("machine_cpu_cores", 8), ("machine_cpu_physical_cores", 4), ("machine_cpu_sockets", 1), ("machine_memory_bytes", 32 * 2**30)):
        family = Family(name, "gauge", f"Machine statistic {name}.")
        family.gauge({"boot_id": f"{node.name}-boot", "machine_id": f"{node.name}-machine", "system_uuid": f"{node.name}-uuid"}, value)
        machine.append(family)
    scrape_error = Family("container_scrape_error", "gauge", "1 if there was an error while getting container metrics, 0 otherwise")
    scrape_error.gauge({}, 0)
    version = Family(
        "cadvisor_version_info",
        "gauge",
        "A metric with a constant '1' value labeled by kernel version, OS version, docker version, cadvisor version & cadvisor revision.",
    )
    version.gauge(
        {
            "cadvisorRevision": "",
            "cadvisorVersion": "",
            "dockerVersion": "",
            "kernelVersion": "6.1.0-31-cloud-amd64",
            "osVersion": "Debian GNU/Linux 12 (bookworm)",
        },
        1,
    )
    return Payload([*cpu.values(), failures, *network.values(), *fs.values(), blkio, *machine, scrape_error, version])


# --- the control plane -----------------------------------------------------------------------------


def apiserver(cluster: Cluster, node: Node) -> Payload:
    rng = _rng("apiserver", node.name)
    total = Family(
        "apiserver_request_total",
        "counter",
        "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
    )
    duration = Family(
        "apiserver_request_duration_seconds",
        "histogram",
        "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
    )
    sli = Family(
        "apiserver_request_sli_duration_seconds",
        "histogram",
        "Response latency distribution (not counting webhook duration and priority & fairness queue wait times) in seconds for each verb, group, version, resource, subresource, scope and component.",
    )
    sizes = Family(
        "apiserver_response_sizes",
        "histogram",
        "Response size distribution in bytes for each group, version, verb, resource, subresource, scope and component.",
    )
    objects = Family("apiserver_storage_objects", "gauge", "Number of stored objects at the time of last check split by kind.")
    etcd = Family("etcd_request_duration_seconds", "histogram", "Etcd request latency in seconds for each operation and object type.")
    watch = Family("apiserver_watch_events_total", "counter", "Number of events sent in watch clients")
    for resource, group, version, namespaced in RESOURCES:
        scopes = ("resource", "namespace", "cluster") if namespaced else ("resource", "cluster")
        verbs = READ_VERBS + (WRITE_VERBS if "metrics" not in group else ())
        for verb in verbs:
            for scope in scopes if verb in ("LIST", "WATCH") else ("resource",):
                base = {
                    "component": "apiserver",
                    "dry_run": "",
                    "group": group,
                    "resource": resource,
                    "scope": scope,
                    "subresource": "",
                    "verb": verb,
                    "version": version,
                }
                codes = (
                    ("200",)
                    if verb not in ("CREATE", "GET", "UPDATE")
                    else ("201",)
                    if verb == "CREATE"
                    else ("200", "404")
                    if verb == "GET"
                    else ("200", "409")
                )
                for code in codes:
                    total.counter({"code": code, **base}, rng.uniform(0.001, 5))
                duration.histogram(base, REQUEST_BUCKETS, rng.uniform(0.001, 5), rng.uniform(0.005, 0.3) if verb != "WATCH" else 30)
                if verb != "WATCH":
                    without_dry_run = {key: value for key, value in base.items() if key != "dry_run"}
                    sli.histogram(without_dry_run, SLI_BUCKETS, rng.uniform(0.001, 5), rng.uniform(0.005, 0.2))
                    sizes.histogram(without_dry_run, SIZE_BUCKETS, rng.uniform(0.001, 5), rng.uniform(500, 1e5))
        if resource != "*" and "metrics" not in group:
            objects.gauge({"resource": f"{resource}.{group}" if group else resource}, rng.randint(1, 2000))
            for operation in ("create", "delete", "get", "list", "listWithCount", "update"):
                etcd.histogram({"operation": operation, "type": f"/registry/{resource}"}, REQUEST_BUCKETS, rng.uniform(0.001, 2), 0.01)
            watch.counter({"group": group, "kind": resource.title(), "version": version}, rng.uniform(0.01, 10))
    inflight = Family(
        "apiserver_current_inflight_requests",
        "gauge",
        "Maximal number of currently used inflight request limit of this apiserver per request kind in last second.",
    )
    for kind in ("mutating", "readOnly"):
        inflight.gauge({"request_kind": kind}, rng.randint(0, 20))
    certs = Family(
        "apiserver_client_certificate_expiration_seconds",
        "histogram",
        "Distribution of the remaining lifetime on the certificate used to authenticate a request.",
    )
    certs.histogram({}, CERT_BUCKETS, 2.0, 86400 * 200)
    unavailable = Family("aggregator_unavailable_apiservice", "gauge", "Gauge of APIServices which are marked as unavailable broken down by APIService name.")
    for name in ("v1beta1.metrics.k8s.io", "v1beta1.custom.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io", "v1beta1.external.metrics.k8s.io"):
        unavailable.gauge({"name": name}, 0)
    admission = Family(
        "apiserver_admission_controller_admission_duration_seconds",
        "histogram",
        "Admission controller latency histogram in seconds, identified by name and broken out for each operation and API resource and type (validate or admit).",
    )
    for name in (
        "NamespaceLifecycle",
        "LimitRanger",
        "ServiceAccount",
        "PodSecurity",
        "Priority",
        "DefaultTolerationSeconds",
        "ResourceQuota",
        "MutatingAdmissionWebhook",
        "ValidatingAdmissionWebhook",
    ):
        for operation in ("CREATE", "UPDATE", "DELETE"):
            admission.histogram(
                {"name": name, "operation": operation, "rejected": "false", "type": "validate"}, (0.005, 0.025, 0.1, 0.5, 1.0, 2.5), rng.uniform(0.01, 2), 0.001
            )
    families = [
        build_info("kube-apiserver"),
        *go_process(rng),
        *workqueues(
            rng,
            (
                "APIServiceRegistrationController",
                "AvailableConditionController",
                "DynamicCABundle-client-ca-bundle",
                "crd_autoregistration_controller",
                "open_api_v3_aggregation_controller",
            ),
        ),
    ]
    families += [total, duration, sli, sizes, objects, etcd, watch, inflight, certs, unavailable, admission]
    return Payload(families)


def etcd(cluster: Cluster, node: Node) -> Payload:
    rng = _rng("etcd", node.name)
    families = [*go_process(rng)]
    for name, value in (
        ("etcd_server_has_leader", 1),
        ("etcd_server_is_leader", int(node == cluster.control_plane[0])),
        ("etcd_server_quota_backend_bytes", 8 * 2**30),
        ("etcd_mvcc_db_total_size_in_bytes", rng.randint(50, 500) * 2**20),
        ("etcd_mvcc_db_total_size_in_use_in_bytes", rng.randint(30, 300) * 2**20),
        ("etcd_server_proposals_pending", 0),
        ("etcd_debugging_mvcc_keys_total", rng.randint(2000, 50000)),
    ):
        family = Family(name, "gauge", f"etcd gauge {name}.")
        family.gauge({}, value)
        families.append(family)
    for name, rate in (
        ("etcd_server_leader_changes_seen_total", 0.0),
        ("etcd_server_proposals_failed_total", 0.0),
        ("etcd_server_proposals_committed_total", 20.0),
        ("etcd_server_proposals_applied_total", 20.0),
        ("etcd_mvcc_put_total", 15.0),
        ("etcd_mvcc_delete_total", 1.0),
        ("etcd_mvcc_range_total", 50.0),
        ("etcd_mvcc_txn_total", 10.0),
        ("etcd_network_client_grpc_received_bytes_total", 2e5),
        ("etcd_network_client_grpc_sent_bytes_total", 8e5),
    ):
        family = Family(name, "counter", f"etcd counter {name}.")
        family.counter({}, rate)
        families.append(family)
    for name, mean in (
        ("etcd_disk_wal_fsync_duration_seconds", 0.004),
        ("etcd_disk_backend_commit_duration_seconds", 0.008),
        ("etcd_disk_backend_defrag_duration_seconds", 1.0),
        ("etcd_disk_backend_snapshot_duration_seconds", 0.5),
        ("etcd_mvcc_db_compaction_total_duration_milliseconds", 20.0),
    ):
        family = Family(name, "histogram", f"etcd latency {name}.")
        family.histogram({}, ETCD_DISK_BUCKETS, 10.0 if "wal" in name or "commit" in name else 0.001, mean)
        families.append(family)
    peers = Family("etcd_network_peer_round_trip_time_seconds", "histogram", "Round-Trip-Time histogram between peers")
    for peer in cluster.control_plane:
        if peer != node:
            peers.histogram({"To": f"{int(peer.ip.rsplit('.', 1)[1]):016x}"}, ETCD_DISK_BUCKETS, 1.0, 0.002)
    started = Family("grpc_server_started_total", "counter", "Total number of RPCs started on the server.")
    handled = Family("grpc_server_handled_total", "counter", "Total number of RPCs completed on the server, regardless of success or failure.")
    received = Family("grpc_server_msg_received_total", "counter", "Total number of RPC stream messages received on the server.")
    sent = Family("grpc_server_msg_sent_total", "counter", "Total number of gRPC stream messages sent by the server.")
    for service, methods in (
        ("etcdserverpb.KV", ("Range", "Put", "DeleteRange", "Txn", "Compact")),
        ("etcdserverpb.Watch", ("Watch",)),
        ("etcdserverpb.Lease", ("LeaseGrant", "LeaseRevoke", "LeaseKeepAlive", "LeaseTimeToLive")),
        ("etcdserverpb.Cluster", ("MemberList",)),
        ("etcdserverpb.Maintenance", ("Status", "Alarm")),
        ("grpc.health.v1.Health", ("Check", "Watch")),
    ):
        for method in methods:
            kind = "bidi_stream" if method in ("Watch", "LeaseKeepAlive") else "unary"
            labels = {"grpc_method": method, "grpc_service": service, "grpc_type": kind}
            rate = rng.uniform(0.01, 30)
            for family in (started, received, sent):
                family.counter(labels, rate)
            for code in (
                "OK",
                "Canceled",
                "DeadlineExceeded",
                "Unavailable",
                "Unknown",
                "NotFound",
                "InvalidArgument",
                "ResourceExhausted",
                "FailedPrecondition",
                "Aborted",
                "OutOfRange",
                "Unimplemented",
                "Internal",
                "DataLoss",
                "Unauthenticated",
                "PermissionDenied",
                "AlreadyExists",
            ):
                handled.counter({**labels, "grpc_code": code}, rate if code == "OK" else 0.0)
    families += [peers, started, handled, received, sent]
    return Payload(families)


def scheduler(cluster: Cluster, node: Node) -> Payload:
    rng = _rng("scheduler", node.name)
    attempts = Family("scheduler_schedule_attempts_total", "counter", "Number of attempts to schedule pods, by the result.")
    for result in ("error", "scheduled", "unschedulable"):
        attempts.counter({"profile": "default-scheduler", "result": result}, rng.uniform(0, 0.5))
    e2e = Family("scheduler_scheduling_attempt_duration_seconds", "histogram", "Scheduling attempt latency in seconds (scheduling algorithm + binding)")
    for result in ("error", "scheduled", "unschedulable"):
        e2e.histogram({"profile": "default-scheduler", "result": result}, tuple(0.001 * 2**index for index in range(15)), rng.uniform(0.001, 0.5), 0.01)
    pending = Family("scheduler_pending_pods", "gauge", "Number of pending pods, by the queue type.")
    for queue in ("active", "backoff", "gated", "unschedulable"):
        pending.gauge({"queue": queue}, 0)
    plugins = Family("scheduler_plugin_execution_duration_seconds", "histogram", "Duration for running a plugin at a specific extension point.")
    for plugin in (
        "NodeResourcesFit",
        "NodeAffinity",
        "PodTopologySpread",
        "InterPodAffinity",
        "TaintToleration",
        "VolumeBinding",
        "ImageLocality",
        "DefaultBinder",
    ):
        for point in ("Filter", "Score", "PreFilter", "PreScore"):
            plugins.histogram(
                {"extension_point": point, "plugin": plugin, "status": "Success"},
                tuple(0.00001 * 1.5**index for index in range(20)),
                rng.uniform(0.01, 1),
                0.0001,
            )
    families = [
        build_info("kube-scheduler"),
        *go_process(rng),
        *rest_client(rng, "127.0.0.1:6443"),
        *workqueues(rng, ("DynamicConfigMapCABundle-client-ca", "DynamicServingCertificateController")),
    ]
    return Payload([*families, attempts, e2e, pending, plugins])


def controller_manager(cluster: Cluster, node: Node) -> Payload:
    rng = _rng("controller-manager", node.name)
    controllers = (
        "deployment",
        "replicaset",
        "statefulset",
        "daemonset",
        "job",
        "cronjob_controller",
        "endpoint",
        "endpoint_slice",
        "endpoint_slice_mirroring",
        "garbage_collector_attempt_to_delete",
        "garbage_collector_attempt_to_orphan",
        "garbage_collector_graph_changes",
        "horizontalpodautoscaler",
        "namespace",
        "node_lifecycle_controller",
        "node_lifecycle_controller_pods",
        "pvcprotection",
        "pvprotection",
        "resource_quota_controller_resource_changes",
        "serviceaccount",
        "serviceaccount_tokens_secret",
        "service",
        "disruption",
        "ttlcontroller",
        "root_ca_cert_publisher",
        "certificate",
        "volumes",
        "ClusterRoleAggregator",
    )
    zones = Family("node_collector_zone_health", "gauge", "Gauge measuring percentage of healthy nodes per zone.")
    zones.gauge({"zone": "eu-west-1a"}, 100)
    evictions = Family("node_collector_evictions_total", "counter", "Number of Node evictions that happened since current instance of NodeController started.")
    evictions.counter({"zone": "eu-west-1a"}, 0)
    families = [build_info("kube-controller-manager"), *go_process(rng), *rest_client(rng, "127.0.0.1:6443"), *workqueues(rng, controllers), zones, evictions]
    return Payload(families)


def coredns(cluster: Cluster, pod: Pod) -> Payload:
    rng = _rng("coredns", pod.name)
    requests = Family("coredns_dns_requests_total", "counter", "Counter of DNS requests made per zone, protocol and family.")
    responses = Family("coredns_dns_responses_total", "counter", "Counter of response status codes.")
    duration = Family("coredns_dns_request_duration_seconds", "histogram", "Histogram of the time (in seconds) each request took per zone.")
    req_size = Family("coredns_dns_request_size_bytes", "histogram", "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.")
    resp_size = Family("coredns_dns_response_size_bytes", "histogram", "Size of the returned response in bytes.")
    size_buckets = (0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000, 48000, 64000)
    for zone in (".", "cluster.local."):
        for proto in ("udp", "tcp"):
            for qtype in ("A", "AAAA", "SRV", "PTR", "other"):
                requests.counter({"family": "1", "proto": proto, "server": "dns://:53", "type": qtype, "view": "", "zone": zone}, rng.uniform(0.1, 50))
            req_size.histogram({"proto": proto, "server": "dns://:53", "view": "", "zone": zone}, size_buckets, rng.uniform(0.1, 50), 60)
            resp_size.histogram({"proto": proto, "server": "dns://:53", "view": "", "zone": zone}, size_buckets, rng.uniform(0.1, 50), 120)
        for rcode in ("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"):
            responses.counter({"plugin": "", "rcode": rcode, "server": "dns://:53", "view": "", "zone": zone}, rng.uniform(0.01, 40))
        for qtype in ("A", "AAAA", "SRV", "PTR", "other"):
            duration.histogram({"server": "dns://:53", "type": qtype, "view": "", "zone": zone}, DNS_BUCKETS, rng.uniform(0.1, 50), 0.002)
    cache_entries = Family("coredns_cache_entries", "gauge", "The number of elements in the cache.")
    cache_requests = Family("coredns_cache_requests_total", "counter", "The count of cache requests.")
    cache_hits = Family("coredns_cache_hits_total", "counter", "The count of cache hits.")
    cache_misses = Family("coredns_cache_misses_total", "counter", "The count of cache misses.")
    for kind in ("denial", "success"):
        cache_entries.gauge({"server": "dns://:53", "type": kind, "view": "", "zones": "."}, rng.randint(10, 5000))
        cache_hits.counter({"server": "dns://:53", "type": kind, "view": "", "zones": "."}, rng.uniform(1, 30))
    cache_requests.counter({"server": "dns://:53", "view": "", "zones": "."}, 40)
    cache_misses.counter({"server": "dns://:53", "view": "", "zones": "."}, 10)
    forward_requests = Family("coredns_proxy_request_duration_seconds", "histogram", "Histogram of the time each request took.")
    for rcode in ("NOERROR", "NXDOMAIN", "SERVFAIL"):
        forward_requests.histogram({"proxy_name": "forward", "rcode": rcode, "to": "10.0.0.2:53"}, DNS_BUCKETS, rng.uniform(0.1, 10), 0.01)
    healthcheck = Family("coredns_forward_healthcheck_broken_total", "counter", "Counter of the number of complete failures of the healthchecks.")
    healthcheck.counter({}, 0)
    build = Family(
        "coredns_build_info", "gauge", "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built."
    )
    build.gauge({"goversion": "go1.23.3", "revision": "51e11f1", "version": "1.12.0"}, 1)
    panics = Family("coredns_panics_total", "counter", "A metrics that counts the number of panics.")
    panics.counter({}, 0)
    plugins = Family("coredns_plugin_enabled", "gauge", "A metric that indicates whether a plugin is enabled on per server and zone basis.")
    for plugin in ("cache", "errors", "forward", "kubernetes", "loadbalance", "loop", "prometheus", "reload"):
        plugins.gauge({"name": plugin, "server": "dns://:53", "view": "", "zone": "."}, 1)
    return Payload(
        [
            *go_process(rng),
            requests,
            responses,
            duration,
            req_size,
            resp_size,
            cache_entries,
            cache_requests,
            cache_hits,
            cache_misses,
            forward_requests,
            healthcheck,
            build,
            panics,
            plugins,
        ]
    )
