"""A Kubernetes API on loopback for Prometheus' `kubernetes_sd_configs`: list and watch, no auth.

Serves a fixed set of objects (see `kube_objects`) as plain JSON: list and watch of pods,
services, endpoints and nodes under `/api/v1`, of endpointslices under
`/apis/discovery.k8s.io/v1` and of ingresses under `/apis/networking.k8s.io/v1`, cluster-wide
and per namespace, with `labelSelector` and `fieldSelector` equality filters, and `/version`. The objects never change, so a watch streams
nothing and is held open until its `timeoutSeconds` or until the stub stops. Watch-list requests
(`sendInitialEvents=true`, sent by client-go in Prometheus 3) get the objects as ADDED events and
then the BOOKMARK that ends the initial events. Anything else is answered 404 and recorded, so a
test can insist that Prometheus asked for nothing the stub does not know.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Obj = dict[str, Any]

RESOURCE_VERSION = "1"
SERVER_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"}
# plural -> (API prefix, kind, namespaced)
RESOURCES: Mapping[str, tuple[str, str, bool]] = {
    "pods": ("/api/v1", "Pod", True),
    "services": ("/api/v1", "Service", True),
    "endpoints": ("/api/v1", "Endpoints", True),
    "nodes": ("/api/v1", "Node", False),
    "endpointslices": ("/apis/discovery.k8s.io/v1", "EndpointSlice", True),
    "ingresses": ("/apis/networking.k8s.io/v1", "Ingress", True),
}
ROUTE = re.compile(r"(?P<prefix>/api/v1|/apis/discovery\.k8s\.io/v1|/apis/networking\.k8s\.io/v1)(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[a-z]+)")
SELECTOR_TERM = re.compile(r"(?P<key>[^=!,]+?)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*)")


@dataclasses.dataclass(frozen=True)
class Request:
    """One request the stub answered: what and how ("list", "watch", "watch-list", "version", "unknown")."""

    mode: str
    path: str
    query: Mapping[str, str]


class KubeApiStub:
    """The stub server; use as a context manager. `url` is what `api_server:` gets."""

    def __init__(self, objects: Iterable[Obj], host: str = "127.0.0.1") -> None:
        self.objects = [_with_resource_version(obj) for obj in objects]
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="kube-api-stub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> KubeApiStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()  # ends the held watches
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def seen(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def select(self, plural: str, namespace: str | None, query: Mapping[str, str]) -> list[Obj]:
        """The objects a list of `plural` (in `namespace`, or everywhere) with these selectors returns."""
        kind = RESOURCES[plural][1]
        labels = _selector(query.get("labelSelector", ""), lambda obj, key: obj["metadata"].get("labels", {}).get(key))
        fields = _selector(query.get("fieldSelector", ""), _field)
        return [obj for obj in self.objects if obj["kind"] == kind and namespace in (None, obj["metadata"].get("namespace")) and labels(obj) and fields(obj)]


def _with_resource_version(obj: Obj) -> Obj:
    metadata = {"resourceVersion": RESOURCE_VERSION, "uid": f"uid-{obj['kind']}-{obj['metadata'].get('namespace', '')}-{obj['metadata']['name']}"}
    return {**obj, "metadata": {**metadata, **obj["metadata"]}}


def _field(obj: Obj, path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _selector(text: str, lookup: Callable[[Obj, str], Any]) -> Callable[[Obj], bool]:
    """A matcher for an equality-based selector (`a=b,c!=d`); other forms are a stub limit, raised as such."""
    terms = []
    for term in filter(None, (part.strip() for part in text.split(","))):
        match = SELECTOR_TERM.fullmatch(term)
        if not match:
            raise ValueError(f"selector term the stub does not implement: {term!r}")
        terms.append((match["key"].strip(), match["op"] != "!=", match["value"].strip()))
    return lambda obj: all((lookup(obj, key) == value) is equal for key, equal, value in terms)


def _handler_for(stub: KubeApiStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the recorded requests say enough

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            if url.path == "/version":
                stub.record(Request("version", url.path, query))
                self._json(200, SERVER_VERSION)
                return
            route = ROUTE.fullmatch(url.path)
            known = route is not None and route["plural"] in RESOURCES and RESOURCES[route["plural"]][0] == route["prefix"]
            if route is None or not known or (route["namespace"] and not RESOURCES[route["plural"]][2]):
                stub.record(Request("unknown", url.path, query))
                self._json(404, _status(404, "NotFound", f"the stub does not serve {url.path}"))
                return
            plural = route["plural"]
            try:
                items = stub.select(plural, route["namespace"], query)
            except ValueError as err:
                stub.record(Request("unknown", url.path, query))
                self._json(400, _status(400, "BadRequest", str(err)))
                return
            kind = RESOURCES[plural][1]
            api_version = RESOURCES[plural][0].removeprefix("/api/").removeprefix("/apis/")
            if query.get("watch") not in ("true", "1"):
                stub.record(Request("list", url.path, query))
                self._json(200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {"resourceVersion": RESOURCE_VERSION}, "items": items})
                return
            watch_list = query.get("sendInitialEvents") == "true"
            stub.record(Request("watch-list" if watch_list else "watch", url.path, query))
            events = [{"type": "ADDED", "object": obj} for obj in items] if watch_list else []
            if watch_list:  # the end of the initial events; client-go decodes it as the resource's type
                end = {"resourceVersion": RESOURCE_VERSION, "annotations": {"k8s.io/initial-events-end": "true"}}
                events.append({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": end}})
            self._watch(events, seconds=float(query.get("timeoutSeconds", "600")))

        def _json(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _watch(self, events: list[Obj], *, seconds: float) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for event in events:
                    self._chunk(json.dumps(event).encode("utf-8") + b"\n")
                stub.stopping.wait(seconds)  # nothing ever changes: hold the watch open
                self._chunk(b"")
            except OSError:
                pass  # the client went away first (Prometheus stopped)
            self.close_connection = True

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
            self.wfile.flush()

    return Handler


def _status(code: int, reason: str, message: str) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}
