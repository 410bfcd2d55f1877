"""kmc's rule packs: well formed, accepted by promtool 2.53 and 3.x, and every alert unit-tested
(`promtool test rules` with tests/rules/<pack>.test.yaml, firing and not firing)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import PROMTOOLS, ROOT, tool

from kmc.components import config_reloader, rule_packs, rules
from kmc.model import AlertOverride
from kmc.resources import data_dir
from kmc.text import yaml_text

LIBRARY = rule_packs.library()
TESTS = ROOT / "tests" / "rules"
RULE_CONFIGMAPS = sorted(ROOT.glob("golden/*/out/manifests/*/04-configmap-prometheus-rules.yaml"))


def _promtool(version: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool(PROMTOOLS[version]), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def _write_defaults(directory: Path) -> None:
    """Every pack, every group, default thresholds: the rules the unit tests are written against."""
    for name, pack in LIBRARY.items():
        (directory / f"{name}.yaml").write_text(yaml_text.dump(rule_packs.pack_file(pack, {})))


def _alert_tests(path: Path) -> list[tuple[str, bool]]:
    """(alert name, fires) of every alert_rule_test of a promtool test file."""
    data = yaml.safe_load(path.read_text())
    return [(case["alertname"], bool(case.get("exp_alerts"))) for test in data["tests"] for case in test.get("alert_rule_test", ())]


def test_library_has_the_packs() -> None:
    assert sorted(LIBRARY) == ["cluster", "control-plane", "coredns", "etcd", "kmc", "kubelet", "metrics-apis", "node", "prometheus", "workloads"]


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_pack_is_well_formed(name: str) -> None:
    pack = LIBRARY[name]
    text = (data_dir("library") / "rules" / f"{name}.yaml").read_text()
    assert "# Shard-safe:" in text, "every pack says why it is safe under sharding"
    for group in pack.groups:
        assert group.name.startswith("kmc-")
        assert set(group.requires) <= set(rule_packs.REQUIREMENTS)
    for alert in pack.alerts():
        # `none`: the Watchdog, which no one is paged for.
        assert alert.severity in ("critical", "warning", "info") or (alert.severity, alert.name) == ("none", "Watchdog")
        assert all(len(text.split()) >= 5 for text in (alert.summary, alert.description, alert.runbook)) or len(alert.summary.split()) >= 4
        assert "absent(" not in alert.expr, "absent() misfires on a shard that does not scrape the target"
        used = set(rule_packs.PLACEHOLDER.findall(alert.expr + alert.summary + alert.description + alert.runbook))
        assert used == set(alert.thresholds), f"{alert.name}: thresholds declared {sorted(alert.thresholds)}, used {sorted(used)}"
        assert set(rule_packs.PLACEHOLDER.findall(alert.expr)) == set(alert.thresholds), f"{alert.name}: a threshold not in the expression"


def test_alert_names_are_unique() -> None:
    names = [alert.name for pack in LIBRARY.values() for alert in pack.alerts()]
    assert len(names) == len(set(names))
    groups = [group.name for pack in LIBRARY.values() for group in pack.groups]
    assert len(groups) == len(set(groups))


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    cases = [case for path in sorted(TESTS.glob("*.test.yaml")) for case in _alert_tests(path)]
    for pack in LIBRARY.values():
        for alert in pack.alerts():
            assert (alert.name, True) in cases, f"{alert.name} has no unit test where it fires"
            # The Watchdog fires whenever rules are evaluated: quiet is what it must never be.
            assert (alert.name, False) in cases or alert.name == "Watchdog", f"{alert.name} has no unit test where it stays quiet"


def test_every_recording_rule_has_a_value_test() -> None:
    """Each recorded series is read back by a promql_expr_test with the values it must have."""
    tested = {
        match.group(0)
        for path in sorted(TESTS.glob("*.test.yaml"))
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("promql_expr_test", ())
        if case["exp_samples"] and (match := re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", case["expr"]))
    }
    for pack in LIBRARY.values():
        for group in pack.groups:
            for rule in group.rules:
                if not isinstance(rule, rule_packs.Alert):
                    assert rule["record"] in tested, f"{rule['record']} has no promql_expr_test of its value"


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_promtool_checks_the_library(version: str, tmp_path: Path) -> None:
    _write_defaults(tmp_path)
    files = sorted(path.name for path in tmp_path.glob("*.yaml"))
    result = _promtool(version, "check", "rules", *files, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
@pytest.mark.parametrize("pack", sorted(LIBRARY))
def test_promtool_unit_tests(version: str, pack: str, tmp_path: Path) -> None:
    _write_defaults(tmp_path)
    test = TESTS / f"{pack}.test.yaml"
    (tmp_path / test.name).write_text(test.read_text())
    result = _promtool(version, "test", "rules", test.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_unit_tests_catch_a_changed_threshold(version: str, tmp_path: Path) -> None:
    """The tests can fail: with the free-space threshold at 1% the filesystem alert stays quiet."""
    _write_defaults(tmp_path)
    override = AlertOverride(None, None, {"percentFree": 1})
    (tmp_path / "node.yaml").write_text(yaml_text.dump(rule_packs.pack_file(LIBRARY["node"], {"NodeFilesystemAlmostFull": override})))
    (tmp_path / "node.test.yaml").write_text((TESTS / "node.test.yaml").read_text())
    result = _promtool(version, "test", "rules", "node.test.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "NodeFilesystemAlmostFull" in result.stdout + result.stderr


def test_every_golden_case_has_rules() -> None:
    assert len(RULE_CONFIGMAPS) >= 4


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
@pytest.mark.parametrize("configmap", RULE_CONFIGMAPS, ids=lambda path: str(path.relative_to(ROOT).parent))
def test_promtool_checks_compiled_rules(version: str, configmap: Path, tmp_path: Path) -> None:
    for name, text in yaml.safe_load(configmap.read_text())["data"].items():
        (tmp_path / name).write_text(text)
    files = sorted(path.name for path in tmp_path.glob("*.yaml"))
    result = _promtool(version, "check", "rules", *files, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_overrides_of_the_full_stack(version: str, tmp_path: Path) -> None:
    """golden/full overrides NodeFilesystemAlmostFull (5% free, 30m, critical): its compiled rules behave so."""
    configmap = ROOT / "golden/full/out/manifests/default/04-configmap-prometheus-rules.yaml"
    for name, text in yaml.safe_load(configmap.read_text())["data"].items():
        (tmp_path / name).write_text(text)
    test = TESTS / "full-overrides.test.yaml"
    (tmp_path / test.name).write_text(test.read_text())
    result = _promtool(version, "test", "rules", test.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_placeholders_are_filled() -> None:
    for pack in LIBRARY.values():
        text = yaml_text.dump(rule_packs.pack_file(pack, {}))
        assert not re.search(r"\$\{", text)


def _compiled(tmp_path: Path, section: dict[str, object]) -> dict[tuple[str, str], Any]:
    """The bodies of the objects of a stack with the `rules` section `section`, by (kind, name)."""
    from kmc import pipeline

    stack = tmp_path / "stack.yaml"
    stack.write_text(yaml.safe_dump({"version": 1, "rules": section}))
    return {(obj.kind, obj.name): obj.body for obj in pipeline.compile_stack(stack).graph.objects}


def _containers(objects: dict[tuple[str, str], Any]) -> dict[str, Any]:
    return {container["name"]: container for container in objects[("Deployment", "prometheus")]["spec"]["template"]["spec"]["containers"]}


def test_a_rule_change_reloads_prometheus_without_a_restart(tmp_path: Path) -> None:
    """The rules ConfigMap changes and the pod template does not (a new template would roll the
    pods); the config-reloader sidecar watches the rules' mount and has Prometheus reload them."""
    default = _compiled(tmp_path, {})
    changed = _compiled(tmp_path, {"overrides": {"NodeMemoryPressure": {"thresholds": {"percentAvailable": 5}}}})
    assert default[("ConfigMap", rules.NAME)] != changed[("ConfigMap", rules.NAME)]
    assert default[("Deployment", "prometheus")] == changed[("Deployment", "prometheus")]
    containers = _containers(default)
    assert {"mountPath": rules.MOUNT, "name": "rules", "readOnly": True} in containers["prometheus"]["volumeMounts"]
    assert {"mountPath": rules.MOUNT, "name": "rules", "readOnly": True} in containers[config_reloader.NAME]["volumeMounts"]
    assert f"--watched-dir={rules.MOUNT}" in containers[config_reloader.NAME]["args"]


