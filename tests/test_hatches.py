"""Escape hatches, extraObjects, prometheus.features, a switchable Prometheus and kube-state-metrics'
custom resource state: what is applied, what is refused (exact diagnostics), and the tables that
stand for upstream facts, each checked against what kmc emits or against the upstream source it
names."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_properties import stack_file

from kmc.components import hatches, prometheus_features
from kmc.errors import StackInvalid
from kmc.ir import resolve
from kmc.pipeline import Compiled, compile_stack

BASE: dict[str, Any] = {"version": 1, "cluster": {"name": "t", "kubernetesVersion": "1.33"}, "namespace": "monitoring"}


def compiled(**sections: Any) -> Compiled:
    with stack_file({**copy.deepcopy(BASE), **sections}) as path:
        return compile_stack(path, "stack.yaml", certificates="files")


def refused(**sections: Any) -> list[tuple[str, str]]:
    with pytest.raises(StackInvalid) as caught:
        compiled(**sections)
    return [(problem.path, problem.message) for problem in caught.value.diagnostics]


def objects(result: Compiled) -> dict[tuple[str, str], dict[str, Any]]:
    values = result.stack.values(None)
    return {(obj.kind, obj.name): resolve(obj.body, values) for obj in result.graph.objects if obj.switched_on(values)}


def container(result: Compiled, kind: str, name: str, container_name: str) -> dict[str, Any]:
    pod = objects(result)[(kind, name)]["spec"]["template"]
    found: dict[str, Any] = next(c for c in pod["spec"]["containers"] if c["name"] == container_name)
    return found


# --- applied ---------------------------------------------------------------------------------


def test_hatches_are_applied_to_the_component_they_name() -> None:
    result = compiled(
        prometheus={
            "extraArgs": ["--query.max-concurrency=40"],
            "extraEnv": [{"name": "HTTPS_PROXY", "valueFrom": {"secretKeyRef": {"name": "proxy", "key": "url"}}}],
            "podAnnotations": {"example.com/owner": "platform"},
            "serviceAnnotations": {"example.com/lb": "internal"},
            "extraLabels": {"team": "platform"},
            "extraVolumes": [{"name": "extra", "configMap": {"name": "extra"}}],
            "extraVolumeMounts": [{"name": "extra", "mountPath": "/etc/extra", "readOnly": True}],
        }
    )
    found = objects(result)
    main = container(result, "Deployment", "prometheus", "prometheus")
    assert main["args"][-1] == "--query.max-concurrency=40"
    assert main["env"] == [{"name": "HTTPS_PROXY", "valueFrom": {"secretKeyRef": {"name": "proxy", "key": "url"}}}]
    assert main["volumeMounts"][-1] == {"name": "extra", "mountPath": "/etc/extra", "readOnly": True}
    reloader = container(result, "Deployment", "prometheus", "config-reloader")
    assert "HTTPS_PROXY" not in str(reloader)
    pod = found[("Deployment", "prometheus")]["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"example.com/owner": "platform"}
    assert pod["metadata"]["labels"]["team"] == "platform"
    assert {"name": "extra", "configMap": {"name": "extra"}} in pod["spec"]["volumes"]
    assert found[("Service", "prometheus")]["metadata"]["annotations"] == {"example.com/lb": "internal"}
    assert found[("ClusterRole", "monitoring-prometheus")]["metadata"]["labels"]["team"] == "platform"
    assert "team" not in found[("Deployment", "kube-state-metrics")]["metadata"]["labels"]
    # The selector stays kmc's.
    assert found[("Deployment", "prometheus")]["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "prometheus",
        "app.kubernetes.io/part-of": "kmc",
    }


def test_hatch_references_are_prerequisites_unless_the_output_holds_them() -> None:
    from kmc.pipeline import prerequisites

    result = compiled(
        prometheus={
            "extraEnv": [{"name": "HTTPS_PROXY", "valueFrom": {"secretKeyRef": {"name": "proxy", "key": "url"}}}],
            "extraVolumes": [{"name": "extra", "configMap": {"name": "extra"}}],
        },
        extraObjects=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra"}, "data": {"a": "b"}}],
    )
    refs = [item.ref for item in prerequisites(result.stack, "manifests")["default"]]
    assert "Secret monitoring/proxy" in refs
    assert "ConfigMap monitoring/extra" not in refs
    assert ("ConfigMap", "extra") in objects(result)


# --- refused ---------------------------------------------------------------------------------

REFUSALS = [
    (
        {"prometheus": {"retention": "15d", "extraArgs": ["--storage.tsdb.retention.time=1d"]}},
        ("$.prometheus.extraArgs[0]", "--storage.tsdb.retention.time is set by kmc from prometheus.retention"),
    ),
    ({"prometheus": {"extraArgs": ["--config.file=/x"]}}, ("$.prometheus.extraArgs[0]", "--config.file is set by kmc itself")),
    ({"prometheus": {"extraArgs": ["-web.listen-address=:1"]}}, ("$.prometheus.extraArgs[0]", "--web.listen-address is set by kmc itself")),
    (
        {"prometheus": {"extraArgs": ["--no-web.enable-lifecycle"]}},
        ("$.prometheus.extraArgs[0]", "--no-web.enable-lifecycle negates --web.enable-lifecycle, which kmc sets"),
    ),
    (
        {"prometheus": {"extraArgs": ["--enable-feature=agent"]}},
        ("$.prometheus.extraArgs[0]", "--enable-feature is set by kmc from prometheus.features"),
    ),
    (
        {"metricsServer": {"enabled": True, "extraArgs": ["--kubelet-insecure-tls"]}},
        ("$.metricsServer.extraArgs[0]", "--kubelet-insecure-tls is set by kmc from metricsServer.kubelet.insecureTLS"),
    ),
    (
        {"prometheus": {"extraArgs": ["--query.timeout=1m", "--query.timeout=2m"]}},
        ("$.prometheus.extraArgs[1]", "--query.timeout is already passed (extraArgs[0])"),
    ),
    (
        {"prometheus": {"extraEnv": [{"name": "REMOTE_PASSWORD", "value": "hunter2"}]}},
        ("$.prometheus.extraEnv[0].value", "environment variable REMOTE_PASSWORD looks like a credential and has a literal value"),
    ),
    (
        {
            "alertmanager": {
                "enabled": True,
                "receivers": [{"name": "x", "webhookConfigs": [{"url": {"secretName": "s", "key": "k"}}]}],
                "route": {"receiver": "x"},
                "extraEnv": [{"name": "POD_IP", "value": "1"}],
            }
        },
        ("$.alertmanager.extraEnv[0].name", "environment variable POD_IP is set by kmc"),
    ),
    (
        {"grafana": {"enabled": True, "extraEnv": [{"name": "GF_AUTH_ANONYMOUS_ORG_ROLE", "value": "Admin"}]}},
        ("$.grafana.extraEnv[0].name", "GF_AUTH_ANONYMOUS_ORG_ROLE is a Grafana setting"),
    ),
    (
        {"prometheus": {"extraLabels": {"app.kubernetes.io/name": "x"}}},
        ("$.prometheus.extraLabels['app.kubernetes.io/name']", "label app.kubernetes.io/name is kmc's"),
    ),
    (
        {"prometheus": {"podAnnotations": {"prometheus.io/scrape": "true"}}},
        ("$.prometheus.podAnnotations['prometheus.io/scrape']", "annotation prometheus.io/scrape asks for a scrape of a kmc component"),
    ),
    ({"prometheus": {"extraVolumes": [{"name": "config", "emptyDir": {}}]}}, ("$.prometheus.extraVolumes[0].name", "volume name config is kmc's")),
    (
        {"prometheus": {"extraVolumes": [{"name": "x", "emptyDir": {}}], "extraVolumeMounts": [{"name": "x", "mountPath": "/etc/prometheus/x"}]}},
        ("$.prometheus.extraVolumeMounts[0].mountPath", "mount path /etc/prometheus/x overlaps /etc/prometheus, which is mounted already"),
    ),
    (
        {"extraObjects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "prometheus"}}]},
        ("$.extraObjects[0].metadata.name", "ConfigMap monitoring/prometheus is also built by kmc's prometheus"),
    ),
    ({"extraObjects": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}]}, ("$.extraObjects[0].kind", "extraObjects may not hold a Pod")),
    (
        {"extraObjects": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}}]},
        ("$.extraObjects[0]", "an extra Secret holds data"),
    ),
    (
        {"extraObjects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "-----BEGIN EC PRIVATE KEY-----"}}]},
        ("$.extraObjects[0]", "an extra object holds a private key"),
    ),
    (
        {"extraObjects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "other"}}]},
        ("$.extraObjects[0].metadata.namespace", "ConfigMap c is not in the stack's namespace monitoring"),
    ),
    (
        {
            "extraObjects": [
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": {"name": "r"},
                    "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}],
                }
            ]
        },
        ("$.extraObjects[0].rules[0].resources", "a wildcard in resources"),
    ),
    ({"prometheus": {"features": {"enable": ["agent"]}}}, ("$.prometheus.features.enable[0]", "feature agent is not for prometheus.features.enable")),
    ({"prometheus": {"features": {"enable": ["exemplar-storag"]}}}, ("$.prometheus.features.enable[0]", "Prometheus 3.x has no feature exemplar-storag")),
    (
        {"prometheus": {"image": "quay.io/prometheus/prometheus:v2.53.3", "features": {"enable": ["old-ui"]}}},
        ("$.prometheus.features.enable[0]", "Prometheus 2.x has no feature old-ui"),
    ),
    (
        {"prometheus": {"features": {"otlpReceiver": True}}, "environments": {"old": {"prometheus": {"image": "quay.io/prometheus/prometheus:v2.53.3"}}}},
        ("$.environments.old.prometheus.image", "environment 'old' runs Prometheus 2.x, the stack 3.x: they turn on the OTLP receiver with different flags"),
    ),
    (
        {
            "prometheus": {"enabled": False},
            "prometheusAdapter": {"enabled": True, "customMetrics": [{"name": "rps", "series": "http_requests_total", "resource": "pod", "type": "rate"}]},
        },
        ("$.prometheusAdapter.enabled", "prometheus-adapter reads the stack's Prometheus, which is off in the stack"),
    ),
    (
        {"prometheus": {"enabled": True}, "grafana": {"enabled": True}, "environments": {"dev": {"prometheus": {"enabled": False}}}},
        ("$.environments.dev.prometheus.enabled", "Prometheus is off in environment 'dev' but on in other environments that run Grafana"),
    ),
]


@pytest.mark.parametrize(("sections", "expected"), REFUSALS, ids=[expected[1][:60] for _, expected in REFUSALS])
def test_refused_where_written(sections: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in refused(**sections)


# --- the owned-flag table cannot drift ---------------------------------------------------------

# Flags kmc never passes, owned because they would undo what a key promises.
NEVER_EMITTED = {("kubeStateMetrics", "custom-resource-state-config"), ("kubeStateMetrics", "custom-resource-state-only")}
CRS = [
    {
        "groupVersionKind": {"group": "example.com", "version": "v1", "kind": "Widget"},
        "resourcePlural": "widgets",
        "metrics": [{"name": "up", "help": "h", "each": {"type": "Info", "info": {}}}],
    }
]
# For each section, a stack that turns on every flag it owns conditionally.
EVERY_CONDITION: dict[str, dict[str, Any]] = {
    "kubeStateMetrics": {"kubeStateMetrics": {"customResourceState": CRS}},
    "metricsServer": {"metricsServer": {"enabled": True, "kubelet": {"insecureTLS": True, "useNodeStatusPort": True}}},
    "nodeExporter": {"nodeExporter": {"systemd": {"enabled": True}}},
    "prometheus": {
        "prometheus": {
            "features": {"remoteWriteReceiver": True, "otlpReceiver": True, "nativeHistograms": True},
            "thanos": {"sidecar": {"enabled": True, "objectStorage": {"secretName": "o", "key": "objstore.yml"}}},
        }
    },
    "prometheus.thanos.sidecar": {"prometheus": {"thanos": {"sidecar": {"enabled": True, "objectStorage": {"secretName": "o", "key": "objstore.yml"}}}}},
    "prometheusAdapter": {
        "prometheusAdapter": {"enabled": True, "customMetrics": [{"name": "rps", "series": "http_requests_total", "resource": "pod", "type": "rate"}]}
    },
}


@pytest.mark.parametrize("section", sorted(hatches.CONDITIONAL_FLAGS))
def test_every_conditional_flag_is_emitted_when_its_key_is_on(section: str) -> None:
    target = next(target for target in hatches.TARGETS if target.section == section)
    result = compiled(**EVERY_CONDITION[section])
    owned = hatches.owned(target, result.graph.objects)
    emitted = {name for name, owner in owned.flags.items() if (section, name) not in NEVER_EMITTED}
    for name in hatches.CONDITIONAL_FLAGS[section]:
        if (section, name) not in NEVER_EMITTED:
            found = [
                obj
                for obj in result.graph.objects
                for _, c in hatches._containers(obj, target.container)
                if any(hatches.flag_name(str(a)) == name for a in c.get("args", []))
            ]
            assert found, f"{section}: --{name} is not emitted when {hatches.CONDITIONAL_FLAGS[section][name]} is on"
    assert emitted


# --- prometheus.features, per major ----------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("quay.io/prometheus/prometheus:v2.53.3", ["--web.enable-remote-write-receiver", "--enable-feature=native-histograms,otlp-write-receiver"]),
        ("quay.io/prometheus/prometheus:v3.5.0", ["--web.enable-remote-write-receiver", "--web.enable-otlp-receiver", "--enable-feature=native-histograms"]),
        (
            "quay.io/prometheus/prometheus@sha256:" + "0" * 64,
            ["--web.enable-remote-write-receiver", "--web.enable-otlp-receiver", "--enable-feature=native-histograms"],
        ),
    ],
)
def test_features_are_spelt_for_the_image_major(image: str, expected: list[str]) -> None:
    result = compiled(prometheus={"image": image, "features": {"remoteWriteReceiver": True, "otlpReceiver": True, "nativeHistograms": True}})
    assert prometheus_features.args(result.stack) == expected


def test_feature_lists_follow_the_pinned_releases() -> None:
    """From cmd/prometheus/main.go at v2.53.3 and v3.5.0: the OTLP feature left 3.x for a flag, agent mode moved to `--agent`."""
    assert "otlp-write-receiver" in prometheus_features.FEATURES[2]
    assert "otlp-write-receiver" not in prometheus_features.FEATURES[3]
    assert "native-histograms" in prometheus_features.FEATURES[2] & prometheus_features.FEATURES[3]
    assert "agent" not in prometheus_features.FEATURES[3]


# --- Prometheus switchable ---------------------------------------------------------------------


def test_a_metrics_only_stack_is_metrics_server_alone() -> None:
    result = compiled(prometheus={"enabled": False}, nodeExporter={"enabled": False}, kubeStateMetrics={"enabled": False}, metricsServer={"enabled": True})
    components = {obj.component for obj in result.graph.objects}
    assert components == {"metrics-server", "namespace"}
    assert not result.warnings


def test_without_prometheus_grafana_loses_its_datasource_with_a_warning() -> None:
    result = compiled(
        prometheus={"enabled": False},
        nodeExporter={"enabled": False},
        kubeStateMetrics={"enabled": False},
        grafana={"enabled": True, "dashboards": {"library": []}},
    )
    datasources = yaml.safe_load(objects(result)[("ConfigMap", "grafana")]["data"]["datasources.yaml"])
    assert datasources["datasources"] == []
    assert [w.message for w in result.warnings] == ["Grafana gets no Prometheus datasource: the stack has no Prometheus"]


def test_prometheus_off_in_one_environment_is_a_condition_of_its_objects() -> None:
    result = compiled(environments={"edge": {"prometheus": {"enabled": False}}})
    prom = [obj for obj in result.graph.objects if obj.component in ("prometheus", "rules")]
    assert prom and all("prometheus.enabled" in obj.conditions for obj in prom)
    assert not [obj for obj in result.graph.objects if obj.switched_on(result.stack.values("edge")) and obj.component == "prometheus"]


# --- kube-state-metrics custom resource state --------------------------------------------------

# The YAML fields of kube-state-metrics v2.16.0's config types (pkg/customresourcestate/config.go
# and config_metrics_types.go, their `yaml:` tags; inline structs merged): the file kmc writes may
# use no other key, or kube-state-metrics would silently ignore it.
KSM_TYPES: dict[str, set[str]] = {
    "Metrics": {"kind", "spec"},  # kind: read by its loader's type check, not a struct field
    "MetricsSpec": {"resources"},
    "Resource": {"commonLabels", "labelsFromPath", "metricNamePrefix", "groupVersionKind", "resourcePlural", "metrics", "errorLogV"},
    "GroupVersionKind": {"group", "version", "kind"},
    "Generator": {"each", "commonLabels", "labelsFromPath", "name", "help", "errorLogV"},
    "Metric": {"gauge", "stateSet", "info", "type"},
    "MetricGauge": {"labelFromKey", "labelsFromPath", "path", "valueFrom", "nilIsZero"},
    "MetricInfo": {"labelFromKey", "labelsFromPath", "path"},
    "MetricStateSet": {"labelsFromPath", "path", "list", "labelName", "valueFrom"},
}


def _conforms(config: dict[str, Any]) -> None:
    assert set(config) <= KSM_TYPES["Metrics"] and config["kind"] == "CustomResourceStateMetrics"
    assert set(config["spec"]) <= KSM_TYPES["MetricsSpec"]
    for resource in config["spec"]["resources"]:
        assert set(resource) <= KSM_TYPES["Resource"]
        assert set(resource["groupVersionKind"]) == KSM_TYPES["GroupVersionKind"]
        for metric in resource["metrics"]:
            assert set(metric) <= KSM_TYPES["Generator"]
            each = metric["each"]
            assert set(each) <= KSM_TYPES["Metric"]
            assert each["type"].lower() in ("gauge", "stateset", "info")  # config.go configOverrides lowercases it
            for block, kind in (("gauge", "MetricGauge"), ("info", "MetricInfo"), ("stateSet", "MetricStateSet")):
                if block in each:
                    assert set(each[block]) <= KSM_TYPES[kind]


def test_custom_resource_state_config_flag_and_least_privilege() -> None:
    golden = yaml.safe_load((Path(__file__).resolve().parents[1] / "golden" / "full" / "stack.yaml").read_text())
    crs = golden["kubeStateMetrics"]["customResourceState"]
    result = compiled(kubeStateMetrics={"customResourceState": crs})
    found = objects(result)
    config = yaml.safe_load(found[("ConfigMap", "kube-state-metrics-custom-resource-state")]["data"]["custom-resource-state.yaml"])
    _conforms(config)
    assert config["spec"]["resources"] == crs
    main = container(result, "Deployment", "kube-state-metrics", "kube-state-metrics")
    assert "--custom-resource-state-config-file=/etc/kube-state-metrics/custom-resource-state.yaml" in main["args"]
    assert not [arg for arg in main["args"] if arg.startswith("--custom-resource-state-only")]
    rules = found[("ClusterRole", "monitoring-kube-state-metrics")]["rules"]
    extra = [rule for rule in rules if rule["apiGroups"][0] in ("apiextensions.k8s.io", "cert-manager.io")]
    assert extra == [
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list", "watch"]},
        {"apiGroups": ["cert-manager.io"], "resources": ["certificates"], "verbs": ["list", "watch"]},
    ]


def test_custom_resource_state_refusals() -> None:
    crs = copy.deepcopy(CRS)
    crs[0]["metrics"][0]["each"] = {"type": "Gauge", "info": {}}
    crs[0]["commonLabels"] = {"customresource_kind": "x"}
    crs.append({**copy.deepcopy(CRS[0]), "resourcePlural": "widgetz"})
    assert sorted(refused(kubeStateMetrics={"customResourceState": crs})) == sorted(
        [
            ("$.kubeStateMetrics.customResourceState[0].commonLabels.customresource_kind", "label customresource_kind is kube-state-metrics' own"),
            ("$.kubeStateMetrics.customResourceState[0].metrics[0].each.type", "type Gauge reads its `gauge` block, which is missing"),
            ("$.kubeStateMetrics.customResourceState[1].resourcePlural", "Widget.example.com has two plurals: widgets and widgetz"),
            ("$.kubeStateMetrics.customResourceState[1].metrics[0].name", "metric kube_customresource_up is defined twice"),
        ]
    )
