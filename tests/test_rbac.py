"""RBAC is least privilege, held to reviewed golden lists: every (Cluster)Role of every golden
case and environment grants exactly what tests/rbac/<role>.yaml lists (plus its opt-ins where
the stack opts in), no `*` beyond the metric APIs whose resources are metric names, Secrets only
through an opt-in, and bindings only of the stack's own roles or the few Kubernetes roles an
extension API server must hold."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from object_sets import LOADER
from tools import ROOT

from kmc import pipeline

RBAC_DIR = ROOT / "tests/rbac"
ROLE_KINDS = ("ClusterRole", "Role")
BINDING_KINDS = ("ClusterRoleBinding", "RoleBinding")
# Output directory → the stack it was built from.
BUILDS = {stack.parent / "out": stack for stack in ROOT.glob("golden/*/stack.yaml")} | {ROOT / "charts-out": ROOT / "stack.yaml"}
ENVIRONMENTS = sorted(ROOT.glob("golden/*/out/manifests/*")) + sorted(ROOT.glob("charts-out/manifests/*"))

# `*` is allowed only where the API has no fixed resources: custom and external metrics are
# named by their metric, so the HPA controller's read access must say `*`.
WILDCARD_APIS = {"custom.metrics.k8s.io", "external.metrics.k8s.io"}
# Kubernetes' own roles an extension API server binds (reviewed 2026-11-24): delegated
# authentication/authorization, and the authentication ConfigMap in kube-system.
SYSTEM_ROLES = {("ClusterRole", "system:auth-delegator"), ("Role", "extension-apiserver-authentication-reader")}
# Accounts outside the stack it grants to: the HPA controller, only the metric readers.
HPA_CONTROLLER = ("kube-system", "horizontal-pod-autoscaler")
HPA_ROLES = {"custom-metrics-reader", "external-metrics-reader"}

# One permission: (apiGroup, resource, verb, resourceName) or ("url", nonResourceURL, verb, "").
Grant = tuple[str, str, str, str]


def grants(rules: Iterable[Mapping[str, Any]]) -> set[Grant]:
    """Rules expanded into single permissions, so that how they are grouped does not matter."""
    found: set[Grant] = set()
    for rule in rules:
        for verb in rule["verbs"]:
            for url in rule.get("nonResourceURLs", []):
                found.add(("url", url, verb, ""))
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    found |= {(group, resource, verb, name) for name in rule.get("resourceNames") or [""]}
    return found


def golden(component: str) -> Mapping[str, Any]:
    path = RBAC_DIR / f"{component}.yaml"
    assert path.is_file(), f"{component} has a (Cluster)Role but no reviewed list {path.relative_to(ROOT)}: review its rules and write one"
    return yaml.safe_load(path.read_text())  # type: ignore[no-any-return]


@functools.cache
def _opted_in(stack_file: Path) -> frozenset[str]:
    """The RBAC opt-ins the stack chooses (names as under `optIn` in the golden files): Secrets
    for kube-state-metrics, and the resources the adapter's rules map series to."""
    stack = pipeline.compile_stack(stack_file).stack
    chosen = {"exportSecrets"} if stack.kube_state_metrics.export_secrets else set()
    if stack.kube_state_metrics.custom_resource_state:
        chosen.add("customResourceState")
    adapter = stack.prometheus_adapter
    chosen |= {f"{metric.resource}s" for metric in adapter.custom} - {"namespaces"}
    if adapter.resource_metrics:
        chosen |= {"nodes", "pods"}
    for rule in adapter.raw_custom:
        chosen |= {spec["resource"].rstrip("s") + "s" for spec in rule.get("resources", {}).get("overrides", {}).values()} - {"namespaces"}
    return frozenset(chosen)


@functools.cache
def _custom_resources(stack_file: Path) -> frozenset[Grant]:
    """list/watch of each custom resource the stack gives kube-state-metrics, read from the stack."""
    resources = pipeline.compile_stack(stack_file).stack.kube_state_metrics.custom_resource_state
    rules = [{"apiGroups": [r["groupVersionKind"]["group"]], "resources": [r["resourcePlural"]], "verbs": ["list", "watch"]} for r in resources]
    return frozenset(grants(rules))


@functools.cache
def _namespace(stack_file: Path) -> str:
    return pipeline.compile_stack(stack_file).stack.namespace


