"""`kmc certs`: the commands as users run them, their output and exit codes, judged by `openssl`."""

from __future__ import annotations

import base64
import datetime
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kube_schemas import KUBERNETES_VERSIONS, validate_manifests
from x509_tools import openssl, user_ca

from kmc.commands import cli
from kmc.tls import certs, crypto
from kmc.tls.request import ServingRequest

STACK = """\
version: 1
metricsServer:
  enabled: true
prometheusAdapter:
  enabled: true
  customMetrics:
    - {name: http_requests_per_second, series: http_requests_total, resource: pod}
  tls:
    mode: cert-manager
"""
METRICS_SERVER = ServingRequest("metrics-server", "metrics-server", "monitoring", "cluster.local")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def built(tmp_path: Path, stack: str = STACK, request: ServingRequest = METRICS_SERVER) -> tuple[Path, Path]:
    """A stack file and the certificate state its first build leaves (made the way the build makes it)."""
    (tmp_path / "stack.yaml").write_text(stack)
    state = tmp_path / ".kmc-state"
    certs.serving_material(state, request, create=True)
    return tmp_path / "stack.yaml", state / request.server


# show, verify, rotate


def test_verify_before_the_first_build_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text(STACK)
    code, out, err = run(["certs", "verify", str(tmp_path / "stack.yaml")], capsys)
    assert code == 1
    assert out == (
        "metrics-server: FAILED\n"
        f"  no certificate state at {tmp_path / '.kmc-state/metrics-server'}; run `kmc build` once\n"
        "prometheus-adapter: skipped (mode cert-manager; cert-manager issues and renews its certificate in the cluster)\n"
    )
    assert err == f"kmc: 1 server failed verification; `kmc certs rotate {tmp_path / 'stack.yaml'}` issues new certificates\n"


def test_verify_passes_and_fails_on_days_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack, server = built(tmp_path)
    leaf = crypto.load_cert((server / "tls.crt").read_bytes(), "tls.crt")
    left = (leaf.not_valid_after_utc - datetime.datetime.now(datetime.UTC)).days
    code, out, _ = run(["certs", "verify", str(stack)], capsys)
    assert code == 0 and out.startswith(f"metrics-server: ok (valid until {leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}, {left} days left)\n")
    assert run(["certs", "verify", str(stack), "--days", str(left)], capsys)[0] == 0
    code, out, _ = run(["certs", "verify", str(stack), "--days", str(left + 1)], capsys)
    assert code == 1
    assert f"  the serving certificate expires on {leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}, in {left} days (within {left + 1})\n" in out
    code, out, _ = run(["certs", "verify", str(stack), "--days", "4000"], capsys)
    assert code == 1 and "  the CA expires on " in out  # the CA's ten years count too


def test_verify_finds_a_foreign_key_and_a_stale_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack, server = built(tmp_path)
    key = server / "tls.key"
    original = key.read_text()
    key.write_text(crypto.mint_ca("another", "ecdsa-p256").key_pem)
    code, out, _ = run(["certs", "verify", str(stack)], capsys)
    assert code == 1 and f"  {key} is not the private key of {server / 'tls.crt'}\n" in out
    key.write_text(original)
    stack.write_text("namespace: observability\n" + STACK)  # the Service moved; the certificate did not
    code, out, _ = run(["certs", "verify", str(stack)], capsys)
    assert code == 1
    assert "  the serving certificate's SANs lack metrics-server.observability, metrics-server.observability.svc," in out
    assert "does not verify against" in out and "for metrics-server.observability.svc: metrics-server.observability.svc is not among its DNS SANs\n" in out


