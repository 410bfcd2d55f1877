"""What kmc derives from its own code and data alone, kept between runs as Python keeps bytecode.

Each build of golden/full used to derive the same things again, whatever the stack said: the
programs of ~60 regular expressions of kmc's code and schema (`re` parses and compiles a pattern
in Python, 0.05 to 0.5 ms each, ~6 ms in all), the rule library read from its YAML (~3 ms), the
schema read from its JSON (~2 ms) and the library dashboards with the datasources each refers to
(~1.5 ms). They are kept in one marshal file in the user's cache
directory (`$XDG_CACHE_HOME/kmc`, else `~/.cache/kmc`), one file per place kmc is installed and
interpreter: read whole (~1 ms) when a run first needs it, rewritten at the end of a run that
derived something the file did not hold. (Not beside kmc's bytecode: `pip uninstall` would leave
it behind, and with it a `kmc` directory that imports as an empty namespace package.)

Like a .pyc it is a cache and nothing more:
- it is used only when it names this interpreter (its version, sre's magic number and code size)
  and these very kmc files (`kmc.resources.shipped_files`); anything else is as if it were absent;
- it is never written where Python would not write bytecode (PYTHONDONTWRITEBYTECODE, `-B`) or
  where kmc may not write, and it is replaced atomically, so two runs never see half a file;
- without it kmc builds the same bytes, only slower;
- only kmc's own patterns go through it: a pattern from a stack (relabel rules, adapter rules)
  is compiled by `re`, so what the file holds never depends on what was built.

A pattern is kept as the program `re.compile` hands to sre: `re._parser` and `re._compiler` are
the pure-Python half of `re.compile`, `_sre.compile` its C half. Anything unexpected there (another
Python's internals) falls back to `re.compile`. tests/test_derived.py holds every pattern kmc
compiles through here equal (`==`, which compares the programs) to `re.compile`'s.
"""

from __future__ import annotations

import _sre  # type: ignore[import-not-found]  # re's C half, loaded with re
import marshal
import os
import re
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs a build ~4 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_FORMAT = 1


class _State:
    """The file's contents once read, and whether this run added to them."""

    def __init__(self) -> None:
        self.loaded = False
        self.programs: dict[tuple[str, int], tuple[Any, ...]] = {}
        self.values: dict[str, Any] = {}
        self.changed = False


_state = _State()


def path() -> str | None:
    """This installation's file in the user's cache directory; None without a home to put it in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, or relative (which the XDG spec says to ignore)
        base = os.path.join(os.path.expanduser("~"), ".cache")
        if not os.path.isabs(base):
            return None
    import binascii

    # One file per place kmc is installed (a venv, a checkout), so that upgrading or editing kmc
    # there replaces its file rather than adding one; the header tells whether it is current.
    installation = binascii.crc32(os.path.dirname(os.path.realpath(__file__)).encode())
    return os.path.join(base, "kmc", f"derived-{sys.implementation.cache_tag}-{installation:08x}.bin")


def _header() -> tuple[Any, ...]:
    from kmc.resources import shipped_files

    return (_FORMAT, sys.version, _sre.MAGIC, _sre.CODESIZE, shipped_files())


def _load() -> None:
    _state.loaded = True
    where = path()
    if where is None:
        return
    try:
        with open(where, "rb") as file:
            content = marshal.loads(file.read())
    except (OSError, ValueError, EOFError, TypeError):
        return  # absent, or not a marshal file this Python reads
    if type(content) is tuple and len(content) == 3 and content[0] == _header():
        _state.programs, _state.values = content[1], content[2]


def regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`re.compile(pattern, flags)` for one of kmc's own patterns, from the kept program when there is one."""
    if not _state.loaded:
        _load()
    key = (pattern, int(flags))  # a RegexFlag is not plain data
    program = _state.programs.get(key)
    if program is not None:
        try:
            compiled: re.Pattern[str] = _sre.compile(pattern, *program)
            return compiled
        except (TypeError, ValueError, RuntimeError):
            pass
    program = _program(pattern, flags)
    if program is not None:
        try:
            compiled = _sre.compile(pattern, *program)
        except (TypeError, ValueError, RuntimeError):
            program = None
    if program is None:  # another Python's re: compiled by re.compile, not kept
        return re.compile(pattern, flags)
    _state.programs[key] = program
    _added()
    return compiled


def _program(pattern: str, flags: int) -> tuple[Any, ...] | None:
    """What re.compile (re/_compiler.py) passes to _sre.compile after the pattern, as plain data."""
    try:
        from re import _compiler, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, flags)
        code = [int(op) for op in _compiler._code(parsed, flags)]
        names = dict(parsed.state.groupdict)
        index: list[str | None] = [None] * parsed.state.groups
        for name, number in names.items():
            index[number] = name
        return (int(flags | parsed.state.flags), code, parsed.state.groups - 1, names, tuple(index))
    except (AttributeError, TypeError, ValueError, ImportError):
        return None  # re.error (a bad pattern) propagates, as from re.compile


def value(name: str, derive: Callable[[], Any]) -> Any:
    """`derive()` (plain data that depends on kmc's files alone), kept under `name`."""
    if not _state.loaded:
        _load()
    if name in _state.values:
        return _state.values[name]
    result = derive()
    _state.values[name] = result
    _added()
    return result


def _added() -> None:
    if not _state.changed:
        _state.changed = True
        import atexit

        atexit.register(save)  # kmc.commands.entry's fast paths, which skip atexit, call save themselves


def save() -> None:
    """Write what this run added, unless Python writes no bytecode; quietly nothing where it cannot."""
    if not _state.changed or sys.dont_write_bytecode:
        return
    _state.changed = False
    where = path()
    if where is None:
        return
    partial = f"{where}.{os.getpid()}"
    try:
        content = marshal.dumps((_header(), _state.programs, _state.values))
        os.makedirs(os.path.dirname(where), exist_ok=True)
        with open(partial, "wb") as file:
            file.write(content)
        os.replace(partial, where)
    except (OSError, ValueError):  # no home, a full disk, a read-only one: no cache, as no .pyc
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(partial)
