"""Every object kmc emits is valid, unknown fields included, in each supported Kubernetes version."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_schemas import KUBERNETES_VERSIONS, iter_golden_manifest_files, validate_manifests, validate_object
from object_sets import LOADER
from tools import TOOLS, tool

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN_FILES = iter_golden_manifest_files(REPO_ROOT)
GOLDEN_CASES = sorted({path.parents[3] for path in GOLDEN_FILES})  # golden/<case>/out/manifests/<env>/


def _golden_params() -> list[Any]:
    params = [pytest.param(version, case, id=f"{case.name}-k8s{version}") for case in GOLDEN_CASES for version in KUBERNETES_VERSIONS]
    # An empty golden tree is a defect, not a reason to skip: keep one case that fails.
    return params or [pytest.param(None, None, id="no-golden-manifests")]


@pytest.mark.parametrize(("version", "case"), _golden_params())
def test_golden_manifests_are_valid(version: str | None, case: Path | None) -> None:
    if version is None or case is None:
        pytest.fail("no golden manifests: nothing matches golden/*/out/manifests/*/*.yaml; kmc must emit them", pytrace=False)
    problems = [
        f"{path.relative_to(REPO_ROOT)}: {problem}"
        for path in GOLDEN_FILES
        if path.is_relative_to(case)
        for problem in validate_manifests(path.read_text(encoding="utf-8"), version)
    ]
    if problems:
        pytest.fail(f"{len(problems)} error(s) against Kubernetes {version}:\n" + "\n".join(problems), pytrace=False)


def _deployment(*, container: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [container or {"name": "web", "image": "nginx:1.27"}]},
            },
            **spec,
        },
    }


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_good_deployment_is_valid(version: str) -> None:
    assert validate_object(_deployment(), version) == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            _deployment(replica=2),
            "$.spec: Additional properties are not allowed ('replica' was unexpected)",
            id="unknown-field",
        ),
        pytest.param(
            _deployment(replicas="2"),
            "$.spec.replicas: '2' is not of type 'integer', 'null'",
            id="wrong-type",
        ),
        pytest.param(
            _deployment(container={"image": "nginx:1.27"}),
            "$.spec.template.spec.containers[0]: 'name' is a required property",
            id="missing-required",
        ),
    ],
)
def test_bad_deployment_is_rejected(version: str, obj: dict[str, Any], expected: str) -> None:
    assert validate_object(obj, version) == [expected]


def test_every_error_of_an_object_is_reported() -> None:
    obj = _deployment(replica=2, replicas="2", container={"image": "nginx:1.27"})
    assert len(validate_object(obj, KUBERNETES_VERSIONS[-1])) == 3


_NO_SCHEMA = "$: Kubernetes 1.35 has no {} (a custom resource needs its apiVersion in CRD_API_VERSIONS)"


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        pytest.param("cert-manager.io/v1", "Certificate", [], id="known-crd"),
        pytest.param("example.com/v1", "Widget", [_NO_SCHEMA.format("Widget in example.com/v1")], id="unknown-kind"),
        pytest.param(
            "policy/v1beta1",
            "PodDisruptionBudget",
            [_NO_SCHEMA.format("PodDisruptionBudget in policy/v1beta1")],
            id="removed-api",
        ),
    ],
)
def test_kinds_without_schema(api_version: str, kind: str, expected: list[str]) -> None:
    assert validate_object({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}, "1.35") == expected


def test_every_document_of_a_stream_is_validated() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n- not an object\n"
    text += "---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {type: 3}\n"
    assert validate_manifests(text, "1.35") == [
        "document 2: $: expected a mapping, got list",
        "Service/b: $.spec.type: 3 is not of type 'string', 'null'",
    ]


# -- cert-manager's custom resources ------------------------------------------------------------

CERT_MANAGER_VALIDATOR = TOOLS / "cert-manager-schemas" / "validate"


def _cert_manager(objects: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    validator = tool(CERT_MANAGER_VALIDATOR)
    return subprocess.run([validator], input=json.dumps(objects), capture_output=True, text=True, timeout=120, check=False)


def test_cert_manager_objects_match_cert_managers_crds() -> None:
    """The Issuers and Certificates of every golden case, against cert-manager's own CRD schemas."""
    objects = [
        obj
        for path in GOLDEN_FILES
        for obj in yaml.load_all(path.read_text(encoding="utf-8"), Loader=LOADER)
        if isinstance(obj, dict) and obj.get("apiVersion") == "cert-manager.io/v1"  # KEDA's: test_keda.py
    ]
    assert {obj["kind"] for obj in objects} == {"Issuer", "Certificate"}, "golden/full uses tls mode cert-manager"
    result = _cert_manager(objects)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("valid ") == len(objects)


