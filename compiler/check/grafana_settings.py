"""Which Grafana settings a stack may set, and where: credentials from Secrets
(`grafana.secretSettings`), everything else in `grafana.ini` — and neither may touch what kmc
sets and relies on (anonymous access, the paths it mounts, the port it probes, the admin login).

Grafana reads a setting `[section] key` from the environment variable `GF_<SECTION>_<KEY>` (dots
and dashes of the section and dots of the key as `_`, upper case), and only for the keys its
configuration files hold: its own `conf/defaults.ini` and kmc's grafana.ini (pkg/setting, function
applyEnvVariableOverrides). So a variable wins over grafana.ini, and `GF_AUTH_ANONYMOUS_ORG_ROLE`
from a Secret would make anonymous users Admin behind `grafana.anonymous`'s back: secretSettings
takes only the credentials listed here, each a key of Grafana's defaults.ini.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str, bool]  # path, message, hint, at the key

ANONYMOUS = "anonymous access is set by grafana.anonymous and is Viewer only"
PATHS = "Grafana's paths and port are kmc's: it mounts and probes them"
ADMIN = "name the Secret and its keys in grafana.adminSecret"

# The credentials of Grafana's configuration (`[section] key` of conf/defaults.ini, Grafana 11 and
# 12): the values a stack reads from Secrets. Paths to key files are not here (a Secret mounted
# by kmc has a path of kmc's choosing), nor are LDAP's bind password (in ldap.toml, not
# grafana.ini), auth.jwt's keys (public keys, named by path or URL) or the plugins' own settings.
CREDENTIALS: tuple[tuple[str, str], ...] = (
    # The database's login, or its whole URL (`postgres://user:password@host/name`).
    ("database", "user"),
    ("database", "password"),
    ("database", "url"),
    # Redis' or memcached's connection string, which holds Redis' password.
    ("remote_cache", "connstr"),
    # The SMTP server's login.
    ("smtp", "user"),
    ("smtp", "password"),
    # Each OAuth provider's client.
    *(
        (f"auth.{provider}", key)
        for provider in ("azuread", "generic_oauth", "github", "gitlab", "google", "grafana_com", "okta")
        for key in ("client_id", "client_secret")
    ),
    # The Entra ID application Grafana exchanges users' tokens with (on-behalf-of).
    ("azure", "user_identity_client_secret"),
    # The stores alert screenshots and images are uploaded to.
    ("external_image_storage.s3", "access_key"),
    ("external_image_storage.s3", "secret_key"),
    ("external_image_storage.webdav", "username"),
    ("external_image_storage.webdav", "password"),
    ("external_image_storage.azure_blob", "account_name"),
    ("external_image_storage.azure_blob", "account_key"),
    # The token Grafana and a remote image renderer share.
    ("rendering", "renderer_token"),
    # Alerting's high availability over Redis, its state history in Loki, a remote Alertmanager.
    ("unified_alerting", "ha_redis_username"),
    ("unified_alerting", "ha_redis_password"),
    ("unified_alerting.state_history", "loki_basic_auth_username"),
    ("unified_alerting.state_history", "loki_basic_auth_password"),
    ("remote.alertmanager", "password"),
    # Grafana Live's high availability engine (Redis).
    ("live", "ha_engine_password"),
)

# What kmc sets and relies on: a whole section (key None) or one key, with why a stack may not.
OWNED: tuple[tuple[str, str | None, str], ...] = (
    ("auth.anonymous", None, ANONYMOUS),
    ("paths", None, PATHS),
    ("server", "http_port", PATHS),
    ("server", "http_addr", PATHS),
    ("server", "protocol", PATHS),
    ("security", "admin_user", ADMIN),
    ("security", "admin_password", ADMIN),
    ("security", "secret_key", ADMIN),
    ("security", "disable_initial_admin_creation", ADMIN),
)

# Keys whose values are credentials by their name.
CREDENTIAL = re.compile(r"password|secret|token|api_?key|private_?key|credential", re.IGNORECASE)


def env_name(section: str, key: str) -> str:
    """The environment variable Grafana reads `[section] key` from."""
    return "GF_" + re.sub(r"[.-]", "_", section).upper() + "_" + key.replace(".", "_").upper()


SECRET_SETTINGS: frozenset[str] = frozenset(env_name(section, key) for section, key in CREDENTIALS)


def owner(section: str, key: str | None = None) -> str | None:
    """Why kmc owns `[section]` (key None) or `[section] key`, or None when it does not."""
    for owned_section, owned_key, why in OWNED:
        if section == owned_section and (owned_key is None or owned_key == key):
            return why
    return None


def variable_owner(name: str) -> str | None:
    """Why kmc owns the setting the environment variable `name` overrides, or None."""
    for section, key, why in OWNED:
        if name == env_name(section, key or "") or (key is None and name.startswith(env_name(section, ""))):
            return why
    return None


def problems(stack: Stack) -> Iterator[Problem]:
    """What the stack's grafana.ini and secretSettings may not set, each at its key."""
    yield from _ini(stack.grafana.ini)
    yield from _secret_settings(stack.grafana.secret_settings)


def _ini(ini: Mapping[str, Mapping[str, Any]]) -> Iterator[Problem]:
    for section, settings in ini.items():
        where: JsonPath = ("grafana", "ini", section)
        if (why := owner(section)) is not None:
            yield where, f"grafana.ini section [{section}] is set by kmc", why, True
            continue
        for key, value in settings.items():
            if (why := owner(section, key)) is not None:
                yield (*where, key), f"grafana.ini key {section}.{key} is set by kmc", why, True
            elif isinstance(value, str) and ("\n" in value or "$" in value):
                yield (
                    (*where, key),
                    f"grafana.ini value {section}.{key} holds a line break or `$`",
                    "Grafana would read a `$` as the start of a variable, a line break as the end of the setting",
                    False,
                )
            elif CREDENTIAL.search(key):
                yield (*where, key), f"grafana.ini key {section}.{key} holds a credential", _credential_hint(env_name(section, key)), True


def _credential_hint(name: str) -> str:
    if name in SECRET_SETTINGS:
        return f"grafana.ini goes into a ConfigMap: read it from a Secret with grafana.secretSettings: {{{name}: {{secretName: ..., key: ...}}}}"
    return "grafana.ini goes into a ConfigMap, and grafana.secretSettings takes only the credentials listed in docs/grafana.md: leave it out"


def _secret_settings(settings: Mapping[str, Any]) -> Iterator[Problem]:
    for name in settings:
        where: JsonPath = ("grafana", "secretSettings", name)
        if name.endswith("__FILE"):
            yield where, f"{name} ends in __FILE, which kmc adds itself", f"write {name.removesuffix('__FILE')}", True
        elif (why := variable_owner(name)) == ADMIN:
            yield where, f"{name} is set by kmc from grafana.adminSecret", why, True
        elif why is not None:
            yield where, f"{name} is set by kmc", why, True
        elif name not in SECRET_SETTINGS:
            yield where, f"{name} is not one of the Grafana credentials kmc reads from Secrets", _not_credential_hint(name), True


def _not_credential_hint(name: str) -> str:
    import difflib  # only to explain a mistake

    close = difflib.get_close_matches(name, sorted(SECRET_SETTINGS), n=1, cutoff=0.8)
    if close:
        return f"did you mean {close[0]}?"
    if CREDENTIAL.search(name):
        return "grafana.secretSettings takes only the credentials listed in docs/grafana.md"
    return "grafana.secretSettings takes only the credentials listed in docs/grafana.md: set it in grafana.ini (not a credential)"
