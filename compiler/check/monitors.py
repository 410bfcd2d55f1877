"""Read, check and compile the Prometheus Operator objects a stack imports (`monitors.files`).

Each ServiceMonitor, PodMonitor, Probe and PrometheusRule is checked against kmc's strict schema
of the subset it supports (schema/monitors.schema.json: where the CRDs accept any field, kmc
reports a field it does not support at its line), then against what a schema cannot say, then
compiled: scrape jobs (kmc.components.monitor_jobs), rule files, the Secrets the jobs read, and
what each monitor selects, so that kmc's own jobs leave those targets to it.

Exactly-once, where it is provable at compile time: a monitor that selects a Service or pods
kmc's jobs scrape (kmc's components; the Kubernetes components' pods and the `kubernetes`
Service; a Service in the monitor files whose pods are such a component's) is an error naming
both, or with `monitors.precedence: monitor` the monitor's.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kmc.check import rules as rule_checks
from kmc.check import schema_gate, selects
from kmc.check.schema import _explain
from kmc.components import facts, monitor_jobs, prometheus
from kmc.components.kube import PART_OF
from kmc.components.scrape_jobs import APISERVER_CLAIM, ETCD_CLAIM, KUBE_SYSTEM, POD_JOBS
from kmc.errors import Diagnostic, StackInvalid
from kmc.model import LabelSelector, MonitorSelection, SecretRef, Stack, millis
from kmc.read.document import Document, JsonPath
from kmc.read.manifest_files import expand, read_objects
from kmc.record import record, replace
from kmc.resources import data_dir
from kmc.text import yaml_text

API_VERSION = "monitoring.coreos.com/v1"
KINDS = {"ServiceMonitor": "serviceMonitor", "PodMonitor": "podMonitor", "Probe": "probe", "PrometheusRule": "prometheusRule"}
RULE_FILE_PREFIX = "monitor-"


@functools.cache
def load_schema() -> Mapping[str, Any]:
    with (data_dir("schema") / "monitors.schema.json").open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@record
class Known:
    """Something kmc's own job scrapes, with the labels kmc knows it has: a Service or pods."""

    kind: str  # service | pod
    namespace: str
    labels: Mapping[str, str]
    job: str
    what: str  # how the error names it


@record
class FileService:
    """A Service of the monitor files: what ServiceMonitors select, and the pods behind it."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    selector: Mapping[str, str]


@record
class Imported:
    """An object of a monitor file that kmc compiles."""

    doc: Document
    kind: str
    namespace: str
    name: str

    @property
    def title(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def where(self, path: JsonPath) -> str:
        line, column = self.doc.position(path)
        return f"{self.doc.file}:{line}:{column}"


def vendor(stack: Stack, doc: Document, stack_dir: Path) -> tuple[Stack, list[Diagnostic], list[Diagnostic]]:
    """`stack` with its imported monitors compiled into `stack.monitors`; the problems, and the warnings."""
    if not stack.monitors.files:
        return stack, [], []
    paths, missing = expand(stack.monitors.files, stack_dir)
    problems = [doc.diagnostic(("monitors", "files", index), message, hint) for index, message, hint in missing]
    warnings: list[Diagnostic] = []
    imported: list[Imported] = []
    services: list[FileService] = []  # Services of the files: namespace, labels, selector
    base = os.path.dirname(doc.file)
    for path in paths:
        relative = os.path.relpath(path, stack_dir)
        display = str(path) if relative.startswith("..") else os.path.join(base, relative)
        skipped: dict[str, int] = {}
        try:
            for obj in read_objects(path, display):
                found = _classify(obj, skipped, services)
                if isinstance(found, Imported):
                    imported.append(found)
                else:
                    problems += found
        except StackInvalid as invalid:
            problems += invalid.diagnostics
            continue
        if skipped:
            counted = ", ".join(f"{count} {kind}" if count > 1 else kind for kind, count in sorted(skipped.items()))
            total = sum(skipped.values())
            hint = "their Services tell kmc which jobs the ServiceMonitors make; nothing else of them is used" if "v1 Service" in skipped else ""
            message = f"skipped {total} object{'s' if total > 1 else ''} of kinds kmc does not import: {counted}"
            warnings.append(Diagnostic(display, 1, 1, "$", message, hint, "warning"))
    problems += _duplicates(imported)
    # The objects that passed are compiled and checked too: every problem is reported at once.
    fields, found = _compile(stack, imported, services)
    compiled = replace(stack, monitors=replace(stack.monitors, inputs=tuple(paths), **fields))
    if not problems:  # every object was read: the jobs the rules' selectors are checked against are all there
        problems += _rules_select(compiled, imported)
    problems += found
    if problems:
        return stack, problems, warnings
    return compiled, [], [*warnings, *_unverified(imported)]


def _unverified(imported: list[Imported]) -> Iterator[Diagnostic]:
    """Warnings: endpoints that skip TLS verification, a conscious choice of the chart's, said on every build."""
    for item in imported:
        spec = item.doc.data["spec"]
        key = {"ServiceMonitor": "endpoints", "PodMonitor": "podMetricsEndpoints"}.get(item.kind)
        places = [(("spec", key, index), endpoint) for index, endpoint in enumerate(spec[key])] if key else [(("spec",), spec)]
        for here, endpoint in places:
            if endpoint.get("tlsConfig", {}).get("insecureSkipVerify"):
                diagnostic = item.doc.diagnostic(
                    (*here, "tlsConfig", "insecureSkipVerify"),
                    f"{item.title} scrapes without verifying the target's certificate",
                    "anyone who can intercept the connection can read what Prometheus sends; give tlsConfig a CA (ca.secret or caFile) instead",
                )
                yield replace(diagnostic, severity="warning")


