"""Ingest `used`: the metric relabel steps that keep only what the stack's queries can select.

Unit tests on small stacks, a property over random selectors (what a selector selects is never
dropped; what none selects is dropped where the steps can tell), the guard rail
(kmc.check.ingest), and run-time truth: the real Prometheus (2.53 and 3.x) scrapes a fixture
page through the steps kmc computes and stores exactly the series the queries read, without the
temporary label; promtool accepts the steps.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from local_processes import MetricsServer, Process, free_port, get_json, http_get, wait_for
from tools import PROMTOOLS, ROOT, TOOLS, tool

from kmc.check import ingest as guard
from kmc.check.validate import validate
from kmc.components import ingest, stack_queries
from kmc.model import Stack
from kmc.read.loader import read_stack

PROMETHEUS = {"2.53": TOOLS / "prometheus-2" / "prometheus", "3.x": TOOLS / "prometheus-3" / "prometheus"}
RULES = """\
rules:
  groups:
    - name: mine
      rules:
        - record: mine:fixture_kept:rate5m
          expr: rate(fixture_kept_total{job="node-exporter"}[5m])
        - record: mine:container_cpu:sum
          expr: sum by (container) (container_cpu_usage_seconds_total{job="node-exporter", container!=""})
        - record: mine:network:rate5m
          expr: sum(rate(fixture_network_bytes_total{job="node-exporter", device!~"lo|veth.+"}[5m]))
        - record: mine:busy
          expr: sum(mine:fixture_kept:rate5m) + sum(up{job="node-exporter"})
        - record: mine:requests:rate5m
          expr: sum(rate(fixture_requests_total{job="node-exporter", verb!~"WATCH|CONNECT"}[5m]))
        - record: mine:metrics_api_requests:rate5m
          expr: sum(rate(fixture_requests_total{job="node-exporter", group="metrics.k8s.io"}[5m]))
