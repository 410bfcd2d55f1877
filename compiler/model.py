"""The stack model: frozen, typed values with every default applied.

Defaults live in one place, the schema's `default` keywords and the stack's platform's
(`cluster.platform`, kmc.platforms); `fill_defaults` applies them, and `Stack.from_data` only
reads. On the same walk, numbers take the one spelling Kubernetes tools
agree on (an integer field's 2.0 becomes 2, a quantity's 0.5 becomes "0.5"), environment
overrides included. Every mapping is key-sorted on the way in, so nothing downstream depends on
the order the user wrote keys in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from kmc.ir import lookup
from kmc.platforms import GENERIC, preset
from kmc.record import field, record
from kmc.schema_refs import properties, resolve, resolved

if TYPE_CHECKING:
    Json = Any
    # A subschema's properties and its additionalProperties schema (None: it admits no other key).
    _Shape = tuple[dict[str, Mapping[str, Any]], Mapping[str, Any] | None]

QUANTITY = "#/$defs/quantity"


def fill_defaults(schema: Mapping[str, Any], data: Json) -> Json:
    """A copy of `data` with the schema's defaults filled in below `properties`, numbers normalized
    and every mapping's keys sorted (see `canonical`), in one walk.

    The stack's platform's defaults come first (`platform_defaults`): where the stack leaves out
    a key its platform sets, the platform's value stands in for the schema's default. Below
    `additionalProperties` (environment overrides) no default is filled: an override must not
    reset what it does not mention.
    """
    shapes: dict[int, _Shape] = {}

    def shape(node: Mapping[str, Any]) -> _Shape:
        # A subschema's properties and additionalProperties, resolved once: list items share theirs.
        found = shapes.get(id(node))
        if found is None:
            found = shapes[id(node)] = (properties(schema, node), _extra(schema, node))
        return found

    return _fill(schema, shape, schema, platform_defaults(schema, data), defaults=True)


def platform_of(data: Json) -> str:
    """The `cluster.platform` of schema-valid stack data."""
    cluster = data.get("cluster") if isinstance(data, dict) else None
    return str(cluster.get("platform", GENERIC)) if isinstance(cluster, dict) else GENERIC


def platform_defaults(schema: Mapping[str, Any], data: Json) -> Json:
    """`data` with its platform's defaults (kmc.platforms) at the keys the stack leaves out.

    A key the stack writes is never touched, nor anything below it: `nodeSelector: {}` stays
    empty. A section the stack leaves out starts from its schema default, as `fill_defaults`
    would start it. New mappings along each path; `data` is left as it is."""
    found = preset(platform_of(data))
    if not found:
        return data
    out = dict(data)
    for default in found:
        node, node_schema = out, schema
        *parents, last = default.path.split(".")
        for key in parents:
            node_schema = properties(schema, node_schema)[key]
            child = node.get(key)
            node[key] = child = dict(child) if isinstance(child, dict) else canonical(resolved(schema, node_schema).get("default", {}))
            node = child
        if last not in node:
            node[last] = canonical(default.fresh())
    return out


def _fill(root: Mapping[str, Any], shape: Callable[[Mapping[str, Any]], _Shape], schema: Mapping[str, Any], value: Json, *, defaults: bool) -> Json:
    """`value` with defaults and numbers filled in, keys sorted; new mappings and lists, `value` is left as it is."""
    kind = type(value)
    if kind is str or kind is bool or value is None:  # most nodes: checked first, by exact type
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(root, schema, value)
    if isinstance(value, dict):
        out = dict(value)
        known, extra = shape(schema)
        for key, child in known.items():
            if key in out:
                if type(out[key]) is not str:
                    out[key] = _fill(root, shape, child, out[key], defaults=defaults)
            elif defaults and "default" in child:
                out[key] = _fill(root, shape, child, child["default"], defaults=defaults)
        for key in out.keys() - known.keys():
            out[key] = canonical(out[key]) if extra is None else _fill(root, shape, extra, out[key], defaults=False)
        return {key: out[key] for key in sorted(out)}
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [_fill(root, shape, items, item, defaults=defaults) for item in value]
        return canonical(value)
    return value


def _extra(root: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        return extra
    return _extra(root, resolve(root, schema["$ref"])) if "$ref" in schema else None


def _number(root: Mapping[str, Any], schema: Mapping[str, Any], value: float) -> Any:
    if schema.get("$ref") == QUANTITY:
        # As text, a quantity reads the same to every YAML parser: 0.0 stays 0.0, 1e-05 is 0.00001.
        if isinstance(value, int):
            return str(value)
        import decimal  # only for a quantity written as a float, rare

        return format(decimal.Decimal(repr(value)), "f")
    if isinstance(value, float) and _type(root, schema) == "integer":
        return int(value)  # JSON Schema's integer admits 2.0; Kubernetes wants 2
    return value


def _type(root: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    return resolved(root, schema).get("type")


def canonical(value: Json) -> Json:
    """`value` with every mapping's keys sorted, recursively."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


