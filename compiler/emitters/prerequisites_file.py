"""PREREQUISITES.md: beside each environment's objects, what they need and the output does not hold.

Written into each directory a user applies (`manifests/<env>/`, `kustomize/overlays/<env>/`);
neither `kubectl apply -f DIR` (it reads only .yaml, .yml and .json files of a directory) nor
kustomize (it reads what kustomization.yaml lists) takes it for an object. The Helm chart says
the same in its NOTES.txt (see kmc.emitters.helm_texts).
"""

from __future__ import annotations

from collections.abc import Sequence

from kmc.components.prerequisites import SETTING, Prerequisite

NAME = "PREREQUISITES.md"


def markdown(items: Sequence[Prerequisite], apply: str) -> str:
    """The file of one environment's objects, applied with `apply`; like them, a function of the
    environment's values alone (not of its name)."""
    objects = [item for item in items if item.kind != SETTING]
    settings = [item for item in items if item.kind == SETTING]
    lines = [
        "# Before you apply",
        "",
        f"For the objects beside this file, applied with `{apply}`.",
        "",
    ]
    if not objects:
        lines.append("Nothing to create first: these objects need nothing beyond what every cluster has.")
    else:
        lines += [
            "These objects need the ones below, which the output does not hold: create them first. Until",
            "then a pod whose Secret is missing waits in ContainerCreating, a volume claim whose",
            "StorageClass is missing waits in Pending with its pod, and an object in a missing Namespace",
            "or of a missing kind is refused.",
            "",
            "| object | keys | why |",
            "|---|---|---|",
            *(f"| {item.kind} `{_where(item)}` | {', '.join(f'`{key}`' for key in item.keys)} | {_cell(item.why)} |" for item in objects),
            "",
            "How:",
            "",
            "```sh",
            *(line for item in objects for line in item.create),
            "```",
        ]
    if settings:
        lines += [
            "",
            "## The cluster",
            "",
            "These objects also need the settings below of the cluster itself (`cluster.platform` in the stack",
            "says which cluster, and so how). Until then the scrape targets that need them stay down, and an",
            "aggregated API that needs them is unavailable:",
            "",
            "| setting | why |",
            "|---|---|",
            *(f"| {_cell(str(item.name))} | {_cell(item.why)} |" for item in settings),
            "",
            "How:",
            "",
            "```sh",
            *(line for item in settings for line in item.create),
            "```",
        ]
    return "\n".join(lines) + "\n"


def _where(item: Prerequisite) -> str:
    return f"{item.namespace}/{item.name}" if item.namespace else str(item.name)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
