"""The Prometheus server: config, RBAC for discovery, Service, Deployment or StatefulSet."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kmc.components import (
    aggregated_api,
    alertmanager,
    config_reloader,
    exposure,
    ingest_steps,
    kube,
    monitor_jobs,
    prometheus_features,
    remote_storage,
    rules,
    sharding,
    thanos,
)
from kmc.components.base import PROMETHEUS_SWITCH, Facts, ServiceTarget, prometheus_conditions
from kmc.components.scrape_jobs import ETCD_CERTS, ETCD_KEYS, prometheus_config
from kmc.ir import Join, KObject, Param, Switch, equals, lookup
from kmc.model import Stack
from kmc.text import yaml_text

NAME = "prometheus"
ROLE = "server"
PORT = 9090
POLICY_SWITCH = "prometheus.networkPolicy.enabled"
INSTANCE_LABEL = "app.kubernetes.io/instance"  # a shard's pods: prometheus-shard-K
UI = exposure.Exposed(NAME, NAME, ROLE, PORT, PROMETHEUS_SWITCH)


def compiled(stack: Stack) -> bool:
    return stack.enabled_somewhere(PROMETHEUS_SWITCH)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    return ()  # Prometheus scrapes itself through a static job


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    ns = stack.namespace
    # Rules and alerting join the config before sharding splits it (each shard evaluates its share).
    unsharded = {**prometheus_config(stack, facts.service_targets), **rules.prometheus_section(stack), **alertmanager.prometheus_section(stack)}
    base = remote_storage.with_remote_storage(unsharded, stack, NAME)
    ca_bodies, ca_volume = aggregated_api.scrape_ca(stack, facts.api_servers)
    bodies = [
        kube.service_account(NAME, ns, ROLE),
        _cluster_role(
            ns, ingresses=any("kubernetes_sd_configs" in job and job["kubernetes_sd_configs"][0]["role"] == "ingress" for job in stack.monitors.jobs)
        ),
        kube.cluster_role_binding(NAME, ns, ROLE, kube.cluster_name(ns, NAME), NAME),
        *ca_bodies,
    ]
    # The job of an exporter that some environment switches off is there only where it is on.
    switched = {target.job: target.switch for target in facts.service_targets if target.switch and not stack.enabled_everywhere(target.switch)}
    keep_steps = {name: ingest_steps.steps(found, stack.scrape.keep) for name, found in stack.ingest.items()}
    # One config, Service and workload; or one of each per shard (see kmc.components.sharding).
    for shard in sharding.shard_indexes(stack):
        name = sharding.shard_name(NAME, shard)
        data = sharding.shard_config(base, stack, shard)
        choices = [_ingest_choices(stack, job, switched.get(job["job_name"]), keep_steps.get(job["job_name"])) for job in data["scrape_configs"]]
        config = yaml_text.dump_choices(data, "scrape_configs", choices)
        bodies += [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": kube.metadata(name, NAME, ROLE, ns),
                "data": {"prometheus.yml": config},
            },
            _service(stack, shard),
            _workload(stack, ca_volume, shard),
        ]
        if stack.prometheus.storage:
            bodies.append(_governing_service(ns, shard))
    switched_on = prometheus_conditions(stack)
    objects = [KObject(body, NAME, conditions=switched_on) for body in bodies]
    if stack.enabled_somewhere(PROMETHEUS_SWITCH, POLICY_SWITCH):
        policy = kube.network_policy(NAME, ns, ROLE, _web_ingress(stack, facts))
        objects.append(KObject(policy, NAME, conditions=(*switched_on, POLICY_SWITCH)))
    objects += exposure.objects(stack, UI)
    return objects


INGEST_DEFAULT = "prometheus.ingest.default"
INGEST_JOBS = "prometheus.ingest.jobs"


def ingest_mode(stack: Stack, job: str, env: str | None) -> str:
    """`used` or `all`: what the job `job` ingests in `env` (None: the stack's own values). A job
    the stack opts in (kmc.components.ingest.opted_in) ingests all unless it names it."""
    values = stack.values(env)
    opted_in = job in stack.ingest and stack.ingest[job].opted_in
    return str(lookup(values, INGEST_JOBS).get(job) or ("all" if opted_in else lookup(values, INGEST_DEFAULT)))


def _ingest_choices(stack: Stack, job: dict[str, Any], switch: str | None, steps: list[dict[str, Any]] | None) -> list[tuple[str | None, dict[str, Any]]]:
    """The job's config as each environment ingests it: with its keep steps where `prometheus.ingest`
    says `used`, as it is where it says `all`; `switch`: the job's own switch, if an environment turns it off."""
    if not steps:
        return [(switch, job)]
    used = {**job, "metric_relabel_configs": [*job.get("metric_relabel_configs", ()), *steps]}
    modes = {ingest_mode(stack, job["job_name"], env) for env in (None, *stack.environments)}
    if len(modes) == 1:
        return [(switch, used if modes == {"used"} else job)]
    entry = (INGEST_JOBS, job["job_name"])
    on = (switch,) if switch else ()
    if stack.ingest[job["job_name"]].opted_in:  # its own entry, or all
        used_here = equals(None, "used", entry=entry)
        return [("&".join((*on, used_here)), used), ("&".join((*on, "!" + used_here)), job)]
    return [("&".join((*on, equals(INGEST_DEFAULT, mode, entry=entry))), body) for mode, body in (("used", used), ("all", job))]


def _service(stack: Stack, shard: int | None) -> dict[str, Any]:
    namespace = stack.namespace
    if shard is None:
        return kube.service(
            NAME,
            namespace,
            ROLE,
            [
                {
                    "name": "web",
                    "nodePort": Param("prometheus.service.nodePort", omit_empty=True),
                    "port": exposure.service_port(stack, NAME),
                    "targetPort": "web",
                }
            ],
            type=Param("prometheus.service.type"),
        )
    # A shard's own Service (its UI and API): ClusterIP, as one node port cannot serve N shards.
    name = sharding.shard_name(NAME, shard)
    service = kube.service(name, namespace, ROLE, [{"name": "web", "port": PORT, "targetPort": "web"}], type="ClusterIP")
    service["metadata"]["labels"] = kube.labels(NAME, ROLE)
    service["spec"]["selector"] = _selector(shard)
    return service


def governing_service_name(shard: int | None) -> str:
    """The headless Service that gives a StatefulSet's pods their DNS names (`serviceName`).

    Its own: the web Service may be a NodePort, and a StatefulSet needs one whose clusterIP is None.
    No other Service of the stack ends in `-headless`, and a shard's name ends in its number."""
    return f"{sharding.shard_name(NAME, shard)}-headless"


def _governing_service(namespace: str, shard: int | None) -> dict[str, Any]:
    service = kube.service(governing_service_name(shard), namespace, ROLE, [{"name": "web", "port": PORT, "targetPort": "web"}], clusterIP="None")
    service["metadata"]["labels"] = kube.labels(NAME, ROLE)
    service["spec"]["selector"] = _selector(shard)
    return service


def _selector(shard: int | None) -> dict[str, str]:
    """The labels selecting the pods of one workload: a shard's pods carry their shard's instance name."""
    selector = kube.selector(NAME)
    if shard is not None:
        selector[INSTANCE_LABEL] = sharding.shard_name(NAME, shard)
    return selector


def _web_ingress(stack: Stack, facts: Facts) -> Switch:
    # A rule with an empty `from` would admit everyone: with no peers there is no rule at all.
    # The stack's own clients (prometheus-adapter) are admitted whatever the user lists.
    peers = "prometheus.networkPolicy.from"
    # (With Thanos Query the stack's URL is Query's, whose policy admits them instead.)
    own = (
        [{"from": [{"podSelector": {"matchLabels": dict(pods)}} for pods in facts.prometheus_clients], "ports": kube.tcp_ports(PORT)}]
        if facts.prometheus_clients and not stack.prometheus.thanos_query
        else []
    )
    fixed = [*own, *thanos.store_api_ingress(stack)]
    return Switch(peers, on=[{"from": Param(peers), "ports": kube.tcp_ports(PORT)}, *fixed], off=fixed)


def _cluster_role(namespace: str, *, ingresses: bool = False) -> dict[str, Any]:
    read = ["get", "list", "watch"]
    # Ingresses only for a Probe of Ingresses (kmc.components.monitor_jobs): least privilege.
    extra = [{"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": read}] if ingresses else []
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": kube.metadata(kube.cluster_name(namespace, NAME), NAME, ROLE),
        "rules": [
            {"apiGroups": [""], "resources": ["endpoints", "nodes", "nodes/metrics", "pods", "services"], "verbs": read},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
            *extra,
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
        ],
    }


