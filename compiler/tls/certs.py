"""Serving certificates for kmc's aggregated API servers, kept as state next to the stack.

The kube-apiserver reaches an aggregated API server (metrics-server, prometheus-adapter) over TLS
and trusts the CA in its APIService's `caBundle`. kmc issues that certificate in one of two modes:

- `generate`: kmc's own CA; `STATE/<server>/` keeps `ca.crt`, `ca.key`, `tls.crt`, `tls.key`.
- `ca`: the user's CA (e.g. the cluster CA) signs; `STATE/<server>/` keeps `tls.crt`, `tls.key`.

`issued.json` beside them records what was issued (the request and the sha256 of every file).
A build whose request and files still match it reads the PEM text and returns it: no parsing,
no `cryptography` import (50-100 ms of a pre-commit hook), the same bytes every time. Anything
else (first build, a changed request, a replaced CA, a hand edit) goes to `kmc.tls.crypto`,
which checks the files and mints or re-issues what is missing or no longer fits.

The public half (the certificates and `issued.json`) is committed with the stack; the private
keys are not (the state's `.gitignore` says so). A clone without the keys builds the same bytes
from the certificates alone: the material's `key` is then None, and only what needs the key (a
Secret in the output, `kmc certs secrets`) asks for it. A new CA is minted only where the state
holds no certificate at all, and what a build mints or issues is said (`ServingMaterial.made`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kmc.read import inputs
from kmc.record import field, record
from kmc.tls.request import CA_CERT, CA_KEY, KEY_TYPES, SIDECAR, STATE_FORMAT, TLS_CERT, TLS_KEY, CertError, ServingRequest

if TYPE_CHECKING:
    import datetime

    from cryptography import x509

    from kmc.tls.crypto import Pair


@record
class ServingMaterial:
    """What a build puts into the APIService and the server's Secret, and what it read for it."""

    ca_bundle: str  # PEM of the CA that signed `cert` (the APIService's caBundle, base64'd by the caller)
    cert: str  # PEM serving certificate
    key: str | None  # PEM private key (PKCS#8); None where the state holds the certificates only (a clone)
    expires: str  # when `cert` expires: ISO 8601 in UTC, as issued.json records it
    files: tuple[Path, ...]  # the files the material comes from (state, or the user's CA certificate; the key when there)
    key_file: Path  # where the private key is kept, there or not
    made: str = field(default="", compare=False)  # what this call minted or issued, as a sentence ("" when it only read)

    @property
    def not_after(self) -> datetime.datetime:
        """`expires` as a datetime, parsed on use: a build never needs it, and datetime costs it ~1 ms to import."""
        import datetime

        return datetime.datetime.fromisoformat(self.expires)


def serving_material(state_dir: Path, request: ServingRequest, *, create: bool) -> ServingMaterial:
    """The CA bundle, certificate and key for `request`, from `state_dir/<server>/`.

    Stored material that still fits is returned as is (byte for byte), with or without its private
    key. With `create`, a state without any certificate gets a new one (a new CA in mode
    `generate`), and a serving certificate that no longer fits the request is re-issued from the
    same CA; without `create`, either is a CertError asking for `kmc build`.
    """
    _check_request(request)
    directory = state_dir / request.server
    if create:
        _renew_gitignore(state_dir)
    stored = _reuse(directory, request)
    if stored is not None:
        return stored
    if not create:
        return _checked(directory, request, create=False)
    with _locked(state_dir):
        # Another kmc (a parallel hook) may have made it while this one waited for the lock.
        return _reuse(directory, request) or _checked(directory, request, create=True)


def _checked(directory: Path, request: ServingRequest, *, create: bool) -> ServingMaterial:
    """The slow path: every file read and checked; with `create`, what is missing or stale is made."""
    from kmc.tls import crypto

    if not create and not directory.is_dir():
        raise CertError(f"no certificate state at {directory}", "run `kmc build` once; it creates the certificates there")
    ca_cert, minted_ca = _ca_cert(directory, request, create=create)
    had_leaf = (directory / TLS_CERT).exists()
    leaf = _current_leaf(directory, request, ca_cert)
    made = ""
    if leaf is None:
        if not create:
            raise CertError(
                f"the serving certificate in {directory} does not fit the stack (service, namespace, cluster domain, key type or CA changed)",
                "run `kmc build`; it re-issues the certificate",
            )
        issued = crypto.issue_serving(_ca_pair(directory, request), request.hostname, request.dns_names, request.key_type)
        write_private_files(directory, {TLS_CERT: issued.cert_pem, TLS_KEY: issued.key_pem})
        leaf = issued.cert
        if minted_ca:
            made = f"no certificate in {directory}: minted a new CA and a serving certificate"
        elif had_leaf:
            made = f"the serving certificate in {directory} no longer fit the stack (service, namespace, cluster domain, key type or CA changed): issued a new one from the same CA"
        else:
            made = f"no serving certificate in {directory}: issued one from {'your' if request.mode == 'ca' else 'its'} CA"
    material = _material(directory, request, leaf, made)
    # issued.json vouches for the key too: only a state that holds it (re)writes the record.
    if create and material.key is not None:
        _write_sidecar(directory, request, material)
    return material


