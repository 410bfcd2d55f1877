"""The object graph: the Kubernetes objects of a stack, with deploy-time parameters left open.

Object bodies are plain JSON-like data, except at the places a deploy-time user may tune: there a
`Param` (a reference to a value path, e.g. `prometheus.replicas`), a `Join` (a string built
from text and parameters), a `Switch` (one of two values, by a boolean parameter) or a `Text` (a
config file some of whose lines exist only where a boolean parameter is true) stands. The manifests emitter resolves them with an environment's
values; the Helm emitter turns them into `.Values` references.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kmc.record import record

# Apply order: what others depend on comes first.
KIND_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Deployment",
    "StatefulSet",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "APIService",
    "HorizontalPodAutoscaler",
    "Issuer",  # cert-manager's: the pods that mount its Secrets wait for it
    "Certificate",
    "TriggerAuthentication",  # KEDA's: a ScaledObject's trigger names it
    "ScaledObject",
)


@record
class Param:
    """A deploy-time parameter: the value at `path` of the environment's values.

    With `omit_empty`, the field holding it disappears when the value is empty as Helm's `with`
    judges it: null, false, 0, "", {} or [].
    """

    path: str
    omit_empty: bool = False


@record
class Join:
    """A string made of literal text and parameters, e.g. `--retention=` + retention."""

    parts: tuple[str | Param, ...]


@record
class Switch:
    """`on` where the parameter at `path` is true, else `off`.

    Truth is Helm's `if`: false, 0, "", null, {} and [] are false. So a Switch on a list parameter
    chooses by whether the list is empty. `path` may also be any condition `holds` reads
    (`path=word`, terms joined by `&`).
    """

    path: str
    on: Any
    off: Any


@record
class Text:
    """A multi-line text, such as a config file in a ConfigMap: literal text, and sections of
    whole lines that are there only where a boolean parameter is true (a `Switch` whose `on` and
    `off` are text, each empty or ending with a newline). The Helm chart keeps it a readable
    block with `{{- if }}` around the sections."""

    parts: tuple[str | Switch, ...]


def sectioned(parts: Iterable[str | Switch]) -> str | Text:
    """The text of `parts`: a plain string when no section is switched, else a `Text`."""
    merged: list[str | Switch] = []
    for part in parts:
        if isinstance(part, Switch):
            assert all(isinstance(text, str) and (text == "" or text.endswith("\n")) for text in (part.on, part.off)), f"a section of whole lines: {part!r}"
            merged.append(part)
        elif merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part:
            merged.append(part)
    if all(isinstance(part, str) for part in merged):
        return "".join(str(part) for part in merged)
    return Text(tuple(merged))


# A condition `path>1`: the number at `path` is above 1 (a workload's replicas), rather than a switch.
MORE_THAN_ONE = ">1"
# A condition `path=word`: the string at `path` is `word`. The left side may also be `map[key]`,
# the entry `key` of the map at `map`, and `map[key]|path`: that entry, or where the map has none,
# the value at `path` (a per-job setting over a stack-wide one). A term `!condition` holds where
# the condition does not; terms joined by `&` must all hold.
_EQUALS = re.compile(r"(?:(?P<map>[\w.]+)\[(?P<key>[\w.-]+)\](?:\|(?P<fallback>[\w.]+))?|(?P<path>[\w.]+))=(?P<word>[\w-]+)")


def condition_path(condition: str) -> str:
    """The parameter a switch or a `path>1` condition reads."""
    return condition.removesuffix(MORE_THAN_ONE)


def condition_paths(condition: str) -> tuple[str, ...]:
    """Every value path `condition` reads."""
    paths: list[str] = []
    for term in condition.split("&"):
        equals = _EQUALS.fullmatch(term.removeprefix("!"))
        if equals is None:
            paths.append(condition_path(term.removeprefix("!")))
        else:
            paths += [path for path in (equals["map"], equals["fallback"], equals["path"]) if path]
    return tuple(paths)


def equals(value: str | None, word: str, *, entry: tuple[str, str] | None = None) -> str:
    """The condition: the string at `value` is `word`; with `entry` (map, key), the map's entry
    wins where it has one (without `value`, only the entry is read)."""
    if entry is None:
        assert value is not None
        return f"{value}={word}"
    return f"{entry[0]}[{entry[1]}]" + (f"|{value}" if value else "") + f"={word}"


def holds(values: Mapping[str, Any], condition: str) -> bool:
    """Whether `condition` holds under `values`: a switch's truth as Helm's `if` judges it, `path>1`, `path=word`, `!term`."""
    if "&" in condition:
        return all(holds(values, term) for term in condition.split("&"))
    if condition.startswith("!"):
        return not holds(values, condition[1:])
    matched = _EQUALS.fullmatch(condition)
    if matched is not None:
        if matched["path"]:
            return bool(lookup(values, matched["path"]) == matched["word"])
        entries = lookup(values, matched["map"])
        chosen = entries.get(matched["key"]) if isinstance(entries, Mapping) else None
        if chosen is None and matched["fallback"]:
            chosen = lookup(values, matched["fallback"])
        return bool(chosen == matched["word"])
    value = lookup(values, condition_path(condition))
    if condition.endswith(MORE_THAN_ONE):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1
    return bool(value)


def parse_equals(condition: str) -> tuple[str | None, str | None, str | None, str] | None:
    """A `path=word` condition as (map, key, path or fallback, word); None for any other condition."""
    matched = _EQUALS.fullmatch(condition)
    if matched is None:
        return None
    return (matched["map"], matched["key"], matched["path"] or matched["fallback"], matched["word"])


@record
class KObject:
    """One Kubernetes object; `conditions` name the boolean parameters that must all be true for it
    to exist (none: always there), e.g. a component's `enabled` and then its `networkPolicy.enabled`;
    or, as `path>1`, a number that must be above 1 (a PodDisruptionBudget's workload's replicas).
    """

    body: Mapping[str, Any]
    component: str
    conditions: tuple[str, ...] = ()
    # Holds a private key: fit for output applied directly, never for a Helm chart (which is published).
    private: bool = False

    def switched_on(self, values: Mapping[str, Any]) -> bool:
        return all(holds(values, condition) for condition in self.conditions)

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"].get("namespace", ""))

    @property
    def group(self) -> str:
        api_version = str(self.body["apiVersion"])
        return api_version.rpartition("/")[0]

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.group, self.kind, self.namespace, self.name)

    def sort_key(self) -> tuple[int, str, str, str, str]:
        rank = KIND_ORDER.index(self.kind) if self.kind in KIND_ORDER else len(KIND_ORDER)
        return (rank, self.kind, self.namespace, self.name, self.group)


@record
class ObjectGraph:
    """The stack's objects in apply order, unique by (group, kind, namespace, name)."""

    objects: tuple[KObject, ...]

    @classmethod
    def of(cls, objects: Iterable[KObject]) -> ObjectGraph:
        ordered = sorted(objects, key=KObject.sort_key)
        seen: dict[tuple[str, str, str, str], KObject] = {}
        rolled = _rolled_on_change(ordered)
        for obj in ordered:
            # Some pods roll on a change of what they mount through checksum annotations computed at
            # compile time (Grafana's, prometheus-adapter's); a parameter inside what they mount would
            # change it without changing them. Prometheus and Alertmanager reload in place.
            if (obj.kind, obj.namespace, obj.name) in rolled and any(dynamic_nodes(obj.body)):
                raise ValueError(f"{obj.kind} {obj.namespace}/{obj.name} holds a deploy-time parameter; its checksum annotation would go stale")
            if obj.key in seen:
                raise ValueError(f"two components emit {obj.kind} {obj.namespace}/{obj.name}: {seen[obj.key].component} and {obj.component}")
            seen[obj.key] = obj
        return cls(tuple(ordered))


