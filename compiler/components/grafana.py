"""Grafana: grafana.ini, provisioned datasources and dashboards, Service, Deployment.

Everything Grafana reads is compiled into ConfigMaps and mounted (no sidecar, no download);
credentials come only from Secrets, through environment variables. What Grafana reads once, at
start (grafana.ini, the provisioning files), rolls the pod when it changes; dashboards do not:
the kubelet updates their volumes and Grafana's providers read them again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from kmc.components import dashboards, exposure, grafana_folders, kube
from kmc.components.base import Facts, ServiceTarget
from kmc.components.grafana_files import SECRETS_DIR, datasources_file, grafana_ini, secret_file
from kmc.ir import KObject, Param, Switch
from kmc.model import SecretRef, Stack
from kmc.text import yaml_text

NAME = "grafana"
ROLE = "visualization"
SWITCH = "grafana.enabled"
POLICY_SWITCH = "grafana.networkPolicy.enabled"
PORT = 3000
UI = exposure.Exposed(NAME, NAME, ROLE, PORT, SWITCH)
# Not the image's 472: Grafana runs as any user, and a high one clashes with no user of the node.
USER = 65534
ADMIN_SETTINGS = ("GF_SECURITY_ADMIN_USER", "GF_SECURITY_ADMIN_PASSWORD", "GF_SECURITY_SECRET_KEY")


def compiled(stack: Stack) -> bool:
    return stack.enabled_somewhere(SWITCH)


def scrape_targets(stack: Stack) -> tuple[ServiceTarget, ...]:
    # Grafana serves /metrics on its HTTP port unless the stack's grafana.ini turns it off.
    if str(stack.grafana.ini.get("metrics", {}).get("enabled", True)).lower() == "false":
        return ()
    return (ServiceTarget(NAME, stack.namespace, NAME, "http", switch=SWITCH),)


def objects(stack: Stack, facts: Facts) -> Iterable[KObject]:
    ns = stack.namespace
    boards = stack.grafana.dashboards
    folders = grafana_folders.folders(boards)
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": kube.metadata(NAME, NAME, ROLE, ns),
        "data": {
            "datasources.yaml": yaml_text.dump(datasources_file(stack, facts.prometheus_url)),
            "grafana.ini": grafana_ini(stack),
            **({"dashboards.yaml": yaml_text.dump(grafana_folders.providers_file(folders))} if folders else {}),
        },
    }
    board_maps = [dashboards.config_map(board, ns, kube.labels(NAME, "dashboard")) for board in boards]
    # Only what Grafana reads once, at start: grafana.ini and the provisioning files. A dashboard's
    # ConfigMap is left out: the kubelet updates its volume and the providers read it again.
    checksum = hashlib.sha256(json.dumps(config["data"], sort_keys=True).encode()).hexdigest()
    service = kube.service(
        NAME,
        ns,
        ROLE,
        [{"name": "http", "nodePort": Param("grafana.service.nodePort", omit_empty=True), "port": Param("grafana.service.port"), "targetPort": "http"}],
        type=Param("grafana.service.type"),
    )
    bodies = [kube.service_account(NAME, ns, ROLE), config, service, _deployment(stack, folders, checksum)]
    if stack.grafana.storage:
        bodies.append(_claim(ns))
    objects = [KObject(body, NAME, conditions=(SWITCH,)) for body in bodies]
    # A dashboard none of whose panels has data where its switch is off is not there at all.
    objects += [
        KObject(body, NAME, conditions=(SWITCH, board.switch) if board.switch and board.reduced is None else (SWITCH,))
        for board, body in zip(boards, board_maps, strict=True)
    ]
    if stack.enabled_somewhere(SWITCH, POLICY_SWITCH):
        peers = "grafana.networkPolicy.from"
        # A rule with an empty `from` would admit everyone: with no peers there is no rule at all;
        # Prometheus scrapes Grafana's /metrics whatever the user lists.
        scrape = [{"from": [{"podSelector": {"matchLabels": dict(facts.prometheus_pods)}}], "ports": kube.tcp_ports(PORT)}] if scrape_targets(stack) else []
        ingress = Switch(peers, on=[{"from": Param(peers), "ports": kube.tcp_ports(PORT)}, *scrape], off=scrape)
        objects.append(KObject(kube.network_policy(NAME, ns, ROLE, ingress), NAME, conditions=(SWITCH, POLICY_SWITCH)))
    objects += exposure.objects(stack, UI)
    return objects


def _with_root_url(stack: Stack, env: list[dict[str, str]]) -> Switch | list[dict[str, str]]:
    """`env`, plus Grafana's public URL where the environment names a host: environment variables
    rather than grafana.ini, whose ConfigMap is the same in every environment. Grafana's router
    strips the sub path when it is there and serves requests without it too, so probes and the
    scrape of /metrics stay as they are."""
    if not stack.enabled_somewhere("grafana.expose.host"):
        return env
    url = [{"name": "GF_SERVER_ROOT_URL", "value": exposure.external_url(stack, NAME)}]
    if exposure.prefix(stack, NAME):
        url.append({"name": "GF_SERVER_SERVE_FROM_SUB_PATH", "value": "true"})
    return Switch("grafana.expose.host", on=[*env, *url], off=env)


def _claim(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": kube.metadata(NAME, NAME, ROLE, namespace),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": Param("grafana.storage.size")}},
            "storageClassName": Param("grafana.storage.storageClassName", omit_empty=True),
        },
    }


def _secrets(stack: Stack) -> tuple[list[dict[str, str]], list[SecretRef]]:
    """The environment variables naming the Secret files Grafana reads (`GF_..._FILE`), and every Secret key to mount.

    Files rather than `secretKeyRef` variables: the values stay out of the container's declared
    environment (what `kubectl describe` and admission tools see), a Secret's keys are read when
    the file is, and the same mount serves `$__file{}` in the provisioning files. (The image's
    entrypoint still exports each `GF_*__FILE` as `GF_*` to the Grafana process.)
    """
    settings = _settings(stack)
    env = [{"name": f"{name}__FILE", "value": secret_file(ref)} for name, ref in settings.items()]
    return env, sorted({ref for ref, _ in secret_uses(stack)}, key=lambda ref: (ref.secret_name, ref.key))


def _settings(stack: Stack) -> dict[str, SecretRef]:
    """The Grafana settings read from Secret files (`GF_..._FILE`), by setting."""
    admin = stack.grafana.admin_secret
    return {
        "GF_SECURITY_ADMIN_USER": SecretRef(admin.name, admin.user_key),
        "GF_SECURITY_ADMIN_PASSWORD": SecretRef(admin.name, admin.password_key),
        "GF_SECURITY_SECRET_KEY": SecretRef(admin.name, admin.secret_key_key),
        **stack.grafana.secret_settings,
    }


def secret_uses(stack: Stack) -> list[tuple[SecretRef, str]]:
    """Every Secret key the Grafana pod mounts, with what reads it: settings, then datasources."""
    uses = [
        (ref, "Grafana's admin login and secret key (grafana.adminSecret)" if name in ADMIN_SETTINGS else f"Grafana's {name} (grafana.secretSettings)")
        for name, ref in _settings(stack).items()
    ]
    uses += [
        (ref, f"Grafana's datasource {source.name!r} (secureJsonData.{field})")
        for source in stack.grafana.datasources
        for field, ref in source.secure_json_data.items()
    ]
    return uses


def _secrets_volume(refs: list[SecretRef]) -> dict[str, Any]:
    sources = [{"secret": {"items": [{"key": ref.key, "path": f"{ref.secret_name}/{ref.key}"}], "name": ref.secret_name}} for ref in refs]
    return {"name": "secrets", "projected": {"defaultMode": 0o440, "sources": sources}}


def _deployment(stack: Stack, folders: tuple[grafana_folders.Folder, ...], checksum: str) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [
        {"mountPath": "/etc/grafana", "name": "config", "readOnly": True},
        {"mountPath": "/var/lib/grafana", "name": "data"},
        {"mountPath": "/tmp", "name": "tmp"},
        {"mountPath": SECRETS_DIR, "name": "secrets", "readOnly": True},
    ]
    env, refs = _secrets(stack)
    config_items = [
        {"key": "grafana.ini", "path": "grafana.ini"},
        {"key": "datasources.yaml", "path": "provisioning/datasources/kmc.yaml"},
    ]
    if folders:
        config_items.append({"key": "dashboards.yaml", "path": "provisioning/dashboards/kmc.yaml"})
    mounts += [grafana_folders.mount(folder) for folder in folders]
    volumes: list[dict[str, Any]] = [
        {"configMap": {"items": config_items, "name": NAME}, "name": "config"},
        {"name": "data", **({"persistentVolumeClaim": {"claimName": NAME}} if stack.grafana.storage else {"emptyDir": {}})},
        {"emptyDir": {}, "name": "tmp"},
        _secrets_volume(refs),
    ]
    volumes += [grafana_folders.volume(folder) for folder in folders]
    container = {
        "name": NAME,
        "image": Param("grafana.image"),
        "env": _with_root_url(stack, env),
        "ports": [{"containerPort": PORT, "name": "http"}],
        "readinessProbe": kube.http_probe("/api/health", "http", 10),
        "livenessProbe": {**kube.http_probe("/api/health", "http", 30), "failureThreshold": 10},
        "resources": Param("grafana.resources"),
        "securityContext": kube.restricted_container(),
        "volumeMounts": mounts,
    }
    pod = {
        "metadata": {"annotations": {"checksum/config": checksum}, "labels": kube.labels(NAME, ROLE)},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [container],
            "enableServiceLinks": False,
            **kube.scheduling("grafana"),
            "securityContext": kube.restricted_pod(USER),
            "serviceAccountName": NAME,
            "volumes": volumes,
        },
    }
    # One pod owns a ReadWriteOnce volume: the old pod must go before the new one mounts it.
    strategy = {"type": "Recreate"} if stack.grafana.storage else {"type": "RollingUpdate"}
    return kube.deployment(NAME, ROLE, stack.namespace, Param("grafana.replicas"), pod, strategy=strategy)
