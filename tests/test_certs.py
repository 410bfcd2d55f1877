"""Serving certificates for the aggregated API servers (kmc.tls.certs): minted once, reused byte for
byte, re-issued only when the request changes, and judged by the real `openssl verify` too."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from x509_tools import openssl, user_ca

from kmc.record import replace
from kmc.tls import certs, crypto
from kmc.tls.request import CertError, ServingRequest

REQUEST = ServingRequest(server="metrics-server", service="metrics-server", namespace="monitoring", cluster_domain="cluster.local")
HOST = "metrics-server.monitoring.svc"


def write_pem(path: Path, text: str) -> Path:
    path.write_text(text, encoding="ascii")
    return path


def openssl_verify(tmp_path: Path, material: certs.ServingMaterial, *options: str) -> subprocess.CompletedProcess[str]:
    ca = write_pem(tmp_path / "bundle.pem", material.ca_bundle)
    leaf = write_pem(tmp_path / "leaf.pem", material.cert)
    return openssl("verify", "-CAfile", ca, *options, leaf)


def mtimes(directory: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in sorted(directory.iterdir())}


# generate mode


def test_first_build_mints_a_ca_and_a_serving_cert_kept_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    material = certs.serving_material(state, REQUEST, create=True)
    server = state / "metrics-server"
    assert sorted(path.name for path in server.iterdir()) == ["ca.crt", "ca.key", "issued.json", "tls.crt", "tls.key"]
    # The state holds what it is made of and its .gitignore; kmc locks the directory itself.
    assert sorted(path.name for path in state.iterdir()) == [".gitignore", "metrics-server"]
    assert (state / ".gitignore").read_text() == certs.GITIGNORE
    assert material.made == f"no certificate in {server}: minted a new CA and a serving certificate"
    assert state.stat().st_mode & 0o777 == 0o700 and server.stat().st_mode & 0o777 == 0o700
    assert (server / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (server / "tls.key").stat().st_mode & 0o777 == 0o600
    assert material.ca_bundle == (server / "ca.crt").read_text()
    assert material.cert == (server / "tls.crt").read_text()
    assert material.key == (server / "tls.key").read_text()
    assert material.key.startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    # What the output is made of: not the CA key (it only signs), not issued.json (it only vouches).
    assert material.files == tuple(sorted(server / name for name in ("ca.crt", "tls.crt", "tls.key")))
    leaf = crypto.load_cert(material.cert.encode(), "tls.crt")
    assert leaf.not_valid_after_utc == material.not_after
    assert crypto.dns_names(leaf) == (
        "metrics-server",
        "metrics-server.monitoring",
        "metrics-server.monitoring.svc",
        "metrics-server.monitoring.svc.cluster.local",
    )
    assert crypto.key_type_of(leaf.public_key()) == "ecdsa-p256"
    assert 700 <= (material.not_after - leaf.not_valid_before_utc).days <= 731


def test_the_ca_is_a_ca(tmp_path: Path) -> None:
    material = certs.serving_material(tmp_path, REQUEST, create=True)
    ca = crypto.load_cert(material.ca_bundle.encode(), "ca.crt")
    assert crypto.is_ca(ca)
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650
    text = openssl("x509", "-noout", "-text", "-in", tmp_path / "metrics-server/ca.crt").stdout
    assert "CA:TRUE" in text and "Certificate Sign" in text
    leaf_text = openssl("x509", "-noout", "-text", "-in", tmp_path / "metrics-server/tls.crt").stdout
    assert "CA:FALSE" in leaf_text and "TLS Web Server Authentication" in leaf_text


def test_serving_cert_verifies_for_the_service_name_only_while_valid(tmp_path: Path) -> None:
    material = certs.serving_material(tmp_path / "state", REQUEST, create=True)
    leaf = crypto.load_cert(material.cert.encode(), "tls.crt")
    bundle = crypto.load_certs(material.ca_bundle.encode(), "ca.crt")
    now = crypto.now()
    assert crypto.verify_server(leaf, bundle, HOST, now) == ""
    assert crypto.verify_server(leaf, bundle, f"{HOST}.cluster.local", now) == ""
    assert crypto.verify_server(leaf, bundle, "prometheus-adapter.monitoring.svc", now) == "prometheus-adapter.monitoring.svc is not among its DNS SANs"
    later = material.not_after + datetime.timedelta(seconds=1)
    assert crypto.verify_server(leaf, bundle, HOST, later).startswith(f"not valid at {later:%Y-%m-%dT%H:%M:%SZ} (valid ")
    other = certs.serving_material(tmp_path / "other", REQUEST, create=True)  # another CA
    assert crypto.verify_server(leaf, crypto.load_certs(other.ca_bundle.encode(), "ca.crt"), HOST, now) == "not signed by a CA of the bundle"
    ca = crypto.read_pair(tmp_path / "state/metrics-server/ca.crt", tmp_path / "state/metrics-server/ca.key")
    client = crypto.issue_client(ca, HOST, "ecdsa-p256", days=1)
    assert crypto.verify_server(client.cert, bundle, HOST, now) == f"{HOST} is not among its DNS SANs"
    named_client = crypto._issue(ca, HOST, (HOST,), ExtendedKeyUsageOID.CLIENT_AUTH, "ecdsa-p256", 1)
    assert crypto.verify_server(named_client.cert, bundle, HOST, now) == "its extendedKeyUsage does not allow serverAuth"


def test_openssl_verify_agrees(tmp_path: Path) -> None:
    material = certs.serving_material(tmp_path / "state", REQUEST, create=True)
    ok = openssl_verify(tmp_path, material, "-purpose", "sslserver", "-verify_hostname", HOST)
    assert ok.returncode == 0 and ok.stdout.strip().endswith(": OK"), ok.stdout + ok.stderr
    wrong = openssl_verify(tmp_path, material, "-verify_hostname", "prometheus-adapter.monitoring.svc")
    assert wrong.returncode != 0 and "hostname mismatch" in wrong.stdout + wrong.stderr
    expired_at = str(int(material.not_after.timestamp()) + 1)
    expired = openssl_verify(tmp_path, material, "-verify_hostname", HOST, "-attime", expired_at)
    assert expired.returncode != 0 and "certificate has expired" in expired.stdout + expired.stderr


def test_rebuild_reuses_the_bytes_without_writing(tmp_path: Path) -> None:
    first = certs.serving_material(tmp_path, REQUEST, create=True)
    before = mtimes(tmp_path / "metrics-server")
    for create in (True, False):
        assert certs.serving_material(tmp_path, REQUEST, create=create) == first
    assert mtimes(tmp_path / "metrics-server") == before


@pytest.mark.parametrize("keys", ["kept", "not-in-this-clone"])
def test_reuse_does_not_import_cryptography(tmp_path: Path, keys: str) -> None:
    certs.serving_material(tmp_path, REQUEST, create=True)
    if keys != "kept":
        for key in tmp_path.glob("*/*.key"):
            key.unlink()
    program = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from kmc.tls import certs
        request = certs.ServingRequest("metrics-server", "metrics-server", "monitoring", "cluster.local")
        for create in (True, False):
            certs.serving_material(Path({str(tmp_path)!r}), request, create=create)
        print(sorted(name for name in sys.modules if name.startswith("cryptography")))
    """)
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60)
    assert run.stdout.strip() == "[]"