@record
class Cluster:
    name: str
    domain: str
    kubernetes_version: str
    platform: str = GENERIC  # kmc.platforms: whose defaults and cluster settings apply


@record
class Chart:
    """Chart.yaml metadata."""

    name: str
    version: str
    app_version: str | None
    description: str
    sources: tuple[str, ...]


@record
class Prometheus:
    storage: bool
    scrape_interval: str
    scrape_timeout: str
    evaluation_interval: str
    external_labels: Mapping[str, str]
    # Scale-out (compile-time): see kmc.components.sharding, kmc.components.remote_storage and kmc.components.thanos.
    shards: int = 1
    ha_enabled: bool = False
    ha_replica_label: str = "prometheus_replica"
    remote_write: tuple[Mapping[str, Any], ...] = ()
    remote_read: tuple[Mapping[str, Any], ...] = ()
    thanos_sidecar: bool = False
    thanos_object_storage: SecretRef | None = None
    thanos_query: bool = False
    features: PrometheusFeatures | None = None  # None: none beyond kmc's defaults


@record
class PrometheusFeatures:
    """`prometheus.features`: what the stack turns on beyond kmc's defaults (kmc.components.prometheus_features)."""

    remote_write_receiver: bool
    otlp_receiver: bool
    native_histograms: bool
    enable: tuple[str, ...]


@record
class Hatch:
    """A component's bounded escape hatches as the stack writes them (kmc.components.hatches)."""

    args: tuple[str, ...] = ()
    env: tuple[Mapping[str, Any], ...] = ()
    pod_annotations: Mapping[str, str] = field(default=MappingProxyType({}))
    service_annotations: Mapping[str, str] = field(default=MappingProxyType({}))
    labels: Mapping[str, str] = field(default=MappingProxyType({}))
    volumes: tuple[Mapping[str, Any], ...] = ()
    volume_mounts: tuple[Mapping[str, Any], ...] = ()

    def __bool__(self) -> bool:
        return any((self.args, self.env, self.pod_annotations, self.service_annotations, self.labels, self.volumes, self.volume_mounts))


# The stack sections that take escape hatches (kmc.components.hatches.TARGETS says where they go).
HATCH_SECTIONS = (
    "alertmanager",
    "grafana",
    "kubeStateMetrics",
    "metricsServer",
    "nodeExporter",
    "prometheus",
    "prometheus.thanos.query",
    "prometheus.thanos.sidecar",
    "prometheusAdapter",
)


def _hatch(data: Mapping[str, Any]) -> Hatch:
    return Hatch(
        args=tuple(data.get("extraArgs", ())),
        env=tuple(data.get("extraEnv", ())),
        pod_annotations=data.get("podAnnotations", {}),
        service_annotations=data.get("serviceAnnotations", {}),
        labels=data.get("extraLabels", {}),
        volumes=tuple(data.get("extraVolumes", ())),
        volume_mounts=tuple(data.get("extraVolumeMounts", ())),
    )


def _hatches(data: Mapping[str, Any]) -> Mapping[str, Hatch]:
    found = {}
    for section in HATCH_SECTIONS:
        node = data
        for part in section.split("."):
            node = node[part]
        if hatch := _hatch(node):
            found[section] = hatch
    return found


@record
class ComponentJob:
    enabled: bool
    insecure_skip_verify: bool = False


@record
class EtcdJob:
    enabled: bool
    secret_name: str | None
    port: int
    insecure_skip_verify: bool


@record
class KubernetesJobs:
    apiserver: ComponentJob
    kubelet: ComponentJob
    cadvisor: ComponentJob
    controller_manager: ComponentJob
    scheduler: ComponentJob
    kube_proxy: ComponentJob
    coredns: ComponentJob
    etcd: EtcdJob


