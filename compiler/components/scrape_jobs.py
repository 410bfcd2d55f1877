"""The scrape configs of prometheus.yml.

Exactly-once scraping by construction: every dedicated job *claims* the pods it scrapes (by
namespace and pod label), and the annotation-driven jobs drop claimed pods. kmc's own pods are
claimed as one (the stack's namespace, `app.kubernetes.io/part-of: kmc`): each has a job of its
own, and the claim stays the same whichever components an environment switches on. The service-endpoints
job leaves pods that are annotated themselves to the pod job; the plain jobs leave
`scrape_slow` targets to the slow jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kmc.components import config_reloader, exposure, job_names, monitor_jobs, sharding, thanos
from kmc.components.base import ServiceTarget
from kmc.components.kube import PART_OF, sanitize
from kmc.model import ComponentJob, Stack
from kmc.record import record

if TYPE_CHECKING:
    Job = dict[str, Any]

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
ETCD_KEYS = ("ca.crt", "tls.crt", "tls.key")  # the etcd client Secret's keys: CA, certificate, key
ETCD_CERTS = "/etc/prometheus-secrets/etcd"  # beside the config mount, not in it: no mount nests in another
KUBE_SYSTEM = "kube-system"


@record
class Claim:
    """Pods in `namespace` with label `label=value` belong to a dedicated job."""

    namespace: str
    label: str
    value: str


@record
class PodJob:
    """A Kubernetes component found as pods in kube-system by one label."""

    job: str
    label: str
    value: str
    port: int
    https: bool


POD_JOBS: Mapping[str, PodJob] = {
    "controller_manager": PodJob("kube-controller-manager", "component", "kube-controller-manager", 10257, True),
    "scheduler": PodJob("kube-scheduler", "component", "kube-scheduler", 10259, True),
    "kube_proxy": PodJob("kube-proxy", "k8s-app", "kube-proxy", 10249, False),
    "coredns": PodJob("coredns", "k8s-app", "kube-dns", 9153, False),
}
APISERVER_CLAIM = Claim(KUBE_SYSTEM, "component", "kube-apiserver")
ETCD_CLAIM = Claim(KUBE_SYSTEM, "component", "etcd")


def scrape_configs(stack: Stack, targets: tuple[ServiceTarget, ...]) -> list[Job]:
    """All jobs of the stack, in a fixed order: kmc's, the imported monitors' (kmc.components.monitor_jobs),
    then the extra jobs as written.

    The component jobs carry the `job` labels of `scrape.jobNames` (kmc.components.job_names).
    Annotation jobs leave whatever a monitor selects to it; with `monitors.precedence: monitor`
    the component jobs do too, and a component job a monitor takes over whole is left out."""
    kube = stack.scrape.kubernetes
    monitors = stack.monitors
    taken = set(monitors.taken_jobs)
    win = monitors.precedence == "monitor"
    jobs: list[Job] = [_pod_local(sharding.SELF_JOB, 9090, exposure.prefix(stack, "prometheus") + "/metrics")]
    jobs.append(_pod_local(sharding.RELOADER_JOB, config_reloader.PORT))
    if stack.prometheus.thanos_sidecar:
        jobs.append(_pod_local(sharding.THANOS_SIDECAR_JOB, thanos.HTTP_PORT))
    claims: list[Claim] = [Claim(stack.namespace, "app.kubernetes.io/part-of", PART_OF)]
    component: list[tuple[Job, tuple[str, ...], bool]] = []  # discovering jobs: namespaces, whether EndpointSlices
    if kube.apiserver.enabled:
        component.append((_apiserver(kube.apiserver), ("default",), True))
        claims.append(APISERVER_CLAIM)
    if kube.kubelet.enabled:
        component.append((_node_job("kubelet", "/metrics", kube.kubelet), (), False))
    if kube.cadvisor.enabled:
        component.append((_node_job("cadvisor", "/metrics/cadvisor", kube.cadvisor), (), False))
    for field, spec in POD_JOBS.items():
        settings: ComponentJob = getattr(kube, field)
        if settings.enabled:
            component.append((_pod_job(spec, settings.insecure_skip_verify), (KUBE_SYSTEM,), False))
            claims.append(Claim(KUBE_SYSTEM, spec.label, spec.value))
    if kube.etcd.enabled:
        component.append((_etcd(stack), (KUBE_SYSTEM,), False))
        claims.append(ETCD_CLAIM)
    for target in targets:
        assert target.namespace == stack.namespace, "kmc's own pods are claimed in the stack's namespace"
        component.append((_service_target(target), (target.namespace,), True))
    for job, namespaces, slices in component:
        if job["job_name"] in taken:
            continue
        steps = job_names.relabeling(job["job_name"], stack.scrape.job_names)
        if win and namespaces:
            steps += monitor_jobs.leave_to_monitors(monitors.selections, namespaces, services=slices)
        if steps:
            job["relabel_configs"] = [*job["relabel_configs"], *steps]
        jobs.append(job)
    prefix = sanitize(stack.scrape.annotation_prefix)
    slow = {"scrape_interval": stack.scrape.slow_interval, "scrape_timeout": stack.scrape.slow_timeout}
    pods_left = monitor_jobs.leave_to_monitors(monitors.selections, None, services=False)
    slices_left = monitor_jobs.leave_to_monitors(monitors.selections, None, services=True)
    if stack.scrape.pods:
        jobs.append(_annotated_pods("kubernetes-pods", prefix, claims, pods_left, slow=False))
        jobs.append({**_annotated_pods("kubernetes-pods-slow", prefix, claims, pods_left, slow=True), **slow})
    if stack.scrape.services:
        leave = stack.scrape.pods
        jobs.append(_annotated_services("kubernetes-service-endpoints", prefix, claims, slices_left, slow=False, leave_annotated_pods=leave))
        jobs.append({**_annotated_services("kubernetes-service-endpoints-slow", prefix, claims, slices_left, slow=True, leave_annotated_pods=leave), **slow})
    jobs.extend(dict(job) for job in monitors.jobs)
    jobs.extend(dict(job) for job in stack.scrape.extra_jobs)
    return [_ordered(job) for job in jobs]


# Keys first in this order, the rest alphabetically: prometheus.yml reads job by job.
_KEY_ORDER = ("job_name", "scrape_interval", "scrape_timeout", "scheme", "metrics_path", "honor_labels")


def _ordered(job: Job) -> Job:
    first = [key for key in _KEY_ORDER if key in job]
    return {key: job[key] for key in [*first, *sorted(set(job) - set(first))]}


def _tls(insecure: bool) -> dict[str, Any]:
    tls: dict[str, Any] = {"ca_file": f"{SA_DIR}/ca.crt"}
    if insecure:
        tls["insecure_skip_verify"] = True
    return tls


def _token() -> dict[str, Any]:
    return {"type": "Bearer", "credentials_file": f"{SA_DIR}/token"}


def _keep(sources: list[str], regex: str) -> dict[str, Any]:
    return {"action": "keep", "regex": regex, "source_labels": sources}


def _drop(sources: list[str], regex: str) -> dict[str, Any]:
    return {"action": "drop", "regex": regex, "source_labels": sources}


def _copy(source: str, target: str) -> dict[str, Any]:
    return {"action": "replace", "source_labels": [source], "target_label": target}


def _pod_labels() -> list[dict[str, Any]]:
    return [
        _copy("__meta_kubernetes_namespace", "namespace"),
        _copy("__meta_kubernetes_pod_name", "pod"),
        _copy("__meta_kubernetes_pod_node_name", "node"),
    ]


def _pod_address(port_source: str | None, port: int | None = None) -> list[dict[str, Any]]:
    """Point the target at the pod IP and a port; IPv6 addresses are bracketed."""
    if port_source is not None:
        sources, v6, v4 = [port_source, "__meta_kubernetes_pod_ip"], (r"(\d+);(.*:.*)", "[$2]:$1"), (r"(\d+);([^:]+)", "$2:$1")
    else:
        sources, v6, v4 = ["__meta_kubernetes_pod_ip"], ("(.*:.*)", f"[$1]:{port}"), ("([^:]+)", f"$1:{port}")
    return [
        {"action": "replace", "regex": regex, "replacement": replacement, "source_labels": sources, "target_label": "__address__"}
        for regex, replacement in (v4, v6)
    ]


def _pod_local(name: str, port: int, path: str = "/metrics") -> Job:
    """A container of the Prometheus pod itself: every replica and shard scrapes its own."""
    job: Job = {"job_name": name, "static_configs": [{"targets": [f"localhost:{port}"]}]}
    if path != "/metrics":
        job["metrics_path"] = path
    return job


def _apiserver(job: ComponentJob) -> Job:
    return {
        "job_name": "apiserver",
        "scheme": "https",
        "authorization": _token(),
        "tls_config": _tls(job.insecure_skip_verify),
        "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": {"names": ["default"]}}],
        "relabel_configs": [
            _keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"], "kubernetes;https"),
        ],
    }


def _node_job(name: str, path: str, job: ComponentJob) -> Job:
    return {
        "job_name": name,
        "scheme": "https",
        "metrics_path": path,
        "authorization": _token(),
        "tls_config": _tls(job.insecure_skip_verify),
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [_copy("__meta_kubernetes_node_name", "node")],
    }


def _kube_system_pods(label: str, value: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "pod",
            "namespaces": {"names": [KUBE_SYSTEM]},
            "selectors": [{"role": "pod", "label": f"{label}={value}"}],
        }
    ]


def _running() -> list[dict[str, Any]]:
    return [
        _keep(["__meta_kubernetes_pod_phase"], "Running"),
        _drop(["__meta_kubernetes_pod_container_init"], "true"),
    ]


def _pod_job(spec: PodJob, insecure: bool) -> Job:
    job: Job = {
        "job_name": spec.job,
        "kubernetes_sd_configs": _kube_system_pods(spec.label, spec.value),
        "relabel_configs": [*_running(), *_pod_address(None, spec.port), *_pod_labels()],
    }
    if spec.https:
        job.update(scheme="https", authorization=_token(), tls_config=_tls(insecure))
    return job


def _etcd(stack: Stack) -> Job:
    etcd = stack.scrape.kubernetes.etcd
    tls: dict[str, Any] = {
        "ca_file": f"{ETCD_CERTS}/{ETCD_KEYS[0]}",
        "cert_file": f"{ETCD_CERTS}/{ETCD_KEYS[1]}",
        "key_file": f"{ETCD_CERTS}/{ETCD_KEYS[2]}",
    }
    if etcd.insecure_skip_verify:
        tls["insecure_skip_verify"] = True
    return {
        "job_name": "etcd",
        "scheme": "https",
        "tls_config": tls,
        "kubernetes_sd_configs": _kube_system_pods(ETCD_CLAIM.label, ETCD_CLAIM.value),
        "relabel_configs": [*_running(), *_pod_address(None, etcd.port), *_pod_labels()],
    }


def _service_target(target: ServiceTarget) -> Job:
    job: Job = {
        "job_name": target.job,
        "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": {"names": [target.namespace]}}],
        "relabel_configs": [
            _keep(
                ["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
                f"{target.service};{target.port_name}",
            ),
            _copy("__meta_kubernetes_endpointslice_endpoint_node_name", "node"),
        ],
    }
    if target.tls is not None:
        tls: dict[str, Any] = {"server_name": target.tls.server_name}
        if target.tls.ca_file is None:
            tls["insecure_skip_verify"] = True
        else:
            tls["ca_file"] = target.tls.ca_file
        job.update(scheme="https", authorization=_token(), tls_config=tls)
    if target.metrics_path != "/metrics":
        job["metrics_path"] = target.metrics_path
    if target.honor_labels:
        job["honor_labels"] = True
    else:
        job["relabel_configs"] += [_copy("__meta_kubernetes_namespace", "namespace"), _copy("__meta_kubernetes_pod_name", "pod")]
    return job


def _claim_drops(claims: list[Claim]) -> list[dict[str, Any]]:
    return [
        _drop(["__meta_kubernetes_namespace", f"__meta_kubernetes_pod_label_{sanitize(claim.label)}"], f"{claim.namespace};{claim.value}") for claim in claims
    ]


def _discovery(kind: str, prefix: str, slow: bool) -> list[dict[str, Any]]:
    """Keep the targets annotated for this job; the plain job leaves slow ones to the slow job."""
    annotation = f"__meta_kubernetes_{kind}_annotation_{prefix}_"
    steps = [_keep([annotation + ("scrape_slow" if slow else "scrape")], "true")]
    if not slow:
        steps.append(_drop([annotation + "scrape_slow"], "true"))
    return steps


def _annotation_overrides(kind: str, prefix: str) -> list[dict[str, Any]]:
    annotation = f"__meta_kubernetes_{kind}_annotation_{prefix}_"
    return [
        {"action": "replace", "regex": "(https?)", "source_labels": [annotation + "scheme"], "target_label": "__scheme__"},
        {"action": "replace", "regex": "(.+)", "source_labels": [annotation + "path"], "target_label": "__metrics_path__"},
        {"action": "labelmap", "regex": f"{annotation}param_(.+)", "replacement": "__param_$1"},
    ]


def _annotated_pods(name: str, prefix: str, claims: list[Claim], monitored: list[dict[str, Any]], *, slow: bool) -> Job:
    return {
        "job_name": name,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            *_discovery("pod", prefix, slow),
            *_running(),
            *_claim_drops(claims),
            *monitored,
            *_annotation_overrides("pod", prefix),
            *_pod_address(f"__meta_kubernetes_pod_annotation_{prefix}_port"),
            *_pod_labels(),
        ],
    }


def _annotated_services(name: str, prefix: str, claims: list[Claim], monitored: list[dict[str, Any]], *, slow: bool, leave_annotated_pods: bool) -> Job:
    pod_annotation = f"__meta_kubernetes_pod_annotation_{prefix}_"
    # EndpointSlice discovery also makes a target of every container port of a backing pod that
    # the service does not expose; those carry no slice port. Scraping them would hit ports the
    # service never offered, and with a `port` annotation they would become second targets of
    # the same URL.
    steps = [*_discovery("service", prefix, slow), _keep(["__meta_kubernetes_endpointslice_port"], ".+")]
    if leave_annotated_pods:
        # The pod jobs scrape these pods already.
        steps.append(_drop([pod_annotation + "scrape", pod_annotation + "scrape_slow"], "true;.*|.*;true"))
    steps += [
        *_claim_drops(claims),
        *monitored,
        *_annotation_overrides("service", prefix),
        {
            "action": "replace",
            "regex": r"(.+?)(?::\d+)?;(\d+)",
            "replacement": "$1:$2",
            "source_labels": ["__address__", f"__meta_kubernetes_service_annotation_{prefix}_port"],
            "target_label": "__address__",
        },
        _copy("__meta_kubernetes_namespace", "namespace"),
        _copy("__meta_kubernetes_service_name", "service"),
        _copy("__meta_kubernetes_pod_name", "pod"),
        _copy("__meta_kubernetes_endpointslice_endpoint_node_name", "node"),
    ]
    return {"job_name": name, "kubernetes_sd_configs": [{"role": "endpointslice"}], "relabel_configs": steps}


def prometheus_config(stack: Stack, targets: tuple[ServiceTarget, ...]) -> dict[str, Any]:
    """The whole prometheus.yml as data."""
    return {
        "global": {
            "scrape_interval": stack.prometheus.scrape_interval,
            "scrape_timeout": stack.prometheus.scrape_timeout,
            "evaluation_interval": stack.prometheus.evaluation_interval,
            "external_labels": dict(stack.prometheus.external_labels),
        },
        "scrape_configs": scrape_configs(stack, targets),
    }
