"""`kmc diff`: what applying a stack's objects would change, against a directory of manifests or
the stack as committed at a git revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kmc.commands.output import Output
from kmc.errors import KmcError, StackInvalid

DIFFERS = 4  # the exit code when the objects differ


def diff(stack: Path, against: Path | None, rev: str | None, env: str, output: Output) -> bool:
    """Print the differences between `stack`'s objects of `env` and those `against` holds (else
    those of the stack at `rev`, default HEAD); whether there are any."""
    from kmc import pipeline
    from kmc.emitters.manifests import render_objects
    from kmc.output import objdiff

    compiled = pipeline.compile_stack(stack, display=str(stack), certificates="read")
    new = render_objects(compiled.graph, pipeline.environment_values(compiled.stack, env))
    if against is not None:
        old = _objects_in(against / "manifests" / env if (against / "manifests").is_dir() else against)
        label = str(against)
    else:
        old, label = _objects_at(stack, rev or "HEAD", env)
    diffs = objdiff.diff(old, new)
    if not diffs:
        output.say(f"kmc: no difference between {label} and {stack} ({env}: {len(new)} objects)")
        return False
    print(objdiff.render(diffs), end="", flush=True)
    recreate = sum(1 for item in diffs if item.recreate)
    output.say(
        f"kmc: {len(diffs)} object{'s differ' if len(diffs) != 1 else ' differs'} from {label}" + (f"; {recreate} need delete and recreate" if recreate else "")
    )
    return True


def _objects_in(directory: Path) -> list[Any]:
    import yaml

    objects = []
    for path in sorted(directory.glob("*.y*ml")):
        try:
            objects += [obj for obj in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(obj, dict)]
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise KmcError(f"{path}: not YAML objects: {err}") from None
    if not objects:
        raise KmcError(f"{directory}: no Kubernetes objects (*.yaml) to compare with")
    return objects


def _objects_at(stack: Path, rev: str, env: str) -> tuple[list[Any], str]:
    """The objects the stack at git revision `rev` builds (its directory checked out in a temp dir)."""
    import io
    import subprocess
    import tarfile
    import tempfile

    from kmc import pipeline
    from kmc.emitters.manifests import render_objects

    def git(*args: str, cwd: Path | None = None) -> bytes:
        try:
            result = subprocess.run(["git", *args], cwd=cwd or stack.resolve().parent, capture_output=True, check=False, timeout=60)
        except FileNotFoundError:
            raise KmcError("--rev needs git, which is not installed") from None
        if result.returncode != 0:
            raise KmcError(f"git {' '.join(args)}: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout

    try:
        prefix = git("rev-parse", "--show-prefix").decode().strip()
    except KmcError:
        raise KmcError(
            f"{stack} is not in a git repository, so there is no committed stack to compare with: "
            "compare with --against DIR (a directory of manifests, or an output directory such as charts-out)"
        ) from None
    top = Path(git("rev-parse", "--show-toplevel").decode().strip())
    try:
        git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=top)
    except KmcError:
        known = "the repository has no commit yet" if rev == "HEAD" else f"git knows no revision {rev!r}"
        raise KmcError(f"{known}: commit the stack first, name another revision with --rev, or compare with --against DIR") from None
    archive = git("archive", "--format=tar", f"{rev}:{prefix}", cwd=top)  # the stack's directory as it was
    with tempfile.TemporaryDirectory() as temp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(temp, filter="data")
        old_stack = Path(temp) / stack.name
        if not old_stack.is_file():
            raise KmcError(f"{stack.name} does not exist at {rev}")
        label = f"{rev}:{prefix}{stack.name}"
        try:
            # The certificates of the stack as it was are the ones in today's state directory.
            compiled = pipeline.compile_stack(old_stack, display=label, certificates="read", state_base=stack.parent)
        except StackInvalid as err:
            raise KmcError(f"the stack at {rev} does not compile ({err}); compare with --against a directory instead") from None
        values = compiled.stack.values(None if env == "default" else env) if env == "default" or env in compiled.stack.environments else None
        return ([] if values is None else render_objects(compiled.graph, values)), label