@record
class Scrape:
    annotation_prefix: str
    pods: bool
    services: bool
    slow_interval: str
    slow_timeout: str
    kubernetes: KubernetesJobs
    extra_jobs: tuple[Mapping[str, Any], ...]
    job_names: str = "kmc"  # kmc | kube-prometheus: the `job` labels of kmc.components.job_names
    keep: tuple[str, ...] = ()  # metric names the owned jobs keep under `prometheus.ingest: used` (kmc.components.ingest)


@record
class NodeExporter:
    port: int
    systemd: bool
    systemd_unit_include: str


@record
class KubeStateMetrics:
    export_secrets: bool
    # kube-state-metrics' custom resource state config: `spec.resources` as written (kmc.components.kube_state_metrics).
    custom_resource_state: tuple[Mapping[str, Any], ...] = ()


@record
class AdminSecret:
    name: str
    user_key: str
    password_key: str
    secret_key_key: str


@record
class SecretRef:
    secret_name: str
    key: str


@record
class Datasource:
    """A datasource of the stack's own (the stack's Prometheus is added by the grafana component)."""

    name: str
    uid: str
    type: str
    url: str
    settings: Mapping[str, Any]  # database, user, basicAuth, basicAuthUser, isDefault as written
    json_data: Mapping[str, Any]
    secure_json_data: Mapping[str, SecretRef]


@record
class DashboardFile:
    file: str
    folder: str | None
    replace_datasource_uids: Mapping[str, str]


@record
class Dashboard:
    """A dashboard to provision: its ConfigMap name, folder (None: General) and JSON text.

    A library dashboard with panels of a component some environment switches off has that
    `switch`: where it is false Grafana gets `reduced`, the dashboard without those panels, or
    no dashboard at all when `reduced` is None (every panel needed the component)."""

    name: str
    folder: str | None
    json: str
    switch: str | None = None
    reduced: str | None = None


@record
class Grafana:
    admin_secret: AdminSecret
    anonymous: bool
    storage: bool
    ini: Mapping[str, Mapping[str, Any]]
    secret_settings: Mapping[str, SecretRef]
    datasources: tuple[Datasource, ...]
    library: tuple[str, ...]
    library_folder: str
    files: tuple[DashboardFile, ...]
    # Filled by the validation stage, which reads the files (kmc.components.dashboards).
    dashboards: tuple[Dashboard, ...] = ()


@record
class ApiServerTls:
    """How an aggregated API server gets its serving certificate (schema `$defs/apiServerTls`)."""

    mode: str  # generate | ca | cert-manager | secret | insecure
    key_type: str
    ca_cert: str | None = None  # mode ca: the user's CA files, as written (relative to the stack)
    ca_key: str | None = None
    issuer_kind: str | None = None  # mode cert-manager: an existing issuer (None: kmc creates a CA chain)
    issuer_name: str | None = None
    secret_name: str | None = None  # the Secret of the serving certificate: mode secret's (`secret.name`), or mode ca's (`ca.secretName`)
    ca_bundle_file: str | None = None  # mode secret
    serving_keys: tuple[str, str] = ("tls.crt", "tls.key")  # the Secret's keys of the certificate and its key (mode secret: `secret.keys`)


@record
class TlsMaterial:
    """What the validation stage read or made for one API server: PEM texts (None when not kmc's to hold)."""

    ca_bundle: str | None
    cert: str | None
    key: str | None  # also None where the state holds the certificates but not the keys (a clone)
    files: tuple[Path, ...]  # the files read: inputs of the build
    key_file: Path | None = None  # where kmc keeps the private key (modes generate, ca), there or not
    made: str = field(default="", compare=False)  # what the build minted or issued, as a sentence ("" when it only read)


@record
class MetricsServer:
    high_availability: bool
    metric_resolution: str
    address_types: tuple[str, ...]
    use_node_status_port: bool
    insecure_kubelet_tls: bool
    tls: ApiServerTls


@record
class CustomMetric:
    name: str
    series: str
    resource: str  # pod | service | namespace | node
    type: str  # rate | gauge
    window: str
    aggregation: str
    job: str | None


@record
class ExternalMetric:
    name: str
    series: str
    type: str
    window: str
    aggregation: str
    namespaced: bool
    job: str | None


@record
class PrometheusAdapter:
    prometheus_url: str | None  # None: the stack's Prometheus
    relist_interval: str
    custom: tuple[CustomMetric, ...]
    external: tuple[ExternalMetric, ...]
    resource_metrics: bool
    resource_nodes: str  # cadvisor | node-exporter
    resource_window: str
    raw_custom: tuple[Mapping[str, Any], ...]
    raw_external: tuple[Mapping[str, Any], ...]
    tls: ApiServerTls


