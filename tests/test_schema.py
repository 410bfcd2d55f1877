"""The schema is the contract: valid 2020-12, strict, described, with examples and defaults that validate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from kmc.check.schema import load_schema
from kmc.model import PARAMETER_SECTIONS, Stack

SCHEMA = load_schema()
ROOT = Path(__file__).resolve().parents[1]


def _properties(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, property schema) below `node`, including inside $defs."""
    if isinstance(node, dict):
        for name, child in node.get("properties", {}).items():
            yield f"{path}.{name}", child
        for key, child in node.items():
            if key == "properties":
                for name, grandchild in child.items():
                    yield from _properties(grandchild, f"{path}.{name}")
            elif key in ("$defs", "items", "additionalProperties"):
                children = child.items() if key == "$defs" else [(key, child)]
                for name, grandchild in children:
                    yield from _properties(grandchild, f"{path}/{name}")


def _object_schemas(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "properties" in node:
            yield path, node
        for key, child in node.items():
            yield from _object_schemas(child, f"{path}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _object_schemas(child, f"{path}[{index}]")


def _against_root(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "$defs": SCHEMA["$defs"]})


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_every_property_has_a_description_and_an_example() -> None:
    missing = [path for path, prop in _properties(SCHEMA) if "description" not in prop or not prop.get("examples")]
    assert not missing, missing


def test_every_object_is_closed() -> None:
    fragments = {f"$/$defs/{section}Parameters" for section in PARAMETER_SECTIONS}
    # A Kubernetes object of the user's (`extraObjects`) is open by nature: kmc checks it itself
    # (kmc.check.extra_objects) and the tests judge it with Kubernetes' own schemas.
    open_by_nature = {"$/$defs/extraObject"}
    open_objects = [
        path
        for path, node in _object_schemas(SCHEMA)
        if node.get("additionalProperties") is not False and node.get("unevaluatedProperties") is not False and path not in fragments | open_by_nature
    ]
    assert not open_objects


def test_parameter_fragments_are_only_used_closed() -> None:
    """Fragments leave additionalProperties open so they can be combined; every use closes them."""
    text = (ROOT / "schema/stack.schema.json").read_text()
    for name in ("prometheusParameters", "nodeExporterParameters", "kubeStateMetricsParameters", "grafanaParameters", "alertmanagerParameters"):
        assert text.count(f'"#/$defs/{name}"') == 2
    for section in PARAMETER_SECTIONS:
        assert SCHEMA["properties"][section]["unevaluatedProperties"] is False
        assert SCHEMA["$defs"]["environment"]["properties"][section]["unevaluatedProperties"] is False


@pytest.mark.parametrize(("path", "prop"), list(_properties(SCHEMA)), ids=lambda value: value if isinstance(value, str) else "")
def test_examples_and_default_validate(path: str, prop: dict[str, Any]) -> None:
    validator = _against_root(prop)
    for example in prop.get("examples", []):
        assert not list(validator.iter_errors(example)), f"{path}: example {example!r} is invalid"
    if "default" in prop:
        assert not list(validator.iter_errors(prop["default"])), f"{path}: default {prop['default']!r} is invalid"


def test_parameter_sections_match_the_fragments() -> None:
    for section, keys in PARAMETER_SECTIONS.items():
        fragment = SCHEMA["$defs"][f"{section}Parameters"]
        assert tuple(fragment["properties"]) == keys


def test_defaults_reach_the_model() -> None:
    stack = Stack.from_data(SCHEMA, {"version": 1})
    assert stack.namespace == "monitoring"
    assert stack.parameters["prometheus"]["image"] == SCHEMA["$defs"]["prometheusParameters"]["properties"]["image"]["default"]
    assert stack.parameters["nodeExporter"]["tolerations"] == SCHEMA["$defs"]["nodeExporterParameters"]["properties"]["tolerations"]["default"]
    assert stack.scrape.kubernetes.kubelet.enabled is True
    assert stack.scrape.kubernetes.etcd.enabled is False
    assert stack.prometheus.external_labels == {"cluster": "kubernetes"}


def test_environment_overrides_get_no_defaults() -> None:
    stack = Stack.from_data(SCHEMA, {"version": 1, "prometheus": {"replicas": 3}, "environments": {"dev": {"prometheus": {"retention": "1d"}}}})
    assert stack.environments["dev"] == {"prometheus": {"retention": "1d"}}
    assert stack.values("dev")["prometheus"]["replicas"] == 3


def test_every_stack_in_the_repo_validates() -> None:
    validator = Draft202012Validator(SCHEMA)
    import yaml

    stacks = [ROOT / "stack.yaml", ROOT / "library/starter-stack.yaml", *ROOT.glob("golden/*/stack.yaml")]
    for path in stacks:
        assert not list(validator.iter_errors(yaml.safe_load(path.read_text()))), path


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("password", True),
        ("tls.crt", True),
        (".hidden", True),
        ("a..b", True),
        ("_", True),
        (".", False),
        ("..", False),
        ("..data", False),
        ("a/b", False),
        ("", False),
    ],
)
def test_secret_keys_are_what_kubernetes_accepts(key: str, valid: bool) -> None:
    """Kubernetes refuses the Secret keys `.` and `..` and those starting with `..` (apimachinery's
    IsConfigMapKey; the kubelet's atomic writer keeps `..` names for itself)."""
    assert _against_root({"$ref": "#/$defs/secretKey"}).is_valid(key) is valid
