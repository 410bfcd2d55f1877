"""The scrape jobs of the Prometheus Operator's monitors, as the operator would write them.

Written from the operator's documented behaviour (its config generation, pkg/prometheus/promcfg.go
at v0.93.0, read, not copied): a ServiceMonitor endpoint is the job
`serviceMonitor/<namespace>/<name>/<index>` over EndpointSlice discovery, a PodMonitor endpoint
`podMonitor/<namespace>/<name>/<index>` over pod discovery, a Probe `probe/<namespace>/<name>`.
Their relabeling keeps the selected objects and port, and gives each target the labels
`namespace`, `service`, `pod`, `container`, `endpoint`, `job` (the Service's name, the
`<namespace>/<name>` of a PodMonitor, or the value of `jobLabel`) and `instance` (the address).

Secrets are mounted into the Prometheus pods (`SECRETS_DIR/<secret>/<key>`) and the jobs read
them as files, where the operator copies their values into its generated configuration.

Everything here takes objects the validation stage (kmc.check.monitors) has checked against
schema/monitors.schema.json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kmc.components.kube import sanitize
from kmc.model import LabelSelector, MonitorSelection, SecretRef

Job = dict[str, Any]
SECRETS_DIR = "/etc/prometheus-secrets/monitors"  # beside the config mount, not in it
VOLUME_PREFIX = "monitor-secret-"
_TMP = "__tmp_kmc_monitor"  # a scratch label of the steps that leave a monitor's targets to it
# The operator's relabel fields (camelCase) and Prometheus' names for them.
_RELABEL_FIELDS = (
    ("sourceLabels", "source_labels"),
    ("separator", "separator"),
    ("targetLabel", "target_label"),
    ("regex", "regex"),
    ("modulus", "modulus"),
    ("replacement", "replacement"),
    ("action", "action"),
)
_LIMITS = (
    ("sampleLimit", "sample_limit"),
    ("targetLimit", "target_limit"),
    ("labelLimit", "label_limit"),
    ("labelNameLengthLimit", "label_name_length_limit"),
    ("labelValueLengthLimit", "label_value_length_limit"),
)


def secret_file(ref: SecretRef) -> str:
    return f"{SECRETS_DIR}/{ref.secret_name}/{ref.key}"


def selector_of(data: Mapping[str, Any]) -> LabelSelector:
    expressions = tuple((item["key"], item["operator"], tuple(item.get("values", ()))) for item in data.get("matchExpressions", ()))
    return LabelSelector(dict(sorted(data.get("matchLabels", {}).items())), expressions)


def namespaces_of(data: Mapping[str, Any] | None, own: str) -> tuple[str, ...]:
    """The namespaces a namespaceSelector names: () for `any`, the monitor's own when it names none."""
    data = data or {}
    if data.get("any"):
        return ()
    return tuple(data.get("matchNames") or (own,))


