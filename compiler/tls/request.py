"""What a serving certificate is for and who signs it, the names of its files, and the one error
every certificate problem is: shared by the state (`kmc.tls.certs`) and the cryptography
(`kmc.tls.crypto`), which imports `cryptography` and so is only imported when needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kmc.errors import KmcError
from kmc.record import record

if TYPE_CHECKING:
    Mode = Literal["generate", "ca"]

KEY_TYPES = ("ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096")
SIDECAR = "issued.json"
STATE_FORMAT = 1
CA_CERT, CA_KEY, TLS_CERT, TLS_KEY = "ca.crt", "ca.key", "tls.crt", "tls.key"


class CertError(KmcError):
    """A certificate problem the user can fix: `message` says what, `hint` how."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(message + (f"\n  hint: {hint}" if hint else ""))


@record
class ServingRequest:
    """What a serving certificate is for, and who signs it."""

    server: str  # state subdirectory name, e.g. "metrics-server"
    service: str  # the Service in front of the API server
    namespace: str
    cluster_domain: str  # e.g. "cluster.local"
    key_type: str = "ecdsa-p256"
    ca_cert: Path | None = None  # mode `ca`: the user's CA certificate and key (absolute paths);
    ca_key: Path | None = None  # None: mode `generate`, kmc's own CA in the state directory

    @property
    def mode(self) -> Mode:
        return "generate" if self.ca_cert is None else "ca"

    @property
    def hostname(self) -> str:
        """The name the kube-apiserver dials for an APIService: `<svc>.<ns>.svc`."""
        return f"{self.service}.{self.namespace}.svc"

    @property
    def dns_names(self) -> tuple[str, ...]:
        """The serving certificate's SANs."""
        return (self.service, f"{self.service}.{self.namespace}", self.hostname, f"{self.hostname}.{self.cluster_domain}")

    def record(self) -> dict[str, str]:
        """The fields that decide the serving certificate, as `issued.json` keeps them."""
        return {
            "mode": self.mode,
            "service": self.service,
            "namespace": self.namespace,
            "clusterDomain": self.cluster_domain,
            "keyType": self.key_type,
        }
