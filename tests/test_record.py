"""kmc.record behaves as the frozen dataclasses it replaces on the build path."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from kmc.errors import Diagnostic
from kmc.record import field, fields, record, replace


@record
class Point:
    x: int
    y: int = 0
    label: str = field(default="", compare=False)


@dataclasses.dataclass(frozen=True)
class DataPoint:
    x: int
    y: int = 0
    label: str = dataclasses.field(default="", compare=False)


CALLS = [((1,), {}), ((1, 2), {}), ((), {"x": 1}), ((1,), {"y": 2, "label": "a"}), ((1, 2, "b"), {})]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_construction_equality_hash_and_repr_match_a_dataclass(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    ours, theirs = Point(*args, **kwargs), DataPoint(*args, **kwargs)  # type: ignore[arg-type]
    assert [getattr(ours, name) for name in fields(ours)] == [getattr(theirs, field.name) for field in dataclasses.fields(theirs)]
    assert repr(ours).replace("Point", "DataPoint", 1) == repr(theirs)
    assert ours == Point(ours.x, ours.y, "another label")  # label is not compared
    assert hash(ours) == hash(Point(ours.x, ours.y, "another label"))
    assert ours != Point(ours.x + 1, ours.y)
    assert ours != theirs  # another class: never equal


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing argument 'x'"),
        ((1, 2, "a", 4), {}, "takes 3 arguments, 4 given"),
        ((1,), {"x": 2}, "unexpected or repeated argument 'x'"),
        ((1,), {"z": 2}, "unexpected or repeated argument 'z'"),
    ],
)
def test_bad_calls_raise_type_error(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)  # type: ignore[arg-type]


def test_records_are_frozen_and_replace_copies() -> None:
    point = Point(1, 2, "a")
    with pytest.raises(AttributeError, match="frozen"):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del point.y  # type: ignore[misc]
    moved = replace(point, y=5)
    assert (moved.x, moved.y, moved.label, point.y) == (1, 5, "a", 2)
    assert copy.deepcopy(point) == point
    assert pickle.loads(pickle.dumps(point)) == point


def test_order_compares_the_compared_fields_in_declaration_order() -> None:
    first = Diagnostic("a.yaml", 1, 5, "$.a", "m", source_line="zzz")
    second = Diagnostic("a.yaml", 2, 1, "$.b", "m", source_line="aaa")
    assert sorted([second, first]) == [first, second]
    assert first < second <= second and second > first >= first
    with pytest.raises(TypeError):
        _ = first < Point(1)  # type: ignore[operator]
