"""What a stack may set of Grafana's configuration: credentials only from Secrets
(`grafana.secretSettings`, a reviewed list), everything else in grafana.ini, and neither what kmc
sets and relies on — so no stack makes anonymous users more than Viewers or moves the paths kmc
mounts and the port it probes.

Grafana reads `[section] key` from the variable `GF_<SECTION>_<KEY>` (section dots and dashes and
key dots as `_`, upper case), for every key its configuration files hold, and a variable wins over
the files (grafana/grafana pkg/setting/setting.go, applyEnvVariableOverrides and EnvKey); the
image's entrypoint exports each `GF_*__FILE` as `GF_*` with the file's content
(packaging/docker/run.sh). The names below are keys of Grafana's conf/defaults.ini.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from stack_diagnostics import diagnostics

from kmc import pipeline
from kmc.check import grafana_settings
from kmc.check.grafana_settings import CREDENTIALS, OWNED, SECRET_SETTINGS, env_name
from kmc.components import grafana
from kmc.components.grafana_files import BASE_INI
from kmc.errors import StackInvalid

HEAD = "version: 1\ngrafana:\n  enabled: true\n"
REF = "{secretName: grafana-creds, key: value}"


def _secret_settings(*names: str) -> str:
    return HEAD + "  secretSettings:\n" + "".join(f"    {name}: {REF}\n" for name in names)


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        ("GF_AUTH_ANONYMOUS_ORG_ROLE", "GF_AUTH_ANONYMOUS_ORG_ROLE is set by kmc", "anonymous access is set by grafana.anonymous and is Viewer only"),
        ("GF_AUTH_ANONYMOUS_ENABLED", "GF_AUTH_ANONYMOUS_ENABLED is set by kmc", "anonymous access is set by grafana.anonymous and is Viewer only"),
        ("GF_PATHS_PROVISIONING", "GF_PATHS_PROVISIONING is set by kmc", "Grafana's paths and port are kmc's: it mounts and probes them"),
        ("GF_SERVER_HTTP_PORT", "GF_SERVER_HTTP_PORT is set by kmc", "Grafana's paths and port are kmc's: it mounts and probes them"),
        ("GF_SERVER_PROTOCOL", "GF_SERVER_PROTOCOL is set by kmc", "Grafana's paths and port are kmc's: it mounts and probes them"),
        (
            "GF_SECURITY_ADMIN_PASSWORD",
            "GF_SECURITY_ADMIN_PASSWORD is set by kmc from grafana.adminSecret",
            "name the Secret and its keys in grafana.adminSecret",
        ),
        ("GF_SECURITY_SECRET_KEY", "GF_SECURITY_SECRET_KEY is set by kmc from grafana.adminSecret", "name the Secret and its keys in grafana.adminSecret"),
        ("GF_DATABASE_PASSWORD__FILE", "GF_DATABASE_PASSWORD__FILE ends in __FILE, which kmc adds itself", "write GF_DATABASE_PASSWORD"),
        ("GF_DATABASE_PASSWD", "GF_DATABASE_PASSWD is not one of the Grafana credentials kmc reads from Secrets", "did you mean GF_DATABASE_PASSWORD?"),
        (
            "GF_USERS_DEFAULT_THEME",
            "GF_USERS_DEFAULT_THEME is not one of the Grafana credentials kmc reads from Secrets",
            "grafana.secretSettings takes only the credentials listed in docs/grafana.md: set it in grafana.ini (not a credential)",
        ),
        (
            "GF_AUTH_PROXY_ENABLED",
            "GF_AUTH_PROXY_ENABLED is not one of the Grafana credentials kmc reads from Secrets",
            "grafana.secretSettings takes only the credentials listed in docs/grafana.md: set it in grafana.ini (not a credential)",
        ),
        (
            "GF_METRICS_BASIC_AUTH_PASSWORD",
            "GF_METRICS_BASIC_AUTH_PASSWORD is not one of the Grafana credentials kmc reads from Secrets",
            "grafana.secretSettings takes only the credentials listed in docs/grafana.md",
        ),
    ],
)
def test_secret_settings_refused_at_their_key(tmp_path: Path, name: str, message: str, hint: str) -> None:
    assert diagnostics(tmp_path, _secret_settings(name)) == [("error", 5, 5, f"$.grafana.secretSettings.{name}", message, hint)]


@pytest.mark.parametrize(
    ("ini", "column", "path", "message", "hint"),
    [
        (
            "{auth.anonymous: {org_role: Admin}}",
            9,
            "$.grafana.ini['auth.anonymous']",
            "grafana.ini section [auth.anonymous] is set by kmc",
            "anonymous access is set by grafana.anonymous and is Viewer only",
        ),
        (
            "{paths: {data: /tmp}}",
            9,
            "$.grafana.ini.paths",
            "grafana.ini section [paths] is set by kmc",
            "Grafana's paths and port are kmc's: it mounts and probes them",
        ),
        (
            "{server: {http_port: 8080}}",
            18,
            "$.grafana.ini.server.http_port",
            "grafana.ini key server.http_port is set by kmc",
            "Grafana's paths and port are kmc's: it mounts and probes them",
        ),
        (
            "{server: {http_addr: 127.0.0.1}}",
            18,
            "$.grafana.ini.server.http_addr",
            "grafana.ini key server.http_addr is set by kmc",
            "Grafana's paths and port are kmc's: it mounts and probes them",
        ),
        (
            "{security: {admin_password: admin}}",
            20,
            "$.grafana.ini.security.admin_password",
            "grafana.ini key security.admin_password is set by kmc",
            "name the Secret and its keys in grafana.adminSecret",
        ),
        (
            "{smtp: {password: hunter2}}",
            16,
            "$.grafana.ini.smtp.password",
            "grafana.ini key smtp.password holds a credential",
            "grafana.ini goes into a ConfigMap: read it from a Secret with grafana.secretSettings: {GF_SMTP_PASSWORD: {secretName: ..., key: ...}}",
        ),
        (
            "{metrics: {basic_auth_password: x}}",
            19,
            "$.grafana.ini.metrics.basic_auth_password",
            "grafana.ini key metrics.basic_auth_password holds a credential",
            "grafana.ini goes into a ConfigMap, and grafana.secretSettings takes only the credentials listed in docs/grafana.md: leave it out",
        ),
    ],
)
def test_ini_refuses_what_kmc_sets_at_its_key(tmp_path: Path, ini: str, column: int, path: str, message: str, hint: str) -> None:
    assert diagnostics(tmp_path, HEAD + f"  ini: {ini}\n") == [("error", 4, column, path, message, hint)]


def test_every_credential_is_accepted_and_mounted(tmp_path: Path) -> None:
    names = sorted(SECRET_SETTINGS)
    env = _grafana_env(tmp_path, _secret_settings(*names))
    assert {name: env[f"{name}__FILE"] for name in names} == dict.fromkeys(names, "/etc/grafana-secrets/grafana-creds/value")


def test_the_lists_name_grafanas_variables() -> None:
    """Each credential is a key of a section, spelled as Grafana derives its variable; none is a
    setting kmc writes into grafana.ini or owns, so no credential undoes kmc's settings."""
    assert env_name("auth.generic_oauth", "client_secret") == "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"
    assert env_name("plugin.grafana-image-renderer", "rendering_args") == "GF_PLUGIN_GRAFANA_IMAGE_RENDERER_RENDERING_ARGS"
    assert len(SECRET_SETTINGS) == len(CREDENTIALS) == 34
    written = {env_name(section, key) for section, keys in BASE_INI.items() for key in keys} | {
        env_name("auth.anonymous", key) for key in ("enabled", "org_role")
    }
    assert not SECRET_SETTINGS & written
    assert not [name for name in SECRET_SETTINGS if grafana_settings.variable_owner(name)]
    assert all(grafana_settings.variable_owner(name) for name in grafana.ADMIN_SETTINGS)
    assert all(grafana_settings.owner(section, key) for section in ("paths", "auth.anonymous") for key in BASE_INI.get(section, {"enabled": ""}))
    assert {(section, key) for section, key, _ in OWNED} >= {("server", "http_port"), ("auth.anonymous", None), ("paths", None)}


