"""Hypothesis strategies for kmc stack documents (plain dicts).

`stacks()` is valid by construction: it keeps every rule kmc checks beyond the schema (timeouts
within intervals, node ports valid in every environment after the Helm-style merge, unique extra
job names and targets that no generated job owns, a `keep` rule in every Kubernetes-discovery
job). The tests still re-validate each document through kmc. `mutated_stacks()` and
`yamlish_documents()` produce arbitrary, mostly invalid, input for the robustness property.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from kmc.check.grafana_settings import SECRET_SETTINGS
from kmc.check.images import version_of
from kmc.components import rule_packs

Doc = dict[str, Any]
JsonPath = tuple[str | int, ...]

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema" / "stack.schema.json"
LIBRARY_DASHBOARDS = tuple(json.loads(SCHEMA_FILE.read_text())["properties"]["grafana"]["properties"]["dashboards"]["properties"]["library"]["items"]["enum"])

# Every job name kmc can generate, whether or not the stack enables its job.
GENERATED_JOBS = frozenset(
    {
        "prometheus",
        "apiserver",
        "kubelet",
        "cadvisor",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
        "coredns",
        "etcd",
        "node-exporter",
        "kube-state-metrics",
        "kubernetes-pods",
        "kubernetes-pods-slow",
        "kubernetes-service-endpoints",
        "kubernetes-service-endpoints-slow",
    }
)
_UNITS = (("y", 31536000.0), ("w", 604800.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 0.001))
_SECONDS = dict(_UNITS)
DIGITS = "0123456789"
LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz" + DIGITS
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = LETTERS + DIGITS
DEFAULT_TIMING = {"prometheus": ("10s", "30s"), "slow": ("30s", "5m")}


# --- scalars -------------------------------------------------------------------------------


def often(draw: st.DrawFn) -> bool:
    """True three times out of four: for optional sections that hold most of what is worth testing."""
    return draw(st.integers(0, 3)) > 0


def shaped(first: str, inner: str, last: str, max_size: int) -> st.SearchStrategy[str]:
    """Words of 1 to `max_size` characters: one of `first`, then `inner` ones, ending in one of `last`.

    Built from `st.text` rather than `st.from_regex`, which costs most of the generation time.
    """
    single = st.sampled_from(sorted(set(first) & set(last)))
    longer = st.builds(lambda a, b, c: a + b + c, st.sampled_from(first), st.text(inner, max_size=max_size - 2), st.sampled_from(last))
    return single | longer


def dns_labels(max_size: int = 63) -> st.SearchStrategy[str]:
    """DNS-1123 labels of at most `max_size` characters."""
    return shaped(LOWER_ALNUM, LOWER_ALNUM + "-", LOWER_ALNUM, max_size)


def dns_subdomains() -> st.SearchStrategy[str]:
    return st.lists(dns_labels(20), min_size=1, max_size=4).map(".".join)


# What kmc refuses in any stack text (YAML parsers disagree on it): C0/C1 controls but tab and
# line feed, DEL, and the Unicode line and paragraph separators.
PRINTABLE = st.characters(blacklist_categories=("Cs",), blacklist_characters=[chr(c) for c in (*range(0, 9), *range(11, 32), *range(127, 160), 0x2028, 0x2029)])


def free_text(max_size: int = 16) -> st.SearchStrategy[str]:
    """Any printable text (to stress YAML quoting), or a tidy word."""
    return st.text(PRINTABLE, max_size=max_size) | st.text(LOWER_ALNUM, min_size=1, max_size=10)


def label_values() -> st.SearchStrategy[str]:
    """Kubernetes label values (empty, or alphanumeric at both ends with -_. inside)."""
    return st.just("") | shaped(ALNUM, ALNUM + "-_.", ALNUM, 63)


label_names = shaped(LETTERS + "_", ALNUM + "_", ALNUM + "_", 16)
# Prometheus' and Grafana's node ports from ranges of their own: kmc refuses two Services on one.
node_ports = st.integers(30000, 31999)
grafana_node_ports = st.integers(32000, 32767)
ports = st.integers(1, 65535)


def seconds(duration: str) -> float:
    """Length of a duration written by `durations()` (units in y..ms order, each once)."""
    total, number = 0.0, ""
    index = 0
    while index < len(duration):
        char = duration[index]
        if char.isdigit():
            number += char
            index += 1
            continue
        unit = "ms" if duration.startswith("ms", index) else char
        total += int(number) * _SECONDS[unit]
        number, index = "", index + len(unit)
    return total


@st.composite
def durations(draw: st.DrawFn) -> str:
    """Prometheus durations such as 30s, 1h30m or 2d, always positive."""
    units = draw(st.lists(st.integers(0, len(_UNITS) - 1), min_size=1, max_size=3, unique=True))
    return "".join(f"{draw(st.integers(1, 90))}{_UNITS[index][0]}" for index in sorted(units))


@st.composite
def timings(draw: st.DrawFn, keys: tuple[str, str], defaults: tuple[str, str]) -> dict[str, str]:
    """Some of (timeout key, interval key), keeping the effective timeout within the interval."""
    timeout, interval = sorted((draw(durations()), draw(durations())), key=seconds)
    mode = draw(st.sampled_from(("none", "both", "timeout", "interval")))
    if mode == "timeout":
        return {keys[0]: min(timeout, defaults[1], key=seconds)}
    if mode == "interval":
        return {keys[1]: max(interval, defaults[0], key=seconds)}
    return {keys[0]: timeout, keys[1]: interval} if mode == "both" else {}


def effective_timing(written: Mapping[str, str], keys: tuple[str, str], defaults: tuple[str, str]) -> tuple[str, str]:
    return written.get(keys[0], defaults[0]), written.get(keys[1], defaults[1])


quantities: st.SearchStrategy[Any] = st.one_of(
    st.builds(
        lambda whole, fraction, suffix: f"{whole}{fraction}{suffix}",
        st.integers(0, 9999),
        st.just("") | st.text(DIGITS, min_size=1, max_size=3).map(lambda digits: "." + digits),
        st.sampled_from(("", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")),
    ),
    st.integers(0, 10**6),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
)
# Image tags: free text (kmc warns it cannot check what is no version), versions no older than
# any minimum kmc has (kmc.check.images), digests.
images = st.builds(
    lambda repo, tag: f"{repo}{tag}",
    shaped(LOWER_ALNUM, LOWER_ALNUM + "-._/:", LOWER_ALNUM, 32),
    shaped(ALNUM + "_", ALNUM + "_.-", ALNUM + "_.-", 21).filter(lambda tag: version_of(tag) is None).map(lambda tag: ":" + tag)
    | st.builds(lambda major, minor, patch: f":v{major}.{minor}.{patch}", st.integers(12, 99), st.integers(0, 99), st.integers(0, 9))
    | st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda digest: "@sha256:" + digest)
    | st.builds(lambda minor, digest: f":v20.{minor}.0@sha256:{digest}", st.integers(0, 99), st.text("0123456789abcdef", min_size=64, max_size=64)),
)
retention_sizes = st.builds(lambda size, unit: f"{size}{unit}", st.integers(0, 99999), st.sampled_from(("B", "KB", "MB", "GB", "TB", "PB", "EB")))


# --- deploy-time parameters ------------------------------------------------------------------


def _resource_lists() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={"cpu": quantities, "memory": quantities, "ephemeral-storage": quantities})


resources = st.fixed_dictionaries({}, optional={"requests": _resource_lists(), "limits": _resource_lists()})
node_selector_keys = st.builds(
    lambda prefix, name: f"{prefix}/{name}" if prefix else name,
    st.none() | dns_subdomains(),
    shaped(ALNUM, ALNUM + "-_.", ALNUM, 22),
)
node_selectors = st.dictionaries(node_selector_keys, label_values(), max_size=3)


@st.composite
def tolerations(draw: st.DrawFn) -> dict[str, Any]:
    """One toleration; operator Exists never carries a value."""
    optional = {
        "key": node_selector_keys,
        "effect": st.sampled_from(("NoSchedule", "PreferNoSchedule", "NoExecute")),
        "tolerationSeconds": st.integers(0, 10**6),
    }
    operator = draw(st.sampled_from((None, "Exists", "Equal")))
    if operator != "Exists":
        optional["value"] = label_values()
    toleration = draw(st.fixed_dictionaries({}, optional=optional))
    if operator is not None:
        toleration["operator"] = operator
    return toleration


_match_expressions = st.one_of(
    st.fixed_dictionaries(
        {"key": node_selector_keys, "operator": st.sampled_from(("In", "NotIn")), "values": st.lists(label_values(), min_size=1, max_size=3)}
    ),
    st.fixed_dictionaries({"key": node_selector_keys, "operator": st.sampled_from(("Exists", "DoesNotExist"))}),
)
label_selectors = st.fixed_dictionaries({}, optional={"matchLabels": node_selectors, "matchExpressions": st.lists(_match_expressions, max_size=2)})
priority_class_names = dns_subdomains()
_topology_keys = st.sampled_from(("kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region"))
_pod_affinity_terms = st.fixed_dictionaries({"topologyKey": _topology_keys}, optional={"labelSelector": label_selectors})
affinities = st.fixed_dictionaries(
    {},
    optional={
        "nodeAffinity": st.fixed_dictionaries(
            {},
            optional={
                "requiredDuringSchedulingIgnoredDuringExecution": st.builds(
                    lambda terms: {"nodeSelectorTerms": [{"matchExpressions": terms}]}, st.lists(_match_expressions, min_size=1, max_size=2)
                ),
                "preferredDuringSchedulingIgnoredDuringExecution": st.lists(
                    st.builds(
                        lambda weight, terms: {"weight": weight, "preference": {"matchExpressions": terms}},
                        st.integers(1, 100),
                        st.lists(_match_expressions, min_size=1, max_size=2),
                    ),
                    max_size=2,
                ),
            },
        ),
        "podAffinity": st.fixed_dictionaries(
            {},
            optional={
                "preferredDuringSchedulingIgnoredDuringExecution": st.lists(
                    st.builds(lambda weight, term: {"weight": weight, "podAffinityTerm": term}, st.integers(1, 100), _pod_affinity_terms), max_size=2
                )
            },
        ),
        # Preferred only: a required anti-affinity against its own pods makes a surging rollout wait
        # forever on as many nodes as replicas (kmc warns of it; tests/startability.py finds it).
        "podAntiAffinity": st.fixed_dictionaries(
            {},
            optional={
                "preferredDuringSchedulingIgnoredDuringExecution": st.lists(
                    st.builds(lambda weight, term: {"weight": weight, "podAffinityTerm": term}, st.integers(1, 100), _pod_affinity_terms), max_size=2
                )
            },
        ),
    },
)
spread_constraints = st.lists(
    st.fixed_dictionaries(
        {
            "maxSkew": st.integers(1, 5),
            "topologyKey": _topology_keys,
            "whenUnsatisfiable": st.sampled_from(("DoNotSchedule", "ScheduleAnyway")),
            "labelSelector": label_selectors,
        },
        optional={"matchLabelKeys": st.just(["pod-template-hash"]), "nodeTaintsPolicy": st.sampled_from(("Honor", "Ignore"))},
    ),
    max_size=2,
)
_disruption_counts = st.integers(1, 10) | st.integers(1, 100).map(lambda share: f"{share}%")
# maxUnavailable only: a minAvailable can be refused (kmc.check.scheduling), depending on the replicas of each environment.
disruption_budgets = st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "maxUnavailable": _disruption_counts})


def _scheduling(*, replicated: bool = True) -> dict[str, st.SearchStrategy[Any]]:
    """A section's scheduling parameters; `replicated`: of pods that may be several (spread, disruption budget)."""
    found: dict[str, st.SearchStrategy[Any]] = {
        "resources": resources,
        "nodeSelector": node_selectors,
        "tolerations": st.lists(tolerations(), max_size=3),
        "priorityClassName": priority_class_names,
        "affinity": affinities,
    }
    if replicated:
        found.update(topologySpreadConstraints=spread_constraints, podDisruptionBudget=disruption_budgets)
    return found