"""


def _stack(tmp_path: Path, text: str, files: Mapping[str, Any] | None = None) -> Stack:
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(json.dumps(content), encoding="utf-8")
    path = tmp_path / "stack.yaml"
    path.write_text("version: 1\nnamespace: monitoring\n" + text, encoding="utf-8")
    stack, _ = validate(read_stack(path, "stack.yaml"), tmp_path, "files")
    return stack


def keep_steps(stack: Stack, keep: Sequence[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """By job name, the steps of each job ingest `used` keep-lists (not those that keep all)."""
    return {name: ingest.steps(found, keep) for name, found in ingest.plans(stack).items() if found.keeps_all is None}


def report(stack: Stack) -> dict[str, str]:
    """By job name, what ingest `used` keeps there, as `kmc explain` says it."""
    return {name: ingest.describe(found) for name, found in ingest.plans(stack).items()}


def _keep_regex(steps: Sequence[Mapping[str, Any]]) -> str:
    (keep,) = [step for step in steps if step["action"] == "keep"]
    return str(keep["regex"])


def test_a_job_keeps_the_names_its_selectors_read_and_no_other_job_does(tmp_path: Path) -> None:
    steps = keep_steps(_stack(tmp_path, RULES))
    assert "fixture_kept_total" in _keep_regex(steps["node-exporter"]).split("|")
    assert "fixture_kept_total" not in _keep_regex(steps["kubelet"]).split("|")


def test_recorded_and_synthetic_names_are_not_kept(tmp_path: Path) -> None:
    names = _keep_regex(keep_steps(_stack(tmp_path, RULES))["node-exporter"]).split("|")
    assert "mine:fixture_kept:rate5m" not in names
    assert "up" not in names


def test_the_annotation_jobs_and_extra_jobs_are_not_owned(tmp_path: Path) -> None:
    extra = "scrape:\n  extraJobs:\n    - job_name: mine\n      static_configs: [{targets: ['localhost:1234']}]\n"
    owned = set(keep_steps(_stack(tmp_path, extra)))
    assert not owned & {"kubernetes-pods", "kubernetes-pods-slow", "kubernetes-service-endpoints", "kubernetes-service-endpoints-slow", "mine"}
    assert {"prometheus", "kubelet", "cadvisor", "node-exporter", "kube-state-metrics"} <= owned


def test_listed_names_are_kept_on_every_owned_job_and_never_narrowed(tmp_path: Path) -> None:
    steps = keep_steps(_stack(tmp_path, RULES), keep=["container_cpu_usage_seconds_total", "my_extra"])
    for job, found in steps.items():
        assert {"container_cpu_usage_seconds_total", "my_extra"} <= set(_keep_regex(found).split("|")), job
    assert "container_cpu_usage_seconds_total" not in json.dumps(steps["node-exporter"][1:])


def test_the_series_no_selector_can_select_are_dropped_through_a_temporary_label(tmp_path: Path) -> None:
    steps = keep_steps(_stack(tmp_path, RULES))["node-exporter"]
    assert {
        "action": "replace",
        "source_labels": ["__name__", "container"],
        "regex": "container_cpu_usage_seconds_total;.+",
        "target_label": ingest.MARK,
        "replacement": "1",
    } in steps
    assert steps[-2]["action"] == "drop" and steps[-2]["source_labels"] == ["__name__", ingest.MARK]
    assert steps[-1] == {"action": "labeldrop", "regex": ingest.MARK}


def test_the_values_every_selector_of_a_name_excludes_are_dropped(tmp_path: Path) -> None:
    steps = keep_steps(_stack(tmp_path, RULES))["node-exporter"]
    (drop,) = [step for step in steps if step["action"] == "drop" and step["source_labels"] == ["__name__", "device"]]
    assert "fixture_network_bytes_total;(?:lo|veth.+)|" in drop["regex"]


def test_a_matcher_on_an_external_label_narrows_nothing(tmp_path: Path) -> None:
    """Series get `cluster` (and a shard's, a replica's label) only when they leave Prometheus: a
    dashboard through Thanos Query selects on it, the series at ingestion do not have it."""
    rules = (
        "rules:\n  groups:\n    - name: mine\n      rules:\n"
        '        - {record: "mine:x", expr: \'sum(fixture_clustered{job="node-exporter", cluster="prod-eu-1", shard!="1"})\'}\n'
    )
    stack = _stack(tmp_path, rules)
    found = ingest.plans(stack)["node-exporter"]
    assert "fixture_clustered" in found.names
    assert "fixture_clustered" not in found.refined and "fixture_clustered" not in found.excluded
    (selector,) = [selector for selector in ingest.analyse(stack).selectors if selector.name == "fixture_clustered"]
    made = guard.series(selector, ingest.job_labels(stack, "node-exporter"), ingest.external_labels(stack))
    assert made == {"__name__": "fixture_clustered", "job": "node-exporter"}


def test_kube_prometheus_names_tell_kubelet_and_cadvisor_apart_by_metrics_path(tmp_path: Path) -> None:
    rules = (
        "scrape:\n  jobNames: kube-prometheus\n"
        "rules:\n  groups:\n    - name: mine\n      rules:\n"
        '        - {record: "mine:x", expr: \'sum(fixture_cadvisor_only{job="kubelet", metrics_path="/metrics/cadvisor"})\'}\n'
    )
    steps = keep_steps(_stack(tmp_path, rules))
    assert "fixture_cadvisor_only" in _keep_regex(steps["cadvisor"]).split("|")
    assert "fixture_cadvisor_only" not in _keep_regex(steps["kubelet"]).split("|")


def test_a_selector_without_a_metric_name_keeps_the_jobs_it_may_select_whole_and_says_why(tmp_path: Path) -> None:
    rules = 'rules:\n  groups:\n    - name: mine\n      rules:\n        - {record: "mine:x", expr: \'count({job="node-exporter"})\'}\n'
    stack = _stack(tmp_path, rules)
    steps = keep_steps(stack)
    assert "node-exporter" not in steps and "kubelet" in steps
    assert report(stack)["node-exporter"] == ("keeps all series: rule 'mine:x' selects {job=\"node-exporter\"}, which does not bound the metric name")


def test_the_report_counts_families(tmp_path: Path) -> None:
    stack = _stack(tmp_path, RULES)
    families = len(_keep_regex(keep_steps(stack)["node-exporter"]).split("|"))
    found = ingest.plans(stack)["node-exporter"]
    narrowed = len({*found.refined, *found.excluded, *found.conditioned})
    assert narrowed >= 3  # container_cpu_usage_seconds_total, node_cpu_seconds_total, fixture_network_bytes_total
    assert report(stack)["node-exporter"] == f"keeps {families} metric families, {narrowed} of them narrowed to the series a query selects"


@pytest.mark.parametrize(
    ("expr", "written"),
    [
        (
            'rate(a{namespace="$namespace", pod=~"${pod:regex}"}[$__rate_interval])',
            'rate(a{namespace="kmc_grafana_variable", pod=~"kmc_grafana_variable"}[5m])',
        ),
        ("sum_over_time(a[[[interval]]]) offset $shift", "sum_over_time(a[5m]) offset 5m"),
        ("topk($n, a) / $__range_s", "topk(300, a) / 300"),
        ("a[$__range:$__interval]", "a[5m:5m]"),
    ],
)
def test_grafana_variables_are_written_so_the_query_parses(expr: str, written: str) -> None:
    assert ingest.substituted(expr) == written


def test_a_variable_in_a_matcher_narrows_nothing_and_one_in_a_name_is_a_regex() -> None:
    query = ingest.Query("dashboard 'x' panel 'y'", (), 'rate(a{namespace="$namespace", pod!=""}[5m]) + node_${kind}_total{cluster=~"$cluster"}', grafana=True)
    found = ingest.selectors(query)
    assert found is not None
    assert [(s.name, s.pattern, s.matchers) for s in found] == [("a", None, (("pod", "!=", ""),)), (None, "node_.*_total", ())]


def test_library_dashboard_variables_and_panels_are_read(tmp_path: Path) -> None:
    board = {
        "title": "Mine",
        "panels": [
            {"type": "row", "title": "r", "panels": [{"title": "inner", "targets": [{"expr": 'fixture_in_row{job="node-exporter"}'}]}]},
            {"title": "logs", "datasource": {"type": "loki", "uid": "l"}, "targets": [{"expr": '{app="x"} |= "error"'}]},
            {"title": "influx", "datasource": {"uid": "influx"}, "targets": [{"expr": "SELECT 1"}]},
            {"title": "legacy", "datasource": "Influx", "targets": [{"expr": "SELECT 1"}]},
        ],
        "templating": {"list": [{"name": "pod", "type": "query", "query": {"query": 'label_values(fixture_variable{job="node-exporter"}, pod)'}}]},
    }
    found = list(stack_queries.dashboard_queries("mine", board, ("grafana",), frozenset({"influx", "Influx"})))
    assert [(query.source, query.expr) for query in found] == [
        ("dashboard 'mine' panel 'inner'", 'fixture_in_row{job="node-exporter"}'),
        ("dashboard 'mine' variable 'pod'", 'fixture_variable{job="node-exporter"}'),
    ]


def test_a_dashboard_query_that_does_not_parse_keeps_its_jobs_whole_with_a_warning(tmp_path: Path) -> None:
    board = {"title": "Mine", "panels": [{"id": 1, "type": "timeseries", "title": "broken", "targets": [{"expr": 'rate(fixture{job="node-exporter"}[5m]'}]}]}
    stack = _stack(tmp_path, "grafana:\n  enabled: true\n  dashboards:\n    library: []\n    files: [{file: mine.json}]\n", {"mine.json": board})
    steps = keep_steps(stack)
    assert "node-exporter" not in steps and "kubelet" in steps
    assert report(stack)["node-exporter"].startswith("keeps all series: dashboard 'mine' panel 'broken' does not parse as PromQL")
    assert guard.unparsed(stack) == [
        (
            ("grafana", "dashboards", "files", 0, "file"),
            "dashboard 'mine' panel 'broken' does not parse as PromQL once its template variables are filled in: 'rate(fixture{job=\"node-exporter\"}[5m]'",
            "the jobs it may select keep all their series (prometheus.ingest: used cannot tell what it reads); fix the query",
        )
    ]


def _golden(case: str) -> Stack:
    path = ROOT / "golden" / case / "stack.yaml"
    stack, _ = validate(read_stack(path, "stack.yaml"), path.parent, "files")
    return stack


def test_adapter_and_keda_queries_are_read(full: Stack) -> None:
    sources = {query.source for query in ingest.queries(full)}
    assert any(source.startswith("adapter metric") for source in sources)
    assert any(source.startswith("adapter custom rule") for source in sources)
    triggers = [query for query in ingest.queries(_golden("keda")) if query.source.startswith("KEDA trigger")]
    assert triggers and all(ingest.selectors(query) for query in triggers)


# -- the guard rail ----------------------------------------------------------------------------


def _compiled(stack: Stack, steps: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{**job, "metric_relabel_configs": steps[job["job_name"]]} if job["job_name"] in steps else job for job in ingest.owned_jobs(stack)]


def test_the_guard_rail_accepts_the_steps_kmc_computes(tmp_path: Path) -> None:
    stack = _stack(tmp_path, RULES)
    assert guard.problems(stack, _compiled(stack, keep_steps(stack))) == []


def test_the_guard_rail_names_the_query_the_selector_and_the_job_a_step_drops(tmp_path: Path) -> None:
    stack = _stack(tmp_path, RULES)
    steps = keep_steps(stack)
    steps["node-exporter"][0] = {**steps["node-exporter"][0], "regex": _keep_regex(steps["node-exporter"]).replace("fixture_kept_total|", "")}
    assert guard.problems(stack, _compiled(stack, steps)) == [
        (
            ("rules", "groups", 0, "rules", 0, "expr"),
            "rule 'mine:fixture_kept:rate5m' selects fixture_kept_total{job=\"node-exporter\"}, whose series job 'node-exporter' drops at ingestion (its metric_relabel_configs)",
            "add fixture_kept_total to scrape.keep, or set prometheus.ingest.jobs.node-exporter: all",
        )
    ]


def test_the_guard_rail_judges_the_series_a_narrowing_step_leaves(tmp_path: Path) -> None:
    stack = _stack(tmp_path, RULES)
    steps = keep_steps(stack)
    steps["node-exporter"] = [
        {**step, "regex": "container_cpu_usage_seconds_total;none"} if step.get("source_labels") == ["__name__", "container"] else step
        for step in steps["node-exporter"]
    ]
    assert [message for _, message, _ in guard.problems(stack, _compiled(stack, steps))] == [
        'rule \'mine:container_cpu:sum\' selects container_cpu_usage_seconds_total{container!="",job="node-exporter"},'
        " whose series job 'node-exporter' drops at ingestion (its metric_relabel_configs)"
    ]


@pytest.mark.parametrize(
    ("labels", "steps", "expected"),
    [
        ({"__name__": "a"}, [{"action": "keep", "source_labels": ["__name__"], "regex": "a|b"}], {"__name__": "a"}),
        ({"__name__": "ab"}, [{"action": "keep", "source_labels": ["__name__"], "regex": "a|b"}], None),  # anchored
        ({"__name__": "a", "x": "1"}, [{"action": "drop", "source_labels": ["__name__", "x"], "regex": "a;1"}], None),
        ({"__name__": "a"}, [{"action": "drop", "source_labels": ["__name__", "x"], "regex": "a;"}], None),  # absent reads as ""
        ({"__name__": "a"}, [{"source_labels": ["__name__"], "regex": "(.)", "target_label": "t", "replacement": "${1}z"}], {"__name__": "a", "t": "az"}),
        ({"__name__": "a", "t": "1"}, [{"source_labels": ["__name__"], "regex": "a", "target_label": "t", "replacement": ""}], {"__name__": "a"}),
        ({"__name__": "a", "__tmp": "1"}, [{"action": "labeldrop", "regex": "__tmp"}], {"__name__": "a"}),
    ],
)
def test_relabel_follows_prometheus(labels: dict[str, str], steps: list[dict[str, Any]], expected: dict[str, str] | None) -> None:
    assert guard.relabel(labels, steps) == expected


# -- the property ------------------------------------------------------------------------------

NAMES = ("a_total", "b", "c:x")
PATTERNS = ("a_.*", "b|c:x")
LABELS = ("l1", "l2")
VALUES = ("", "v", "w", "vx")
REGEXES = ("v", "v|w", ".+", ".*", "v.*")
QUERY = ingest.Query("q", (), "")
JOB = {"job": "j", "metrics_path": ""}

matchers = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(LABELS), st.sampled_from(("=", "!=")), st.sampled_from(VALUES)),
        st.tuples(st.sampled_from(LABELS), st.sampled_from(("=~", "!~")), st.sampled_from(REGEXES)),
    ),
    max_size=3,
).map(lambda found: tuple(sorted(found)))
selector_strategy = st.one_of(
    st.builds(lambda name, found: ingest.Selector(QUERY, name, name, None, found), st.sampled_from(NAMES), matchers),
    st.builds(lambda pattern, found: ingest.Selector(QUERY, pattern, None, pattern, found), st.sampled_from(PATTERNS), matchers),
)
series_strategy = st.builds(
    lambda name, values: {"__name__": name, **{label: value for label, value in zip(LABELS, values, strict=True) if value}},
    st.sampled_from((*NAMES, "d")),
    st.tuples(*(st.sampled_from(VALUES) for _ in LABELS)),
)


def _selects(selector: ingest.Selector, series: Mapping[str, str]) -> bool:
    return selector.reads(series["__name__"]) and all(ingest.holds(op, value, series.get(label, "")) for label, op, value in selector.matchers)


def _constrained(selector: ingest.Selector) -> bool:
    """Whether the selector narrows its name's series by some label other than the job's."""
    return any(label not in ingest.JOB_LABELS for label, _, _ in selector.matchers)


@settings(max_examples=300, deadline=None)
@given(st.lists(selector_strategy, min_size=1, max_size=5), st.lists(series_strategy, min_size=1, max_size=8), st.lists(st.sampled_from(NAMES), max_size=1))
def test_what_a_query_selects_is_kept_and_what_none_selects_is_dropped_where_the_steps_can_tell(
    selectors: list[ingest.Selector], series: list[dict[str, str]], keep: list[str]
) -> None:
    steps = ingest.steps(ingest.plan(selectors, JOB, "j"), keep)
    for one in series:
        labels = {**one, "job": "j"}
        kept = guard.relabel(labels, steps)
        readers = [selector for selector in selectors if selector.reads(one["__name__"])]
        if any(_selects(selector, one) for selector in selectors) or one["__name__"] in keep:
            assert kept == labels, (one, steps)
        elif not readers:
            assert kept is None, (one, steps)
        elif any(selector.name == one["__name__"] for selector in readers):  # a name the steps narrow
            excluded_by_all = any(re.fullmatch(regex, one.get(label, "")) for label, regex in frozenset.intersection(*(s.negative() for s in readers)))
            if all(_constrained(selector) for selector in readers) or excluded_by_all:
                assert kept is None, (one, steps)
    for selector in selectors:
        made = guard.series(selector, JOB)
        if made is not None:
            assert guard.relabel(made, steps) is not None


@pytest.mark.parametrize(
    ("regex", "value"), [("a|b", "a"), ("^jvm_threads_(live|daemon)_threads$", "jvm_threads_live_threads"), (".+", "x"), ("v.*", "v"), ("[0-9]+", "1")]
)
def test_the_guard_rail_makes_a_value_a_regex_matches(regex: str, value: str) -> None:
    assert guard.sample(regex) == value


# -- golden/full -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full() -> Stack:
    return _golden("full")


def test_every_job_kmc_owns_in_the_full_stack_is_keep_listed(full: Stack) -> None:
    lines = report(full)
    assert [job for job, line in lines.items() if line.startswith("keeps all")] == []
    owned = {
        "kubelet",
        "cadvisor",
        "apiserver",
        "etcd",
        "kube-scheduler",
        "kube-controller-manager",
        "coredns",
        "node-exporter",
        "kube-state-metrics",
        "prometheus",
    }
    assert owned <= set(keep_steps(full))


GOLDEN = sorted(path.parent.name for path in ROOT.glob("golden/*/stack.yaml"))


@pytest.mark.parametrize("case", GOLDEN)
def test_every_golden_stack_keep_lists_every_job_it_owns_and_passes_its_own_guard_rail(case: str) -> None:
    stack = _golden(case)
    assert [line for line in report(stack).values() if line.startswith("keeps all")] == []
    assert guard.problems(stack, _compiled(stack, keep_steps(stack))) == []
    assert guard.unparsed(stack) == []


# -- run-time truth ----------------------------------------------------------------------------

FIXTURE_PAGE = """\
# TYPE fixture_kept_total counter
fixture_kept_total{a="1"} 1
# TYPE fixture_unread_total counter
fixture_unread_total 1
# TYPE fixture_listed gauge
fixture_listed 1
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",id="/kubepods/app"} 1
container_cpu_usage_seconds_total{container="",id="/kubepods"} 1
container_cpu_usage_seconds_total{id="/system.slice"} 1
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 1
node_cpu_seconds_total{cpu="0",mode="user"} 1
# TYPE fixture_network_bytes_total counter
fixture_network_bytes_total{device="eth0"} 1
fixture_network_bytes_total{device="lo"} 1
fixture_network_bytes_total{device="veth12"} 1
# TYPE fixture_requests_total counter
fixture_requests_total{group="apps",verb="GET"} 1
fixture_requests_total{group="apps",verb="WATCH"} 1
fixture_requests_total{group="metrics.k8s.io",verb="WATCH"} 1
fixture_requests_total{verb="CONNECT"} 1
"""
SCRAPED = 15  # samples on the page
INGESTED = {
    # One selector excludes WATCH and CONNECT, the other reads the metrics API group whatever the verb.
    ("fixture_requests_total", (("group", "apps"), ("verb", "GET"))),
    ("fixture_requests_total", (("group", "metrics.k8s.io"), ("verb", "WATCH"))),
    ("fixture_kept_total", (("a", "1"),)),
    ("fixture_listed", ()),
    ("container_cpu_usage_seconds_total", (("container", "app"), ("id", "/kubepods/app"))),
    ("node_cpu_seconds_total", (("cpu", "0"), ("mode", "idle"))),
    ("fixture_network_bytes_total", (("device", "eth0"),)),
}


def _series(url: str, job: str) -> list[dict[str, str]]:
    selector = "{job=" + json.dumps(job) + "}"
    found: list[dict[str, str]] = get_json(f"{url}/api/v1/series?match[]={quote(selector)}")["data"]
    return found


def _ingested(url: str, job: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """The series of `job` Prometheus stores, but those it writes itself: (name, labels but job and instance)."""
    return {
        (series["__name__"], tuple(sorted((k, v) for k, v in series.items() if k not in ("__name__", "job", "instance"))))
        for series in _series(url, job)
        if series["__name__"] not in ingest.SYNTHETIC
    }


def _config(address: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The steps on a static job, and beside it a job with every step but the `labeldrop`."""
    kept_mark = [step for step in steps if step["action"] != "labeldrop"]
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {"job_name": "node-exporter", "static_configs": [{"targets": [address]}], "metric_relabel_configs": steps},
            {"job_name": "without-labeldrop", "static_configs": [{"targets": [address]}], "metric_relabel_configs": kept_mark},
        ],
    }


