"""Validate Kubernetes objects against the schemas bundled with kubernetes-validate.

kubernetes-validate's own ``validate()`` re-reads a 1.4 MB definitions file for every
object and stops at the first error. This module reads the same bundled (strict) schema
files once, builds one jsonschema validator per (version, apiVersion, kind) and reports
every error of an object.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from kubernetes_validate import utils as kv
from object_sets import LOADER
from referencing import Registry, Resource

KUBERNETES_VERSIONS = ("1.31", "1.33", "1.35")

# Custom resources have no built-in schema, so their objects are skipped on purpose.
# Any other kind without a schema is an error: a typo, or an API that the version lacks.
CRD_API_VERSIONS = frozenset(
    {
        "cert-manager.io/v1",  # Issuer, Certificate
        "gateway.networking.k8s.io/v1",  # HTTPRoute
        "keda.sh/v1alpha1",  # ScaledObject, TriggerAuthentication (validated in test_keda.py)
        "monitoring.coreos.com/v1",  # ServiceMonitor, PodMonitor, PrometheusRule
    }
)


def iter_golden_manifest_files(repo_root: Path) -> list[Path]:
    """Return the raw-manifest files of every golden case, sorted."""
    return sorted(repo_root.glob("golden/*/out/manifests/*/*.yaml"))


def validate_manifests(text: str, version: str) -> list[str]:
    """Validate every object of a YAML stream; each problem reads ``Kind/name: $.path: message``."""
    problems = []
    for index, obj in enumerate(yaml.load_all(text, Loader=LOADER)):
        if obj is None:  # an empty document, e.g. after a trailing "---"
            continue
        if not isinstance(obj, dict):
            problems.append(f"document {index}: $: expected a mapping, got {type(obj).__name__}")
            continue
        metadata = obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        problems += [f"{obj.get('kind')}/{name}: {error}" for error in validate_object(obj, version)]
    return problems


def validate_object(obj: dict[str, Any], version: str) -> list[str]:
    """Return every schema error of ``obj`` in Kubernetes ``version`` ("1.33"); [] if valid.

    Unknown fields are errors (strict schemas). Objects of CRD_API_VERSIONS are not checked.
    """
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["$: apiVersion and kind must be strings"]
    if api_version in CRD_API_VERSIONS:
        return []
    validator = _validator(version, api_version, kind)
    if validator is None:
        hint = "a custom resource needs its apiVersion in CRD_API_VERSIONS"
        return [f"$: Kubernetes {version} has no {kind} in {api_version} ({hint})"]
    errors = sorted(validator.iter_errors(obj), key=lambda error: (error.json_path, error.message))
    return [f"{error.json_path}: {error.message}" for error in errors]


@functools.cache
def _validator(version: str, api_version: str, kind: str) -> Draft202012Validator | None:
    """Build the validator of one kind, or None when the version has no schema for it."""
    try:
        schema = kv.schema_contents(f"{_schema_dir(version)}/{_schema_file(api_version, kind)}", version)
    except FileNotFoundError:
        return None
    return Draft202012Validator(schema, registry=_definitions(version))


@functools.cache
def _definitions(version: str) -> Registry[Any]:
    """Load the shared definitions that every kind's schema refers to, once per version."""
    definitions = kv.schema_contents(f"{_schema_dir(version)}/_definitions.json", version)
    return Resource.from_contents(definitions) @ Registry()


def _schema_dir(version: str) -> str:
    """Name the strict schema directory of a minor version, which must be bundled exactly.

    kubernetes-validate would fall back to an older version; a test must not.
    """
    bundled = {kv.major_minor(full): full for full in kv.all_versions()}
    if version not in bundled:
        message = f"kubernetes-validate has no schemas for Kubernetes {version}; it has {sorted(bundled)}"
        raise ValueError(message)
    return f"kubernetes-json-schema/v{bundled[version]}-local-strict"


def _schema_file(api_version: str, kind: str) -> str:
    """Name a kind's schema file as kubernetes-validate does: rbac.authorization.k8s.io/v1 -> rbac-v1."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}.json"
