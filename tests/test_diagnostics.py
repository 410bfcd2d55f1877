"""What `kmc validate` says about a bad stack: where (the offending key's own line:col), what, and
a hint a person can act on; every phase's problems in one run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kmc import pipeline
from kmc.errors import Diagnostic, StackInvalid
from kmc.ir import holds

HEAD = 'version: 1\ncluster: {name: demo, kubernetesVersion: "1.33"}\n'


def problems(tmp_path: Path, body: str) -> list[Diagnostic]:
    """Every diagnostic `kmc validate` reports for HEAD + `body` (none for a valid stack)."""
    stack = tmp_path / "stack.yaml"
    stack.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    try:
        pipeline.compile_stack(stack, display="stack.yaml", certificates="files")
    except StackInvalid as err:
        return list(err.diagnostics)
    return []


def at(found: list[Diagnostic], path: str) -> Diagnostic:
    matching = [d for d in found if d.path == path]
    assert len(matching) == 1, [(d.path, d.message) for d in found]
    return matching[0]


BAD_KEYS = [
    pytest.param(
        """\
        environments:
          dev: {}
          Prod_1: {}
        """,
        "$.environments.Prod_1",
        (5, 3),
        "did you mean 'prod-1'? A DNS-1123 label",
        id="environment-name",
    ),
    pytest.param(
        """\
        prometheus:
          nodeSelector:
            kubernetes.io/os: linux
            "disk type": ssd
        """,
        "$.prometheus.nodeSelector['disk type']",
        (6, 5),
        "did you mean 'disk-type'? A Kubernetes label key",
        id="node-selector-key",
    ),
]


@pytest.mark.parametrize(("body", "path", "position", "hint"), BAD_KEYS)
def test_a_bad_key_is_reported_at_itself_with_a_human_hint(tmp_path: Path, body: str, path: str, position: tuple[int, int], hint: str) -> None:
    found = at(problems(tmp_path, body), path)
    assert (found.line, found.column) == position
    assert found.hint.startswith(hint), found.hint
    assert "for example" in found.hint
    assert "(?!" not in found.hint and "^" not in found.hint  # never a raw regular expression


STACK_WIDE = [
    pytest.param("environments:\n  dev:\n    namespace: other\n", "$.environments.dev.namespace", "namespace", id="namespace"),
    pytest.param(
        "environments:\n  dev:\n    prometheus:\n      scrapeInterval: 10s\n",
        "$.environments.dev.prometheus.scrapeInterval",
        "prometheus.scrapeInterval",
        id="scrape-interval",
    ),
]


@pytest.mark.parametrize(("body", "path", "key"), STACK_WIDE)
def test_a_compile_time_key_in_an_environment_says_it_cannot_vary(tmp_path: Path, body: str, path: str, key: str) -> None:
    found = at(problems(tmp_path, body), path)
    assert found.message == f"`{key}` cannot vary per environment"
    assert f"set it once at `{key}` in the stack's top level" in found.hint


def test_an_environment_cannot_remove_a_key(tmp_path: Path) -> None:
    body = "prometheus:\n  storage: {size: 10Gi}\nenvironments:\n  dev:\n    prometheus:\n      storage: null\n"
    found = at(problems(tmp_path, body), "$.environments.dev.prometheus.storage")
    assert found.message == "an environment cannot remove `prometheus.storage`"
    assert "set or remove it in the stack's top level" in found.hint


def test_an_unknown_key_in_an_environment_is_still_unknown(tmp_path: Path) -> None:
    found = at(problems(tmp_path, "environments:\n  dev:\n    prometheus:\n      retension: 2d\n"), "$.environments.dev.prometheus.retension")
    assert (found.message, found.hint) == ("unknown key 'retension'", "did you mean 'retention'?")


BOTH_PHASES = """\
prometheus:
  replicas: two
scrape:
  pods: yes please
rules:
  overrides:
    NoSuchAlert: {severity: critical}
alertmanager:
  enabled: true
  route: {receiver: nobody}
  receivers:
    - name: team
      webhookConfigs:
        - url: {secretName: am, key: url}
environments:
  default:
    prometheus: {retention: 2d}
