"""Semantic checks of the UIs' `expose` sections (called from kmc.check.semantic)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kmc.components.exposure import SECTIONS, THANOS_QUERY_KEY, Section, possessive, sections
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
    for ui in sections(stack):
        section, key, title, switch = ui.section, ui.key, ui.title, ui.switch
        own = data.get(section, {}).get(key, {})
        tls = own.get("tls", {}) if isinstance(own, Mapping) else {}
        if key == THANOS_QUERY_KEY and stack.parameters[section][key]["path"] != "/":
            yield (
                (section, key, "path"),
                f"Thanos Query is served at the root only, and {section}.{key}.path is {stack.parameters[section][key]['path']!r}",
                "kmc has not proved Thanos Query's probes and UI under --web.route-prefix: serve it on its own host, at path /",
                False,
            )
        if "clusterIssuer" in tls and "issuer" in tls:
            yield (
                (section, key, "tls"),
                "expose.tls names both a clusterIssuer and an issuer",
                "cert-manager takes one: keep the one that signs the certificate",
                False,
            )
        for env in (None, *stack.environments):
            written = _written(data, env, ui)
            base: JsonPath = ("environments", env, section, key) if env else (section, key)
            if env:
                yield from _compile_time(written, own, base, ui, env)
            values = stack.values(env)
            if (switch and not lookup(values, switch)) or (env and _as_the_stacks(stack, env, ui)):
                continue  # off, or as the stack's own values: reported there
            expose = values[section][key]
            for kind, what in KINDS.items():
                if not expose[kind]["enabled"]:
                    continue
                where = (*base, kind, "enabled") if kind in written and "enabled" in written[kind] else (section, key, kind, "enabled")
                suffix = f" in environment {env!r}" if env else ""
                if not expose.get("host"):
                    yield (where, f"{title} has {what} but no {key}.host{suffix}", f"set the public host name the route serves: {key}.host", False)
                if kind == "httpRoute" and not expose[kind]["parentRefs"]:
                    yield (
                        where,
                        f"{possessive(title)} HTTPRoute names no Gateway{suffix}",
                        f"list the Gateways it attaches to in {key}.httpRoute.parentRefs",
                        False,
                    )
                if kind == "ingress" and "tls" not in expose:
                    yield (
                        where,
                        f"{possessive(title)} Ingress has no TLS{suffix}",
                        f"the UI and its login would cross the network in clear text: set {key}.tls.secretName (and clusterIssuer or issuer for cert-manager)",
                        False,
                    )
                if ui.service == "prometheus" and stack.prometheus.shards > 1:
                    yield (
                        where,
                        "Prometheus has shards: there is no one Prometheus Service to expose",
                        "query through Thanos Query and expose it (prometheus.thanosQueryExpose), or expose each shard's Service yourself",
                        False,
                    )
    yield from _not_compiled(stack)
    yield from _prometheus_port(data, stack)
    yield from _grafana_url(data, stack)


def risks(data: Mapping[str, Any], stack: Stack) -> Iterator[tuple[JsonPath, str, str]]:
    """Warnings: a NetworkPolicy that would drop the ingress controller's or Gateway's traffic
    because the stack does not say which pods they are."""
    for ui in sections(stack):
        section, key, title, switch = ui.section, ui.key, ui.title, ui.switch
        for env in (None, *stack.environments):
            values = stack.values(env)
            if (switch and not lookup(values, switch)) or not values[section]["networkPolicy"]["enabled"]:
                continue
            if env and _as_the_stacks(stack, env, ui, "networkPolicy"):
                continue  # reported for the stack's own values
            for kind, what in KINDS.items():
                settings = values[section][key][kind]
                if settings["enabled"] and not settings["from"]:
                    written = _written(data, env, ui).get(kind, {})
                    where: JsonPath = ("environments", env, section, key, kind) if env and written else (section, key, kind)
                    proxy = "ingress controller" if kind == "ingress" else "Gateway"
                    yield (
                        where,
                        f"{possessive(title)} NetworkPolicy will drop the traffic of {what}'s {proxy}" + (f" in environment {env!r}" if env else ""),
                        f"kmc cannot know which pods the {proxy} runs as: name them in {section}.{key}.{kind}.from (namespaceSelector and podSelector)",
                    )


def _as_the_stacks(stack: Stack, env: str, ui: Section, *keys: str) -> bool:
    """Whether environment `env` has the stack's own values for `ui`'s exposure (and `keys` of its section)."""
    own, here = stack.values(None), stack.values(env)
    paths = [f"{ui.section}.{key}" for key in keys] + ([ui.switch] if ui.switch else [])
    per_environment = sorted({*own[ui.section][ui.key], *here[ui.section][ui.key]} - COMPILE_TIME.keys())  # the others are reported apart
    paths += [f"{ui.path}.{key}" for key in per_environment]
    return all(lookup(own, path) == lookup(here, path) for path in paths)


def _written(data: Mapping[str, Any], env: str | None, ui: Section) -> Mapping[str, Any]:
    where = data.get("environments", {}).get(env, {}) if env else data
    found = where.get(ui.section, {}).get(ui.key, {})
    return found if isinstance(found, Mapping) else {}


def _compile_time(written: Mapping[str, Any], own: Mapping[str, Any], base: JsonPath, ui: Section, env: str) -> Iterator[Problem]:
    for key, why in COMPILE_TIME.items():
        if key in written and written[key] != own.get(key):
            yield (
                (*base, key),
                f"environment {env!r} sets {ui.path}.{key}, which is the same in every environment",
                f"{why}: set it once, at the top level",
                False,
            )


def _not_compiled(stack: Stack) -> Iterator[Problem]:
    """An Ingress or HTTPRoute asked of a UI the stack does not compile (Thanos Query, off)."""
    for ui in SECTIONS:
        if ui in sections(stack):
            continue
        for env in (None, *stack.environments):
            written = stack.environments[env] if env else stack.values(None)  # an environment's own keys: each is reported once
            for kind, what in KINDS.items():
                if lookup(written, f"{ui.path}.{kind}.enabled"):
                    where: JsonPath = ("environments", env, ui.section, ui.key, kind, "enabled") if env else (ui.section, ui.key, kind, "enabled")
                    yield (
                        where,
                        f"{ui.path}.{kind} asks for {what} of {ui.title}, which the stack does not run",
                        "turn on prometheus.thanos.query.enabled, or remove the route",
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
