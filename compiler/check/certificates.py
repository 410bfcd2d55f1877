"""The validation stage's part in the API servers' certificates: read (or, for a build, make once)
the material each `tls` mode needs, and report what is wrong with it where the stack says it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kmc.components.aggregated_api import TlsServer, tls_servers
from kmc.model import Stack, TlsMaterial
from kmc.read.document import JsonPath
from kmc.record import replace

if TYPE_CHECKING:
    # `create`: a build, which may mint certificates into the state directory; `read`: `build
    # --check`, which must not write and needs the state to exist; `files`: `kmc validate`, which only
    # reads the files the stack names.
    Certificates = Literal["create", "read", "files"]

Problem = tuple[JsonPath, str, str]


def load(stack: Stack, stack_dir: Path, certificates: Certificates, state_base: Path | None = None) -> tuple[Stack, list[Problem]]:
    """`stack` with the material of every API server filled in, and the problems found. The state
    directory is relative to `state_base` (default: `stack_dir`)."""
    found: dict[str, TlsMaterial] = {}
    problems: list[Problem] = []
    for server in tls_servers(stack, stack_dir):
        if state_base is not None:
            server = replace(server, state_dir=state_base / stack.certificates.state_dir)
        try:
            material = _material(server, certificates, keys_in_output=stack.certificates.keys_in_output)
        except Exception as error:  # kmc.tls.request.CertError, imported lazily
            if type(error).__name__ != "CertError":
                raise
            problems.append((_where(server, error), getattr(error, "message", str(error)), getattr(error, "hint", "")))
            continue
        if material is not None:
            found[server.name] = material
    return replace(stack, tls=found), problems


def _material(server: TlsServer, certificates: Certificates, *, keys_in_output: bool) -> TlsMaterial | None:
    tls = server.tls
    if tls.mode == "secret":
        from kmc.tls.certs import read_ca_bundle

        assert tls.ca_bundle_file is not None
        path = server.file(tls.ca_bundle_file)
        return TlsMaterial(read_ca_bundle(path), None, None, (path,))
    if tls.mode not in ("generate", "ca"):
        return None
    if certificates == "files":
        # The CA's key only signs, once: a repository (or CI) may well hold the certificate alone.
        if tls.mode == "ca" and tls.ca_cert is not None and not server.file(tls.ca_cert).is_file():
            from kmc.tls.request import CertError

            raise CertError(f"no such file: {tls.ca_cert}", "paths are relative to the directory of the stack file")
        return None
    from kmc.tls.certs import serving_material

    material = serving_material(server.state_dir, server.request(), create=certificates == "create")
    # The output depends on the private key only where it holds it: a clone without the keys then
    # records the same inputs (and writes the same lock) as the machine that has them.
    files = material.files if keys_in_output else tuple(path for path in material.files if path != material.key_file)
    return TlsMaterial(material.ca_bundle, material.cert, material.key, files, material.key_file, material.made)


def _where(server: TlsServer, error: Exception) -> JsonPath:
    text = str(getattr(error, "message", error))
    tls = server.tls
    if tls.mode == "ca":
        for field, written in (("cert", tls.ca_cert), ("key", tls.ca_key)):
            if written and (written in text or str(server.file(written)) in text):
                return (*server.where, "ca", field)
        return (*server.where, "ca")
    if tls.mode == "secret":
        return (*server.where, "secret", "caBundle")
    return (*server.where, "mode")
