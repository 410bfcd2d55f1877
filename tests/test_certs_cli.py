"""`kmc certs`: the commands as users run them, their output and exit codes, judged by `openssl`."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from x509_tools import openssl

from kmc import certs_x509, cli


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


# front-proxy


def test_front_proxy_writes_a_ca_and_a_client_cert_and_prints_the_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = tmp_path / "pki"
    code, out, _ = run(["certs", "front-proxy", "--out", str(pki)], capsys)
    assert code == 0
    names = ["front-proxy-ca.crt", "front-proxy-ca.key", "front-proxy-client.crt", "front-proxy-client.key"]
    assert sorted(path.name for path in pki.iterdir()) == names
    assert pki.stat().st_mode & 0o777 == 0o700
    assert all((pki / name).stat().st_mode & 0o777 == 0o600 for name in names if name.endswith(".key"))
    assert out.startswith(f"wrote {', '.join(str(pki / name) for name in names)} (signed by a new CA; client certificate valid until ")
    flags = [line.strip() for line in out.splitlines() if line.startswith("  --")]
    assert flags == [
        f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User",
        f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
        f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
        "--enable-aggregator-routing=true",
    ]
    assert "does not run on a host that runs kube-proxy" in out


def test_front_proxy_client_cert_is_a_client_cert_of_its_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["certs", "front-proxy", "--out", str(tmp_path), "--days", "10"], capsys)[0] == 0
    ca, client = tmp_path / "front-proxy-ca.crt", tmp_path / "front-proxy-client.crt"
    as_client = openssl("verify", "-CAfile", ca, "-purpose", "sslclient", client)
    assert as_client.returncode == 0, as_client.stdout + as_client.stderr
    as_server = openssl("verify", "-CAfile", ca, "-purpose", "sslserver", client)
    assert as_server.returncode != 0 and "unsuitable certificate purpose" in as_server.stdout + as_server.stderr
    assert openssl("x509", "-noout", "-subject", "-in", client).stdout.strip() == "subject=CN = front-proxy-client"
    assert "CA:TRUE" in openssl("x509", "-noout", "-text", "-in", ca).stdout
    cert = certs_x509.load_cert(client.read_bytes(), client)
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc) == datetime.timedelta(days=10)
    expired_at = str(int(cert.not_valid_after_utc.timestamp()) + 1)
    assert openssl("verify", "-CAfile", ca, "-purpose", "sslclient", "-attime", expired_at, client).returncode != 0


def test_front_proxy_again_keeps_the_ca_and_issues_a_new_client_cert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["certs", "front-proxy", "--out", str(tmp_path)], capsys)[0] == 0
    ca_before = (tmp_path / "front-proxy-ca.crt").read_bytes()
    client_before = (tmp_path / "front-proxy-client.crt").read_bytes()
    code, out, _ = run(["certs", "front-proxy", "--out", str(tmp_path)], capsys)
    assert code == 0 and "(signed by the existing front-proxy-ca.crt;" in out
    assert (tmp_path / "front-proxy-ca.crt").read_bytes() == ca_before
    assert (tmp_path / "front-proxy-client.crt").read_bytes() != client_before
    assert openssl("verify", "-CAfile", tmp_path / "front-proxy-ca.crt", "-purpose", "sslclient", tmp_path / "front-proxy-client.crt").returncode == 0


def test_front_proxy_rsa(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["certs", "front-proxy", "--out", str(tmp_path), "--key-type", "rsa-2048"], capsys)[0] == 0
    text = openssl("x509", "-noout", "-text", "-in", tmp_path / "front-proxy-client.crt").stdout
    assert "Public-Key: (2048 bit)" in text and "TLS Web Client Authentication" in text


def test_front_proxy_refuses_half_a_ca_and_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "front-proxy-ca.crt").write_text("left over\n")
    code, _, err = run(["certs", "front-proxy", "--out", str(tmp_path)], capsys)
    assert code == 1
    assert err == (
        f"kmc: error: {tmp_path / 'front-proxy-ca.crt'} exists without its pair\n  hint: restore the missing file, or remove {tmp_path / 'front-proxy-ca.crt'} for a new CA\n"
    )
    assert run(["certs", "front-proxy", "--out", str(tmp_path / "x"), "--days", "0"], capsys)[0] == 2
    assert run(["certs", "front-proxy", "--out", str(tmp_path / "x"), "--key-type", "dsa"], capsys)[0] == 2
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("command", ["show", "verify", "rotate", "front-proxy"])
def test_every_certs_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["certs", command, "--help"], capsys)
    assert code == 0 and out.startswith(f"Usage: kmc certs {command} ")
    assert len(out.split("\n\n")[1].strip()) > 40  # a description, not just the usage line
