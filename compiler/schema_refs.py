"""Reading the stack schema's own structure: local `$ref`s and the properties they bring in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    """The subschema a local reference such as `#/$defs/port` names."""
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def resolved(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """`node` merged over the fragment its `$ref` names, recursively (the node's own keywords win)."""
    if "$ref" not in node:
        return node
    return {**resolved(root, resolve(root, node["$ref"])), **{key: value for key, value in node.items() if key != "$ref"}}


def properties(root: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The properties `schema` declares, including those of the fragment its `$ref` names."""
    merged: dict[str, Mapping[str, Any]] = {}
    if "$ref" in schema:
        merged.update(properties(root, resolve(root, schema["$ref"])))
    merged.update(schema.get("properties", {}))
    return merged