def _rules_select(stack: Stack, imported: list[Imported]) -> list[Diagnostic]:
    """Every selector of the imported rules must match a job the stack has (kmc.check.selects)."""
    rules = [item for item in imported if item.kind == "PrometheusRule"]
    if not rules:
        return []
    jobs = selects.environment_jobs(stack)
    problems = []
    for item in rules:
        found = []
        for index, group in enumerate(item.doc.data["spec"]["groups"]):
            for position, rule in enumerate(group["rules"]):
                name = f"rule {rule.get('alert') or rule.get('record')!r} of {item.title}"
                found.append((("spec", "groups", index, "rules", position, "expr"), name, str(rule["expr"])))
        problems += [item.doc.diagnostic(path, message, hint) for path, message, hint in selects.rule_problems(found, jobs)]
    return problems


def _classify(obj: Document, skipped: dict[str, int], services: list[FileService]) -> Imported | list[Diagnostic]:
    """An object kmc imports (checked against the schema), or [] when it is skipped and counted."""
    data = obj.data
    if not isinstance(data, dict):
        return [obj.diagnostic((), "a document of a monitor file must be a Kubernetes object (a mapping)")]
    kind, version = data.get("kind"), data.get("apiVersion")
    if kind not in KINDS or version != API_VERSION:
        described = f"{kind}" if version is None else f"{version} {kind}"
        skipped[described] = skipped.get(described, 0) + 1
        if kind == "Service" and version == "v1":
            services.append(_file_service(data))
        if kind in KINDS:
            return [obj.diagnostic(("apiVersion",), f"kmc reads {kind} of {API_VERSION}, not {version!r}", f"write `apiVersion: {API_VERSION}`")]
        return []
    problems = [] if schema_gate.is_valid(_by_kind(KINDS[kind]), data) else _schema_problems(obj, KINDS[kind])
    meta: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    if not problems and "namespace" not in meta:
        problems.append(
            obj.diagnostic(
                ("metadata",),
                f"{kind} {meta.get('name')} has no metadata.namespace",
                "its namespace decides what it selects and where its Secrets are: render with `helm template --namespace NS` from a chart that writes it, or add it",
            )
        )
    if problems:
        return problems
    return Imported(obj, kind, meta["namespace"], meta["name"])


