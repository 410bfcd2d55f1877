"""Real processes and tiny HTTP servers on loopback for end-to-end tests, each on a free port.

Every wait is bounded; processes are started by the test and stopped by PID (SIGTERM, then
SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus 3 rejects a scrape without one


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on at `host` right now (the OS's choice, so collisions are unlikely)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.1, describe: Callable[[], str] = lambda: "") -> None:
    """Return once `check()` holds; fail with `what` (and `describe()`) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{describe()}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """Status and body of a GET; (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


def http_post(url: str, timeout: float = 30) -> tuple[int, bytes]:
    """Status and body of a POST without a body; (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


def get_json(url: str) -> Any:
    status, body = http_get(url)
    assert status == 200, f"GET {url}: {status} {body[:500]!r}"
    return json.loads(body)


class _ThreadingHTTPServer6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (the tests read what they need from the server)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer:
    """A threaded HTTP server on `host:port` (0: a free port; IPv6 too), HTTPS with `tls`, its
    requests answered by `handler`; `stop()` ends it."""

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None, poll: float = 0.05) -> None:
        self._server = (_ThreadingHTTPServer6 if ":" in host else ThreadingHTTPServer)((host, port), handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(poll,), name=f"server-{host}", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """host:port as a URL or a Prometheus target has it (IPv6 in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class MetricsServer(LoopbackServer):
    """A tiny exporter: serves `body` at `path` in the text exposition format and records every request.

    With `tls` (certificate and key files) it serves HTTPS; with `token` it answers only callers
    that send `Authorization: Bearer <token>` (401 otherwise), as a server that authorizes them."""

    def __init__(
        self,
        host: str,
        path: str = "/metrics",
        body: str = "fixture_up 1\n",
        port: int = 0,
        tls: tuple[Path, Path] | None = None,
        token: str | None = None,
    ) -> None:
        self.path = path
        self.body = body.encode("utf-8")
        self.token = token
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.refused = 0
        self._lock = threading.Lock()
        context = None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
        super().__init__(host, port, self._handler(), context)

    def seen(self) -> list[tuple[str, dict[str, list[str]]]]:
        with self._lock:
            return list(self.requests)

    def forget(self) -> None:
        """Drop the requests recorded so far."""
        with self._lock:
            self.requests.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if server.token is not None and self.headers.get("Authorization") != f"Bearer {server.token}":
                    with server._lock:
                        server.refused += 1
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with server._lock:
                    server.requests.append((url.path, parse_qs(url.query)))
                found = url.path == server.path
                body = server.body if found else b"not found\n"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", METRICS_CONTENT_TYPE if found else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


class Process:
    """A started binary with its output in `log`; `stop()` ends it by PID."""

    def __init__(self, args: Sequence[str | Path], log: Path, cwd: Path | None = None) -> None:
        self.args = [str(arg) for arg in args]
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return f"--- last lines of {self.log.name} (pid {self.pid}, {'running' if self.alive() else f'exit {self.popen.returncode}'}):\n" + "\n".join(
            text.splitlines()[-lines:]
        )

    def stop(self, grace: float = 10) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=grace)


@contextlib.contextmanager
def running(name: str, args: Sequence[str | Path], ready: str, work: Path, timeout: float = 40) -> Iterator[Process]:
    """`args` run in `work` (output in `work/<name>.log`) until the block ends, once `ready` answers 200."""
    process = Process(args, work / f"{name}.log", cwd=work)
    try:
        wait_for(f"{name} to be ready", lambda: process.alive() and http_get(ready)[0] == 200, timeout, describe=process.tail)
        yield process
    finally:
        process.stop()
