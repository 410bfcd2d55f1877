"""`kmc explain KEY.PATH`: what the schema says about a key of stack.yaml, for people."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from kmc import platforms, schema_refs
from kmc.errors import UsageError
from kmc.model import STACK_ONLY_PARAMETERS

Schema = Mapping[str, Any]


def _children(root: Schema, node: Schema) -> dict[str, Schema]:
    resolved = schema_refs.resolved(root, node)
    if resolved.get("type") == "array" and isinstance(resolved.get("items"), Mapping):
        return _children(root, resolved["items"])
    children = dict(schema_refs.properties(root, node))  # the fragment's properties and the node's own
    if isinstance(resolved.get("additionalProperties"), Mapping):
        children["<name>"] = resolved["additionalProperties"]
    return children


def lookup(root: Schema, path: str) -> Schema:
    node: Schema = root
    walked: list[str] = []
    for key in [part for part in path.split(".") if part]:
        children = _children(root, node)
        if key not in children:
            if "<name>" in children:
                key = "<name>"
            else:
                near = difflib.get_close_matches(key, children, n=1)
                where = ".".join(walked) or "the top level"
                hint = f"; did you mean {'.'.join([*walked, near[0]])}?" if near else (f"; {where} has: {', '.join(sorted(children))}" if children else "")
                raise UsageError(f"stack.yaml has no key {'.'.join([*walked, key])}{hint}")
        node = children[key]
        walked.append(key)
    return node


def paths(root: Schema, node: Schema | None = None, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Every key path of the schema (for shell completion), `<name>` for free-form names."""
    if depth > 8:
        return
    for key, child in sorted(_children(root, node if node is not None else root).items()):
        path = f"{prefix}{key}"
        yield path
        yield from paths(root, child, path + ".", depth + 1)


def _type(root: Schema, node: Schema) -> str:
    node = schema_refs.resolved(root, node)
    if "enum" in node:
        return "one of " + ", ".join(json.dumps(value) for value in node["enum"])
    kind = node.get("type", "any")
    if kind == "array" and isinstance(node.get("items"), Mapping):
        return f"list of {_type(root, node['items'])}"
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _platform_defaults(path: str) -> list[str]:
    """Where a platform (`cluster.platform`) sets the key's default instead: the platforms with
    the same value and reason on one line; for `cluster.platform` itself, the keys each sets."""
    if path == "cluster.platform":
        lines = ["  what each platform sets (a key the stack writes wins):"]
        for platform in platforms.PLATFORMS:
            keys = ", ".join(dict.fromkeys(default.path for default in platforms.preset(platform))) or "nothing: kmc's own defaults"
            lines.append(f"    {platform}: {keys}")
        return lines
    grouped: dict[tuple[str, str], list[str]] = {}
    for platform, default in platforms.defaults_of(path):
        grouped.setdefault((json.dumps(default.fresh(), sort_keys=True), default.why), []).append(platform)
    if not grouped:
        return []
    lines = ["  platform defaults (cluster.platform; a value the stack writes wins):"]
    lines += [f"    {', '.join(names)}: {value} ({why})" for (value, why), names in grouped.items()]
    return lines


_ABBREVIATIONS = ("e.g", "i.e", "etc", "vs", "cf")


def first_sentence(text: str) -> str:
    """The first sentence of a description, without its full stop: it ends at a ". " outside
    parentheses and `code`, and not after an abbreviation such as "e.g."."""
    depth, code = 0, False
    for index, char in enumerate(text):
        if char == "`":
            code = not code
        elif not code and char in "([{":
            depth += 1
        elif not code and char in ")]}":
            depth = max(0, depth - 1)
        elif char == "." and not code and depth == 0 and text[index + 1 : index + 2] in (" ", "\n"):
            if text[index - 1 : index] == ".":
                return text[: index + 1]  # an ellipsis ends it, and stays
            words = text[:index].split()
            if not words or words[-1].lower().lstrip("(") not in _ABBREVIATIONS:
                return text[:index]
    return text.rstrip().rstrip(".")


def explain(root: Schema, path: str) -> str:
    node = lookup(root, path)
    merged = schema_refs.resolved(root, node)
    lines = [f"{path or '(stack.yaml)'}: {_type(root, node)}"]
    descriptions = [str(text) for text in (node.get("description"), merged.get("description")) if text]
    for text in dict.fromkeys(descriptions):
        lines.append(f"  {text}")
    if "default" in merged:
        lines.append(f"  default: {json.dumps(merged['default'], sort_keys=True)}")
    lines += _platform_defaults(path)
    for example in merged.get("examples", [])[:2]:
        lines.append(f"  example: {json.dumps(example, sort_keys=True)}")
    for keyword in ("pattern", "minimum", "maximum", "minLength", "maxLength"):
        if keyword in merged:
            value = merged[keyword].replace("(?!\\n)$", "$") if keyword == "pattern" else merged[keyword]
            lines.append(f"  {keyword}: {value}")
    section = path.split(".", 1)[0]
    if section in root.get("$defs", {}).get("environment", {}).get("properties", {}) and "." in path:
        parameters = schema_refs.properties(root, schema_refs.resolve(root, f"#/$defs/{section}Parameters"))
        if any(path == key or path.startswith(key + ".") for key in STACK_ONLY_PARAMETERS):
            lines.append("  the stack's own value: the same in every environment, compiled into the output")
        elif path.split(".")[1] in parameters:
            lines.append("  deploy-time parameter: environments may override it; a value of the Helm chart")
    children = _children(root, node)
    if children:
        lines.append("  keys:")
        width = max(len(key) for key in children)
        for key, child in sorted(children.items()):
            summary = first_sentence(str(child.get("description") or schema_refs.resolved(root, child).get("description") or ""))
            lines.append(f"    {key:<{width}}  {summary}")
    return "\n".join(lines) + "\n"
