"""The real `openssl` the certificate tests judge with (OpenSSL 3, from the distribution)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

OPENSSL = Path(shutil.which("openssl") or "/usr/bin/openssl")


def openssl(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `openssl ARGS`; fail (never skip) when it is not installed."""
    if not OPENSSL.exists():
        pytest.fail(f"{OPENSSL} is not installed (apt-get install openssl)", pytrace=False)
    return subprocess.run([str(OPENSSL), *map(str, args)], capture_output=True, text=True, check=False, cwd=cwd, timeout=60)


def user_ca(directory: Path, name: str = "user-ca", *extra: str) -> tuple[Path, Path]:
    """A CA made the way users make one: `openssl req -x509` (OpenSSL 3 marks it CA:TRUE)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    made = openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", cert, "-subj", f"/CN={name}", "-days", "30", *extra,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return cert, key
