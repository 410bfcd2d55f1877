"""A real OCI registry (Debian's docker-registry, distribution 2.8) on loopback, for the tests.

Started by the test with a config of our own (filesystem storage in a temp dir, a free port,
optionally htpasswd auth) and stopped by PID.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tools import TOOLS, tool

REGISTRY = TOOLS / "registry" / "docker-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_registry(root: Path, users: dict[str, str] | None = None) -> Iterator[str]:
    """Yield `127.0.0.1:PORT` of a fresh registry; with `users`, it demands htpasswd (bcrypt) auth."""
    import bcrypt

    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = ["version: 0.1", "log: {level: warn}", "storage:", f"  filesystem: {{rootdirectory: {root / 'data'}}}", "http:", f"  addr: 127.0.0.1:{port}"]
    if users:
        lines = [f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}" for user, password in users.items()]
        (root / "htpasswd").write_text("\n".join(lines) + "\n")
        config += ["auth:", "  htpasswd:", "    realm: kmc-test", f"    path: {root / 'htpasswd'}"]
    (root / "config.yml").write_text("\n".join(config) + "\n")
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([tool(REGISTRY), "serve", root / "config.yml"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # 401: up, and asking for credentials
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the registry did not start: {(root / 'registry.log').read_text()}") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
