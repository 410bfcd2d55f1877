"""The `kmc` command: parses options, calls the pipeline, maps errors to exit codes.

Exit codes: 0 ok; 1 invalid stack or build error; 2 usage; 3 unexpected (a bug); 130 interrupted;
141 the reader of standard output went away (`kmc ... | head`), quietly.
Heavy modules are imported inside the commands that need them: start-up time is user time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from kmc import __version__
from kmc.commands import certs
from kmc.errors import KmcError

FORMAT_CHOICES = ("manifests", "helm", "kustomize", "all")


class ReaderGone(Exception):
    """Standard output's reader went away; carried past click, which would exit 1 on a BrokenPipeError."""


class _Group(click.Group):
    """The kmc group: a BrokenPipeError anywhere (help text included) reaches `main` as ReaderGone."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError as err:
            raise ReaderGone from err

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as err:
            raise ReaderGone from err


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="kmc", message="%(prog)s %(version)s")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems (no summary line, no warnings).")
@click.option("-v", "--verbose", is_flag=True, help="Say more: each subtree written or checked.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """kmc compiles one declarative stack.yaml into a complete Kubernetes monitoring stack:
    Prometheus with annotation-based discovery, node-exporter and kube-state-metrics, as raw
    manifests, as a Helm chart, or as a kustomize base with one overlay per environment.

    \b
    Start:   kmc init && kmc build stack.yaml
    Check:   kmc validate stack.yaml;  kmc build --check stack.yaml  (is charts-out/ current?)
    Ship:    kmc build --format helm stack.yaml && kmc package charts-out/helm/NAME
             kmc publish charts-out/helm/NAME oci://registry.example.com/charts

    Colours on a terminal only; NO_COLOR=1 turns them off.
    """
    ctx.obj = {"quiet": quiet, "verbose": verbose}


def _set_output(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        root = ctx.find_root()
        root.obj = {**(root.obj or {}), str(param.name): True}


def output_options(command: Any) -> Any:
    """-q/-v on a subcommand too (`kmc build -q` as well as `kmc -q build`)."""
    command = click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_set_output, help="Say more.")(command)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_output, help="Print only problems.")(command)


def _output() -> Any:
    """-q/-v as given to the group or the command."""
    from kmc.commands.output import Output

    ctx = click.get_current_context(silent=True)
    flags = (ctx.find_root().obj or {}) if ctx else {}
    return Output(quiet=bool(flags.get("quiet")), verbose=bool(flags.get("verbose") and not flags.get("quiet")))


@cli.command()
@output_options
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
    help="Output directory, relative to the working directory (files the stack names, and its state directory, are "
    "relative to STACK's directory); kmc replaces only the subdirectories it builds.",
)
@click.option(
    "--env", metavar="NAME", help="Build only this environment's manifests (`default` is the stack without overrides). Without it, every environment is built."
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing: exit 0 when OUT is current, 1 listing what is missing, unexpected (an extra file, a symlink, an empty "
    "directory, a FIFO, a killed build's staging) or changed (with a short diff). "
    "Needs no compile when OUT/.kmc-lock.json proves the output current.",
)
def build(stack: Path, fmt: str, out: Path, env: str | None, check: bool) -> None:
    """Compile STACK into OUT/<format>/.

    \b
    Manifests land in OUT/manifests/<env>/, one file per object, in apply order:
      kubectl apply -f charts-out/manifests/default/
    Kustomize lands in OUT/kustomize/ (base/, components/, overlays/<env>/):
      kubectl apply -k charts-out/kustomize/overlays/prod
    The Helm chart lands in OUT/helm/<chart name>/ (values-<env>.yaml per environment); it
    leaves the Namespace to Helm unless installed with namespace.create=true:
      helm install monitoring charts-out/helm/kmc-monitoring -n NAMESPACE --create-namespace \\
        -f .../values-prod.yaml
    A failed build writes nothing and leaves the previous output untouched. Each build records
    in OUT/.kmc-lock.json the hashes of the inputs it read, of kmc and of its outputs (commit
    it with the output); while they all still match and OUT holds nothing else, a build (or
    --check) needs no compile: it says the output is current and repeats the warnings the
    stack gave. Anything in OUT/<format>/ that kmc did not write is replaced.

    \b
    Files the stack names (Grafana dashboard JSON) are read relative to STACK's
    directory and vendored into the output. No password is ever written: Grafana's admin
    credentials come from a Secret you create first (see `grafana.adminSecret` in
    `kmc schema`):
      kubectl -n NAMESPACE create secret generic grafana-admin \\
        --from-literal=admin-user=admin \\
        --from-literal=admin-password="$(openssl rand -base64 24)" \\
        --from-literal=secret-key="$(openssl rand -base64 32)"

    Serving certificates of metrics-server and prometheus-adapter (tls mode generate or
    ca) are made once into the stack's state directory (certificates.stateDir, default
    .kmc-state) and reused; commit its certificates, not its keys (its .gitignore). The
    keys reach manifests/ and kustomize/ only with certificates.keysInOutput, and never a
    Helm chart; `kmc certs secrets STACK | kubectl apply -f -` applies them. --check never
    makes them.
    """
    from kmc.commands import build as building
    from kmc.commands.argv import BuildLine

    output = _output()
    if building.proven_current(BuildLine(str(stack), fmt, str(out), env, check, output.quiet, output.verbose)):
        return
    building.build(stack, fmt, out, env, check, output)


@cli.command()
@output_options
@click.argument("stacks", metavar="STACK...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--output-format", type=click.Choice(("text", "json")), default="text", show_default=True, help="How problems are reported.")
def validate(stacks: tuple[Path, ...], output_format: str) -> None:
    """Check each STACK without building: schema, references, exactly-once scraping.

    Prints every problem as FILE:LINE:COL: error: $.json.path: message (or JSON, one document
    per stack) and exits 1 when any stack has one. Schema and semantic problems come in one run:
    the semantic checks run on the part of the stack the schema accepts, and a check whose input
    the schema refused waits until that is fixed.
    """
    from kmc.commands import validate as validating

    validating.validate(stacks, output_format, _output())


def _complete_key(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from kmc.check.schema import load_schema
    from kmc.commands import explain as explaining

    return [path for path in explaining.paths(load_schema()) if path.startswith(incomplete)]


@cli.command()
@click.argument("key", metavar="KEY.PATH", default="", shell_complete=_complete_key)
@click.option("--stack", "stack", type=click.Path(path_type=Path), help="With prometheus.ingest or scrape.keep: also what each job of this stack keeps.")
def explain(key: str, stack: Path | None) -> None:
    """Describe a key of stack.yaml: type, description, default, examples, sub-keys.

    \b
    kmc explain prometheus.retention
    kmc explain scrape.extraJobs.relabel_configs
    kmc explain prometheus.ingest --stack stack.yaml   (and per job, what it keeps)
    kmc explain            (the top level)
    """
    from kmc.check.schema import load_schema
    from kmc.commands import explain as explaining

    click.echo(explaining.explain(load_schema(), key), nl=False)
    if stack is not None:
        if not key.startswith(("prometheus.ingest", "scrape.keep")):
            raise click.UsageError("--stack goes with prometheus.ingest or scrape.keep")
        from kmc import pipeline
        from kmc.commands import ingest_report

        compiled = pipeline.compile_stack(stack, display=str(stack), certificates="files")
        click.echo(f"in {stack}, by job (environment and mode; what `used` keeps):")
        click.echo(ingest_report.table(compiled.stack), nl=False)


@cli.command()
@click.argument("shell", type=click.Choice(("bash", "zsh", "fish")))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL (commands, options, `kmc explain` keys).

    \b
    bash:  eval "$(kmc completion bash)"     (e.g. in ~/.bashrc)
    zsh:   eval "$(kmc completion zsh)"      (e.g. in ~/.zshrc)
    fish:  kmc completion fish > ~/.config/fish/completions/kmc.fish
    """
    from click.shell_completion import get_completion_class

    complete = get_completion_class(shell)
    assert complete is not None
    click.echo(complete(cli, {}, "kmc", "_KMC_COMPLETE").source())