def test_a_lost_or_edited_sidecar_is_rebuilt_from_the_checked_files(tmp_path: Path) -> None:
    first = certs.serving_material(tmp_path, REQUEST, create=True)
    sidecar = tmp_path / "metrics-server/issued.json"
    recorded = sidecar.read_text()
    sidecar.write_text("{not json")
    assert certs.serving_material(tmp_path, REQUEST, create=False) == first
    assert sidecar.read_text() == "{not json"  # create=False writes nothing
    assert certs.serving_material(tmp_path, REQUEST, create=True) == first
    assert sidecar.read_text() == recorded
    sidecar.unlink()
    assert certs.serving_material(tmp_path, REQUEST, create=True) == first
    assert json.loads(sidecar.read_text())["request"]["namespace"] == "monitoring"


@pytest.mark.parametrize(
    "change",
    [{"namespace": "observability"}, {"service": "metrics"}, {"cluster_domain": "k8s.example"}, {"key_type": "rsa-2048"}],
    ids=["namespace", "service", "cluster-domain", "key-type"],
)
def test_a_changed_request_reissues_the_serving_cert_only(tmp_path: Path, change: dict[str, str]) -> None:
    first = certs.serving_material(tmp_path, REQUEST, create=True)
    ca_key = (tmp_path / "metrics-server/ca.key").read_bytes()
    changed = replace(REQUEST, **change)
    with pytest.raises(CertError) as refused:
        certs.serving_material(tmp_path, changed, create=False)
    assert "does not fit the stack" in refused.value.message and "kmc build" in refused.value.hint
    second = certs.serving_material(tmp_path, changed, create=True)
    assert second.ca_bundle == first.ca_bundle and (tmp_path / "metrics-server/ca.key").read_bytes() == ca_key
    assert second.cert != first.cert and second.key != first.key
    leaf = crypto.load_cert(second.cert.encode(), "tls.crt")
    assert sorted(crypto.dns_names(leaf)) == sorted(changed.dns_names)
    assert crypto.key_type_of(leaf.public_key()) == changed.key_type
    assert openssl_verify(tmp_path, second, "-verify_hostname", changed.hostname).returncode == 0
    assert certs.serving_material(tmp_path, changed, create=False) == second  # and reused from then on