# --- no stack makes anonymous users more than Viewers or moves Grafana's paths and port ------------

ANONYMOUS_OR_OWNED = (
    "GF_AUTH_ANONYMOUS_ENABLED",
    "GF_AUTH_ANONYMOUS_ORG_ROLE",
    "GF_AUTH_ANONYMOUS_ORG_NAME",
    "GF_PATHS_DATA",
    "GF_PATHS_PLUGINS",
    "GF_PATHS_PROVISIONING",
    "GF_PATHS_LOGS",
    "GF_SERVER_HTTP_PORT",
    "GF_SERVER_HTTP_ADDR",
    "GF_SERVER_PROTOCOL",
    "GF_SECURITY_ADMIN_USER",
    "GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION",
    "GF_USERS_AUTO_ASSIGN_ORG_ROLE",
    "GF_AUTH_PROXY_ENABLED",
)
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
_SECTIONS = ("auth.anonymous", "paths", "server", "security", "users", "database", "smtp", "auth.generic_oauth", "log", "analytics")
_KEYS = ("enabled", "org_role", "data", "provisioning", "http_port", "http_addr", "protocol", "admin_user", "password", "root_url", "client_secret", "mode")
setting_names = st.one_of(
    st.sampled_from(sorted(SECRET_SETTINGS)),
    st.sampled_from(ANONYMOUS_OR_OWNED),
    st.builds(env_name, st.sampled_from(_SECTIONS) | st.from_regex(r"[a-z][a-z0-9_.-]{0,12}", fullmatch=True), st.sampled_from(_KEYS)),
    st.text(_UPPER, min_size=1, max_size=24).map(lambda tail: "GF_" + tail),
)
# grafana.ini sections and keys, the owned ones among them; values a ConfigMap may hold.
ini_settings = st.dictionaries(
    st.sampled_from(_SECTIONS),
    st.dictionaries(
        st.sampled_from(tuple(key for key in _KEYS if not grafana_settings.CREDENTIAL.search(key))), st.sampled_from(("Admin", "9090", "/tmp", "true"))
    ),
    max_size=3,
)
examples = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _compiled_grafana(tmp_path: Path, text: str) -> dict[str, Any]:
    (tmp_path / "stack.yaml").write_text(text, encoding="utf-8")
    graph = pipeline.compile_stack(tmp_path / "stack.yaml", "stack.yaml").graph
    return {obj.kind: obj.body for obj in graph.objects if obj.component == grafana.NAME and obj.name == grafana.NAME}