@record
class Certificates:
    state_dir: str
    keys_in_output: bool


@record
class Autoscaler:
    """One HPA as the stack writes it; `metrics` are the schema's metric entries."""

    name: str
    namespace: str
    target_kind: str
    target_name: str
    min_replicas: int
    max_replicas: int
    metrics: tuple[Mapping[str, Any], ...]
    engine: str = "hpa"  # hpa | keda


@record
class KedaAuthentication:
    """The Secret KEDA's Prometheus triggers authenticate with; `mode` bearer | basic | tls."""

    mode: str
    secret_name: str


@record
class AlertOverride:
    """The stack's changes to one alert of kmc's rule packs (None: the pack's own)."""

    for_: str | None
    severity: str | None
    thresholds: Mapping[str, float]
    runbook_url: str | None = None  # a template as `Rules.runbook_url`, for this alert alone


@record
class Rules:
    packs: Mapping[str, bool]
    disabled: tuple[str, ...]
    overrides: Mapping[str, AlertOverride]
    groups: tuple[Mapping[str, Any], ...]  # the stack's own groups, in Prometheus' format
    # The `runbook_url` annotation of every alert of the packs: a URL with `{alert}` and `{pack}`
    # placeholders (kmc.components.rule_packs.runbook_url); None: no such annotation.
    runbook_url: str | None = None
    # Prometheus' rule files by file name, filled by the validation stage, which reads kmc's rule
    # packs (kmc.components.rule_packs): the rules ConfigMap holds them, the Prometheus pods mount it.
    files: Mapping[str, str] = field(default=MappingProxyType({}))


@record
class LabelSelector:
    """A Kubernetes label selector: `match_labels` and `expressions` as (key, operator, values)."""

    match_labels: Mapping[str, str]
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


@record
class MonitorSelection:
    """What one imported monitor selects: Services (`service`) or pods (`pod`) with `selector`,
    in `namespaces` (empty: every namespace); `monitor` names it (`ServiceMonitor ns/name`)."""

    monitor: str
    kind: str
    namespaces: tuple[str, ...]
    selector: LabelSelector
    where: str  # file:line:col of the monitor's selector


@record
class Monitors:
    """The Prometheus Operator objects the stack imports (`monitors`); the validation stage reads
    the files (kmc.check.monitors) and fills in what they compile to."""

    files: tuple[str, ...]
    precedence: str  # error | monitor
    jobs: tuple[Mapping[str, Any], ...] = ()  # the scrape configs, in prometheus.yml's format
    selections: tuple[MonitorSelection, ...] = ()
    taken_jobs: tuple[str, ...] = ()  # kmc's jobs a monitor takes over whole (`precedence: monitor`)
    # By job name, the `job` labels of a ServiceMonitor's job where kmc knows the Services it selects.
    job_values: Mapping[str, tuple[str, ...]] = field(default=MappingProxyType({}))
    secrets: tuple[tuple[SecretRef, str], ...] = ()  # the Secret keys the jobs read, with who reads each
    rule_files: Mapping[str, str] = field(default=MappingProxyType({}))  # PrometheusRules' groups, by file name
    inputs: tuple[Path, ...] = ()  # the files read


@record
class Alertmanager:
    """The compile-time part of Alertmanager: its configuration as written (see kmc.components.alertmanager_config)."""

    storage: bool
    route: Mapping[str, Any]
    receivers: tuple[Mapping[str, Any], ...]
    inhibit_rules: tuple[Mapping[str, Any], ...]


# The scheduling and availability parameters of a section whose pods may be several (see kmc.components.kube.scheduling).
SCHEDULING = ("priorityClassName", "affinity", "topologySpreadConstraints", "podDisruptionBudget")
# The parameters naming an image, by section (kmc.components.images rewrites and lists them).
IMAGE_PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "prometheus": ("image", "configReloaderImage", "thanosImage"),
    "nodeExporter": ("image",),
    "kubeStateMetrics": ("image",),
    "grafana": ("image",),
    "metricsServer": ("image",),
    "prometheusAdapter": ("image",),
    "alertmanager": ("image", "configReloaderImage"),
}

