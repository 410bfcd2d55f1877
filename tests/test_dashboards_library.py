"""kmc's dashboards library as scripts/dashboards.py writes it, and no empty panel in any stack.

The library's queries say what each panel needs (kmc.components.dashboard_needs): every selector
names its `job` or reads a series the rule library records. A build keeps a panel only where its
series exist. Checked here on the output itself, independently of that code: in every
environment of every golden stack, each dashboard file Grafana's pod gets reads only jobs that
environment's prometheus.yml scrapes and series its rule files record.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from tools import ROOT

from kmc import pipeline
from kmc.check import selects
from kmc.components import dashboard_needs, rule_packs
from kmc.resources import data_dir

LIBRARY = sorted((data_dir("library") / "dashboards").glob("*.json"))
STACKS = [*sorted(ROOT.glob("golden/*/stack.yaml")), ROOT / "stack.yaml"]
VARIABLE = re.compile(r"\$\{?(\w+)\}?")


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("dashboards_script", ROOT / "scripts/dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _boards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in LIBRARY}


def _panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def substituted(expr: str) -> str:
    """`expr` as PromQL: Grafana's variables replaced as a dashboard showing everything sends it."""
    values = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h", "cluster": ".*"}
    return VARIABLE.sub(lambda match: values.get(match.group(1), ".+"), expr)


def selectors(expr: str) -> Iterator[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(substituted(expr)), visit)
    yield from found


def _matchers(selector: promql_parser.VectorSelector) -> dict[str, tuple[str, str]]:
    return {matcher.name: (str(matcher.op), matcher.value) for matcher in selector.matchers.matchers}


def test_the_library_is_what_the_script_writes() -> None:
    written = _script().files()
    on_disk = {f"library/dashboards/{path.name}": path.read_text(encoding="utf-8") for path in LIBRARY}
    assert on_disk == written, "run: python scripts/dashboards.py"


def test_every_selector_names_its_job_or_reads_a_recorded_series() -> None:
    recorded = dashboard_needs.recorders()
    for name, board in _boards().items():
        for panel in _panels(board):
            for expr in dashboard_needs.expressions(panel):
                for selector in selectors(expr):
                    where = f"{name}/{panel['title']}: {selector}"
                    matchers = _matchers(selector)
                    assert "cluster" in matchers, f"{where}: no cluster matcher"
                    if ":" in (selector.name or ""):
                        assert selector.name in recorded, f"{where}: no rule of the library records it"
                    elif selector.name not in ("up", "scrape_duration_seconds") or "job" in matchers:  # made by every scrape
                        assert matchers.get("job", ("", ""))[0] == "MatchOp.Equal", f'{where}: no job="..." matcher'
                        assert matchers["job"][1] in dashboard_needs.JOB_NEEDS, f"{where}: job {matchers['job'][1]} is not in JOB_NEEDS"


def test_every_panel_has_a_unit_a_description_and_the_cluster_variable() -> None:
    for name, board in _boards().items():
        assert board["templating"]["list"][0]["name"] == "cluster", name
        assert board["templating"]["list"][0]["allValue"] == ".*", name  # series without the label match too
        for panel in _panels(board):
            assert panel["fieldConfig"]["defaults"]["unit"], f"{name}/{panel['title']}"
            assert len(panel["description"]) > 10, f"{name}/{panel['title']}"
            assert panel["targets"], f"{name}/{panel['title']}"


def test_at_least_half_the_dashboards_read_recording_rules() -> None:
    reading = [name for name, board in _boards().items() if any(dashboard_needs.panel_needs(panel)[1] for panel in _panels(board))]
    assert len(reading) * 2 >= len(LIBRARY), reading
    assert len(reading) >= 7