def test_no_rules_no_mount(tmp_path: Path) -> None:
    off = {name: False for name in LIBRARY}
    objects = _compiled(tmp_path, {"packs": off})
    assert ("ConfigMap", rules.NAME) not in objects
    for container in _containers(objects).values():
        assert all(mount["name"] != "rules" for mount in container["volumeMounts"])
        assert f"--watched-dir={rules.MOUNT}" not in container["args"]


def _groups_of(tmp_path: Path, stack: dict[str, Any]) -> set[str]:
    """The names of the rule groups a stack compiles."""
    from kmc import pipeline

    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump({"version": 1, **stack}))
    files = pipeline.compile_stack(path).stack.rules.files
    return {group["name"] for text in files.values() for group in yaml.safe_load(text)["groups"]}


@pytest.mark.parametrize(
    ("stack", "present", "absent"),
    [
        # A generic cluster scrapes the apiserver, kubelets, cAdvisor and CoreDNS, not the other control-plane jobs.
        (
            {},
            {"kmc-apiserver", "kmc-kubelet", "kmc-kubelet-volumes", "kmc-coredns", "kmc-workloads-usage-recording", "kmc-watchdog"},
            {"kmc-etcd", "kmc-scheduler", "kmc-controller-manager", "kmc-kube-proxy", "kmc-node-systemd", "kmc-prometheus-remote-write"},
        ),
        (
            {"scrape": {"kubernetes": {"etcd": {"enabled": True, "secretName": "etcd-client"}, "coredns": {"enabled": False}, "scheduler": {"enabled": True}}}},
            {"kmc-etcd", "kmc-scheduler"},
            {"kmc-coredns", "kmc-controller-manager", "kmc-kube-proxy"},
        ),
        (
            {"scrape": {"kubernetes": {"apiserver": {"enabled": False}, "kubelet": {"enabled": False}}}},
            set(),
            {"kmc-apiserver", "kmc-apiserver-recording", "kmc-kubelet"},
        ),
        ({"nodeExporter": {"systemd": {"enabled": True}}}, {"kmc-node-systemd"}, set()),
        ({"prometheus": {"remoteWrite": [{"name": "store", "url": "https://store.example.com/write"}]}}, {"kmc-prometheus-remote-write"}, set()),
        # Sharded: cAdvisor's and kube-state-metrics' series are on different shards, so the join is left out.
        (
            {"prometheus": {"shards": 2, "thanos": {"sidecar": {"enabled": True}, "query": {"enabled": True}}}},
            {"kmc-workloads-recording", "kmc-workloads-owners"},
            {"kmc-workloads-usage-recording"},
        ),
        ({"rules": {"packs": {"kubelet": False, "control-plane": False}}}, set(), {"kmc-kubelet", "kmc-apiserver"}),
    ],
)
def test_groups_follow_the_scrape_jobs_and_components(tmp_path: Path, stack: dict[str, Any], present: set[str], absent: set[str]) -> None:
    groups = _groups_of(tmp_path, stack)
    assert present <= groups
    assert not absent & groups


