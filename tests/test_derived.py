"""kmc.derived: the regular expression programs and rule library kept between runs are exactly what
`re.compile` and the library's YAML give, are used only by the kmc and interpreter that wrote
them, and a build without them (absent, stale, corrupt, unwritable) is the same build."""

from __future__ import annotations

import _sre  # type: ignore[import-not-found]
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from golden_trees import read_tree, tree_diff

from kmc import derived
from kmc.check import schema
from kmc.components import dashboards, rule_packs

ROOT = Path(__file__).resolve().parents[1]

# A fresh interpreter running `kmc ARGS` as the console script does, with bytecode writing on (as
# for a user) or off; prints what the run added to kmc.derived's cache.
_RUN = """
import json, sys
from kmc import derived
from kmc.commands import entry
sys.dont_write_bytecode = sys.argv[1] == "no-write"
entry._leave = sys.exit  # kmc.derived's atexit handler then writes, as _leave would
sys.argv = ["kmc", *sys.argv[2:]]
try:
    entry.main()
except SystemExit as exit:
    print(json.dumps({"code": exit.code, "added": derived._state.changed, "patterns": len(derived._state.programs)}))
"""


def _run(cache_home: Path, *args: str, cwd: Path, write: bool = True, home: Path | None = None) -> dict[str, object]:
    """`kmc ARGS` with XDG_CACHE_HOME=`cache_home` (and HOME=`home`)."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"} | {"XDG_CACHE_HOME": str(cache_home)}
    if home is not None:
        env["HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-c", _RUN, "write" if write else "no-write", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return outcome


def _kept(cache_home: Path) -> Path:
    (kept,) = (cache_home / "kmc").iterdir()  # one file: this kmc's, for this Python
    assert kept.name.startswith(f"derived-{sys.implementation.cache_tag}-") and kept.suffix == ".bin"
    return kept


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "golden/full", tmp_path / "full", ignore=shutil.ignore_patterns("out"))
    return tmp_path / "full"


def test_kept_programs_are_re_compiles_and_the_library_its_yaml(work: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _run(cache, "build", "-q", "stack.yaml", "--format", "all", "--out", "out", cwd=work)
    assert first == {"code": 0, "added": True, "patterns": first["patterns"]}
    assert int(str(first["patterns"])) > 40  # kmc's own patterns and the schema's that golden/full meets
    header, programs, values = marshal.loads(_kept(cache).read_bytes())
    assert header == derived._header()
    for (pattern, flags), program in programs.items():
        assert _sre.compile(pattern, *program) == re.compile(pattern, flags), pattern  # == compares the programs
    assert values == {"rule library": rule_packs._read_library(), "schema": schema._read_schema(), "library dashboards": dashboards._read_library()}


def test_a_second_build_uses_what_the_first_kept_and_builds_the_same(work: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _run(cache, "build", "-q", "stack.yaml", "--format", "all", "--out", "first", cwd=work)
    kept = _kept(cache).read_bytes()
    second = _run(cache, "build", "-q", "stack.yaml", "--format", "all", "--out", "second", cwd=work)
    assert second["code"] == 0 and second["added"] is False  # nothing derived again, nothing written
    assert _kept(cache).read_bytes() == kept
    assert not tree_diff(read_tree(work / "first"), read_tree(work / "second"))
    assert not tree_diff(read_tree(ROOT / "golden/full/out"), read_tree(work / "second"))
    validate = _run(cache, "validate", "stack.yaml", cwd=work)
    assert validate["code"] == 0 and validate["added"] is False


@pytest.mark.parametrize(
    "content",
    [
        b"not marshal data",
        b"",
        marshal.dumps(((0, "another python", 0, 0, ""), {("x", 0): (0, [], 0, {}, ())}, {"rule library": {}})),
        marshal.dumps({"a": "dict"}),
    ],
    ids=["garbage", "empty", "another-kmc-or-python", "wrong-shape"],
)
def test_a_stale_or_broken_cache_is_as_if_absent_and_is_rewritten(work: Path, tmp_path: Path, content: bytes) -> None:
    cache = tmp_path / "cache"
    _run(cache, "validate", "stack.yaml", cwd=work)
    _kept(cache).write_bytes(content)
    outcome = _run(cache, "build", "-q", "stack.yaml", "--format", "all", "--out", "out", cwd=work)
    assert outcome["code"] == 0 and outcome["added"] is True
    assert not tree_diff(read_tree(ROOT / "golden/full/out"), read_tree(work / "out"))
    assert marshal.loads(_kept(cache).read_bytes())[0] == derived._header()


def test_nothing_is_written_where_python_writes_no_bytecode(work: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    outcome = _run(cache, "build", "-q", "stack.yaml", "--out", "out", cwd=work, write=False)
    assert outcome["code"] == 0
    assert not cache.exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    outcome = _run(blocker / "cache", "build", "-q", "stack.yaml", "--out", "again", cwd=work)  # cannot be made
    assert outcome["code"] == 0
    assert not tree_diff(read_tree(work / "out"), read_tree(work / "again"))


def test_the_cache_goes_to_the_home_cache_when_xdg_cache_home_is_unset_or_relative(work: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    outcome = _run(Path("relative"), "build", "-q", "stack.yaml", "--out", "out", cwd=work, home=home)  # the XDG spec: ignore it
    assert outcome["code"] == 0 and not (work / "relative").exists()
    assert _kept(home / ".cache")
