"""Remote storage of Prometheus: `remote_write` and `remote_read`, credentials mounted from Secrets.

No credential is ever written into prometheus.yml: a password, bearer token, CA, certificate or key
is a Secret key, mounted read-only into the Prometheus pod at `SECRETS_DIR/<secret>/<key>` and
named there with the `*_file` settings Prometheus reads at each request.

For the known kinds of store, `url` is the store's base URL and the documented path is appended:
- InfluxDB 1.x, the long-term store of the classic heapster/InfluxDB setup: `/api/v1/prom/write`
  and `/api/v1/prom/read`, with the database as the `db` query parameter;
- Thanos Receive: `/api/v1/receive`;
- Grafana Mimir: `/api/v1/push` and `/prometheus/api/v1/read`, the tenant in `X-Scope-OrgID`;
- VictoriaMetrics (single node): `/api/v1/write`.

With HA replicas every replica sends its own copy; `writers: one` keeps a store's series on the
first pod of each Prometheus StatefulSet only (kmc.check.scaleout says which stores need it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from kmc.components import sharding
from kmc.model import SecretRef, Stack

if TYPE_CHECKING:
    Entry = Mapping[str, Any]

SECRETS_DIR = "/etc/prometheus-secrets/remote"  # beside the config mount, not in it: no mount nests in another
VOLUME_PREFIX = "remote-secret-"
TENANT_HEADER = "X-Scope-OrgID"

WRITE_PATHS: Mapping[str, str] = {
    "influxdb": "/api/v1/prom/write",
    "thanos-receive": "/api/v1/receive",
    "mimir": "/api/v1/push",
    "victoriametrics": "/api/v1/write",
}
READ_PATHS: Mapping[str, str] = {"influxdb": "/api/v1/prom/read", "mimir": "/prometheus/api/v1/read"}
# The kinds a Grafana datasource can be made for, with the path of their query API.
QUERY_PATHS: Mapping[str, str] = {"influxdb": "", "mimir": "/prometheus", "victoriametrics": ""}


def endpoint_url(entry: Entry, paths: Mapping[str, str]) -> str:
    """The URL Prometheus sends to: `url` as written for `generic`, else base URL + the kind's path."""
    kind = entry.get("kind", "generic")
    if kind == "generic":
        return str(entry["url"])
    url = str(entry["url"]).rstrip("/") + paths[kind]
    if kind == "influxdb":
        url += "?" + urlencode({"db": entry["database"]})
    return url


def _ref(data: Mapping[str, Any]) -> SecretRef:
    return SecretRef(data["secretName"], data["key"])


def entry_refs(entry: Entry) -> list[SecretRef]:
    """The Secret keys one endpoint reads."""
    refs = []
    if "basicAuth" in entry:
        refs.append(_ref(entry["basicAuth"]["password"]))
    if "bearerToken" in entry:
        refs.append(_ref(entry["bearerToken"]))
    for field in ("ca", "cert", "key"):
        if field in entry.get("tls", {}):
            refs.append(_ref(entry["tls"][field]))
    return refs


def secret_refs(stack: Stack) -> list[SecretRef]:
    """Every Secret key the remote endpoints read, sorted, each once."""
    entries = [*stack.prometheus.remote_write, *stack.prometheus.remote_read]
    return sorted({ref for entry in entries for ref in entry_refs(entry)}, key=lambda ref: (ref.secret_name, ref.key))


def secret_file(ref: SecretRef) -> str:
    return f"{SECRETS_DIR}/{ref.secret_name}/{ref.key}"


