"""X.509 with `cryptography`: minting keys and certificates, reading and checking them.

Importing `cryptography` costs 50-100 ms, so only code that mints, re-issues or inspects imports
this module; a build that reuses stored certificates never does (see `kmc.tls.certs`).
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kmc.tls.request import KEY_TYPES, CertError

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
CA_DAYS = 3650
SERVING_DAYS = 730
# Backdated a little: a node whose clock runs behind still accepts a certificate minted just now.
CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclasses.dataclass(frozen=True)
class Pair:
    """A certificate and its private key, as objects and as the PEM text kmc stores."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode("ascii")


def new_key(key_type: str) -> PrivateKey:
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type in KEY_TYPES and key_type.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type.removeprefix("rsa-")))
    raise CertError(f"unknown key type {key_type!r}", f"use one of: {', '.join(KEY_TYPES)}")


def key_type_of(key: object) -> str:
    """`key`'s type as kmc names it (`ecdsa-p256`, `rsa-2048`, ...); other keys by curve or size."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ecdsa-p256" if isinstance(key.curve, ec.SECP256R1) else f"ecdsa-{key.curve.name}"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    return type(key).__name__


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def mint_ca(common_name: str, key_type: str, *, days: int = CA_DAYS) -> Pair:
    """A self-signed CA (CA:TRUE, pathlen 0, keyCertSign) valid for `days`."""
    key = new_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = now() - CLOCK_SKEW
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pair(cert, key)


def issue_serving(ca: Pair, common_name: str, dns_names: tuple[str, ...], key_type: str, *, days: int = SERVING_DAYS) -> Pair:
    """A TLS server certificate for `dns_names`, signed by `ca`."""
    return _issue(ca, common_name, dns_names, ExtendedKeyUsageOID.SERVER_AUTH, key_type, days)


def issue_client(ca: Pair, common_name: str, key_type: str, *, days: int) -> Pair:
    """A TLS client certificate for `common_name`, signed by `ca`."""
    return _issue(ca, common_name, (), ExtendedKeyUsageOID.CLIENT_AUTH, key_type, days)


def _issue(ca: Pair, common_name: str, dns_names: tuple[str, ...], usage: x509.ObjectIdentifier, key_type: str, days: int) -> Pair:
    start = now() - CLOCK_SKEW
    # A leaf never outlives its CA: clients would refuse it from that day on anyway.
    end = min(start + datetime.timedelta(days=days), ca.cert.not_valid_after_utc)
    if end <= now():
        raise CertError(
            f"the CA {subject(ca.cert)} expired on {ca.cert.not_valid_after_utc:%Y-%m-%d}; it cannot sign a new certificate",
            "renew the CA (mode generate: `kmc certs rotate STACK --ca`)",
        )
    key = new_key(key_type)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey)), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(ca.cert), critical=False)
    )
    if dns_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]), critical=False)
    return Pair(builder.sign(ca.key, hashes.SHA256()), key)


def _key_usage(*, digital_signature: bool = False, key_encipherment: bool = False, key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_id(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


# Reading


def load_certs(data: bytes, where: Path | str) -> list[x509.Certificate]:
    """Every certificate in the PEM `data` read from `where` (at least one), or CertError."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise CertError(f"{where}: no PEM certificate could be read from it", "it must hold `-----BEGIN CERTIFICATE-----` blocks")
    return certs


def load_cert(data: bytes, where: Path | str) -> x509.Certificate:
    return load_certs(data, where)[0]


def load_key(data: bytes, where: Path | str) -> PrivateKey:
    """The private key in the PEM `data` read from `where`, or CertError."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CertError(
            f"{where}: the private key is encrypted", "kmc needs it unencrypted: `openssl pkey -in KEY -out PLAIN.key` (keep PLAIN.key private, mode 0600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertError(f"{where}: no PEM private key could be read from it", "it must hold one `-----BEGIN ... PRIVATE KEY-----` block") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertError(f"{where}: a {type(key).__name__} key; kmc signs with EC or RSA keys only")
    return key


def read_pair(cert_path: Path, key_path: Path) -> Pair:
    """The certificate and key in two files; CertError when unreadable or when they do not belong together."""
    cert = load_cert(read(cert_path), cert_path)
    key = load_key(read(key_path), key_path)
    if not keys_match(cert, key):
        raise CertError(f"{key_path} is not the private key of {cert_path}", "the two files must come from the same issue; restore the pair")
    return Pair(cert, key)


def read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise CertError(f"cannot read {path}: {err.strerror or err}") from None


def keys_match(cert: x509.Certificate, key: PrivateKey) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki))


def is_ca(cert: x509.Certificate) -> bool:
    """CA:TRUE in basicConstraints, and keyCertSign when a keyUsage is present."""
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign)
    except x509.ExtensionNotFound:
        return True


def signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """Whether `ca_cert` issued `cert` (names chain and the signature verifies)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        return tuple(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        return ()


def verify_server(cert: x509.Certificate, bundle: list[x509.Certificate], hostname: str, at: datetime.datetime) -> str:
    """Why `cert` does not verify as a TLS server for `hostname` against the CAs in `bundle` at time `at` ("" when it does).

    The checks a Go client (the kube-apiserver) makes with a caBundle as its roots: issued and
    signed by a CA of the bundle, both valid at `at`, `hostname` among the DNS SANs, serverAuth
    allowed. (cryptography's own verifier holds CAs to the Web PKI profile, which refuses e.g. a
    CA from a plain `openssl req -x509` for lacking keyUsage; the kube-apiserver accepts it.)
    """
    issuers = [ca for ca in bundle if signed_by(cert, ca)]
    if not issuers:
        return "not signed by a CA of the bundle"
    if not any(is_ca(ca) for ca in issuers):
        return "its issuer is not a CA (basicConstraints CA:TRUE with keyCertSign)"
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        return f"not valid at {at:%Y-%m-%dT%H:%M:%SZ} (valid {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ})"
    if not any(ca.not_valid_before_utc <= at <= ca.not_valid_after_utc for ca in issuers if is_ca(ca)):
        return f"its CA is not valid at {at:%Y-%m-%dT%H:%M:%SZ}"
    if hostname.lower() not in (name.lower() for name in dns_names(cert)):
        return f"{hostname} is not among its DNS SANs"
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return ""
    if ExtendedKeyUsageOID.SERVER_AUTH not in usages and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages:
        return "its extendedKeyUsage does not allow serverAuth"
    return ""


def subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def issuer(cert: x509.Certificate) -> str:
    return cert.issuer.rfc4514_string()