# The deploy-time parameters, by section: the keys of the schema's `*Parameters` fragments.
PARAMETER_SECTIONS: Mapping[str, tuple[str, ...]] = {
    "prometheus": (
        "enabled",
        "image",
        "replicas",
        "retention",
        "retentionSize",
        "storage",
        "service",
        "resources",
        "nodeSelector",
        "tolerations",
        *SCHEDULING,
        "networkPolicy",
        "configReloaderImage",
        "configReloaderResources",
        "thanosImage",
        "thanosResources",
        "ingest",
        "thanosQueryReplicas",
        "expose",
        "thanosQueryExpose",
    ),
    "nodeExporter": ("enabled", "image", "resources", "nodeSelector", "tolerations", "priorityClassName", "affinity"),
    "kubeStateMetrics": ("enabled", "image", "replicas", "resources", "nodeSelector", "tolerations", "priorityClassName", "affinity", "networkPolicy"),
    "grafana": ("enabled", "image", "replicas", "storage", "service", "resources", "nodeSelector", "tolerations", *SCHEDULING, "networkPolicy", "expose"),
    "metricsServer": ("enabled", "image", "replicas", "resources", "nodeSelector", "tolerations", *SCHEDULING),
    "prometheusAdapter": ("enabled", "image", "replicas", "resources", "nodeSelector", "tolerations", *SCHEDULING),
    "keda": ("enabled",),
    "alertmanager": (
        "enabled",
        "image",
        "replicas",
        "resources",
        "nodeSelector",
        "tolerations",
        *SCHEDULING,
        "storage",
        "service",
        "networkPolicy",
        "expose",
        "configReloaderImage",
        "configReloaderResources",
    ),
}


# Keys inside those sections that are the stack's own, the same in every environment, as compiled
# configuration carries them (kmc.check.exposure refuses an environment that changes them).
STACK_ONLY_PARAMETERS = frozenset(
    {
        "prometheus.service.port",
        *(f"{ui}.{key}" for ui in ("grafana.expose", "prometheus.expose", "alertmanager.expose", "prometheus.thanosQueryExpose") for key in ("path", "tls")),
    }
)


@record
class Images:
    """Air-gapped clusters (compile-time): the mirror every image is pulled from, and the pods' pull Secrets."""

    registry: str | None = None
    pull_secrets: tuple[str, ...] = ()