def _client(entry: Entry) -> dict[str, Any]:
    """HTTP client settings: tenant header, authentication and TLS, all secrets as files."""
    client: dict[str, Any] = {}
    if "tenant" in entry:
        client["headers"] = {TENANT_HEADER: entry["tenant"]}
    if "basicAuth" in entry:
        auth = entry["basicAuth"]
        client["basic_auth"] = {"username": auth["username"], "password_file": secret_file(_ref(auth["password"]))}
    if "bearerToken" in entry:
        client["authorization"] = {"type": "Bearer", "credentials_file": secret_file(_ref(entry["bearerToken"]))}
    if "tls" in entry:
        tls = entry["tls"]
        config: dict[str, Any] = {f"{field}_file": secret_file(_ref(tls[field])) for field in ("ca", "cert", "key") if field in tls}
        if "serverName" in tls:
            config["server_name"] = tls["serverName"]
        if tls.get("insecureSkipVerify"):
            config["insecure_skip_verify"] = True
        client["tls_config"] = config
    return client


def first_pods(stack: Stack, workload: str) -> list[str]:
    """The first pod of each Prometheus StatefulSet `workload` (one per shard): `prometheus-0`."""
    return [f"{sharding.shard_name(workload, shard)}-0" for shard in sharding.shard_indexes(stack)]


def _one_writer(stack: Stack, workload: str) -> dict[str, Any]:
    """`writers: one`: keep the series only where the replica label names a first pod. Prometheus adds
    the external labels before it applies write_relabel_configs (QueueManager.StoreSeries)."""
    return {"action": "keep", "regex": "|".join(first_pods(stack, workload)), "source_labels": [stack.prometheus.ha_replica_label]}


def remote_write(stack: Stack, workload: str) -> list[dict[str, Any]]:
    """`remote_write` of the Prometheus pods of `workload` (the StatefulSet's name, for `writers: one`)."""
    out = []
    for entry in stack.prometheus.remote_write:
        config: dict[str, Any] = {"url": endpoint_url(entry, WRITE_PATHS), "name": entry["name"], **_client(entry)}
        if entry.get("queueConfig"):
            config["queue_config"] = dict(entry["queueConfig"])
        # The writer's choice first: the store's own relabelling may drop the replica label.
        rules = [_one_writer(stack, workload)] if entry.get("writers") == "one" else []
        rules += [dict(rule) for rule in entry.get("writeRelabelConfigs", [])]
        if rules:
            config["write_relabel_configs"] = rules
        out.append(config)
    return out


def remote_read(stack: Stack) -> list[dict[str, Any]]:
    out = []
    for entry in stack.prometheus.remote_read:
        config: dict[str, Any] = {"url": endpoint_url(entry, READ_PATHS), "name": entry["name"], **_client(entry)}
        config["read_recent"] = bool(entry.get("readRecent", False))
        if entry.get("requiredMatchers"):
            config["required_matchers"] = dict(entry["requiredMatchers"])
        out.append(config)
    return out


def with_remote_storage(config: Mapping[str, Any], stack: Stack, workload: str) -> dict[str, Any]:
    """prometheus.yml (as data) of `workload`'s pods with `remote_write` and `remote_read` added when the stack has any."""
    out = dict(config)
    if stack.prometheus.remote_write:
        out["remote_write"] = remote_write(stack, workload)
    if stack.prometheus.remote_read:
        out["remote_read"] = remote_read(stack)
    return out


def volumes(stack: Stack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumeMounts, volumes) of the Secrets the endpoints read: one volume per Secret, only the keys used."""
    by_secret: dict[str, list[str]] = {}
    for ref in secret_refs(stack):
        by_secret.setdefault(ref.secret_name, []).append(ref.key)
    mounts, vols = [], []
    for index, (secret, keys) in enumerate(sorted(by_secret.items())):
        name = f"{VOLUME_PREFIX}{index}"
        mounts.append({"mountPath": f"{SECRETS_DIR}/{secret}", "name": name, "readOnly": True})
        vols.append({"name": name, "secret": {"items": [{"key": key, "path": key} for key in keys], "secretName": secret}})
    return mounts, vols


def datasource_entries(stack: Stack) -> Iterable[Entry]:
    """The remote write endpoints that asked for a Grafana datasource."""
    return [entry for entry in stack.prometheus.remote_write if entry.get("grafanaDatasource")]
