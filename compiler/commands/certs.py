"""`kmc certs`: show, verify and rotate the stored serving certificates; print them as Secrets;
make the front-proxy pair.

Only parses options and prints; the work is in kmc.tls.certs, kmc.tls.report, kmc.tls.front_proxy
and (the Secrets) kmc.components.aggregated_api.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import click

from kmc.errors import KmcError, UsageError
from kmc.tls.request import KEY_TYPES, ServingRequest

if TYPE_CHECKING:
    from kmc.components.aggregated_api import TlsServer
    from kmc.model import Stack
    from kmc.tls.report import Inspection

VERIFY_DAYS = 30
# Where kubeadm keeps the control plane's certificates (ClusterConfiguration certificatesDir's
# default), the front-proxy pairs under the names kmc gives them: where the flags point by default.
KUBEADM_PKI = "/etc/kubernetes/pki"
KEPT_MODES = ("generate", "ca")  # the TLS modes whose certificates kmc keeps as state


class Server(NamedTuple):
    name: str
    mode: str
    state_dir: Path
    request: ServingRequest | None  # None: kmc keeps no certificate for this mode
    ca_bundle: Path | None  # mode `secret`: the caBundle file the stack names


@click.group()
def certs() -> None:
    """Certificates of the aggregated API servers (metrics-server, prometheus-adapter).

    \b
    In TLS modes `generate` and `ca`, `kmc build` keeps each server's certificate and key in
    the stack's certificate state directory and reuses them on every build. Commit its
    certificates and issued.json (a clone then builds the same bytes); its .gitignore keeps
    the private keys out of git. These commands look after that state:
      kmc certs show stack.yaml            what is there
      kmc certs verify stack.yaml          exit 1 when a check fails or a cert expires soon
      kmc certs rotate stack.yaml          new serving certificates (then: kmc build)
      kmc certs secrets stack.yaml         the Secrets to apply, on stdout
      kmc certs front-proxy --out pki/     the kube-apiserver's aggregation-layer certificates
    """


@certs.command()
@click.argument("stack", type=click.Path(path_type=Path))
def show(stack: Path) -> None:
    """Show each API server's certificate: mode, subject, SANs, issuer, validity, key type, chain.

    Mode `secret` shows the CA of its caBundle file (the certificate itself is in the cluster);
    modes `cert-manager` and `insecure` have nothing kmc holds, and their line says so.
    """
    from kmc.tls import report

    at = _now()
    blocks = []
    for server in _servers(stack):
        found = _inspect(server, at)
        if found is None:
            blocks.append(f"{server.name}: mode {server.mode}; {_not_kept(server.mode)}\n")
            continue
        where = "caBundle" if server.request is None else "state"
        lines = [f"{server.name}: mode {server.mode}, {where} {found.where}"]
        if found.leaf is not None:
            leaf = found.leaf
            lines += [
                f"  subject:    {leaf.subject}",
                f"  SANs:       {', '.join(leaf.dns_names) or '(none)'}",
                f"  issuer:     {leaf.issuer}",
                f"  not before: {report.stamp(leaf.not_before)}",
                f"  not after:  {report.stamp(leaf.not_after)} ({_left(leaf.days_left(at))})",
                f"  key type:   {leaf.key_type}",
            ]
        if found.ca is not None:
            ca = found.ca
            lines.append(f"  CA:         {ca.subject}, {ca.key_type}, not after {report.stamp(ca.not_after)} ({_left(ca.days_left(at))})")
        if found.key_absent is not None:
            lines.append(f"  key:        not here ({found.key_absent}; kept out of git): builds need it only for certificates.keysInOutput")
        lines += [f"  problem:    {problem}" for problem in found.problems]
        if server.request is not None and not found.problems:
            lines.append(f"  chain:      ok (verifies against the CA for {server.request.hostname})")
        blocks.append("\n".join(lines) + "\n")
    click.echo("\n".join(blocks) if blocks else f"{stack}: no aggregated API server with TLS\n", nl=False)


@certs.command()
@click.argument("stack", type=click.Path(path_type=Path))
@click.option("--days", type=click.IntRange(min=0), default=VERIFY_DAYS, show_default=True, help="Fail when a certificate expires within this many days.")
def verify(stack: Path, days: int) -> None:
    """Check each stored certificate: it chains to its CA for `<svc>.<ns>.svc`, its SANs cover the
    Service's names, the key matches, and neither it nor its CA expires within --days.

    Mode `secret`: its caBundle file holds a CA that does not expire within --days.
    Exit codes: 0 all good; 1 a check failed or a certificate expires soon. Handy in CI or cron.
    """
    from kmc.tls import report

    at = _now()
    failed = 0
    for server in _servers(stack):
        found = _inspect(server, at)
        if found is None:
            click.echo(f"{server.name}: skipped (mode {server.mode}; {_not_kept(server.mode)})")
            continue
        problems = (*found.problems, *found.expiring(at, days))
        if problems:
            failed += 1
            click.echo(f"{server.name}: FAILED")
            for problem in problems:
                click.echo(f"  {problem}")
            continue
        valid = found.leaf or found.ca
        assert valid is not None
        what = "" if found.leaf else "its CA "
        click.echo(f"{server.name}: ok ({what}valid until {report.stamp(valid.not_after)}, {_left(valid.days_left(at))})")
    if failed:
        click.echo(f"kmc: {failed} server{'s' if failed != 1 else ''} failed verification; `kmc certs rotate {stack}` issues new certificates", err=True)
        sys.exit(1)


@certs.command()
@click.argument("stack", type=click.Path(path_type=Path))
@click.option("--server", "only", metavar="NAME", help="Rotate only this API server (default: every server kmc keeps state for).")
@click.option(
    "--ca",
    "new_ca",
    is_flag=True,
    help="Also mint new CAs for the servers in mode `generate` (their APIService's caBundle changes); your own CA (mode `ca`) is yours to renew.",
)
def rotate(stack: Path, only: str | None, new_ca: bool) -> None:
    """Issue new serving certificates (and with --ca new CAs) into the state directory.

    Run `kmc build` afterwards: it puts the new certificate and caBundle into the output. With
    --ca, apply the new APIService and Secret together, or the kube-apiserver refuses the server
    until both have arrived.
    """
    from kmc.tls import certs as certs_state

    servers = _servers(stack)
    known = [server.name for server in servers if server.request is not None]
    if only is not None and only not in known:
        raise UsageError(f"--server {only}: no API server of that name keeps certificate state; " + (f"these do: {', '.join(known)}" if known else "none does"))
    for name, mode, state_dir, request, _ in servers:
        if request is None or (only is not None and name != only):
            continue
        # --ca for every server renews kmc's own CAs; a server your CA signs gets a new certificate from it.
        renew_ca = new_ca and (mode == "generate" or only is not None)
        material = certs_state.rotate(state_dir, request, new_ca=renew_ca)
        what = "new CA and serving certificate" if renew_ca else "new serving certificate"
        click.echo(f"{name}: {what} (mode {mode}), valid until {material.not_after.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    if not known:
        click.echo(f"{stack}: no API server keeps certificate state; nothing to rotate")
        return
    click.echo(f"next: kmc build {stack}", err=True)


@certs.command()
@click.argument("stack", type=click.Path(path_type=Path))
@click.option("--env", metavar="NAME", help="Only the servers this environment deploys (default: every server of the stack).")
@click.option("--server", "only", metavar="NAME", help="Only this API server.")
def secrets(stack: Path, env: str | None, only: str | None) -> None:
    """Print the Secrets of the serving certificates kmc keeps (modes generate and ca), with
    their private keys, as one YAML stream on stdout; nothing is written.

    \b
      kmc certs secrets stack.yaml | kubectl apply -f -
      kmc certs secrets stack.yaml --env prod | kubeseal --format yaml > sealed-tls.yaml
      kmc certs secrets stack.yaml --server metrics-server | sops encrypt --input-type yaml --output-type yaml /dev/stdin

    Each is the kubernetes.io/tls Secret the server reads (tls.crt, tls.key and ca.crt, in the
    stack's namespace, under the name the output gives it): what the output holds only with
    certificates.keysInOutput. It needs the private keys, which stay out of git: run it where
    the state was made, or where its keys were restored. It makes no certificate: run
    `kmc build` first.
    """
    from kmc.components.aggregated_api import serving_secret, tls_servers
    from kmc.text import yaml_text
    from kmc.tls import certs as certs_state

    model = _model(stack)
    servers = tls_servers(model, stack.parent)
    kept = [server for server in servers if server.tls.mode in KEPT_MODES]
    if only is not None and only not in [server.name for server in kept]:
        names = ", ".join(server.name for server in kept)
        raise UsageError(f"--server {only}: kmc keeps the key of no API server of that name; " + (f"it does for: {names}" if names else "it keeps none"))
    chosen = [server for server in kept if only in (None, server.name) and _deployed(model, server, env)]
    if not chosen:
        where = f" in environment {env!r}" if env is not None else ""
        raise KmcError(f"{stack}: no API server{where} has a certificate kmc keeps (tls modes generate, ca): there is no Secret to print")
    documents = []
    for server in chosen:
        material = certs_state.serving_material(server.state_dir, server.request(), create=False)
        if material.key is None:
            raise certs_state.missing_key(server.name, material.key_file, "its Secret", stack.name)
        documents.append(yaml_text.dump(serving_secret(server, material.ca_bundle, material.cert, material.key)))
    click.echo("---\n".join(documents), nl=False)


def _deployed(model: Stack, server: TlsServer, env: str | None) -> bool:
    """Whether environment `env` deploys `server` (None: any environment does; the stack lists only those)."""
    from kmc import pipeline
    from kmc.ir import lookup

    return env is None or bool(lookup(pipeline.environment_values(model, env), server.switch))


@certs.command("front-proxy")
@click.option("--out", "directory", required=True, type=click.Path(path_type=Path, file_okay=False), help="Directory for the four files (created 0700).")
@click.option("--days", type=click.IntRange(min=1), default=365, show_default=True, help="Validity of the client certificate (the CA: 10 years).")
@click.option("--key-type", type=click.Choice(KEY_TYPES), default=KEY_TYPES[0], show_default=True, help="Key algorithm.")
@click.option(
    "--pki-dir",
    default=KUBEADM_PKI,
    show_default=True,
    metavar="NODE_DIR",
    help="Where the files will be on the control-plane nodes: the directory the printed flags name (kubeadm's).",
)
def front_proxy(directory: Path, days: int, key_type: str, pki_dir: str) -> None:
    """Create the aggregation layer's front-proxy CA and client certificate, and print the
    kube-apiserver flags that use them.

    \b
    Writes into DIR: front-proxy-ca.crt/.key (a CA of its own, never the cluster CA) and
    front-proxy-client.crt/.key (CN front-proxy-client, clientAuth). When DIR already holds the
    CA, only a new client certificate is issued (rotation). Copy the CA certificate and the
    client pair into NODE_DIR (--pki-dir, default kubeadm's /etc/kubernetes/pki) on each
    control-plane node and add the printed flags, which name them there, to kube-apiserver; it
    then publishes the CA in kube-system's extension-apiserver-authentication
    ConfigMap, where metrics-server and prometheus-adapter read it. Clusters made by kubeadm and
    managed clusters have all this already.
    """
    from pathlib import PurePosixPath

    from kmc.tls.front_proxy import CA_CERT, CA_KEY, CLIENT_CERT, CLIENT_KEY, apiserver_flags, write_front_proxy

    node_dir = PurePosixPath(pki_dir)
    if not node_dir.is_absolute():
        raise click.BadParameter(f"{pki_dir!r}: kube-apiserver needs an absolute path on the node", param_hint="--pki-dir")

    made = write_front_proxy(directory, days=days, key_type=key_type)
    names = [CLIENT_CERT, CLIENT_KEY] if made.reused_ca else [CA_CERT, CA_KEY, CLIENT_CERT, CLIENT_KEY]
    how = f"signed by the existing {CA_CERT}" if made.reused_ca else "signed by a new CA"
    click.echo(
        f"wrote {', '.join(str(made.path(name)) for name in names)} ({how}; client certificate valid until {made.not_after.strftime('%Y-%m-%dT%H:%M:%SZ')})"
    )
    copied = ", ".join((CA_CERT, CLIENT_CERT, CLIENT_KEY))
    click.echo(f"\nCopy {copied} into {node_dir} on each control-plane node (keep {CA_KEY} off them), then add to kube-apiserver:")
    for flag in apiserver_flags(node_dir):
        click.echo(f"  {flag}")
    click.echo(
        "\nIf kube-apiserver does not run on a host that runs kube-proxy (it cannot reach Service IPs), also add\n"
        "  --enable-aggregator-routing=true\n"
        "so that it sends aggregated API requests to the endpoint (Pod) IPs instead of the Service's cluster IP."
    )


def _model(stack: Path) -> Stack:
    """The stack's model only: full validation would read (or want) the very certificates these commands look after."""
    from kmc.check.validate import model
    from kmc.read.loader import read_stack

    return model(read_stack(stack, str(stack)))


def _servers(stack: Path) -> tuple[Server, ...]:
    """The stack's aggregated API servers: (name, mode, state directory, request or None when kmc keeps no state)."""
    from kmc.components.aggregated_api import tls_servers

    found = tls_servers(_model(stack), stack.parent)
    return tuple(
        Server(
            s.name,
            s.tls.mode,
            s.state_dir,
            s.request() if s.tls.mode in KEPT_MODES else None,
            s.file(s.tls.ca_bundle_file) if s.tls.mode == "secret" and s.tls.ca_bundle_file else None,
        )
        for s in found
    )


def _inspect(server: Server, at: datetime.datetime) -> Inspection | None:
    """What kmc can check of `server`'s certificate: its state, or (mode `secret`) its caBundle file."""
    from kmc.tls import report

    if server.request is not None:
        return report.inspect(server.state_dir, server.request, at)
    if server.ca_bundle is not None:
        return report.inspect_bundle(server.ca_bundle)
    return None


def _not_kept(mode: str) -> str:
    return {
        "cert-manager": "cert-manager issues and renews its certificate in the cluster",
        "insecure": "the server makes a self-signed certificate and the APIService skips verification",
    }.get(mode, "kmc keeps no certificate for it")


def _left(days: int) -> str:
    return "expired" if days < 0 else f"{days} day{'s' if days != 1 else ''} left"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)