storages = st.fixed_dictionaries({}, optional={"size": quantities, "storageClassName": dns_subdomains()})


def services(ports: st.SearchStrategy[int]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.just({"type": "ClusterIP"}),
        st.just({"type": "NodePort"}),
        st.builds(lambda port: {"type": "NodePort", "nodePort": port}, ports),
    )


top_services = services(node_ports)


def service_overrides(base: Mapping[str, Any], ports: st.SearchStrategy[int] = node_ports) -> st.SearchStrategy[dict[str, Any]]:
    """Environment overrides of a Service that stay valid once merged over `base`."""
    options = [st.just({"type": "NodePort"}), st.builds(lambda port: {"type": "NodePort", "nodePort": port}, ports)]
    if base.get("type", "ClusterIP") == "NodePort":
        options.append(st.builds(lambda port: {"nodePort": port}, ports))
    if "nodePort" not in base:
        options.append(st.just({"type": "ClusterIP"}))
    return st.one_of(options)


@st.composite
def ip_blocks(draw: st.DrawFn) -> dict[str, Any]:
    """An IPv4 or IPv6 block; each exception a strict subrange of it."""
    version = draw(st.sampled_from((4, 6)))
    bits = 32 if version == 4 else 128
    prefix = draw(st.integers(0, bits - 1))
    address = draw(st.integers(0, 2**bits - 1)) >> (bits - prefix) << (bits - prefix)
    # By class, not ip_network(): an IPv6 address below 2**32 would be read as IPv4 (a bug hypothesis found).
    kind: type[ipaddress.IPv4Network] | type[ipaddress.IPv6Network] = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    network = kind((address, prefix))
    block: dict[str, Any] = {"cidr": str(network)}
    exceptions = []
    for _ in range(draw(st.integers(0, 2))):
        sub_prefix = draw(st.integers(prefix + 1, bits))
        offset = draw(st.integers(0, 2 ** (sub_prefix - prefix) - 1)) << (bits - sub_prefix)
        exceptions.append(str(kind((address + offset, sub_prefix))))
    if exceptions:
        block["except"] = exceptions
    return block


# Peers the API accepts: selectors (one or both), or an IP block alone.
network_policy_peers = st.one_of(
    st.fixed_dictionaries({"namespaceSelector": label_selectors}, optional={"podSelector": label_selectors}),
    st.fixed_dictionaries({"podSelector": label_selectors}),
    st.builds(lambda block: {"ipBlock": block}, ip_blocks()),
)
prometheus_network_policies = st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "from": st.lists(network_policy_peers, max_size=3)})

