"""The object graph's own rules, which every emitter relies on."""

from __future__ import annotations

import pytest

from kmc.ir import Join, KObject, ObjectGraph, Param, Switch, Text, condition_paths, equals, holds, is_empty, resolve, sectioned
from kmc.text import yaml_text


def config_map(data: object) -> KObject:
    return KObject({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}, "data": data}, "test")


def rolled_deployment(annotations: dict[str, str]) -> KObject:
    template = {"metadata": {"annotations": annotations}, "spec": {"volumes": [{"name": "config", "configMap": {"name": "c"}}]}}
    return KObject({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}, "spec": {"template": template}}, "test")


def test_a_parameter_inside_a_config_map_that_rolls_pods_is_refused() -> None:
    """Checksum annotations are computed at compile time: a value that feeds a ConfigMap they cover would not roll the pods."""
    with pytest.raises(ValueError, match="checksum annotation would go stale"):
        ObjectGraph.of([config_map({"a": Join(("x=", Param("p.q")))}), rolled_deployment({"checksum/config": "0"})])
    assert ObjectGraph.of([config_map({"a": "literal"}), rolled_deployment({"checksum/config": "0"})]).objects
    # Pods that reload what they mount carry no checksum: the ConfigMap may follow the environment.
    assert ObjectGraph.of([config_map({"a": Join(("x=", Param("p.q")))}), rolled_deployment({})]).objects


def test_a_sectioned_text_is_the_whole_dump_where_every_switch_is_on() -> None:
    data = {"global": {"a": 1}, "jobs": [{"name": "x", "s": [1, 2]}, {"name": "y", "t": "a\nb\n"}, {"name": "z"}], "after": [{"url": "u"}]}
    text = yaml_text.dump_sectioned(data, "jobs", [None, "y.enabled", "z.enabled"])
    assert isinstance(text, Text)
    assert resolve(text, {"y": {"enabled": True}, "z": {"enabled": True}}) == yaml_text.dump(data)
    without_y = {**data, "jobs": [data["jobs"][0], data["jobs"][2]]}
    assert resolve(text, {"y": {"enabled": False}, "z": {"enabled": True}}) == yaml_text.dump(without_y)
    assert yaml_text.dump_sectioned(data, "jobs", [None, None, None]) == yaml_text.dump(data), "no switch: plain text"
    every = yaml_text.dump_sectioned(data, "jobs", ["p.on", "p.on", "p.on"])
    assert resolve(every, {"p": {"on": False}}) == yaml_text.dump({**data, "jobs": []}), "none left: an empty list, not null"
    assert resolve(every, {"p": {"on": True}}) == yaml_text.dump(data)


def test_sections_are_whole_lines() -> None:
    with pytest.raises(AssertionError, match="whole lines"):
        sectioned(["a\n", Switch("p", on="b", off="")])


def test_omit_empty_follows_helm_with() -> None:
    """What `{{ with }}` skips in the chart is what the manifests omit."""
    assert all(is_empty(value) for value in (None, False, 0, 0.0, "", {}, []))
    assert not any(is_empty(value) for value in (True, 1, "0", " ", {"a": 1}, [0]))
    body = {"a": Param("v.a", omit_empty=True), "b": Param("v.b", omit_empty=True)}
    assert resolve(body, {"v": {"a": "", "b": "x"}}) == {"b": "x"}


def test_join_prints_values_as_go_does() -> None:
    assert resolve(Join(("--flag=", Param("v"))), {"v": True}) == "--flag=true"
    assert resolve(Join(("n=", Param("v"))), {"v": 30090}) == "n=30090"


def test_an_equality_condition_reads_a_map_entry_over_its_fallback() -> None:
    used = equals("ingest.default", "used", entry=("ingest.jobs", "kube-state-metrics"))
    assert used == "ingest.jobs[kube-state-metrics]|ingest.default=used"
    assert condition_paths(used) == ("ingest.jobs", "ingest.default")
    assert holds({"ingest": {"default": "used", "jobs": {}}}, used)
    assert not holds({"ingest": {"default": "all", "jobs": {}}}, used)
    assert holds({"ingest": {"default": "all", "jobs": {"kube-state-metrics": "used"}}}, used)
    assert not holds({"ingest": {"default": "used", "jobs": {"kube-state-metrics": "all"}}}, used)
    assert holds({"ingest": {"default": "used"}}, used)  # no map: the fallback
    assert holds({"mode": "on"}, "mode=on") and not holds({"mode": "off"}, "mode=on")


def test_conditions_joined_by_and_must_all_hold() -> None:
    both = "x.enabled&mode=used"
    assert condition_paths(both) == ("x.enabled", "mode")
    assert holds({"x": {"enabled": True}, "mode": "used"}, both)
    assert not holds({"x": {"enabled": False}, "mode": "used"}, both)
    assert not holds({"x": {"enabled": True}, "mode": "all"}, both)
    text = sectioned(["a\n", Switch(both, on="b\n", off="c\n")])
    assert resolve(text, {"x": {"enabled": True}, "mode": "used"}) == "a\nb\n"
    assert resolve(text, {"x": {"enabled": True}, "mode": "all"}) == "a\nc\n"


def test_a_map_entry_without_a_fallback_and_a_negated_term() -> None:
    used = equals(None, "used", entry=("ingest.jobs", "kubernetes-pods"))
    assert used == "ingest.jobs[kubernetes-pods]=used" and condition_paths(used) == ("ingest.jobs",)
    assert holds({"ingest": {"jobs": {"kubernetes-pods": "used"}}}, used)
    assert not holds({"ingest": {"default": "used", "jobs": {}}}, used)  # only the entry is read
    assert holds({"ingest": {"jobs": {}}}, "!" + used) and condition_paths("x.on&!" + used) == ("x.on", "ingest.jobs")
    assert not holds({"ingest": {"jobs": {"kubernetes-pods": "used"}}, "x": {"on": True}}, "x.on&!" + used)
