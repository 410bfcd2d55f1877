"""The aggregation layer's front-proxy CA and client certificate (`kmc certs front-proxy`).

The kube-apiserver proxies requests to aggregated API servers with a client certificate
(`--proxy-client-cert-file`); they trust it through the CA in `--requestheader-client-ca-file`,
which the kube-apiserver publishes in kube-system's `extension-apiserver-authentication`
ConfigMap. Kubernetes asks for a CA of its own here, not the cluster CA: any client
certificate that CA signs could otherwise pose as the proxy.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path, PurePosixPath

from kmc.tls.certs import write_private_files
from kmc.tls.request import CertError

CA_CERT, CA_KEY = "front-proxy-ca.crt", "front-proxy-ca.key"
CLIENT_CERT, CLIENT_KEY = "front-proxy-client.crt", "front-proxy-client.key"
CLIENT_NAME = "front-proxy-client"
DEFAULT_DAYS = 365


@dataclasses.dataclass(frozen=True)
class FrontProxy:
    directory: Path
    reused_ca: bool  # the CA already in `directory` signed the new client certificate
    not_after: datetime.datetime  # the client certificate's expiry

    def path(self, name: str) -> Path:
        return self.directory / name


def write_front_proxy(directory: Path, *, days: int, key_type: str) -> FrontProxy:
    """Issue a front-proxy client certificate into `directory`, from the CA there or a new one."""
    from kmc.tls import crypto

    if days < 1:
        raise CertError(f"--days {days}: a certificate must be valid for at least one day")
    ca_paths = directory / CA_CERT, directory / CA_KEY
    present = [path for path in ca_paths if path.exists()]
    if len(present) == 1:
        raise CertError(f"{present[0]} exists without its pair", f"restore the missing file, or remove {present[0]} for a new CA")
    reused = bool(present)
    if reused:
        ca = crypto.read_pair(*ca_paths)
        if not crypto.is_ca(ca.cert):
            raise CertError(f"{ca_paths[0]} is not a CA certificate", f"remove {ca_paths[0].name} and {ca_paths[1].name} for a new CA")
    else:
        ca = crypto.mint_ca("front-proxy-ca", key_type)
    client = crypto.issue_client(ca, CLIENT_NAME, key_type, days=days)
    files = {} if reused else {CA_CERT: ca.cert_pem, CA_KEY: ca.key_pem}
    write_private_files(directory, {**files, CLIENT_CERT: client.cert_pem, CLIENT_KEY: client.key_pem})
    return FrontProxy(directory.resolve(), reused, client.cert.not_valid_after_utc)


def apiserver_flags(pki_dir: PurePosixPath) -> tuple[str, ...]:
    """The kube-apiserver flags that turn on the aggregation layer with these files, once they are
    in `pki_dir` on each control-plane node (not where kmc wrote them: kube-apiserver reads its node's)."""
    return (
        f"--requestheader-client-ca-file={pki_dir / CA_CERT}",
        f"--requestheader-allowed-names={CLIENT_NAME}",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User",
        f"--proxy-client-cert-file={pki_dir / CLIENT_CERT}",
        f"--proxy-client-key-file={pki_dir / CLIENT_KEY}",
    )