@record
class Stack:
    """A validated stack with its defaults applied."""

    cluster: Cluster
    namespace: str
    create_namespace: bool
    chart: Chart
    prometheus: Prometheus
    scrape: Scrape
    node_exporter: NodeExporter
    kube_state_metrics: KubeStateMetrics
    grafana: Grafana
    metrics_server: MetricsServer
    prometheus_adapter: PrometheusAdapter
    certificates: Certificates
    autoscaling: tuple[Autoscaler, ...]
    keda_authentication: KedaAuthentication | None
    parameters: Mapping[str, Any]
    environments: Mapping[str, Mapping[str, Any]]  # each environment's own keys, as written
    environment_values: Mapping[str, Mapping[str, Any]]  # each environment's keys merged over `parameters`
    rules: Rules
    alertmanager: Alertmanager
    monitors: Monitors = Monitors((), "error")
    # Filled by the validation stage, which reads or makes them (kmc.check.certificates): by API server name.
    tls: Mapping[str, TlsMaterial] = field(default=MappingProxyType({}))
    # The stack file's name, as the commands kmc writes for people name it (`kmc certs secrets stack.yaml`).
    file_name: str = "stack.yaml"
    images: Images = Images()
    # The escape hatches by stack section (only the sections that use one), and `extraObjects` as written.
    # Filled by the validation stage (kmc.check.ingest): by the name of each job kmc owns, what it keeps
    # under `prometheus.ingest: used` (a kmc.components.ingest.Plan).
    ingest: Mapping[str, Any] = field(default=MappingProxyType({}))
    hatches: Mapping[str, Hatch] = field(default=MappingProxyType({}))
    extra_objects: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_data(cls, schema: Mapping[str, Any], raw: Json) -> Stack:
        """Build the model from schema-valid data."""
        data = fill_defaults(schema, raw)
        cluster, prom, scrape = data["cluster"], data["prometheus"], data["scrape"]
        jobs = scrape["kubernetes"]
        node_exporter = data["nodeExporter"]
        chart = data["chart"]
        registry = data["images"].get("registry")
        parameters = mirrored({section: {key: data[section].get(key) for key in keys} for section, keys in PARAMETER_SECTIONS.items()}, registry)
        environments = {env: mirrored(overrides, registry) for env, overrides in data["environments"].items()}
        return cls(
            cluster=Cluster(cluster["name"], cluster["domain"], cluster["kubernetesVersion"], cluster["platform"]),
            namespace=data["namespace"],
            create_namespace=data["createNamespace"],
            chart=Chart(chart["name"], chart["version"], chart.get("appVersion"), chart["description"], tuple(chart["sources"])),
            prometheus=Prometheus(
                storage="storage" in prom,
                scrape_interval=prom["scrapeInterval"],
                scrape_timeout=prom["scrapeTimeout"],
                evaluation_interval=prom["evaluationInterval"],
                external_labels={"cluster": cluster["name"], **prom["externalLabels"]},
                shards=prom["shards"],
                ha_enabled=prom["ha"]["enabled"],
                ha_replica_label=prom["ha"]["replicaLabel"],
                remote_write=tuple(prom["remoteWrite"]),
                remote_read=tuple(prom["remoteRead"]),
                thanos_sidecar=prom["thanos"]["sidecar"]["enabled"],
                thanos_object_storage=_secret_ref(prom["thanos"]["sidecar"].get("objectStorage")),
                thanos_query=prom["thanos"]["query"]["enabled"],
                features=_features(prom["features"]),
            ),
            scrape=Scrape(
                annotation_prefix=scrape["annotationPrefix"],
                pods=scrape["pods"],
                services=scrape["services"],
                slow_interval=scrape["slow"]["interval"],
                slow_timeout=scrape["slow"]["timeout"],
                kubernetes=KubernetesJobs(
                    apiserver=_job(jobs["apiserver"]),
                    kubelet=_job(jobs["kubelet"]),
                    cadvisor=_job(jobs["cadvisor"]),
                    controller_manager=_job(jobs["controllerManager"]),
                    scheduler=_job(jobs["scheduler"]),
                    kube_proxy=_job(jobs["kubeProxy"]),
                    coredns=_job(jobs["coredns"]),
                    etcd=EtcdJob(
                        enabled=jobs["etcd"]["enabled"],
                        secret_name=jobs["etcd"].get("secretName"),
                        port=jobs["etcd"]["port"],
                        insecure_skip_verify=jobs["etcd"]["insecureSkipVerify"],
                    ),
                ),
                extra_jobs=tuple(scrape["extraJobs"]),
                job_names=scrape["jobNames"],
                keep=tuple(scrape["keep"]),
            ),
            node_exporter=NodeExporter(
                port=node_exporter["port"],
                systemd=node_exporter["systemd"]["enabled"],
                systemd_unit_include=node_exporter["systemd"]["unitInclude"],
            ),
            kube_state_metrics=KubeStateMetrics(
                export_secrets=data["kubeStateMetrics"]["exportSecrets"], custom_resource_state=tuple(data["kubeStateMetrics"]["customResourceState"])
            ),
            grafana=_grafana(data["grafana"], remote_datasources(prom["remoteWrite"])),
            metrics_server=_metrics_server(data["metricsServer"]),
            prometheus_adapter=_prometheus_adapter(data["prometheusAdapter"], _times(prom["scrapeInterval"], 4)),
            certificates=Certificates(data["certificates"]["stateDir"], data["certificates"]["keysInOutput"]),
            autoscaling=tuple(
                Autoscaler(
                    hpa["name"],
                    hpa["namespace"],
                    hpa["target"]["kind"],
                    hpa["target"]["name"],
                    hpa["minReplicas"],
                    hpa["maxReplicas"],
                    tuple(hpa["metrics"]),
                    hpa.get("engine", data["autoscalingEngine"]),
                )
                for hpa in data["autoscaling"]
            ),
            keda_authentication=_keda_authentication(data["keda"].get("authentication")),
            parameters=parameters,
            environments=environments,
            environment_values={name: merge_values(parameters, values) for name, values in environments.items()},
            rules=_rules(data["rules"]),
            alertmanager=_alertmanager(data["alertmanager"]),
            images=Images(registry, tuple(data["images"]["pullSecrets"])),
            hatches=_hatches(data),
            extra_objects=tuple(data["extraObjects"]),
            monitors=Monitors(tuple(data["monitors"]["files"]), data["monitors"]["precedence"]),
        )

    def values(self, environment: str | None) -> Mapping[str, Any]:
        """The parameter values of `environment` (None: the stack's own), merged like Helm merges values files."""
        return self.parameters if environment is None else self.environment_values[environment]

    @property
    def uses_keda(self) -> bool:
        """Whether some autoscaling entry is scaled by KEDA (which then holds `external.metrics.k8s.io`)."""
        return any(hpa.engine == "keda" for hpa in self.autoscaling)

    def enabled_somewhere(self, *switches: str) -> bool:
        """Whether the boolean parameters `switches` are all true together in the stack or in some environment."""
        return any(all(lookup(self.values(env), switch) for switch in switches) for env in (None, *self.environments))

    def enabled_everywhere(self, switch: str) -> bool:
        """Whether the boolean parameter `switch` is true in the stack and in every environment."""
        return all(lookup(self.values(env), switch) for env in (None, *self.environments))