# --- exposure (`expose`): valid by construction, the stack's own section always has a host, TLS and
# a Gateway, so that an environment switching a route on has what it needs; environments never set
# `path` or `tls` (the stack's).
_paths = st.one_of(
    st.just("/"), st.lists(shaped(LOWER_ALNUM, LOWER_ALNUM + "-._~", LOWER_ALNUM, 12), min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
)
_parent_refs = st.lists(
    st.fixed_dictionaries({"name": dns_labels(20)}, optional={"namespace": dns_labels(20), "sectionName": dns_labels(12)}),
    min_size=1,
    max_size=2,
    unique_by=lambda ref: (ref.get("namespace"), ref["name"]),
)


def expose_overrides() -> st.SearchStrategy[dict[str, Any]]:
    """The per-environment part of `expose`: host, and the routes' switches and settings."""
    return st.fixed_dictionaries(
        {},
        optional={
            "host": dns_subdomains(),
            "ingress": st.fixed_dictionaries(
                {}, optional={"enabled": st.booleans(), "className": dns_subdomains(), "from": st.lists(network_policy_peers, max_size=2)}
            ),
            "httpRoute": st.fixed_dictionaries(
                {}, optional={"enabled": st.booleans(), "parentRefs": _parent_refs, "from": st.lists(network_policy_peers, max_size=2)}
            ),
        },
    )


@st.composite
def exposes(draw: st.DrawFn) -> dict[str, Any]:
    """A stack's own `expose`: every route has what it needs wherever an environment switches it on."""
    section = draw(expose_overrides())
    section["host"] = draw(dns_subdomains())
    section.setdefault("httpRoute", {}).setdefault("parentRefs", draw(_parent_refs))
    for kind in ("ingress", "httpRoute"):  # on more often than an optional key would be
        section.setdefault(kind, {}).setdefault("enabled", draw(st.booleans()))
    tls = {"secretName": draw(dns_subdomains())}
    issuer = draw(st.sampled_from((None, "clusterIssuer", "issuer")))
    if issuer:
        tls[issuer] = draw(dns_subdomains())
    section["tls"] = tls
    if draw(st.booleans()):
        section["path"] = draw(_paths)
    return section


ui_ports = st.integers(1, 65535)
exporter_network_policies = st.fixed_dictionaries({}, optional={"enabled": st.booleans()})


_INGEST_MODES = st.sampled_from(("used", "all"))
# The self-scrape job is in every stack that has a Prometheus.
ingest_modes = st.fixed_dictionaries({}, optional={"default": _INGEST_MODES, "jobs": st.dictionaries(st.just("prometheus"), _INGEST_MODES)})
metric_names = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True)


def prometheus_parameters(service: st.SearchStrategy[dict[str, Any]], storage: bool) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "image": images,
        "replicas": st.integers(0, 10),
        "retention": durations(),
        "retentionSize": retention_sizes,
        "service": service,
        "networkPolicy": prometheus_network_policies,
        "configReloaderImage": images,
        "configReloaderResources": resources,
        "thanosImage": images,
        "thanosQueryReplicas": st.integers(0, 10),
        "ingest": ingest_modes,
        **_scheduling(),
    }
    if storage:
        optional["storage"] = storages
    return st.fixed_dictionaries({}, optional=optional)


def node_exporter_parameters() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "image": images, **_scheduling(replicated=False)})


def kube_state_metrics_parameters() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "enabled": st.booleans(),
            "image": images,
            "replicas": st.integers(0, 1),
            "networkPolicy": exporter_network_policies,
            **_scheduling(replicated=False),
        },
    )


def grafana_parameters(service: st.SearchStrategy[dict[str, Any]], storage: bool) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "enabled": st.booleans(),
        "image": images,
        "replicas": st.integers(0, 1),
        "service": service,
        "networkPolicy": prometheus_network_policies,
        **_scheduling(),
    }
    if storage:
        optional["storage"] = storages
    return st.fixed_dictionaries({}, optional=optional)


# Air-gapped clusters: a mirror registry (host, port, path) and pull Secrets.
image_sections = st.fixed_dictionaries(
    {},
    optional={
        "registry": st.builds(
            lambda host, port, path: f"{host}{port}{path}",
            dns_subdomains(),
            st.just("") | st.integers(1, 65535).map(lambda port: f":{port}"),
            st.just("") | shaped(LOWER_ALNUM, LOWER_ALNUM + "-._", LOWER_ALNUM, 12).map(lambda part: "/" + part),
        ),
        "pullSecrets": st.lists(dns_subdomains(), unique=True, max_size=2),
    },
)


# --- sections --------------------------------------------------------------------------------


clusters = st.fixed_dictionaries(
    {},
    optional={
        "name": dns_labels(),
        "domain": dns_subdomains(),
        "kubernetesVersion": st.integers(25, 99).map(lambda minor: f"1.{minor}"),
    },
)


@st.composite
def prometheus_sections(draw: st.DrawFn) -> Doc:
    """Top-level `prometheus`: parameters (storage sometimes set) plus the global scrape settings."""
    section = draw(prometheus_parameters(top_services, storage=False))
    if draw(st.booleans()):
        section["storage"] = draw(storages)
    section.update(draw(timings(("scrapeTimeout", "scrapeInterval"), DEFAULT_TIMING["prometheus"])))
    section.update(
        draw(st.fixed_dictionaries({}, optional={"evaluationInterval": durations(), "externalLabels": st.dictionaries(label_names, free_text(), max_size=3)}))
    )
    if draw(st.booleans()):
        section.update(draw(scale_out(set(section.get("externalLabels", {})))))
    section.update(draw(hatches(("--query.max-concurrency=40", "--query.timeout=2m", "--log.format=json"))))
    if often(draw):
        names = st.lists(
            st.sampled_from(("exemplar-storage", "concurrent-rule-eval", "promql-experimental-functions", "extra-scrape-metrics")), unique=True, max_size=2
        )
        flags = {key: st.booleans() for key in ("remoteWriteReceiver", "otlpReceiver", "nativeHistograms")}
        section["features"] = draw(st.fixed_dictionaries({}, optional={**flags, "enable": names}))
    if section.get("ha", {}).get("enabled"):
        # Each HA replica sends its own copy: InfluxDB, which cannot deduplicate them, takes the
        # first replica's only (`writers: one`, which finds it by a StatefulSet's pod name).
        for entry in section["remoteWrite"]:
            if entry["kind"] == "influxdb" and "storage" not in section:
                section["storage"] = draw(storages)
            choices = ["one"] if entry["kind"] == "influxdb" else [None, "all", *(["one"] if "storage" in section else [])]
            writers = draw(st.sampled_from(choices))
            if writers:
                entry["writers"] = writers
    _draw_exposure(draw, section, exposed=section.get("shards", 1) == 1)  # shards have no one Service to expose
    if section.get("thanos", {}).get("query", {}).get("enabled") and draw(st.booleans()):
        section["thanosQueryExpose"] = {**draw(exposes()), "path": "/"}  # Thanos Query is served at the root only
    return section


def _draw_exposure(draw: st.DrawFn, section: Doc, *, exposed: bool = True) -> None:
    """Sometimes a Service port of the stack's own and an `expose` section."""
    if draw(st.booleans()):
        section["service"] = {**section.get("service", {"type": "ClusterIP"}), "port": draw(ui_ports)}
    if exposed and draw(st.booleans()):
        section["expose"] = draw(exposes())


@st.composite
def remote_writes(draw: st.DrawFn, name: str) -> Doc:
    kind = draw(st.sampled_from(("generic", "influxdb", "thanos-receive", "mimir", "victoriametrics")))
    entry: Doc = {"name": name, "kind": kind, "url": "http://store.storage.svc:8080" + ("/api/v1/write" if kind == "generic" else "")}
    if kind == "influxdb":
        entry["database"] = draw(dns_labels(12))
    if kind == "mimir" and draw(st.booleans()):
        entry["tenant"] = draw(dns_labels(12))
    secret = st.fixed_dictionaries({"secretName": dns_labels(20), "key": dns_labels(12)})
    auth = draw(st.sampled_from(("none", "basic", "bearer")))
    if auth == "basic":
        entry["basicAuth"] = {"username": draw(dns_labels(12)), "password": draw(secret)}
    elif auth == "bearer":
        entry["bearerToken"] = draw(secret)
    if draw(st.booleans()):
        entry["queueConfig"] = draw(st.fixed_dictionaries({}, optional={"max_shards": st.integers(1, 100), "batch_send_deadline": durations()}))
    return entry


