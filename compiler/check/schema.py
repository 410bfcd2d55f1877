"""Check a loaded stack against the JSON Schema and turn every failure into a located diagnostic."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from kmc.errors import Diagnostic, StackInvalid
from kmc.read.document import Document, JsonPath
from kmc.resources import schema_path
from kmc.schema_refs import properties

STACK_VERSION = 1

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@functools.cache
def load_schema() -> Mapping[str, Any]:
    """The stack schema shipped with kmc (read once per process)."""
    with schema_path().open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def check_version(doc: Document) -> None:
    """Stop with one clear message unless the stack is a mapping written for this stack version."""
    if not isinstance(doc.data, dict):
        raise StackInvalid([doc.diagnostic((), f"a stack must be a mapping of keys, not {_describe(doc.data)}", "start from `kmc init`")])
    if "version" not in doc.data:
        raise StackInvalid([doc.diagnostic((), "missing `version`", f"add `version: {STACK_VERSION}` as the first line")])
    version = doc.data["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        hint = _type_hint(doc, ("version",), "integer") or f"write `version: {STACK_VERSION}`"
        raise StackInvalid([doc.diagnostic(("version",), f"expected the integer {STACK_VERSION}, got {_describe(version)}", hint)])
    if version != STACK_VERSION:
        raise StackInvalid(
            [
                doc.diagnostic(
                    ("version",),
                    f"this stack is written for stack format version {version!r}; this kmc reads version {STACK_VERSION}",
                    "use the kmc release made for that format, or rewrite the stack for version 1 (see `kmc schema`)",
                )
            ]
        )


def schema_diagnostics(doc: Document) -> list[Diagnostic]:
    """Every schema violation of `doc`, one diagnostic each, with did-you-mean and type hints."""
    from jsonschema import Draft202012Validator

    schema = load_schema()
    validator = Draft202012Validator(schema)
    found: dict[tuple[str, int, int, str], Diagnostic] = {}
    for error in validator.iter_errors(doc.data):
        for diagnostic in _explain(doc, schema, error):
            found.setdefault((diagnostic.path, diagnostic.line, diagnostic.column, diagnostic.message), diagnostic)
    return sorted(found.values())


def _explain(doc: Document, root: Mapping[str, Any], error: Any) -> Iterator[Diagnostic]:
    path: JsonPath = tuple(error.absolute_path)
    keyword = error.validator
    subschema = error.schema
    value = error.instance
    if "propertyNames" in error.absolute_schema_path and isinstance(value, str) and keyword not in ("$ref", "allOf"):
        # jsonschema checks a key against propertyNames as the key's own instance, at its mapping's path.
        yield doc.diagnostic((*path, value), f"{value!r} is not allowed as a key here", _name_hint(value, subschema), key=True)
    elif keyword in ("additionalProperties", "unevaluatedProperties"):
        allowed = sorted(properties(root, subschema))
        for key in sorted(set(value) - set(allowed)):
            stack_wide = _stack_wide_key(root, path, key)
            if stack_wide:
                yield doc.diagnostic(
                    (*path, key),
                    f"`{stack_wide}` cannot vary per environment",
                    f"it is compiled into the objects of every environment: set it once at `{stack_wide}` in the stack's top level;"
                    " an environment overrides only deploy-time parameters (`kmc explain` says which keys are)",
                    key=True,
                )
            else:
                yield doc.diagnostic((*path, key), f"unknown key {key!r}", _did_you_mean(key, allowed), key=True)
    elif keyword == "type" and value is None and len(path) > 2 and path[0] == "environments":
        where = ".".join(str(part) for part in path[2:])
        yield doc.diagnostic(
            path,
            f"an environment cannot remove `{where}`",
            f"an environment changes values the stack sets; whether `{where}` is set at all is the same for every environment:"
            " set or remove it in the stack's top level, or give this environment other values",
        )
    elif keyword == "type":
        hint = _secret_hint(subschema, value) or _type_hint(doc, path, error.validator_value)
        yield doc.diagnostic(path, f"expected {_expected(error.validator_value)}, got {_describe(value)}", hint)
    elif keyword == "enum":
        hint = _did_you_mean(str(value), [str(option) for option in error.validator_value], "values")
        yield doc.diagnostic(path, f"{value!r} is not one of the allowed values", hint)
    elif keyword == "const":
        yield doc.diagnostic(path, f"must be {error.validator_value!r}, got {value!r}")
    elif keyword == "required":
        for key in error.validator_value:
            if isinstance(value, dict) and key not in value:
                yield doc.diagnostic(path, f"missing required key {key!r}", f"add `{key}:` here")
    elif keyword == "pattern":
        yield doc.diagnostic(path, f"{value!r} is not of the expected form", _form_hint(subschema))
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than", "exclusiveMaximum": "less than"}[keyword]
        described = str(subschema.get("description", ""))
        hint = _range_hint(keyword, error.validator_value) or (described if len(described) <= 240 else "")
        yield doc.diagnostic(path, f"{value!r} is out of range: must be {relation} {error.validator_value}", hint)
    elif keyword in ("minLength", "maxLength"):
        relation = "at least" if keyword == "minLength" else "at most"
        yield doc.diagnostic(path, f"must be {relation} {error.validator_value} characters long (is {len(value)})")
    elif keyword == "$ref" or keyword == "allOf":
        for child in error.context or ():
            yield from _explain(doc, root, child)
    else:
        yield doc.diagnostic(path, error.message)


def _stack_wide_key(root: Mapping[str, Any], path: JsonPath, key: str) -> str:
    """`section.key` (dotted) when `path` + `key` is an environment override of a key the stack
    accepts only at its top level (a compile-time key), else ""."""
    if len(path) < 2 or path[0] != "environments" or any(isinstance(part, int) for part in path):
        return ""
    keys = [*path[2:], key]
    node: Mapping[str, Any] = root
    for part in keys:
        child = properties(root, node).get(str(part))
        if child is None:
            return ""
        node = child
    return ".".join(str(part) for part in keys)


def _form_hint(subschema: Mapping[str, Any]) -> str:
    """What a value of `subschema` looks like: its description and an example, never a bare regex."""
    examples = subschema.get("examples") or ()
    example = f"for example {examples[0]}" if examples and isinstance(examples[0], str) else ""
    text = str(subschema.get("description", "")).rstrip().rstrip(".")
    if not text:
        return example or f"must match the regular expression {subschema.get('pattern', '')}"
    return f"{text}; {example}" if example else f"{text}."


def _name_hint(key: str, names: Mapping[str, Any]) -> str:
    """What a key must look like, and the nearest allowed spelling of `key` when there is one."""
    pattern = names.get("pattern")
    hint = _form_hint(names)
    if pattern:
        lowered = key.lower()
        for candidate in (lowered, re.sub(r"[^a-z0-9-]+", "-", lowered).strip("-"), re.sub(r"[^A-Za-z0-9_.-]+", "-", key).strip("-")):
            if candidate and candidate != key and re.search(pattern, candidate):
                return f"did you mean {candidate!r}? {hint}"
    return hint


# Where the schema bounds an integer by what its readers hold rather than by its meaning.
_INT32_MAX = 2**31 - 1
_EXACT_MAX = 2**53 - 1


def _range_hint(keyword: str, bound: object) -> str:
    """Why an integer's upper bound is what it is, where it is a reader's limit."""
    if keyword != "maximum":
        return ""
    if bound == _EXACT_MAX:
        return "Helm and kustomize read numbers as 64-bit floats, exact only up to 2^53 - 1; a larger value would change on its way to the cluster"
    if bound == _INT32_MAX:
        return "the Kubernetes field is a 32-bit integer"
    return ""


def _did_you_mean(word: str, options: list[str], noun: str = "keys") -> str:
    """A "did you mean X?" for the option closest to `word`, else every option (allowed keys or values)."""
    lowered = {option.lower(): option for option in options}
    match = lowered.get(word.lower().replace("_", "").replace("-", "")) or lowered.get(word.lower())
    if match is None:
        import difflib  # only to explain a rejected stack

        close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
        match = close[0] if close else None
    if match is not None:
        return f"did you mean {match!r}?"
    if options:
        return f"allowed {noun}: " + ", ".join(options)
    return ""


def _expected(types: str | list[str]) -> str:
    if isinstance(types, str):
        return _TYPE_NAMES.get(types, types)
    return " or ".join(_TYPE_NAMES.get(kind, kind) for kind in types)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _secret_hint(schema: Mapping[str, Any], value: Any) -> str:
    """A credential written inline where a Secret reference belongs."""
    if isinstance(value, (str, int)) and set(schema.get("required", ())) == {"secretName", "key"}:
        return "credentials never go into the stack: name the key of a Secret, `{secretName: ..., key: ...}`; kmc mounts it as a file"
    return ""


def _type_hint(doc: Document, path: JsonPath, expected: str | list[str]) -> str:
    scalar = doc.scalars.get(path)
    wanted = [expected] if isinstance(expected, str) else expected
    if scalar is None:
        return ""
    if "string" in wanted and not scalar.quoted:
        if scalar.text == "":
            return "the value is empty; write it after the colon"
        return f'YAML reads the unquoted `{scalar.text}` as {_describe(_plain(doc, path))}; quote it: "{scalar.text}"'
    if scalar.quoted and ({"integer", "number", "boolean"} & set(wanted)):
        return f"remove the quotes: {scalar.text}"
    if "integer" in wanted:
        return "write a whole number, e.g. 2"
    if "boolean" in wanted:
        return "write true or false"
    return ""


def _plain(doc: Document, path: JsonPath) -> Any:
    node: Any = doc.data
    for part in path:
        node = node[part]
    return node