def _reviewed_name(role: Mapping[str, Any], env: Path) -> str:
    """A role's name without the stack's namespace prefix that keeps cluster-scoped names unique."""
    return str(role["metadata"]["name"]).removeprefix(_namespace(BUILDS[_case(env)]) + "-")


def _objects(env: Path) -> list[dict[str, Any]]:
    return [yaml.load(path.read_text(), Loader=LOADER) for path in sorted(env.glob("*.yaml"))]


def _case(env: Path) -> Path:
    return env.parents[1]  # <out>/manifests/<env>


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_roles_grant_exactly_the_reviewed_rules(env: Path) -> None:
    opted_in = _opted_in(BUILDS[_case(env)])
    roles = [obj for obj in _objects(env) if obj["kind"] in ROLE_KINDS]
    assert roles, "every environment has a ClusterRole (Prometheus', or metrics-server's)"
    for role in roles:
        reviewed = golden(_reviewed_name(role, env))
        expected = grants(reviewed["rules"])
        for name, extra in reviewed.get("optIn", {}).items():
            if name in opted_in:
                expected |= grants(extra)
        if _reviewed_name(role, env) == "kube-state-metrics":
            expected |= _custom_resources(BUILDS[_case(env)])
        actual = grants(role["rules"])
        assert actual == expected, (
            f"{role['kind']} {role['metadata']['name']}: granted beyond review {sorted(actual - expected)}, missing {sorted(expected - actual)}"
        )


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_wildcards_and_secrets_only_by_opt_in(env: Path) -> None:
    opted_in = _opted_in(BUILDS[_case(env)])
    for role in (obj for obj in _objects(env) if obj["kind"] in ROLE_KINDS):
        for grant in grants(role["rules"]):
            assert "*" not in grant or (grant[0] in WILDCARD_APIS and grant[1] == "*" and grant[2] in ("get", "list")), (
                f"{role['metadata']['name']}: wildcard in {grant}"
            )
            if grant[:2] == ("", "secrets"):
                assert role["metadata"]["labels"]["app.kubernetes.io/name"] == "kube-state-metrics" and "exportSecrets" in opted_in, grant


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_bindings_bind_only_the_stacks_own_roles_to_its_own_accounts(env: Path) -> None:
    objects = _objects(env)
    roles = {(obj["kind"], obj["metadata"]["name"]) for obj in objects if obj["kind"] in ROLE_KINDS}
    accounts = {(obj["metadata"]["namespace"], obj["metadata"]["name"]) for obj in objects if obj["kind"] == "ServiceAccount"}
    for binding in (obj for obj in objects if obj["kind"] in BINDING_KINDS):
        role = (binding["roleRef"]["kind"], binding["roleRef"]["name"])
        assert role in roles or role in SYSTEM_ROLES, binding["metadata"]["name"]
        for subject in binding["subjects"]:
            account = (subject["namespace"], subject["name"])
            if account == HPA_CONTROLLER:
                assert _reviewed_name({"metadata": {"name": role[1]}}, env) in HPA_ROLES, binding["metadata"]["name"]
                continue
            assert subject["kind"] == "ServiceAccount" and account in accounts, subject


def test_every_reviewed_list_is_used_and_every_opt_in_seen() -> None:
    used: set[str] = set()
    seen_opt_ins: set[str] = set()
    for env in ENVIRONMENTS:
        for role in (obj for obj in _objects(env) if obj["kind"] in ROLE_KINDS):
            used.add(_reviewed_name(role, env))
        seen_opt_ins |= _opted_in(BUILDS[_case(env)])
    files = {path.stem for path in RBAC_DIR.glob("*.yaml")}
    assert files == used, "a reviewed list without a role in any golden case is stale"
    declared = {name for component in files for name in golden(component).get("optIn", {})}
    assert declared <= seen_opt_ins, "every opt-in is exercised by some golden case"


def test_grants_expand_rules() -> None:
    rules = [{"apiGroups": ["", "apps"], "resources": ["pods"], "verbs": ["get", "list"]}, {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    assert grants(rules) == {
        ("", "pods", "get", ""),
        ("", "pods", "list", ""),
        ("apps", "pods", "get", ""),
        ("apps", "pods", "list", ""),
        ("url", "/metrics", "get", ""),
    }