def test_show_describes_each_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack, server = built(tmp_path)
    leaf = crypto.load_cert((server / "tls.crt").read_bytes(), "tls.crt")
    code, out, _ = run(["certs", "show", str(stack)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"metrics-server: mode generate, state {server}"
    assert lines[1:4] == [
        "  subject:    CN=metrics-server.monitoring.svc",
        "  SANs:       metrics-server, metrics-server.monitoring, metrics-server.monitoring.svc, metrics-server.monitoring.svc.cluster.local",
        "  issuer:     CN=kmc metrics-server CA",
    ]
    assert lines[4] == f"  not before: {leaf.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}"
    assert lines[5].startswith(f"  not after:  {leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ} (")
    assert lines[6] == "  key type:   ecdsa-p256"
    assert lines[7].startswith("  CA:         CN=kmc metrics-server CA, ecdsa-p256, not after ")
    assert lines[8] == "  chain:      ok (verifies against the CA for metrics-server.monitoring.svc)"
    assert lines[9:] == ["", "prometheus-adapter: mode cert-manager; cert-manager issues and renews its certificate in the cluster"]


def test_ca_mode_shows_and_verifies_against_the_users_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca_cert, ca_key = user_ca(tmp_path / "pki")
    stack_text = STACK.replace(
        "metricsServer:\n  enabled: true\n", "metricsServer:\n  enabled: true\n  tls: {mode: ca, ca: {cert: pki/user-ca.crt, key: pki/user-ca.key}}\n"
    )
    stack, _ = built(tmp_path, stack_text, ServingRequest("metrics-server", "metrics-server", "monitoring", "cluster.local", ca_cert=ca_cert, ca_key=ca_key))
    code, out, _ = run(["certs", "show", str(stack)], capsys)
    assert code == 0 and "  issuer:     CN=user-ca\n" in out and "  chain:      ok " in out
    assert run(["certs", "verify", str(stack), "--days", "7"], capsys)[0] == 0  # the CA lives 30 days, and so does the certificate
    assert run(["certs", "verify", str(stack)], capsys)[0] == 1
    code, _, err = run(["certs", "rotate", str(stack), "--server", "metrics-server", "--ca"], capsys)
    assert code == 1 and "kmc cannot rotate it" in err
    code, out, _ = run(["certs", "rotate", str(stack), "--ca"], capsys)  # every server: --ca renews kmc's CAs only
    assert code == 0 and out.startswith("metrics-server: new serving certificate (mode ca), valid until ")
    assert openssl("verify", "-CAfile", ca_cert, tmp_path / ".kmc-state/metrics-server/tls.crt").returncode == 0


def test_secret_mode_checks_the_ca_bundle_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user_ca(tmp_path / "pki")  # 30 days
    user_ca(tmp_path / "pki", "leaf", "-addext", "basicConstraints=critical,CA:FALSE")
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACK.replace("mode: cert-manager", "mode: secret\n    secret: {name: adapter-tls, caBundle: pki/user-ca.crt}"))
    code, out, _ = run(["certs", "show", str(stack)], capsys)
    assert code == 0  # show reports; verify judges
    assert f"prometheus-adapter: mode secret, caBundle {tmp_path / 'pki/user-ca.crt'}\n  CA:         CN=user-ca, ecdsa-p256, not after " in out
    built(tmp_path, stack.read_text())
    code, out, _ = run(["certs", "verify", str(stack), "--days", "29"], capsys)
    assert code == 0 and "prometheus-adapter: ok (its CA valid until " in out
    code, out, _ = run(["certs", "verify", str(stack), "--days", "31"], capsys)
    assert code == 1 and "prometheus-adapter: FAILED\n  the CA expires on " in out
    stack.write_text(stack.read_text().replace("pki/user-ca.crt", "pki/leaf.crt"))
    code, out, _ = run(["certs", "verify", str(stack)], capsys)
    assert code == 1
    assert f"prometheus-adapter: FAILED\n  {tmp_path / 'pki/leaf.crt'}: no certificate in it is a CA (basicConstraints CA:TRUE)\n" in out


def test_rotate_issues_new_certificates_that_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack, server = built(tmp_path)
    ca, leaf = (server / "ca.crt").read_bytes(), (server / "tls.crt").read_bytes()
    code, out, err = run(["certs", "rotate", str(stack)], capsys)
    assert code == 0 and out.startswith("metrics-server: new serving certificate (mode generate), valid until ")
    assert err == f"next: kmc build {stack}\n"
    assert (server / "ca.crt").read_bytes() == ca and (server / "tls.crt").read_bytes() != leaf
    assert run(["certs", "verify", str(stack)], capsys)[0] == 0
    code, out, _ = run(["certs", "rotate", str(stack), "--server", "metrics-server", "--ca"], capsys)
    assert code == 0 and out.startswith("metrics-server: new CA and serving certificate (mode generate)")
    assert (server / "ca.crt").read_bytes() != ca
    verified = openssl("verify", "-CAfile", server / "ca.crt", "-verify_hostname", "metrics-server.monitoring.svc", server / "tls.crt")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    code, _, err = run(["certs", "rotate", str(stack), "--server", "prometheus-adapter"], capsys)
    assert code == 2
    assert err == "kmc: error: --server prometheus-adapter: no API server of that name keeps certificate state; these do: metrics-server\n"


def test_show_and_verify_in_a_clone_without_the_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack, server = built(tmp_path)
    for key in server.glob("*.key"):
        key.unlink()
    code, out, _ = run(["certs", "show", str(stack)], capsys)
    assert code == 0
    assert f"  key:        not here ({server / 'tls.key'}; kept out of git): builds need it only for certificates.keysInOutput\n" in out
    assert "  chain:      ok (verifies against the CA for metrics-server.monitoring.svc)\n" in out
    code, out, _ = run(["certs", "verify", str(stack)], capsys)
    assert code == 0 and out.startswith("metrics-server: ok (valid until ")


# secrets: the Secrets of kmc's own certificates, on stdout

STACKS_OF_KEPT_CERTS = """\
version: 1
metricsServer:
  enabled: true
prometheusAdapter:
  enabled: true
  customMetrics:
    - {name: http_requests_per_second, series: http_requests_total, resource: pod}
  tls:
    mode: ca
    ca: {cert: pki/user-ca.crt, key: pki/user-ca.key, secretName: adapter-serving}
environments:
  small:
    prometheusAdapter: {enabled: false}
"""


def kept(tmp_path: Path) -> Path:
    """A stack whose two servers' certificates kmc keeps (modes generate and ca), built once."""
    user_ca(tmp_path / "pki")
    (tmp_path / "stack.yaml").write_text(STACKS_OF_KEPT_CERTS)
    assert cli_build(tmp_path).returncode == 0
    return tmp_path / "stack.yaml"


def cli_build(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmc", "build", "stack.yaml", *args], cwd=directory, capture_output=True, text=True, timeout=120)


def test_secrets_prints_each_kept_certificate_as_the_tls_secret_the_server_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = kept(tmp_path)
    before = sorted(path for path in tmp_path.rglob("*"))
    code, out, err = run(["certs", "secrets", str(stack)], capsys)
    assert code == 0 and err == ""
    assert sorted(path for path in tmp_path.rglob("*")) == before  # nothing written
    documents = list(yaml.safe_load_all(out))
    assert [(doc["metadata"]["namespace"], doc["metadata"]["name"], doc["type"]) for doc in documents] == [
        ("monitoring", "metrics-server-tls", "kubernetes.io/tls"),
        ("monitoring", "adapter-serving", "kubernetes.io/tls"),
    ]
    for doc, server in zip(documents, ("metrics-server", "prometheus-adapter"), strict=True):
        state = tmp_path / ".kmc-state" / server
        data = {key: base64.b64decode(value) for key, value in doc["data"].items()}
        assert sorted(data) == ["ca.crt", "tls.crt", "tls.key"]
        assert data["tls.crt"] == (state / "tls.crt").read_bytes() and data["tls.key"] == (state / "tls.key").read_bytes()
        assert crypto.keys_match(crypto.load_cert(data["tls.crt"], "tls.crt"), crypto.load_key(data["tls.key"], "tls.key"))
        ca = tmp_path / ("pki/user-ca.crt" if server == "prometheus-adapter" else ".kmc-state/metrics-server/ca.crt")
        assert data["ca.crt"] == ca.read_bytes()
        # The Secret the server's pod mounts, in the namespace it runs in.
        deployment = yaml.safe_load((tmp_path / f"charts-out/manifests/default/12-deployment-{server}.yaml").read_text())
        volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == doc["metadata"]["name"]
        assert deployment["metadata"]["namespace"] == doc["metadata"]["namespace"]
    for version in KUBERNETES_VERSIONS:
        assert validate_manifests(out, version) == []


def test_secrets_are_the_ones_keys_in_output_puts_into_the_manifests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = kept(tmp_path)
    printed = run(["certs", "secrets", str(stack)], capsys)[1].split("---\n")
    stack.write_text(STACKS_OF_KEPT_CERTS + "certificates: {keysInOutput: true}\n")
    assert cli_build(tmp_path).returncode == 0
    held = [(tmp_path / f"charts-out/manifests/default/03-secret-{name}.yaml").read_text() for name in ("metrics-server-tls", "adapter-serving")]
    assert printed == held


def test_secrets_by_environment_and_by_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = kept(tmp_path)
    names = lambda out: [doc["metadata"]["name"] for doc in yaml.safe_load_all(out)]  # noqa: E731
    assert names(run(["certs", "secrets", str(stack), "--env", "small"], capsys)[1]) == ["metrics-server-tls"]
    assert names(run(["certs", "secrets", str(stack), "--env", "default"], capsys)[1]) == ["metrics-server-tls", "adapter-serving"]
    assert names(run(["certs", "secrets", str(stack), "--server", "prometheus-adapter"], capsys)[1]) == ["adapter-serving"]
    code, _, err = run(["certs", "secrets", str(stack), "--env", "small", "--server", "prometheus-adapter"], capsys)
    assert code == 1
    assert (
        err == f"kmc: error: {stack}: no API server in environment 'small' has a certificate kmc keeps (tls modes generate, ca): there is no Secret to print\n"
    )
    code, _, err = run(["certs", "secrets", str(stack), "--env", "prod"], capsys)
    assert code == 2 and err == "kmc: error: the stack has no environment 'prod'; it has: default, small\n"
    code, _, err = run(["certs", "secrets", str(stack), "--server", "grafana"], capsys)
    assert code == 2
    assert err == "kmc: error: --server grafana: kmc keeps the key of no API server of that name; it does for: metrics-server, prometheus-adapter\n"


def test_secrets_needs_the_keys_and_makes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user_ca(tmp_path / "pki")
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACKS_OF_KEPT_CERTS)
    code, out, err = run(["certs", "secrets", str(stack)], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"kmc: error: no certificate state at {tmp_path / '.kmc-state/metrics-server'}\n  hint: run `kmc build` once")
    assert not (tmp_path / ".kmc-state").exists()
    assert cli_build(tmp_path).returncode == 0
    (tmp_path / ".kmc-state/prometheus-adapter/tls.key").unlink()  # a clone: the keys stay out of git
    code, out, err = run(["certs", "secrets", str(stack)], capsys)
    assert (code, out) == (1, "")
    key = tmp_path / ".kmc-state/prometheus-adapter/tls.key"
    assert err == (
        f"kmc: error: {key} is missing: its Secret needs prometheus-adapter's private key, and the certificate state holds only the certificates\n"
        "  hint: private keys are kept out of git: copy it from where the state was made (or your backup), or run "
        "`kmc certs rotate stack.yaml --server prometheus-adapter` for a new key and certificate (then commit tls.crt and issued.json)\n"
    )


def test_secrets_of_a_stack_without_kept_certificates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text("version: 1\nmetricsServer: {enabled: true, tls: {mode: insecure}}\n")
    code, out, err = run(["certs", "secrets", str(stack)], capsys)
    assert (code, out) == (1, "")
    assert err == f"kmc: error: {stack}: no API server has a certificate kmc keeps (tls modes generate, ca): there is no Secret to print\n"
    code, _, err = run(["certs", "secrets", str(stack), "--server", "metrics-server"], capsys)
    assert code == 2 and err == "kmc: error: --server metrics-server: kmc keeps the key of no API server of that name; it keeps none\n"


def test_a_stack_without_aggregated_api_servers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text("version: 1\n")
    assert run(["certs", "show", str(tmp_path / "stack.yaml")], capsys)[1] == f"{tmp_path / 'stack.yaml'}: no aggregated API server with TLS\n"
    assert run(["certs", "verify", str(tmp_path / "stack.yaml")], capsys)[0] == 0
    code, out, _ = run(["certs", "rotate", str(tmp_path / "stack.yaml")], capsys)
    assert code == 0 and out.endswith("no API server keeps certificate state; nothing to rotate\n")


def test_an_invalid_stack_is_reported_with_its_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text("version: 1\nmetricsServer:\n  enabled: maybe\n")
    code, _, err = run(["certs", "show", str(tmp_path / "stack.yaml")], capsys)
    assert code == 1 and f"{tmp_path / 'stack.yaml'}:3:" in err


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
    # The flags name the files where kube-apiserver reads them, on its node: kubeadm's directory
    # (its ClusterConfiguration certificatesDir default, whose front-proxy files have these names),
    # not where kmc wrote them.
    flags = [line.strip() for line in out.splitlines() if line.startswith("  --")]
    assert flags == [
        "--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User",
        "--proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt",
        "--proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key",
        "--enable-aggregator-routing=true",
    ]
    assert (
        "\nCopy front-proxy-ca.crt, front-proxy-client.crt, front-proxy-client.key into /etc/kubernetes/pki on each control-plane node"
        " (keep front-proxy-ca.key off them), then add to kube-apiserver:\n"
    ) in out
    assert "does not run on a host that runs kube-proxy" in out


def test_front_proxy_flags_name_the_node_directory_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["certs", "front-proxy", "--out", str(tmp_path / "here"), "--pki-dir", "/srv/kubernetes/aggregation/"], capsys)
    assert code == 0
    flags = [line.strip() for line in out.splitlines() if "-file=" in line]
    assert flags == [
        "--requestheader-client-ca-file=/srv/kubernetes/aggregation/front-proxy-ca.crt",
        "--proxy-client-cert-file=/srv/kubernetes/aggregation/front-proxy-client.crt",
        "--proxy-client-key-file=/srv/kubernetes/aggregation/front-proxy-client.key",
    ]
    assert str(tmp_path) not in "\n".join(flags)
    # A relative directory means nothing to kube-apiserver on another host: refused before anything is written.
    code, _, err = run(["certs", "front-proxy", "--out", str(tmp_path / "x"), "--pki-dir", "pki"], capsys)
    assert code == 2 and "Invalid value for --pki-dir: 'pki': kube-apiserver needs an absolute path on the node" in err
    assert not (tmp_path / "x").exists()