def test_no_state_and_no_create_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CertError) as missing:
        certs.serving_material(tmp_path / "state", REQUEST, create=False)
    assert missing.value.message == f"no certificate state at {tmp_path / 'state' / 'metrics-server'}"
    assert "kmc build" in missing.value.hint
    assert not (tmp_path / "state").exists()


def _corrupt_leaf(server: Path) -> str:
    (server / "tls.crt").write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    return "no PEM certificate could be read"


def _foreign_key(server: Path) -> str:
    (server / "tls.key").write_text(crypto.mint_ca("another", "ecdsa-p256").key_pem)
    return "is not the private key of"


def _lost_ca_cert(server: Path) -> str:
    (server / "ca.crt").unlink()
    return "ca.crt is missing"


def _garbage_ca(server: Path) -> str:
    (server / "ca.crt").write_bytes(b"\x00\xff garbage")
    return "no PEM certificate could be read"


@pytest.mark.parametrize("damage", [_corrupt_leaf, _foreign_key, _lost_ca_cert, _garbage_ca])
@pytest.mark.parametrize("create", [True, False])
def test_damaged_state_is_a_cert_error_with_a_hint(tmp_path: Path, damage: object, create: bool) -> None:
    certs.serving_material(tmp_path, REQUEST, create=True)
    expected = damage(tmp_path / "metrics-server")  # type: ignore[operator]
    with pytest.raises(CertError) as broken:
        certs.serving_material(tmp_path, REQUEST, create=create)
    assert expected in broken.value.message
    assert "kmc certs rotate" in broken.value.hint
    assert "hint: " in str(broken.value)


def test_the_ca_key_is_needed_only_to_issue(tmp_path: Path) -> None:
    first = certs.serving_material(tmp_path, REQUEST, create=True)
    (tmp_path / "metrics-server/ca.key").unlink()  # kept offline, or lost
    (tmp_path / "metrics-server/issued.json").unlink()  # and the slow path checks everything
    for create in (False, True):
        assert certs.serving_material(tmp_path, REQUEST, create=create) == first
    for attempt in (
        lambda: certs.serving_material(tmp_path, replace(REQUEST, namespace="other"), create=True),
        lambda: certs.rotate(tmp_path, REQUEST),
    ):
        with pytest.raises(CertError) as refused:
            attempt()
        assert refused.value.message == f"{tmp_path / 'metrics-server/ca.key'} is missing; a new serving certificate needs the CA key"
        assert "kmc certs rotate STACK --ca" in refused.value.hint


def test_ca_mode_builds_without_the_users_ca_key_once_issued(tmp_path: Path) -> None:
    ca_cert, ca_key = user_ca(tmp_path / "pki")
    request = replace(REQUEST, ca_cert=ca_cert, ca_key=ca_key)
    first = certs.serving_material(tmp_path / "state", request, create=True)
    ca_key.unlink()
    assert certs.serving_material(tmp_path / "state", request, create=True) == first
    with pytest.raises(CertError) as refused:
        certs.serving_material(tmp_path / "state", replace(request, key_type="rsa-2048"), create=True)
    assert refused.value.message == f"{ca_key} is missing; a new serving certificate needs the CA key"


