"""The files Grafana reads at start: grafana.ini and its datasources provisioning file (`apiVersion: 1`).

The dashboards provisioning file is grafana_folders' (it follows the dashboards' layout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmc.components.dashboards import PROMETHEUS_NAME, PROMETHEUS_UID, has_prometheus
from kmc.model import SecretRef, Stack

# What kmc sets, before the stack's own `grafana.ini` settings: nothing reaches out to the
# internet at start (no update checks, usage reports, news or plugin pre-installs), logs go to
# the console, and the paths are where the pod mounts its volumes.
BASE_INI: Mapping[str, Mapping[str, str]] = {
    "analytics": {"check_for_plugin_updates": "false", "check_for_updates": "false", "feedback_links_enabled": "false", "reporting_enabled": "false"},
    "log": {"mode": "console"},
    "news": {"news_feed_enabled": "false"},
    "paths": {"data": "/var/lib/grafana", "plugins": "/var/lib/grafana/plugins", "provisioning": "/etc/grafana/provisioning"},
    "plugins": {"preinstall_disabled": "true"},
    "security": {"disable_gravatar": "true"},
    "server": {"http_port": "3000"},
    "snapshots": {"external_enabled": "false"},
    "users": {"allow_sign_up": "false"},
}


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def grafana_ini(stack: Stack) -> str:
    """grafana.ini: kmc's settings, anonymous access (Viewer only), then the stack's settings."""
    sections: dict[str, dict[str, str]] = {name: dict(settings) for name, settings in BASE_INI.items()}
    sections["auth.anonymous"] = {"enabled": "true", "org_role": "Viewer"} if stack.grafana.anonymous else {"enabled": "false"}
    for name, settings in stack.grafana.ini.items():
        sections.setdefault(name, {}).update({key: _ini_value(value) for key, value in settings.items()})
    lines = ["# Compiled by kmc. Credentials are read from Secrets mounted as files (GF_*__FILE), never from this file."]
    for name in sorted(sections):
        lines += ["", f"[{name}]", *(f"{key} = {value}" for key, value in sorted(sections[name].items()))]
    return "\n".join(lines) + "\n"


SECRETS_DIR = "/etc/grafana-secrets"


def secret_file(ref: SecretRef) -> str:
    """Where the pod mounts key `ref.key` of Secret `ref.secret_name`."""
    return f"{SECRETS_DIR}/{ref.secret_name}/{ref.key}"


def _literal(value: Any) -> Any:
    """`value` as Grafana reads it back from a provisioning file, which expands `$VAR` and `${VAR}`."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, Mapping):
        return {key: _literal(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_literal(child) for child in value]
    return value


def datasources_file(stack: Stack, prometheus_url: str) -> dict[str, Any]:
    """The datasources provisioning file: the stack's Prometheus first (where it runs beside
    Grafana: kmc.check.dependencies), then the stack's own."""
    sources = stack.grafana.datasources
    prometheus = {
        "name": PROMETHEUS_NAME,
        "uid": PROMETHEUS_UID,
        "type": "prometheus",
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": not any(source.settings.get("isDefault") for source in sources),
        "editable": False,
        "jsonData": {"httpMethod": "POST", "timeInterval": stack.prometheus.scrape_interval},
    }
    entries = [prometheus] if has_prometheus(stack) else []
    for source in sources:
        entry: dict[str, Any] = {"name": source.name, "uid": source.uid, "type": source.type, "access": "proxy", "url": source.url}
        entry.update(_literal(dict(source.settings)))
        entry["editable"] = False
        if source.json_data:
            entry["jsonData"] = _literal(dict(source.json_data))
        if source.secure_json_data:
            # Grafana reads `$__file{PATH}` from the mounted Secret when it provisions the datasource.
            entry["secureJsonData"] = {field: f"$__file{{{secret_file(ref)}}}" for field, ref in source.secure_json_data.items()}
        entries.append(entry)
    # prune: a datasource removed from the stack is removed from Grafana too.
    return {"apiVersion": 1, "prune": True, "datasources": entries}