def _schema_problems(obj: Document, definition: str) -> list[Diagnostic]:
    """Every way `obj` breaks its kind's schema, explained as the stack's schema problems are."""
    from jsonschema import Draft202012Validator  # only to explain an object the fast gate rejects

    validator = Draft202012Validator(_by_kind(definition))
    found: dict[tuple[int, int, str], Diagnostic] = {}
    for error in validator.iter_errors(obj.data):
        for diagnostic in _explain(obj, load_schema(), error):
            found.setdefault((diagnostic.line, diagnostic.column, diagnostic.message), diagnostic)
    return sorted(_unsupported(diagnostic) for diagnostic in found.values())


def _file_service(data: Mapping[str, Any]) -> FileService:
    meta, spec = data.get("metadata") or {}, data.get("spec") or {}
    return FileService(str(meta.get("namespace", "")), str(meta.get("name", "")), dict(meta.get("labels") or {}), dict(spec.get("selector") or {}))


@functools.cache
def _by_kind(definition: str) -> Mapping[str, Any]:
    root = load_schema()
    return {"$schema": root["$schema"], "$defs": root["$defs"], "$ref": f"#/$defs/{definition}"}


def _unsupported(diagnostic: Diagnostic) -> Diagnostic:
    """An unknown key of a monitor: the CRD may well have it, kmc does not support it."""
    if diagnostic.message.startswith("unknown key"):
        field = diagnostic.message.removeprefix("unknown key ")
        hint = diagnostic.hint + "; " if diagnostic.hint.startswith("did you mean") else ""
        return replace(
            diagnostic,
            message=f"unsupported or unknown field {field}: kmc does not compile it",
            hint=hint + "see docs/monitors.md for the fields kmc supports; remove it, or scrape this target with scrape.extraJobs",
        )
    return diagnostic


def _duplicates(imported: list[Imported]) -> list[Diagnostic]:
    seen: dict[tuple[str, str, str], Imported] = {}
    problems = []
    for item in imported:
        key = (item.kind, item.namespace, item.name)
        if key in seen:
            problems.append(
                item.doc.diagnostic(
                    ("metadata", "name"), f"{item.title} is defined twice (also at {seen[key].where(('metadata', 'name'))})", "each object once"
                )
            )
        seen.setdefault(key, item)
    return problems


