"""The whole pipeline in one place: load → validate → model → components → IR → emit → write."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kmc.errors import Diagnostic, StackInvalid, UsageError
from kmc.ir import ObjectGraph
from kmc.model import Stack
from kmc.read.inputs import Heard, Recording, recording
from kmc.record import record, replace

if TYPE_CHECKING:
    from kmc.check.certificates import Certificates
    from kmc.components.prerequisites import Prerequisite

    Format = Literal["manifests", "helm", "kustomize"]

FORMATS: tuple[Format, ...] = ("manifests", "helm", "kustomize")


@record
class Compiled:
    stack: Stack
    graph: ObjectGraph
    warnings: tuple[Diagnostic, ...]
    # What the output is made of, as the build read it (kmc.read.inputs): the stack and the files it
    # references; None when one was read twice with different results.
    inputs: tuple[Heard, ...] | None

    @property
    def made(self) -> tuple[str, ...]:
        """What the compile minted or issued into the certificate state, a line per server: said, never silent."""
        return tuple(f"{name}: {material.made}" for name, material in sorted(self.stack.tls.items()) if material.made)


@record
class BuildResult:
    compiled: Compiled
    trees: Mapping[str, Mapping[str, bytes]]
    # What each built subtree needs and does not hold, by environment (see `prerequisites`).
    prerequisites: Mapping[str, Mapping[str, list[dict[str, Any]]]]


def compile_stack(path: Path, display: str | None = None, *, certificates: Certificates = "create", state_base: Path | None = None) -> Compiled:
    """Load, validate and compile a stack file into its object graph.

    `certificates` (see kmc.check.certificates): "create" makes the certificates the stack asks kmc for,
    once, in its state directory; "read" needs them there; "files" (validation only) reads
    neither and leaves the caBundles out. `state_base`: the directory the state directory is
    relative to, when not the stack's own (a stack checked out from git history).
    """
    from kmc import components
    from kmc.check.validate import validate
    from kmc.read.loader import read_stack

    with recording() as heard:
        doc = read_stack(path, display)
        stack, warnings = validate(doc, path.parent, certificates, state_base)
    stack = replace(stack, file_name=path.name)
    own = components.own_objects(stack)
    if stack.hatches or stack.extra_objects:
        from kmc.check import extra_objects, hatches

        found = [*hatches.problems(stack, own), *extra_objects.problems(stack, own)]
        if found:
            raise StackInvalid([doc.diagnostic(where, message, hint, key=key) for where, message, hint, key in found])
    return Compiled(stack, components.object_graph(stack, own), tuple(warnings), _inputs(heard, stack))


def _inputs(heard: Recording, stack: Stack) -> tuple[Heard, ...] | None:
    """What the output is made of, of what the build read: all of it but a private key the output
    does not hold (a clone without the keys then records the same inputs as the machine with them).
    None when the build read one of them twice with different results: nothing to vouch for."""
    keys = set() if stack.certificates.keys_in_output else {str(material.key_file) for material in stack.tls.values() if material.key_file is not None}
    if heard.conflicting - keys:
        return None
    return tuple(found for path, found in sorted(heard.heard.items()) if path not in keys)


def emit(compiled: Compiled, formats: tuple[Format, ...], env: str | None) -> dict[str, Mapping[str, bytes]]:
    """The file trees of `formats`, keyed by the output subdirectory each one replaces."""
    return emit_with_needs(compiled, formats, env)[0]


def emit_with_needs(
    compiled: Compiled, formats: tuple[Format, ...], env: str | None
) -> tuple[dict[str, Mapping[str, bytes]], dict[str, dict[str, tuple[Prerequisite, ...]]]]:
    """`emit`'s trees, and what each of them needs and does not hold (`prerequisites`)."""
    from kmc.emitters import manifests

    stack = compiled.stack
    chosen = None if env is None else environment_values(stack, env)
    if set(formats) - {"helm"}:
        _keys_at_hand(stack)
    subtrees = {fmt: fmt if fmt != "manifests" or env is None else f"manifests/{env}" for fmt in formats}
    needed = _prerequisites_of(stack, subtrees.values())
    trees: dict[str, Mapping[str, bytes]] = {}
    every_env = [(name, stack.values(_env(name))) for name in [manifests.DEFAULT_ENV, *stack.environments]]
    for fmt, subtree in subtrees.items():
        if fmt == "helm":
            # One chart serves every environment: values-<env>.yaml are the environments.
            from kmc.check.schema import load_schema
            from kmc.emitters import helm

            trees[subtree] = helm.emit(compiled.graph, stack, load_schema())
        elif fmt == "kustomize":
            # One tree serves every environment: its overlays are the environments.
            from kmc.emitters import kustomize

            files = kustomize.emit(compiled.graph, stack.values(None), every_env)
            trees[subtree] = {**files, **_prerequisite_files(needed[subtree], "overlays/{env}/", "kubectl apply -k .")}
        elif env is None:
            files = manifests.emit(compiled.graph, every_env)
            trees[subtree] = {**files, **_prerequisite_files(needed[subtree], "{env}/", "kubectl apply -f .")}
        else:
            assert chosen is not None
            files = manifests.emit(compiled.graph, [(env, chosen)])
            files = {path.split("/", 1)[1]: content for path, content in files.items()}
            trees[subtree] = {**files, **_prerequisite_files(needed[subtree], "", "kubectl apply -f .")}
    return trees, needed