@st.composite
def scale_out(draw: st.DrawFn, external_labels: set[str]) -> Doc:
    """Shards, HA, Thanos and remote write: what kmc.check.scaleout accepts."""
    shards = 1 if "shard" in external_labels else draw(st.integers(1, 3))
    sidecar = shards > 1 or draw(st.booleans())
    query = shards > 1 or (sidecar and draw(st.booleans()))
    replica = draw(label_names.filter(lambda name: name not in external_labels | {"cluster", "shard"}))
    names = draw(st.lists(dns_labels(12), unique=True, max_size=2))
    return {
        "shards": shards,
        "ha": {"enabled": draw(st.booleans()), "replicaLabel": replica},
        "thanos": {"sidecar": {"enabled": sidecar}, "query": {"enabled": query}},
        "remoteWrite": [draw(remote_writes(name)) for name in names],
    }


def _component_jobs() -> st.SearchStrategy[dict[str, Any]]:
    # The schema requires `enabled`: the default differs from job to job.
    tls = st.fixed_dictionaries({"enabled": st.booleans()}, optional={"insecureSkipVerify": st.booleans()})
    plain = st.fixed_dictionaries({"enabled": st.booleans()})
    etcd = st.one_of(
        st.fixed_dictionaries({"enabled": st.just(False)}, optional={"port": ports, "insecureSkipVerify": st.booleans(), "secretName": dns_subdomains()}),
        st.fixed_dictionaries({"enabled": st.just(True), "secretName": dns_subdomains()}, optional={"port": ports, "insecureSkipVerify": st.booleans()}),
    )
    jobs = {name: tls for name in ("apiserver", "kubelet", "cadvisor", "controllerManager", "scheduler")}
    return st.fixed_dictionaries({"etcd": etcd}, optional={**jobs, "kubeProxy": plain, "coredns": plain})


# --- extra scrape jobs -------------------------------------------------------------------------


safe_regexes = st.one_of(
    st.sampled_from(("(.+)", ".*", "(.*)", "true", "[a-z]+", "(\\d+)")),
    st.lists(st.text(LOWER_ALNUM + "_", min_size=1, max_size=8), min_size=1, max_size=3).map("|".join),
)
_source_labels = st.lists(label_names, min_size=1, max_size=3)


def _rule(
    action: str | None, required: Mapping[str, st.SearchStrategy[Any]], optional: Mapping[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    fixed = {**({"action": st.just(action)} if action else {}), **required}
    return st.fixed_dictionaries(fixed, optional=dict(optional))


keep_rules = _rule("keep", {"source_labels": _source_labels}, {"regex": safe_regexes})
relabel_rules = st.one_of(
    keep_rules,
    _rule("drop", {"source_labels": _source_labels}, {"regex": safe_regexes, "separator": free_text(3)}),
    _rule(None, {"target_label": label_names}, {"source_labels": _source_labels, "regex": safe_regexes, "replacement": free_text()}),
    _rule(
        "replace",
        {"target_label": label_names},
        {"source_labels": _source_labels, "regex": safe_regexes, "replacement": free_text(), "separator": free_text(3)},
    ),
    _rule("hashmod", {"source_labels": _source_labels, "target_label": label_names, "modulus": st.integers(1, 1000)}, {}),
    _rule("labelmap", {"regex": safe_regexes}, {"replacement": free_text()}),
    _rule("labeldrop", {"regex": safe_regexes}, {}),
    _rule("labelkeep", {"regex": safe_regexes}, {}),
    _rule("lowercase", {"source_labels": _source_labels, "target_label": label_names}, {}),
    _rule("uppercase", {"source_labels": _source_labels, "target_label": label_names}, {}),
    _rule("keepequal", {"source_labels": _source_labels, "target_label": label_names}, {}),
    _rule("dropequal", {"source_labels": _source_labels, "target_label": label_names}, {}),
)
_roles = st.sampled_from(("node", "pod", "service", "endpoints", "endpointslice", "ingress"))
kubernetes_sd_configs = st.fixed_dictionaries(
    {"role": _roles},
    optional={
        "namespaces": st.fixed_dictionaries({}, optional={"names": st.lists(dns_labels(20), max_size=3), "own_namespace": st.booleans()}),
        "selectors": st.lists(st.fixed_dictionaries({"role": _roles}, optional={"label": free_text(), "field": free_text()}), max_size=2),
        "attach_metadata": st.fixed_dictionaries({}, optional={"node": st.booleans()}),
    },
)
dns_sd_configs = st.fixed_dictionaries(
    {"names": st.lists(dns_subdomains(), max_size=3)},
    optional={"type": st.sampled_from(("SRV", "A", "AAAA", "MX", "NS")), "port": ports, "refresh_interval": durations()},
)
_job_options: dict[str, st.SearchStrategy[Any]] = {
    "metrics_path": free_text().map(lambda text: "/" + text),
    "scheme": st.sampled_from(("http", "https")),
    "params": st.dictionaries(label_names, st.lists(free_text(), max_size=2), max_size=2),
    "honor_labels": st.booleans(),
    "honor_timestamps": st.booleans(),
    "sample_limit": st.integers(0, 10**6),
    "target_limit": st.integers(0, 10**4),
    "label_limit": st.integers(0, 100),
    "body_size_limit": st.builds(lambda size, unit: f"{size}{unit}", st.integers(1, 999), st.sampled_from(("KB", "MB", "GB"))),
    "follow_redirects": st.booleans(),
    "enable_http2": st.booleans(),
    "tls_config": st.fixed_dictionaries(
        {},
        optional={
            "ca_file": free_text(),
            "cert_file": free_text(),
            "key_file": free_text(),
            "server_name": free_text(),
            "insecure_skip_verify": st.booleans(),
            "min_version": st.sampled_from(("TLS10", "TLS11", "TLS12", "TLS13")),
        },
    ),
    "authorization": st.fixed_dictionaries({}, optional={"type": free_text(), "credentials_file": free_text()}),
    "metric_relabel_configs": st.lists(relabel_rules, max_size=3),
}
job_names = st.text(ALNUM + "_.:-", min_size=1, max_size=24).filter(lambda name: name not in GENERATED_JOBS)
_hosts = st.one_of(
    dns_labels(20).map(lambda label: f"{label}.example.net"),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda parts: "10." + ".".join(map(str, parts[1:]))),
)
targets = st.builds(lambda host, port: f"{host}:{port}", _hosts, ports)


@st.composite
def static_configs(draw: st.DrawFn, used: set[str]) -> list[dict[str, Any]]:
    """Groups of targets no other job of the stack scrapes (`used` collects them)."""
    groups = []
    for _ in range(draw(st.integers(1, 3))):
        fresh = [target for target in draw(st.lists(targets, max_size=3, unique=True)) if target not in used]
        used.update(fresh)
        group: dict[str, Any] = {"targets": fresh}
        if draw(st.booleans()):
            group["labels"] = draw(st.dictionaries(label_names, free_text(), max_size=2))
        groups.append(group)
    return groups


@st.composite
def extra_jobs(draw: st.DrawFn, name: str, global_timing: tuple[str, str], used: set[str]) -> Doc:
    """One extra scrape job; Kubernetes discovery always comes with a `keep` rule."""
    job: Doc = {"job_name": name}
    job.update(draw(timings(("scrape_timeout", "scrape_interval"), global_timing)))
    job.update(draw(st.fixed_dictionaries({}, optional=_job_options)))
    discovery = draw(st.sets(st.sampled_from(("static", "dns", "kubernetes")), max_size=3))
    rules = draw(st.lists(relabel_rules, max_size=3))
    if "static" in discovery:
        job["static_configs"] = draw(static_configs(used))
    if "dns" in discovery:
        job["dns_sd_configs"] = draw(st.lists(dns_sd_configs, min_size=1, max_size=2))
    if "kubernetes" in discovery:
        job["kubernetes_sd_configs"] = draw(st.lists(kubernetes_sd_configs, min_size=1, max_size=2))
        rules.insert(draw(st.integers(0, len(rules))), draw(keep_rules))
    if bool(rules) or draw(st.booleans()):
        job["relabel_configs"] = rules
    return job


@st.composite
def scrape_sections(draw: st.DrawFn, global_timing: tuple[str, str]) -> Doc:
    section: Doc = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "annotationPrefix": dns_subdomains(),
                "pods": st.booleans(),
                "services": st.booleans(),
                "jobNames": st.sampled_from(("kmc", "kube-prometheus")),
                "keep": st.lists(metric_names, max_size=3, unique=True),
            },
        )
    )
    if often(draw):
        section["kubernetes"] = draw(_component_jobs())
    if draw(st.booleans()):
        section["slow"] = draw(timings(("timeout", "interval"), DEFAULT_TIMING["slow"]))
    names = draw(st.lists(job_names, max_size=3, unique=True))
    if bool(names) or draw(st.booleans()):
        used: set[str] = set()
        section["extraJobs"] = [draw(extra_jobs(name, global_timing, used)) for name in names]
    return section


