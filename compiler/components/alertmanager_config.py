"""alertmanager.yml, compiled from the stack's `alertmanager` section.

Every secret a receiver needs is a Secret key mounted under SECRETS_DIR and named through the
`*_file` field Alertmanager has for it (webhook `url_file`, Slack `api_url_file`, e-mail
`auth_password_file`, PagerDuty `routing_key_file`/`service_key_file`, all in 0.28), so the
compiled file holds no secret and can live in a ConfigMap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kmc.model import Alertmanager, SecretRef

SECRETS_DIR = "/etc/alertmanager-secrets"  # beside the config mount, not in it: no mount nests in another

# Stack key → alertmanager.yml key, in the order they are written.
_ROUTE_KEYS = (
    ("receiver", "receiver"),
    ("groupBy", "group_by"),
    ("groupWait", "group_wait"),
    ("groupInterval", "group_interval"),
    ("repeatInterval", "repeat_interval"),
    ("matchers", "matchers"),
    ("continue", "continue"),
)
# Receiver kind → (alertmanager.yml key, plain fields, secret fields), stack key → file key.
_RECEIVERS: Mapping[str, tuple[str, Mapping[str, str], Mapping[str, str]]] = {
    "webhookConfigs": ("webhook_configs", {"sendResolved": "send_resolved", "maxAlerts": "max_alerts"}, {"url": "url_file"}),
    "emailConfigs": (
        "email_configs",
        {"to": "to", "from": "from", "smarthost": "smarthost", "authUsername": "auth_username", "requireTls": "require_tls", "sendResolved": "send_resolved"},
        {"authPassword": "auth_password_file"},
    ),
    "slackConfigs": ("slack_configs", {"channel": "channel", "sendResolved": "send_resolved"}, {"apiUrl": "api_url_file"}),
    "pagerdutyConfigs": ("pagerduty_configs", {"sendResolved": "send_resolved"}, {"routingKey": "routing_key_file", "serviceKey": "service_key_file"}),
}


def secret_file(ref: SecretRef) -> str:
    return f"{SECRETS_DIR}/{ref.secret_name}/{ref.key}"


def config(alertmanager: Alertmanager) -> dict[str, Any]:
    """The whole alertmanager.yml as data."""
    out: dict[str, Any] = {"route": _route(alertmanager.route), "receivers": [_receiver(receiver) for receiver in alertmanager.receivers]}
    if alertmanager.inhibit_rules:
        out["inhibit_rules"] = [_inhibit(rule) for rule in alertmanager.inhibit_rules]
    return out


def _route(route: Mapping[str, Any]) -> dict[str, Any]:
    out = {target: route[key] for key, target in _ROUTE_KEYS if key in route}
    if route.get("routes"):
        out["routes"] = [_route(child) for child in route["routes"]]
    return out


def _receiver(receiver: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver["name"]}
    for kind, (target, plain, secrets) in _RECEIVERS.items():
        if receiver.get(kind):
            out[target] = [_integration(entry, plain, secrets) for entry in receiver[kind]]
    return out


def _integration(entry: Mapping[str, Any], plain: Mapping[str, str], secrets: Mapping[str, str]) -> dict[str, Any]:
    out = {target: entry[key] for key, target in plain.items() if key in entry}
    out.update({target: secret_file(_ref(entry[key])) for key, target in secrets.items() if key in entry})
    return out


def _inhibit(rule: Mapping[str, Any]) -> dict[str, Any]:
    out = {"source_matchers": rule["sourceMatchers"], "target_matchers": rule["targetMatchers"]}
    if rule.get("equal"):
        out["equal"] = rule["equal"]
    return out


def _ref(data: Mapping[str, str]) -> SecretRef:
    return SecretRef(data["secretName"], data["key"])


def secret_refs(alertmanager: Alertmanager) -> list[SecretRef]:
    """Every Secret key the receivers name, sorted and once each."""
    return sorted(set(_refs(alertmanager)), key=lambda ref: (ref.secret_name, ref.key))


def _refs(alertmanager: Alertmanager) -> Iterator[SecretRef]:
    return (ref for ref, _ in secret_uses(alertmanager))


def secret_uses(alertmanager: Alertmanager) -> Iterator[tuple[SecretRef, str]]:
    """Every Secret key the receivers name, with the receiver that reads it, in the stack's order."""
    for receiver in alertmanager.receivers:
        for kind, (_, _, secrets) in _RECEIVERS.items():
            for entry in receiver.get(kind, ()):
                yield from ((_ref(entry[key]), f"Alertmanager's receiver {receiver['name']!r} ({kind}.{key})") for key in secrets if key in entry)
