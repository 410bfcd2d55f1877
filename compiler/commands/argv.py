"""Plain `kmc build` and `kmc validate` command lines, parsed without click (the hooks' hot paths).

Anything this parser does not know (--help, a typo, a repeated option) is None here, and the full
CLI in `kmc.commands.cli` parses it instead.
"""

from __future__ import annotations

_VALUED = {"--format", "--out", "--env"}
_OUTPUT_FLAGS = {"-q": "quiet", "--quiet": "quiet", "-v": "verbose", "--verbose": "verbose"}
FORMATS = {"manifests": ("manifests",), "helm": ("helm",), "kustomize": ("kustomize",), "all": ("helm", "kustomize", "manifests")}


class BuildLine:
    """A parsed `kmc build` line; paths as given (pathlib costs ~5 ms that a lock-proven check saves)."""

    __slots__ = ("check", "env", "fmt", "out", "quiet", "stack", "verbose")

    def __init__(self, stack: str, fmt: str, out: str, env: str | None, check: bool, quiet: bool, verbose: bool) -> None:
        self.stack, self.fmt, self.out, self.env = stack, fmt, out, env
        self.check, self.quiet, self.verbose = check, quiet, verbose


class _Line:
    """A `kmc [-q|-v] COMMAND ...` line split into its flags, options and arguments."""

    __slots__ = ("options", "positional", "seen")

    def __init__(self) -> None:
        self.options: dict[str, str] = {}
        self.positional: list[str] = []
        self.seen: set[str] = set()


def _scan(argv: list[str], command: str, flags: dict[str, str], valued: set[str]) -> _Line | None:
    """`argv` as a `kmc [-q|-v] COMMAND` line with these flags and valued options (each at most
    once), or None when it is anything else: --help, a typo, a repeated option are the full CLI's
    business."""
    line = _Line()
    while argv and argv[0] in _OUTPUT_FLAGS:
        line.seen.add(_OUTPUT_FLAGS[argv[0]])
        argv = argv[1:]
    if not argv or argv[0] != command:
        return None
    rest = argv[1:]
    while rest:
        token, rest = rest[0], rest[1:]
        name, equals, value = token.partition("=")
        if token in flags:
            line.seen.add(flags[token])
        elif name in valued and equals and name not in line.options:
            line.options[name] = value
        elif token in valued and rest and token not in line.options:
            line.options[token], rest = rest[0], rest[1:]
        elif token.startswith("-") and token != "-":
            return None
        else:
            line.positional.append(token)
    return line


def parse_build(argv: list[str]) -> BuildLine | None:
    """`argv` as a `kmc [-q|-v] build STACK [options]` line, or None when it is anything else."""
    line = _scan(argv, "build", {**_OUTPUT_FLAGS, "--check": "check"}, _VALUED)
    if line is None:
        return None
    fmt = line.options.get("--format", "manifests")
    if len(line.positional) != 1 or fmt not in FORMATS:
        return None
    seen = line.seen
    out, env = line.options.get("--out", "charts-out"), line.options.get("--env")
    return BuildLine(line.positional[0], fmt, out, env, "check" in seen, "quiet" in seen, "verbose" in seen and "quiet" not in seen)


class ValidateLine:
    """A parsed `kmc validate` line."""

    __slots__ = ("output_format", "quiet", "stacks", "verbose")

    def __init__(self, stacks: list[str], output_format: str, quiet: bool, verbose: bool) -> None:
        self.stacks, self.output_format, self.quiet, self.verbose = stacks, output_format, quiet, verbose


def parse_validate(argv: list[str]) -> ValidateLine | None:
    """`argv` as a `kmc [-q|-v] validate [-q|-v] [--output-format text|json] STACK...` line, or None."""
    line = _scan(argv, "validate", _OUTPUT_FLAGS, {"--output-format"})
    if line is None:
        return None
    output_format = line.options.get("--output-format", "text")
    if not line.positional or output_format not in ("text", "json"):
        return None
    seen = line.seen
    return ValidateLine(line.positional, output_format, "quiet" in seen, "verbose" in seen and "quiet" not in seen)


def shown(directory: str, name: str) -> str:
    """`str(Path(directory) / name)` (how the other paths print it), without importing pathlib."""
    root = "//" if directory.startswith("//") and not directory.startswith("///") else "/" if directory.startswith("/") else ""
    return root + "/".join([*(part for part in directory.split("/") if part not in ("", ".")), name])
