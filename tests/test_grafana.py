"""Grafana: the dashboards library (PromQL that parses, with promql-parser and both promtools, over
metrics the stack scrapes), dashboard JSON against a schema of Grafana's documented model, the
provisioning files, the compile-time dashboard checks, and a pod that rolls when what Grafana reads
only at start changes, and not when a dashboard does."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from stack_strategies import grafana_folders
from tools import PROMTOOLS, ROOT, tool

from kmc import pipeline
from kmc.components import dashboard_needs, dashboards
from kmc.components import grafana_folders as grafana_folders_module
from kmc.errors import StackInvalid
from kmc.resources import data_dir

LIBRARY = sorted((data_dir("library") / "dashboards").glob("*.json"))
SCHEMA = json.loads((ROOT / "tests/grafana_dashboard.schema.json").read_text())
# Every dashboard ConfigMap kmc emitted in a golden case (library and user dashboards).
DASHBOARD_MAPS = sorted(ROOT.glob("golden/*/out/manifests/default/04-configmap-grafana-dashboard-*.yaml"))
# Metric name prefixes of what the stack scrapes: node-exporter, cAdvisor, kube-state-metrics,
# the apiserver (and its aggregator), the kubelet, etcd, CoreDNS, Alertmanager, Thanos, Prometheus
# itself, and the series every scrape makes; or a series the rule library records.
SCRAPED = re.compile(
    r"^(node_|container_|kube_|kubelet_|apiserver_|aggregator_|etcd_|coredns_|alertmanager_|thanos_|http_requests_total$|prometheus_|process_|up$|scrape_)"
)
RECORDED = set(dashboard_needs.recorders())
# Grafana's own variables, replaced by values PromQL accepts before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def _dashboard(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text())
    return board


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def library_expressions() -> list[tuple[str, str]]:
    """(dashboard/panel, PromQL) of every target of the library, Grafana variables replaced."""
    found = []
    for path in LIBRARY:
        for panel in _panels(_dashboard(path)["panels"]):
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                found.append((f"{path.stem}/{panel['title']}", re.sub(r"\$\{?\w+\}?", "placeholder", expr)))
    return found


EXPRESSIONS = library_expressions()


def test_library_has_a_dashboard_per_component() -> None:
    assert [path.stem for path in LIBRARY] == [
        "alertmanager",
        "apiserver",
        "cluster",
        "coredns",
        "etcd",
        "kubelet",
        "metrics-apis",
        "namespaces",
        "network",
        "nodes",
        "persistent-volumes",
        "pods",
        "prometheus",
        "thanos",
        "workloads",
    ]
    assert len(EXPRESSIONS) >= 100


def test_library_dashboards_are_kept_as_a_build_writes_them() -> None:
    """A build vendors a library file's text as it is; it must be what json.dumps(indent=2) makes of it."""
    for path in sorted((data_dir("library") / "dashboards").glob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", path.name


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[where for where, _ in EXPRESSIONS])
def test_library_promql_parses_over_scraped_metrics(where: str, expr: str) -> None:
    names: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.append(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    assert names, f"{where}: no metric"
    assert all(SCRAPED.match(name) or name in RECORDED for name in names), f"{where}: {names} are not metrics the stack scrapes or records"


@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_promtool_accepts_library_promql(version: str, tmp_path: Path) -> None:
    """Each expression as a recording rule: promtool checks rules with the real PromQL parser."""
    rules = [{"record": f"kmc:library:{index}", "expr": expr} for index, (_, expr) in enumerate(EXPRESSIONS)]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "library", "rules": rules}]}))
    result = subprocess.run([tool(PROMTOOLS[version]), "check", "rules", tmp_path / "rules.yml"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_is_valid() -> None:
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda path: path.stem)
def test_library_dashboards_meet_the_dashboard_schema(path: Path) -> None:
    board = _dashboard(path)
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in Draft202012Validator(SCHEMA).iter_errors(board)]
    assert not errors
    assert board["uid"] == f"kmc-{path.stem}" and "kmc" in board["tags"]
    assert [panel["id"] for panel in board["panels"]] == list(range(1, len(board["panels"]) + 1))