@contextlib.contextmanager
def _prometheus(binary: Path, config: Mapping[str, Any], work: Path) -> Iterator[str]:
    work.mkdir()
    (work / "prometheus.yml").write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    address = f"127.0.0.1:{free_port()}"
    args = [binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address={address}"]
    process = Process(args, work / "prometheus.log")
    try:
        url = f"http://{address}"
        wait_for(f"Prometheus on {address} to be ready", lambda: process.alive() and http_get(f"{url}/-/ready")[0] == 200, 60, describe=process.tail)
        yield url
    finally:
        process.stop()


def _value(url: str, promql: str) -> str:
    (found,) = get_json(f"{url}/api/v1/query?query={quote(promql)}")["data"]["result"]
    return str(found["value"][1])


@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(PROMETHEUS))
def test_real_prometheus_stores_exactly_the_series_the_queries_read(version: str, tmp_path: Path) -> None:
    binary = tool(PROMETHEUS[version])
    steps = keep_steps(_stack(tmp_path, RULES), keep=["fixture_listed"])["node-exporter"]
    server = MetricsServer("127.0.0.1", body=FIXTURE_PAGE)
    try:
        with _prometheus(binary, _config(server.address, steps), tmp_path / "prometheus") as url:
            wait_for("the fixture page's series", lambda: bool(_ingested(url, "node-exporter")) and bool(_ingested(url, "without-labeldrop")), 30)
            assert _ingested(url, "node-exporter") == INGESTED
            assert _value(url, 'scrape_samples_scraped{job="node-exporter"}') == str(SCRAPED)
            assert _value(url, 'scrape_samples_post_metric_relabeling{job="node-exporter"}') == str(len(INGESTED))
            # Metric relabeling strips no label starting with `__`: without the labeldrop the mark is stored.
            marked = {(name, labels) for name, labels in _ingested(url, "without-labeldrop") if (ingest.MARK, "1") in labels}
            assert {name for name, _ in marked} == {"container_cpu_usage_seconds_total", "node_cpu_seconds_total", "fixture_requests_total"}
            assert not [one for one in _series(url, "node-exporter") if any(label.startswith("__tmp") for label in one)]
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_promtool_accepts_the_steps_of_the_full_stack(version: str, full: Stack, tmp_path: Path) -> None:
    jobs = [
        {"job_name": name, "static_configs": [{"targets": ["localhost:9100"]}], "metric_relabel_configs": steps}
        for name, steps in keep_steps(full, keep=["my_extra"]).items()
    ]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": jobs}, sort_keys=False), encoding="utf-8")
    result = subprocess.run([tool(PROMTOOLS[version]), "check", "config", config], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


NODE_EXPORTER = TOOLS / "node-exporter" / "prometheus-node-exporter"
_SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+")
_LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _page_series(text: str) -> list[dict[str, str]]:
    """The series of a text exposition page (node-exporter writes no escapes that matter here)."""
    found = []
    for line in text.splitlines():
        match = _SAMPLE_LINE.match(line)
        if match and not line.startswith("#"):
            found.append({"__name__": match.group(1), **{name: value for name, value in _LABEL_PAIR.findall(match.group(2) or "") if value}})
    return found


@pytest.mark.slow
def test_a_real_node_exporter_through_the_full_stacks_steps_is_stored_at_its_floor(full: Stack, tmp_path: Path) -> None:
    """Ingest `used` on golden/full's node-exporter job against the real node-exporter and Prometheus 3:
    at least 3x fewer series than the page holds, and within 1.2x of the floor (the series some
    selector of the stack selects, counted on the same page)."""
    steps = keep_steps(full)["node-exporter"]
    labels = ingest.job_labels(full, "node-exporter")
    selectors = [selector for selector in ingest.analyse(full).selectors if selector.selects_job(labels)]
    address = f"127.0.0.1:{free_port()}"
    exporter = Process([tool(NODE_EXPORTER), f"--web.listen-address={address}"], tmp_path / "node-exporter.log")
    try:
        wait_for("node-exporter", lambda: http_get(f"http://{address}/metrics")[0] == 200, 30, describe=exporter.tail)
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [{"job_name": "node-exporter", "static_configs": [{"targets": [address]}], "metric_relabel_configs": steps}],
        }
        with _prometheus(tool(PROMETHEUS["3.x"]), config, tmp_path / "prometheus") as url:
            wait_for("a scrape", lambda: bool(_ingested(url, "node-exporter")), 30)
            page = _page_series(http_get(f"http://{address}/metrics")[1].decode())
            stored = _ingested(url, "node-exporter")
    finally:
        exporter.stop()
    floor = [one for one in page if any(_selects(selector, {**one, "job": labels["job"]}) for selector in selectors)]
    assert floor, "the stack reads node-exporter's series"
    assert len(page) >= 3 * len(stored), (len(page), len(stored))
    assert len(stored) <= 1.2 * len(floor), (len(stored), len(floor))
    assert {one["__name__"] for one in floor} <= {name for name, _ in stored}