def _rolled_on_change(objects: Iterable[KObject]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every ConfigMap and Secret mounted by a pod template that carries a `checksum/` annotation."""
    found = set()
    for obj in objects:
        template = obj.body.get("spec", {}).get("template", {}) if isinstance(obj.body.get("spec"), Mapping) else {}
        annotations = template.get("metadata", {}).get("annotations", {})
        if not any(str(key).startswith("checksum/") for key in annotations):
            continue
        for volume in template.get("spec", {}).get("volumes", []):
            sources = volume["projected"]["sources"] if "projected" in volume else [volume]
            for source in sources:
                if "configMap" in source:
                    found.add(("ConfigMap", obj.namespace, source["configMap"]["name"]))
                if "secret" in source:
                    found.add(("Secret", obj.namespace, source["secret"].get("secretName") or source["secret"].get("name")))
    return found


def dynamic_nodes(value: Any) -> Iterator[Param | Join | Switch | Text]:
    """The Params, Joins, Switches and Texts in `value`, depth first."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most nodes: by exact type (an ABC's isinstance is slow)
        return
    if kind is list or kind is tuple:
        children: Iterable[Any] = value
    elif kind is dict or isinstance(value, Mapping):
        children = value.values()
    elif isinstance(value, (list, tuple)):
        children = value
    else:
        if isinstance(value, (Param, Join, Switch, Text)):
            yield value
        return
    for child in children:
        yield from dynamic_nodes(child)


def lookup(values: Mapping[str, Any], path: str) -> Any:
    """The value at dotted `path`; None where the path is unset (as Helm's `.Values` reads it)."""
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def is_empty(value: Any) -> bool:
    """Helm's (Go template's) emptiness: what `{{ with }}` skips."""
    return value is None or value is False or value == 0 or value in ("", {}, [])


def text(value: Any) -> str:
    """A parameter's value inside a string, as the Helm chart prints it (Go's %v for scalars)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve(value: Any, values: Mapping[str, Any]) -> Any:
    """`value` with every Param and Join replaced by its value in `values`."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most nodes: checked first, by exact type
        return value
    if kind is Param:
        return lookup(values, value.path)
    if kind is Switch:
        return resolve(value.on if holds(values, value.path) else value.off, values)
    if kind is Join:
        return "".join(part if isinstance(part, str) else text(lookup(values, part.path)) for part in value.parts)
    if kind is Text:
        return "".join(part if isinstance(part, str) else resolve(part, values) for part in value.parts)
    if kind is list or kind is tuple:
        return [resolve(item, values) for item in value]
    if kind is dict or isinstance(value, Mapping):
        out = {}
        for key, child in value.items():
            if type(child) is Param and child.omit_empty and is_empty(lookup(values, child.path)):
                continue
            out[key] = resolve(child, values)
        return out
    if isinstance(value, (list, tuple)):
        return [resolve(item, values) for item in value]
    return value