@st.composite
def node_exporter_sections(draw: st.DrawFn) -> Doc:
    section = draw(node_exporter_parameters())
    section.update(draw(hatches(("--collector.processes", "--collector.ethtool"))))
    section.update(draw(st.fixed_dictionaries({}, optional={"port": ports})))
    if often(draw):
        systemd = {"enabled": st.booleans()}
        section["systemd"] = draw(st.fixed_dictionaries(systemd, optional={"unitInclude": safe_regexes | st.text(PRINTABLE, min_size=1, max_size=20)}))
    return section


@st.composite
def kube_state_metrics_sections(draw: st.DrawFn) -> Doc:
    section = draw(kube_state_metrics_parameters())
    section.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "exportSecrets": st.booleans(),
                    "customResourceState": st.lists(st.sampled_from(_CUSTOM_RESOURCES), max_size=2, unique_by=lambda r: r["groupVersionKind"]["kind"]),
                },
            )
        )
    )
    section.update(draw(hatches(("--metric-labels-allowlist=pods=[team]", "--use-apiserver-cache"))))
    return section


# kube-state-metrics custom resources (its custom resource state format), one per metric type.
_CUSTOM_RESOURCES = (
    {
        "groupVersionKind": {"group": "cert-manager.io", "version": "v1", "kind": "Certificate"},
        "resourcePlural": "certificates",
        "metrics": [{"name": "ready", "help": "Ready.", "each": {"type": "Gauge", "gauge": {"path": ["status", "conditions"], "valueFrom": ["status"]}}}],
    },
    {
        "groupVersionKind": {"group": "example.com", "version": "v1alpha1", "kind": "Widget"},
        "resourcePlural": "widgets",
        "metricNamePrefix": "widget",
        "labelsFromPath": {"name": ["metadata", "name"]},
        "metrics": [
            {
                "name": "phase",
                "help": "Phase.",
                "each": {"type": "StateSet", "stateSet": {"path": ["status", "phase"], "list": ["A", "B"], "labelName": "phase"}},
            }
        ],
    },
    {
        "groupVersionKind": {"group": "example.org", "version": "v2", "kind": "Gadget"},
        "resourcePlural": "gadgets",
        "metricNamePrefix": "",
        "metrics": [{"name": "gadget_info", "help": "Info.", "each": {"type": "Info", "info": {"labelsFromPath": {"version": ["spec", "version"]}}}}],
    },
)
_HATCH_ENV = st.sampled_from(
    (
        {"name": "HTTPS_PROXY", "value": "http://proxy.example:3128"},
        {"name": "GOMAXPROCS", "value": "2"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "extra-token", "key": "token"}}},
        {"name": "NO_PROXY", "valueFrom": {"configMapKeyRef": {"name": "extra-settings", "key": "no-proxy"}}},
    )
)