def test_the_docs_list_every_alert_and_recording_rule() -> None:
    """docs/rules-and-alertmanager.md lists the names `rules.disabled` and `rules.overrides` accept, and no others."""
    text = (ROOT / "docs" / "rules-and-alertmanager.md").read_text()
    section = text.split("## Alerts by pack", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([A-Za-z]+)` \|", section, re.MULTILINE))
    assert listed == {alert.name for pack in LIBRARY.values() for alert in pack.alerts()}
    for pack in LIBRARY.values():
        assert f"### Pack `{pack.name}`" in section
        for alert in pack.alerts():
            for name, threshold in alert.thresholds.items():
                assert f"`{name}` ({rule_packs.number(threshold.default)})" in section, f"{alert.name}: {name}"
        for group in pack.groups:
            for rule in group.rules:
                if not isinstance(rule, rule_packs.Alert):
                    assert f"`{rule['record']}`" in section


RUNBOOKS = {
    "runbookUrl": "https://wiki.example.com/runbooks/{pack}/{alert}?from=prometheus&x=%7B%7D",
    "overrides": {"NodeFilesystemAlmostFull": {"runbookUrl": "https://wiki.example.com/storage/{alert}"}},
    "groups": [{"name": "checkout", "rules": [{"alert": "CheckoutDown", "expr": "vector(1)", "annotations": {"summary": "down"}}]}],
}


def _rule_files(tmp_path: Path, section: dict[str, Any]) -> dict[str, Any]:
    """The compiled rule files of a stack with the `rules` section `section`, as data, by file name."""
    from kmc import pipeline

    tmp_path.mkdir(exist_ok=True)
    stack = tmp_path / "stack.yaml"
    stack.write_text(yaml.safe_dump({"version": 1, "rules": section}))
    return {name: yaml.safe_load(text) for name, text in pipeline.compile_stack(stack).stack.rules.files.items()}


def _alerts(files: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """Every alerting rule's (file name, annotations), by alert name."""
    return {
        rule["alert"]: (name, rule.get("annotations", {}))
        for name, data in files.items()
        for group in data["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_runbook_urls_name_each_alert(tmp_path: Path) -> None:
    """`rules.runbookUrl` gives every alert of the packs a `runbook_url` with its pack and name
    filled in, beside its inline `runbook`; an override's URL wins; the stack's own groups keep
    the annotations they write."""
    alerts = _alerts(_rule_files(tmp_path, RUNBOOKS))
    assert len(alerts) > 50
    for alert, (file, notes) in alerts.items():
        if file == rule_packs.CUSTOM_FILE:
            assert notes == {"summary": "down"}
        elif alert == "NodeFilesystemAlmostFull":
            assert notes["runbook_url"] == "https://wiki.example.com/storage/NodeFilesystemAlmostFull"
        else:
            pack = file.removesuffix(".yaml")
            assert notes["runbook_url"] == f"https://wiki.example.com/runbooks/{pack}/{alert}?from=prometheus&x=%7B%7D"
            assert notes["runbook"] == rule_packs.alert_index(LIBRARY)[alert][1].runbook
    assert alerts["KubeNodeNotReady"][1]["runbook_url"].startswith("https://wiki.example.com/runbooks/cluster/KubeNodeNotReady?")


def test_no_runbook_url_unless_asked(tmp_path: Path) -> None:
    alerts = _alerts(_rule_files(tmp_path / "none", {}))
    assert all("runbook_url" not in notes for _, notes in alerts.values())
    # An override's URL alone: that alert links it, the others do not.
    alerts = _alerts(_rule_files(tmp_path / "one", {"overrides": {"Watchdog": {"runbookUrl": "http://runbooks.internal/watchdog"}}}))
    assert [name for name, (_, notes) in alerts.items() if "runbook_url" in notes] == ["Watchdog"]
    assert alerts["Watchdog"][1]["runbook_url"] == "http://runbooks.internal/watchdog"


@pytest.mark.parametrize("version", sorted(PROMTOOLS))
def test_promtool_checks_rules_with_runbook_urls(version: str, tmp_path: Path) -> None:
    """The compiled files, URLs with a query string and percent-encoded braces in their annotations
    (which Prometheus parses as templates), load in promtool 2.53 and 3.x."""
    for name, data in _rule_files(tmp_path / "stack", RUNBOOKS).items():
        (tmp_path / name).write_text(yaml_text.dump(data))
    files = sorted(path.name for path in tmp_path.glob("*.yaml"))
    assert len(files) > 5
    result = _promtool(version, "check", "rules", *files, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


BAD_RUNBOOK_URLS = [
    (
        "wiki.example.com/{alert}",
        "'wiki.example.com/{alert}' is not an http(s) URL",
        "write an absolute http:// or https:// URL, e.g. https://wiki.example.com/runbooks/{alert}",
    ),
    (
        "ftp://wiki.example.com/{alert}",
        "'ftp://wiki.example.com/{alert}' is not an http(s) URL",
        "write an absolute http:// or https:// URL, e.g. https://wiki.example.com/runbooks/{alert}",
    ),
    (
        "https:///{alert}",
        "'https:///{alert}' is not an http(s) URL",
        "write an absolute http:// or https:// URL, e.g. https://wiki.example.com/runbooks/{alert}",
    ),
    (
        "https://wiki.example.com/{alert} page",
        "'https://wiki.example.com/{alert} page' is not an http(s) URL",
        "write an absolute http:// or https:// URL, e.g. https://wiki.example.com/runbooks/{alert}",
    ),
    ("https://wiki.example.com/{alertname}", "unknown placeholder {alertname} in the runbook URL", "did you mean '{alert}'?"),
    ("https://wiki.example.com/{team}", "unknown placeholder {team} in the runbook URL", "the placeholders are {alert}, {pack}"),
    (
        "https://wiki.example.com/{{ $labels.alertname }}",
        "a brace in the runbook URL that is not part of a placeholder",
        "the placeholders are {alert}, {pack} (no template actions such as {{ $labels.x }}); percent-encode a brace the URL itself holds (%7B, %7D)",
    ),
]


@pytest.mark.parametrize(("template", "message", "hint"), BAD_RUNBOOK_URLS)
def test_a_bad_runbook_url_is_a_located_error(tmp_path: Path, template: str, message: str, hint: str) -> None:
    from kmc import pipeline
    from kmc.errors import StackInvalid

    stack = tmp_path / "stack.yaml"
    stack.write_text(f"version: 1\nrules:\n  runbookUrl: {template!r}\n  overrides:\n    KubeNodeNotReady:\n      runbookUrl: {template!r}\n")
    with pytest.raises(StackInvalid) as raised:
        pipeline.compile_stack(stack, display="stack.yaml")
    found = [(d.line, d.column, d.path, d.message, d.hint) for d in raised.value.diagnostics]
    assert found == [(3, 15, "$.rules.runbookUrl", message, hint), (6, 19, "$.rules.overrides.KubeNodeNotReady.runbookUrl", message, hint)]