def test_rotate_reissues_the_leaf_and_with_ca_the_ca(tmp_path: Path) -> None:
    first = certs.serving_material(tmp_path, REQUEST, create=True)
    rotated = certs.rotate(tmp_path, REQUEST)
    assert rotated.ca_bundle == first.ca_bundle and rotated.cert != first.cert
    assert certs.serving_material(tmp_path, REQUEST, create=False) == rotated
    new_ca = certs.rotate(tmp_path, REQUEST, new_ca=True)
    assert new_ca.ca_bundle != first.ca_bundle
    assert openssl_verify(tmp_path, new_ca, "-verify_hostname", HOST).returncode == 0
    assert certs.serving_material(tmp_path, REQUEST, create=False) == new_ca


def test_rsa_key_types(tmp_path: Path) -> None:
    request = replace(REQUEST, key_type="rsa-3072")
    material = certs.serving_material(tmp_path, request, create=True)
    leaf = crypto.load_cert(material.cert.encode(), "tls.crt")
    ca = crypto.load_cert(material.ca_bundle.encode(), "ca.crt")
    assert crypto.key_type_of(leaf.public_key()) == "rsa-3072" == crypto.key_type_of(ca.public_key())
    assert "Key Encipherment" in openssl("x509", "-noout", "-text", "-in", tmp_path / "metrics-server/tls.crt").stdout
    assert openssl_verify(tmp_path, material, "-verify_hostname", HOST).returncode == 0


def test_an_unknown_key_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CertError) as refused:
        certs.serving_material(tmp_path, replace(REQUEST, key_type="dsa-1024"), create=True)
    assert refused.value.hint == "use one of: ecdsa-p256, rsa-2048, rsa-3072, rsa-4096"


# ca mode: the user's CA signs


def test_ca_mode_signs_with_the_users_openssl_ca(tmp_path: Path) -> None:
    ca_cert, ca_key = user_ca(tmp_path / "pki")
    request = replace(REQUEST, ca_cert=ca_cert, ca_key=ca_key)
    material = certs.serving_material(tmp_path / "state", request, create=True)
    assert material.ca_bundle == ca_cert.read_text()
    assert sorted(path.name for path in (tmp_path / "state/metrics-server").iterdir()) == ["issued.json", "tls.crt", "tls.key"]
    assert ca_cert in material.files and ca_key not in material.files
    verified = openssl("verify", "-CAfile", ca_cert, "-purpose", "sslserver", "-verify_hostname", HOST, tmp_path / "state/metrics-server/tls.crt")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    before = mtimes(tmp_path / "state/metrics-server")
    assert certs.serving_material(tmp_path / "state", request, create=False) == material
    assert mtimes(tmp_path / "state/metrics-server") == before


def test_ca_mode_reissues_when_the_users_ca_changes(tmp_path: Path) -> None:
    ca_cert, ca_key = user_ca(tmp_path / "pki")
    request = replace(REQUEST, ca_cert=ca_cert, ca_key=ca_key)
    first = certs.serving_material(tmp_path / "state", request, create=True)
    user_ca(tmp_path / "pki")  # the same files, a new CA
    with pytest.raises(CertError, match="does not fit the stack"):
        certs.serving_material(tmp_path / "state", request, create=False)
    second = certs.serving_material(tmp_path / "state", request, create=True)
    assert second.cert != first.cert and second.ca_bundle == ca_cert.read_text() != first.ca_bundle
    assert openssl("verify", "-CAfile", ca_cert, "-verify_hostname", HOST, tmp_path / "state/metrics-server/tls.crt").returncode == 0


def test_ca_mode_refuses_a_key_that_is_not_the_cas(tmp_path: Path) -> None:
    ca_cert, _ = user_ca(tmp_path / "one")
    _, other_key = user_ca(tmp_path / "two")
    with pytest.raises(CertError) as refused:
        certs.serving_material(tmp_path / "state", replace(REQUEST, ca_cert=ca_cert, ca_key=other_key), create=True)
    assert refused.value.message == f"{other_key} is not the private key of {ca_cert}"


def test_ca_mode_refuses_a_certificate_that_is_not_a_ca(tmp_path: Path) -> None:
    cert, key = user_ca(tmp_path / "pki", "leaf", "-addext", "basicConstraints=critical,CA:FALSE")
    with pytest.raises(CertError, match="is not a CA certificate"):
        certs.serving_material(tmp_path / "state", replace(REQUEST, ca_cert=cert, ca_key=key), create=True)