"""


def test_schema_and_semantic_problems_come_in_one_run(tmp_path: Path) -> None:
    found = {(d.path, d.message) for d in problems(tmp_path, BOTH_PHASES)}
    assert found == {
        ("$.prometheus.replicas", "expected an integer, got a string ('two')"),
        ("$.scrape.pods", "expected a boolean (true or false), got a string ('yes please')"),
        ("$.rules.overrides.NoSuchAlert", "no alert 'NoSuchAlert' in kmc's rule packs"),
        ("$.alertmanager.route.receiver", "no receiver named 'nobody'"),
        ("$.environments.default", "the environment name 'default' is reserved"),
    }


def test_a_check_whose_input_the_schema_refused_is_skipped(tmp_path: Path) -> None:
    """Cutting the refused `type` would leave ClusterIP (the default) beside a node port: the check
    that would then complain reads a value the user did not write, so it says nothing."""
    body = "prometheus:\n  service: {type: NodPort, nodePort: 30090}\nrules:\n  disabled: [NoSuchAlert]\n"
    found = {(d.path, d.message) for d in problems(tmp_path, body)}
    assert found == {
        ("$.prometheus.service.type", "'NodPort' is not one of the allowed values"),
        ("$.rules.disabled[0]", "no alert 'NoSuchAlert' in kmc's rule packs"),
    }


def test_a_checks_input_in_another_section_is_respected(tmp_path: Path) -> None:
    """An HPA's metric is checked against what the adapter exposes: with an adapter metric refused
    (its whole list cut), no HPA metric is claimed missing; the unrelated rules check still runs."""
    body = """\
    prometheusAdapter:
      enabled: true
      customMetrics:
        - {name: http_requests_per_second, series: http_requests_total, bogus: 1}
    autoscaling:
      - name: web
        namespace: shop
        target: {kind: Deployment, name: web}
        maxReplicas: 10
        metrics:
          - {pods: http_requests_per_second, averageValue: "10"}
    rules:
      disabled: [NoSuchAlert]
    """
    found = {(d.path, d.message) for d in problems(tmp_path, body)}
    assert found == {
        ("$.prometheusAdapter.customMetrics[0].bogus", "unknown key 'bogus'"),
        ("$.rules.disabled[0]", "no alert 'NoSuchAlert' in kmc's rule packs"),
    }


@pytest.mark.parametrize("where", ["prometheus", "grafana", "alertmanager"])
def test_a_node_port_outside_the_range_is_a_schema_error(tmp_path: Path, where: str) -> None:
    enabled = "" if where == "prometheus" else "  enabled: true\n"
    found = at(problems(tmp_path, f"{where}:\n{enabled}  service: {{type: NodePort, nodePort: 80}}\n"), f"$.{where}.service.nodePort")
    assert found.message == "80 is out of range: must be at least 30000"
    assert "30000-32767" in found.hint


GRAFANA_CUSTOM = Path(__file__).resolve().parents[1] / "golden" / "grafana-custom"


@pytest.mark.parametrize("title", ["Apps (prod)", "Équipe / Paiements", "a" * 189])
def test_a_grafana_folder_may_have_any_title_grafana_accepts(tmp_path: Path, title: str) -> None:
    """Grafana refuses only an empty folder title (and stores at most 189 characters)."""
    import shutil

    import yaml

    shutil.copytree(GRAFANA_CUSTOM, tmp_path / "stack", ignore=shutil.ignore_patterns("out"))
    stack = tmp_path / "stack" / "stack.yaml"
    stack.write_text(stack.read_text(encoding="utf-8").replace("folder: Apps\n", f"folder: {json_string(title)}\n", 1), encoding="utf-8")
    compiled = pipeline.compile_stack(stack, certificates="files")
    files = pipeline.emit(compiled, ("manifests",), "default")["manifests/default"]
    config = yaml.safe_load(files["04-configmap-grafana.yaml"])
    providers = yaml.safe_load(config["data"]["dashboards.yaml"])["providers"]
    assert title in [provider.get("folder") for provider in providers]


def json_string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


@pytest.mark.parametrize("title", [" Apps", "Apps "])
def test_a_grafana_folder_title_grafana_would_refuse_says_what_is_allowed(tmp_path: Path, title: str) -> None:
    body = f'grafana:\n  enabled: true\n  dashboards:\n    files:\n      - {{file: app.json, folder: "{title}"}}\n'
    found = at(problems(tmp_path, body), "$.grafana.dashboards.files[0].folder")
    assert "A Grafana folder title, as Grafana accepts one: any text of 1 to 189 characters" in found.hint


def test_a_grafana_folder_title_longer_than_grafana_stores_is_refused(tmp_path: Path) -> None:
    body = f'grafana:\n  enabled: true\n  dashboards:\n    files:\n      - {{file: app.json, folder: "{"a" * 190}"}}\n'
    found = at(problems(tmp_path, body), "$.grafana.dashboards.files[0].folder")
    assert found.message == "must be at most 189 characters long (is 190)"


def test_a_stack_in_kube_system_names_its_files_once(tmp_path: Path) -> None:
    """Role and RoleBinding files name their namespace; a name that already starts with it (the
    stack's own prefix in kube-system) is not prefixed twice, and every object keeps a file of its own."""
    stack = tmp_path / "stack.yaml"
    stack.write_text(
        HEAD
        + "namespace: kube-system\nmetricsServer: {enabled: true}\nprometheusAdapter:\n  enabled: true\n"
        + "  customMetrics:\n    - {name: http_requests_per_second, series: http_requests_total}\n",
        encoding="utf-8",
    )
    compiled = pipeline.compile_stack(stack, certificates="files")
    files = [name for name in pipeline.emit(compiled, ("manifests",), "default")["manifests/default"] if name.endswith(".yaml")]
    assert not [name for name in files if "kube-system-kube-system" in name]
    assert "09-rolebinding-kube-system-metrics-server-auth-reader.yaml" in files
    # Every object of the default environment (some exist only where a switch or a count says so).
    here = [obj for obj in compiled.graph.objects if all(holds(compiled.stack.values(None), condition) for condition in obj.conditions)]
    assert len(files) == len(here)
