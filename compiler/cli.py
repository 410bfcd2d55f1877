"""The `kmc` command: parses options, calls the pipeline, maps errors to exit codes.

Exit codes: 0 ok; 1 invalid stack or build error; 2 usage; 3 unexpected (a bug); 130 interrupted.
Heavy modules are imported inside the commands that need them: start-up time is user time.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click

from kmc import __version__
from kmc.errors import KmcError, StackInvalid

FORMAT_CHOICES = ("manifests", "helm", "kustomize", "all")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="kmc", message="%(prog)s %(version)s")
def cli() -> None:
    """kmc compiles one declarative stack.yaml into a complete Kubernetes monitoring stack:
    Prometheus with annotation-based discovery, node-exporter and kube-state-metrics, as raw
    manifests, as a Helm chart, or as a kustomize base with one overlay per environment.

    \b
    Start:   kmc init && kmc build stack.yaml
    Check:   kmc validate stack.yaml
    Ship:    kmc build --format helm stack.yaml && kmc package charts-out/helm/NAME
             kmc publish charts-out/helm/NAME oci://registry.example.com/charts
    """


@cli.command()
@click.argument("stack", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_CHOICES),
    default="manifests",
    show_default=True,
    help="Output format; `all` builds all three.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("charts-out"),
    show_default=True,
    help="Output directory; kmc replaces only the subdirectories it builds.",
)
@click.option(
    "--env", metavar="NAME", help="Build only this environment's manifests (`default` is the stack without overrides). Without it, every environment is built."
)
def build(stack: Path, fmt: str, out: Path, env: str | None) -> None:
    """Compile STACK into OUT/<format>/.

    \b
    Manifests land in OUT/manifests/<env>/, one file per object, in apply order:
      kubectl apply -f charts-out/manifests/default/
    Kustomize lands in OUT/kustomize/ (base/, components/, overlays/<env>/):
      kubectl apply -k charts-out/kustomize/overlays/prod
    The Helm chart lands in OUT/helm/<chart name>/ (values-<env>.yaml per environment):
      helm install monitoring charts-out/helm/kmc-monitoring -f .../values-prod.yaml
    A failed build writes nothing and leaves the previous output untouched.

    \b
    Files the stack names (Grafana dashboard JSON) are read relative to STACK's
    directory and vendored into the output. No secret is ever written: Grafana's admin
    credentials come from a Secret you create first (see `grafana.adminSecret` in
    `kmc schema`):
      kubectl -n NAMESPACE create secret generic grafana-admin \\
        --from-literal=admin-user=admin \\
        --from-literal=admin-password="$(openssl rand -base64 24)" \\
        --from-literal=secret-key="$(openssl rand -base64 32)"
    """
    from kmc import pipeline, report

    started = time.perf_counter()
    formats = pipeline.FORMATS if fmt == "all" else (fmt,)
    try:
        result = pipeline.build(stack, out, formats, env, display=str(stack))  # type: ignore[arg-type]
    except StackInvalid as err:
        err.consequence = "nothing was written"
        raise
    if result.compiled.warnings:
        click.echo(report.text(result.compiled.warnings), err=True, nl=False)
    files = sum(len(tree) for tree in result.trees.values())
    where = ", ".join(str(out / subtree) for subtree in result.trees)
    elapsed = time.perf_counter() - started
    click.echo(f"kmc: {len(result.compiled.graph.objects)} objects, {files} files in {where} ({elapsed:.2f}s)", err=True)


@cli.command()
@click.argument("stack", type=click.Path(path_type=Path))
@click.option("--output-format", type=click.Choice(("text", "json")), default="text", show_default=True, help="How problems are reported.")
def validate(stack: Path, output_format: str) -> None:
    """Check STACK without building: schema, references, exactly-once scraping.

    Prints every problem as FILE:LINE:COL: error: $.json.path: message (or JSON) and exits 1
    when there is any.
    """
    from kmc import pipeline, report

    try:
        compiled = pipeline.compile_stack(stack, display=str(stack))
    except StackInvalid as err:
        if output_format == "json":
            click.echo(report.as_json(err.diagnostics), nl=False)
            raise SystemExit(err.exit_code) from None
        raise
    if output_format == "json":
        click.echo(report.as_json(compiled.warnings), nl=False)
    else:
        if compiled.warnings:
            click.echo(report.text(compiled.warnings), err=True, nl=False)
        click.echo(f"{stack}: valid ({len(compiled.graph.objects)} objects)")


@cli.command()
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of stack.yaml."""
    from kmc.resources import schema_path

    click.echo(schema_path().read_text(encoding="utf-8"), nl=False)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--force", is_flag=True, help="Overwrite an existing stack.yaml.")