@st.composite
def hatches(draw: st.DrawFn, args: tuple[str, ...], pod_level: bool = True) -> Doc:
    """A section's escape hatches that kmc accepts: arguments of its program kmc does not set, no
    literal credentials, labels and annotations outside kmc's, volumes of their own at their own paths."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "extraArgs": st.lists(st.sampled_from(args), unique=True, max_size=2),
        "extraEnv": st.lists(_HATCH_ENV, unique_by=lambda var: var["name"], max_size=2),
    }
    if pod_level:
        optional |= {
            "podAnnotations": st.dictionaries(st.sampled_from(("example.com/owner", "example.com/cost-center")), free_text(12), max_size=2),
            "serviceAnnotations": st.dictionaries(st.just("example.com/owner"), free_text(12), max_size=1),
            "extraLabels": st.dictionaries(st.sampled_from(("team", "example.com/tier")), label_values(), max_size=2),
        }
    section = draw(st.fixed_dictionaries({}, optional=optional))
    if pod_level and draw(st.booleans()):
        count = draw(st.integers(1, 2))
        sources = ({"emptyDir": {}}, {"configMap": {"name": "extra-settings", "optional": True}}, {"secret": {"secretName": "extra-certs"}})
        section["extraVolumes"] = [{"name": f"extra-{index}", **draw(st.sampled_from(sources))} for index in range(count)]
        section["extraVolumeMounts"] = [{"name": f"extra-{index}", "mountPath": f"/extra/{index}", "readOnly": True} for index in range(count)]
    return section


# Settings kmc accepts in grafana.ini (no credential, nothing kmc owns), and datasources.
_INI_SETTINGS = {"server": ("root_url", "enable_gzip"), "users": ("default_theme", "viewers_can_edit"), "dashboards": ("min_refresh_interval",)}
_INI_VALUES = st.booleans() | st.integers(0, 10**6) | st.text(PRINTABLE, max_size=20).filter(lambda text: "\n" not in text and "$" not in text)
_DATASOURCES = (
    {"name": "InfluxDB", "uid": "influx", "type": "influxdb", "url": "http://influxdb.storage.svc:8086", "jsonData": {"version": "Flux"}},
    {"name": "Loki", "uid": "loki", "type": "loki", "url": "http://loki.logging.svc:3100"},
    {"name": "Thanos", "uid": "thanos", "type": "prometheus", "url": "https://thanos.example.com", "basicAuth": True, "basicAuthUser": "grafana"},
)
# Secret keys as Kubernetes accepts them (schema `$defs/secretKey`): not `.`, `..` or `..*`.
secret_keys = st.text(ALNUM + "-._", min_size=1, max_size=12).filter(lambda key: key not in (".", "..") and not key.startswith(".."))
_SECRET_REFS = st.fixed_dictionaries({"secretName": dns_subdomains(), "key": secret_keys})


# Grafana folder titles (schema `$defs/grafanaFolder`), with some that slug alike or nearly.
# Any text Grafana accepts: 1 to 189 characters on one line, no space at either end.
TRICKY_FOLDERS = (
    *("Apps", "apps", "APPS", "a.b", "a b", "a_b", "a-b", "General", "general", "Team logs", "x" * 63, "x" * 62 + "y", "9", "z_"),
    *("Apps (prod)", "Équipe / Paiements", "日本", "a: b", "#1", "'quoted'", '"q"', "x" * 189, "-", "{{ x }}"),
)
FOLDER_TEXT = ALNUM + " _.-()/:#'\"{}[]&*!%@éÉ日"
grafana_folders = st.sampled_from(TRICKY_FOLDERS) | shaped(FOLDER_TEXT.replace(" ", ""), FOLDER_TEXT, FOLDER_TEXT.replace(" ", ""), 189)


@st.composite
def grafana_sections(draw: st.DrawFn) -> Doc:
    """Top-level `grafana`: parameters (storage sometimes set) and its structure, without dashboard files (no files next to generated stacks)."""
    section = draw(grafana_parameters(services(grafana_node_ports), storage=False))
    section.update({key: value for key, value in draw(hatches(("--unused",))).items() if key != "extraArgs"})  # Grafana takes no extraArgs
    if draw(st.booleans()):
        section["storage"] = draw(storages)
    ini = {name: draw(st.dictionaries(st.sampled_from(keys), _INI_VALUES, max_size=2)) for name, keys in _INI_SETTINGS.items() if draw(st.booleans())}
    sources = [dict(source) for source in draw(st.lists(st.sampled_from(_DATASOURCES), max_size=3, unique_by=lambda source: source["uid"]))]
    for source in sources:
        if draw(st.booleans()):
            source["secureJsonData"] = {"basicAuthPassword" if source.get("basicAuth") else "password": draw(_SECRET_REFS)}
    optional: dict[str, st.SearchStrategy[Any]] = {
        "adminSecret": st.fixed_dictionaries({}, optional={"name": dns_subdomains(), "passwordKey": secret_keys}),
        "anonymous": st.fixed_dictionaries({}, optional={"enabled": st.booleans()}),
        "ini": st.just(ini),
        "secretSettings": st.dictionaries(st.sampled_from(sorted(SECRET_SETTINGS)), _SECRET_REFS, max_size=2),
        "datasources": st.just(sources),
        "dashboards": st.fixed_dictionaries(
            {},
            optional={
                "library": st.lists(st.sampled_from(LIBRARY_DASHBOARDS), unique=True, max_size=len(LIBRARY_DASHBOARDS)),
                "libraryFolder": grafana_folders,
            },
        ),
    }
    section.update(draw(st.fixed_dictionaries({}, optional=optional)))
    _draw_exposure(draw, section)
    if "expose" in section:
        section.get("ini", {}).get("server", {}).pop("root_url", None)  # kmc sets it from expose.host
    return section


def api_server_parameters() -> st.SearchStrategy[dict[str, Any]]:
    """metricsServer's and prometheusAdapter's deploy-time parameters."""
    return st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "image": images, "replicas": st.integers(1, 3), **_scheduling()})


# Modes that need no state: `generate` and `ca` would make certificates per temporary directory,
# and generated stacks are built in many (their tests: tests/test_metrics_apis.py).
api_tls = st.sampled_from(
    [
        {"mode": "cert-manager"},
        {"mode": "cert-manager", "keyType": "rsa-2048", "certManager": {"issuer": {"kind": "ClusterIssuer", "name": "internal-ca"}}},
        {"mode": "insecure"},
    ]
)
# Words PromQL reserves in any case, which Prometheus (promtool 3.x) does not read as a metric name
# (`ON{job="x"}` is a parse error there as in kmc's check): a series named so is invalid, not a valid stack.
_PROMQL_RESERVED = frozenset({"on", "ignoring", "group_left", "group_right", "bool", "atan2", "inf", "nan"})
metric_names = shaped(LETTERS + "_", ALNUM + "_", LETTERS, 24).filter(lambda name: name.lower() not in _PROMQL_RESERVED)


_PACK_ALERTS = {name: [(alert.name, sorted(alert.thresholds)) for alert in pack.alerts()] for name, pack in rule_packs.library().items()}
_RUNBOOK_URLS = st.sampled_from(("https://wiki.example.com/runbooks/{alert}", "http://runbooks.internal/{pack}/{alert}.md", "https://wiki.example.com/oncall"))
_EXPRESSIONS = ("up == 0", 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) > 1', "vector(1)", "avg_over_time(up[10m]) < 0.9")


@st.composite
def rules_sections(draw: st.DrawFn) -> Doc:
    """Top-level `rules`: packs on or off, alerts of the packs left on disabled or overridden, runbook
    URLs, groups of our own."""
    packs = draw(st.fixed_dictionaries({}, optional={name: st.booleans() for name in _PACK_ALERTS}))
    alerts = [alert for name, found in _PACK_ALERTS.items() if packs.get(name, True) for alert in found]
    section: Doc = {}
    if packs or draw(st.booleans()):
        section["packs"] = packs
    if alerts and draw(st.booleans()):
        section["disabled"] = draw(st.lists(st.sampled_from([name for name, _ in alerts]), unique=True, max_size=3))
    if draw(st.booleans()):
        section["runbookUrl"] = draw(_RUNBOOK_URLS)
    if alerts and draw(st.booleans()):
        overrides = {}
        for name, thresholds in draw(st.lists(st.sampled_from(alerts), unique_by=lambda alert: alert[0], max_size=3)):
            optional: dict[str, st.SearchStrategy[Any]] = {
                "for": durations(),
                "severity": st.sampled_from(("critical", "warning", "info")),
                "runbookUrl": _RUNBOOK_URLS,
            }
            if thresholds:
                optional["thresholds"] = st.dictionaries(st.sampled_from(thresholds), st.integers(1, 99) | st.floats(0.5, 99.5), min_size=1)
            overrides[name] = draw(st.fixed_dictionaries({}, optional=optional).filter(bool))
        section["overrides"] = overrides
    names = draw(st.lists(shaped(LOWER_ALNUM, LOWER_ALNUM + "-", LOWER_ALNUM, 12), unique=True, max_size=2))
    groups = []
    for name in names:
        rules = []
        for index, expr in enumerate(draw(st.lists(st.sampled_from(_EXPRESSIONS), min_size=1, max_size=3))):
            if draw(st.booleans()):
                rules.append({"record": f"custom:rule_{index}:sum", "expr": expr})
            else:
                rule = {"alert": f"Custom{index}", "expr": expr}
                rule.update(draw(st.fixed_dictionaries({}, optional={"for": durations(), "labels": st.just({"severity": "warning"})})))
                rules.append(rule)
        groups.append({"name": name, "rules": rules})
    if groups:
        section["groups"] = groups
    return section


@st.composite
def alertmanager_sections(draw: st.DrawFn) -> Doc:
    """Top-level `alertmanager`: parameters (ClusterIP Service) and a configuration whose routes name its receivers."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "enabled": st.booleans(),
        "replicas": st.integers(0, 5),
        "storage": storages,
        "networkPolicy": prometheus_network_policies,
        "configReloaderImage": images,
        "configReloaderResources": resources,
        **_scheduling(),
    }
    section: Doc = draw(st.fixed_dictionaries({}, optional=optional))
    _draw_exposure(draw, section)
    receivers = [{"name": "default", "webhookConfigs": [{"url": draw(_SECRET_REFS)}]}]
    if draw(st.booleans()):
        receivers.append({"name": "chat", "slackConfigs": [{"apiUrl": draw(_SECRET_REFS), "channel": "#alerts"}]})
    route: Doc = {"receiver": "default"}
    if len(receivers) > 1:
        route["routes"] = [{"matchers": ['severity="critical"'], "receiver": "chat"}]
    section.update(route=route, receivers=receivers)
    return section