def relabel_configs(steps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The operator's relabel steps in Prometheus' spelling (actions in lower case)."""
    out = []
    for step in steps:
        rule = {ours: step[theirs] for theirs, ours in _RELABEL_FIELDS if theirs in step}
        if "action" in rule:
            rule["action"] = str(rule["action"]).lower()
        out.append(rule)
    return out


def _escaped(value: str) -> str:
    return re.escape(value).replace("\\-", "-")


def _selector_steps(selector: LabelSelector, meta: str) -> list[dict[str, Any]]:
    """The operator's keep and drop steps of a label selector over `__meta_kubernetes_<meta>_label_*`."""
    steps = []
    for key, value in selector.match_labels.items():
        label = sanitize(key)
        sources = [f"__meta_kubernetes_{meta}_label_{label}", f"__meta_kubernetes_{meta}_labelpresent_{label}"]
        steps.append({"action": "keep", "regex": f"({_escaped(value)});true", "source_labels": sources})
    for key, operator, values in selector.expressions:
        label = sanitize(key)
        if operator in ("In", "NotIn"):
            sources = [f"__meta_kubernetes_{meta}_label_{label}", f"__meta_kubernetes_{meta}_labelpresent_{label}"]
            regex = f"({'|'.join(_escaped(value) for value in values)});true"
            steps.append({"action": "keep" if operator == "In" else "drop", "regex": regex, "source_labels": sources})
        else:
            sources = [f"__meta_kubernetes_{meta}_labelpresent_{label}"]
            steps.append({"action": "keep" if operator == "Exists" else "drop", "regex": "true", "source_labels": sources})
    return steps


def _copy(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"action": "replace", "source_labels": [source], "target_label": target, **extra}


def _set(target: str, value: str) -> dict[str, Any]:
    return {"action": "replace", "replacement": value, "target_label": target}


def _sd(role: str, namespaces: tuple[str, ...]) -> list[dict[str, Any]]:
    config: dict[str, Any] = {"role": role}
    if namespaces:
        config["namespaces"] = {"names": list(namespaces)}
    return [config]


class Secrets:
    """The Secret keys the jobs of one monitor read, each with who reads it."""

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.used: list[tuple[SecretRef, str]] = []

    def file(self, ref: Mapping[str, Any], what: str) -> str:
        secret = SecretRef(ref["name"], ref["key"])
        self.used.append((secret, f"{self.monitor}'s {what}"))
        return secret_file(secret)


def http_settings(spec: Mapping[str, Any], secrets: Secrets) -> Job:
    """Scheme, path, parameters, timing, TLS and credentials of an endpoint (or a Probe's spec)."""
    job: Job = {}
    for theirs, ours in (
        ("interval", "scrape_interval"),
        ("scrapeTimeout", "scrape_timeout"),
        ("path", "metrics_path"),
        ("honorLabels", "honor_labels"),
        ("honorTimestamps", "honor_timestamps"),
        ("followRedirects", "follow_redirects"),
        ("enableHttp2", "enable_http2"),
    ):
        if theirs in spec:
            job[ours] = spec[theirs]
    if "scheme" in spec:
        job["scheme"] = str(spec["scheme"]).lower()
    if spec.get("params"):
        job["params"] = {name: list(values) for name, values in sorted(spec["params"].items())}
    tls = spec.get("tlsConfig")
    if tls:
        job["tls_config"] = _tls(tls, secrets)
    if "bearerTokenSecret" in spec:
        job["authorization"] = {"type": "Bearer", "credentials_file": secrets.file(spec["bearerTokenSecret"], "bearerTokenSecret")}
    if "authorization" in spec:
        auth = spec["authorization"]
        job["authorization"] = {"type": auth.get("type", "Bearer"), "credentials_file": secrets.file(auth["credentials"], "authorization")}
    if "basicAuth" in spec:
        auth = spec["basicAuth"]
        job["basic_auth"] = {
            "password_file": secrets.file(auth["password"], "basicAuth password"),
            "username_file": secrets.file(auth["username"], "basicAuth username"),
        }
    return job


def _tls(tls: Mapping[str, Any], secrets: Secrets) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "ca" in tls:
        out["ca_file"] = secrets.file(tls["ca"]["secret"], "tlsConfig.ca")
    if "cert" in tls:
        out["cert_file"] = secrets.file(tls["cert"]["secret"], "tlsConfig.cert")
    if "keySecret" in tls:
        out["key_file"] = secrets.file(tls["keySecret"], "tlsConfig.keySecret")
    for theirs, ours in (("caFile", "ca_file"), ("certFile", "cert_file"), ("keyFile", "key_file"), ("serverName", "server_name")):
        if theirs in tls:
            out[ours] = tls[theirs]
    if tls.get("insecureSkipVerify"):
        out["insecure_skip_verify"] = True
    return out


def _limits(spec: Mapping[str, Any]) -> Job:
    return {ours: spec[theirs] for theirs, ours in _LIMITS if theirs in spec}


def _target_label_steps(meta: str, labels: Iterable[str]) -> list[dict[str, Any]]:
    return [_copy(f"__meta_kubernetes_{meta}_label_{sanitize(label)}", sanitize(label), regex="(.+)", replacement="${1}") for label in labels]


def service_monitor(data: Mapping[str, Any], secrets: Secrets) -> list[Job]:
    """The jobs of a ServiceMonitor, one per endpoint."""
    meta, spec = data["metadata"], data["spec"]
    namespace, name = meta["namespace"], meta["name"]
    selector = selector_of(spec["selector"])
    jobs = []
    for index, endpoint in enumerate(spec["endpoints"]):
        steps = [_copy("job", "__tmp_prometheus_job_name"), *_selector_steps(selector, "service")]
        port = _port_steps(endpoint, "__meta_kubernetes_endpointslice_port_name")
        steps += port
        target = ["__meta_kubernetes_endpointslice_address_target_kind", "__meta_kubernetes_endpointslice_address_target_name"]
        steps += [
            {"action": "replace", "regex": "Node;(.*)", "replacement": "${1}", "separator": ";", "source_labels": target, "target_label": "node"},
            {"action": "replace", "regex": "Pod;(.*)", "replacement": "${1}", "separator": ";", "source_labels": target, "target_label": "pod"},
            _copy("__meta_kubernetes_namespace", "namespace"),
            _copy("__meta_kubernetes_service_name", "service"),
            _copy("__meta_kubernetes_pod_name", "pod"),
            _copy("__meta_kubernetes_pod_container_name", "container"),
        ]
        if endpoint.get("filterRunning", True):
            steps.append({"action": "drop", "regex": "(Failed|Succeeded)", "source_labels": ["__meta_kubernetes_pod_phase"]})
        steps += _target_label_steps("service", spec.get("targetLabels", ()))
        steps += _target_label_steps("pod", spec.get("podTargetLabels", ()))
        steps.append(_copy("__meta_kubernetes_service_name", "job", replacement="${1}"))
        if "jobLabel" in spec:
            steps.append(_copy(f"__meta_kubernetes_service_label_{sanitize(spec['jobLabel'])}", "job", regex="(.+)", replacement="${1}"))
        jobs.append(_job(f"serviceMonitor/{namespace}/{name}/{index}", "endpointslice", namespace, spec, endpoint, steps, secrets))
    return jobs


def _job(name: str, role: str, namespace: str, spec: Mapping[str, Any], endpoint: Mapping[str, Any], steps: list[dict[str, Any]], secrets: Secrets) -> Job:
    """A monitor endpoint's job: discovery by `role`, the relabel `steps` that precede the
    endpoint's own, its HTTP settings and the monitor's limits."""
    steps = [*steps, *_endpoint_label(endpoint), *relabel_configs(endpoint.get("relabelings", ()))]
    job: Job = {
        "job_name": name,
        "kubernetes_sd_configs": _sd(role, namespaces_of(spec.get("namespaceSelector"), namespace)),
        **http_settings(endpoint, secrets),
        "relabel_configs": steps,
        **_limits(spec),
    }
    if endpoint.get("metricRelabelings"):
        job["metric_relabel_configs"] = relabel_configs(endpoint["metricRelabelings"])
    return job


def _port_steps(endpoint: Mapping[str, Any], port_name_label: str) -> list[dict[str, Any]]:
    if endpoint.get("port"):
        return [{"action": "keep", "regex": _escaped(endpoint["port"]), "source_labels": [port_name_label]}]
    if endpoint.get("portNumber"):
        return [{"action": "keep", "regex": str(endpoint["portNumber"]), "source_labels": ["__meta_kubernetes_pod_container_port_number"]}]
    target = endpoint.get("targetPort")
    if isinstance(target, str) and target:
        return [{"action": "keep", "regex": _escaped(target), "source_labels": ["__meta_kubernetes_pod_container_port_name"]}]
    if isinstance(target, int) and target:
        return [{"action": "keep", "regex": str(target), "source_labels": ["__meta_kubernetes_pod_container_port_number"]}]
    return []


def _endpoint_label(endpoint: Mapping[str, Any]) -> list[dict[str, Any]]:
    if endpoint.get("port"):
        return [_set("endpoint", endpoint["port"])]
    if endpoint.get("targetPort") not in (None, "", 0):
        return [_set("endpoint", str(endpoint["targetPort"]))]
    return []


def pod_monitor(data: Mapping[str, Any], secrets: Secrets) -> list[Job]:
    """The jobs of a PodMonitor, one per endpoint."""
    meta, spec = data["metadata"], data["spec"]
    namespace, name = meta["namespace"], meta["name"]
    selector = selector_of(spec["selector"])
    jobs = []
    for index, endpoint in enumerate(spec["podMetricsEndpoints"]):
        steps = [_copy("job", "__tmp_prometheus_job_name")]
        if endpoint.get("filterRunning", True):
            steps.append({"action": "drop", "regex": "(Failed|Succeeded)", "source_labels": ["__meta_kubernetes_pod_phase"]})
        steps += _selector_steps(selector, "pod")
        steps += _port_steps(endpoint, "__meta_kubernetes_pod_container_port_name")
        steps += [
            _copy("__meta_kubernetes_namespace", "namespace"),
            _copy("__meta_kubernetes_pod_container_name", "container"),
            _copy("__meta_kubernetes_pod_name", "pod"),
        ]
        steps += _target_label_steps("pod", spec.get("podTargetLabels", ()))
        steps.append(_set("job", f"{namespace}/{name}"))
        if "jobLabel" in spec:
            steps.append(_copy(f"__meta_kubernetes_pod_label_{sanitize(spec['jobLabel'])}", "job", regex="(.+)", replacement="${1}"))
        jobs.append(_job(f"podMonitor/{namespace}/{name}/{index}", "pod", namespace, spec, endpoint, steps, secrets))
    return jobs


def probe(data: Mapping[str, Any], secrets: Secrets) -> list[Job]:
    """The job of a Probe: each target becomes the prober's `target` parameter and the `instance` label."""
    meta, spec = data["metadata"], data["spec"]
    namespace, name = meta["namespace"], meta["name"]
    prober = spec["prober"]
    job: Job = {
        "job_name": f"probe/{namespace}/{name}",
        "honor_timestamps": True,
        "metrics_path": prober.get("path", "/probe"),
        **http_settings(
            {key: spec[key] for key in ("interval", "scrapeTimeout", "tlsConfig", "bearerTokenSecret", "authorization", "basicAuth") if key in spec}, secrets
        ),
        **_limits(spec),
    }
    if "scheme" in prober:
        job["scheme"] = str(prober["scheme"]).lower()
    params: dict[str, list[str]] = {}
    if "module" in spec:
        params["module"] = [spec["module"]]
    for param in spec.get("params", ()):
        if not ("module" in spec and param["name"] == "module"):
            params[param["name"]] = list(param.get("values", ()))
    if params:
        job["params"] = params
    steps = [_copy("job", "__tmp_prometheus_job_name")]
    if "jobName" in spec:
        steps.append(_set("job", spec["jobName"]))
    targets = spec["targets"]
    if "staticConfig" in targets:
        static = targets["staticConfig"]
        job["static_configs"] = [{"labels": {"namespace": namespace, **static.get("labels", {})}, "targets": list(static["static"])}]
        steps += [
            _copy("__address__", "__param_target"),
            _copy("__param_target", "instance"),
            _set("__address__", prober["url"]),
            *relabel_configs(static.get("relabelingConfigs", ())),
        ]
    else:
        ingress = targets["ingress"]
        job["kubernetes_sd_configs"] = _sd("ingress", namespaces_of(ingress.get("namespaceSelector"), namespace))
        steps += _selector_steps(selector_of(ingress.get("selector", {})), "ingress")
        steps += [
            {
                "action": "replace",
                "regex": "(.+);(.+);(.+)",
                "replacement": "${1}://${2}${3}",
                "separator": ";",
                "source_labels": ["__meta_kubernetes_ingress_scheme", "__address__", "__meta_kubernetes_ingress_path"],
                "target_label": "__param_target",
            },
            _copy("__meta_kubernetes_namespace", "namespace"),
            _copy("__meta_kubernetes_ingress_name", "ingress"),
            {
                "action": "replace",
                "regex": "(.*)",
                "replacement": "$1",
                "separator": ";",
                "source_labels": ["__address__"],
                "target_label": "__tmp_ingress_address",
            },
            _copy("__param_target", "instance"),
            _set("__address__", prober["url"]),
            *relabel_configs(ingress.get("relabelingConfigs", ())),
        ]
    job["relabel_configs"] = steps
    if spec.get("metricRelabelings"):
        job["metric_relabel_configs"] = relabel_configs(spec["metricRelabelings"])
    return [job]


def leave_to_monitors(selections: Iterable[MonitorSelection], job_namespaces: tuple[str, ...] | None, *, services: bool) -> list[dict[str, Any]]:
    """Relabel steps that drop the targets monitors select, for a job that discovers pods (and,
    with `services`, EndpointSlices, which carry their Service's and pod's labels) in
    `job_namespaces` (None: every namespace): a target a monitor selects is the monitor's."""
    steps = []
    for selection in selections:
        if selection.kind == "service" and not services:
            continue
        if job_namespaces is not None and selection.namespaces and not set(job_namespaces) & set(selection.namespaces):
            continue
        steps += _drop_selected(selection, "service" if selection.kind == "service" else "pod")
    return steps


def _drop_selected(selection: MonitorSelection, meta: str) -> list[dict[str, Any]]:
    """Drop what `selection` selects: one step when its selector has only positive terms; else mark
    the positive match in a scratch label, clear the mark where a negative term fails, drop the marked."""
    sources = ["__meta_kubernetes_namespace"]
    parts = ["|".join(_escaped(name) for name in selection.namespaces) if selection.namespaces else ".*"]
    negative = []
    selector = selection.selector
    for key, value in selector.match_labels.items():
        sources += [f"__meta_kubernetes_{meta}_label_{sanitize(key)}", f"__meta_kubernetes_{meta}_labelpresent_{sanitize(key)}"]
        parts += [_escaped(value), "true"]
    for key, operator, values in selector.expressions:
        label = sanitize(key)
        if operator == "In":
            sources += [f"__meta_kubernetes_{meta}_label_{label}", f"__meta_kubernetes_{meta}_labelpresent_{label}"]
            parts += ["|".join(_escaped(value) for value in values), "true"]
        elif operator == "Exists":
            sources.append(f"__meta_kubernetes_{meta}_labelpresent_{label}")
            parts.append("true")
        else:
            negative.append((label, operator, values))
    regex = ";".join(f"({part})" for part in parts)
    if not negative:
        return [{"action": "drop", "regex": regex, "source_labels": sources}]
    steps = [{"action": "replace", "regex": regex, "replacement": "1", "source_labels": sources, "target_label": _TMP}]
    for label, operator, values in negative:
        if operator == "NotIn":
            clear_sources = [_TMP, f"__meta_kubernetes_{meta}_label_{label}", f"__meta_kubernetes_{meta}_labelpresent_{label}"]
            clear = f"1;({'|'.join(_escaped(value) for value in values)});true"
        else:  # DoesNotExist
            clear_sources, clear = [_TMP, f"__meta_kubernetes_{meta}_labelpresent_{label}"], "1;true"
        steps.append({"action": "replace", "regex": clear, "replacement": "", "source_labels": clear_sources, "target_label": _TMP})
    steps.append({"action": "drop", "regex": "1", "source_labels": [_TMP]})
    return steps