def _compile(stack: Stack, imported: list[Imported], services: list[FileService]) -> tuple[dict[str, Any], list[Diagnostic]]:
    jobs: list[dict[str, Any]] = []
    selections: list[MonitorSelection] = []
    secrets: dict[SecretRef, str] = {}
    rule_files: dict[str, str] = {}
    problems: list[Diagnostic] = []
    secret_namespaces: dict[str, tuple[str, Imported]] = {}
    known = _known(stack, services)
    # kmc's jobs over EndpointSlices (they see Services' and pods' labels) and over pods.
    slice_jobs = {target.job for target in facts(stack).service_targets} | {"apiserver"}
    pod_jobs = {spec.job for spec in POD_JOBS.values()} | {"etcd"}
    taken: set[str] = set()
    job_values: dict[str, tuple[str, ...]] = {}
    group_names = _group_names(stack)
    for item in sorted(imported, key=lambda item: (item.kind, item.namespace, item.name)):
        data, spec = item.doc.data, item.doc.data["spec"]
        problems += [item.doc.diagnostic(path, message, hint) for path, message, hint in _spec_problems(item, stack)]
        if item.kind == "PrometheusRule":
            rule_files[f"{RULE_FILE_PREFIX}{item.namespace}-{item.name}.yaml"] = _rule_file(spec)
            for index, group in enumerate(spec["groups"]):
                name = group["name"]
                if name in group_names:
                    problems.append(
                        item.doc.diagnostic(
                            ("spec", "groups", index, "name"),
                            f"rule group name {name!r} is already used by {group_names[name]}",
                            "rule group names must be unique",
                        )
                    )
                group_names.setdefault(name, item.title)
            continue
        used = monitor_jobs.Secrets(item.title)
        compile_kind = {"ServiceMonitor": monitor_jobs.service_monitor, "PodMonitor": monitor_jobs.pod_monitor, "Probe": monitor_jobs.probe}[item.kind]
        jobs += compile_kind(data, used)
        for ref, why in used.used:
            secrets.setdefault(ref, why)
            first = secret_namespaces.setdefault(ref.secret_name, (item.namespace, item))
            if first[0] != item.namespace:
                problems.append(
                    item.doc.diagnostic(
                        ("spec",),
                        f"{item.title} reads the Secret {ref.secret_name} of namespace {item.namespace}, and {first[1].title} one of the same name in {first[0]}",
                        "the Prometheus pods mount Secrets of their own namespace, where one name is one Secret: give them different names",
                    )
                )
        if item.kind == "Probe":
            continue
        kind = "service" if item.kind == "ServiceMonitor" else "pod"
        selection = MonitorSelection(
            item.title,
            kind,
            monitor_jobs.namespaces_of(spec.get("namespaceSelector"), item.namespace),
            monitor_jobs.selector_of(spec["selector"]),
            item.where(("spec", "selector")),
        )
        selections.append(selection)
        if item.kind == "ServiceMonitor":
            values = _job_values(selection, spec.get("jobLabel"), services)
            if values:
                job_values.update({f"serviceMonitor/{item.namespace}/{item.name}/{index}": values for index in range(len(spec["endpoints"]))})
            # The pods behind a selected Service of the monitor files are the monitor's too: the
            # pod jobs, which see no Service labels, leave them by the Service's own selector.
            selections += _backing_pods(selection, services)
        for other in known:
            if other.kind != kind or (selection.namespaces and other.namespace not in selection.namespaces):
                continue
            if not _provably_selects(selection.selector, other.labels):
                continue
            jobs_hit = _jobs_hit(other, spec)
            if stack.monitors.precedence == "monitor":
                # A job that discovers what the monitor selects, with its labels, drops it by
                # relabeling (kmc.components.scrape_jobs); any other job is left out whole.
                taken.update(job for job in jobs_hit if job not in (slice_jobs if kind == "service" else slice_jobs | pod_jobs))
                continue
            for job in jobs_hit:
                problems.append(
                    item.doc.diagnostic(
                        ("spec", "selector"),
                        f"{item.title} selects {other.what}, which kmc's job {job!r} already scrapes",
                        "scrape it once: remove the monitor, switch kmc's job off, or set monitors.precedence: monitor to leave it to the monitor",
                    )
                )
    names = {job["job_name"] for job in jobs}
    assert len(names) == len(jobs), "job names are made of unique (kind, namespace, name)"
    fields = {
        "jobs": tuple(jobs),
        "selections": tuple(selections),
        "secrets": tuple(sorted(secrets.items(), key=lambda item: (item[0].secret_name, item[0].key))),
        "rule_files": rule_files,
        "taken_jobs": tuple(sorted(taken)),
        "job_values": job_values,
    }
    return fields, problems


def _backing_pods(selection: MonitorSelection, services: list[FileService]) -> list[MonitorSelection]:
    found = []
    for service in services:
        in_reach = not selection.namespaces or service.namespace in selection.namespaces
        if service.selector and in_reach and _provably_selects(selection.selector, service.labels, complete=True):
            selector = LabelSelector(dict(sorted(service.selector.items())))
            found.append(MonitorSelection(selection.monitor, "pod", (service.namespace,), selector, selection.where))
    return found


def _job_values(selection: MonitorSelection, job_label: str | None, services: list[FileService]) -> tuple[str, ...]:
    """The `job` labels of a ServiceMonitor's series, if every Service it selects is in the monitor
    files (else () : discovery decides). Only the files' Services are known; one elsewhere would
    add its own name, so this is what the files say, not proof."""
    names = set()
    for service in services:
        if selection.namespaces and service.namespace not in selection.namespaces:
            continue
        if _provably_selects(selection.selector, service.labels, complete=True) and service.name:
            names.add(service.labels.get(job_label, service.name) if job_label else service.name)
    return tuple(sorted(names))