@st.composite
def metrics_api_sections(draw: st.DrawFn, scrape_interval: str) -> Doc:
    """metrics-server, the adapter with external metrics (cluster-wide, so no scrape label is
    needed) and HPAs on what they serve; each server on in the stack, environments may turn it off."""
    doc: Doc = {}
    if draw(st.booleans()):
        kubelet = {
            "preferredAddressTypes": st.lists(st.sampled_from(["InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS"]), min_size=1, unique=True),
            "useNodeStatusPort": st.booleans(),
            "insecureTLS": st.booleans(),
        }
        doc["metricsServer"] = {
            **draw(api_server_parameters()),
            "enabled": True,
            "tls": draw(api_tls),
            "metricResolution": draw(st.sampled_from(["15s", "30s", "1m"])),
            "kubelet": draw(st.fixed_dictionaries({}, optional=kubelet)),
        }
    names = draw(st.lists(metric_names, min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        external = [
            {
                "name": name,
                "series": draw(metric_names),
                "namespaced": False,
                "type": draw(st.sampled_from(["rate", "gauge"])),
                "aggregation": draw(st.sampled_from(["sum", "avg", "max", "min"])),
            }
            for name in names
        ]
        doc["prometheusAdapter"] = {
            **draw(api_server_parameters()),
            "enabled": True,
            "tls": draw(api_tls),
            "metricsRelistInterval": scrape_interval,
            "externalMetrics": external,
        }
    metrics: list[dict[str, Any]] = []
    if "metricsServer" in doc:
        metrics.append({"resource": draw(st.sampled_from(["cpu", "memory"])), "averageUtilization": draw(st.integers(1, 100))})
    if "prometheusAdapter" in doc:
        metrics.append({"external": draw(st.sampled_from(names)), "value": str(draw(st.integers(1, 1000)))})
    if metrics and draw(st.booleans()):
        doc["autoscaling"] = [
            {
                "name": draw(dns_labels(30)),
                "namespace": draw(dns_labels(30)),
                "target": {"kind": "Deployment", "name": draw(dns_labels(30))},
                "maxReplicas": 5,
                "metrics": metrics,
                **draw(st.fixed_dictionaries({}, optional={"engine": st.sampled_from(["hpa", "keda"])})),
            }
        ]
        if doc["autoscaling"][0].get("engine") == "keda":
            authentication = st.fixed_dictionaries({"mode": st.sampled_from(["bearer", "basic", "tls"]), "secretName": dns_labels(30)})
            doc["keda"] = draw(st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "authentication": authentication}))
    return doc


@st.composite
def environments(draw: st.DrawFn, prometheus: Mapping[str, Any], grafana: Mapping[str, Any], servers: tuple[str, ...] = ()) -> Doc:
    """Named overrides; each stays valid once merged (maps merge, lists replace) over the stack's."""
    names = draw(st.lists(dns_labels(20).filter(lambda name: name != "default"), max_size=3, unique=True))
    base_service = prometheus.get("service", {"type": "ClusterIP"})
    sections = {
        "prometheus": prometheus_parameters(service_overrides(base_service), storage="storage" in prometheus),
        "nodeExporter": node_exporter_parameters(),
        "kubeStateMetrics": kube_state_metrics_parameters(),
        "grafana": grafana_parameters(service_overrides(grafana.get("service", {"type": "ClusterIP"}), grafana_node_ports), storage="storage" in grafana),
    }
    # Only servers the stack configures: an adapter switched on without rules is an error, and a
    # server left at tls mode generate would make certificates per temporary directory.
    for section in servers:
        sections[section] = st.fixed_dictionaries({}, optional={"enabled": st.booleans()}) if section == "keda" else api_server_parameters()
    envs = {name: draw(st.fixed_dictionaries({}, optional=sections)) for name in names}
    # Exposure where the stack exposes: what an environment may change (Grafana's Service port too,
    # not Prometheus': the stack's own clients are compiled with it).
    for env in envs.values():
        for section, key, own in (("prometheus", "expose", prometheus), ("prometheus", "thanosQueryExpose", prometheus), ("grafana", "expose", grafana)):
            if key in own and draw(st.booleans()):
                env.setdefault(section, {})[key] = draw(expose_overrides())
        if "grafana" in env and draw(st.booleans()):
            env["grafana"]["service"] = {**env["grafana"].get("service", {}), "port": draw(ui_ports)}
    return envs


def semvers() -> st.SearchStrategy[str]:
    number = st.integers(0, 10**6).map(str)
    ident = shaped(ALNUM + "-", ALNUM + "-", ALNUM + "-", 8)
    dotted = st.lists(ident, min_size=1, max_size=3).map(".".join)
    suffix = st.one_of(st.just(""), dotted.map(lambda text: f"-{text}"))
    build = st.one_of(st.just(""), dotted.map(lambda text: f"+{text}"))
    return st.tuples(number, number, number, suffix, build).map(lambda p: f"{p[0]}.{p[1]}.{p[2]}{p[3]}{p[4]}")


def charts() -> st.SearchStrategy[Doc]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "name": dns_labels(40),
        "version": semvers(),
        "appVersion": shaped(ALNUM, ALNUM + ".+_-", ALNUM, 20),
        "description": free_text(40).filter(lambda text: text != "" and "\n" not in text),
        "sources": st.lists(shaped(LOWER_ALNUM, LOWER_ALNUM + "-", LOWER_ALNUM, 12).map(lambda host: f"https://{host}.example/src"), unique=True, max_size=2),
    }
    return st.fixed_dictionaries({}, optional=optional)


@st.composite
def stacks(draw: st.DrawFn) -> Doc:
    """A valid stack document covering every section of the schema."""
    doc: Doc = {"version": 1}
    optional: dict[str, st.SearchStrategy[Any]] = {"cluster": clusters, "namespace": dns_labels(), "createNamespace": st.booleans(), "chart": charts()}
    doc.update(draw(st.fixed_dictionaries({}, optional=optional)))
    prometheus = draw(prometheus_sections())
    if bool(prometheus) or draw(st.booleans()):
        doc["prometheus"] = prometheus
    global_timing = effective_timing(prometheus, ("scrapeTimeout", "scrapeInterval"), DEFAULT_TIMING["prometheus"])
    for key, strategy in (
        ("scrape", scrape_sections(global_timing)),
        ("nodeExporter", node_exporter_sections()),
        ("kubeStateMetrics", kube_state_metrics_sections()),
        ("grafana", grafana_sections()),
        ("rules", rules_sections()),
        ("alertmanager", alertmanager_sections()),
        # Monitor files are inputs beside the stack (tests/test_monitors.py): drawn stacks name none.
        ("monitors", st.fixed_dictionaries({}, optional={"files": st.just([]), "precedence": st.sampled_from(("error", "monitor"))})),
    ):
        if often(draw):
            doc[key] = draw(strategy)
    doc.update(draw(metrics_api_sections(global_timing[1])))
    if often(draw):
        doc["images"] = draw(image_sections)
    envs = draw(environments(prometheus, doc.get("grafana", {}), tuple(key for key in ("metricsServer", "prometheusAdapter", "keda") if key in doc)))
    _fit_retention(prometheus, envs)
    if bool(envs) or draw(st.booleans()):
        doc["environments"] = envs
    if draw(st.integers(0, 7)) == 0:
        doc["extraObjects"] = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra-settings"}, "data": {"no-proxy": ".svc"}}]
    if draw(st.integers(0, 11)) == 0:
        # Prometheus off: what needs it goes too (kmc.check.dependencies), metrics-server stays.
        doc = {key: doc[key] for key in ("version", "cluster", "namespace", "createNamespace", "chart", "extraObjects") if key in doc}
        doc.update(prometheus={"enabled": False}, nodeExporter={"enabled": False}, kubeStateMetrics={"enabled": False})
        doc["metricsServer"] = {"enabled": True, "tls": draw(api_tls), **draw(hatches(("--kubelet-request-timeout=10s",)))}
    return doc


