"""Bad input never hurts: exit 1 (2 for usage), a located message, no traceback, no output touched.

Every run goes through the installed command in a subprocess (`python -m kmc`), not in-process:
some inputs can take down the interpreter itself (deep nesting), and a crash must fail one test,
not the session.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

import kmc

REPO_ROOT = Path(__file__).resolve().parents[1]
INVALID_DIR = REPO_ROOT / "golden" / "invalid"
VALID_STACK = REPO_ROOT / "golden" / "full" / "stack.yaml"
# Files the full stack names besides itself (its Grafana dashboards, its monitors) and its certificate state, relative to it.
VALID_STACK_FILES = ("dashboards", "monitors", ".kmc-state")


def copy_valid_stack(work: Path) -> None:
    """The full golden stack in `work`, with the dashboard files it refers to."""
    shutil.copyfile(VALID_STACK, work / "stack.yaml")
    for name in VALID_STACK_FILES:
        shutil.copytree(VALID_STACK.parent / name, work / name)


TEMP_PREFIX = ".kmc-tmp-"
LOCK_NAME = ".kmc-lock.json"
LOCATED_ERROR = re.compile(r"^stack\.yaml:\d+:\d+: error: ", re.MULTILINE)
SUMMARY = re.compile(r"kmc: \d+ problems? in the stack; nothing was written\n\Z")

Tree = dict[str, tuple[int, bytes | None]]


def run_kmc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="backslashreplace",
        timeout=120,
        check=False,
    )


def snapshot(root: Path) -> Tree:
    """Every file and directory under `root`: mode, and bytes for files (None for directories)."""
    return {
        path.relative_to(root).as_posix(): (stat.S_IMODE(path.lstat().st_mode), path.read_bytes() if path.is_file() else None)
        for path in sorted(root.rglob("*"))
    }


def leftover_temp_dirs(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob(f"{TEMP_PREFIX}*"))


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    """How the run ended, for assertion messages: a crash by signal is not an exit code."""
    ended = f"killed by signal {-result.returncode}" if result.returncode < 0 else f"exit {result.returncode}"
    return f"{ended}; stderr:\n{result.stderr}"


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, outcome(result)
    assert "internal error" not in result.stderr, outcome(result)


@pytest.fixture(scope="session")
def built_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real `kmc build` of the full golden stack; tests copy its output as "the previous build"."""
    work = tmp_path_factory.mktemp("previous-build")
    copy_valid_stack(work)
    result = run_kmc("build", "stack.yaml", "--out", "out", cwd=work)
    assert result.returncode == 0, result.stderr
    assert snapshot(work / "out"), "the valid build wrote nothing"
    return work / "out"


@pytest.fixture
def previous_build(tmp_path: Path, built_output: Path) -> Path:
    """tmp_path holding a valid stack.yaml and the output kmc built from it in out/."""
    copy_valid_stack(tmp_path)
    shutil.copytree(built_output, tmp_path / "out", symlinks=True)
    return tmp_path


# --- bad stack files: `kmc build` fails cleanly and leaves the previous output as it was ---------


def _bytes(content: bytes) -> Callable[[Path], None]:
    def write(stack: Path) -> None:
        stack.write_bytes(content)

    return write


def _directory(stack: Path) -> None:
    stack.unlink()
    stack.mkdir()
    (stack / "stack.yaml").write_text("version: 1\n", encoding="utf-8")


def _missing(stack: Path) -> None:
    stack.unlink()


def _huge(stack: Path) -> None:
    """Valid YAML, about 5 MB: thousands of well-formed extra jobs."""
    parts = ["version: 1\nscrape:\n  extraJobs:\n"]
    size = len(parts[0])
    index = 0
    while size < 5 * 1024 * 1024:
        job = f'    - job_name: job-{index}\n      static_configs:\n        - targets: ["host-{index}.example.com:9100"]\n'
        parts.append(job)
        size += len(job)
        index += 1
    stack.write_text("".join(parts), encoding="utf-8")


