"""prometheus-adapter's configuration, compiled from the stack's metric intents, and the checks
that make it correct by construction: every query parses as PromQL once its templates are
expanded, every regex compiles, a name with several groups says which one it keeps, no metric is
exposed twice, and every label a rule maps to a Kubernetes resource is one the stack's scrape
jobs actually put on the series."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kmc.components import job_names
from kmc.model import CustomMetric, ExternalMetric, PrometheusAdapter, Stack
from kmc.read.document import JsonPath
from kmc.record import record

_CAPTURE_REFERENCE = re.compile(r"\$\{?\d+\}?")  # Go's regexp.Expand: $N or ${N}
_CAPTURE_NUMBER = re.compile(r"\$\{?(\d+)\}?")
_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{.*\})?\s*$", re.DOTALL)
_JOB_MATCHER = re.compile(r'\bjob\s*=\s*"([^"]*)"')
_UNEXPANDED = re.compile(r"<<.*?>>")


# The labels that name each resource on a series (namespaced resources need `namespace` too).
RESOURCE_LABELS: Mapping[str, tuple[str, ...]] = {
    "pod": ("namespace", "pod"),
    "service": ("namespace", "service"),
    "namespace": ("namespace",),
    "node": ("node",),
}
# HPA `object` kinds → the resource the adapter names them by.
KIND_RESOURCES: Mapping[str, str] = {"Pod": "pod", "Service": "service", "Namespace": "namespace", "Node": "node"}
CADVISOR_JOB = "cadvisor"
NODE_EXPORTER_JOB = "node-exporter"
# Labels an exporter puts on its own series (scrape jobs add theirs by relabeling).
NATIVE_LABELS: Mapping[str, frozenset[str]] = {
    CADVISOR_JOB: frozenset({"container", "namespace", "pod"}),
    "kube-state-metrics": frozenset({"namespace", "node", "pod", "service"}),
}
# What the template actions stand for when kmc parses an expanded query.
_SAMPLE = {
    "<<.Series>>": "kmc_sample_series",
    "<<.LabelMatchers>>": 'namespace="default",pod=~"a|b"',
    "<<.GroupBy>>": "namespace,pod",
    "<<.GroupBySlice>>": "namespace,pod",
}

Problem = tuple[JsonPath, str, str]


@record
class Exposed:
    """A metric the adapter serves: `api` is custom or external; `resource` None for external ones.
    With `pattern`, `name` is a regex of the names a raw rule may expose: they depend on the
    series Prometheus holds, which cannot be known at compile time."""

    api: str
    name: str
    resource: str | None
    pattern: bool = False

    def offers(self, api: str, name: str, resource: str | None) -> bool:
        if (self.api, self.resource) != (api, resource):
            return False
        return re.fullmatch(self.name, name) is not None if self.pattern else self.name == name


def window_of(metric: CustomMetric | ExternalMetric) -> str:
    return metric.window


def _job_matcher(job: str | None) -> str:
    return f',job="{job}"' if job else ""


def _value(series_matchers: str, kind: str, window: str) -> str:
    selector = f"<<.Series>>{{{series_matchers}}}"
    return f"rate({selector}[{window}])" if kind == "rate" else selector


def custom_rule(metric: CustomMetric) -> dict[str, Any]:
    labels = RESOURCE_LABELS[metric.resource]
    present = ",".join(f'{label}!=""' for label in labels)
    job = _job_matcher(metric.job)
    return {
        "seriesQuery": f"{metric.series}{{{present}{job}}}",
        "resources": {"overrides": {label: {"resource": label} for label in labels}},
        "name": {"matches": f"^{metric.series}$", "as": metric.name},
        "metricsQuery": f"{metric.aggregation}({_value('<<.LabelMatchers>>' + job, metric.type, metric.window)}) by (<<.GroupBy>>)",
    }


def external_rule(metric: ExternalMetric) -> dict[str, Any]:
    job = _job_matcher(metric.job)
    present = 'namespace!=""' if metric.namespaced else ""
    selector = f"{present}{job}".lstrip(",")
    resources: dict[str, Any] = {"overrides": {"namespace": {"resource": "namespace"}}} if metric.namespaced else {"namespaced": False}
    return {
        "seriesQuery": f"{metric.series}{{{selector}}}" if selector else metric.series,
        "resources": resources,
        "name": {"matches": f"^{metric.series}$", "as": metric.name},
        "metricsQuery": f"{metric.aggregation}({_value('<<.LabelMatchers>>' + job, metric.type, metric.window)})",
    }


def expanded(template: str, series: str, matchers: Sequence[str], group_by: Sequence[str] = ()) -> str:
    """A metricsQuery as the adapter runs it for one request: `<<.Series>>`, `<<.LabelMatchers>>`
    and `<<.GroupBy>>` filled in. KEDA's Prometheus triggers run exactly this text, so the adapter
    and KEDA compute one number from one intent."""
    text = template.replace("<<.Series>>", series).replace("<<.LabelMatchers>>", ",".join(matchers))
    text = text.replace("<<.GroupBy>>", ",".join(group_by))
    return text.replace("{,", "{").replace(",}", "}")


def selector_matchers(selector: Mapping[str, Any] | None) -> list[str]:
    """A Kubernetes label selector as PromQL label matchers, as the adapter turns an HPA's selector
    into `<<.LabelMatchers>>`."""
    if not selector:
        return []
    found = [f'{label}="{value}"' for label, value in sorted(selector.get("matchLabels", {}).items())]
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = "|".join(re.escape(value).replace("\\", "\\\\") for value in expression.get("values", []))
        found.append({"In": f'{key}=~"{values}"', "NotIn": f'{key}!~"{values}"', "Exists": f'{key}!=""', "DoesNotExist": f'{key}=""'}[operator])
    return found


def external_query(metric: ExternalMetric, namespace: str, selector: Mapping[str, Any] | None) -> str:
    """The query the adapter answers an HPA in `namespace` with for `metric`, narrowed by `selector`."""
    matchers = ([f'namespace="{namespace}"'] if metric.namespaced else []) + selector_matchers(selector)
    return expanded(external_rule(metric)["metricsQuery"], metric.series, matchers)


def object_query(metric: CustomMetric, namespace: str, name: str) -> str:
    """The query the adapter answers for `metric` of one object (`name`, of the metric's resource)."""
    labels = RESOURCE_LABELS[metric.resource]
    matchers = [f'{label}="{name if label == metric.resource else namespace}"' for label in labels]
    return expanded(custom_rule(metric)["metricsQuery"], metric.series, matchers, labels)


def resource_rules(adapter: PrometheusAdapter, mode: str = "kmc") -> dict[str, Any]:
    """`resourceRules`: pods' CPU and memory from cAdvisor; nodes' from cAdvisor's root cgroup or
    node-exporter; the jobs named as `mode` (`scrape.jobNames`) names them."""
    window = adapter.resource_window
    cadvisor, node_exporter = job_names.matchers(CADVISOR_JOB, mode).replace(", ", ","), job_names.matchers(NODE_EXPORTER_JOB, mode)
    pods = f'{cadvisor},container!="",pod!="",<<.LabelMatchers>>'
    if adapter.resource_nodes == "cadvisor":
        root = f'{cadvisor},id="/",<<.LabelMatchers>>'
        node_cpu = f"sum by (<<.GroupBy>>) (rate(container_cpu_usage_seconds_total{{{root}}}[{window}]))"
        node_memory = f"sum by (<<.GroupBy>>) (container_memory_working_set_bytes{{{root}}})"
    else:
        node = f"{node_exporter},<<.LabelMatchers>>"
        busy = f'{node_exporter},mode!="idle",mode!="iowait",mode!="steal",<<.LabelMatchers>>'
        node_cpu = f"sum by (<<.GroupBy>>) (rate(node_cpu_seconds_total{{{busy}}}[{window}]))"
        node_memory = f"sum by (<<.GroupBy>>) (node_memory_MemTotal_bytes{{{node}}} - node_memory_MemAvailable_bytes{{{node}}})"
    resources = {"overrides": {label: {"resource": label} for label in ("namespace", "node", "pod")}}
    return {
        "cpu": {
            "containerLabel": "container",
            "containerQuery": f"sum by (<<.GroupBy>>) (rate(container_cpu_usage_seconds_total{{{pods}}}[{window}]))",
            "nodeQuery": node_cpu,
            "resources": resources,
        },
        "memory": {
            "containerLabel": "container",
            "containerQuery": f"sum by (<<.GroupBy>>) (container_memory_working_set_bytes{{{pods}}})",
            "nodeQuery": node_memory,
            "resources": resources,
        },
        "window": window,
    }


def config(adapter: PrometheusAdapter, mode: str = "kmc", *, keda: bool = False) -> dict[str, Any]:
    """The adapter's whole config file, as data: intents first, then raw rules as written; the jobs
    named as `mode` (`scrape.jobNames`) names them. With `keda`, no external rules: KEDA serves
    `external.metrics.k8s.io` (`serves`)."""
    out: dict[str, Any] = {}
    rules = [custom_rule(metric) for metric in adapter.custom] + [dict(rule) for rule in adapter.raw_custom]
    external = [external_rule(metric) for metric in adapter.external] + [dict(rule) for rule in adapter.raw_external]
    if rules:
        out["rules"] = rules
    if external and not keda:
        out["externalRules"] = external
    if adapter.resource_metrics:
        out["resourceRules"] = resource_rules(adapter, mode)
    return out


def serves(adapter: PrometheusAdapter, *, keda: bool = False) -> tuple[str, ...]:
    """The API groups the adapter serves, in a fixed order. With `keda` (some autoscaling entry
    uses KEDA, which holds `external.metrics.k8s.io` itself), never external metrics."""
    groups = []
    if adapter.custom or adapter.raw_custom:
        groups.append("custom.metrics.k8s.io")
    if (adapter.external or adapter.raw_external) and not keda:
        groups.append("external.metrics.k8s.io")
    if adapter.resource_metrics:
        groups.append("metrics.k8s.io")
    return tuple(groups)


# -- what the adapter exposes ------------------------------------------------------------------


def exposed(adapter: PrometheusAdapter) -> list[tuple[JsonPath, Exposed]]:
    """Every metric the rules expose, with the stack path of its rule."""
    found: list[tuple[JsonPath, Exposed]] = []
    base: JsonPath = ("prometheusAdapter",)
    for index, custom in enumerate(adapter.custom):
        found.append(((*base, "customMetrics", index, "name"), Exposed("custom", custom.name, custom.resource)))
    for index, external in enumerate(adapter.external):
        found.append(((*base, "externalMetrics", index, "name"), Exposed("external", external.name, None)))
    for api, field, raws in (("custom", "custom", adapter.raw_custom), ("external", "external", adapter.raw_external)):
        for index, rule in enumerate(raws):
            where: JsonPath = (*base, "rules", field, index)
            name = _raw_name(rule)
            resources = _raw_resources(rule) if api == "custom" else [None]
            for resource in resources:
                found.append((where, Exposed(api, name, resource) if name is not None else Exposed(api, _raw_pattern(rule), resource, pattern=True)))
    return found


def _raw_pattern(rule: Mapping[str, Any]) -> str:
    """A regex of every name a raw rule may expose: its `as` with each group reference as `.+`."""
    naming = rule.get("name", {})
    template = naming.get("as")
    if not template:
        return ".+"
    parts = _CAPTURE_REFERENCE.split(template)
    return ".+".join(re.escape(part) for part in parts)


def _raw_name(rule: Mapping[str, Any]) -> str | None:
    series = _literal_series(rule["seriesQuery"])
    if series is None:
        return None
    naming = rule.get("name", {})
    pattern = naming.get("matches", "")
    try:
        match = re.search(pattern, series)
    except re.error:
        return None
    if match is None:
        return None
    template = naming.get("as") or ("$1" if match.re.groups == 1 else "$0")
    # Go's regexp.Expand: $N or ${N}.
    return _CAPTURE_NUMBER.sub(lambda ref: match.group(int(ref.group(1))) or "", template)


def _literal_series(query: str) -> str | None:
    found = _SELECTOR.match(query)
    return found.group(1) if found else None


def _raw_resources(rule: Mapping[str, Any]) -> list[str | None]:
    overrides = rule.get("resources", {}).get("overrides", {})
    resources = sorted({spec["resource"].rstrip("s") for spec in overrides.values()} - {"namespace"})
    if not resources and overrides:
        resources = ["namespace"]
    return list(resources) or [None]


# -- checks --------------------------------------------------------------------------------------


def problems(stack: Stack, job_labels: Mapping[str, frozenset[str]], found: list[tuple[JsonPath, Exposed]]) -> Iterator[Problem]:
    """Every problem of the adapter's rules; `job_labels`: the labels each scrape job gives its
    series; `found`: what the rules expose (`exposed`)."""
    adapter = stack.prometheus_adapter
    base: JsonPath = ("prometheusAdapter",)
    # A rule naming no job needs some job giving its labels: the distinct label sets are few,
    # the jobs many (searching them all for each rule grew with rules times jobs).
    label_sets = frozenset(job_labels.values())
    yield from intent_problems(adapter, job_labels)
    for field, raws in (("custom", adapter.raw_custom), ("external", adapter.raw_external)):
        for index, rule in enumerate(raws):
            yield from _raw_rule((*base, "rules", field, index), rule, job_labels, label_sets)
    if adapter.resource_metrics:
        yield from _resource_sources(stack, job_labels)
        for resource, rule in resource_rules(adapter, stack.scrape.job_names).items():
            if isinstance(rule, Mapping):
                for field in ("containerQuery", "nodeQuery"):
                    yield from _promql((*base, "resourceMetrics"), f"{resource}.{field}", rule[field])
    yield from _duplicates(found)


def intent_problems(adapter: PrometheusAdapter, job_labels: Mapping[str, frozenset[str]]) -> Iterator[Problem]:
    """The problems of the metric intents (customMetrics, externalMetrics): the adapter's rules and
    KEDA's queries are both compiled from them."""
    base: JsonPath = ("prometheusAdapter",)
    label_sets = frozenset(job_labels.values())
    for index, custom in enumerate(adapter.custom):
        where: JsonPath = (*base, "customMetrics", index)
        yield from _labels_produced(where, custom.series, RESOURCE_LABELS[custom.resource], custom.job, job_labels, label_sets)
        yield from _queries(where, custom_rule(custom))
    for index, external in enumerate(adapter.external):
        where = (*base, "externalMetrics", index)
        yield from _labels_produced(where, external.series, ("namespace",) if external.namespaced else (), external.job, job_labels, label_sets)
        yield from _queries(where, external_rule(external))


def query_problem(where: JsonPath, query: str) -> Iterator[Problem]:
    """A problem if `query` (already expanded, as KEDA runs it) does not parse as PromQL."""
    error = _promql_error(query)
    if error is not None:
        yield (where, f"the query is not valid PromQL: {error}", f"query: {query}")


def job_labels(jobs: Sequence[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """The labels each scrape job gives its series: what its relabeling and static configs set,
    and what its exporter puts there itself."""
    found: dict[str, frozenset[str]] = {}
    for job in jobs:
        labels = set(NATIVE_LABELS.get(job["job_name"], ()))
        for step in job.get("relabel_configs", []):
            target = step.get("target_label", "")
            if step.get("action", "replace") in ("replace", "lowercase", "uppercase") and target and not target.startswith("__"):
                labels.add(target)
        for static in job.get("static_configs", []):
            labels.update(static.get("labels", {}))
        found[job["job_name"]] = frozenset(labels)
    return found


def _labels_produced(
    where: JsonPath,
    series: str,
    labels: Sequence[str],
    job: str | None,
    job_labels: Mapping[str, frozenset[str]],
    label_sets: frozenset[frozenset[str]],
) -> Iterator[Problem]:
    if job is not None:
        if job not in job_labels:
            yield ((*where, "job"), f"no scrape job of this stack is named {job!r}", f"jobs: {', '.join(sorted(job_labels))}")
            return
        missing = [label for label in labels if label not in job_labels[job]]
        if missing:
            yield (
                (*where, "job"),
                f"job {job!r} does not give {series} the label{'s' if len(missing) > 1 else ''} {', '.join(missing)} this metric maps to its resource",
                f"it gives: {', '.join(sorted(job_labels[job])) or 'none'}; pick a job that does, or add a relabel rule setting {missing[0]!r}",
            )
        return
    if labels and not any(found.issuperset(labels) for found in label_sets):
        lacking = "; ".join(f"{name} lacks {', '.join(label for label in labels if label not in found)}" for name, found in sorted(job_labels.items()))
        yield (
            where,
            f"no scrape job gives series the labels {', '.join(labels)} that map {series} to its resource",
            f"{lacking}; enable the annotation jobs (scrape.pods/services) or add a relabel rule to your job",
        )


def _resource_sources(stack: Stack, job_labels: Mapping[str, frozenset[str]]) -> Iterator[Problem]:
    where: JsonPath = ("prometheusAdapter", "resourceMetrics")
    if CADVISOR_JOB not in job_labels:
        yield (where, "resource metrics need the cAdvisor job for pods' CPU and memory, and it is disabled", "set scrape.kubernetes.cadvisor.enabled: true")
    else:
        missing = [label for label in ("namespace", "node", "pod", "container") if label not in job_labels[CADVISOR_JOB]]
        if missing:
            yield (where, f"the cAdvisor job does not give its series {', '.join(missing)}", "kmc's cAdvisor job sets them; check scrape settings")
    if stack.prometheus_adapter.resource_nodes == "node-exporter":
        if NODE_EXPORTER_JOB not in job_labels:
            yield ((*where, "nodes"), "node metrics from node-exporter, but node-exporter is not deployed", "enable nodeExporter, or take nodes from cadvisor")
        elif "node" not in job_labels[NODE_EXPORTER_JOB]:
            yield ((*where, "nodes"), "the node-exporter job does not give its series a `node` label", "kubectl top node would find nothing")


def _queries(where: JsonPath, rule: Mapping[str, Any], *, raw: bool = False) -> Iterator[Problem]:
    for field in ("seriesQuery", "metricsQuery"):
        yield from _promql((*where, field) if raw else where, field, rule[field])


def _raw_rule(where: JsonPath, rule: Mapping[str, Any], job_labels: Mapping[str, frozenset[str]], label_sets: frozenset[frozenset[str]]) -> Iterator[Problem]:
    yield from _queries(where, rule, raw=True)
    naming = rule.get("name", {})
    if "matches" in naming:
        try:
            groups = re.compile(naming["matches"]).groups
        except re.error as error:
            yield ((*where, "name", "matches"), f"the regex does not compile: {error}", "name.matches is a Go (RE2) regular expression")
        else:
            if groups >= 2 and "as" not in naming:
                yield (
                    (*where, "name", "matches"),
                    f"the regex has {groups} capture groups but no `as`: the adapter cannot tell which one names the metric",
                    'add `as`, e.g. "${1}_${2}"',
                )
    for index, seriesfilter in enumerate(rule.get("seriesFilters", [])):
        for field, pattern in seriesfilter.items():
            try:
                re.compile(pattern)
            except re.error as error:
                yield ((*where, "seriesFilters", index, field), f"the regex does not compile: {error}", "")
    template = rule.get("resources", {}).get("template")
    if template is not None and "<<.Resource>>" not in template:
        yield ((*where, "resources", "template"), "the template never uses <<.Resource>>: every resource would map to one label", "e.g. kube_<<.Resource>>")
    overrides = rule.get("resources", {}).get("overrides", {})
    if overrides:
        labels = sorted(overrides)
        job = _selected_job(rule["seriesQuery"])
        yield from _labels_produced(
            (*where, "resources", "overrides"), _literal_series(rule["seriesQuery"]) or "the series", labels, job, job_labels, label_sets
        )


def _selected_job(query: str) -> str | None:
    found = _JOB_MATCHER.search(query)
    return found.group(1) if found else None


def _promql(where: JsonPath, field: str, template: str) -> Iterator[Problem]:
    expanded = template
    for action, sample in _SAMPLE.items():
        expanded = expanded.replace(action, sample)
    leftover = _UNEXPANDED.search(expanded)
    path = where
    if leftover:
        yield (path, f"{field}: unknown template action {leftover.group(0)}", "the adapter offers <<.Series>>, <<.LabelMatchers>> and <<.GroupBy>>")
        return
    error = _promql_error(expanded)
    if error is not None:
        yield (path, f"{field} is not valid PromQL once its templates are expanded: {error}", f"expanded: {expanded}")


@functools.lru_cache(maxsize=4096)  # intents of one job, aggregation and window expand to the same metricsQuery
def _promql_error(expanded: str) -> str | None:
    """Why `expanded` does not parse as PromQL, or None."""
    import promql_parser

    try:
        promql_parser.parse(expanded)
    except ValueError as error:
        return str(error)
    return None


def _duplicates(found: list[tuple[JsonPath, Exposed]]) -> Iterator[Problem]:
    first: dict[Exposed, JsonPath] = {}
    for where, metric in found:
        if metric.pattern:
            continue
        if metric in first:
            what = f"{metric.api} metric {metric.name!r}" + (f" for {metric.resource}s" if metric.resource else "")
            yield (where, f"{what} is already exposed by another rule", f"see {'.'.join(str(part) for part in first[metric])}; rename one")
        else:
            first[metric] = where