def _monitor_secrets(stack: Stack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumeMounts, volumes) of the Secrets imported monitors read: one volume per Secret, only the keys used."""
    by_secret: dict[str, list[str]] = {}
    for ref, _ in stack.monitors.secrets:
        by_secret.setdefault(ref.secret_name, []).append(ref.key)
    mounts, volumes = [], []
    for index, (secret, keys) in enumerate(sorted(by_secret.items())):
        name = f"{monitor_jobs.VOLUME_PREFIX}{index}"
        mounts.append({"mountPath": f"{monitor_jobs.SECRETS_DIR}/{secret}", "name": name, "readOnly": True})
        volumes.append({"name": name, "secret": {"items": [{"key": key, "path": key} for key in sorted(set(keys))], "secretName": secret}})
    return mounts, volumes


def _workload(stack: Stack, ca_volume: dict[str, Any] | None, shard: int | None = None) -> dict[str, Any]:
    name = sharding.shard_name(NAME, shard)
    config_mount = {"mountPath": "/etc/prometheus", "name": "config", "readOnly": True}
    mounts: list[dict[str, Any]] = [config_mount, {"mountPath": "/prometheus", "name": "data"}]
    watched = [config_mount]  # the ConfigMaps the config-reloader sidecar watches
    volumes: list[dict[str, Any]] = [{"configMap": {"name": name}, "name": "config"}]
    etcd = stack.scrape.kubernetes.etcd
    if etcd.enabled:
        mounts.append({"mountPath": ETCD_CERTS, "name": "etcd-client", "readOnly": True})
        items = [{"key": key, "path": key} for key in ETCD_KEYS]
        volumes.append({"name": "etcd-client", "secret": {"items": items, "secretName": etcd.secret_name}})
    if ca_volume is not None:
        mounts.append({"mountPath": aggregated_api.SCRAPE_CA_DIR, "name": ca_volume["name"], "readOnly": True})
        volumes.append(ca_volume)
    if stack.rules.files:
        rules_mount = {"mountPath": rules.MOUNT, "name": "rules", "readOnly": True}
        mounts.append(rules_mount)
        watched.append(rules_mount)
        volumes.append({"configMap": {"name": rules.NAME}, "name": "rules"})
    route = exposure.prefix(stack, NAME)
    remote_mounts, remote_volumes = remote_storage.volumes(stack)
    mounts += remote_mounts
    volumes += remote_volumes
    monitor_mounts, monitor_volumes = _monitor_secrets(stack)
    mounts += monitor_mounts
    volumes += monitor_volumes
    container: dict[str, Any] = {
        "name": NAME,
        "image": Param("prometheus.image"),
        "args": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            Join(("--storage.tsdb.retention.time=", Param("prometheus.retention"))),
            Join(("--storage.tsdb.retention.size=", Param("prometheus.retentionSize"))),
            "--web.listen-address=:9090",
            # POST /-/reload for the config-reloader sidecar (and /-/quit: see docs/security.md).
            "--web.enable-lifecycle",
            *exposure.route_args(stack, NAME),
        ],
        "ports": [{"containerPort": PORT, "name": "web"}],
        "readinessProbe": kube.http_probe(f"{route}/-/ready", "web", 5),
        "livenessProbe": {**kube.http_probe(f"{route}/-/healthy", "web", 15), "failureThreshold": 10},
        "resources": Param("prometheus.resources"),
        "securityContext": kube.restricted_container(),
        "volumeMounts": mounts,
    }
    container["args"] += prometheus_features.args(stack)
    if sharding.ha_active(stack):
        container["args"].append(sharding.EXPAND_FEATURE)
        container["env"] = [{"name": sharding.POD_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    if stack.prometheus.thanos_object_storage is not None:
        # Thanos uploads the 2-hour blocks as they are cut; local compaction would race it.
        container["args"] += ["--storage.tsdb.max-block-duration=2h", "--storage.tsdb.min-block-duration=2h"]
    container["args"] = exposure.with_external_url(stack, NAME, container["args"], "--web.external-url=")
    containers = [container, config_reloader.container(NAME, PORT, watched, route)]
    if stack.prometheus.thanos_sidecar:
        sidecar, sidecar_volumes = thanos.sidecar(stack)
        containers.append(sidecar)
        volumes += sidecar_volumes
    labels = kube.labels(NAME, ROLE)
    if shard is not None:
        labels[INSTANCE_LABEL] = name
    pod = {
        "metadata": {"labels": labels},
        "spec": {
            "automountServiceAccountToken": True,
            "containers": containers,
            **kube.scheduling("prometheus"),
            "securityContext": kube.restricted_pod(),
            "serviceAccountName": NAME,
            "terminationGracePeriodSeconds": 600,
        },
    }
    spec: dict[str, Any] = {"replicas": Param("prometheus.replicas"), "selector": {"matchLabels": _selector(shard)}}
    if stack.prometheus.storage:
        claim = {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": Param("prometheus.storage.size")}},
                "storageClassName": Param("prometheus.storage.storageClassName", omit_empty=True),
            },
        }
        pod["spec"]["volumes"] = volumes
        spec.update(serviceName=governing_service_name(shard), template=pod, volumeClaimTemplates=[claim])
        kind = "StatefulSet"
    else:
        pod["spec"]["volumes"] = [*volumes, {"emptyDir": {}, "name": "data"}]
        spec["template"] = pod
        kind = "Deployment"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": kube.metadata(name, NAME, ROLE, stack.namespace), "spec": spec}