def rotate(state_dir: Path, request: ServingRequest, *, new_ca: bool = False) -> ServingMaterial:
    """Issue a new serving certificate for `request` (and, with `new_ca`, a new generate-mode CA first)."""
    from kmc.tls import crypto

    _check_request(request)
    if new_ca and request.mode == "ca":
        raise CertError(f"{request.server} is signed by your CA ({request.ca_cert}); kmc cannot rotate it", "rotate without --ca, or replace your CA files")
    directory = state_dir / request.server
    _renew_gitignore(state_dir)
    with _locked(state_dir):
        if new_ca:
            fresh = crypto.mint_ca(f"kmc {request.server} CA", request.key_type)
            write_private_files(directory, {CA_CERT: fresh.cert_pem, CA_KEY: fresh.key_pem})
        _ca_cert(directory, request, create=False)
        leaf = crypto.issue_serving(_ca_pair(directory, request), request.hostname, request.dns_names, request.key_type)
        write_private_files(directory, {TLS_CERT: leaf.cert_pem, TLS_KEY: leaf.key_pem})
        material = _material(directory, request, leaf.cert)
        _write_sidecar(directory, request, material)
    return material


def read_ca_bundle(path: Path) -> str:
    """The PEM text of a caBundle file the user gives (mode `secret`); CertError unless it holds a CA certificate."""
    from kmc.tls import der

    try:
        data = inputs.read(path)
    except OSError as err:
        raise CertError(f"cannot read the caBundle file {path}: {err.strerror or err}") from None
    if not any(der.pem_certificates_are_ca(data) or ()):
        from kmc.tls import crypto  # the reader of last resort, and the one that says what is wrong

        certs = crypto.load_certs(data, path)
        if not any(crypto.is_ca(cert) for cert in certs):
            raise CertError(
                f"{path}: no certificate in it is a CA (basicConstraints CA:TRUE)",
                "give the CA that signed the server's certificate, not the certificate itself",
            )
    return _pem(data, path)  # the bytes checked are the bytes used: no second read


# What the material is made of, and what `issued.json` hashes; the CA key only signs.
MATERIAL = (CA_CERT, TLS_CERT, TLS_KEY)
PUBLIC = (CA_CERT, TLS_CERT)  # what a build needs: committed with the stack

# The state directory's `.gitignore`: the private keys stay out of git, the rest is committed.
GITIGNORE = """\
# kmc certificate state. Commit the certificates (*.crt) and issued.json: a fresh clone then
# builds the same output. The private keys stay out of git: back them up, or encrypt them.
*.key
"""
# What kmc wrote there before the certificates were committed (it ignored everything).
_OLD_GITIGNORE = "# kmc certificate state: private keys; never commit it (or encrypt it)\n*\n"


def missing_key(server: str, key_file: Path, needed_by: str, stack_file: str) -> CertError:
    """The error of a private key that is not in the state (a clone: keys stay out of git) where `needed_by` needs it."""
    return CertError(
        f"{key_file} is missing: {needed_by} needs {server}'s private key, and the certificate state holds only the certificates",
        "private keys are kept out of git: copy it from where the state was made (or your backup), or run "
        f"`kmc certs rotate {stack_file} --server {server}` for a new key and certificate (then commit tls.crt and issued.json)",
    )


def state_files(directory: Path, request: ServingRequest) -> dict[str, Path]:
    """The files the material of `request` comes from, by role (`ca.crt`, `ca.key`, `tls.crt`, `tls.key`)."""
    if request.ca_cert is not None and request.ca_key is not None:
        ca_cert, ca_key = request.ca_cert, request.ca_key
    else:
        ca_cert, ca_key = directory / CA_CERT, directory / CA_KEY
    return {CA_CERT: ca_cert, CA_KEY: ca_key, TLS_CERT: directory / TLS_CERT, TLS_KEY: directory / TLS_KEY}


def _check_request(request: ServingRequest) -> None:
    if request.key_type not in KEY_TYPES:
        raise CertError(f"{request.server}: unknown key type {request.key_type!r}", f"use one of: {', '.join(KEY_TYPES)}")
    if (request.ca_cert is None) != (request.ca_key is None):
        raise CertError(f"{request.server}: mode `ca` needs both the CA certificate and its key")
    for name in ("server", "service", "namespace", "cluster_domain"):
        if not getattr(request, name):
            raise CertError(f"{request.server or 'an API server'}: empty {name} in the certificate request")


