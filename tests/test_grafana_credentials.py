"""No Grafana credential in any artefact kmc emits: no admin password (nor Grafana's public
defaults) in grafana.ini, a ConfigMap, a Secret or an environment value; credentials reach
Grafana only as files of Secrets the user creates; anonymous users are never more than Viewers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import ROOT

from kmc.check.grafana_settings import CREDENTIAL, SECRET_SETTINGS

OUTPUT_ROOTS = [*sorted(ROOT.glob("golden/*/out")), ROOT / "charts-out"]
SECRETS_DIR = "/etc/grafana-secrets/"
# Grafana's built-in admin password and secret_key: public, so never acceptable.
PUBLIC_DEFAULTS = (b"SW2YcwTIb9zpOOhoPsMm",)
INI_CREDENTIAL = re.compile(r"^\s*(admin_password|admin_user|secret_key|password|client_secret|api_key)\s*=", re.MULTILINE)
PRIVILEGED_ANONYMOUS = re.compile(rb"GF_AUTH_ANONYMOUS_ORG_ROLE|org_role\s*=\s*(Admin|Editor)", re.IGNORECASE)


def _documents(content: bytes) -> list[Any]:
    try:
        return [doc for doc in yaml.safe_load_all(content) if isinstance(doc, dict)]
    except yaml.YAMLError:
        return []  # Helm templates: covered by the text checks and by their rendered twins


def credentials(name: str, content: bytes) -> Iterator[str]:
    """Where `content` (a file called `name`) exposes a Grafana credential."""
    for default in PUBLIC_DEFAULTS:
        if default in content:
            yield f"{name}: Grafana's public default secret"
    if PRIVILEGED_ANONYMOUS.search(content):
        yield f"{name}: anonymous users above Viewer"
    for doc in _documents(content):
        labels = doc.get("metadata", {}).get("labels") or {}
        if doc.get("kind") == "Secret" and labels.get("app.kubernetes.io/name") == "grafana":
            yield f"{name}: kmc emitted a Grafana Secret"
        if doc.get("kind") == "ConfigMap":
            for key, text in (doc.get("data") or {}).items():
                if key.endswith(".ini") and INI_CREDENTIAL.search(str(text)):
                    yield f"{name}: {key} sets a credential"
                if key == "datasources.yaml":
                    yield from _datasources(name, yaml.safe_load(str(text)))
        yield from _containers(name, doc)


def _datasources(name: str, provisioning: dict[str, Any]) -> Iterator[str]:
    for source in provisioning["datasources"]:
        if {"password", "basicAuthPassword"} & set(source):
            yield f"{name}: datasource {source['uid']} has an inline password"
        for field, value in (source.get("secureJsonData") or {}).items():
            if not re.fullmatch(r"\$__file\{" + re.escape(SECRETS_DIR) + r"[^}]+\}", str(value)):
                yield f"{name}: datasource {source['uid']} secureJsonData.{field} is not read from a mounted Secret"


def _containers(name: str, doc: dict[str, Any]) -> Iterator[str]:
    pod = (doc.get("spec") or {}).get("template", {}).get("spec", {})
    for container in pod.get("containers", []):
        for var in container.get("env", []):
            if not var["name"].startswith("GF_"):
                continue
            if "valueFrom" in var:
                yield f"{name}: {var['name']} holds a Secret's value in the environment"
            elif var["name"].endswith("__FILE"):
                if not str(var.get("value", "")).startswith(SECRETS_DIR):
                    yield f"{name}: {var['name']} names a file outside the mounted Secrets"
            elif var["name"] in SECRET_SETTINGS or CREDENTIAL.search(var["name"]):
                yield f"{name}: {var['name']} is set to a value, not to a mounted Secret file"
            # Any other setting (the public URL an exposed Grafana is reached at) is no credential.


def test_outputs_have_grafana() -> None:
    assert len([root for root in OUTPUT_ROOTS if any(root.glob("manifests/*/12-deployment-grafana.yaml"))]) >= 3


@pytest.mark.parametrize("root", OUTPUT_ROOTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_output_file_exposes_a_grafana_credential(root: Path) -> None:
    files = sorted(path for path in root.rglob("*") if path.is_file())
    found = [problem for path in files for problem in credentials(str(path.relative_to(ROOT)), path.read_bytes())]
    assert not found, found


def _deployment(env: list[dict[str, Any]]) -> bytes:
    pod = {"containers": [{"name": "grafana", "env": env}]}
    return yaml.safe_dump({"kind": "Deployment", "metadata": {"name": "grafana"}, "spec": {"template": {"spec": pod}}}).encode()


def _config_map(key: str, text: str) -> bytes:
    return yaml.safe_dump({"kind": "ConfigMap", "metadata": {"name": "grafana"}, "data": {key: text}}).encode()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(_deployment([{"name": "GF_SECURITY_ADMIN_PASSWORD", "value": "hunter2"}]), "not to a mounted Secret file", id="env-value"),
        pytest.param(
            _deployment([{"name": "GF_SECURITY_ADMIN_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "a", "key": "b"}}}]),
            "holds a Secret's value in the environment",
            id="env-from-secret",
        ),
        pytest.param(_config_map("grafana.ini", "[security]\nadmin_password = admin\n"), "grafana.ini sets a credential", id="ini-password"),
        pytest.param(_config_map("grafana.ini", "[auth.anonymous]\norg_role = Admin\n"), "anonymous users above Viewer", id="anonymous-admin"),
        pytest.param(b"env:\n- name: GF_AUTH_ANONYMOUS_ORG_ROLE\n  value: Admin\n", "anonymous users above Viewer", id="anonymous-env"),
        pytest.param(
            _config_map("datasources.yaml", "datasources:\n- uid: a\n  secureJsonData: {password: hunter2}\n"),
            "secureJsonData.password is not read from a mounted Secret",
            id="inline-secure-json",
        ),
        pytest.param(
            _config_map("datasources.yaml", "datasources:\n- uid: a\n  basicAuthPassword: hunter2\n"), "has an inline password", id="inline-basic-auth"
        ),
        pytest.param(b"secret_key = SW2YcwTIb9zpOOhoPsMm\n", "public default secret", id="public-default"),
    ],
)
def test_scanner_finds_exposed_credentials(content: bytes, expected: str) -> None:
    assert any(expected in problem for problem in credentials("f.yaml", content))