def test_no_dashboard_reads_two_components_an_environment_may_switch_off() -> None:
    """A dashboard has at most one switch, so it needs at most one reduced text (as a rule group
    needs at most one such component)."""
    for name, board in _boards().items():
        switched = set()
        for panel in _panels(board):
            needs, groups = dashboard_needs.panel_needs(panel)
            wanted = set(needs).union(*(group.requires for pack, name_ in groups for group in rule_packs.library()[pack].groups if group.name == name_))
            switched |= wanted & set(rule_packs.SWITCHED_REQUIREMENTS)
        assert len(switched) <= 1, f"{name}: {sorted(switched)}"


def test_drill_down_links_go_to_library_dashboards_with_the_cluster() -> None:
    boards = _boards()
    targets = set()
    for name, board in boards.items():
        for panel in _panels(board):
            for link in panel["fieldConfig"]["defaults"].get("links", []):
                match = re.match(r"^/d/kmc-([a-z-]+)/", link["url"])
                assert match and match.group(1) in boards, f"{name}/{panel['title']}: {link['url']}"
                assert "${cluster:queryparam}" in link["url"] and "${__url_time_range}" in link["url"]
                for variable in re.findall(r"var-(\w+)=", link["url"]):
                    assert variable in [var["name"] for var in boards[match.group(1)]["templating"]["list"]], link["url"]
                targets.add((name, match.group(1)))
    # cluster → namespace → workload → pod
    assert {("cluster", "namespaces"), ("namespaces", "workloads"), ("workloads", "pods")} <= targets


# --- no empty panel, on the output -------------------------------------------------------------------


def _environments(stack: Path) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
    compiled = pipeline.compile_stack(stack)
    envs: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for path, content in sorted(pipeline.emit(compiled, ("manifests",), None)["manifests"].items()):
        if path.endswith(".yaml"):
            for obj in yaml.safe_load_all(content):
                envs.setdefault(path.split("/", 1)[0], {})[(obj["kind"], obj["metadata"]["name"])] = obj
    return envs


