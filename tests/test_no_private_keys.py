"""No artefact kmc emits carries a private key: not as PEM text in any file, not base64-encoded
in a Secret's data (nor anywhere else as base64 of a PEM block)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import ROOT

OUTPUT_ROOTS = [*sorted(ROOT.glob("golden/*/out")), ROOT / "charts-out"]
PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")


def base64_forms(marker: bytes) -> list[str]:
    """The base64 text `marker` turns into wherever it starts in encoded data: one form for each
    of its three alignments to 3-byte groups, cut to the characters that depend on it alone."""
    forms = []
    for pad, skip in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(bytes(pad) + marker).decode()
        forms.append(encoded[skip : (pad + len(marker)) * 8 // 6])
    return forms


BASE64_PEM = re.compile("|".join(map(re.escape, base64_forms(b"-----BEGIN "))))


def private_keys(name: str, content: bytes) -> Iterator[str]:
    """Where `content` (a file called `name`) holds a private key."""
    if PEM_PRIVATE_KEY.search(content):
        yield f"{name}: PEM private key"
    if BASE64_PEM.search(content.decode("utf-8", "replace")):
        yield f"{name}: base64 of a PEM block"
    try:
        documents = list(yaml.safe_load_all(content))
    except yaml.YAMLError:
        return
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "Secret":
            yield from _secret(name, doc)


def _secret(name: str, secret: dict[str, Any]) -> Iterator[str]:
    for key, value in (secret.get("data") or {}).items():
        try:
            decoded = base64.b64decode(str(value), validate=True)
        except binascii.Error:
            continue
        if PEM_PRIVATE_KEY.search(decoded):
            yield f"{name}: Secret {secret['metadata']['name']} data.{key} is a private key"
    for key, value in (secret.get("stringData") or {}).items():
        if PEM_PRIVATE_KEY.search(str(value).encode()):
            yield f"{name}: Secret {secret['metadata']['name']} stringData.{key} is a private key"


def test_outputs_exist() -> None:
    assert all((root / "manifests").is_dir() and (root / "kustomize").is_dir() for root in OUTPUT_ROOTS)


@pytest.mark.parametrize("root", OUTPUT_ROOTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_output_file_holds_a_private_key(root: Path) -> None:
    files = sorted(path for path in root.rglob("*") if path.is_file())
    assert files
    found = [problem for path in files for problem in private_keys(str(path.relative_to(ROOT)), path.read_bytes())]
    assert not found, found


# A fake key: the scanner looks at the armour, so no real key material is needed here.
FAKE_KEY = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oGU=\n-----END EC PRIVATE KEY-----\n"
CERTIFICATE = b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUE=\n-----END CERTIFICATE-----\n"


def _secret_yaml(data: dict[str, bytes]) -> bytes:
    encoded = {key: base64.b64encode(value).decode() for key, value in data.items()}
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"}, "data": encoded}).encode()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(FAKE_KEY, "PEM private key", id="pem-text"),
        pytest.param(FAKE_KEY.replace(b"EC ", b""), "PEM private key", id="pkcs8"),
        pytest.param(FAKE_KEY.replace(b"EC", b"OPENSSH"), "PEM private key", id="openssh"),
        pytest.param(_secret_yaml({"tls.key": FAKE_KEY}), "Secret tls data.tls.key is a private key", id="secret-data"),
        pytest.param(_secret_yaml({"tls.key": b"x" + FAKE_KEY}), "base64 of a PEM block", id="base64-shifted"),
        pytest.param(_secret_yaml({"tls.key": b"xx" + FAKE_KEY}), "base64 of a PEM block", id="base64-shifted-twice"),
    ],
)
def test_scanner_finds_keys(content: bytes, expected: str) -> None:
    assert any(expected in problem for problem in private_keys("f.yaml", content))


def test_scanner_finds_a_base64_certificate_block_too_but_not_plain_certificates() -> None:
    # Any base64-encoded PEM block is suspect in output that should hold none.
    assert list(private_keys("f.yaml", _secret_yaml({"ca.crt": CERTIFICATE}))) == ["f.yaml: base64 of a PEM block"]
    assert list(private_keys("f.yaml", CERTIFICATE)) == []
