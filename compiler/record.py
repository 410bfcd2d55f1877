"""Frozen value classes for the build's hot path: `@record` where one would write `@dataclasses.dataclass(frozen=True)`.

`dataclasses` imports `inspect` (~15 ms) and compiles each class's methods with `exec` (~0.8 ms a
class; ~25 ms for the stack model alone): together a sixth of a `kmc build`. A record gets the
same behaviour from methods shared by every record class: construction by position or keyword
with defaults, read-only attributes, equality and hash over the compared fields (`order=True`
adds `<`, `<=`, `>`, `>=`), a dataclass-style repr, and `replace`. Type checkers treat a record
as a frozen dataclass (PEP 681's `dataclass_transform`).
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False  # not typing's: records are on the lock's fast path, which typing would cost ~4 ms
if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform, overload

    _T = TypeVar("_T")


class _Field:
    __slots__ = ("compare", "default")

    def __init__(self, default: Any, compare: bool) -> None:
        self.default, self.compare = default, compare


def field(*, default: Any, compare: bool = True) -> Any:
    """A field's default, and whether it takes part in equality, hash and order."""
    return _Field(default, compare)


def fields(value: object) -> tuple[str, ...]:
    """The field names of a record (class or instance), in declaration order."""
    names: tuple[str, ...] = type.__getattribute__(value if isinstance(value, type) else type(value), "_record_fields")
    return names


def replace(value: _T, **changes: Any) -> _T:
    """A copy of the record `value` with `changes` applied."""
    return type(value)(**{name: getattr(value, name) for name in fields(value)} | changes)


def _record(cls: type[_T] | None = None, /, *, order: bool = False) -> Any:
    """Make `cls` a frozen record of its annotated fields (see the module docstring)."""

    def make(cls: type[_T]) -> type[_T]:
        names = tuple(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063 - not inspect: its import is what records avoid
        defaults: dict[str, Any] = {}
        compared = []
        for name in names:
            declared = cls.__dict__.get(name, _MISSING)
            spec = declared if isinstance(declared, _Field) else _Field(declared, compare=True)
            if spec.default is not _MISSING:
                defaults[name] = spec.default
                setattr(cls, name, spec.default)
            if spec.compare:
                compared.append(name)
        namespace: dict[str, Any] = {
            "_record_fields": names,
            "_record_defaults": defaults,
            "_record_compared": tuple(compared),
            "__init__": _initializer(cls, names, defaults),
            "__setattr__": _frozen,
            "__delattr__": _frozen,
            "__eq__": _eq,
            "__hash__": _hash,
            "__repr__": _repr,
        }
        if order:
            namespace |= {"__lt__": _lt, "__le__": _le, "__gt__": _gt, "__ge__": _ge}
        for attribute, value in namespace.items():
            setattr(cls, attribute, value)
        return cls

    return make if cls is None else make(cls)


if TYPE_CHECKING:

    @overload
    def record(cls: type[_T], /) -> type[_T]: ...
    @overload
    def record(*, order: bool = False) -> Callable[[type[_T]], type[_T]]: ...
    @dataclass_transform(frozen_default=True, field_specifiers=(field,))
    def record(cls: type[_T] | None = None, /, *, order: bool = False) -> Any: ...

else:
    record = _record


_MISSING = object()


def _initializer(cls: type, names: tuple[str, ...], defaults: dict[str, Any]) -> Callable[..., None]:
    count = len(names)
    required = count
    while required and names[required - 1] in defaults:
        required -= 1
    # For a call giving the first `given` fields by position: the defaults of the others.
    tails = {given: {name: defaults[name] for name in names[given:]} for given in range(required, count)}

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if not kwargs and len(args) == count:  # the common call: every field by position
            self.__dict__.update(zip(names, args, strict=True))
        elif not kwargs and len(args) in tails:  # the next: the leading fields by position, defaults after
            self.__dict__.update(zip(names, args, strict=False))
            self.__dict__.update(tails[len(args)])
        else:
            self.__dict__.update(_bound(cls, names, defaults, args, kwargs))

    return __init__


def _bound(cls: type, names: tuple[str, ...], defaults: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Each field's value from a call's arguments, in field order."""
    if len(args) > len(names):
        raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, {len(args)} given")
    values = dict(zip(names, args, strict=False))
    for name, value in kwargs.items():
        if name not in names or name in values:
            raise TypeError(f"{cls.__name__}() got an unexpected or repeated argument {name!r}")
        values[name] = value
    for name in names:
        if name not in values and name not in defaults:
            raise TypeError(f"{cls.__name__}() missing argument {name!r}")
    return {name: values[name] if name in values else defaults[name] for name in names}


def _frozen(self: Any, name: str, *_: Any) -> None:
    raise AttributeError(f"cannot change field {name!r} of a {type(self).__name__}: records are frozen")


def _key(value: Any) -> tuple[Any, ...]:
    return tuple(getattr(value, name) for name in type(value)._record_compared)


def _eq(self: Any, other: Any) -> Any:
    return _key(self) == _key(other) if other.__class__ is self.__class__ else NotImplemented


def _hash(self: Any) -> int:
    return hash(_key(self))


def _repr(self: Any) -> str:
    return f"{type(self).__qualname__}({', '.join(f'{name}={getattr(self, name)!r}' for name in type(self)._record_fields)})"


def _lt(self: Any, other: Any) -> Any:
    return _key(self) < _key(other) if other.__class__ is self.__class__ else NotImplemented


def _le(self: Any, other: Any) -> Any:
    return _key(self) <= _key(other) if other.__class__ is self.__class__ else NotImplemented


def _gt(self: Any, other: Any) -> Any:
    return _key(self) > _key(other) if other.__class__ is self.__class__ else NotImplemented


def _ge(self: Any, other: Any) -> Any:
    return _key(self) >= _key(other) if other.__class__ is self.__class__ else NotImplemented