def test_front_proxy_client_cert_is_a_client_cert_of_its_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["certs", "front-proxy", "--out", str(tmp_path), "--days", "10"], capsys)[0] == 0
    ca, client = tmp_path / "front-proxy-ca.crt", tmp_path / "front-proxy-client.crt"
    as_client = openssl("verify", "-CAfile", ca, "-purpose", "sslclient", client)
    assert as_client.returncode == 0, as_client.stdout + as_client.stderr
    as_server = openssl("verify", "-CAfile", ca, "-purpose", "sslserver", client)
    assert as_server.returncode != 0 and "unsuitable certificate purpose" in as_server.stdout + as_server.stderr
    assert openssl("x509", "-noout", "-subject", "-in", client).stdout.strip() == "subject=CN = front-proxy-client"
    assert "CA:TRUE" in openssl("x509", "-noout", "-text", "-in", ca).stdout
    cert = crypto.load_cert(client.read_bytes(), client)
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


@pytest.mark.parametrize("command", ["show", "verify", "rotate", "secrets", "front-proxy"])
def test_every_certs_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["certs", command, "--help"], capsys)
    assert code == 0 and out.startswith(f"Usage: kmc certs {command} ")
    assert len(out.split("\n\n")[1].strip()) > 40  # a description, not just the usage line


def test_the_kmc_command_runs_them(tmp_path: Path) -> None:
    stack, server = built(tmp_path)
    (server / "tls.crt").write_text("damaged\n")
    verify = subprocess.run([sys.executable, "-m", "kmc", "certs", "verify", str(stack)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 1 and "Traceback" not in verify.stderr
    assert verify.stdout.startswith(f"metrics-server: FAILED\n  {server / 'tls.crt'}: no PEM certificate could be read from it\n")
    rotate = subprocess.run([sys.executable, "-m", "kmc", "certs", "rotate", str(stack)], capture_output=True, text=True, timeout=60)
    assert rotate.returncode == 0, rotate.stderr
    assert subprocess.run([sys.executable, "-m", "kmc", "certs", "verify", str(stack)], capture_output=True, timeout=60).returncode == 0