@cli.command()
@output_options
@click.argument("stack", type=click.Path(path_type=Path))
@click.option(
    "--against",
    "against",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="A directory of manifests (or an output directory holding manifests/<env>/).",
)
@click.option("--rev", metavar="REV", help="A git revision: the stack as committed there, compiled by this kmc (default: HEAD).")
@click.option("--env", metavar="NAME", default="default", show_default=True, help="The environment whose objects are compared.")
def diff(stack: Path, against: Path | None, rev: str | None, env: str) -> None:
    """What applying STACK's objects would change, compared with --against DIR or --rev REV.

    Lists added (+), removed (-) and changed (~) objects with the paths of their changed fields,
    and flags changes the API server refuses in place (workload selectors, StatefulSet
    volumeClaimTemplates, a Service's clusterIP, a binding's roleRef): delete and recreate needed.

    \b
    Exit codes: 0 no difference; 4 the objects differ; 1 error; 2 usage.
    """
    from kmc.commands import diff as diffing

    if against is not None and rev is not None:
        raise click.UsageError("give --against or --rev, not both")
    if diffing.diff(stack, against, rev, env, _output()):
        sys.exit(diffing.DIFFERS)


@cli.command()
@output_options
@click.argument("stack", type=click.Path(path_type=Path))
@click.option("--env", metavar="NAME", default="default", show_default=True, help="The environment whose images are listed.")
def images(stack: Path, env: str) -> None:
    """List every container image STACK's output runs in one environment: one per line, sorted.

    Init containers and sidecars (the config-reloader, Thanos) included: the list a mirroring
    tool reads to fill an air-gapped cluster's registry. They are exactly the images of that
    environment's manifests, kustomize overlay and Helm values file, so with images.registry set
    they are the mirror's names (each is the upstream image with its registry host replaced).

    \b
    Exit codes: 0 listed; 1 error (the stack's problems on stderr); 2 usage.
    """
    from kmc.commands import images as listing

    listing.images(stack, env, _output())


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
    # --out is relative to the working directory (files the stack names are relative to the stack).
    out = "" if directory == Path(".") else f" --out {directory / 'charts-out'}"
    click.echo(f"wrote {target} and {directory / 'stack.schema.json'}; next: kmc build {target}{out}", err=True)


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

    from kmc.output.chart_package import read_chart, write_package

    built = read_chart(chart_dir)
    target = write_package(built, dist)
    click.echo(f"{target} sha256:{hashlib.sha256(built.content).hexdigest()}")


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("reference", metavar="oci://HOST[:PORT]/REPOSITORY")
@click.option("--plain-http", is_flag=True, help="Talk HTTP, not HTTPS (a registry on loopback or in a lab).")
@click.option("--username", help="Registry user; the password is read from stdin (--password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--force", is_flag=True, help="Replace a chart already published under this version with other content.")
def publish(source: Path, reference: str, plain_http: bool, username: str | None, password_stdin: bool, force: bool) -> None:
    """Push a chart (a directory or a .tgz) to an OCI registry, as `helm push` lays it out.

    The chart lands at REPOSITORY/<chart name>:<chart version>; the manifest digest is printed.
    The same chart always gives the same digest. A version is published once: when the registry
    already holds other content under it, kmc refuses (raise `chart.version` in the stack, or
    pass --force); the same chart again is a no-op. Credentials: --username with --password-stdin,
    else the registry's entry in Docker's config.json (`helm registry login` writes it).
    Install it with: helm install NAME oci://HOST/REPOSITORY/<chart name> --version <version>
    -n NAMESPACE --create-namespace (the chart leaves the Namespace to Helm by default).
    """
    from kmc.output import chart_package, oci

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
    outcome = oci.publish(built, target, plain_http, credentials, force=force)
    if not outcome.pushed:
        click.echo(f"kmc: {target} already holds this chart; nothing was sent", err=True)
    click.echo(f"{target}@{outcome.digest}")


cli.add_command(certs.certs)


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI and turn every outcome into an exit code."""
    from kmc.commands.output import failure, reader_gone

    try:
        cli.main(args=argv, prog_name="kmc", standalone_mode=False)
        sys.stdout.flush()
    except (ReaderGone, BrokenPipeError):
        sys.exit(reader_gone())
    except click.exceptions.Abort:
        click.echo("kmc: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except SystemExit:
        raise
    except BaseException as err:  # noqa: BLE001 - every outcome is an exit code (a bug in kmc: 3, with its traceback)
        sys.exit(failure(err))
    sys.exit(0)
