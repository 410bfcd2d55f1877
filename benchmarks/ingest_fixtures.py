"""The fixture exporters on loopback, their clock, their TLS material and the cluster's objects.

`Clock` is the grid every fixture serves: before `start()` the exporters answer 503; then the
body at grid time floor(now/step)·step, never past the time `freeze()` fixed. The real
node-exporter is run once per node and read once at the start; its proxy serves that reading
with gauges held and counters grown linearly (each at the rate that would have brought it from
zero to its read value in a day), on the same grid, so both Prometheus servers see the same
samples although the real exporter's values move on.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import math
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ingest_exposition import DAY, Family, Payload
from local_processes import LoopbackServer, QuietHandler

from kmc.tls.crypto import Pair, mint_ca

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Clock:
    """The grid of sample timestamps shared by every fixture."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.origin: float | None = None
        self.end: float | None = None

    def start(self) -> None:
        self.origin = math.ceil(time.time() / self.step) * self.step

    def freeze(self) -> float:
        """Stop the grid at its current point; return that point."""
        assert self.origin is not None
        self.end = max(self.origin, math.floor(time.time() / self.step) * self.step)
        return self.end

    def now(self) -> float | None:
        """The grid point to serve now, or None before the first one."""
        if self.origin is None or time.time() < self.origin:
            return None
        point = math.floor(time.time() / self.step) * self.step
        return min(point, self.end) if self.end is not None else point


class FixtureServer(LoopbackServer):
    """One host:port serving payloads by path, rendered once per grid point and shared by every caller."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Payload], clock: Clock, tls: ssl.SSLContext | None = None) -> None:
        self.routes = dict(routes)
        self.clock = clock
        self._bodies: dict[tuple[str, float], bytes] = {}
        self._lock = threading.Lock()
        super().__init__(host, port, self._handler(), tls, poll=0.1)

    def body(self, path: str) -> bytes | None:
        point = self.clock.now()
        if point is None or path not in self.routes:
            return None
        with self._lock:
            key = (path, point)
            if key not in self._bodies:
                self._bodies = {k: v for k, v in self._bodies.items() if k[1] >= point}  # keep the current point only
                assert self.clock.origin is not None
                self._bodies[key] = self.routes[path].render(point - self.clock.origin, int(point * 1000))
            return self._bodies[key]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = server.body(self.path.split("?")[0])
                self.send_response(200 if body is not None else 503)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        return Handler


def regularised(text: str) -> Payload:
    """A reading of a real exporter as a payload: every gauge held, every counter (and every
    histogram or summary count, sum and bucket) growing at its read value per day."""
    kinds: dict[str, str] = {}
    helps: dict[str, str] = {}
    families: dict[str, Family] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            kinds[name] = kind
        elif line.startswith("# HELP "):
            _, _, name, *rest = line.split(" ", 3)
            helps[name] = rest[0] if rest else name
        elif line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            name = series.split("{", 1)[0]
            family_name = next((base for base in (name, name.rsplit("_", 1)[0]) if base in kinds), name)
            kind = kinds.get(family_name, "untyped")
            family = families.setdefault(family_name, Family(family_name, kind, helps.get(family_name, family_name)))  # type: ignore[arg-type]
            number = float(value)
            grows = kind == "counter" or (kind in ("histogram", "summary") and 'quantile="' not in series)
            family.samples.append((series, number, number / DAY if grows and math.isfinite(number) else 0.0))
    return Payload(list(families.values()))


# --- TLS: a throwaway CA, a serving certificate for every fixture address, a client certificate ---


def tls_material(directory: Path, ips: list[str], dns_names: list[str]) -> dict[str, Path]:
    """Write ca.crt, server.{crt,key} (SANs `ips` and `dns_names`), client.{crt,key} and a token into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = mint_ca("kmc ingest benchmark CA", "ecdsa-p256", days=2)
    server = _leaf(ca, "fixture exporters", ExtendedKeyUsageOID.SERVER_AUTH, ips, dns_names)
    client = _leaf(ca, "prometheus", ExtendedKeyUsageOID.CLIENT_AUTH, [], [])
    files = {
        "ca.crt": ca.cert_pem,
        "server.crt": server.cert_pem,
        "server.key": server.key_pem,
        "client.crt": client.cert_pem,
        "client.key": client.key_pem,
        "token": "benchmark-token\n",
    }
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return {name: directory / name for name in files}


def _leaf(ca: Pair, name: str, usage: x509.ObjectIdentifier, ips: list[str], dns_names: list[str]) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    names += [x509.DNSName(name) for name in dns_names]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Pair(builder.sign(ca.key, hashes.SHA256()), key)


def server_context(files: Mapping[str, Path], *, client_auth: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["server.crt"], files["server.key"])
    if client_auth:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(files["ca.crt"])
    return context


@contextlib.contextmanager
def serving(servers: list[FixtureServer]) -> Iterator[list[FixtureServer]]:
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()
