"""checkov over everything kmc emits: each failed check is a reviewed exception in
tests/checkov-allowlist.yaml (with its reason), and every exception is still needed.

One checkov run (about 4 s of start-up) judges every output format of every golden case and
environment at once (an environment whose objects equal another format's is scanned once),
together with the fixtures that prove kmc's own checks
(tests/checkov_checks/: APIService TLS, --kubelet-insecure-tls) fail and pass where they should.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from object_sets import LOADER
from pod_security import pod_template
from tools import ROOT, TOOLS, tool

CHECKOV = TOOLS / "checkov" / "checkov"
KUBECTL = TOOLS / "helm-4" / "kubectl"
HELM = TOOLS / "helm-4" / "helm"
ALLOWLIST = ROOT / "tests/checkov-allowlist.yaml"
CUSTOM_CHECKS = ROOT / "tests/checkov_checks"
FIXTURES = ROOT / "tests/checkov_fixtures"
CUSTOM_IDS = ("CKV_KMC_1", "CKV_KMC_2")
# Every built output tree, by case name.
OUTPUTS = {path.parent.name: path for path in sorted(ROOT.glob("golden/*/out"))} | {"charts-out": ROOT / "charts-out"}


Objects = list[dict[str, Any]]


def _manifests(out: Path) -> dict[str, Objects]:
    return {env.name: [yaml.load(path.read_text(), Loader=LOADER) for path in sorted(env.glob("*.yaml"))] for env in sorted((out / "manifests").iterdir())}


def _kustomize(out: Path) -> dict[str, Objects]:
    built = {}
    for overlay in sorted((out / "kustomize/overlays").iterdir()):
        result = subprocess.run([tool(KUBECTL), "kustomize", overlay], capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        built[overlay.name] = list(yaml.load_all(result.stdout, Loader=LOADER))
    return built


def _helm(out: Path) -> dict[str, Objects]:
    (chart,) = (out / "helm").iterdir()
    built = {}
    for env in sorted((out / "manifests").iterdir()):
        values = [] if env.name == "default" else ["-f", str(chart / f"values-{env.name}.yaml")]
        result = subprocess.run([tool(HELM), "template", "kmc", chart, *values], capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        built[env.name] = [obj for obj in yaml.load_all(result.stdout, Loader=LOADER) if obj is not None]
    return built


# Each output format as checkov sees it: the objects of each environment of a case's output tree.
RENDERERS: Mapping[str, Callable[[Path], dict[str, Objects]]] = {"manifests": _manifests, "kustomize": _kustomize, "helm": _helm}

# checkov treats everything it scans as one cluster: it identifies objects by kind, namespace and
# name, and its graph checks link NetworkPolicies to pods by labels alone, in any namespace. So
# each scanned environment gets namespaces and cluster-scoped names of its own, marked with a
# suffix that is taken off again in the findings, and a label of its own on its pods and in the
# selectors that choose them.
ISOLATION = re.compile(r"--scan\d+")
SCAN_LABEL = "kmc.test/scan"
CLUSTER_SCOPED = ("Namespace", "ClusterRole", "ClusterRoleBinding", "APIService")


def isolated(objects: Objects, scan: int) -> Objects:
    """`objects` as if alone in a cluster: names and selectors made unique to scan number `scan`."""
    objects = copy.deepcopy(objects)
    suffix, label = f"--scan{scan}", {SCAN_LABEL: str(scan)}
    for obj in objects:
        meta, spec = obj["metadata"], obj.get("spec", {})
        if obj["kind"] in CLUSTER_SCOPED:
            meta["name"] += suffix
        else:
            meta["namespace"] += suffix
        if obj["kind"] == "ClusterRoleBinding":
            obj["roleRef"]["name"] += suffix
        for subject in obj.get("subjects", []):
            subject["namespace"] += suffix
        pod = pod_template(obj)
        if pod is not None and pod is not obj:
            pod["metadata"]["labels"].update(label)
            spec["selector"]["matchLabels"].update(label)
        if obj["kind"] == "NetworkPolicy":
            spec["podSelector"].setdefault("matchLabels", {}).update(label)
        if obj["kind"] == "Service":
            spec["selector"].update(label)
    return objects


@dataclasses.dataclass(frozen=True)
class Finding:
    check: str
    name: str  # the check's title
    kind: str
    resource: str  # object name (checkov's id without kind, namespace and graph labels)
    path: tuple[str, ...]  # the file, relative to the scanned directory
    passed: bool

    @property
    def where(self) -> tuple[str, str, str]:
        """(format, case, environment) of a finding in kmc's output."""
        _, fmt, case, env, *_ = self.path
        return fmt, case, env