def test_ca_mode_refuses_an_encrypted_key_with_a_hint(tmp_path: Path) -> None:
    cert, key = user_ca(tmp_path / "pki")
    encrypted = tmp_path / "pki/encrypted.key"
    assert openssl("pkey", "-in", key, "-aes256", "-passout", "pass:secret", "-out", encrypted).returncode == 0
    with pytest.raises(CertError) as refused:
        certs.serving_material(tmp_path / "state", replace(REQUEST, ca_cert=cert, ca_key=encrypted), create=True)
    assert refused.value.message == f"{encrypted}: the private key is encrypted" and "openssl pkey" in refused.value.hint


def test_ca_mode_cannot_rotate_the_users_ca(tmp_path: Path) -> None:
    ca_cert, ca_key = user_ca(tmp_path / "pki")
    with pytest.raises(CertError, match="kmc cannot rotate it"):
        certs.rotate(tmp_path / "state", replace(REQUEST, ca_cert=ca_cert, ca_key=ca_key), new_ca=True)


# secret mode: the user's caBundle file


def test_read_ca_bundle_takes_a_ca_and_refuses_the_rest(tmp_path: Path) -> None:
    ca_cert, _ = user_ca(tmp_path / "pki")
    assert certs.read_ca_bundle(ca_cert) == ca_cert.read_text()
    leaf, _ = user_ca(tmp_path / "pki", "leaf", "-addext", "basicConstraints=critical,CA:FALSE")
    both = write_pem(tmp_path / "both.pem", leaf.read_text() + ca_cert.read_text())
    assert certs.read_ca_bundle(both) == both.read_text()  # one CA among them is enough
    with pytest.raises(CertError, match="no certificate in it is a CA"):
        certs.read_ca_bundle(leaf)
    with pytest.raises(CertError, match="no PEM certificate could be read"):
        certs.read_ca_bundle(write_pem(tmp_path / "junk.pem", "hello\n"))
    with pytest.raises(CertError, match="cannot read the caBundle file"):
        certs.read_ca_bundle(tmp_path / "absent.pem")


def test_an_expired_ca_cannot_sign(tmp_path: Path) -> None:
    old = crypto.mint_ca("old-ca", "ecdsa-p256", days=0)  # valid until five minutes ago
    cert, key = write_pem(tmp_path / "old.crt", old.cert_pem), write_pem(tmp_path / "old.key", old.key_pem)
    with pytest.raises(CertError) as refused:
        certs.serving_material(tmp_path / "state", replace(REQUEST, ca_cert=cert, ca_key=key), create=True)
    expired = old.cert.not_valid_after_utc.strftime("%Y-%m-%d")
    assert refused.value.message == f"the CA CN=old-ca expired on {expired}; it cannot sign a new certificate"


def test_rotate_needs_state_unless_it_makes_a_new_ca(tmp_path: Path) -> None:
    with pytest.raises(CertError, match="no certificate state at"):
        certs.rotate(tmp_path, REQUEST)
    made = certs.rotate(tmp_path, REQUEST, new_ca=True)
    assert certs.serving_material(tmp_path, REQUEST, create=False) == made


