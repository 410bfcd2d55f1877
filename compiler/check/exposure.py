"""Semantic checks of the UIs' `expose` sections (called from kmc.check.semantic)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kmc.components.exposure import SECTIONS as UIS
from kmc.components.exposure import possessive
from kmc.ir import lookup
from kmc.model import Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str, bool]
# Keys of `expose` that are the stack's, the same in every environment, and why.
COMPILE_TIME = {
    "path": "the path prefix reaches compiled configuration (datasource URLs, prometheus.yml)",
    "tls": "the Ingress' cert-manager annotation is chosen at compile time",
}
KINDS = {"ingress": "an Ingress", "httpRoute": "an HTTPRoute"}


def problems(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    """Errors: compile-time keys set per environment, exposure without a host, Gateway or TLS."""
    for section, title, switch in UIS:
        own = data.get(section, {}).get("expose", {})
        tls = own.get("tls", {}) if isinstance(own, Mapping) else {}
        if "clusterIssuer" in tls and "issuer" in tls:
            yield (
                (section, "expose", "tls"),
                "expose.tls names both a clusterIssuer and an issuer",
                "cert-manager takes one: keep the one that signs the certificate",
                False,
            )
        for env in (None, *stack.environments):
            written = _written(data, env, section)
            base: JsonPath = ("environments", env, section, "expose") if env else (section, "expose")
            if env:
                yield from _compile_time(written, own, base, section, env)
            values = stack.values(env)
            if (switch and not lookup(values, switch)) or (env and _as_the_stacks(stack, env, section, switch)):
                continue  # off, or as the stack's own values: reported there
            expose = values[section]["expose"]
            for kind, what in KINDS.items():
                if not expose[kind]["enabled"]:
                    continue
                where = (*base, kind, "enabled") if kind in written and "enabled" in written[kind] else (section, "expose", kind, "enabled")
                suffix = f" in environment {env!r}" if env else ""
                if not expose.get("host"):
                    yield (where, f"{title} has {what} but no expose.host{suffix}", "set the public host name the route serves: expose.host", False)
                if kind == "httpRoute" and not expose[kind]["parentRefs"]:
                    yield (
                        where,
                        f"{possessive(title)} HTTPRoute names no Gateway{suffix}",
                        "list the Gateways it attaches to in expose.httpRoute.parentRefs",
                        False,
                    )
                if kind == "ingress" and "tls" not in expose:
                    yield (
                        where,
                        f"{possessive(title)} Ingress has no TLS{suffix}",
                        "the UI and its login would cross the network in clear text: set expose.tls.secretName (and clusterIssuer or issuer for cert-manager)",
                        False,
                    )
                if section == "prometheus" and stack.prometheus.shards > 1:
                    yield (
                        where,
                        "Prometheus has shards: there is no one Prometheus Service to expose",
                        "expose each shard's Service yourself, or query through Thanos Query",
                        False,
                    )
    yield from _prometheus_port(data, stack)
    yield from _grafana_url(data, stack)


def risks(data: Mapping[str, Any], stack: Stack) -> Iterator[tuple[JsonPath, str, str]]:
    """Warnings: a NetworkPolicy that would drop the ingress controller's or Gateway's traffic
    because the stack does not say which pods they are."""
    for section, title, switch in UIS:
        for env in (None, *stack.environments):
            values = stack.values(env)
            if (switch and not lookup(values, switch)) or not values[section]["networkPolicy"]["enabled"]:
                continue
            if env and _as_the_stacks(stack, env, section, switch, "networkPolicy"):
                continue  # reported for the stack's own values
            for kind, what in KINDS.items():
                settings = values[section]["expose"][kind]
                if settings["enabled"] and not settings["from"]:
                    written = _written(data, env, section).get(kind, {})
                    where: JsonPath = ("environments", env, section, "expose", kind) if env and written else (section, "expose", kind)
                    proxy = "ingress controller" if kind == "ingress" else "Gateway"
                    yield (
                        where,
                        f"{possessive(title)} NetworkPolicy will drop the traffic of {what}'s {proxy}" + (f" in environment {env!r}" if env else ""),
                        f"kmc cannot know which pods the {proxy} runs as: name them in {section}.expose.{kind}.from (namespaceSelector and podSelector)",
                    )


def _as_the_stacks(stack: Stack, env: str, section: str, switch: str | None, *keys: str) -> bool:
    """Whether environment `env` has the stack's own values for `section`'s exposure (and `keys`)."""
    own, here = stack.values(None), stack.values(env)
    paths = [f"{section}.{key}" for key in keys] + ([switch] if switch else [])
    per_environment = sorted({*own[section]["expose"], *here[section]["expose"]} - COMPILE_TIME.keys())  # the others are reported apart
    paths += [f"{section}.expose.{key}" for key in per_environment]
    return all(lookup(own, path) == lookup(here, path) for path in paths)


def _written(data: Mapping[str, Any], env: str | None, section: str) -> Mapping[str, Any]:
    where = data.get("environments", {}).get(env, {}) if env else data
    found = where.get(section, {}).get("expose", {})
    return found if isinstance(found, Mapping) else {}


def _compile_time(written: Mapping[str, Any], own: Mapping[str, Any], base: JsonPath, section: str, env: str) -> Iterator[Problem]:
    for key, why in COMPILE_TIME.items():
        if key in written and written[key] != own.get(key):
            yield (
                (*base, key),
                f"environment {env!r} sets {section}.expose.{key}, which is the same in every environment",
                f"{why}: set it once, at the top level",
                False,
            )


def _prometheus_port(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    own = stack.parameters["prometheus"]["service"]["port"]
    for env in stack.environments:
        written = data["environments"][env].get("prometheus", {}).get("service", {})
        if "port" in written and written["port"] != own:
            yield (
                ("environments", env, "prometheus", "service", "port"),
                f"environment {env!r} sets prometheus.service.port, which is the same in every environment",
                "the stack's own clients (Grafana, prometheus-adapter) reach Prometheus at a URL compiled with it: set it once, at the top level",
                False,
            )


def _grafana_url(data: Mapping[str, Any], stack: Stack) -> Iterator[Problem]:
    server = stack.grafana.ini.get("server", {})
    if not stack.enabled_somewhere("grafana.expose.host"):
        return
    for key in ("root_url", "serve_from_sub_path"):
        if key in server:
            yield (
                ("grafana", "ini", "server", key),
                f"grafana.ini sets server.{key}, and grafana.expose sets it too",
                "kmc sets Grafana's root_url (and serve_from_sub_path) from expose.host and expose.path: remove it from grafana.ini",
                False,
            )
