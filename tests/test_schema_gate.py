"""The fast schema gate agrees with jsonschema, and knows every keyword the schema uses."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, validators
from jsonschema.protocols import Validator

from kmc.check.schema import load_schema
from kmc.check.schema_gate import ANNOTATIONS, ASSERTIONS, is_valid

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = load_schema()
JSONSCHEMA = Draft202012Validator(SCHEMA)
FULL = yaml.safe_load((ROOT / "golden/full/stack.yaml").read_text())


def _keywords(schema: Any) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    for keyword, value in schema.items():
        yield keyword
        if keyword in ("properties", "$defs"):
            for child in value.values():
                yield from _keywords(child)
        elif keyword in ("items", "additionalProperties", "propertyNames"):
            yield from _keywords(value)


def test_gate_knows_every_keyword_of_the_schema() -> None:
    assert set(_keywords(SCHEMA)) <= ANNOTATIONS | ASSERTIONS


def test_gate_agrees_on_every_stack_in_the_repo() -> None:
    paths = [ROOT / "stack.yaml", *ROOT.glob("golden/*/stack.yaml"), *ROOT.glob("golden/invalid/*/stack.yaml")]
    for path in paths:
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            continue
        assert is_valid(SCHEMA, data) == JSONSCHEMA.is_valid(data), path


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*here, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*here, index))


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "30s", "1.33", "NodePort", "monitoring", "Bad_Name", "50Gi", "true", "x:y", "^/"]),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["enabled", "size", "type", "bogus", "job_name"]), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_gate_agrees_with_jsonschema_on_mutated_stacks(data: st.DataObject) -> None:
    doc = FULL
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(doc))))
        if not path:
            continue
        doc, parent = _copied_down(doc, path[:-1])
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["bogus", "enabled", "size", "nodePort", "retention"]))] = data.draw(VALUES)
        else:
            parent[path[-1]] = data.draw(VALUES)
    assert is_valid(SCHEMA, doc) == _remembering_validator().is_valid(doc)


def _copied_down(doc: Any, path: tuple[Any, ...]) -> tuple[Any, Any]:
    """A copy of `doc` with new containers down to the one at `path` (returned too, to be changed); the rest shared."""
    top = parent = _shallow(doc)
    for part in path:
        parent[part] = _shallow(parent[part])
        parent = parent[part]
    return top, parent


def _shallow(container: Any) -> Any:
    return dict(container) if isinstance(container, dict) else list(container)


BOUNDARY = [-1, 0, 1, 2, 11, 29999, 30090, 65536, 1.5, "x", "", "NodePort", True, None, {}, [], {"bogus": 1}, ["x"]]


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    """`doc` with `value` at `path`: new containers along the path, everything else shared with `doc`."""
    copied, parent = _copied_down(doc, path[:-1])
    parent[path[-1]] = value
    return copied


@functools.cache
def _remembering_validator() -> Validator:
    """jsonschema's own 2020-12 validator, remembering which keyword passed on which part of FULL.

    A keyword's errors depend only on its schema node and the instance (this schema has one base
    URI and no `$dynamicRef`), and FULL's containers are never changed (`_replaced` copies the
    path it changes). So a keyword that passed once on a container of FULL passes on it again: a
    mutated stack costs jsonschema the path from the root to the change, not the whole stack.
    The every-path test checks it against plain jsonschema on a spread of stacks.
    """
    full_containers = {id(node) for node in _containers(FULL)}
    passed: set[tuple[str, int, int]] = set()

    def remembering(keyword: str, check: Any) -> Any:
        def remembered(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
            key = (keyword, id(schema), id(instance))
            if key in passed:
                return
            failed = False
            for error in check(validator, value, instance, schema):
                failed = True
                yield error
            if not failed and id(instance) in full_containers:
                passed.add(key)

        return remembered

    checks = {keyword: remembering(keyword, check) for keyword, check in Draft202012Validator.VALIDATORS.items()}
    validator = validators.extend(Draft202012Validator, checks)(SCHEMA)
    assert validator.is_valid(FULL)
    return validator


def _containers(value: Any) -> Iterator[Any]:
    if isinstance(value, (dict, list)):
        yield value
        for child in value.values() if isinstance(value, dict) else value:
            yield from _containers(child)


def test_gate_agrees_with_jsonschema_on_every_path_and_boundary_value() -> None:
    remembering = _remembering_validator()
    cases = [(path, value) for path in list(_paths(FULL))[1:] for value in BOUNDARY]
    for index, (path, value) in enumerate(cases):
        doc = _replaced(FULL, path, value)
        expected = remembering.is_valid(doc)
        assert is_valid(SCHEMA, doc) == expected, (path, value)
        if index % 97 == 0:  # the memory changes no verdict: jsonschema alone agrees on a spread of cases
            assert JSONSCHEMA.is_valid(doc) == expected, (path, value)


def test_gate_counts_the_most_keys_an_object_may_have() -> None:
    """An extra volume is its name and exactly one source: two sources is refused by both."""
    both = {**FULL, "prometheus": {**FULL["prometheus"], "extraVolumes": [{"name": "x", "emptyDir": {}, "secret": {"secretName": "s"}}]}}
    assert not JSONSCHEMA.is_valid(both)
    assert not is_valid(SCHEMA, both, SCHEMA)