def _nested(depth: int) -> Callable[[Path], None]:
    return _bytes(b"version: 1\nnamespace: " + b"[" * depth + b"]" * depth + b"\n")


BILLION_LAUGHS = b"""version: 1
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""

# (make the bad stack, the exact first line of stderr, or a fragment of it when the position is not the point)
BAD_STACKS = [
    pytest.param(
        _bytes(b"version: 1\nnamespace: monitoring\nnamespace: observability\n"),
        "stack.yaml:3:1: error: $.namespace: duplicate key 'namespace' (first defined at line 2)",
        id="duplicate-keys",
    ),
    pytest.param(_bytes(b"version: 1\nnamespace: no\n"), "stack.yaml:2:12: error: $.namespace: expected a string, got a boolean (false)", id="namespace-no"),
    pytest.param(
        _bytes(b"version: 1\nprometheus:\n\tretention: 30d\n"),
        "stack.yaml:3:1: error: $: not valid YAML: a tab character where YAML expects indentation or a value",
        id="tabs",
    ),
    pytest.param(_bytes(b""), "stack.yaml:1:1: error: $: the file is empty", id="empty-file"),
    pytest.param(_bytes(b"# only a comment\n\n"), "stack.yaml:1:1: error: $: the file is empty", id="only-comments"),
    pytest.param(_directory, "stack.yaml:1:1: error: $: is a directory, not a stack file", id="directory"),
    pytest.param(_missing, "stack.yaml:1:1: error: $: no such file", id="missing-file"),
    pytest.param(_bytes(b"\x00\x01version\xff\xfe\x80" + bytes(range(256)) * 16), "stack.yaml:1:10: error: $: the file is not UTF-8 text", id="binary-garbage"),
    pytest.param(_bytes(b"\x00" * 64), "stack.yaml:1:1: error: $: not valid YAML: ", id="nul-bytes"),
    # regression: once reported at 1:1 with PyYAML's two-line message ('in "<unicode string>", position 31')
    pytest.param(
        _bytes("version: 1\nnamespace: monitoring # caf\u00e9 \x1f\n".encode()),
        "stack.yaml:2:30: error: $: not valid YAML: the character '\\x1f' is not allowed anywhere in a YAML file",
        id="control-character-in-a-comment",
    ),
    pytest.param(_bytes("version: 1\nnamespace: café\n".encode("latin-1")), "stack.yaml:2:15: error: $: the file is not UTF-8 text", id="latin-1"),
    pytest.param(_huge, "kmc reads stack files up to 1 MiB", id="5-mb-stack"),
    pytest.param(_bytes(BILLION_LAUGHS), "the document expands to more than 200000 values", id="billion-laughs"),
    pytest.param(
        _bytes(b"version: 1\nprometheus: &p\n  nested: *p\n"),
        "stack.yaml:2:13: error: $.prometheus.nested: an alias refers to a node that contains it",
        id="recursive-alias",
    ),
    pytest.param(_bytes(b'version: "1"\n'), "stack.yaml:1:10: error: $.version: ", id="version-as-string"),
    pytest.param(_bytes(b"- version: 1\n"), "stack.yaml:1:1: error: $: a stack must be a mapping of keys, not a list", id="list-document"),
    # regression: once a RecursionError in the loader (exit 3, traceback) from a 1 KB file
    pytest.param(_nested(1000), "stack.yaml:", id="nested-1000-deep"),
    # regression: libyaml's composer once overflowed the C stack (SIGSEGV) on a 100 KB file
    pytest.param(_nested(50_000), "stack.yaml:", id="nested-50000-deep"),
]


@pytest.mark.parametrize(("make_bad", "first_line"), BAD_STACKS)
def test_bad_stack_fails_cleanly_and_writes_nothing(previous_build: Path, make_bad: Callable[[Path], None], first_line: str) -> None:
    before = snapshot(previous_build / "out")
    make_bad(previous_build / "stack.yaml")

    result = run_kmc("build", "stack.yaml", "--out", "out", cwd=previous_build)

    assert result.returncode == 1, outcome(result)
    assert_no_traceback(result)
    assert result.stdout == ""
    assert LOCATED_ERROR.search(result.stderr), result.stderr
    assert first_line in result.stderr.splitlines()[0]
    assert SUMMARY.search(result.stderr), result.stderr
    assert snapshot(previous_build / "out") == before
    assert leftover_temp_dirs(previous_build) == []


def test_bad_stack_creates_no_output_directory(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text("version: 1\nnamespace: no\n", encoding="utf-8")

    result = run_kmc("build", "stack.yaml", "--out", "out", cwd=tmp_path)

    assert result.returncode == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["stack.yaml"]


# --- accepted oddities -------------------------------------------------------------------------


def test_byte_order_mark_is_accepted_and_changes_nothing(tmp_path: Path, built_output: Path) -> None:
    copy_valid_stack(tmp_path)
    (tmp_path / "stack.yaml").write_bytes(b"\xef\xbb\xbf" + VALID_STACK.read_bytes())

    result = run_kmc("build", "stack.yaml", "--out", "out", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    # The output is the same; only the lock records that the stack file's bytes differ.
    assert without_lock(snapshot(tmp_path / "out")) == without_lock(snapshot(built_output))


def without_lock(tree: Tree) -> Tree:
    return {path: entry for path, entry in tree.items() if path != LOCK_NAME}


@pytest.mark.parametrize(
    ("content", "first_line"),
    [
        pytest.param("\ufeffversion: 2\n", "stack.yaml:1:10: error: $.version: ", id="first-line"),
        pytest.param("\ufeffversion: 1\nnamespace: no\n", "stack.yaml:2:12: error: $.namespace: expected a string, got a boolean (false)", id="second-line"),
    ],
)
def test_byte_order_mark_does_not_shift_columns(tmp_path: Path, content: str, first_line: str) -> None:
    (tmp_path / "stack.yaml").write_text(content, encoding="utf-8")

    result = run_kmc("validate", "stack.yaml", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.startswith(first_line)


# --- hints: a wrong type says how to write the right one ---------------------------------------

MISSING_HINTS = [
    # regression: once reported as "written for stack format version '1'", no hint to drop the quotes
    pytest.param('version: "1"\n', "remove the quotes", id="version-as-string"),
    # regression: wrong-type scalars once got a hint only when a string was expected
    pytest.param("version: 1\nprometheus:\n  replicas: two\n", "", id="replicas-as-word"),
    pytest.param("version: 1\nscrape:\n  pods: yes please\n", "", id="boolean-as-words"),
]


@pytest.mark.parametrize(("content", "hint_fragment"), MISSING_HINTS)
def test_type_errors_have_a_hint(tmp_path: Path, content: str, hint_fragment: str) -> None:
    (tmp_path / "stack.yaml").write_text(content, encoding="utf-8")

    result = run_kmc("validate", "--output-format", "json", "stack.yaml", cwd=tmp_path)

    assert result.returncode == 1
    for diagnostic in json.loads(result.stdout)["diagnostics"]:
        assert diagnostic["hint"], f"no hint for {diagnostic['path']}: {diagnostic['message']}"
        assert hint_fragment in diagnostic["hint"]


# --- usage errors: exit 2, and the previous output stays -----------------------------------------

USAGE_ERRORS = [
    pytest.param(
        ("build", "stack.yaml", "--out", "out", "--env", "staging"),
        "kmc: error: the stack has no environment 'staging'; it has: default, dev, prod\n",
        id="unknown-env",
    ),
    pytest.param(("build", "stack.yaml", "--out", "out", "--bogus"), "Error: No such option '--bogus'", id="unknown-option"),
    pytest.param(("build", "stack.yaml", "--out", "out", "--format", "yaml"), "Error: Invalid value for '--format'", id="unknown-format"),
    pytest.param(("frobnicate",), "Error: No such command 'frobnicate'", id="unknown-command"),
    pytest.param(("build",), "Error: Missing argument 'STACK'", id="missing-argument"),
]


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_usage_error_exits_2_and_writes_nothing(previous_build: Path, args: tuple[str, ...], message: str) -> None:
    before = snapshot(previous_build / "out")

    result = run_kmc(*args, cwd=previous_build)

    assert_no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert snapshot(previous_build / "out") == before
    assert leftover_temp_dirs(previous_build) == []


# --- unwritable output ---------------------------------------------------------------------------


def _out_is_a_file(work: Path) -> None:
    shutil.rmtree(work / "out")
    (work / "out").write_text("not a directory\n", encoding="utf-8")


def _manifests_is_a_file(work: Path) -> None:
    shutil.rmtree(work / "out" / "manifests")
    (work / "out" / "manifests").write_text("not a directory\n", encoding="utf-8")


@pytest.mark.parametrize(
    "block",
    [
        # regression: once reported as "cannot write out: File exists", which does not say what is wrong
        pytest.param(_out_is_a_file, id="out-is-a-file"),
        pytest.param(_manifests_is_a_file, id="out-manifests-is-a-file"),
    ],
)
def test_unwritable_output_fails_cleanly(previous_build: Path, block: Callable[[Path], None]) -> None:
    block(previous_build)
    before = snapshot(previous_build)

    result = run_kmc("build", "stack.yaml", "--out", "out", cwd=previous_build)

    assert_no_traceback(result)
    assert result.returncode == 1, result.stderr
    assert snapshot(previous_build) == before
    assert leftover_temp_dirs(previous_build) == []
    assert result.stderr.startswith("kmc: error: cannot write out: ")
    assert result.stderr.endswith("; the previous output is unchanged\n")
    assert "is not a directory" in result.stderr


# --- machine-readable diagnostics ----------------------------------------------------------------

DIAGNOSTIC_FIELDS = ["file", "line", "column", "severity", "path", "message", "hint"]


@pytest.mark.parametrize(
    ("case", "first"),
    [
        pytest.param(
            "several-problems",
            {
                "file": "stack.yaml",
                "line": 3,
                "column": 22,
                "severity": "error",
                "path": "$.cluster.kubernetesVersion",
                "message": "expected a string, got a number (1.3)",
                "hint": 'YAML reads the unquoted `1.30` as a number (1.3); quote it: "1.30"',
            },
            id="schema-errors",
        ),
        pytest.param(
            "tab-indentation",
            {
                "file": "stack.yaml",
                "line": 3,
                "column": 1,
                "severity": "error",
                "path": "$",
                "message": "not valid YAML: a tab character where YAML expects indentation or a value",
                "hint": "indent with spaces; YAML does not allow tabs for indentation",
            },
            id="yaml-error",
        ),
    ],
)
def test_validate_json_reports_every_field(tmp_path: Path, case: str, first: dict[str, object]) -> None:
    shutil.copyfile(INVALID_DIR / case / "stack.yaml", tmp_path / "stack.yaml")

    result = run_kmc("validate", "--output-format", "json", "stack.yaml", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["diagnostics"][0] == first
    assert all(list(diagnostic) == DIAGNOSTIC_FIELDS for diagnostic in report["diagnostics"])
    positions = [(diagnostic["line"], diagnostic["column"]) for diagnostic in report["diagnostics"]]
    assert positions == sorted(positions)


def test_validate_json_of_a_valid_stack(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text("version: 1\n", encoding="utf-8")

    result = run_kmc("validate", "--output-format", "json", "stack.yaml", cwd=tmp_path)

    assert result.returncode == 0
    assert json.loads(result.stdout) == {"valid": True, "diagnostics": []}


# --- the other commands --------------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    result = run_kmc("--version", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout == f"kmc {kmc.__version__}\n"


def test_schema_prints_json(tmp_path: Path) -> None:
    result = run_kmc("schema", cwd=tmp_path)

    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["version"]


def test_init_writes_a_valid_stack_with_a_schema_modeline(tmp_path: Path) -> None:
    result = run_kmc("init", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    stack_text = (tmp_path / "stack.yaml").read_text(encoding="utf-8")
    modeline = re.match(r"# yaml-language-server: \$schema=(\S+)\n", stack_text)
    assert modeline, stack_text.splitlines()[0]
    schema_file = tmp_path / modeline.group(1)
    assert json.loads(schema_file.read_text(encoding="utf-8")) == json.loads(run_kmc("schema", cwd=tmp_path).stdout)
    assert list(Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8"))).iter_errors(yaml.safe_load(stack_text))) == []
    validated = run_kmc("validate", "stack.yaml", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr


@pytest.mark.parametrize("directory", [".", "newdir", "a/b"])
def test_init_suggests_a_build_that_works_and_builds_clean(tmp_path: Path, directory: str) -> None:
    """The command `kmc init DIR` suggests writes DIR/charts-out (`--out` is relative to the working
    directory, files the stack names to the stack), and the starter stack's first build warns of nothing."""
    result = run_kmc("init", directory, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    suggested = re.search(r"next: kmc (.+)$", result.stderr.strip())
    assert suggested, result.stderr
    built = run_kmc(*suggested.group(1).split(), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "warning" not in built.stderr, built.stderr
    assert (tmp_path / directory / "charts-out" / "manifests" / "default").is_dir()
    expected = ["charts-out", "stack.schema.json", "stack.yaml"] if directory == "." else [Path(directory).parts[0]]
    assert sorted(path.name for path in tmp_path.iterdir()) == expected  # nothing lands beside DIR


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    mine = "# my stack\nversion: 1\n"
    (tmp_path / "stack.yaml").write_text(mine, encoding="utf-8")

    refused = run_kmc("init", cwd=tmp_path)

    assert_no_traceback(refused)
    assert refused.returncode == 1
    assert refused.stderr == "kmc: error: stack.yaml exists; pass --force to overwrite it\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["stack.yaml"]
    assert (tmp_path / "stack.yaml").read_text(encoding="utf-8") == mine

    forced = run_kmc("init", "--force", cwd=tmp_path)

    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "stack.yaml").read_text(encoding="utf-8") != mine


# --- golden/invalid: the exact diagnostics of every invalid case ---------------------------------

INVALID_CASES = sorted(path for path in INVALID_DIR.iterdir() if path.is_dir()) if INVALID_DIR.is_dir() else []


@pytest.mark.parametrize("case", INVALID_CASES or [None], ids=[case.name for case in INVALID_CASES] or ["no-invalid-cases"])
def test_invalid_golden_case(case: Path | None) -> None:
    if case is None:
        pytest.fail(f"no cases in {INVALID_DIR.relative_to(REPO_ROOT)}", pytrace=False)
    expected_file = case / "expected.txt"
    assert (case / "stack.yaml").is_file(), f"{case.name}: no stack.yaml"
    assert expected_file.is_file(), f"{case.name}: no expected.txt; create it with scripts/refresh-golden"

    result = run_kmc("validate", "stack.yaml", cwd=case)

    assert_no_traceback(result)
    assert result.returncode == 1, result.stderr
    expected = expected_file.read_text(encoding="utf-8")
    if result.stderr != expected:
        where = expected_file.relative_to(REPO_ROOT).as_posix()
        diff = "".join(difflib.unified_diff(expected.splitlines(True), result.stderr.splitlines(True), f"{where} (expected)", f"{where} (kmc now)"))
        pytest.fail(
            f"the diagnostics of {case.name} changed:\n{diff}\nif the change is intended, run scripts/refresh-golden and review the diff", pytrace=False
        )
    assert result.stdout == ""
