"""Checks the schema cannot express: cross references, ranges that depend on other keys,
exactly-once scraping of extra jobs, and RE2 regexes."""

from __future__ import annotations

import functools
import ipaddress
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kmc.check import exposure, images, metrics, retention, scaleout, scheduling
from kmc.components import facts, prometheus
from kmc.components.exposure import SECTIONS
from kmc.components.scrape_jobs import scrape_configs
from kmc.errors import Diagnostic
from kmc.ir import lookup
from kmc.model import Stack, millis
from kmc.platforms import COMPONENTS, MANAGED
from kmc.read.document import Document, JsonPath
from kmc.record import replace

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MIN_KUBERNETES = 25
RESERVED_ENVIRONMENTS = ("default",)
_RE2_UNSUPPORTED = re.compile(r"\(\?<?[=!]|\\[1-9]")
_FILTERING_ROLES = ("pod", "endpoints", "endpointslice", "service")


def check(doc: Document, stack: Stack) -> list[Diagnostic]:
    """Every semantic problem of a schema-valid stack."""
    return [doc.diagnostic(path, message, hint, key=key) for path, message, hint, key in _problems(doc.data, stack)]


def risky_choices(doc: Document, stack: Stack) -> list[Diagnostic]:
    """Conscious but risky choices, reported on every build."""
    found = []
    kube = stack.scrape.kubernetes
    for field, job in (
        ("apiserver", kube.apiserver),
        ("kubelet", kube.kubelet),
        ("cadvisor", kube.cadvisor),
        ("controllerManager", kube.controller_manager),
        ("scheduler", kube.scheduler),
        ("etcd", kube.etcd),
    ):
        if job.enabled and job.insecure_skip_verify:
            found.append(
                replace(
                    doc.diagnostic(
                        ("scrape", "kubernetes", field, "insecureSkipVerify"),
                        f"{field} is scraped without verifying its certificate",
                        "anyone who can intercept the connection can read Prometheus' service account token; prefer serving certificates signed by the cluster CA",
                    ),
                    severity="warning",
                )
            )
    found += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint, _ in _closed_node_port(doc.data, stack)]
    found += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in _unverified_metrics_apis(stack)]
    found += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in scaleout.risks(stack)]
    found += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in metrics.dropped_autoscalers(stack)]
    found += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in images.unchecked(doc.data)]
    found += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in scheduling.risks(doc.data, stack)]
    found += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in _platform_mismatches(stack)]
    found += [replace(doc.diagnostic(path, message, hint), severity="warning") for path, message, hint in exposure.risks(doc.data, stack)]
    return found


# The platforms whose own metrics-server holds v1beta1.metrics.k8s.io and cannot be removed.
OWN_METRICS_SERVER: Mapping[str, str] = {"gke": "GKE", "aks": "AKS"}
# The Kubernetes components a platform runs where kmc's jobs cannot find them (kmc.platforms).
ABSENT_JOBS: Mapping[str, tuple[str, ...]] = {
    **dict.fromkeys(MANAGED, ("controllerManager", "scheduler", "etcd")),
    "k3s": ("controllerManager", "scheduler", "kubeProxy", "etcd"),
}


def _platform_mismatches(stack: Stack) -> Iterator[tuple[JsonPath, str, str]]:
    """What the stack asks of a component its platform does not run where kmc looks (kmc.platforms):
    jobs that would find no target, and a second provider of metrics.k8s.io."""
    platform = stack.cluster.platform
    kube = stack.scrape.kubernetes
    enabled = {
        "controllerManager": kube.controller_manager.enabled,
        "scheduler": kube.scheduler.enabled,
        "kubeProxy": kube.kube_proxy.enabled,
        "etcd": kube.etcd.enabled,
    }
    for name in ABSENT_JOBS.get(platform, ()):
        if enabled[name]:
            where = "inside the k3s process" if platform == "k3s" else "outside the cluster"
            yield (
                ("scrape", "kubernetes", name, "enabled"),
                f"on {platform}, {COMPONENTS[name]} runs {where}: the job finds no pod to scrape",
                f"leave scrape.kubernetes.{name} to the platform's default (off), or scrape it with an extra job of your own",
            )
    if platform not in OWN_METRICS_SERVER:
        return
    owner = f"{OWN_METRICS_SERVER[platform]} runs a metrics-server of its own for v1beta1.metrics.k8s.io: a second provider fights it for the APIService"
    if stack.enabled_somewhere("metricsServer.enabled"):
        yield (("metricsServer", "enabled"), owner, "leave metricsServer.enabled false: kubectl top and HPAs on CPU and memory use the platform's")
    if stack.enabled_somewhere("prometheusAdapter.enabled") and stack.prometheus_adapter.resource_metrics:
        yield (
            ("prometheusAdapter", "resourceMetrics", "enabled"),
            owner,
            "leave resourceMetrics off: the adapter serves custom and external metrics beside the platform's",
        )


