"""No artefact kmc emits carries a private key: not as PEM text in any file, not base64-encoded
in a Secret's data (nor anywhere else as base64 of a PEM block) — except the serving-certificate
Secrets a stack asks for with `certificates.keysInOutput`, and only in the output for direct apply
(manifests, kustomize), never in a Helm chart. Otherwise the keys reach the cluster through
`kmc certs secrets`, on stdout."""

from __future__ import annotations

import base64
import binascii
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import ROOT
from x509_tools import user_ca

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
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{32,}={0,2}")


def private_keys(name: str, content: bytes) -> Iterator[str]:
    """Where `content` (a file called `name`) holds a private key."""
    if PEM_PRIVATE_KEY.search(content):
        yield f"{name}: PEM private key"
    text = content.decode("utf-8", "replace")
    if BASE64_PEM.search(text) and any(_hides_key(run.group(0)) for run in BASE64_RUN.finditer(text)):
        yield f"{name}: base64 of a PEM private key"
    try:
        documents = list(yaml.safe_load_all(content))
    except yaml.YAMLError:
        return
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "Secret":
            yield from _secret(name, doc)


def _hides_key(run: str) -> bool:
    """Whether base64 text (at any of its alignments) decodes to a PEM private key."""
    for skip in range(4):
        chunk = run[skip:]
        chunk = chunk[: len(chunk) - len(chunk) % 4]
        try:
            if PEM_PRIVATE_KEY.search(base64.b64decode(chunk)):
                return True
        except binascii.Error:
            continue
    return False


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


def _keys_asked_for(root: Path) -> bool:
    stack = root.parent / "stack.yaml" if root.name == "out" else ROOT / "stack.yaml"
    return bool((yaml.safe_load(stack.read_text()).get("certificates") or {}).get("keysInOutput"))


def _serving_secret(path: Path) -> bool:
    if path.suffix != ".yaml":
        return False  # PREREQUISITES.md, the chart's texts
    doc = yaml.safe_load(path.read_bytes())
    return isinstance(doc, dict) and doc.get("kind") == "Secret" and doc.get("type") == "kubernetes.io/tls"


@pytest.mark.parametrize("root", OUTPUT_ROOTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_output_file_holds_a_private_key(root: Path) -> None:
    files = sorted(path for path in root.rglob("*") if path.is_file())
    assert files
    asked = _keys_asked_for(root)
    found = [
        problem
        for path in files
        if not (asked and "helm" not in path.relative_to(root).parts and _serving_secret(path))
        for problem in private_keys(str(path.relative_to(ROOT)), path.read_bytes())
    ]
    assert not found, found


def test_keys_in_output_puts_serving_secrets_in_manifests_and_kustomize_only() -> None:
    root = ROOT / "golden/full/out"
    assert _keys_asked_for(root)
    holding = {path.relative_to(root).parts[0] for path in root.rglob("*secret*.yaml") if _serving_secret(path) and list(private_keys("f", path.read_bytes()))}
    assert holding == {"manifests", "kustomize"}


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
        pytest.param(_secret_yaml({"tls.key": b"x" + FAKE_KEY}), "base64 of a PEM private key", id="base64-shifted"),
        pytest.param(_secret_yaml({"tls.key": b"xx" + FAKE_KEY}), "base64 of a PEM private key", id="base64-shifted-twice"),
        pytest.param(b"key: " + base64.b64encode(b"x" + FAKE_KEY), "base64 of a PEM private key", id="base64-anywhere"),
    ],
)
def test_scanner_finds_keys(content: bytes, expected: str) -> None:
    assert any(expected in problem for problem in private_keys("f.yaml", content))


def test_scanner_lets_certificates_pass_plain_or_base64() -> None:
    # An APIService's caBundle is a base64 PEM certificate: public, and fine anywhere.
    assert list(private_keys("f.yaml", _secret_yaml({"ca.crt": CERTIFICATE}))) == []
    assert list(private_keys("f.yaml", b"caBundle: " + base64.b64encode(CERTIFICATE))) == []
    assert list(private_keys("f.yaml", CERTIFICATE)) == []


# kmc's own keys reach the cluster through `kmc certs secrets` on stdout, never through an output tree.

KEPT = """\
version: 1
metricsServer:
  enabled: true
prometheusAdapter:
  enabled: true
  customMetrics:
    - {name: http_requests_per_second, series: http_requests_total, resource: pod}
  tls:
    mode: ca
    ca: {cert: pki/user-ca.crt, key: pki/user-ca.key}
"""


def _kmc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmc", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_certs_secrets_prints_the_keys_and_no_output_tree_gets_them(tmp_path: Path) -> None:
    user_ca(tmp_path / "pki")
    (tmp_path / "stack.yaml").write_text(KEPT)
    built = _kmc("build", "stack.yaml", "--format", "all", "--out", "out", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    tree = {path: path.read_bytes() for path in sorted((tmp_path / "out").rglob("*")) if path.is_file()}
    printed = _kmc("certs", "secrets", "stack.yaml", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    # The scanner sees both keys on stdout, so its silence on the tree means something.
    found = list(private_keys("stdout", printed.stdout.encode()))
    assert [problem for problem in found if "data.tls.key" in problem] == [
        "stdout: Secret metrics-server-tls data.tls.key is a private key",
        "stdout: Secret prometheus-adapter-tls data.tls.key is a private key",
    ]
    after = {path: path.read_bytes() for path in sorted((tmp_path / "out").rglob("*")) if path.is_file()}
    assert after == tree, "kmc certs secrets touched the output"
    leaked = [problem for path, content in after.items() for problem in private_keys(str(path.relative_to(tmp_path)), content)]
    assert leaked == []
    # Where the output points for them: the command, not a key file.
    notes = (tmp_path / "out/helm/kmc-monitoring/templates/NOTES.txt").read_text()
    prerequisites = (tmp_path / "out/manifests/default/PREREQUISITES.md").read_text()
    for server in ("metrics-server", "prometheus-adapter"):
        line = f"kmc certs secrets stack.yaml --server {server} | kubectl apply -f -\n"
        assert line in notes and line in prerequisites