def init(directory: Path, force: bool) -> None:
    """Write a commented starter stack.yaml (and the schema editors use) into DIRECTORY."""
    from kmc.resources import data_dir, schema_path

    target = directory / "stack.yaml"
    if target.exists() and not force:
        raise KmcError(f"{target} exists; pass --force to overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text((data_dir("library") / "starter-stack.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (directory / "stack.schema.json").write_text(schema_path().read_text(encoding="utf-8"), encoding="utf-8")
    click.echo(f"wrote {target} and {directory / 'stack.schema.json'}; next: kmc build {target}", err=True)


@cli.command()
@click.argument("chart_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "-d",
    "--destination",
    "dist",
    type=click.Path(path_type=Path, dir_okay=True, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Where the .tgz goes.",
)
def package(chart_dir: Path, dist: Path) -> None:
    """Package CHART_DIR as DIST/<name>-<version>.tgz, byte-reproducibly.

    The same chart gives the same bytes (same sha256) on any machine at any time: sorted entries,
    fixed times and owners. A chart holding a private key is refused.
    """
    import hashlib

    from kmc.chart_package import read_chart, write_package

    built = read_chart(chart_dir)
    target = write_package(built, dist)
    click.echo(f"{target} sha256:{hashlib.sha256(built.content).hexdigest()}")


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("reference", metavar="oci://HOST[:PORT]/REPOSITORY")
@click.option("--plain-http", is_flag=True, help="Talk HTTP, not HTTPS (a registry on loopback or in a lab).")
@click.option("--username", help="Registry user; the password is read from stdin (--password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def publish(source: Path, reference: str, plain_http: bool, username: str | None, password_stdin: bool) -> None:
    """Push a chart (a directory or a .tgz) to an OCI registry, as `helm push` lays it out.

    The chart lands at REPOSITORY/<chart name>:<chart version>; the manifest digest is printed.
    The same chart always gives the same digest. Credentials: --username with --password-stdin,
    else the registry's entry in Docker's config.json (`helm registry login` writes it).
    Install it with: helm install NAME oci://HOST/REPOSITORY/<chart name> --version <version>
    """
    from kmc import chart_package, oci

    if password_stdin and not username:
        raise click.UsageError("--password-stdin needs --username")
    built = chart_package.read_chart(source) if source.is_dir() else chart_package.read_package(source) if source.is_file() else None
    if built is None:
        raise KmcError(f"{source}: no such chart directory or package")
    target = oci.parse_reference(reference, built)
    credentials = None
    if username:
        password = sys.stdin.readline().rstrip("\r\n") if password_stdin else click.prompt("password", hide_input=True, err=True)
        credentials = oci.Credentials(username, password)
    else:
        credentials = oci.docker_credentials(target.host)
    digest = oci.publish(built, target, plain_http, credentials)
    click.echo(f"{target}@{digest}")


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI and turn every outcome into an exit code."""
    try:
        cli.main(args=argv, prog_name="kmc", standalone_mode=False)
    except StackInvalid as err:
        from kmc import report

        click.echo(report.text(err.diagnostics), err=True, nl=False)
        click.echo(f"kmc: {err}" + (f"; {err.consequence}" if err.consequence else ""), err=True)
        sys.exit(err.exit_code)
    except KmcError as err:
        click.echo(f"kmc: error: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("kmc: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("kmc: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001 - the last line of defence: a bug in kmc
        traceback.print_exc()
        click.echo(f"kmc {__version__}: internal error; please report it with the stack that caused it", err=True)
        sys.exit(3)
    sys.exit(0)