def _unverified_metrics_apis(stack: Stack) -> Iterator[tuple[JsonPath, str, str]]:
    """The metrics APIs' conscious opt-outs of TLS verification, and what each costs."""
    if stack.enabled_somewhere("metricsServer.enabled") and stack.metrics_server.insecure_kubelet_tls:
        yield (
            ("metricsServer", "kubelet", "insecureTLS"),
            "metrics-server does not verify the kubelets' certificates (--kubelet-insecure-tls)",
            "anyone on the path to a kubelet can feed false CPU and memory figures to kubectl top and your HPAs; sign kubelet serving certificates with the cluster CA (serverTLSBootstrap) and drop this",
        )
    for server in facts(stack).api_servers:
        if server.tls.mode == "insecure":
            yield (
                (*server.where, "mode"),
                f"the APIService of {server.name} skips TLS verification (insecureSkipTLSVerify)",
                "anyone who can intercept kube-apiserver's connection can impersonate this API; use mode generate, ca, cert-manager or secret",
            )


def _closed_node_port(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    """A NodePort Service in front of a Prometheus whose NetworkPolicy admits no IP block: node-port
    clients come from outside the cluster's pods, so nothing but the listed pods gets through."""
    for env in [None, *stack.environments]:
        written = data.get("environments", {}).get(env, {}) if env else data
        if env and not (_has(written, "prometheus", "networkPolicy") or _has(written, "prometheus", "service")):
            continue  # as the stack's own values: reported there
        values = stack.values(env)["prometheus"]
        policy = values["networkPolicy"]
        if policy["enabled"] and values["service"]["type"] == "NodePort" and not any("ipBlock" in peer for peer in policy["from"]):
            where: JsonPath = (
                ("environments", env, "prometheus", "networkPolicy")
                if env and _has(written, "prometheus", "networkPolicy")
                else ("prometheus", "networkPolicy")
            )
            yield (
                where,
                "Prometheus' Service is a NodePort, but its NetworkPolicy admits no IP block" + (f" in environment {env!r}" if env else ""),
                "node-port clients are not pods of the cluster: add an `ipBlock` of their addresses to `from`, or use a ClusterIP Service",
                False,
            )


Problem = tuple[JsonPath, str, str, bool]


def _problems(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    jobs = scrape_configs(stack, facts(stack).service_targets)  # once: it grows with the extra jobs
    yield from _cluster(stack)
    yield from _timing(stack)
    yield from _prefix(stack)
    yield from _environments(data, stack)
    yield from _etcd(stack)
    yield from _extra_jobs(stack, jobs)
    yield from _network_policy_peers(data, stack)
    yield from ((path, message, hint, False) for path, message, hint in metrics.problems(stack, jobs))
    yield from scaleout.problems(stack, _relabel)
    yield from retention.problems(stack)
    yield from exposure.problems(data, stack)
    yield from ((path, message, hint, False) for path, message, hint in images.problems(data))
    yield from ((path, message, hint, False) for path, message, hint in scheduling.problems(data, stack))


def _cluster(stack: Stack) -> Iterator[Problem]:
    minor = int(stack.cluster.kubernetes_version.split(".")[1])
    if minor < MIN_KUBERNETES:
        yield (
            ("cluster", "kubernetesVersion"),
            f"Kubernetes 1.{minor} is not supported; kmc targets 1.{MIN_KUBERNETES} and later",
            "Pod Security Admission labels and discovery.k8s.io/v1 need 1.25",
            False,
        )


def _timing(stack: Stack) -> Iterator[Problem]:
    pairs = [
        (("prometheus", "scrapeTimeout"), stack.prometheus.scrape_timeout, stack.prometheus.scrape_interval, "prometheus.scrapeInterval"),
        (("scrape", "slow", "timeout"), stack.scrape.slow_timeout, stack.scrape.slow_interval, "scrape.slow.interval"),
    ]
    for path, timeout, interval, name in pairs:
        if millis(timeout) > millis(interval):
            yield (path, f"timeout {timeout} is longer than the interval {interval}", f"Prometheus rejects this; lower it or raise {name}", False)
    for index, job in enumerate(stack.scrape.extra_jobs):
        timeout = job.get("scrape_timeout", stack.prometheus.scrape_timeout)
        interval = job.get("scrape_interval", stack.prometheus.scrape_interval)
        if millis(timeout) > millis(interval):
            yield (("scrape", "extraJobs", index), f"scrape_timeout {timeout} is longer than scrape_interval {interval}", "Prometheus rejects this", False)


def _prefix(stack: Stack) -> Iterator[Problem]:
    prefix = stack.scrape.annotation_prefix
    if len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix):
        yield (
            ("scrape", "annotationPrefix"),
            f"{prefix!r} is not a valid annotation prefix",
            "an annotation prefix is a DNS subdomain such as prometheus.io or example.com, without the '/'",
            False,
        )


def _environments(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    for name in stack.environments:
        if name in RESERVED_ENVIRONMENTS:
            yield (
                ("environments", name),
                f"the environment name {name!r} is reserved",
                "it names the stack's own values in the output; choose another name",
                True,
            )
    environments: list[str | None] = [None, *stack.environments]
    for env in environments:
        values = stack.values(env)
        base: JsonPath = ("environments", env) if env else ()
        written = data.get("environments", {}).get(env, {}) if env else data
        service = values["prometheus"]["service"]
        node_port = service.get("nodePort")
        if node_port is not None:
            where = (
                (*base, "prometheus", "service", "nodePort") if _has(written, "prometheus", "service", "nodePort") else ("prometheus", "service", "nodePort")
            )
            if service["type"] != "NodePort":
                yield (
                    where,
                    f"nodePort is set but the service type is {service['type']}" + (f" in environment {env!r}" if env else ""),
                    "set `type: NodePort`, or remove nodePort",
                    False,
                )
        if env and _has(written, "prometheus", "storage") and not stack.prometheus.storage:
            yield (
                (*base, "prometheus", "storage"),
                f"environment {env!r} sets prometheus.storage, but the stack has no prometheus.storage",
                "storage decides between a Deployment and a StatefulSet for every environment: declare `prometheus.storage` at the top level",
                True,
            )
        for section in ("prometheus", "nodeExporter", "kubeStateMetrics"):
            for index, toleration in enumerate(values[section]["tolerations"]):
                if toleration.get("operator") == "Exists" and "value" in toleration:
                    path = (
                        (*base, section, "tolerations", index, "value") if _has(written, section, "tolerations") else (section, "tolerations", index, "value")
                    )
                    yield (path, "a toleration with operator Exists must not have a value", "remove the value, or use operator Equal", False)


def _has(data: Any, *keys: str) -> bool:
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            return False
        data = data[key]
    return True


def _etcd(stack: Stack) -> Iterator[Problem]:
    etcd = stack.scrape.kubernetes.etcd
    if etcd.enabled and not etcd.secret_name:
        yield (
            ("scrape", "kubernetes", "etcd"),
            "etcd scraping needs `secretName`",
            "name a Secret in the stack's namespace holding ca.crt, tls.crt and tls.key of an etcd client certificate",
            True,
        )


def _extra_jobs(stack: Stack, jobs: Sequence[Mapping[str, Any]]) -> Iterator[Problem]:
    """`jobs`: every scrape job of the stack, extra jobs last (kmc.components.scrape_jobs.scrape_configs)."""
    targets = facts(stack).service_targets
    generated = {job["job_name"] for job in jobs[: -len(stack.scrape.extra_jobs) or None]}
    # Every way a static target can name a Service of the stack that kmc scrapes itself.
    scraped = [target.service for target in targets if target.namespace == stack.namespace] + [prometheus.NAME]
    ns, domain = stack.namespace, stack.cluster.domain
    owners = {host: name for name in scraped for host in (name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{domain}")}
    owners.update({"localhost": prometheus.NAME, "127.0.0.1": prometheus.NAME})
    seen_names: dict[str, int] = {}
    seen_targets: dict[tuple[str, str, str], str] = {}
    kube = stack.scrape.kubernetes
    for index, job in enumerate(stack.scrape.extra_jobs):
        here: JsonPath = ("scrape", "extraJobs", index)
        name = job["job_name"]
        if name in generated:
            yield ((*here, "job_name"), f"job name {name!r} is already used by a job kmc generates", "choose another job_name", False)
        elif name in seen_names:
            yield ((*here, "job_name"), f"job name {name!r} is used twice (also scrape.extraJobs[{seen_names[name]}])", "job names must be unique", False)
        seen_names.setdefault(name, index)
        for step, rule in enumerate(job.get("relabel_configs", [])):
            yield from _relabel(rule, (*here, "relabel_configs", step))
        for step, rule in enumerate(job.get("metric_relabel_configs", [])):
            yield from _relabel(rule, (*here, "metric_relabel_configs", step))
        actions = {rule.get("action", "replace") for rule in job.get("relabel_configs", [])}
        for sd_index, sd in enumerate(job.get("kubernetes_sd_configs", [])):
            role = sd["role"]
            if role in _FILTERING_ROLES and "keep" not in actions:
                yield (
                    (*here, "kubernetes_sd_configs", sd_index, "role"),
                    f"job {name!r} discovers every {role} without a `keep` relabel rule, so it scrapes targets the annotation jobs already scrape",
                    "add a relabel_configs step with `action: keep` that selects only this job's targets",
                    False,
                )
            path = job.get("metrics_path", "/metrics")
            if (
                role == "node"
                and "keep" not in actions
                and ((path == "/metrics" and kube.kubelet.enabled) or (path == "/metrics/cadvisor" and kube.cadvisor.enabled))
            ):
                yield (
                    (*here, "kubernetes_sd_configs", sd_index, "role"),
                    f"job {name!r} scrapes every kubelet's {path}, which the {'kubelet' if path == '/metrics' else 'cadvisor'} job already scrapes",
                    "disable that job under scrape.kubernetes, or filter this one with a `keep` rule",
                    False,
                )
        for group_index, group in enumerate(job.get("static_configs", [])):
            for target_index, target in enumerate(group["targets"]):
                where = (*here, "static_configs", group_index, "targets", target_index)
                host = target.rsplit(":", 1)[0]
                owner = owners.get(host)
                if owner == prometheus.NAME and host in ("localhost", "127.0.0.1") and target != f"{host}:{prometheus.PORT}":
                    owner = None  # another process on Prometheus' own host
                if owner is not None:
                    yield (
                        where,
                        f"{target} is {owner}, which kmc already scrapes in its own job",
                        "remove this target; kmc scrapes every stack component exactly once",
                        False,
                    )
                key = (target, job.get("metrics_path", "/metrics"), repr(sorted(job.get("params", {}).items())))
                if key in seen_targets:
                    yield (where, f"{target}{key[1]} is scraped twice (also by job {seen_targets[key]!r})", "scrape each target in one job only", False)
                seen_targets.setdefault(key, name)


_RE2_ONLY = re.compile(r"\\[pP](?:\{[^}]*\}|[A-Za-z])|\\.|\(\?<[=!]?")


def _python_spelling(regex: str) -> str:
    """An RE2 regex in Python's spelling, for a syntax check: Unicode classes become `.`, `\\z` `\\Z`,
    named groups `(?P<`; other escapes are left alone (and consumed, so `\\\\p` stays literal)."""

    def swap(match: re.Match[str]) -> str:
        token = match.group()
        if token[:2] in ("\\p", "\\P"):
            return "."
        if token == "\\z":
            return "\\Z"
        if token == "(?<":
            return "(?P<"
        return token

    return _RE2_ONLY.sub(swap, regex)


@functools.lru_cache(maxsize=1024)  # generated jobs repeat the same few regexes
def _regex_error(regex: str) -> str | None:
    """Why Python's re refuses `regex` (in its Python spelling), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. FutureWarning on RE2's valid [[:alpha:]]
            re.compile(_python_spelling(regex))
    except (re.error, OverflowError, RecursionError) as err:
        return err.msg if isinstance(err, re.error) else str(err)
    return None


def _relabel(rule: Mapping[str, Any], path: JsonPath) -> Iterator[Problem]:
    regex = rule.get("regex")
    if regex is not None:
        if _RE2_UNSUPPORTED.search(regex):
            yield (
                (*path, "regex"),
                "lookarounds and backreferences are not supported by Prometheus' RE2 regexes",
                "rewrite the regex without (?=, (?!, (?<, or \\1",
                False,
            )
        elif (reason := _regex_error(regex)) is not None:
            yield ((*path, "regex"), f"invalid regex: {reason}", "Prometheus regexes are RE2, anchored at both ends", False)
    action = rule.get("action", "replace")
    if action in ("replace", "hashmod", "lowercase", "uppercase") and "target_label" not in rule:
        yield (path, f"action {action!r} needs a `target_label`", "name the label this step writes", False)
    if action == "hashmod" and "modulus" not in rule:
        yield (path, "action 'hashmod' needs a `modulus`", "set modulus to the number of shards", False)
    if action in ("keep", "drop", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal") and "source_labels" not in rule:
        yield (path, f"action {action!r} needs `source_labels`", "list the labels whose values this step reads", False)


# The peer lists kmc copies into NetworkPolicies as written (the others' peers are the same schema).
PEER_LISTS = (
    ("prometheus", "networkPolicy", "from"),
    *((ui.section, ui.key, kind, "from") for ui in SECTIONS for kind in exposure.KINDS),
)


def _network_policy_peers(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    """What the Kubernetes API would reject in `prometheus.networkPolicy.from` and the UIs'
    `expose.*.from`, wherever it is written."""
    for env in [None, *stack.environments]:
        written = data.get("environments", {}).get(env, {}) if env else data
        for keys in PEER_LISTS:
            if env and not _has(written, *keys):
                continue  # inherited: reported where it is written
            base: JsonPath = ("environments", env, *keys) if env else keys
            for index, peer in enumerate(lookup(stack.values(env), ".".join(keys))):
                yield from _peer(peer, (*base, index))


def _peer(peer: Mapping[str, Any], path: JsonPath) -> Iterator[Problem]:
    if not peer:
        yield (
            path,
            "the Kubernetes API rejects an empty peer",
            "name a namespaceSelector, a podSelector or an ipBlock (`namespaceSelector: {}` is every pod)",
            False,
        )
    if "ipBlock" in peer and len(peer) > 1:
        yield (path, "ipBlock cannot be combined with namespaceSelector or podSelector", "write the IP block as a peer of its own", False)
    for selector in ("namespaceSelector", "podSelector"):
        for index, expression in enumerate(peer.get(selector, {}).get("matchExpressions", [])):
            needs_values = expression["operator"] in ("In", "NotIn")
            if needs_values != bool(expression.get("values")):
                where = (*path, selector, "matchExpressions", index)
                hint = "add the values to match" if needs_values else "remove `values`"
                yield (where, f"operator {expression['operator']} {'needs' if needs_values else 'takes no'} values", hint, False)
    if "ipBlock" in peer:
        yield from _ip_block(peer["ipBlock"], (*path, "ipBlock"))


def _ip_block(block: Mapping[str, Any], path: JsonPath) -> Iterator[Problem]:
    try:
        network = ipaddress.ip_network(block["cidr"], strict=False)
    except ValueError as error:
        yield ((*path, "cidr"), f"{block['cidr']!r} is not a CIDR: {error}", "write an address range such as 10.0.0.0/8 or fd00::/8", False)
        return
    for index, text in enumerate(block.get("except", [])):
        try:
            excluded = ipaddress.ip_network(text, strict=False)
        except ValueError as error:
            yield ((*path, "except", index), f"{text!r} is not a CIDR: {error}", "write an address range such as 10.0.66.0/24", False)
            continue
        if excluded.version != network.version or not excluded.subnet_of(network) or excluded == network:  # type: ignore[arg-type]
            yield ((*path, "except", index), f"{text} is not strictly inside {block['cidr']}", "an exception must be a strict subrange of `cidr`", False)
