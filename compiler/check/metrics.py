"""Checks of the metrics APIs a schema cannot express: one provider per API, the adapter's rules,
the TLS settings each mode needs, and HPAs that scale only on metrics the stack serves."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kmc.components import adapter_rules, aggregated_api, autoscaling, keda, metrics_server, prometheus_adapter
from kmc.ir import lookup
from kmc.model import ApiServerTls, Stack, millis
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str]
SERVERS = {metrics_server.SWITCH: "metrics-server", prometheus_adapter.SWITCH: "prometheus-adapter", keda.SWITCH: "KEDA"}
_TLS_BLOCKS = {"ca": "ca", "secret": "secret", "cert-manager": "certManager"}


def problems(stack: Stack, jobs: Sequence[Mapping[str, Any]]) -> Iterator[Problem]:
    metrics_server = stack.enabled_somewhere("metricsServer.enabled")
    adapter = stack.enabled_somewhere("prometheusAdapter.enabled")
    if metrics_server and adapter and stack.prometheus_adapter.resource_metrics:
        yield (
            ("prometheusAdapter", "resourceMetrics", "enabled"),
            "two providers of metrics.k8s.io: metrics-server (metricsServer.enabled) and prometheus-adapter (prometheusAdapter.resourceMetrics)",
            "Kubernetes routes an API group/version to one APIService; turn one of them off",
        )
    if metrics_server:
        yield from _tls(("metricsServer", "tls"), stack.metrics_server.tls, stack)
        if stack.metrics_server.high_availability:
            for env in [None, *stack.environments]:
                replicas = stack.values(env)["metricsServer"]["replicas"]
                if stack.values(env)["metricsServer"]["enabled"] and replicas < 2:
                    where: JsonPath = ("environments", env, "metricsServer") if env else ("metricsServer", "highAvailability")
                    yield (
                        where,
                        f"highAvailability needs at least 2 replicas, {'environment ' + repr(env) if env else 'the stack'} has {replicas}",
                        "set metricsServer.replicas: 2",
                    )
    # What the adapter exposes, listed once for its own checks and for the HPAs.
    served = adapter_rules.exposed(stack.prometheus_adapter) if adapter else []
    if adapter:
        yield from _adapter(stack, jobs, served)
    elif stack.uses_keda:  # KEDA's queries come from the intents even where no adapter runs
        yield from adapter_rules.intent_problems(stack.prometheus_adapter, adapter_rules.job_labels(jobs))
    yield from _serving_secrets(stack)
    yield from _autoscalers(stack, metrics_server, adapter, [metric for _, metric in served])
    if stack.uses_keda:
        yield from _keda(stack, adapter)


def _tls(where: JsonPath, tls: ApiServerTls, stack: Stack) -> Iterator[Problem]:
    given = {"ca": tls.ca_cert is not None, "secret": tls.ca_bundle_file is not None, "cert-manager": tls.issuer_name is not None}
    if tls.mode in ("ca", "secret") and not given[tls.mode]:
        yield (
            (*where, "mode"),
            f"mode {tls.mode} needs `{_TLS_BLOCKS[tls.mode]}`",
            f"add {'ca: {cert: ca.crt, key: ca.key}' if tls.mode == 'ca' else 'secret: {name: NAME, caBundle: ca.crt}'}",
        )
    for mode, present in given.items():
        if present and mode != tls.mode:
            yield (
                (*where, _TLS_BLOCKS[mode]),
                f"`{_TLS_BLOCKS[mode]}` is only read in mode {mode}, and the mode is {tls.mode}",
                f"remove it, or set mode: {mode}",
            )
    if tls.mode == "secret" and tls.serving_keys[0] == tls.serving_keys[1]:
        yield (
            (*where, "secret", "keys"),
            f"the certificate and its private key are both read from the Secret's key {tls.serving_keys[0]!r}",
            "name the two keys of your Secret that hold them, e.g. keys: {cert: tls.crt, key: tls.key}",
        )


def _serving_secrets(stack: Stack) -> Iterator[Problem]:
    """A Secret kmc fills with a server's certificate (modes generate, ca) is that server's alone:
    neither the other server's serving Secret nor the Secret of its cert-manager CA."""
    servers = aggregated_api.tls_servers(stack, Path())
    for server in servers:
        # Only a name the stack gives (`ca.secretName`) can meet another: kmc's own differ.
        if server.tls.mode != "ca" or server.tls.secret_name is None:
            continue
        for other in servers:
            taken = {other.secret_name, *([f"{other.name}-ca"] if other.tls.mode == "cert-manager" and other.tls.issuer_name is None else [])}
            if other is not server and server.secret_name in taken:
                yield (
                    (*server.where, "ca", "secretName"),
                    f"{server.name}'s serving certificate would go into the Secret {server.secret_name}, which {other.name} uses too",
                    "give it a name of its own",
                )


