"""kmc.tls.der, the stdlib reader that lets a build in TLS mode `secret` check its caBundle without
importing `cryptography`: it must agree with `cryptography` on every certificate it answers for,
and hand everything else over."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from x509_tools import user_ca

from kmc.tls import certs, crypto, der


def _openssl_made(directory: Path) -> dict[str, bytes]:
    """Certificates as users make them with openssl, CA or not."""
    (directory / "bare.cnf").write_text("[req]\ndistinguished_name = dn\n[dn]\n[bare]\n")
    variants: dict[str, tuple[str, ...]] = {
        "plain-ca": (),  # OpenSSL 3's default: CA:TRUE, no keyUsage
        "leaf": ("-addext", "basicConstraints=critical,CA:FALSE"),
        "no-extensions": ("-config", str(directory / "bare.cnf"), "-extensions", "bare"),
        "ca-without-certsign": ("-addext", "keyUsage=critical,digitalSignature"),
        "ca-with-certsign": ("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        "ca-with-pathlen": ("-addext", "basicConstraints=critical,CA:TRUE,pathlen:1"),
    }
    return {name: user_ca(directory, name, *extra)[0].read_bytes() for name, extra in variants.items()}


def _kmc_made() -> dict[str, bytes]:
    ca = crypto.mint_ca("ca", "ecdsa-p256")
    rsa_ca = crypto.mint_ca("rsa-ca", "rsa-2048")
    return {
        "kmc-ca": ca.cert_pem.encode(),
        "kmc-rsa-ca": rsa_ca.cert_pem.encode(),
        "kmc-serving": crypto.issue_serving(ca, "a.b.svc", ("a.b.svc",), "ecdsa-p256").cert_pem.encode(),
        "kmc-client": crypto.issue_client(rsa_ca, "front-proxy-client", "ecdsa-p256", days=1).cert_pem.encode(),
    }


def test_it_agrees_with_cryptography(tmp_path: Path) -> None:
    samples = {**_openssl_made(tmp_path), **_kmc_made()}
    for name, pem in samples.items():
        expected = crypto.is_ca(crypto.load_cert(pem, name))
        assert der.pem_certificates_are_ca(pem) == [expected], name
    assert {name for name, pem in samples.items() if der.pem_certificates_are_ca(pem) == [True]} == {
        "plain-ca", "ca-with-certsign", "ca-with-pathlen", "kmc-ca", "kmc-rsa-ca",
    }  # fmt: skip
    bundle = samples["leaf"] + b"\n" + samples["kmc-ca"]
    assert der.pem_certificates_are_ca(bundle) == [False, True]


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"not a certificate\n",
        b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",  # an empty SEQUENCE
        b"-----BEGIN CERTIFICATE-----\nMIIBAAA=\n-----END CERTIFICATE-----\n",  # a length past the end
    ],
)
def test_what_it_cannot_read_it_leaves_to_cryptography(text: bytes, tmp_path: Path) -> None:
    assert der.pem_certificates_are_ca(text) is None
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(text)
    with pytest.raises(certs.CertError, match="no PEM certificate could be read"):
        certs.read_ca_bundle(bundle)


def test_a_truncated_certificate_is_not_taken_for_a_ca(tmp_path: Path) -> None:
    pem = _kmc_made()["kmc-ca"].decode()
    body = "".join(pem.splitlines()[1:-1])
    cut = f"-----BEGIN CERTIFICATE-----\n{body[: len(body) // 2 // 4 * 4]}\n-----END CERTIFICATE-----\n"
    assert der.pem_certificates_are_ca(cut.encode()) is None


def test_a_secret_mode_build_reads_its_ca_bundle_without_cryptography(tmp_path: Path) -> None:
    ca, _ = user_ca(tmp_path)
    program = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from kmc.tls import certs
        certs.read_ca_bundle(Path({str(ca)!r}))
        print(sorted(name for name in sys.modules if name.startswith("cryptography")))
    """)
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60)
    assert run.stdout.strip() == "[]"