# The fast path: standard library only.


def _reuse(directory: Path, request: ServingRequest) -> ServingMaterial | None:
    """The stored material when `issued.json` vouches for it unchanged; None sends the caller to the slow path."""
    try:
        issued = json.loads((directory / SIDECAR).read_bytes())
        if issued.get("format") != STATE_FORMAT or issued.get("request") != request.record():
            return None
        recorded = issued["sha256"]
        if sorted(recorded) != sorted(MATERIAL):
            return None
        paths = state_files(directory, request)
        read = {role: inputs.read_heard(paths[role]) for role in PUBLIC}
        key = _read_if_there(paths[TLS_KEY])
        if key is not None:
            read[TLS_KEY] = key
        if any(recorded[role] != heard.sha256 for role, (_, heard) in read.items()):
            return None
        expires = issued["notAfter"]
        if not (isinstance(expires, str) and _ISO_UTC.fullmatch(expires)):
            return None
        text = {role: data.decode("utf-8") for role, (data, _) in read.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, unreadable or hand-edited: the slow path says what is wrong
    inputs.hear(*(heard for _, heard in read.values()))  # these very bytes make the material
    return _assembled(paths, text, expires)


def _read_if_there(path: Path) -> tuple[bytes, inputs.Heard] | None:
    """The content of `path` as `inputs.read_heard` gives it; None when there is no such file (a
    private key kept out of git)."""
    try:
        return inputs.read_heard(path)
    except FileNotFoundError:
        return None


def _assembled(paths: dict[str, Path], text: dict[str, str], expires: str, made: str = "") -> ServingMaterial:
    files = tuple(sorted(paths[role] for role in text))
    return ServingMaterial(text[CA_CERT], text[TLS_CERT], text.get(TLS_KEY), expires, files, paths[TLS_KEY], made)


# A UTC time as datetime.isoformat writes one (the fast path checks its shape without datetime).
_ISO_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?\+00:00")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The slow path: checks every file with `cryptography`.


def _ca_cert(directory: Path, request: ServingRequest, *, create: bool) -> tuple[x509.Certificate, bool]:
    """The certificate of the CA that signs `request`'s serving certificate: the user's, or kmc's
    own; and whether it was minted just now (only when `create` and the state holds nothing)."""
    from kmc.tls import crypto

    paths = state_files(directory, request)
    cert_path = paths[CA_CERT]
    if request.mode == "generate" and not cert_path.exists():
        held = [name for name in (CA_KEY, TLS_CERT, TLS_KEY, SIDECAR) if (directory / name).exists()]
        if held:
            # A new CA changes the caBundle every cluster trusts: never in place of state that exists.
            raise CertError(f"{cert_path} is missing, and {directory} holds {', '.join(held)}: kmc mints a new CA only where there is no state", _NEW_CA)
        if not create:
            raise CertError(f"no certificate state at {directory}", "run `kmc build` once; it creates the certificates there")
        ca = crypto.mint_ca(f"kmc {request.server} CA", request.key_type)
        write_private_files(directory, {CA_CERT: ca.cert_pem, CA_KEY: ca.key_pem})
        return ca.cert, True
    try:
        cert = crypto.load_cert(crypto.read(cert_path), cert_path)
    except CertError as err:
        raise CertError(err.message, _NEW_CA if request.mode == "generate" else "give the CA certificate as PEM") from None
    if not crypto.is_ca(cert):
        raise CertError(
            f"{cert_path} is not a CA certificate (no basicConstraints CA:TRUE with keyCertSign)",
            _NEW_CA if request.mode == "generate" else "give the CA that is to sign the serving certificate",
        )
    return cert, False


def _ca_pair(directory: Path, request: ServingRequest) -> Pair:
    """The CA with its key, to sign with. The key is read only here: once the serving certificate
    is issued, builds need no CA key (keep yours offline)."""
    from kmc.tls import crypto

    paths = state_files(directory, request)
    if not paths[CA_KEY].exists():
        raise CertError(
            f"{paths[CA_KEY]} is missing; a new serving certificate needs the CA key",
            _NEW_CA
            if request.mode == "generate"
            else "kmc needs it to issue: at the first build, and when the service, namespace, cluster domain or key type change",
        )
    try:
        return crypto.read_pair(paths[CA_CERT], paths[CA_KEY])
    except CertError as err:
        if request.mode == "ca":
            raise
        raise CertError(err.message, _NEW_CA) from None


_NEW_CA = "restore the CA from your backup, or run `kmc certs rotate STACK --ca` for a new one (the APIService's caBundle changes)"


def _current_leaf(directory: Path, request: ServingRequest, ca_cert: x509.Certificate) -> x509.Certificate | None:
    """The stored serving certificate when it still fits `request` and `ca_cert` (its key, when
    there, must be its own); None when there is none or it does not fit."""
    from kmc.tls import crypto

    cert_path, key_path = directory / TLS_CERT, directory / TLS_KEY
    if not cert_path.exists() and not key_path.exists():
        return None
    try:
        # Without its key (a clone) the certificate alone decides: the key is checked where it is.
        leaf = crypto.read_pair(cert_path, key_path).cert if key_path.exists() else crypto.load_cert(crypto.read(cert_path), cert_path)
    except CertError as err:
        raise CertError(err.message, f"run `kmc certs rotate STACK --server {request.server}` for a new serving certificate") from None
    fits = (
        crypto.signed_by(leaf, ca_cert)
        and sorted(crypto.dns_names(leaf)) == sorted(request.dns_names)
        and crypto.key_type_of(leaf.public_key()) == request.key_type
    )
    return leaf if fits else None


def _material(directory: Path, request: ServingRequest, leaf: x509.Certificate, made: str = "") -> ServingMaterial:
    """The material as stored on disk (the bytes the fast path returns next time)."""
    paths = state_files(directory, request)
    text = {role: _pem_text(paths[role]) for role in PUBLIC}
    if paths[TLS_KEY].exists():
        text[TLS_KEY] = _pem_text(paths[TLS_KEY])
    return _assembled(paths, text, leaf.not_valid_after_utc.isoformat(), made)


def _pem_text(path: Path) -> str:
    """The PEM text of `path`, heard by the build's recording: the material is made of it."""
    try:
        data = inputs.read(path)
    except OSError as err:
        raise CertError(f"cannot read {path}: {err.strerror or err}") from None
    return _pem(data, path)


def _pem(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CertError(f"{path}: not PEM text (not even UTF-8)", "give the certificate in PEM form: `openssl x509 -in FILE -out FILE.pem`") from None


def _write_sidecar(directory: Path, request: ServingRequest, material: ServingMaterial) -> None:
    paths = state_files(directory, request)
    issued = {
        "format": STATE_FORMAT,
        "request": request.record(),
        "notAfter": material.expires,
        "sha256": {role: _sha256(paths[role].read_bytes()) for role in MATERIAL},
    }
    text = json.dumps(issued, indent=2, sort_keys=True) + "\n"
    try:
        if (directory / SIDECAR).read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_private_files(directory, {SIDECAR: text})


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's lock: a lock on the directory itself, so that the state holds
    nothing but what it is made of (made 0700, with its `.gitignore`, when new)."""
    import fcntl

    try:
        try:
            state_dir.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        else:
            state_dir.chmod(0o700)
            _write_file(state_dir / ".gitignore", GITIGNORE.encode("ascii"), 0o644)
        fd = os.open(state_dir, os.O_RDONLY)
    except OSError as err:
        raise CertError(f"cannot create the certificate state directory {state_dir}: {err.strerror or err}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _renew_gitignore(state_dir: Path) -> None:
    """Replace the `.gitignore` of everything that kmc once wrote by today's, which lets the
    certificates be committed; and drop the empty lock file that kmc then kept beside it."""
    path = state_dir / ".gitignore"
    try:
        if path.read_bytes() != _OLD_GITIGNORE.encode("ascii"):
            return
    except OSError:
        return
    with _locked(state_dir):
        try:
            _write_file(path, GITIGNORE.encode("ascii"), 0o644)
            old_lock = state_dir / ".lock"
            if old_lock.is_file() and old_lock.stat().st_size == 0:
                old_lock.unlink()
        except OSError as err:
            raise CertError(f"cannot write {path}: {err.strerror or err}") from None


def write_private_files(directory: Path, files: dict[str, str]) -> None:
    """Write each of `files` (name → PEM or JSON text) into `directory` atomically; `*.key` 0600, a new directory 0700."""
    try:
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True)
            directory.chmod(0o700)
        for name, text in files.items():
            _write_file(directory / name, text.encode("ascii"), 0o600 if name.endswith(".key") else 0o644)
    except OSError as err:
        raise CertError(f"cannot write {directory}: {err.strerror or err}") from None


def _write_file(path: Path, data: bytes, mode: int) -> None:
    import tempfile

    # The temporary file ends like the file it becomes: one a crash leaves behind is ignored as a key is.
    fd, temp = tempfile.mkstemp(prefix=".", suffix=f".{path.name}", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