def _grafana_env(tmp_path: Path, text: str) -> dict[str, str]:
    (container,) = _compiled_grafana(tmp_path, text)["Deployment"]["spec"]["template"]["spec"]["containers"]
    return {var["name"]: var["value"] for var in container["env"]}


@examples
@given(names=st.sets(setting_names, max_size=3), ini=ini_settings, anonymous=st.booleans())
def test_no_stack_raises_anonymous_users_or_moves_paths_and_port(tmp_path: Path, names: set[str], ini: dict[str, dict[str, str]], anonymous: bool) -> None:
    names = {name for name in names if re.fullmatch(r"GF_[A-Z0-9_]+", name)}
    doc = {
        "version": 1,
        "grafana": {
            "enabled": True,
            "anonymous": {"enabled": anonymous},
            "ini": ini,
            "secretSettings": {name: {"secretName": "s", "key": "k"} for name in sorted(names)},
        },
    }
    text = yaml.safe_dump(doc, sort_keys=False)
    refused = {name for name in names if name not in SECRET_SETTINGS}
    owned = {_json_path(section) for section in ini if grafana_settings.owner(section)}
    owned |= {
        _json_path(section, key)
        for section, keys in ini.items()
        for key in keys
        if not grafana_settings.owner(section) and grafana_settings.owner(section, key)
    }
    try:
        objects = _compiled_grafana(tmp_path, text)
    except StackInvalid as error:
        event("refused")
        found = {d.path for d in error.diagnostics}
        assert refused or owned, found
        assert {f"$.grafana.secretSettings.{name}" for name in refused} <= found
        assert owned <= found
        return
    event("accepted")
    assert not refused and not owned
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    variables = {var["name"].removesuffix("__FILE") for var in container["env"]}
    assert variables <= SECRET_SETTINGS | set(grafana.ADMIN_SETTINGS)
    assert not [name for name in variables if name.startswith(("GF_AUTH_ANONYMOUS_", "GF_PATHS_", "GF_SERVER_"))]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(objects["ConfigMap"]["data"]["grafana.ini"])
    assert dict(parser["auth.anonymous"]) == ({"enabled": "true", "org_role": "Viewer"} if anonymous else {"enabled": "false"})
    assert dict(parser["paths"]) == BASE_INI["paths"]
    assert dict(parser["server"]).get("http_port") == "3000"
    assert {"protocol", "http_addr"}.isdisjoint(parser["server"])


def _json_path(section: str, key: str | None = None) -> str:
    path = "$.grafana.ini" + (f".{section}" if "." not in section else f"[{section!r}]")
    return path if key is None else f"{path}.{key}"