def test_every_golden_dashboard_config_map_holds_a_valid_dashboard() -> None:
    assert len(DASHBOARD_MAPS) >= 9
    for path in DASHBOARD_MAPS:
        config_map = yaml.safe_load(path.read_text())
        # A library dashboard with panels of a switchable component also holds its text without them.
        key, *reduced = config_map["data"]
        assert config_map["metadata"]["name"] == "grafana-dashboard-" + key.removesuffix(".json")
        assert reduced in ([], [key.removesuffix(".json") + ".without-kube-state-metrics.json"])
        for text in config_map["data"].values():
            board = json.loads(text)
            assert not list(Draft202012Validator(SCHEMA).iter_errors(board)), path
            assert board.get("id") is None  # provisioning goes by uid


def _objects(env: Path) -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(env.glob("*.yaml"))}


def test_custom_case_provisions_datasources_with_secrets_from_env() -> None:
    objects = _objects(ROOT / "golden/grafana-custom/out/manifests/default")
    config = objects["04-configmap-grafana.yaml"]["data"]
    sources = yaml.safe_load(config["datasources.yaml"])
    assert sources["apiVersion"] == 1
    assert [(s["uid"], s["isDefault"]) for s in sources["datasources"]] == [
        ("kmc-prometheus", True),
        ("influx-longterm", False),
        ("loki", False),
        ("thanos", False),
    ]
    assert sources["datasources"][0]["url"] == "http://prometheus.observability.svc.cluster.local:9090"
    # A `$` the stack wrote stays literal: provisioning files expand $VAR.
    assert sources["datasources"][3]["jsonData"]["customQueryParameters"] == "dedup=true&partial_response=$$partial"
    pod = objects["12-deployment-grafana.yaml"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # Credentials only as files of mounted Secrets: no variable holds a value from a Secret.
    assert all("valueFrom" not in var for var in container["env"])
    env = {var["name"]: var["value"] for var in container["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana-secrets/ops-grafana/password"
    (secrets,) = [volume["projected"] for volume in pod["volumes"] if volume["name"] == "secrets"]
    mounted = {
        f"/etc/grafana-secrets/{item['path']}": (source["secret"]["name"], item["key"]) for source in secrets["sources"] for item in source["secret"]["items"]
    }
    assert mounted["/etc/grafana-secrets/influxdb-grafana/token"] == ("influxdb-grafana", "token")
    assert mounted["/etc/grafana-secrets/thanos-grafana/password"] == ("thanos-grafana", "password")
    assert set(env.values()) <= set(mounted)
    for source in sources["datasources"]:
        for value in source.get("secureJsonData", {}).values():
            assert re.fullmatch(r"\$__file\{(.+)\}", value) and value[8:-1] in mounted
    ini = config["grafana.ini"]
    assert "[auth.anonymous]\nenabled = true\norg_role = Viewer\n" in ini
    assert "root_url = https://grafana.example.com/" in ini


def test_custom_case_gives_each_folder_a_volume_and_a_provider() -> None:
    """One provider per folder (`folder:` set), reading a directory that is a volume of its own, the
    dashboards its top-level files (test_grafana_walk shows Grafana finds them there)."""
    objects = _objects(ROOT / "golden/grafana-custom/out/manifests/default")
    providers = yaml.safe_load(objects["04-configmap-grafana.yaml"]["data"]["dashboards.yaml"])["providers"]
    assert [(provider["name"], provider.get("folder"), provider["options"]) for provider in providers] == [
        ("kmc-general", None, {"path": "/etc/grafana-dashboards/general"}),
        ("kmc-apps-89dd7484", "Apps", {"path": "/etc/grafana-dashboards/apps-89dd7484"}),
        ("kmc-platform-c78ffe19", "Platform", {"path": "/etc/grafana-dashboards/platform-c78ffe19"}),
        ("kmc-team-logs-3f3db2d3", "Team logs", {"path": "/etc/grafana-dashboards/team-logs-3f3db2d3"}),
    ]
    assert all(p["updateIntervalSeconds"] == 30 and p["disableDeletion"] and not p["allowUiUpdates"] for p in providers)
    pod = objects["12-deployment-grafana.yaml"]["spec"]["template"]["spec"]
    files = {
        volume["name"]: [item["path"] for source in volume["projected"]["sources"] for item in source["configMap"]["items"]]
        for volume in pod["volumes"]
        if volume["name"].startswith("dashboards-")
    }
    assert files == {
        "dashboards-general": ["home.json"],
        "dashboards-apps-89dd7484": ["app.json"],
        "dashboards-platform-c78ffe19": ["kmc-cluster.json", "kmc-workloads.json"],
        "dashboards-team-logs-3f3db2d3": ["logs.json"],
    }
    mounts = {mount["name"]: mount["mountPath"] for mount in pod["containers"][0]["volumeMounts"]}
    assert {name: mounts[name] for name in files} == {name: "/etc/grafana-dashboards/" + name.removeprefix("dashboards-") for name in files}
    app = json.loads(objects["04-configmap-grafana-dashboard-app.yaml"]["data"]["app.json"])
    assert {ref for ref in re.findall(r'"uid": "([^"]+)"', json.dumps(app["panels"]))} == {"kmc-prometheus", "influx-longterm"}
    assert app["id"] is None and app["uid"] == "checkout"
    logs = json.loads(objects["04-configmap-grafana-dashboard-logs.yaml"]["data"]["logs.json"])
    assert logs["uid"] == "kmc-logs"  # none in the file: a stable one, not Grafana's random pick


@settings(max_examples=200, deadline=None)
@given(titles=st.lists(grafana_folders, unique=True, max_size=12))
def test_folder_keys_are_distinct_volume_names(titles: list[str]) -> None:
    """Folder titles hold what a volume name may not (capitals, spaces, `_.`): each gets its own
    DNS-label volume name, none the General folder's, whatever the other titles are."""
    keys = grafana_folders_module.folder_keys(titles)
    assert sorted(keys) == sorted(titles) and len(set(keys.values())) == len(titles)
    for title, key in keys.items():
        assert re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", f"dashboards-{key}"), key
        assert key != grafana_folders_module.GENERAL
        assert grafana_folders_module.folder_keys([title]) == {title: key}  # independent of the others


DASHBOARD = {"title": "Mine", "panels": [{"id": 1, "type": "timeseries", "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0}}]}


def _stack(tmp_path: Path, board: Any, extra: str = "") -> Path:
    (tmp_path / "mine.json").write_text(board if isinstance(board, str) else json.dumps(board))
    stack = tmp_path / "stack.yaml"
    stack.write_text(f"version: 1\ngrafana:\n  enabled: true\n  dashboards:\n    library: []\n    files: [{{file: mine.json}}]\n{extra}")
    return stack


def _pod_template(stack: Path) -> dict[str, Any]:
    graph = pipeline.compile_stack(stack).graph
    (deployment,) = [obj for obj in graph.objects if obj.kind == "Deployment" and obj.name == "grafana"]
    template: dict[str, Any] = deployment.body["spec"]["template"]
    return template


def test_a_dashboard_edit_does_not_restart_grafana(tmp_path: Path) -> None:
    """The pod template stays as it was: the kubelet updates the dashboard's volume and Grafana's
    provider reads it again (test_grafana_walk); only the dashboard's ConfigMap changes."""
    before = _pod_template(_stack(tmp_path, DASHBOARD))
    edited = _stack(tmp_path, {**DASHBOARD, "title": "Mine, renamed"})
    assert _pod_template(edited) == before
    (config_map,) = [obj for obj in pipeline.compile_stack(edited).graph.objects if obj.name == "grafana-dashboard-mine"]
    assert "Mine, renamed" in config_map.body["data"]["mine.json"]


@pytest.mark.parametrize(
    ("written", "changed"),
    [
        pytest.param("  dashboards:\n", "  ini: {users: {default_theme: light}}\n  dashboards:\n", id="grafana.ini"),
        pytest.param(
            "  dashboards:\n", "  datasources: [{name: Loki, uid: loki, type: loki, url: 'http://loki.logging.svc'}]\n  dashboards:\n", id="datasources"
        ),
        pytest.param("{file: mine.json}", "{file: mine.json, folder: Mine}", id="dashboard-providers"),
    ],
)
def test_pods_roll_when_what_grafana_reads_at_start_changes(tmp_path: Path, written: str, changed: str) -> None:
    """grafana.ini and the provisioning files are read once, at start: a change rolls the pods."""
    stack = _stack(tmp_path, DASHBOARD)
    before = _pod_template(stack)["metadata"]["annotations"]["checksum/config"]
    stack.write_text(stack.read_text().replace(written, changed))
    assert _pod_template(stack)["metadata"]["annotations"]["checksum/config"] != before


def _problems(stack: Path) -> list[str]:
    with pytest.raises(StackInvalid) as raised:
        pipeline.compile_stack(stack, "stack.yaml")
    return [f"{d.line}:{d.column}: {d.path}: {d.message} | {d.hint}" for d in raised.value.diagnostics]


def test_a_dashboard_over_the_apply_annotation_limit_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    big = {**DASHBOARD, "description": "x" * 262_000}
    assert _problems(_stack(tmp_path, big)) == [
        "6:20: $.grafana.dashboards.files[0].file: dashboard ConfigMap grafana-dashboard-mine would be 262547 bytes, over the 262144 bytes "
        "`kubectl apply` can record in its last-applied annotation | split the dashboard into smaller ones (e.g. a row per dashboard), or trim it; "
        "only server-side apply (`kubectl apply --server-side`) takes ConfigMaps up to 1 MiB"
    ]
    _stack(tmp_path, {**DASHBOARD, "description": "x" * 261_000})
    pipeline.compile_stack(tmp_path / "stack.yaml")  # just under: fine


@pytest.mark.parametrize(
    ("board", "extra", "expected"),
    [
        pytest.param(
            {**DASHBOARD, "panels": [{**DASHBOARD["panels"][0], "datasource": {"uid": "nope"}}]},  # type: ignore[dict-item]
            "",
            "mine.json refers to datasource uid 'nope', which is not provisioned",
            id="dangling-uid",
        ),
        pytest.param(
            {**DASHBOARD, "panels": [{**DASHBOARD["panels"][0], "datasource": "Old name"}]},  # type: ignore[dict-item]
            "",
            "mine.json refers to datasource uid 'Old name', which is not provisioned",
            id="legacy-name",
        ),
        pytest.param({**DASHBOARD, "uid": "kmc-nodes"}, "    library: [nodes]\n", "dashboard uid 'kmc-nodes' is used twice", id="duplicate-uid"),
        pytest.param([1, 2], "", "mine.json is not a Grafana dashboard: expected a JSON object with a `title` and `panels`", id="not-an-object"),
        pytest.param("\xff", "", "mine.json is not JSON: Expecting value (line 1, column 1)", id="not-json"),
    ],
)
def test_dashboard_problems(tmp_path: Path, board: Any, extra: str, expected: str) -> None:
    stack = _stack(tmp_path, board)
    if extra:
        stack.write_text(stack.read_text().replace("    library: []\n", extra))
    assert [problem.split(": ", 2)[2].split(" | ")[0] for problem in _problems(stack)] == [expected]


def test_datasource_variables_and_built_ins_are_accepted(tmp_path: Path) -> None:
    panel = DASHBOARD["panels"][0]  # type: ignore[index]
    board = {
        **DASHBOARD,
        "templating": {"list": [{"name": "ds", "type": "datasource", "query": "prometheus"}]},
        "panels": [{**panel, "datasource": {"uid": "${ds}"}}, {**panel, "datasource": {"uid": "-- Grafana --"}}, {**panel, "datasource": "Prometheus"}],
    }
    pipeline.compile_stack(_stack(tmp_path, board))


def test_input_files_are_the_dashboard_files_a_build_reads() -> None:
    case = ROOT / "golden/grafana-custom"
    stack = pipeline.compile_stack(case / "stack.yaml").stack
    assert dashboards.input_files(stack, case) == (case / "dashboards/app.json", case / "dashboards/team/logs.json", case / "dashboards/home.json")
    assert dashboards.input_files(pipeline.compile_stack(ROOT / "golden/minimal/stack.yaml").stack, ROOT) == ()
