"""The checks of the stack's escape hatches (kmc.components.hatches) against what kmc's
components emit for the stack: an argument may not repeat or contradict a flag kmc sets, an
environment variable may not carry a credential as a literal, labels may not touch kmc's
selectors, annotations may not ask for a second scrape, volumes may not shadow kmc's mounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kmc.check.grafana_settings import SECRET_SETTINGS, variable_owner
from kmc.components.hatches import TARGETS, Owned, flag_name, owned
from kmc.ir import KObject
from kmc.model import Hatch, Stack
from kmc.read.document import JsonPath

Problem = tuple[JsonPath, str, str, bool]  # path, message, hint, at the key

RESERVED_LABEL_PREFIXES = ("app.kubernetes.io/", "helm.sh/")
CREDENTIAL_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|KEY|CREDENTIAL", re.IGNORECASE)


def problems(stack: Stack, objects: Sequence[KObject]) -> Iterator[Problem]:
    """Every hatch of the stack that repeats, contradicts or overrides what kmc sets."""
    for target in TARGETS:
        hatch = stack.hatches.get(target.section)
        if not hatch:
            continue
        where: JsonPath = tuple(target.section.split("."))
        mine = owned(target, objects)
        yield from _args(where, hatch.args, mine)
        yield from _env(where, hatch.env, mine, grafana=target.section == "grafana")
        yield from _labels(where, hatch.labels, mine)
        prefix = f"{stack.scrape.annotation_prefix}/"
        yield from _annotations((*where, "podAnnotations"), hatch.pod_annotations, mine.pod_annotations, prefix)
        yield from _annotations((*where, "serviceAnnotations"), hatch.service_annotations, mine.service_annotations, prefix)
        yield from _volumes(where, hatch, mine)


def _args(where: JsonPath, args: Sequence[str], mine: Owned) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, arg in enumerate(args):
        at: JsonPath = (*where, "extraArgs", index)
        name = flag_name(arg)
        plain = name.removeprefix("no-") if name.removeprefix("no-") in mine.flags else name  # kingpin's --no-FLAG negates FLAG
        if plain in mine.flags:
            owner = mine.flags[plain]
            if plain != name:
                yield at, f"--{name} negates --{plain}, which kmc sets{f' from {owner}' if owner else ''}", "kmc relies on it: leave it out", False
            elif owner:
                yield at, f"--{plain} is set by kmc from {owner}", f"set {owner} in the stack instead of passing the flag", False
            else:
                yield (
                    at,
                    f"--{plain} is set by kmc itself",
                    "kmc relies on its value (a path it mounts, a port it probes, the config it compiles): leave it out",
                    False,
                )
        elif name in seen:
            yield at, f"--{name} is already passed (extraArgs[{seen[name]}])", "pass a flag once", False
        seen.setdefault(name, index)


def _env(where: JsonPath, env: Sequence[Mapping[str, Any]], mine: Owned, *, grafana: bool) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, var in enumerate(env):
        at: JsonPath = (*where, "extraEnv", index, "name")
        name = var["name"]
        if name in mine.env:
            yield at, f"environment variable {name} is set by kmc", "kmc relies on its value: leave it out", False
        elif name in seen:
            yield at, f"environment variable {name} is set twice", "set it once", False
        elif grafana and name.startswith("GF_"):
            yield at, f"{name} is a Grafana setting", _grafana_hint(name), False
        elif "value" in var and CREDENTIAL_NAME.search(name):
            yield (
                (*where, "extraEnv", index, "value"),
                f"environment variable {name} looks like a credential and has a literal value",
                f"read it from a Secret: {{name: {name}, valueFrom: {{secretKeyRef: {{name: ..., key: ...}}}}}}",
                False,
            )
        seen.add(name)


def _grafana_hint(name: str) -> str:
    why = variable_owner(name)
    if why is not None:
        return f"kmc owns it: {why}"
    if name in SECRET_SETTINGS:
        return f"read it from a Secret with grafana.secretSettings: {{{name}: {{secretName: ..., key: ...}}}}"
    return "set it in grafana.ini (kmc checks the settings there), or as a credential in grafana.secretSettings"


def _labels(where: JsonPath, labels: Mapping[str, str], mine: Owned) -> Iterator[Problem]:
    for key in labels:
        if key in mine.labels or key.startswith(RESERVED_LABEL_PREFIXES):
            yield (
                (*where, "extraLabels", key),
                f"label {key} is kmc's",
                "kmc's selectors and tools read the app.kubernetes.io/ and helm.sh/ labels: choose another key",
                True,
            )


def _annotations(where: JsonPath, annotations: Mapping[str, str], mine: frozenset[str], scrape_prefix: str) -> Iterator[Problem]:
    for key in annotations:
        if key in mine or key.startswith("checksum/"):
            yield (*where, key), f"annotation {key} is kmc's", "kmc sets it to roll the pods when their configuration changes", True
        elif key.startswith(scrape_prefix):
            yield (
                (*where, key),
                f"annotation {key} asks for a scrape of a kmc component",
                "kmc scrapes each of its components exactly once, through its own job; annotation-based discovery skips them",
                True,
            )


def _volumes(where: JsonPath, hatch: Hatch, mine: Owned) -> Iterator[Problem]:
    names = {volume["name"] for volume in hatch.volumes}
    for index, volume in enumerate(hatch.volumes):
        if volume["name"] in mine.volumes:
            yield (*where, "extraVolumes", index, "name"), f"volume name {volume['name']} is kmc's", "choose another name", False
    taken = list(mine.mount_paths)
    for index, mount in enumerate(hatch.volume_mounts):
        at: JsonPath = (*where, "extraVolumeMounts", index)
        if mount["name"] not in names:
            yield (*at, "name"), f"no extra volume is named {mount['name']}", "mount one of extraVolumes (kmc's own volumes are kmc's)", False
        path = mount["mountPath"].rstrip("/") or "/"
        clash = next((other for other in taken if _nested(path, other)), None)
        if clash is not None:
            yield (
                (*at, "mountPath"),
                f"mount path {path} overlaps {clash}, which is mounted already",
                "choose a path outside the container's other mounts",
                False,
            )
        taken.append(path)


def _nested(one: str, other: str) -> bool:
    """Whether one path is the other, or below or above it."""
    one, other = one.rstrip("/") + "/", other.rstrip("/") + "/"
    return one.startswith(other) or other.startswith(one)
