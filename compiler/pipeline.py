"""The whole pipeline in one place: load → validate → model → components → IR → emit → write."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from kmc.errors import Diagnostic, UsageError
from kmc.ir import ObjectGraph
from kmc.model import Stack

Format = Literal["manifests", "helm", "kustomize"]
FORMATS: tuple[Format, ...] = ("manifests", "helm", "kustomize")


@dataclasses.dataclass(frozen=True)
class Compiled:
    stack: Stack
    graph: ObjectGraph
    warnings: tuple[Diagnostic, ...]


@dataclasses.dataclass(frozen=True)
class BuildResult:
    compiled: Compiled
    trees: Mapping[str, Mapping[str, bytes]]


def compile_stack(path: Path, display: str | None = None) -> Compiled:
    """Load, validate and compile a stack file into its object graph."""
    from kmc import components
    from kmc.loader import read_stack
    from kmc.validate import validate

    doc = read_stack(path, display)
    stack, warnings = validate(doc, path.parent)
    return Compiled(stack, components.object_graph(stack), tuple(warnings))


def emit(compiled: Compiled, formats: tuple[Format, ...], env: str | None) -> dict[str, Mapping[str, bytes]]:
    """The file trees of `formats`, keyed by the output subdirectory each one replaces."""
    from kmc.emitters import kustomize, manifests

    stack = compiled.stack
    if env is not None and env != manifests.DEFAULT_ENV and env not in stack.environments:
        known = ", ".join([manifests.DEFAULT_ENV, *stack.environments])
        raise UsageError(f"the stack has no environment {env!r}; it has: {known}")
    trees: dict[str, Mapping[str, bytes]] = {}
    every_env = [(name, stack.values(_env(name))) for name in [manifests.DEFAULT_ENV, *stack.environments]]
    for fmt in formats:
        if fmt == "helm":
            # One chart serves every environment: values-<env>.yaml are the environments.
            from kmc.emitters import helm
            from kmc.schema_check import load_schema

            trees["helm"] = helm.emit(compiled.graph, stack, load_schema())
        elif fmt == "kustomize":
            # One tree serves every environment: its overlays are the environments.
            trees["kustomize"] = kustomize.emit(compiled.graph, stack.values(None), every_env)
        elif env is None:
            trees["manifests"] = manifests.emit(compiled.graph, every_env)
        else:
            files = manifests.emit(compiled.graph, [(env, stack.values(_env(env)))])
            trees[f"manifests/{env}"] = {path.split("/", 1)[1]: content for path, content in files.items()}
    return trees


def _env(name: str) -> str | None:
    from kmc.emitters.manifests import DEFAULT_ENV

    return None if name == DEFAULT_ENV else name


def build(path: Path, out: Path, formats: tuple[Format, ...], env: str | None, display: str | None = None) -> BuildResult:
    """Compile `path` and replace the built subtrees of `out`; nothing is written on failure."""
    from kmc.writer import write_trees

    compiled = compile_stack(path, display)
    trees = emit(compiled, formats, env)
    write_trees(out, trees)
    return BuildResult(compiled, trees)