def _features(data: Mapping[str, Any]) -> PrometheusFeatures | None:
    features = PrometheusFeatures(data["remoteWriteReceiver"], data["otlpReceiver"], data["nativeHistograms"], tuple(data["enable"]))
    return features if features != PrometheusFeatures(False, False, False, ()) else None


def _grafana(data: Mapping[str, Any], remote: tuple[Datasource, ...] = ()) -> Grafana:
    admin, dashboards = data["adminSecret"], data["dashboards"]
    return Grafana(
        admin_secret=AdminSecret(admin["name"], admin["userKey"], admin["passwordKey"], admin["secretKeyKey"]),
        anonymous=data["anonymous"]["enabled"],
        storage="storage" in data,
        ini=data["ini"],
        secret_settings={name: SecretRef(ref["secretName"], ref["key"]) for name, ref in data["secretSettings"].items()},
        datasources=(*(_datasource(source) for source in data["datasources"]), *remote),
        library=tuple(dashboards["library"]),
        library_folder=dashboards["libraryFolder"],
        files=tuple(DashboardFile(entry["file"], entry.get("folder"), entry["replaceDatasourceUids"]) for entry in dashboards["files"]),
    )


def _datasource(data: Mapping[str, Any]) -> Datasource:
    settings = {key: data[key] for key in ("database", "user", "basicAuth", "basicAuthUser", "isDefault") if key in data}
    secrets = {field: SecretRef(ref["secretName"], ref["key"]) for field, ref in data["secureJsonData"].items()}
    return Datasource(data["name"], data["uid"], data["type"], data["url"], settings, data["jsonData"], secrets)


def _tls(data: Mapping[str, Any]) -> ApiServerTls:
    ca, issuer, secret = data.get("ca", {}), data.get("certManager", {}).get("issuer", {}), data.get("secret", {})
    keys = secret.get("keys")
    return ApiServerTls(
        mode=data["mode"],
        key_type=data["keyType"],
        ca_cert=ca.get("cert"),
        ca_key=ca.get("key"),
        issuer_kind=issuer.get("kind", "Issuer") if issuer else None,
        issuer_name=issuer.get("name"),
        secret_name=secret.get("name") or ca.get("secretName"),
        ca_bundle_file=secret.get("caBundle"),
        **({"serving_keys": (keys["cert"], keys["key"])} if keys else {}),
    )


def _metrics_server(data: Mapping[str, Any]) -> MetricsServer:
    kubelet = data["kubelet"]
    return MetricsServer(
        high_availability=data["highAvailability"],
        metric_resolution=data["metricResolution"],
        address_types=tuple(kubelet["preferredAddressTypes"]),
        use_node_status_port=kubelet["useNodeStatusPort"],
        insecure_kubelet_tls=kubelet["insecureTLS"],
        tls=_tls(data["tls"]),
    )


def _prometheus_adapter(data: Mapping[str, Any], default_window: str) -> PrometheusAdapter:
    resource = data["resourceMetrics"]
    return PrometheusAdapter(
        prometheus_url=data.get("prometheusUrl"),
        relist_interval=data["metricsRelistInterval"],
        custom=tuple(
            CustomMetric(m["name"], m["series"], m["resource"], m["type"], m.get("window", default_window), m["aggregation"], m.get("job"))
            for m in data["customMetrics"]
        ),
        external=tuple(
            ExternalMetric(m["name"], m["series"], m["type"], m.get("window", default_window), m["aggregation"], m["namespaced"], m.get("job"))
            for m in data["externalMetrics"]
        ),
        resource_metrics=resource["enabled"],
        resource_nodes=resource["nodes"],
        resource_window=resource.get("window", default_window),
        raw_custom=tuple(data["rules"]["custom"]),
        raw_external=tuple(data["rules"]["external"]),
        tls=_tls(data["tls"]),
    )


_DURATION_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")  # a schema-valid duration, one amount and unit at a time
_DURATION_UNITS = (("y", 31536000000), ("w", 604800000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1))
_UNIT_MILLIS = dict(_DURATION_UNITS)