def _group_names(stack: Stack) -> dict[str, str]:
    from kmc.components import rule_packs

    taken = {group.name: f"kmc's pack {pack.name!r}" for pack in rule_packs.library().values() for group in pack.groups}
    taken.update({group["name"]: "the stack's rules.groups" for group in stack.rules.groups})
    return taken


def _rule_file(spec: Mapping[str, Any]) -> str:
    groups = []
    for group in spec["groups"]:
        rules = [{**rule, "expr": str(rule["expr"])} for rule in group["rules"]]
        groups.append({**{key: value for key, value in group.items() if key != "rules"}, "rules": rules})
    return yaml_text.dump({"groups": groups})


def _spec_problems(item: Imported, stack: Stack) -> Iterator[tuple[JsonPath, str, str]]:
    from kmc.check.semantic import _relabel

    spec = item.doc.data["spec"]
    if item.kind == "PrometheusRule":
        for index, group in enumerate(spec["groups"]):
            if not group["rules"]:
                yield (("spec", "groups", index, "rules"), f"rule group {group['name']!r} has no rules", "add rules, or remove the group")
            for position, rule in enumerate(group["rules"]):
                for path, message, hint, _ in rule_checks._rule({**rule, "expr": str(rule["expr"])}, ("spec", "groups", index, "rules", position)):
                    yield (path, message, hint)
        return
    endpoints_key = {"ServiceMonitor": "endpoints", "PodMonitor": "podMetricsEndpoints"}.get(item.kind)
    endpoints: list[tuple[JsonPath, Mapping[str, Any]]] = (
        [(("spec", endpoints_key, index), endpoint) for index, endpoint in enumerate(spec[endpoints_key])] if endpoints_key else [(("spec",), spec)]
    )
    for here, endpoint in endpoints:
        auths = [key for key in ("authorization", "basicAuth", "bearerTokenSecret") if key in endpoint]
        if len(auths) > 1:
            yield ((*here, auths[1]), f"{' and '.join(auths)} cannot be used together", "Prometheus sends one Authorization header: keep one")
        tls = endpoint.get("tlsConfig", {})
        for secret_key, file_key in (("ca", "caFile"), ("cert", "certFile"), ("keySecret", "keyFile")):
            if secret_key in tls and file_key in tls:
                yield ((*here, "tlsConfig", file_key), f"{secret_key} and {file_key} cannot be used together", "keep one")
        if ("cert" in tls or "certFile" in tls) != ("keySecret" in tls or "keyFile" in tls):
            yield ((*here, "tlsConfig"), "a client certificate needs its key, and a key its certificate", "set cert with keySecret (or certFile with keyFile)")
        interval = endpoint.get("interval", stack.prometheus.scrape_interval)
        timeout = endpoint.get("scrapeTimeout")
        if timeout is not None and millis(timeout) > millis(interval):
            yield ((*here, "scrapeTimeout"), f"scrapeTimeout {timeout} is longer than the interval {interval}", "Prometheus rejects this")
        if sum(key in endpoint for key in ("port", "portNumber", "targetPort")) > 1:
            yield (here, "name the port once: port, portNumber or targetPort", "the operator reads only the first")
        for key in ("relabelings", "metricRelabelings"):
            for index, rule in enumerate(monitor_jobs.relabel_configs(endpoint.get(key, ()))):
                for path, message, hint, _ in _relabel(rule, (*here, key, index)):
                    yield (
                        path,
                        message.replace("target_label", "targetLabel").replace("source_labels", "sourceLabels"),
                        hint.replace("target_label", "targetLabel"),
                    )
    if item.kind == "Probe":
        targets = spec["targets"]
        if ("staticConfig" in targets) == ("ingress" in targets):
            yield (("spec", "targets"), "a Probe needs exactly one of targets.staticConfig and targets.ingress", "")
        for key in ("staticConfig", "ingress"):
            for index, rule in enumerate(monitor_jobs.relabel_configs(targets.get(key, {}).get("relabelingConfigs", ()))):
                for path, message, hint, _ in _relabel(rule, ("spec", "targets", key, "relabelingConfigs", index)):
                    yield (path, message, hint)
    for index, expression in enumerate(spec.get("selector", {}).get("matchExpressions", ())):
        needs_values = expression["operator"] in ("In", "NotIn")
        if needs_values != bool(expression.get("values")):
            yield (
                ("spec", "selector", "matchExpressions", index),
                f"operator {expression['operator']} {'needs' if needs_values else 'takes no'} values",
                "add the values to match" if needs_values else "remove `values`",
            )