def _findings(report: Any) -> Iterator[Finding]:
    for framework in report if isinstance(report, list) else [report]:
        for key, passed in (("passed_checks", True), ("failed_checks", False)):
            for result in framework["results"][key]:
                kind, _namespace, rest = ISOLATION.sub("", result["resource"]).split(".", 2)
                # Graph checks name pods `Pod.<ns>.<name>.<label>-<value>...`: keep the name.
                name = rest.split(".app.kubernetes.io/", 1)[0].split(".kmc.test/", 1)[0]
                path = tuple(part for part in result["file_path"].split("/") if part not in ("", "."))
                yield Finding(result["check_id"], result["check_name"], kind, name, path, passed)


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    scan = tmp_path_factory.mktemp("checkov")
    # An environment whose objects another format already gave (the kustomize overlays build the
    # manifests' objects) is scanned once; its findings are those of the first, under its own name.
    first: dict[str, tuple[str, str, str]] = {}
    same: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    for fmt, render in RENDERERS.items():
        for case, out in OUTPUTS.items():
            for env, objects in render(out).items():
                content = json.dumps(sorted(json.dumps(obj, sort_keys=True) for obj in objects))
                if content in first:
                    same[(fmt, case, env)] = first[content]
                    continue
                first[content] = (fmt, case, env)
                target = scan / "outputs" / fmt / case / env / "objects.yaml"
                target.parent.mkdir(parents=True)
                target.write_text(yaml.safe_dump_all(isolated(objects, len(list(scan.glob("outputs/*/*/*"))))))
    shutil.copytree(FIXTURES, scan / "fixtures")
    command = [
        tool(CHECKOV),
        "--directory",
        ".",
        "--framework",
        "kubernetes",
        "--external-checks-dir",
        CUSTOM_CHECKS,
        "--skip-download",
        "--compact",
        "--output",
        "json",
    ]
    # Offline: no Prisma Cloud mapping download, no guideline fetch.
    result = subprocess.run(command, cwd=scan, capture_output=True, text=True, timeout=600, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"}, check=False)
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: some check failed
    found = list(_findings(json.loads(result.stdout)))
    assert found, result.stderr[-3000:]
    for (fmt, case, env), scanned in same.items():
        found += [
            dataclasses.replace(finding, path=("outputs", fmt, case, env, *finding.path[4:]))
            for finding in found
            if finding.path[0] == "outputs" and finding.where == scanned
        ]
    return found


def _outputs(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.path[0] == "outputs"]


@dataclasses.dataclass(frozen=True)
class Accepted:
    check: str
    resource: str  # Kind/name
    reason: str
    only: tuple[str, ...]  # "case" or "case/env"; empty: wherever it occurs

    def covers(self, finding: Finding) -> bool:
        _, case, env = finding.where
        here = not self.only or case in self.only or f"{case}/{env}" in self.only
        return here and finding.check == self.check and f"{finding.kind}/{finding.resource}" == self.resource


def allowlist() -> list[Accepted]:
    entries = yaml.safe_load(ALLOWLIST.read_text())
    return [Accepted(entry["check"], entry["resource"], entry["reason"], tuple(entry.get("only", ()))) for entry in entries]


def test_allowlist_entries_are_unique_and_reasoned() -> None:
    entries = allowlist()
    assert len({(entry.check, entry.resource, entry.only) for entry in entries}) == len(entries)
    for entry in entries:
        assert len(entry.reason.split()) >= 8, f"{entry.check} {entry.resource}: say why it is accepted"
        assert not entry.check.startswith("CKV_KMC_"), "kmc's own checks admit no exception"
        assert all(where.split("/")[0] in OUTPUTS for where in entry.only), entry.only


def test_every_output_was_scanned(findings: list[Finding]) -> None:
    scanned = {finding.where for finding in _outputs(findings)}
    for fmt in RENDERERS:
        for case, out in OUTPUTS.items():
            for env in (out / "manifests").iterdir():
                assert (fmt, case, env.name) in scanned, f"checkov reported nothing for {fmt} {case}/{env.name}"


def _opted_out() -> set[tuple[str, str]]:
    """(kmc check, golden case) where the stack itself makes the choice the check fails: an
    APIService told to skip verification, metrics-server told not to verify the kubelets. kmc warns
    about both on every build; the allowlist admits no other CKV_KMC_* failure."""
    from kmc import pipeline

    found = set()
    for case, out in OUTPUTS.items():
        stack = pipeline.compile_stack(ROOT / "stack.yaml" if case == "charts-out" else out.parent / "stack.yaml").stack
        if "insecure" in (stack.metrics_server.tls.mode, stack.prometheus_adapter.tls.mode):
            found.add(("CKV_KMC_1", case))
        if stack.metrics_server.insecure_kubelet_tls:
            found.add(("CKV_KMC_2", case))
    return found


def test_kmc_checks_catch_the_stacks_own_opt_outs(findings: list[Finding]) -> None:
    opted_out = _opted_out()
    assert opted_out, "some golden case opts out, to prove the checks see it"
    failed = {(f.check, f.where[1]) for f in _outputs(findings) if not f.passed and f.check in CUSTOM_IDS}
    assert failed == opted_out


def test_every_failure_is_an_allowed_exception(findings: list[Finding]) -> None:
    entries = allowlist()
    opted_out = _opted_out()
    unexpected = sorted(
        {
            f"{f.check} {f.kind}/{f.resource} in {'/'.join(f.where)}: {f.name}"
            for f in _outputs(findings)
            if not f.passed and not any(e.covers(f) for e in entries) and (f.check, f.where[1]) not in opted_out
        }
    )
    assert not unexpected, "fix the output, or add a reviewed entry with its reason to tests/checkov-allowlist.yaml:\n" + "\n".join(unexpected)


def test_no_allowlist_entry_is_stale(findings: list[Finding]) -> None:
    failures = [finding for finding in _outputs(findings) if not finding.passed]
    stale = []
    for entry in allowlist():
        # Each format must still need it, at each place it is limited to.
        for fmt in RENDERERS:
            for where in entry.only or ("",):
                hits = [f for f in failures if f.where[0] == fmt and entry.covers(f) and (not where or where in (f.where[1], f"{f.where[1]}/{f.where[2]}"))]
                if not hits:
                    stale.append(f"{entry.check} {entry.resource} {where or 'anywhere'} ({fmt})")
    assert not stale, "these exceptions no longer occur; remove them from tests/checkov-allowlist.yaml:\n" + "\n".join(stale)


def _expected_fixture_results() -> dict[str, bool]:
    expected = {}
    for path in sorted(FIXTURES.glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            expected[obj["metadata"]["name"]] = {"passed": True, "failed": False}[obj["metadata"]["labels"]["kmc.test/expect"]]
    return expected


def test_custom_checks_fail_and_pass_the_fixtures(findings: list[Finding]) -> None:
    expected = _expected_fixture_results()
    results = {f.resource: f.passed for f in findings if f.path[0] == "fixtures" and f.check in CUSTOM_IDS}
    assert results == expected
    assert {False, True} == set(expected.values())


def test_custom_checks_ran_on_kmc_output(findings: list[Finding]) -> None:
    # Every workload of every output passed CKV_KMC_2, every APIService CKV_KMC_1 (the allowlist
    # admits no CKV_KMC_* exception; test_every_failure_is_an_allowed_exception sees failures).
    kmc_runs = {(f.where, f.resource) for f in _outputs(findings) if f.check == "CKV_KMC_2" and f.passed}
    shards = {f"prometheus-shard-{index}" for index in range(3)}  # golden/sharded
    workloads = {
        "prometheus",
        "node-exporter",
        "kube-state-metrics",
        "grafana",
        "metrics-server",
        "prometheus-adapter",
        "alertmanager",
        "thanos-query",
        *shards,
    }
    assert {resource for _, resource in kmc_runs} == workloads
    api_services = {f.resource for f in _outputs(findings) if f.check == "CKV_KMC_1" and f.passed}
    assert api_services >= {"v1beta1.metrics.k8s.io", "v1beta1.custom.metrics.k8s.io", "v1beta1.external.metrics.k8s.io"}
