"""The Helm chart, judged by the real Helm 3.19 and 4.3: lint-clean, schema-guarded, and
`helm template -f values-E.yaml --set namespace.create=true` ≡ `kmc build --env E --format
manifests` for every environment; without that value the chart leaves the Namespace out."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from object_sets import NAMESPACE_OPT_IN, chart_objects, difference, directory_objects, helm_objects, namespace_opt_in
from tools import HELMS, ROOT, tool

from kmc.model import PARAMETER_SECTIONS

CHARTS = sorted(ROOT.glob("golden/*/out/helm/*")) + sorted(ROOT.glob("charts-out/helm/*"))
ENVIRONMENTS = [
    pytest.param(chart, env, id=f"{chart.relative_to(ROOT)}:{env}")
    for chart in CHARTS
    for env in ["default", *sorted(path.name.removeprefix("values-").removesuffix(".yaml") for path in chart.glob("values-*.yaml"))]
]


def helm(name: str, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([tool(HELMS[name]), *map(str, args)], capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def values_args(chart: Path, env: str) -> list[str | Path]:
    return [] if env == "default" else ["-f", chart / f"values-{env}.yaml"]


def test_every_golden_case_has_a_chart() -> None:
    for case in ROOT.glob("golden/*/stack.yaml"):
        assert len(list((case.parent / "out/helm").iterdir())) == 1, case
    assert CHARTS


@pytest.mark.parametrize("helm_name", sorted(HELMS))
@pytest.mark.parametrize(("chart", "env"), ENVIRONMENTS)
def test_lint_strict_is_clean(helm_name: str, chart: Path, env: str) -> None:
    result = helm(helm_name, "lint", "--strict", chart, *values_args(chart, env))
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.parametrize("helm_name", sorted(HELMS))
@pytest.mark.parametrize(("chart", "env"), ENVIRONMENTS)
def test_template_equals_manifests(helm_name: str, chart: Path, env: str) -> None:
    rendered = helm(helm_name, "template", "release-x", chart, *values_args(chart, env), *namespace_opt_in(chart)).stdout
    built = helm_objects(rendered)
    expected = chart_objects(directory_objects(chart.parents[1] / "manifests" / env), namespace=True)
    assert built == expected, difference(expected, built)


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_chart_leaves_the_namespace_to_helm_unless_asked(helm_name: str) -> None:
    """By default golden/full's chart renders no Namespace (Helm refuses to install into a namespace
    a release does not own: one made by `--create-namespace` or beforehand) and lints clean; with
    `namespace.create=true` it holds the stack's Namespace, labelled as the manifests' one."""
    chart = ROOT / "golden/full/out/helm/monitoring-full"
    manifests = directory_objects(ROOT / "golden/full/out/manifests/default")
    by_default = helm(helm_name, "template", "r", chart).stdout
    assert not [obj for obj in yaml.safe_load_all(by_default) if obj and obj["kind"] == "Namespace"]
    assert helm_objects(by_default) == chart_objects(manifests, namespace=False)
    for values in ([], list(NAMESPACE_OPT_IN)):
        result = helm(helm_name, "lint", "--strict", chart, *values)
        assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout
    opted_in = helm(helm_name, "template", "r", chart, *NAMESPACE_OPT_IN).stdout
    assert [obj["metadata"]["name"] for obj in yaml.safe_load_all(opted_in) if obj["kind"] == "Namespace"] == ["monitoring"]
    assert helm_objects(opted_in) == chart_objects(manifests, namespace=True)


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_release_labels_name_the_release_and_chart(helm_name: str) -> None:
    chart = ROOT / "golden/full/out/helm/monitoring-full"
    for obj in yaml.safe_load_all(helm(helm_name, "template", "rel", chart).stdout):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "rel"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "monitoring-full-1.2.3-rc.1_build.7"


@pytest.mark.parametrize("helm_name", sorted(HELMS))
@pytest.mark.parametrize(
    ("option", "complaint"),
    [
        (["--set", "prometheus.replica=2"], "replica"),  # misspelt key
        (["--set-string", "prometheus.replicas=two"], "replicas"),  # wrong type
        (["--set", "prometheus.service.type=LoadBalancer"], "type"),  # not in the enum
        (["--set", "nodeExporter.enabled=maybe"], "enabled"),
        (["--set", "pushgateway.enabled=true"], "pushgateway"),  # a section the chart does not have
        (["--set", "alertmanager.replicas=9"], "replicas"),  # above the stack schema's maximum
        (["--set", "prometheus.image=Not An Image"], "image"),  # the stack schema's pattern, RE2 dialect
        # Exposure: a misspelt key at each level, and the keys that are the stack's (compile-time).
        (["--set", "grafana.expose.hots=g.example.com"], "hots"),
        (["--set", "grafana.expose.ingress.enable=true"], "enable"),
        (["--set", "alertmanager.expose.ingress.classname=nginx"], "classname"),
        (["--set", "prometheus.expose.httpRoute.parentRef[0].name=public"], "parentRef"),
        (["--set", "prometheus.expose.httpRoute.parentRefs[0].nme=public"], "nme"),
        (["--set", "alertmanager.expose.httpRoute.form[0].podSelector.matchLabels.a=b"], "form"),
        (["--set", "grafana.service.prot=80"], "prot"),
        (["--set", "prometheus.service.port=80"], "port"),  # compiled into the stack's own clients' URL
        (["--set", "grafana.expose.host=not a host"], "host"),
        (["--set", "grafana.expose.path=/elsewhere"], "path"),
        (["--set", "grafana.expose.tls.secretName=other"], "tls"),
        # Scheduling and availability: a typo in each new key, and values the stack schema refuses.
        (["--set", "grafana.priorityClass=high"], "priorityClass"),
        (["--set", "metricsServer.affinity.nodeAfinity.x=1"], "nodeAfinity"),
        (["--set", "alertmanager.topologySpreadConstraints[0].maxSkw=1"], "maxSkw"),
        (["--set", "prometheus.podDisruptionBudget.maxUnavailble=1"], "maxUnavailble"),
        (["--set", "alertmanager.podDisruptionBudget.maxUnavailable=0"], "maxUnavailable"),
        (["--set-string", "prometheusAdapter.podDisruptionBudget.minAvailable=half"], "minAvailable"),
    ],
)
def test_values_schema_rejects_through_real_helm(helm_name: str, option: list[str], complaint: str) -> None:
    chart = ROOT / "golden/full/out/helm/monitoring-full"
    result = helm(helm_name, "template", "r", chart, *option, check=False)
    assert result.returncode != 0, f"{option} was accepted"
    assert "schema" in result.stderr.lower() and complaint in result.stderr, result.stderr


@pytest.fixture(scope="module")
def full_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """golden/full's chart as this kmc builds it (not the committed golden output)."""
    from kmc import pipeline

    work = tmp_path_factory.mktemp("full")
    compiled = pipeline.compile_stack(ROOT / "golden/full/stack.yaml", certificates="files")
    for path, content in pipeline.emit(compiled, ("helm",), None)["helm"].items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(content)
    return work / "monitoring-full"