def test_the_cert_manager_validator_rejects_a_broken_certificate() -> None:
    broken = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "x", "namespace": "monitoring"},
        "spec": {"secretName": "x", "dnsNames": "x.monitoring.svc", "issuerRef": {"name": "ca"}, "privateKey": {"algorithm": "EC"}},
    }
    result = _cert_manager([broken])
    assert result.returncode == 1
    assert "dnsNames must be array" in result.stdout and "algorithm must be equal to one of the allowed values" in result.stdout


# -- the Gateway API's custom resources ----------------------------------------------------------

GATEWAY_API_VALIDATOR = TOOLS / "gateway-api-schemas" / "validate"


def _gateway_api(objects: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    validator = tool(GATEWAY_API_VALIDATOR)
    return subprocess.run([validator], input=json.dumps(objects), capture_output=True, text=True, timeout=120, check=False)


def test_http_routes_match_the_gateway_apis_crds() -> None:
    """The HTTPRoutes of every golden case and environment, against the Gateway API's own CRD schemas."""
    objects = [
        obj
        for path in GOLDEN_FILES
        for obj in yaml.load_all(path.read_text(encoding="utf-8"), Loader=LOADER)
        if isinstance(obj, dict) and obj.get("apiVersion") == "gateway.networking.k8s.io/v1"
    ]
    assert {obj["kind"] for obj in objects} == {"HTTPRoute"}, "golden/full exposes Prometheus and Alertmanager through HTTPRoutes"
    result = _gateway_api(objects)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("valid ") == len(objects)


def test_the_gateway_api_validator_rejects_a_broken_route() -> None:
    broken = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "x", "namespace": "monitoring"},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "hostnames": "x.example.com",
            "rules": [{"matches": [{"path": {"type": "Prefix", "value": "/x"}}], "backendRefs": [{"name": "x", "port": 80}]}],
        },
    }
    result = _gateway_api([broken])
    assert result.returncode == 1
    assert "hostnames must be array" in result.stdout and "type must be equal to one of the allowed values" in result.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_disruption_budgets_are_judged_strictly(version: str) -> None:
    """golden/full's PodDisruptionBudgets (minAvailable, maxUnavailable as a number and a percentage,
    unhealthyPodEvictionPolicy) are valid; the same budget with a misspelt field is not."""
    budgets = [
        obj
        for path in sorted((REPO_ROOT / "golden/full/out/manifests").glob("*/14-poddisruptionbudget-*.yaml"))
        for obj in [yaml.safe_load(path.read_text(encoding="utf-8"))]
    ]
    assert {key for budget in budgets for key in budget["spec"]} == {"maxUnavailable", "minAvailable", "selector", "unhealthyPodEvictionPolicy"}
    assert all(validate_object(budget, version) == [] for budget in budgets)
    broken = {**budgets[0], "spec": {**budgets[0]["spec"], "maxUnavailble": 1}}
    assert validate_object(broken, version) == ["$.spec: Additional properties are not allowed ('maxUnavailble' was unexpected)"]