def _adapter(stack: Stack, jobs: Sequence[Mapping[str, Any]], exposed: list[tuple[JsonPath, adapter_rules.Exposed]]) -> Iterator[Problem]:
    adapter = stack.prometheus_adapter
    yield from _tls(("prometheusAdapter", "tls"), adapter.tls, stack)
    if not adapter_rules.serves(adapter) and not stack.uses_keda:
        yield (
            ("prometheusAdapter", "enabled"),
            "prometheus-adapter is enabled but has no rules: it would serve no metric at all",
            "add customMetrics, externalMetrics, resourceMetrics or rules",
        )
        return
    if millis(adapter.relist_interval) < millis(stack.prometheus.scrape_interval):
        yield (
            ("prometheusAdapter", "metricsRelistInterval"),
            f"relisting every {adapter.relist_interval} is shorter than the scrape interval {stack.prometheus.scrape_interval}",
            "series appear only once scraped; relist at least as rarely as Prometheus scrapes",
        )
    yield from adapter_rules.problems(stack, _by_job_label(stack, jobs), exposed)


def _by_job_label(stack: Stack, jobs: Sequence[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """The labels each job gives its series, by job name and by the `job` label it writes where that
    differs (`scrape.jobNames`, an imported ServiceMonitor's Service): an intent's `job` is a label."""
    from kmc.check import selects

    found = adapter_rules.job_labels(jobs)
    for job in jobs:
        for produced in selects.produced(job, stack.monitors.job_values):
            if produced.job is not None and produced.job != job["job_name"]:
                found[produced.job] = found.get(produced.job, frozenset()) | found[job["job_name"]]
    return found


def _autoscalers(stack: Stack, metrics_server: bool, adapter: bool, served: list[adapter_rules.Exposed]) -> Iterator[Problem]:
    # Looked up, not searched: HPAs and rules may both be many. Patterns (raw rules' names) are few.
    named = {(metric.api, metric.name, metric.resource) for metric in served if not metric.pattern}
    patterns = [metric for metric in served if metric.pattern]

    def offered(api: str, name: str, resource: str | None) -> bool:
        return (api, name, resource) in named or any(metric.offers(api, name, resource) for metric in patterns)

    def listed(api: str) -> str:
        names = sorted(
            f"{metric.name}" + (f" ({metric.resource})" if metric.resource else "") + (" (a pattern)" if metric.pattern else "")
            for metric in served
            if metric.api == api
        )
        return ", ".join(names) or "none"

    resources = metrics_server or (adapter and stack.prometheus_adapter.resource_metrics)
    seen: dict[tuple[str, str], int] = {}
    for index, hpa in enumerate(stack.autoscaling):
        where: JsonPath = ("autoscaling", index)
        if (hpa.namespace, hpa.name) in seen:
            yield ((*where, "name"), f"a second HPA {hpa.namespace}/{hpa.name}", f"autoscaling[{seen[(hpa.namespace, hpa.name)]}] has the same name")
        seen.setdefault((hpa.namespace, hpa.name), index)
        if hpa.min_replicas > hpa.max_replicas:
            yield ((*where, "minReplicas"), f"minReplicas {hpa.min_replicas} is above maxReplicas {hpa.max_replicas}", "")
        for position, metric in enumerate(hpa.metrics):
            at: JsonPath = (*where, "metrics", position)
            yield from _target_fields(at, metric)
            if "resource" in metric and not resources:
                yield (
                    (*at, "resource"),
                    f"{metric['resource']} comes from metrics.k8s.io, and the stack serves no metrics.k8s.io",
                    "enable metricsServer, or prometheusAdapter.resourceMetrics",
                )
            elif hpa.engine == "keda":
                continue  # checked against the intents (_keda)
            elif "pods" in metric or "object" in metric:
                name, resource = (
                    (metric["pods"], "pod") if "pods" in metric else (metric["object"]["metric"], adapter_rules.KIND_RESOURCES[metric["object"]["kind"]])
                )
                if not offered("custom", name, resource):
                    yield (
                        (*at, "pods" if "pods" in metric else "object"),
                        f"no custom metric {name!r} for {resource}s is exposed by the stack's prometheus-adapter",
                        f"exposed: {listed('custom')}; add it to prometheusAdapter.customMetrics",
                    )
            elif "external" in metric and not offered("external", metric["external"], None):
                yield (
                    (*at, "external"),
                    f"no external metric {metric['external']!r} is exposed by the stack's prometheus-adapter",
                    f"exposed: {listed('external')}; add it to prometheusAdapter.externalMetrics",
                )


def _keda(stack: Stack, adapter: bool) -> Iterator[Problem]:
    """KEDA entries scale on the metric intents; KEDA holds `external.metrics.k8s.io` (one provider
    per API group), so the adapter serves no external metric beside it."""
    intents = stack.prometheus_adapter
    first = next(index for index, hpa in enumerate(stack.autoscaling) if hpa.engine == "keda")
    holder = f"autoscaling[{first}] uses KEDA, whose operator serves external.metrics.k8s.io"
    if adapter and intents.raw_external:
        yield (
            ("prometheusAdapter", "rules", "external"),
            f"the adapter cannot serve these external rules: {holder}, and an API group has one provider",
            "move them to externalMetrics intents (KEDA entries scale on them), or scale every entry with engine: hpa",
        )
    customs = {(metric.name, metric.resource) for metric in intents.custom}
    externals = {metric.name for metric in intents.external}
    for index, hpa in enumerate(stack.autoscaling):
        for position, metric in enumerate(hpa.metrics):
            at: JsonPath = ("autoscaling", index, "metrics", position)
            if hpa.engine != "keda":
                if "external" in metric:
                    yield (
                        (*at, "external"),
                        f"no HPA can read the external metric {metric['external']!r} from prometheus-adapter: {holder}",
                        "set engine: keda on this entry too: KEDA scales on the same externalMetrics intent",
                    )
                continue
            if "pods" in metric:
                yield (
                    (*at, "pods"),
                    "a KEDA entry cannot scale on a pods metric: its query would have to name the workload's pods, which kmc does not know",
                    "scale on an object metric (e.g. of the workload's Service) or an external metric, or set engine: hpa",
                )
            elif "object" in metric:
                described = metric["object"]
                resource = adapter_rules.KIND_RESOURCES[described["kind"]]
                if (described["metric"], resource) not in customs:
                    listed = ", ".join(sorted(f"{name} ({kind})" for name, kind in customs)) or "none"
                    yield (
                        (*at, "object"),
                        f"no customMetrics intent {described['metric']!r} for {resource}s to compile KEDA's query from",
                        f"intents: {listed}; add it to prometheusAdapter.customMetrics",
                    )
                else:
                    yield from adapter_rules.query_problem((*at, "object"), keda.query(stack, hpa, metric))
            elif "external" in metric:
                if metric["external"] not in externals:
                    yield (
                        (*at, "external"),
                        f"no externalMetrics intent {metric['external']!r} to compile KEDA's query from",
                        f"intents: {', '.join(sorted(externals)) or 'none'}; add it to prometheusAdapter.externalMetrics",
                    )
                else:
                    yield from adapter_rules.query_problem((*at, "external"), keda.query(stack, hpa, metric))


def _target_fields(at: JsonPath, metric: Mapping[str, Any]) -> Iterator[Problem]:
    kind = next(key for key in ("resource", "pods", "object", "external") if key in metric)
    targets = [key for key in ("averageUtilization", "averageValue", "value") if key in metric]
    allowed = {
        "resource": ("averageUtilization", "averageValue"),
        "pods": ("averageValue",),
        "object": ("value", "averageValue"),
        "external": ("value", "averageValue"),
    }[kind]
    if len(targets) != 1 or targets[0] not in allowed:
        yield (
            at,
            f"{'an' if kind in ('object', 'external') else 'a'} {kind} metric needs exactly one target: {' or '.join(allowed)}",
            f"it has: {', '.join(targets) or 'none'}",
        )
    if "selector" in metric and kind not in ("pods", "external"):
        yield ((*at, "selector"), f"{'an' if kind == 'object' else 'a'} {kind} metric takes no selector", "selectors narrow pods and external metrics")


def dropped_autoscalers(stack: Stack) -> Iterator[Problem]:
    """Warnings: the HPAs an environment leaves out, because it switches off an API server they read
    (an HPA without its metrics API could not scale), reported where the switch is written."""
    needs = [(f"{hpa.namespace}/{hpa.name}", autoscaling.providers(stack, hpa)) for hpa in stack.autoscaling]
    switches = sorted({switch for _, switches in needs for switch in switches if stack.enabled_somewhere(switch)})
    off: dict[tuple[JsonPath, str], list[str | None]] = {}  # (where it is written, switch): the environments
    for env in (None, *stack.environments):
        for switch in switches:
            if lookup(stack.values(env), switch):
                continue
            section, key = switch.split(".")
            where: JsonPath = (section, key)
            if env is not None and key in stack.environments[env].get(section, {}):
                where = ("environments", env, section, key)
            off.setdefault((where, switch), []).append(env)
    for (where, switch), envs in off.items():
        hpas = [name for name, switches in needs if switch in switches]
        yield (
            where,
            f"{_places(envs)} {'leaves' if envs != [None] and len(envs) == 1 else 'leave'} out the HPA{'s' if len(hpas) > 1 else ''} {_listed(hpas)}: "
            f"{switch} is false there, and {'they read' if len(hpas) > 1 else 'it reads'} metrics from {SERVERS[switch]}",
            f"a workload whose HPA is left out keeps the replicas it has; for it to scale there, set {switch}: true",
        )


def _places(envs: list[str | None]) -> str:
    named = [repr(env) for env in envs if env is not None]
    text = ("environment " if len(named) == 1 else "environments ") + _listed(named) if named else ""
    if None in envs:
        return f"the stack's own values and {text}" if named else "the stack's own values"
    return text


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
