"""The `kmc` console script: answers the hot paths of a pre-commit hook before importing click.

`kmc --version` and a `kmc build --check` whose output the lock proves current need nothing but
the standard library; everything else (and any argument this parser does not know) goes to the
full CLI in `kmc.cli`, which parses the command line again and owns every message and exit code.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kmc import __version__

_VALUED = {"--format", "--out", "--env"}
_FORMATS = {"manifests": ("manifests",), "helm": ("helm",), "kustomize": ("kustomize",), "all": ("helm", "kustomize", "manifests")}


def _fast_check(argv: list[str]) -> int | None:
    """0 when `argv` is a `build --check` the lock proves current; None: let the full CLI decide."""
    started = time.perf_counter()
    quiet = False
    while argv and argv[0] in ("-q", "--quiet"):
        quiet, argv = True, argv[1:]
    if not argv or argv[0] != "build":
        return None
    options: dict[str, str] = {}
    positional: list[str] = []
    check = False
    rest = argv[1:]
    while rest:
        token, rest = rest[0], rest[1:]
        name, equals, value = token.partition("=")
        if token == "--check":
            check = True
        elif token in ("-q", "--quiet"):
            quiet = True
        elif name in _VALUED and equals:
            options[name] = value
        elif token in _VALUED and rest:
            options[token], rest = rest[0], rest[1:]
        elif token.startswith("-"):
            return None  # --help, -v, a typo: the full CLI's business
        else:
            positional.append(token)
    formats = _FORMATS.get(options.get("--format", "manifests"))
    if not check or len(positional) != 1 or formats is None:
        return None
    from kmc import lock

    out = Path(options.get("--out", "charts-out"))
    names = lock.subtrees(formats, options.get("--env"))
    try:
        files = lock.current(out, Path(positional[0]), names)
    except OSError:
        return None
    if files is None:
        return None
    if not quiet:
        where = ", ".join(str(out / name) for name in names)
        print(f"kmc: {where} current ({files} files; lock; {time.perf_counter() - started:.2f}s)", file=sys.stderr)
    return 0


def main() -> None:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        print(f"kmc {__version__}")
        sys.exit(0)
    if "build" in argv and "--check" in argv:
        code = _fast_check(argv)
        if code is not None:
            sys.exit(code)
    from kmc.cli import main as full

    full()