# -- the switch as a user meets it: the build's line, explain, a job that is not there --------------


def _kmc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-m", "kmc", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_job_the_stack_lacks_is_a_located_error_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(
        "version: 1\nnamespace: monitoring\nprometheus:\n  ingest: {jobs: {cadvisr: all}}\n"
        "environments:\n  dev:\n    prometheus:\n      ingest: {jobs: {kube-etcd: used}}\n",
        encoding="utf-8",
    )
    result = _kmc("validate", "stack.yaml", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "stack.yaml:4:" in result.stderr and "$.prometheus.ingest.jobs.cadvisr: the stack has no job 'cadvisr'" in result.stderr
    assert "did you mean 'cadvisor'?" in result.stderr
    assert "$.environments.dev.prometheus.ingest.jobs.kube-etcd" in result.stderr  # kmc's job is `etcd`, and this stack has none
    assert "Traceback" not in result.stderr


def test_the_build_says_what_each_job_keeps_and_explain_shows_each_environment(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(
        "version: 1\nnamespace: monitoring\nprometheus:\n  ingest: {jobs: {cadvisor: all}}\nenvironments:\n  dev:\n    prometheus:\n      ingest: {default: all}\n",
        encoding="utf-8",
    )
    build = _kmc("build", "stack.yaml", cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    (line,) = [text for text in build.stderr.splitlines() if "prometheus.ingest" in text]
    assert re.search(r"kube-state-metrics \d+, ", line) and "cadvisor" in line and "some jobs ingest all in: default, dev" in line
    explained = _kmc("explain", "prometheus.ingest", "--stack", "stack.yaml", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    rows = {row.split()[0]: row for row in explained.stdout.split("by job (environment and mode; what `used` keeps):\n", 1)[1].splitlines()}
    assert "default all, dev all" in rows["cadvisor"]
    assert "default used, dev all" in rows["node-exporter"] and "keeps" in rows["node-exporter"]
    # The manifests follow: dev keeps everything, the default environment keeps-lists all but cAdvisor.
    configs = {
        env: yaml.safe_load(yaml.safe_load((tmp_path / f"charts-out/manifests/{env}/04-configmap-prometheus.yaml").read_text())["data"]["prometheus.yml"])
        for env in ("default", "dev")
    }
    listed = {env: sorted(job["job_name"] for job in config["scrape_configs"] if "metric_relabel_configs" in job) for env, config in configs.items()}
    assert listed["dev"] == [] and "node-exporter" in listed["default"] and "cadvisor" not in listed["default"]
    wrong = _kmc("explain", "prometheus.retention", "--stack", "stack.yaml", cwd=tmp_path)
    assert wrong.returncode == 2 and "--stack goes with prometheus.ingest" in wrong.stderr


def test_a_job_no_query_reads_keeps_no_family() -> None:
    nothing = ingest.Plan("cadvisor", (), (), {})
    assert ingest.steps(nothing) == [{"action": "drop", "source_labels": ["__name__"], "regex": ".+"}]
    assert guard.relabel({"__name__": "container_cpu_usage_seconds_total", "job": "cadvisor"}, ingest.steps(nothing)) is None
    assert ingest.describe(nothing) == "keeps no metric family: no query reads one (its `up` stays)"
    assert ingest.steps(nothing, keep=["container_last_seen"])[0] == {"action": "keep", "source_labels": ["__name__"], "regex": "container_last_seen"}


def test_an_annotation_job_is_keep_listed_only_where_the_stack_opts_it_in(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(
        "version: 1\nnamespace: monitoring\n"
        "rules:\n  groups:\n    - name: shop\n      rules:\n"
        '        - record: shop:requests:rate5m\n          expr: sum(rate(http_requests_total{service="checkout"}[5m]))\n'
        "environments:\n  prod:\n    prometheus:\n      ingest: {jobs: {kubernetes-pods: used}}\n",
        encoding="utf-8",
    )
    build = _kmc("build", "stack.yaml", cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    configs = {
        env: {
            job["job_name"]: job
            for job in yaml.safe_load(
                yaml.safe_load((tmp_path / f"charts-out/manifests/{env}/04-configmap-prometheus.yaml").read_text())["data"]["prometheus.yml"]
            )["scrape_configs"]
        }
        for env in ("default", "prod")
    }
    assert "metric_relabel_configs" not in configs["default"]["kubernetes-pods"]  # the default reaches only kmc's jobs
    steps = configs["prod"]["kubernetes-pods"]["metric_relabel_configs"]
    assert guard.relabel({"__name__": "http_requests_total", "service": "checkout", "job": "kubernetes-pods"}, steps) is not None
    assert guard.relabel({"__name__": "http_requests_total", "service": "cart", "job": "kubernetes-pods"}, steps) is None
    assert guard.relabel({"__name__": "go_goroutines", "job": "kubernetes-pods"}, steps) is None
    assert "metric_relabel_configs" not in configs["prod"]["kubernetes-pods-slow"]  # not named: as written
    explained = _kmc("explain", "prometheus.ingest", "--stack", "stack.yaml", cwd=tmp_path)
    assert "kubernetes-pods  " in explained.stdout and "default all, prod used" in explained.stdout