def _keys_at_hand(stack: Stack) -> None:
    """With `certificates.keysInOutput`, the manifests and kustomize trees hold the private keys
    kmc made: a CertError naming the first one the state lacks (a clone: keys stay out of git)."""
    if not stack.certificates.keys_in_output:
        return
    from kmc.tls.certs import missing_key

    for name, material in sorted(stack.tls.items()):
        if material.key is None and material.key_file is not None:
            raise missing_key(name, material.key_file, "certificates.keysInOutput (the manifests and kustomize output)", stack.file_name)


def prerequisites(stack: Stack, subtree: str) -> dict[str, tuple[Prerequisite, ...]]:
    """What the output subtree `subtree` (as `emit` names it) needs and does not hold, by environment.

    A Helm chart never holds a private key; the manifests and kustomize trees hold the serving
    certificates kmc made only with `certificates.keysInOutput`."""
    return _prerequisites_of(stack, [subtree])[subtree]


def _prerequisites_of(stack: Stack, subtrees: Iterable[str]) -> dict[str, dict[str, tuple[Prerequisite, ...]]]:
    """`prerequisites` of each subtree, worked out once for subtrees that hold the same (kustomize and manifests)."""
    from kmc.components.prerequisites import by_environment
    from kmc.emitters.manifests import DEFAULT_ENV

    found: dict[tuple[bool, tuple[str, ...]], dict[str, tuple[Prerequisite, ...]]] = {}
    by_subtree = {}
    for subtree in subtrees:
        fmt, _, env = subtree.partition("/")
        environments = (env,) if env else (DEFAULT_ENV, *stack.environments)
        keys_in_output = fmt != "helm" and stack.certificates.keys_in_output
        if (keys_in_output, environments) not in found:
            found[keys_in_output, environments] = by_environment(stack, environments, keys_in_output=keys_in_output)
        by_subtree[subtree] = found[keys_in_output, environments]
    return by_subtree


def _prerequisite_files(needed: Mapping[str, tuple[Prerequisite, ...]], directory: str, apply: str) -> dict[str, bytes]:
    from kmc.emitters.prerequisites_file import NAME, markdown

    return {directory.format(env=env) + NAME: markdown(items, apply).encode("utf-8") for env, items in needed.items()}


def environment_values(stack: Stack, env: str) -> Mapping[str, Any]:
    """The parameter values of environment `env` (`default`: the stack's own); a UsageError naming
    the stack's environments when it has no such one."""
    from kmc.emitters.manifests import DEFAULT_ENV

    if env != DEFAULT_ENV and env not in stack.environments:
        raise UsageError(f"the stack has no environment {env!r}; it has: {', '.join([DEFAULT_ENV, *stack.environments])}")
    return stack.values(_env(env))


def _env(name: str) -> str | None:
    from kmc.emitters.manifests import DEFAULT_ENV

    return None if name == DEFAULT_ENV else name