@pytest.mark.parametrize("helm_name", sorted(HELMS))
@pytest.mark.parametrize(
    ("option", "complaint"),
    [
        # values.schema.json: the node-port range, and the bound the stack's highAvailability puts on replicas
        (["--set", "prometheus.service.nodePort=80"], "/prometheus/service/nodePort': minimum: got 80, want 30"),
        (["--set", "metricsServer.replicas=1"], "/metricsServer/replicas': minimum: got 1, want 2"),
        # templates/values-checks.yaml: what needs two values at once
        (["--set", "grafana.service.nodePort=30093"], "alertmanager.service.nodePort 30093 is Grafana's node port too"),
        (["--set", "alertmanager.service.nodePort=30090"], "alertmanager.service.nodePort 30090 is Prometheus' node port too"),
        (["--set", "grafana.service.type=ClusterIP"], "grafana.service.nodePort 30300 is set, but grafana.service.type is ClusterIP"),
    ],
)
def test_chart_refuses_what_kmc_refuses_in_a_stack(full_chart: Path, helm_name: str, option: list[str], complaint: str) -> None:
    result = helm(helm_name, "template", "r", full_chart, *option, check=False)
    assert result.returncode != 0, f"{option} was accepted"
    assert complaint in result.stderr, result.stderr


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_value_checks_pass_every_environment(full_chart: Path, helm_name: str) -> None:
    for values in [[], *(["-f", path] for path in sorted(full_chart.glob("values-*.yaml")))]:
        helm(helm_name, "template", "r", full_chart, *values)
    helm(helm_name, "template", "r", full_chart, "--set", "grafana.enabled=false,alertmanager.service.nodePort=30300")  # Grafana's port is free then


