"""What `kmc certs show` and `kmc certs verify` find in the certificate state of one API server."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

from cryptography import x509

from kmc.tls import crypto
from kmc.tls.certs import read_ca_bundle, state_files
from kmc.tls.request import CA_CERT, TLS_CERT, TLS_KEY, CertError, ServingRequest


@dataclasses.dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    dns_names: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    key_type: str

    def days_left(self, at: datetime.datetime) -> int:
        return (self.not_after - at).days


@dataclasses.dataclass(frozen=True)
class Inspection:
    """One server's serving certificate and CA as stored, and what is wrong with them (expiry aside)."""

    where: Path  # the state directory (or, mode `secret`, the caBundle file)
    leaf: CertInfo | None
    ca: CertInfo | None
    problems: tuple[str, ...]
    key_absent: Path | None = None  # the serving key's file, when the state holds the certificate only (a clone)

    def expiring(self, at: datetime.datetime, days: int) -> tuple[str, ...]:
        """A line for each certificate that expires within `days` of `at` (or has expired)."""
        lines = []
        for what, info in (("serving certificate", self.leaf), ("CA", self.ca)):
            if info is None:
                continue
            left = info.days_left(at)
            if info.not_after <= at:
                lines.append(f"the {what} expired on {stamp(info.not_after)}")
            elif info.not_after - at <= datetime.timedelta(days=days):
                lines.append(f"the {what} expires on {stamp(info.not_after)}, in {left} day{'s' if left != 1 else ''} (within {days})")
        return tuple(lines)


def stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def inspect(state_dir: Path, request: ServingRequest, at: datetime.datetime) -> Inspection:
    """Read `request`'s state and check it: chain to the CA bundle for `<svc>.<ns>.svc` at `at`, SANs, key."""
    directory = state_dir / request.server
    paths = state_files(directory, request)
    problems: list[str] = []
    bundle: list[x509.Certificate] = []
    leaf = ca = None
    if not directory.is_dir():
        return Inspection(directory, None, None, (f"no certificate state at {directory}; run `kmc build` once",))
    try:
        bundle = crypto.load_certs(paths[CA_CERT].read_bytes(), paths[CA_CERT])
        ca = _info(bundle[0])
        if not crypto.is_ca(bundle[0]):
            problems.append(f"{paths[CA_CERT]} is not a CA certificate (basicConstraints CA:TRUE with keyCertSign)")
    except OSError as err:
        problems.append(f"cannot read {paths[CA_CERT]}: {err.strerror or err}")
    except CertError as err:
        problems.append(err.message)
    # The key is kept out of git: without it the certificate is checked alone, with it the pair.
    key_absent = paths[TLS_KEY] if paths[TLS_CERT].exists() and not paths[TLS_KEY].exists() else None
    try:
        cert = crypto.load_cert(crypto.read(paths[TLS_CERT]), paths[TLS_CERT]) if key_absent else crypto.read_pair(paths[TLS_CERT], paths[TLS_KEY]).cert
    except CertError as err:
        problems.append(err.message)
    else:
        leaf = _info(cert)
        missing = [name for name in request.dns_names if name not in leaf.dns_names]
        if missing:
            problems.append(f"the serving certificate's SANs lack {', '.join(missing)}")
        if bundle:
            reason = crypto.verify_server(cert, bundle, request.hostname, at)
            if reason:
                problems.append(f"the serving certificate does not verify against {paths[CA_CERT]} for {request.hostname}: {reason}")
    return Inspection(directory, leaf, ca, tuple(problems), key_absent)


def inspect_bundle(path: Path) -> Inspection:
    """Mode `secret`: the caBundle file the stack names (the serving certificate is in the cluster, not here)."""
    try:
        text = read_ca_bundle(path)
    except CertError as err:
        return Inspection(path, None, None, (err.message,))
    ca = next(cert for cert in crypto.load_certs(text.encode(), path) if crypto.is_ca(cert))
    return Inspection(path, None, _info(ca), ())


def _info(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        subject=crypto.subject(cert),
        issuer=crypto.issuer(cert),
        dns_names=crypto.dns_names(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=crypto.key_type_of(cert.public_key()),
    )