def build(
    path: Path, out: Path, formats: tuple[Format, ...], env: str | None, display: str | None = None, say: Callable[[str], object] | None = None
) -> BuildResult:
    """Compile `path` and replace the built subtrees of `out`; nothing is written on failure.

    `say` hears, as soon as the compile is done, what it minted or issued into the certificate
    state (`Compiled.made`): that state outlives a build that fails after it."""
    from kmc.output import lock
    from kmc.output.writer import write_trees

    compiled = compile_stack(path, display)
    if say is not None:
        for line in compiled.made:
            say(line)
    trees, needs = emit_with_needs(compiled, formats, env)
    write_trees(out, trees)
    needed = {subtree: _listed(needs[subtree]) for subtree in trees}
    with contextlib.suppress(OSError):  # the lock only speeds up `--check`; without it the check compiles
        lock.write(out, lock.updated(out, path, compiled.inputs, trees, [_recorded(warning, display or str(path)) for warning in compiled.warnings], needed))
    return BuildResult(compiled, trees, needed)


def _listed(by_env: Mapping[str, tuple[Prerequisite, ...]]) -> dict[str, list[dict[str, Any]]]:
    """Prerequisites as the lock keeps them and `kmc build` reports them: object and keys."""
    return {env: [{"object": item.ref, "keys": list(item.keys)} for item in items] for env, items in by_env.items()}


def _recorded(warning: Diagnostic, stack: str) -> dict[str, object]:
    """A warning as the lock keeps it (see kmc.output.lock): its fields but the file; a warning
    about another input (a monitor file) keeps that file's path relative to the stack's directory."""
    import os

    recorded: dict[str, object] = {name: getattr(warning, name) for name in ("line", "column", "path", "message", "hint", "severity", "source_line")}
    if warning.file != stack:
        recorded["input"] = os.path.relpath(warning.file, os.path.dirname(stack) or ".")
    return recorded


@record
class Drift:
    """How the output on disk differs from what the stack builds; empty when it is current."""

    missing: tuple[str, ...]  # built, not on disk
    unexpected: tuple[tuple[str, str], ...]  # (path, what it is) on disk, not built: "" a file; "a symlink", "a FIFO", ...
    changed: tuple[tuple[str, str], ...]  # (path, short unified diff)
    files: int
    compiled: Compiled | None  # None: the lock proved the output current without compiling

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.changed)


STALE_STAGING = "a staging directory left by a build that was killed (it may hold private keys); `kmc build` removes it"


def check(path: Path, out: Path, formats: tuple[Format, ...], env: str | None, display: str | None = None) -> Drift:
    """Compare what `path` builds with `out`, writing nothing."""
    import difflib

    from kmc.output import lock
    from kmc.output.writer import stale_staging

    known = lock.current(out, path, lock.subtrees(formats, env))
    if known is not None:
        return Drift((), (), (), known, None)
    compiled = compile_stack(path, display, certificates="read")
    missing: list[str] = []
    unexpected: list[tuple[str, str]] = [(name, STALE_STAGING) for name in stale_staging(out)]
    changed: list[tuple[str, str]] = []
    files = 0
    for subtree, built in sorted(emit(compiled, formats, env).items()):
        tree = lock.scan(out / subtree)
        on_disk = tree.files
        files += len(built)
        missing += [f"{subtree}/{name}" for name in sorted(set(built) - set(on_disk) - set(tree.strays))]
        unexpected += [(f"{subtree}/{name}", "") for name in sorted(set(on_disk) - set(built))]
        for name, what in sorted(tree.strays.items()):
            where = f"{subtree}/{name}".rstrip("/")
            unexpected.append((where, f"{what}, where kmc writes a file" if name in built else what))
        for name in sorted(set(built) & set(on_disk)):
            if built[name] != on_disk[name]:
                old = on_disk[name].decode("utf-8", "replace").splitlines(keepends=True)
                new = built[name].decode("utf-8", "replace").splitlines(keepends=True)
                lines = list(difflib.unified_diff(old, new, f"{out}/{subtree}/{name} (on disk)", f"{subtree}/{name} (built)", n=1))
                if len(lines) > 24:
                    lines = [*lines[:24], f"... {len(lines) - 24} more diff lines\n"]
                changed.append((f"{subtree}/{name}", "".join(lines)))
    return Drift(tuple(missing), tuple(sorted(unexpected)), tuple(changed), files, compiled)
