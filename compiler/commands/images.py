"""`kmc images`: every container image one environment's output runs, one per line, sorted — the
list a mirroring tool (`crane copy`, `skopeo sync`, `oras copy`) reads for an air-gapped cluster."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kmc.commands.output import Output, problems

# Where a pod template sits in each kind that runs pods.
_POD_PATHS: Mapping[str, tuple[str, ...]] = {
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "Pod": ("spec",),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def images_of(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """The images every container, init container and sidecar of `objects` runs, sorted, each once."""
    return sorted({image for obj in objects for image in _pod_images(obj)})


def _pod_images(obj: Mapping[str, Any]) -> Iterator[str]:
    path = _POD_PATHS.get(str(obj.get("kind")))
    if path is None:
        return
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        return
    for field in _CONTAINER_LISTS:
        for container in node.get(field) or []:
            yield str(container["image"])


def images(stack: Path, env: str, output: Output) -> None:
    """Print the images of `stack`'s output in environment `env`."""
    from kmc import pipeline
    from kmc.commands import report
    from kmc.emitters.manifests import render_objects

    compiled = pipeline.compile_stack(stack, display=str(stack), certificates="files")
    if compiled.warnings and not output.quiet:
        problems(report.text(compiled.warnings))  # on stderr: stdout is the list alone
    found = images_of(render_objects(compiled.graph, pipeline.environment_values(compiled.stack, env)))
    print("".join(f"{image}\n" for image in found), end="", flush=True)