def test_parallel_first_builds_mint_once(tmp_path: Path) -> None:
    program = textwrap.dedent(f"""
        import hashlib
        from pathlib import Path
        from kmc.tls import certs
        request = certs.ServingRequest("metrics-server", "metrics-server", "monitoring", "cluster.local")
        material = certs.serving_material(Path({str(tmp_path)!r}), request, create=True)
        print(hashlib.sha256((material.ca_bundle + material.cert + material.key).encode()).hexdigest())
    """)
    runs = [subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    digests = {run.communicate(timeout=60)[0] for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert len(digests) == 1  # one minted, the others waited for the lock and reused it
    assert certs.serving_material(tmp_path, REQUEST, create=False).cert == (tmp_path / "metrics-server/tls.crt").read_text()


def test_a_der_ca_file_is_a_cert_error(tmp_path: Path) -> None:
    ca_cert, ca_key = user_ca(tmp_path / "pki")
    der = tmp_path / "pki/ca.der"
    assert openssl("x509", "-in", ca_cert, "-outform", "DER", "-out", der).returncode == 0
    with pytest.raises(CertError, match="no PEM certificate could be read"):
        certs.serving_material(tmp_path / "state", replace(REQUEST, ca_cert=der, ca_key=ca_key), create=True)
    with pytest.raises(CertError, match="no PEM certificate could be read"):
        certs.read_ca_bundle(der)


# The state in git: the certificates committed, the keys not.


def _without_keys(state: Path) -> None:
    for key in state.rglob("*.key"):
        key.unlink()


@pytest.mark.parametrize("sidecar", ["committed", "lost"])
def test_a_clone_without_the_keys_reads_the_certificates_alone(tmp_path: Path, sidecar: str) -> None:
    first = certs.serving_material(tmp_path, REQUEST, create=True)
    _without_keys(tmp_path)
    if sidecar == "lost":
        (tmp_path / "metrics-server/issued.json").unlink()  # the slow path checks the certificates alone
    before = mtimes(tmp_path / "metrics-server")
    for create in (True, False):
        clone = certs.serving_material(tmp_path, REQUEST, create=create)
        assert clone.key is None and clone.made == ""
        assert (clone.ca_bundle, clone.cert, clone.expires) == (first.ca_bundle, first.cert, first.expires)
        assert clone.files == tuple(sorted(tmp_path / "metrics-server" / name for name in ("ca.crt", "tls.crt")))
        assert clone.key_file == tmp_path / "metrics-server/tls.key"
    # Nothing written: issued.json vouches for the key as well, and only a state holding it writes the record.
    assert mtimes(tmp_path / "metrics-server") == before


def test_a_clone_without_the_keys_reissues_only_with_the_ca_key(tmp_path: Path) -> None:
    ca_cert, ca_key = user_ca(tmp_path / "pki")
    request = replace(REQUEST, ca_cert=ca_cert, ca_key=ca_key)
    first = certs.serving_material(tmp_path / "state", request, create=True)
    assert first.made.endswith(": issued one from your CA")
    (tmp_path / "state/metrics-server/tls.key").unlink()
    moved = replace(request, namespace="observability")
    second = certs.serving_material(tmp_path / "state", moved, create=True)
    assert second.ca_bundle == first.ca_bundle and second.key is not None
    assert "no longer fit the stack" in second.made and second.made.endswith("issued a new one from the same CA")
    assert certs.serving_material(tmp_path / "state", moved, create=True).made == ""


@pytest.mark.parametrize("kept", [("tls.crt",), ("issued.json",), ("ca.key",), ("tls.crt", "tls.key", "issued.json")])
def test_no_new_ca_over_existing_state(tmp_path: Path, kept: tuple[str, ...]) -> None:
    certs.serving_material(tmp_path, REQUEST, create=True)
    server = tmp_path / "metrics-server"
    for path in server.iterdir():
        if path.name not in kept:
            path.unlink()
    with pytest.raises(CertError) as refused:
        certs.serving_material(tmp_path, REQUEST, create=True)
    assert refused.value.message == f"{server / 'ca.crt'} is missing, and {server} holds {', '.join(kept)}: kmc mints a new CA only where there is no state"
    assert "kmc certs rotate STACK --ca" in refused.value.hint
    assert sorted(path.name for path in server.iterdir()) == sorted(kept)


def test_an_old_gitignore_of_everything_is_renewed(tmp_path: Path) -> None:
    certs.serving_material(tmp_path, REQUEST, create=True)
    old = "# kmc certificate state: private keys; never commit it (or encrypt it)\n*\n"
    (tmp_path / ".gitignore").write_text(old)
    (tmp_path / ".lock").write_bytes(b"")  # the lock file kmc kept there then
    assert certs.serving_material(tmp_path, REQUEST, create=False).made == ""
    assert (tmp_path / ".gitignore").read_text() == old  # a check writes nothing
    certs.serving_material(tmp_path, REQUEST, create=True)
    assert (tmp_path / ".gitignore").read_text() == certs.GITIGNORE
    assert not (tmp_path / ".lock").exists()


def test_a_gitignore_of_the_users_own_is_left_alone(tmp_path: Path) -> None:
    tmp_path.joinpath(".gitignore").write_text("*\n")
    certs.serving_material(tmp_path, REQUEST, create=True)
    assert (tmp_path / ".gitignore").read_text() == "*\n"
