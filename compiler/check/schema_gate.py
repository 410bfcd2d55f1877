"""A fast yes/no check of a stack against the schema, for the keywords the stack schema uses.

Importing jsonschema and building its validator costs ~100 ms, a third of a build; most builds
(a pre-commit hook on an unchanged stack) are of valid stacks. So the pipeline asks this gate
first and calls jsonschema only to explain a stack the gate rejects. The gate must agree with
jsonschema; tests/test_schema_gate.py checks it on generated and mutated stacks, and that the
schema uses no keyword the gate does not know.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from kmc.schema_refs import resolve

# Keywords that only annotate: they never make an instance invalid.
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "examples", "default"})
ASSERTIONS = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "properties",
        "additionalProperties",
        "unevaluatedProperties",
        "required",
        "items",
        "minItems",
        "uniqueItems",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "oneOf",
    }
)


@cache
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return kind == "null" and value is None


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def is_valid(root: Mapping[str, Any], value: Any, schema: Mapping[str, Any] | None = None) -> bool:
    schema = root if schema is None else schema
    if "$ref" in schema and not is_valid(root, value, resolve(root, schema["$ref"])):
        return False
    if "type" in schema:
        kinds = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        if not any(_is_type(value, kind) for kind in kinds):
            return False
    if "enum" in schema and not any(_equal(value, option) for option in schema["enum"]):
        return False
    if "const" in schema and not _equal(value, schema["const"]):
        return False
    if "oneOf" in schema and sum(is_valid(root, value, option) for option in schema["oneOf"]) != 1:
        return False
    if isinstance(value, str):
        return _string(schema, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return bool(schema.get("minimum", value) <= value <= schema.get("maximum", value))
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return False
        if schema.get("uniqueItems") and any(_equal(a, b) for index, a in enumerate(value) for b in value[index + 1 :]):
            return False
        items = schema.get("items")
        return items is None or all(is_valid(root, item, items) for item in value)
    if isinstance(value, dict):
        return _object(root, schema, value)
    return True


def _string(schema: Mapping[str, Any], value: str) -> bool:
    if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
        return False
    return bool(schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)))


def _object(root: Mapping[str, Any], schema: Mapping[str, Any], value: dict[str, Any]) -> bool:
    if any(key not in value for key in schema.get("required", ())):
        return False
    if not schema.get("minProperties", 0) <= len(value) <= schema.get("maxProperties", len(value)):
        return False
    names = schema.get("propertyNames")
    if names is not None and not all(is_valid(root, key, names) for key in value):
        return False
    properties = schema.get("properties", {})
    for key, child in value.items():
        if key in properties:
            if not is_valid(root, child, properties[key]):
                return False
        elif "additionalProperties" in schema:
            extra = schema["additionalProperties"]
            if extra is False or (extra is not True and not is_valid(root, child, extra)):
                return False
    if schema.get("unevaluatedProperties") is False:
        known = set(properties)
        if "$ref" in schema:
            known |= set(resolve(root, schema["$ref"]).get("properties", {}))
        if not set(value) <= known:
            return False
    return True
