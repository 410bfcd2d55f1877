"""The object graph's own rules, which every emitter relies on."""

from __future__ import annotations

import pytest

from kmc.ir import Join, KObject, ObjectGraph, Param, is_empty, resolve


def config_map(data: object) -> KObject:
    return KObject({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}, "data": data}, "test")


def test_a_parameter_inside_a_config_map_is_refused() -> None:
    """Checksum annotations are computed at compile time: a value that feeds a ConfigMap would not roll the pods."""
    with pytest.raises(ValueError, match="checksum annotation would go stale"):
        ObjectGraph.of([config_map({"a": Join(("x=", Param("p.q")))})])
    assert ObjectGraph.of([config_map({"a": "literal"})]).objects


def test_omit_empty_follows_helm_with() -> None:
    """What `{{ with }}` skips in the chart is what the manifests omit."""
    assert all(is_empty(value) for value in (None, False, 0, 0.0, "", {}, []))
    assert not any(is_empty(value) for value in (True, 1, "0", " ", {"a": 1}, [0]))
    body = {"a": Param("v.a", omit_empty=True), "b": Param("v.b", omit_empty=True)}
    assert resolve(body, {"v": {"a": "", "b": "x"}}) == {"b": "x"}


def test_join_prints_values_as_go_does() -> None:
    assert resolve(Join(("--flag=", Param("v"))), {"v": True}) == "--flag=true"
    assert resolve(Join(("n=", Param("v"))), {"v": 30090}) == "n=30090"