def _known(stack: Stack, services: list[FileService]) -> list[Known]:
    """What kmc's jobs scrape, with the labels kmc knows: kmc's pods and Services, the Kubernetes
    components' pods, the `kubernetes` and kubelet Services, and the Services of the monitor
    files whose selectors pick such pods."""
    found: list[Known] = []
    ns = stack.namespace
    own = {target.service: target.job for target in facts(stack).service_targets}
    own[prometheus.NAME] = "prometheus"
    for name, job in sorted(own.items()):
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}
        found.append(Known("service", ns, labels, job, f"kmc's Service {ns}/{name}"))
        found.append(Known("pod", ns, labels, job, f"kmc's {name} pods"))
    kube = stack.scrape.kubernetes
    claims = [(spec.job, spec.label, spec.value) for field, spec in POD_JOBS.items() if getattr(kube, field).enabled]
    if kube.etcd.enabled:
        claims.append(("etcd", ETCD_CLAIM.label, ETCD_CLAIM.value))
    if kube.apiserver.enabled:
        claims.append(("apiserver", APISERVER_CLAIM.label, APISERVER_CLAIM.value))
        found.append(Known("service", "default", {"component": "apiserver", "provider": "kubernetes"}, "apiserver", "the Service default/kubernetes"))
    for job, label, value in claims:
        found.append(Known("pod", KUBE_SYSTEM, {label: value}, job, f"the {label}={value} pods of kube-system"))
    kubelet_jobs = [job for job, on in (("kubelet", kube.kubelet.enabled), ("cadvisor", kube.cadvisor.enabled)) if on]
    for job in kubelet_jobs:
        found.append(
            Known(
                "service",
                KUBE_SYSTEM,
                {"app.kubernetes.io/name": "kubelet", "k8s-app": "kubelet"},
                job,
                "the kubelets (the operator's kube-system kubelet Service)",
            )
        )
    for service in services:
        if not service.selector:
            continue
        for other in list(found):
            if other.kind == "pod" and other.namespace == service.namespace and all(other.labels.get(key) == value for key, value in service.selector.items()):
                what = f"the Service {service.namespace}/{service.name} of the monitor files (its pods: {other.what})"
                found.append(Known("service", service.namespace, service.labels, other.job, what))
    return found


def _provably_selects(selector: LabelSelector, labels: Mapping[str, str], *, complete: bool = False) -> bool:
    """Whether an object known to carry `labels` (and maybe others; with `complete`, only those)
    surely matches `selector`."""
    if any(labels.get(key) != value for key, value in selector.match_labels.items()):
        return False
    for key, operator, values in selector.expressions:
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "Exists" and not present:
            return False
        if operator in ("NotIn", "DoesNotExist") and not present:
            if complete:
                continue
            return False  # the label may be there: not provable
        if operator == "NotIn" and labels[key] in values:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _jobs_hit(known: Known, spec: Mapping[str, Any]) -> list[str]:
    """kmc's jobs that scrape what a monitor selects: for the kubelets, by the endpoints' paths."""
    if known.job not in ("kubelet", "cadvisor"):
        return [known.job]
    paths = {endpoint.get("path", "/metrics") for endpoint in spec.get("endpoints", ())}
    wanted = {"kubelet": "/metrics", "cadvisor": "/metrics/cadvisor"}[known.job]
    return [known.job] if wanted in paths else []
