"""Write kmc's dashboards library (library/dashboards/*.json) from the short descriptions below.

Run `python scripts/dashboards.py` after editing; tests/test_dashboards_library.py holds the
committed files to this script's output. Each dashboard gets the `cluster` variable (the
`cluster` external label, seen through Thanos Query or a remote store; `.*` also matches the
local series, which carry no such label), the dashboard links of every kmc dashboard, and panels
laid out left to right, row by row. Every selector names its `job`, or reads a series the rule
library records: a build derives from these what each panel needs (kmc.components.dashboards).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASOURCE = {"type": "prometheus", "uid": "kmc-prometheus"}
C = 'cluster=~"$cluster"'
KSM = 'job="kube-state-metrics"'


@dataclass
class Panel:
    title: str
    unit: str
    description: str
    exprs: list[tuple[str, str]]  # (PromQL, legend)
    kind: str = "timeseries"
    width: int = 12
    link: tuple[str, str] | None = None  # (dashboard, query string) of a data link


@dataclass
class Row:
    title: str
    panels: list[Panel]


@dataclass
class Board:
    name: str
    title: str
    description: str
    rows: list[Row]
    variables: list[tuple[str, str, str]] = field(default_factory=list)  # (name, label, label_values query)


def ts(title: str, unit: str, description: str, *exprs: tuple[str, str], width: int = 12, link: tuple[str, str] | None = None) -> Panel:
    return Panel(title, unit, description, list(exprs), width=width, link=link)


def stat(title: str, unit: str, description: str, expr: str) -> Panel:
    return Panel(title, unit, description, [(expr, title)], kind="stat", width=6)


def to_namespace(board: str = "namespaces") -> tuple[str, str]:
    return board, "var-namespace=${__field.labels.namespace}"


TO_WORKLOAD = ("workloads", "var-namespace=${__field.labels.namespace}&var-workload=${__field.labels.workload}")
TO_POD = ("pods", "var-namespace=${__field.labels.namespace}&var-pod=${__field.labels.pod}")
NAMESPACE_VAR = ("namespace", "Namespace", f"label_values(namespace:container_cpu_usage_seconds:sum_rate5m{{{C}}}, namespace)")


def cluster() -> Board:
    ksm_nodes = f"kube_node_status_allocatable{{{KSM},{C},resource="
    return Board(
        "cluster",
        "Cluster overview",
        "Nodes, pods and resource use of the whole cluster: kube-state-metrics, and the rule library's per-namespace usage recorded from cAdvisor.",
        [
            Row(
                "Nodes and pods",
                [
                    stat("Nodes", "none", "Nodes kube-state-metrics knows.", f"count(kube_node_info{{{KSM},{C}}})"),
                    stat(
                        "Nodes not ready",
                        "none",
                        "Nodes whose Ready condition is not true.",
                        f'sum(kube_node_status_condition{{{KSM},{C},condition="Ready",status!="true"}})',
                    ),
                    stat("Pods running", "none", "Pods in phase Running.", f'sum(kube_pod_status_phase{{{KSM},{C},phase="Running"}})'),
                    stat("Scrape targets down", "none", "Targets of any job whose last scrape failed.", f"count(up{{{C}}} == 0) or vector(0)"),
                ],
            ),
            Row(
                "Capacity",
                [
                    ts(
                        "CPU used / allocatable",
                        "percentunit",
                        "CPU the containers use (recorded per namespace from cAdvisor) over what the nodes can allocate to pods.",
                        (f'sum(namespace:container_cpu_usage_seconds:sum_rate5m{{{C}}}) / sum({ksm_nodes}"cpu"}})', "used"),
                        (f'sum(namespace_resource:kube_pod_container_resource_requests:sum{{{C},resource="cpu"}}) / sum({ksm_nodes}"cpu"}})', "requested"),
                    ),
                    ts(
                        "Memory used / allocatable",
                        "percentunit",
                        "Working-set memory of the containers (recorded per namespace) and memory requested, over what the nodes can allocate to pods.",
                        (f'sum(namespace:container_memory_working_set_bytes:sum{{{C}}}) / sum({ksm_nodes}"memory"}})', "used"),
                        (
                            f'sum(namespace_resource:kube_pod_container_resource_requests:sum{{{C},resource="memory"}}) / sum({ksm_nodes}"memory"}})',
                            "requested",
                        ),
                    ),
                ],
            ),
            Row(
                "Namespaces",
                [
                    ts(
                        "CPU by namespace",
                        "short",
                        "CPU cores used per namespace (recorded from cAdvisor). Click a series for its namespace.",
                        (f"sum by (namespace) (namespace:container_cpu_usage_seconds:sum_rate5m{{{C}}})", "{{namespace}}"),
                        link=to_namespace(),
                    ),
                    ts(
                        "Memory by namespace",
                        "bytes",
                        "Working-set memory per namespace (recorded from cAdvisor). Click a series for its namespace.",
                        (f"sum by (namespace) (namespace:container_memory_working_set_bytes:sum{{{C}}})", "{{namespace}}"),
                        link=to_namespace(),
                    ),
                    ts("Pods by phase", "none", "Pods in each phase.", (f"sum by (phase) (kube_pod_status_phase{{{KSM},{C}}})", "{{phase}}")),
                    ts(
                        "Container restarts (1h) by namespace",
                        "none",
                        "Container restarts over the last hour, per namespace.",
                        (f"sum by (namespace) (increase(kube_pod_container_status_restarts_total{{{KSM},{C}}}[1h]))", "{{namespace}}"),
                        link=to_namespace(),
                    ),
                ],
            ),
        ],
    )


def namespaces() -> Board:
    ns = f'{C},namespace=~"$namespace"'
    return Board(
        "namespaces",
        "Namespaces",
        "CPU, memory and network per namespace, and per workload within it, from the rule library's recording rules (cAdvisor, kube-state-metrics).",
        [
            Row(
                "Usage",
                [
                    ts(
                        "CPU",
                        "short",
                        "CPU cores used per namespace.",
                        (f"sum by (namespace) (namespace:container_cpu_usage_seconds:sum_rate5m{{{ns}}})", "{{namespace}}"),
                    ),
                    ts(
                        "Memory",
                        "bytes",
                        "Working-set memory per namespace.",
                        (f"sum by (namespace) (namespace:container_memory_working_set_bytes:sum{{{ns}}})", "{{namespace}}"),
                    ),
                ],
            ),
            Row(
                "Requests and limits",
                [
                    ts(
                        "CPU requested and limited",
                        "short",
                        "CPU requests and limits of the namespace's Pending and Running pods.",
                        (f'namespace_resource:kube_pod_container_resource_requests:sum{{{ns},resource="cpu"}}', "{{namespace}} requests"),
                        (f'namespace_resource:kube_pod_container_resource_limits:sum{{{ns},resource="cpu"}}', "{{namespace}} limits"),
                    ),
                    ts(
                        "Memory requested and limited",
                        "bytes",
                        "Memory requests and limits of the namespace's Pending and Running pods.",
                        (f'namespace_resource:kube_pod_container_resource_requests:sum{{{ns},resource="memory"}}', "{{namespace}} requests"),
                        (f'namespace_resource:kube_pod_container_resource_limits:sum{{{ns},resource="memory"}}', "{{namespace}} limits"),
                    ),
                ],
            ),
            Row(
                "Workloads",
                [
                    ts(
                        "CPU by workload",
                        "short",
                        "CPU cores used per workload (Deployment, StatefulSet, DaemonSet, Job). Click a series for the workload.",
                        (f"namespace_workload:container_cpu_usage_seconds:sum_rate5m{{{ns}}}", "{{namespace}}/{{workload}}"),
                        link=TO_WORKLOAD,
                    ),
                    ts(
                        "Memory by workload",
                        "bytes",
                        "Working-set memory per workload. Click a series for the workload.",
                        (f"namespace_workload:container_memory_working_set_bytes:sum{{{ns}}}", "{{namespace}}/{{workload}}"),
                        link=TO_WORKLOAD,
                    ),
                ],
            ),
        ],
        [NAMESPACE_VAR],
    )


def workloads() -> Board:
    wl = f'{C},namespace=~"$namespace",workload=~"$workload"'
    return Board(
        "workloads",
        "Workloads",
        "CPU, memory and network of each workload and of its pods, from the rule library's recording rules, and the controllers' health from kube-state-metrics.",
        [
            Row(
                "Usage",
                [
                    ts(
                        "CPU",
                        "short",
                        "CPU cores used per workload.",
                        (f"namespace_workload:container_cpu_usage_seconds:sum_rate5m{{{wl}}}", "{{namespace}}/{{workload}}"),
                    ),
                    ts(
                        "Memory",
                        "bytes",
                        "Working-set memory per workload.",
                        (f"namespace_workload:container_memory_working_set_bytes:sum{{{wl}}}", "{{namespace}}/{{workload}}"),
                    ),
                    ts(
                        "Network received / sent",
                        "Bps",
                        "Bytes per second the workload's pods receive (up) and send (down).",
                        (f"namespace_workload:container_network_receive_bytes:sum_rate5m{{{wl}}}", "{{namespace}}/{{workload}} in"),
                        (f"-namespace_workload:container_network_transmit_bytes:sum_rate5m{{{wl}}}", "{{namespace}}/{{workload}} out"),
                    ),
                    ts(
                        "CPU by pod",
                        "short",
                        "CPU cores used by each pod of the workload. Click a series for the pod.",
                        (
                            f"sum by (namespace, pod) (node_namespace_pod:container_cpu_usage_seconds:sum_rate5m{{{C}}}"
                            f" * on (namespace, pod) group_left () namespace_workload_pod:kube_pod_owner:relabel{{{wl}}})",
                            "{{namespace}}/{{pod}}",
                        ),
                        link=TO_POD,
                    ),
                ],
            ),
            Row(
                "Controllers",
                [
                    ts(
                        "Deployment replicas available / desired",
                        "none",
                        "Available and desired replicas of the namespace's Deployments.",
                        (f'kube_deployment_status_replicas_available{{{KSM},{C},namespace=~"$namespace",deployment=~"$workload"}}', "{{deployment}} available"),
                        (f'kube_deployment_spec_replicas{{{KSM},{C},namespace=~"$namespace",deployment=~"$workload"}}', "{{deployment}} desired"),
                    ),
                    ts(
                        "StatefulSet replicas ready / desired",
                        "none",
                        "Ready and desired replicas of the namespace's StatefulSets.",
                        (f'kube_statefulset_status_replicas_ready{{{KSM},{C},namespace=~"$namespace",statefulset=~"$workload"}}', "{{statefulset}} ready"),
                        (f'kube_statefulset_replicas{{{KSM},{C},namespace=~"$namespace",statefulset=~"$workload"}}', "{{statefulset}} desired"),
                    ),
                    ts(
                        "DaemonSet pods available / desired",
                        "none",
                        "Available and desired pods of the namespace's DaemonSets.",
                        (f'kube_daemonset_status_number_available{{{KSM},{C},namespace=~"$namespace",daemonset=~"$workload"}}', "{{daemonset}} available"),
                        (
                            f'kube_daemonset_status_desired_number_scheduled{{{KSM},{C},namespace=~"$namespace",daemonset=~"$workload"}}',
                            "{{daemonset}} desired",
                        ),
                    ),
                    ts(
                        "Jobs active / failed",
                        "none",
                        "Active and failed pods of the namespace's Jobs.",
                        (
                            f'sum by (namespace, job_name) (kube_job_status_active{{{KSM},{C},namespace=~"$namespace",job_name=~"$workload"}})',
                            "{{job_name}} active",
                        ),
                        (f'sum by (namespace, job_name) (kube_job_failed{{{KSM},{C},namespace=~"$namespace",job_name=~"$workload"}})', "{{job_name}} failed"),
                    ),
                ],
            ),
        ],
        [
            NAMESPACE_VAR,
            ("workload", "Workload", f'label_values(namespace_workload_pod:kube_pod_owner:relabel{{{C},namespace=~"$namespace"}}, workload)'),
        ],
    )


def pods() -> Board:
    pod = f'{C},namespace=~"$namespace",pod=~"$pod"'
    return Board(
        "pods",
        "Pods",
        "CPU, memory and network of pods (recorded from cAdvisor), their containers' throttling, and restarts and readiness from kube-state-metrics.",
        [
            Row(
                "Usage",
                [
                    ts(
                        "CPU",
                        "short",
                        "CPU cores used by each pod.",
                        (f"node_namespace_pod:container_cpu_usage_seconds:sum_rate5m{{{pod}}}", "{{namespace}}/{{pod}}"),
                    ),
                    ts(
                        "Memory",
                        "bytes",
                        "Working-set memory of each pod.",
                        (f"node_namespace_pod:container_memory_working_set_bytes:sum{{{pod}}}", "{{namespace}}/{{pod}}"),
                    ),
                    ts(
                        "Network received / sent",
                        "Bps",
                        "Bytes per second each pod receives (up) and sends (down).",
                        (f"node_namespace_pod:container_network_receive_bytes:sum_rate5m{{{pod}}}", "{{pod}} in"),
                        (f"-node_namespace_pod:container_network_transmit_bytes:sum_rate5m{{{pod}}}", "{{pod}} out"),
                    ),
                    ts(
                        "CPU throttled",
                        "percentunit",
                        "Share of CFS periods in which a container was throttled by its CPU limit.",
                        (
                            f'sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total{{job="cadvisor",{pod},container!=""}}[$__rate_interval]))'
                            f' / sum by (namespace, pod, container) (rate(container_cpu_cfs_periods_total{{job="cadvisor",{pod},container!=""}}[$__rate_interval]))',
                            "{{pod}}/{{container}}",
                        ),
                    ),
                ],
            ),
            Row(
                "Health",
                [
                    ts(
                        "Container restarts (1h)",
                        "none",
                        "Restarts of each container over the last hour.",
                        (
                            f"sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{{{KSM},{pod}}}[1h]))",
                            "{{pod}}/{{container}}",
                        ),
                    ),
                    ts(
                        "Memory used / requested",
                        "percentunit",
                        "Working-set memory of each pod over the memory its containers request.",
                        (
                            f"node_namespace_pod:container_memory_working_set_bytes:sum{{{pod}}}"
                            f' / on (namespace, pod) sum by (namespace, pod) (kube_pod_container_resource_requests{{{KSM},{pod},resource="memory"}})',
                            "{{namespace}}/{{pod}}",
                        ),
                    ),
                    ts(
                        "Pods not ready",
                        "none",
                        "Pods whose Ready condition is false.",
                        (f'sum by (namespace, pod) (kube_pod_status_ready{{{KSM},{pod},condition="false"}})', "{{namespace}}/{{pod}}"),
                    ),
                    ts(
                        "Containers waiting, by reason",
                        "none",
                        "Containers waiting to start, by reason (CrashLoopBackOff, ImagePullBackOff, ...).",
                        (f"sum by (namespace, reason) (kube_pod_container_status_waiting_reason{{{KSM},{pod}}})", "{{namespace}} {{reason}}"),
                    ),
                ],
            ),
        ],
        [NAMESPACE_VAR, ("pod", "Pod", f'label_values(node_namespace_pod:container_cpu_usage_seconds:sum_rate5m{{{C},namespace=~"$namespace"}}, pod)')],
    )


def persistent_volumes() -> Board:
    vol = f'job="kubelet",{C},namespace=~"$namespace"'
    return Board(
        "persistent-volumes",
        "Persistent volumes",
        "Space and inodes of mounted persistent volume claims (the kubelet's volume statistics), and volumes' phases from kube-state-metrics.",
        [
            Row(
                "Claims",
                [
                    ts(
                        "Space used",
                        "percentunit",
                        "Used share of each mounted claim's capacity.",
                        (f"kubelet_volume_stats_used_bytes{{{vol}}} / kubelet_volume_stats_capacity_bytes{{{vol}}}", "{{namespace}}/{{persistentvolumeclaim}}"),
                    ),
                    ts(
                        "Space available",
                        "bytes",
                        "Bytes left on each mounted claim.",
                        (f"kubelet_volume_stats_available_bytes{{{vol}}}", "{{namespace}}/{{persistentvolumeclaim}}"),
                    ),
                    ts(
                        "Inodes used",
                        "percentunit",
                        "Used share of each mounted claim's inodes.",
                        (f"kubelet_volume_stats_inodes_used{{{vol}}} / kubelet_volume_stats_inodes{{{vol}}}", "{{namespace}}/{{persistentvolumeclaim}}"),
                    ),
                    ts(
                        "Volumes by phase",
                        "none",
                        "Persistent volumes in each phase (Failed and Pending ones need attention).",
                        (f"sum by (phase) (kube_persistentvolume_status_phase{{{KSM},{C}}})", "{{phase}}"),
                    ),
                ],
            ),
        ],
        [("namespace", "Namespace", f'label_values(kubelet_volume_stats_capacity_bytes{{job="kubelet",{C}}}, namespace)')],
    )


def network() -> Board:
    ns = f'{C},namespace=~"$namespace"'
    return Board(
        "network",
        "Network",
        "Bytes received and sent per namespace, workload and pod, from the rule library's recording rules over cAdvisor's pod network counters.",
        [
            Row(
                "Namespaces",
                [
                    ts(
                        "Received by namespace",
                        "Bps",
                        "Bytes per second the namespace's pods receive. Click a series for its namespace.",
                        (f"sum by (namespace) (namespace:container_network_receive_bytes:sum_rate5m{{{ns}}})", "{{namespace}}"),
                        link=to_namespace(),
                    ),
                    ts(
                        "Sent by namespace",
                        "Bps",
                        "Bytes per second the namespace's pods send. Click a series for its namespace.",
                        (f"sum by (namespace) (namespace:container_network_transmit_bytes:sum_rate5m{{{ns}}})", "{{namespace}}"),
                        link=to_namespace(),
                    ),
                ],
            ),
            Row(
                "Workloads",
                [
                    ts(
                        "Received by workload",
                        "Bps",
                        "Bytes per second each workload's pods receive. Click a series for the workload.",
                        (f"namespace_workload:container_network_receive_bytes:sum_rate5m{{{ns}}}", "{{namespace}}/{{workload}}"),
                        link=TO_WORKLOAD,
                    ),
                    ts(
                        "Sent by workload",
                        "Bps",
                        "Bytes per second each workload's pods send. Click a series for the workload.",
                        (f"namespace_workload:container_network_transmit_bytes:sum_rate5m{{{ns}}}", "{{namespace}}/{{workload}}"),
                        link=TO_WORKLOAD,
                    ),
                ],
            ),
            Row(
                "Pods",
                [
                    ts(
                        "Top pods received",
                        "Bps",
                        "The ten pods receiving most. Click a series for the pod.",
                        (f"topk(10, node_namespace_pod:container_network_receive_bytes:sum_rate5m{{{ns}}})", "{{namespace}}/{{pod}}"),
                        link=TO_POD,
                    ),
                    ts(
                        "Top pods sent",
                        "Bps",
                        "The ten pods sending most. Click a series for the pod.",
                        (f"topk(10, node_namespace_pod:container_network_transmit_bytes:sum_rate5m{{{ns}}})", "{{namespace}}/{{pod}}"),
                        link=TO_POD,
                    ),
                ],
            ),
        ],
        [NAMESPACE_VAR],
    )


def nodes() -> Board:
    node = f'{C},instance=~"$instance"'
    ne = f'job="node-exporter",{node}'
    return Board(
        "nodes",
        "Nodes",
        "Per-node CPU, memory, load, disk and network from node-exporter, mostly through the rule library's node recording rules.",
        [
            Row(
                "Utilisation",
                [
                    ts("CPU busy", "percentunit", "Share of CPU time not idle (recorded).", (f"node:node_cpu_utilisation:rate5m{{{node}}}", "{{instance}}")),
                    ts(
                        "Memory used",
                        "percentunit",
                        "Share of memory not available (recorded).",
                        (f"node:node_memory_utilisation:ratio{{{node}}}", "{{instance}}"),
                    ),
                    ts(
                        "Load (15m) per CPU",
                        "short",
                        "15-minute load average over the node's cores (recorded).",
                        (f"node:node_load15_per_cpu:ratio{{{node}}}", "{{instance}}"),
                    ),
                    ts(
                        "Filesystem used",
                        "percentunit",
                        "Used share of each real filesystem.",
                        (
                            f'1 - node_filesystem_avail_bytes{{{ne},fstype!~"tmpfs|overlay|squashfs"}} / node_filesystem_size_bytes{{{ne},fstype!~"tmpfs|overlay|squashfs"}}',
                            "{{instance}} {{mountpoint}}",
                        ),
                    ),
                ],
            ),
            Row(
                "Traffic",
                [
                    ts(
                        "Network received / sent",
                        "Bps",
                        "Bytes per second on physical interfaces (recorded), received up and sent down.",
                        (f"node:node_network_receive_bytes_physical:sum_rate5m{{{node}}}", "{{instance}} in"),
                        (f"-node:node_network_transmit_bytes_physical:sum_rate5m{{{node}}}", "{{instance}} out"),
                    ),
                    ts(
                        "Disk read / written",
                        "Bps",
                        "Bytes per second read (up) and written (down), over all disks.",
                        (f"sum by (instance) (rate(node_disk_read_bytes_total{{{ne}}}[$__rate_interval]))", "{{instance}} read"),
                        (f"-sum by (instance) (rate(node_disk_written_bytes_total{{{ne}}}[$__rate_interval]))", "{{instance}} written"),
                    ),
                ],
            ),
        ],
        [("instance", "Node", f'label_values(node_uname_info{{job="node-exporter",{C}}}, instance)')],
    )


def apiserver() -> Board:
    return Board(
        "apiserver",
        "API server",
        "The kube-apiservers' request rates, error ratios and latency quantiles from the rule library's recording rules, and their work queue.",
        [
            Row(
                "Requests",
                [
                    ts(
                        "Requests by code",
                        "reqps",
                        "Requests per second each apiserver answers, by HTTP code (recorded).",
                        (f"sum by (code) (instance_verb_code:apiserver_request:sum_rate5m{{{C}}})", "{{code}}"),
                    ),
                    ts(
                        "Error ratio (5xx)",
                        "percentunit",
                        "Share of requests each apiserver answers with a 5xx code (recorded).",
                        (f"instance:apiserver_request_errors:ratio_rate5m{{{C}}}", "{{instance}}"),
                    ),
                    ts(
                        "Latency p99 by verb",
                        "s",
                        "99th percentile duration of short-lived requests, by verb (recorded; watches and exec excluded).",
                        (f'max by (verb) (instance_verb:apiserver_request_duration_seconds:histogram_quantile{{{C},quantile="0.99"}})', "{{verb}}"),
                    ),
                    ts(
                        "Latency p50 by verb",
                        "s",
                        "Median duration of short-lived requests, by verb (recorded).",
                        (f'max by (verb) (instance_verb:apiserver_request_duration_seconds:histogram_quantile{{{C},quantile="0.5"}})', "{{verb}}"),
                    ),
                ],
            ),
            Row(
                "Server",
                [
                    ts(
                        "Requests in flight",
                        "short",
                        "Requests each apiserver is serving now, by kind (mutating or read-only).",
                        (f'sum by (instance, request_kind) (apiserver_current_inflight_requests{{job="apiserver",{C}}})', "{{instance}} {{request_kind}}"),
                    ),
                    ts("Apiservers up", "none", "Apiservers whose last scrape succeeded.", (f'sum(up{{job="apiserver",{C}}})', "up")),
                ],
            ),
        ],
    )


def etcd() -> Board:
    e = f'job="etcd",{C}'
    return Board(
        "etcd",
        "etcd",
        "etcd members: leadership, proposals, disk latency and database size (job `etcd`).",
        [
            Row(
                "Cluster",
                [
                    stat(
                        "Members with a leader", "none", "Members that see a leader; fewer than all means a partition.", f"sum(etcd_server_has_leader{{{e}}})"
                    ),
                    stat(
                        "Leader changes (1h)",
                        "none",
                        "Leader elections over the last hour; frequent ones mean an unstable cluster.",
                        f"sum(increase(etcd_server_leader_changes_seen_total{{{e}}}[1h]))",
                    ),
                    stat("Members up", "none", "Members whose last scrape succeeded.", f"sum(up{{{e}}})"),
                    stat(
                        "Failed proposals (1h)",
                        "none",
                        "Proposals that failed over the last hour.",
                        f"sum(increase(etcd_server_proposals_failed_total{{{e}}}[1h]))",
                    ),
                ],
            ),
            Row(
                "Disk",
                [
                    ts(
                        "WAL fsync p99",
                        "s",
                        "99th percentile duration of WAL fsyncs; slow disks make a slow cluster.",
                        (
                            f"histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket{{{e}}}[$__rate_interval])))",
                            "{{instance}}",
                        ),
                    ),
                    ts(
                        "Backend commit p99",
                        "s",
                        "99th percentile duration of backend commits.",
                        (
                            f"histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_backend_commit_duration_seconds_bucket{{{e}}}[$__rate_interval])))",
                            "{{instance}}",
                        ),
                    ),
                    ts(
                        "Database size / quota",
                        "percentunit",
                        "Database size over its backend quota; at the quota etcd refuses writes.",
                        (f"etcd_mvcc_db_total_size_in_bytes{{{e}}} / etcd_server_quota_backend_bytes{{{e}}}", "{{instance}}"),
                    ),
                ],
            ),
        ],
    )


def kubelet() -> Board:
    k = f'job="kubelet",{C}'
    return Board(
        "kubelet",
        "Kubelet",
        "Kubelets: running pods and containers, pod lifecycle event generator latency, operations and certificate lifetimes (job `kubelet`).",
        [
            Row(
                "Kubelets",
                [
                    stat("Kubelets up", "none", "Kubelets whose last scrape succeeded.", f"sum(up{{{k}}})"),
                    ts("Running pods", "none", "Pods each kubelet runs.", (f"kubelet_running_pods{{{k}}}", "{{node}}")),
                    ts(
                        "Running containers",
                        "none",
                        "Containers each kubelet runs, by state.",
                        (f"sum by (node, container_state) (kubelet_running_containers{{{k}}})", "{{node}} {{container_state}}"),
                    ),
                    ts(
                        "PLEG relist p99",
                        "s",
                        "99th percentile duration of the pod lifecycle event generator's relist; over seconds the node turns NotReady.",
                        (
                            f"histogram_quantile(0.99, sum by (node, le) (rate(kubelet_pleg_relist_duration_seconds_bucket{{{k}}}[$__rate_interval])))",
                            "{{node}}",
                        ),
                    ),
                    ts(
                        "CPU of the node's pods",
                        "short",
                        "CPU cores the pods on each kubelet's node use (recorded from the kubelet's cAdvisor).",
                        (f"sum by (node) (node_namespace_pod:container_cpu_usage_seconds:sum_rate5m{{{C}}})", "{{node}}"),
                    ),
                    ts(
                        "Memory of the node's pods",
                        "bytes",
                        "Working-set memory of the pods on each kubelet's node (recorded from the kubelet's cAdvisor).",
                        (f"sum by (node) (node_namespace_pod:container_memory_working_set_bytes:sum{{{C}}})", "{{node}}"),
                    ),
                    ts(
                        "Client certificate lifetime left",
                        "s",
                        "Seconds until each kubelet's client certificate expires.",
                        (f"kubelet_certificate_manager_client_ttl_seconds{{{k}}}", "{{node}}"),
                    ),
                ],
            ),
        ],
    )


def coredns() -> Board:
    d = f'job="coredns",{C}'
    return Board(
        "coredns",
        "CoreDNS",
        "The cluster's DNS: request rate, response codes and latency (job `coredns`).",
        [
            Row(
                "DNS",
                [
                    stat("Servers up", "none", "CoreDNS pods whose last scrape succeeded.", f"sum(up{{{d}}})"),
                    ts(
                        "Responses by code",
                        "reqps",
                        "Responses per second, by response code (SERVFAIL means upstream or plugin trouble).",
                        (f"sum by (rcode) (rate(coredns_dns_responses_total{{{d}}}[$__rate_interval]))", "{{rcode}}"),
                    ),
                    ts(
                        "Request latency p99",
                        "s",
                        "99th percentile time to answer a request, by server.",
                        (
                            f"histogram_quantile(0.99, sum by (server, le) (rate(coredns_dns_request_duration_seconds_bucket{{{d}}}[$__rate_interval])))",
                            "{{server}}",
                        ),
                    ),
                ],
            ),
        ],
    )


def prometheus() -> Board:
    p = f'job="prometheus",{C}'
    return Board(
        "prometheus",
        "Prometheus",
        "The stack's Prometheus: targets, ingestion, storage, rules and queries.",
        [
            Row(
                "Targets",
                [
                    ts(
                        "Targets up / down by job",
                        "none",
                        "Targets of each job whose last scrape succeeded, and those whose scrape failed.",
                        (f"sum by (job) (up{{{C}}})", "{{job}} up"),
                        (f"count by (job) (up{{{C}}} == 0)", "{{job}} down"),
                    ),
                    ts("Scrape duration (max) by job", "s", "Longest scrape of each job.", (f"max by (job) (scrape_duration_seconds{{{C}}})", "{{job}}")),
                ],
            ),
            Row(
                "Storage",
                [
                    ts(
                        "Samples appended",
                        "short",
                        "Samples per second written to the head block.",
                        (f"sum by (instance) (rate(prometheus_tsdb_head_samples_appended_total{{{p}}}[$__rate_interval]))", "{{instance}}"),
                    ),
                    ts("Head series", "short", "Series in the head block.", (f"prometheus_tsdb_head_series{{{p}}}", "{{instance}}")),
                    ts("Block storage", "bytes", "Bytes of persisted blocks.", (f"prometheus_tsdb_storage_blocks_bytes{{{p}}}", "{{instance}}")),
                    ts("Memory (RSS)", "bytes", "Resident memory of the Prometheus process.", (f"process_resident_memory_bytes{{{p}}}", "{{instance}}")),
                ],
            ),
            Row(
                "Rules and queries",
                [
                    ts(
                        "Rule evaluation failures",
                        "short",
                        "Failed rule evaluations per second, by group.",
                        (f"sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total{{{p}}}[$__rate_interval]))", "{{rule_group}}"),
                    ),
                    ts(
                        "Query latency p90",
                        "s",
                        "90th percentile duration of query stages.",
                        (f'max by (slice) (prometheus_engine_query_duration_seconds{{{p},quantile="0.9"}})', "{{slice}}"),
                    ),
                    ts(
                        "Configuration reload succeeded",
                        "bool",
                        "1 when the last reload of prometheus.yml and the rule files succeeded.",
                        (f"prometheus_config_last_reload_successful{{{p}}}", "{{instance}}"),
                    ),
                    ts(
                        "Notifications failed",
                        "percentunit",
                        "Share of alert notifications to Alertmanager that failed.",
                        (
                            f"sum by (instance) (rate(prometheus_notifications_errors_total{{{p}}}[$__rate_interval]))"
                            f" / sum by (instance) (rate(prometheus_notifications_sent_total{{{p}}}[$__rate_interval]))",
                            "{{instance}}",
                        ),
                    ),
                ],
            ),
        ],
    )


def alertmanager() -> Board:
    a = f'job="alertmanager",{C}'
    return Board(
        "alertmanager",
        "Alertmanager",
        "The stack's Alertmanager: alerts received, notifications sent and failed per integration, cluster membership (job `alertmanager`).",
        [
            Row(
                "Alertmanager",
                [
                    ts(
                        "Active alerts",
                        "none",
                        "Alerts each instance holds, by state.",
                        (f"sum by (instance, state) (alertmanager_alerts{{{a}}})", "{{instance}} {{state}}"),
                    ),
                    ts(
                        "Notifications by integration",
                        "short",
                        "Notifications sent per second, by integration.",
                        (f"sum by (integration) (rate(alertmanager_notifications_total{{{a}}}[$__rate_interval]))", "{{integration}}"),
                    ),
                    ts(
                        "Notifications failed",
                        "short",
                        "Failed notifications per second, by integration.",
                        (f"sum by (integration) (rate(alertmanager_notifications_failed_total{{{a}}}[$__rate_interval]))", "{{integration}}"),
                    ),
                    ts(
                        "Cluster members", "none", "Members each instance sees in its gossip cluster.", (f"alertmanager_cluster_members{{{a}}}", "{{instance}}")
                    ),
                ],
            ),
        ],
    )


def metrics_apis() -> Board:
    groups = 'group=~"metrics.k8s.io|custom.metrics.k8s.io|external.metrics.k8s.io"'
    return Board(
        "metrics-apis",
        "Metrics APIs",
        "Health of the aggregated metrics APIs (metrics-server, prometheus-adapter) as the kube-apiserver sees them, and of the HPAs that use them.",
        [
            Row(
                "APIs",
                [
                    ts(
                        "Unavailable APIServices",
                        "none",
                        "1 while the apiserver cannot reach the APIService's backend.",
                        (f'max by (name) (aggregator_unavailable_apiservice{{job="apiserver",{C}}})', "{{name}}"),
                    ),
                    ts(
                        "Requests by API group and code",
                        "reqps",
                        "Requests per second to the metrics API groups, by code.",
                        (f'sum by (group, code) (rate(apiserver_request_total{{job="apiserver",{C},{groups}}}[$__rate_interval]))', "{{group}} {{code}}"),
                    ),
                    ts(
                        "Request latency p99",
                        "s",
                        "99th percentile duration of requests to the metrics API groups.",
                        (
                            f'histogram_quantile(0.99, sum by (le, group) (rate(apiserver_request_duration_seconds_bucket{{job="apiserver",{C},{groups}}}[$__rate_interval])))',
                            "{{group}}",
                        ),
                    ),
                ],
            ),
            Row(
                "HPAs",
                [
                    ts(
                        "HPAs unable to scale",
                        "none",
                        "ScalingActive=false: the HPA gets no metrics.",
                        (
                            f'sum by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_condition{{{KSM},{C},condition="ScalingActive",status="false"}}) > 0',
                            "{{namespace}}/{{horizontalpodautoscaler}}",
                        ),
                    ),
                    ts(
                        "HPA replicas: current / desired",
                        "none",
                        "Replicas each HPA has and wants.",
                        (f"kube_horizontalpodautoscaler_status_current_replicas{{{KSM},{C}}}", "{{namespace}}/{{horizontalpodautoscaler}} current"),
                        (f"kube_horizontalpodautoscaler_status_desired_replicas{{{KSM},{C}}}", "{{namespace}}/{{horizontalpodautoscaler}} desired"),
                    ),
                ],
            ),
        ],
    )


def thanos() -> Board:
    q = f'job="thanos-query",{C}'
    s = f'job="thanos-sidecar",{C}'
    return Board(
        "thanos",
        "Thanos",
        "Thanos Query (the global view over replicas and shards) and the sidecars beside each Prometheus.",
        [
            Row(
                "Query",
                [
                    ts(
                        "Query requests by code",
                        "reqps",
                        "HTTP requests per second to Thanos Query, by handler and code.",
                        (f"sum by (handler, code) (rate(http_requests_total{{{q}}}[$__rate_interval]))", "{{handler}} {{code}}"),
                    ),
                    ts("Query memory (RSS)", "bytes", "Resident memory of Thanos Query.", (f"process_resident_memory_bytes{{{q}}}", "{{instance}}")),
                ],
            ),
            Row(
                "Sidecars",
                [
                    ts("Sidecars up", "none", "Sidecars whose last scrape succeeded.", (f"sum(up{{{s}}})", "up")),
                    ts(
                        "Blocks uploaded",
                        "short",
                        "Blocks the sidecars uploaded to object storage over the last hour.",
                        (f'sum by (instance) (increase(thanos_objstore_bucket_operations_total{{{s},operation="upload"}}[1h]))', "{{instance}}"),
                    ),
                ],
            ),
        ],
    )


BOARDS = (
    cluster,
    namespaces,
    workloads,
    pods,
    persistent_volumes,
    network,
    nodes,
    apiserver,
    etcd,
    kubelet,
    coredns,
    prometheus,
    alertmanager,
    metrics_apis,
    thanos,
)


def _variable(name: str, label: str, query: str) -> dict[str, object]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        # `.*`, not `.+`: series without the label (a single cluster's, which carry no external label) match too.
        "allValue": ".*" if name == "cluster" else ".+",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, object]:
    height = 4 if panel.kind == "stat" else 8
    defaults: dict[str, object] = {"unit": panel.unit}
    if panel.link is not None:
        board, query = panel.link
        url = f"/d/kmc-{board}/{board}?${{cluster:queryparam}}&{query}&${{__url_time_range}}"
        defaults["links"] = [{"title": f"Open in {board}", "url": url}]
    out: dict[str, object] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + index), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend} for index, (expr, legend) in enumerate(panel.exprs)
        ],
    }
    if panel.kind == "stat":
        out["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value", "graphMode": "area"}
    else:
        out["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}, "tooltip": {"mode": "multi", "sort": "desc"}}
    return out


def dashboard(board: Board) -> dict[str, object]:
    panels: list[dict[str, object]] = []
    y = 0
    for row in board.rows:
        panels.append(
            {"id": len(panels) + 1, "type": "row", "title": row.title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []}
        )
        y += 1
        x, height = 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y = 0, y + height
            body = _panel(panel, len(panels) + 1, x, y)
            panels.append(body)
            height = max(height, body["gridPos"]["h"])  # type: ignore[index]
            x += panel.width
        y += height
    variables = [("cluster", "Cluster", "label_values(up, cluster)"), *board.variables]
    return {
        "uid": f"kmc-{board.name}",
        "title": board.title,
        "description": board.description,
        "tags": ["kmc", "kubernetes"],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "links": [{"title": "kmc dashboards", "type": "dashboards", "tags": ["kmc"], "asDropdown": True, "includeVars": True, "keepTime": True}],
        "templating": {"list": [_variable(*variable) for variable in variables]},
        "panels": panels,
    }


def files() -> dict[str, str]:
    """Each library file's path (relative to the repository) and text, as the library keeps it."""
    return {f"library/dashboards/{board().name}.json": json.dumps(dashboard(board()), indent=2, ensure_ascii=False) + "\n" for board in BOARDS}


def main() -> int:
    directory = ROOT / "library/dashboards"
    written = files()
    for stale in sorted(directory.glob("*.json")):
        if f"library/dashboards/{stale.name}" not in written:
            stale.unlink()
    for path, text in written.items():
        (ROOT / path).write_text(text, encoding="utf-8")
    print(f"wrote {len(written)} dashboards", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