def test_values_schema_is_cut_from_the_stack_schema() -> None:
    """Every value the chart reads is described by the same fragment as in stack.yaml."""
    stack_schema = json.loads((ROOT / "schema/stack.schema.json").read_text())
    schema = json.loads((ROOT / "golden/full/out/helm/monitoring-full/values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    # namespace: the chart's own value; keda: golden/full scales nothing with KEDA (golden/keda does),
    # so its chart reads no value of that section and describes none.
    assert set(schema["properties"]) == {*PARAMETER_SECTIONS, "namespace"} - {"keda"}
    for name, definition in schema["$defs"].items():
        original = stack_schema["$defs"][name]
        assert definition.get("description") == original.get("description"), name
    image = schema["properties"]["prometheus"]["properties"]["image"]
    assert image["$ref"] == "#/$defs/image"
    assert "(?!" not in json.dumps(schema), "RE2 (Helm's regexp engine) has no lookahead"


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_values_override_reaches_the_objects(helm_name: str) -> None:
    chart = ROOT / "golden/full/out/helm/monitoring-full"
    args = ["--set", "prometheus.replicas=7", "--set", "prometheus.retention=1y", "--set", "nodeExporter.enabled=false", *NAMESPACE_OPT_IN]
    objects = list(yaml.safe_load_all(helm(helm_name, "template", "r", chart, *args).stdout))
    prometheus = next(obj for obj in objects if obj["kind"] == "StatefulSet" and obj["metadata"]["name"] == "prometheus")
    assert prometheus["spec"]["replicas"] == 7
    assert "--storage.tsdb.retention.time=1y" in prometheus["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not any(obj["kind"] == "DaemonSet" for obj in objects)
    namespace = next(obj for obj in objects if obj["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


# Strings some YAML parser reads as a boolean or a number; each is a valid label value.
TRICKY = ["y", "Y", "n", "N", "yes", "no", "on", "off", "true", "False", "null", "0o17", "0x1F", "1e3", "1_000", "012", "1.0", "0", "inf", "nan"]


def assert_helm_equals_manifests(tmp_path: Path, stack: str, helm_names: list[str], env: str = "default") -> None:
    """Build `stack` (text) and compare `helm template` of environment `env` with its manifests."""
    from kmc import pipeline

    (tmp_path / "stack.yaml").write_text(stack)
    pipeline.build(tmp_path / "stack.yaml", tmp_path / "out", ("manifests", "helm"), None)
    chart = tmp_path / "out/helm/kmc-monitoring"
    expected = chart_objects(directory_objects(tmp_path / "out/manifests" / env), namespace=True)
    for name in helm_names:
        built = helm_objects(helm(name, "template", "r", chart, *values_args(chart, env), *namespace_opt_in(chart)).stdout)
        assert built == expected, difference(expected, built)


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_strings_stay_strings_through_helm(helm_name: str, tmp_path: Path) -> None:
    selector = "\n".join(f"        k{index}: {value!r}" for index, value in enumerate(TRICKY))
    assert_helm_equals_manifests(tmp_path, f"version: 1\nenvironments:\n  odd:\n    prometheus:\n      nodeSelector:\n{selector}\n", [helm_name], "odd")


def test_literal_braces_in_compiled_text_survive_helm(tmp_path: Path) -> None:
    """A relabel replacement holding `{{` is compiled text: Helm must print it back as written."""
    stack = (
        "version: 1\nscrape:\n  extraJobs:\n    - job_name: braces\n      static_configs:\n        - targets: ['example.com:9100']\n"
        "      relabel_configs:\n        - target_label: note\n          replacement: '{{ .Release.Name }} {{- x }}'\n"
    )
    assert_helm_equals_manifests(tmp_path, stack, sorted(HELMS))


def test_user_text_that_looks_like_a_placeholder_stays_text(tmp_path: Path) -> None:
    """Regression: hypothesis found a relabel label named like the emitter's placeholder words."""
    stack = (
        "version: 1\nscrape:\n  extraJobs:\n    - job_name: lookalike\n      static_configs:\n        - targets: ['example.com:9100']\n"
        "          labels: {kmcQslot0Q000000: kmcQslot0Qlabels, kmcQslot1Q000000: x}\n"
    )
    assert_helm_equals_manifests(tmp_path, stack, ["helm-4.3"])


def test_notes_say_how_to_reach_what_was_installed() -> None:
    """NOTES.txt as `helm install` prints it (Helm 4's client-side dry run needs no cluster)."""
    chart = ROOT / "golden/full/out/helm/monitoring-full"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    notes = helm("helm-4.3", "install", "rel", chart, "--dry-run=client").stdout.split("NOTES:\n", 1)[1]
    assert "monitoring-full 1.2.3-rc.1+build.7 is installed as release rel." in notes
    assert "kubectl -n monitoring rollout status statefulset/prometheus" in notes
    assert "install it with\n`-n monitoring --create-namespace`, or into monitoring made beforehand" in notes
    assert "kubectl label namespace monitoring --overwrite pod-security.kubernetes.io/audit=restricted pod-security.kubernetes.io/enforce=privileged\n" in notes
    opted_in = helm("helm-4.3", "install", "rel", chart, "--dry-run=client", *NAMESPACE_OPT_IN).stdout.split("NOTES:\n", 1)[1]
    assert "kubectl label" not in opted_in and "--create-namespace" not in opted_in
    assert "kubectl -n monitoring rollout status deployment/kube-state-metrics" in notes
    assert f"http://<any node's address>:{values['prometheus']['service']['nodePort']}" in notes
    dev = helm("helm-4.3", "install", "rel", chart, "--dry-run=client", "-f", chart / "values-dev.yaml").stdout.split("NOTES:\n", 1)[1]
    assert "deployment/kube-state-metrics" not in dev  # switched off in dev
    assert "{{" not in notes + dev


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_ingest_switch_chooses_each_jobs_section_as_kmc_does(full_chart: Path, helm_name: str, tmp_path: Path) -> None:
    """`prometheus.ingest` (a stack-wide mode and per-job entries over it) picks each owned job's
    section of prometheus.yml: real Helm renders the same config as kmc resolves for those values."""
    from kmc import pipeline
    from kmc.ir import resolve
    from kmc.model import merge_values

    compiled = pipeline.compile_stack(ROOT / "golden/full/stack.yaml", certificates="files")
    (config,) = [obj.body["data"]["prometheus.yml"] for obj in compiled.graph.objects if obj.kind == "ConfigMap" and obj.name == "prometheus"]
    kept: dict[str, list[str]] = {}
    for name, ingest in {
        "used": {"default": "used"},
        "all": {"default": "all"},
        "one job all": {"default": "used", "jobs": {"cadvisor": "all"}},
        "one job used": {"default": "all", "jobs": {"kube-state-metrics": "used"}},
        "annotated pods opted in": {"default": "used", "jobs": {"kubernetes-pods": "used"}},
    }.items():
        override = {"prometheus": {"ingest": ingest}}
        expected = yaml.safe_load(resolve(config, merge_values(compiled.stack.values(None), override)))
        (tmp_path / "values.yaml").write_text(json.dumps(override))
        rendered = yaml.safe_load_all(helm(helm_name, "template", "r", full_chart, "-f", tmp_path / "values.yaml").stdout)
        (found,) = [obj for obj in rendered if obj and obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "prometheus"]
        assert yaml.safe_load(found["data"]["prometheus.yml"]) == expected, name
        kept[name] = sorted(job["job_name"] for job in expected["scrape_configs"] if "metric_relabel_configs" in job)
    # The switch bites: each mode keeps a different set of jobs' steps (a monitor's own steps stay in every mode).
    assert "cadvisor" in kept["used"] and "cadvisor" not in kept["one job all"]
    assert set(kept["all"]) < set(kept["one job used"]) < set(kept["used"])
    assert "kube-state-metrics" in kept["one job used"]
    # An annotation job keeps everything unless named (golden/full's prod names it).
    assert "kubernetes-pods" not in kept["used"] and set(kept["annotated pods opted in"]) == {*kept["used"], "kubernetes-pods"}