def delivered(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The library dashboards Grafana's pod gets in one environment (by file name), as its volumes pick them."""
    deployment = objects.get(("Deployment", "grafana"))
    found: dict[str, dict[str, Any]] = {}
    for volume in deployment["spec"]["template"]["spec"]["volumes"] if deployment else []:
        for source in volume.get("projected", {}).get("sources", []):
            spec = source.get("configMap")
            if spec is None or ("ConfigMap", spec["name"]) not in objects or not spec["name"].startswith("grafana-dashboard-kmc-"):
                continue
            for item in spec["items"]:
                found[item["path"]] = json.loads(objects[("ConfigMap", spec["name"])]["data"][item["key"]])
    return found


def produced(objects: dict[tuple[str, str], dict[str, Any]]) -> tuple[set[str], set[str]]:
    """The job labels of what an environment's Prometheus scrapes, and the series its rules record."""
    configs = [obj["data"]["prometheus.yml"] for (kind, name), obj in objects.items() if kind == "ConfigMap" and re.fullmatch(r"prometheus(-shard-\d+)?", name)]
    assert configs
    # The `job` labels the jobs give their series (scrape.jobNames may relabel them).
    jobs = {found.job for config in configs for job in yaml.safe_load(config)["scrape_configs"] for found in selects.produced(job) if found.job is not None}
    rules = objects.get(("ConfigMap", "prometheus-rules"), {"data": {}})["data"]
    records = {rule["record"] for text in rules.values() for group in yaml.safe_load(text)["groups"] for rule in group["rules"] if "record" in rule}
    return jobs, records


def empty_panels(objects: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """What in the library dashboards one environment's Grafana gets has no data there: a panel
    reading a job not scraped or a series not recorded, an empty row or dashboard, a dead link."""
    boards = delivered(objects)
    if not boards:
        return []
    jobs, records = produced(objects)
    uids = {board["uid"] for board in boards.values()}
    problems = []
    for file, board in boards.items():
        panels = board["panels"]
        if not _panels(board):
            problems.append(f"{file}: an empty dashboard")
        for index, panel in enumerate(panels):
            where = f"{file}/{panel['title']}"
            if panel["type"] == "row":
                if index + 1 == len(panels) or panels[index + 1]["type"] == "row":
                    problems.append(f"{where}: an empty row")
                continue
            for expr in dashboard_needs.expressions(panel):
                for selector in selectors(expr):
                    job = _matchers(selector).get("job")
                    if job is not None and job[1] not in jobs:
                        problems.append(f"{where}: job {job[1]} is not scraped")
                    if ":" in (selector.name or "") and selector.name not in records:
                        problems.append(f"{where}: {selector.name} is not recorded")
            problems += [
                f"{where}: link to a dashboard not provisioned: {link['url']}"
                for link in panel["fieldConfig"]["defaults"].get("links", [])
                if link["url"].split("/")[2] not in uids
            ]
    return problems


@pytest.mark.parametrize("stack", STACKS, ids=lambda stack: str(stack.parent.relative_to(ROOT)) or "charts-out")
def test_no_panel_selects_what_its_environment_does_not_collect(stack: Path) -> None:
    for env, objects in _environments(stack).items():
        assert empty_panels(objects) == [], env


def test_the_check_sees_a_panel_of_a_component_switched_off() -> None:
    """golden/full's dev has no kube-state-metrics: the full cluster dashboard there would show empty panels."""
    objects = _environments(ROOT / "golden/full/stack.yaml")["dev"]
    for volume in objects[("Deployment", "grafana")]["spec"]["template"]["spec"]["volumes"]:
        for source in volume.get("projected", {}).get("sources", []):
            if source.get("configMap", {}).get("name") == "grafana-dashboard-kmc-cluster":
                source["configMap"]["items"][0]["key"] = "kmc-cluster.json"
    assert "kmc-cluster.json/Nodes: job kube-state-metrics is not scraped" in empty_panels(objects)


def counts(stack: Path) -> dict[str, tuple[int, int]]:
    """(dashboards, panels) of the library each environment of `stack` provisions."""
    return {
        env: (len(boards), sum(len(_panels(board)) for board in boards.values()))
        for env, boards in ((env, delivered(objects)) for env, objects in _environments(stack).items())
    }


def test_golden_full_provisions_every_library_dashboard_and_drops_what_dev_lacks() -> None:
    """golden/full enables every component; its dev environment switches kube-state-metrics off."""
    found = counts(ROOT / "golden/full/stack.yaml")
    assert found["default"][0] == found["prod"][0] == len(LIBRARY) >= 14
    assert found["dev"][0] == len(LIBRARY) - 1  # workloads: every panel needs kube-state-metrics
    assert found["dev"][1] < found["prod"][1]


def test_a_build_leaves_out_what_the_stack_does_not_collect(tmp_path: Path) -> None:
    """Without the workloads pack its recorded series are gone, and so are the panels reading
    them; etcd, Alertmanager and Thanos are off by default, and so are their dashboards."""
    (tmp_path / "stack.yaml").write_text("version: 1\ngrafana:\n  enabled: true\nrules:\n  packs: {workloads: false}\n")
    boards = {board.name: board for board in pipeline.compile_stack(tmp_path / "stack.yaml").stack.grafana.dashboards}
    assert "kmc-etcd" not in boards and "kmc-alertmanager" not in boards and "kmc-thanos" not in boards
    assert "kmc-network" not in boards  # every panel reads the workloads pack's recorded series
    cluster = json.loads(boards["kmc-cluster"].json)["panels"]
    assert [panel["title"] for panel in cluster] == [
        "Nodes and pods",
        "Nodes",
        "Nodes not ready",
        "Pods running",
        "Scrape targets down",
        "Namespaces",  # the Capacity row went with its panels
        "Pods by phase",
        "Container restarts (1h) by namespace",
    ]
    assert all(board.switch is None for board in boards.values())  # no environment switches a component off
    assert [panel["title"] for panel in cluster if panel.get("fieldConfig", {}).get("defaults", {}).get("links")] == ["Container restarts (1h) by namespace"]