def millis(duration: str) -> int:
    """The milliseconds of a schema-valid Prometheus duration (`1m30s` is 90000)."""
    return sum(int(amount) * _UNIT_MILLIS[unit] for amount, unit in _DURATION_PART.findall(duration))


def _times(duration: str, factor: int) -> str:
    """`duration` times `factor`, spelt as Prometheus spells durations (30s times 4 is 2m)."""
    left = factor * millis(duration)
    parts = []
    for unit, size in _DURATION_UNITS:
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


def _rules(data: Mapping[str, Any]) -> Rules:
    overrides = {
        name: AlertOverride(override.get("for"), override.get("severity"), override.get("thresholds", {}), override.get("runbookUrl"))
        for name, override in data["overrides"].items()
    }
    return Rules(data["packs"], tuple(data["disabled"]), overrides, tuple(data["groups"]), data.get("runbookUrl"))


def _alertmanager(data: Mapping[str, Any]) -> Alertmanager:
    return Alertmanager("storage" in data, data["route"], tuple(data["receivers"]), tuple(data["inhibitRules"]))


# The Grafana datasource of a remote store (`prometheus.remoteWrite[].grafanaDatasource`): type and query path by kind.
REMOTE_DATASOURCES: Mapping[str, tuple[str, str]] = {
    "influxdb": ("influxdb", ""),
    "mimir": ("prometheus", "/prometheus"),
    "victoriametrics": ("prometheus", ""),
}
REMOTE_DATASOURCE_UID = "kmc-remote-"


def remote_datasources(entries: list[Mapping[str, Any]]) -> tuple[Datasource, ...]:
    """Grafana datasources for the remote write stores that asked for one, with the store's basic-auth Secret key."""
    sources = []
    for entry in entries:
        if not entry["grafanaDatasource"] or entry["kind"] not in REMOTE_DATASOURCES:
            continue  # other kinds are refused by kmc.check.scaleout
        kind, path = REMOTE_DATASOURCES[entry["kind"]]
        settings: dict[str, Any] = {}
        json_data: dict[str, Any] = {"httpMethod": "POST"}
        secrets = {}
        auth = entry.get("basicAuth")
        if kind == "influxdb":
            settings["database"] = entry.get("database")  # missing: reported by kmc.check.scaleout
            json_data = {"httpMode": "POST", "version": "InfluxQL"}
            if auth:
                settings["user"] = auth["username"]
                secrets["password"] = _secret_ref(auth["password"])
        elif auth:
            settings.update(basicAuth=True, basicAuthUser=auth["username"])
            secrets["basicAuthPassword"] = _secret_ref(auth["password"])
        url = str(entry["url"]).rstrip("/") + path
        name = entry["name"]
        sources.append(Datasource(f"Remote storage {name}", REMOTE_DATASOURCE_UID + name, kind, url, settings, json_data, secrets))  # type: ignore[arg-type]
    return tuple(sources)


def _secret_ref(data: Mapping[str, Any] | None) -> SecretRef | None:
    return None if data is None else SecretRef(data["secretName"], data["key"])


def _keda_authentication(data: Mapping[str, Any] | None) -> KedaAuthentication | None:
    return None if data is None else KedaAuthentication(data["mode"], data["secretName"])


def _job(data: Mapping[str, Any]) -> ComponentJob:
    return ComponentJob(enabled=data["enabled"], insecure_skip_verify=data.get("insecureSkipVerify", False))


# The first component of an image reference is a registry host when it has a dot or a port, or is
# localhost (the rule of the distribution/reference package container runtimes use); else the image
# is Docker Hub's and has no host written.
_REGISTRY_HOST = re.compile(r"^(?:[^/]*[.:][^/]*|localhost)/")


def mirror(image: str, registry: str) -> str:
    """`image` pulled from `registry` in place of its own registry host (Docker Hub's when none is written)."""
    return f"{registry.rstrip('/')}/{_REGISTRY_HOST.sub('', image, count=1)}"


def mirrored(values: Mapping[str, Any], registry: str | None) -> Mapping[str, Any]:
    """`values` (a stack's parameters or an environment's overrides) with every image parameter pulled from `registry`."""
    if not registry:
        return values
    out = dict(values)
    for section, keys in IMAGE_PARAMETERS.items():
        part = out.get(section)
        if isinstance(part, Mapping) and any(isinstance(part.get(key), str) for key in keys):
            out[section] = {key: mirror(value, registry) if key in keys and isinstance(value, str) else value for key, value in part.items()}
    return out


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of values: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return {key: merged[key] for key in sorted(merged)}