# Prometheus' retention size units (powers of 1024) and Kubernetes quantity suffixes, for kmc's
# rule that size-based retention stays within 85% of the volume.
_RETENTION_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5, "EB": 1024**6}
_QUANTITY_SUFFIXES = {"": 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY_SUFFIXES.update({f"{prefix}i": 1024 ** (power + 1) for power, prefix in enumerate("KMGTPE")})


def _fits(retention: str, size: Any) -> bool:
    amount, unit = re.fullmatch(r"(\d+)(\D+)", retention).groups()  # type: ignore[union-attr]
    text = str(size) if not isinstance(size, float) else format(Decimal(repr(size)), "f")
    number, suffix = re.fullmatch(r"([\d.]+)(\D*)", text).groups()  # type: ignore[union-attr]
    return int(amount) * _RETENTION_UNITS[unit] * 100 <= 85 * Fraction(number) * _QUANTITY_SUFFIXES[suffix]


def _fit_retention(prometheus: Doc, envs: Doc) -> None:
    """No retentionSize (0B) where it would exceed 85% of the volume: the stack's own first, then each environment's."""
    if "storage" not in prometheus:
        return
    size = prometheus["storage"].get("size", "50Gi")
    if not _fits(prometheus.get("retentionSize", "0B"), size):
        prometheus["retentionSize"] = "0B"
    for env in envs.values():
        own = env.get("prometheus", {})
        if not _fits(own.get("retentionSize", prometheus.get("retentionSize", "0B")), own.get("storage", {}).get("size", size)):
            own["retentionSize"] = "0B"


# --- arbitrary and broken input -------------------------------------------------------------------


def schema_words() -> list[str]:
    """Every property name in the schema, so arbitrary documents reach deep into validation."""
    words: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            words.update(node.get("properties", {}))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    return sorted(words)


keys = st.sampled_from(schema_words()) | st.text(max_size=8)
scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from((1, "1.33", "NodePort", "30s", "monitoring", "keep", "pod", 30090, "default")),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=25,
)


def dump(doc: Any) -> bytes:
    """`doc` as the YAML text of a stack file."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


@st.composite
def yamlish_documents(draw: st.DrawFn) -> bytes:
    """Arbitrary YAML documents, often with `version: 1` so that validation goes past the version check."""
    value = draw(json_values)
    if isinstance(value, dict) and draw(st.booleans()):
        value = {"version": 1, **value}
    return dump(value)


def value_paths(value: Any, path: JsonPath = ()) -> list[JsonPath]:
    """The path of `value` and of everything inside it."""
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += value_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += value_paths(child, (*path, index))
    return found


def _get(doc: Any, path: JsonPath) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _mutate(draw: st.DrawFn, doc: Any) -> Any:
    """One structural mistake: a dropped key, a wrong type, an unknown key, or a wrong nesting."""
    path = draw(st.sampled_from(value_paths(doc)))
    kind = draw(st.sampled_from(("drop", "retype", "unknown", "wrap-list", "wrap-map", "move")))
    if not path or kind == "unknown":
        target = _get(doc, path)
        if isinstance(target, dict):
            target[draw(keys)] = draw(json_values)
            return doc
        if not path:
            return draw(json_values)
    parent, last = _get(doc, path[:-1]), path[-1]
    if kind == "drop":
        del parent[last]
    elif kind == "wrap-list":
        parent[last] = [parent[last]]
    elif kind == "wrap-map":
        parent[last] = {draw(keys): parent[last]}
    elif kind == "move" and isinstance(doc, dict):
        doc[draw(keys)] = parent.pop(last) if isinstance(parent, dict) else parent[last]
    else:
        parent[last] = draw(json_values)
    return doc


@st.composite
def mutated_stacks(draw: st.DrawFn) -> bytes:
    """A valid stack with one to three mistakes in it."""
    doc: Any = copy.deepcopy(draw(stacks()))
    for _ in range(draw(st.integers(1, 3))):
        doc = _mutate(draw, doc)
    return dump(doc)


# --- mutants of the golden stacks -------------------------------------------------------------------

GOLDEN_DIR = SCHEMA_FILE.parents[1] / "golden"
# The golden stacks as written: the valid ones, and the invalid ones (near misses that reach odd corners).
GOLDEN_TEXTS = tuple(path.read_bytes() for path in sorted(GOLDEN_DIR.glob("*/stack.yaml")))
INVALID_GOLDEN_TEXTS = tuple(path.read_bytes() for path in sorted(GOLDEN_DIR.glob("invalid/*/stack.yaml")))
# Values YAML reads in surprising ways, and text that is not YAML at all.
ODD_SCALARS = (
    "no", "yes", "on", "off", "~", "null", "010", "0o10", "0x1F", "1e3", "1_000", ".inf", "-.nan", "2026-01-01", "12:30:00",
    '"unterminated', "'", "[", "{", "]", "}", "[a, b]", "{a: 1}", "&anchor x", "*nowhere", "!!binary aGk=", "!!python/object:os.system x",
    "<<: *a", "|", ">-", "- x", ": x", "? x", "#", "%", "@", "`", "\\t", "\t", "-", "---", "...", "\u00e9t\u00e9", "\U0001f600", "a" * 300,
)  # fmt: skip
ODD_LINES = ("---", "...", "%YAML 1.1", "%TAG ! tag:x,2000:", "? complex", ": value", "<<: *a", "- item", "&a {}", "*a", "!!set {a}", "\t- tab", "key: &a [*a]")


def _lines(text: bytes) -> list[bytes]:
    return text.split(b"\n")


@st.composite
def _text_mutation(draw: st.DrawFn, text: bytes) -> bytes:
    """One mistake made in the text itself: a duplicated, lost, moved or re-indented line, a wrong value or key, cut-off or random bytes."""
    lines = _lines(text)
    at = draw(st.integers(0, max(len(lines) - 1, 0)))
    line = lines[at] if lines else b""
    kind = draw(st.sampled_from(("duplicate-line", "delete-line", "swap-lines", "indent", "value", "key", "insert-line", "truncate", "bytes")))
    if kind == "duplicate-line":  # a duplicate key, or a list item twice
        lines.insert(at, line)
    elif kind == "delete-line":
        del lines[at : at + 1]
    elif kind == "swap-lines" and len(lines) > 1:
        other = draw(st.integers(0, len(lines) - 1))
        lines[at], lines[other] = lines[other], line
    elif kind == "indent":  # wrong nesting
        shift = draw(st.integers(-4, 6))
        stripped = line.lstrip(b" ")
        lines[at] = b" " * max(len(line) - len(stripped) + shift, 0) + stripped
    elif kind in ("value", "key") and b":" in line:
        key, _, value = line.partition(b":")
        encoded = draw(st.sampled_from(ODD_SCALARS) | scalars.map(json.dumps) | scalars.map(str) | keys).encode("utf-8")
        lines[at] = key + b": " + encoded if kind == "value" else key[: len(key) - len(key.lstrip())] + encoded + b":" + value
    elif kind == "insert-line":
        indent = b" " * draw(st.integers(0, 8))
        lines.insert(at, indent + draw(st.sampled_from(ODD_LINES)).encode("utf-8"))
    elif kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    elif kind == "bytes":
        position = draw(st.integers(0, len(text)))
        return text[:position] + draw(st.binary(min_size=1, max_size=8)) + text[position:]
    return b"\n".join(lines)


@st.composite
def golden_mutants(draw: st.DrawFn) -> bytes:
    """A golden stack with one to three mistakes: in its data (see `_mutate`) and/or in its text."""
    text = draw(st.sampled_from(GOLDEN_TEXTS) | st.sampled_from(INVALID_GOLDEN_TEXTS))  # half and half
    mutated = False
    if draw(st.booleans()):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            doc = None
        if doc is not None:
            text, mutated = dump(_mutate(draw, doc)), True
    for _ in range(draw(st.integers(0 if mutated else 1, 3))):
        text = draw(_text_mutation(text))
    return text
