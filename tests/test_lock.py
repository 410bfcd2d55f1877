"""The build lock never vouches for output it cannot prove: what it records is what the build read
(hashed when read, each name with the file it reached), what kmc was running, and an output tree
that holds nothing but what kmc wrote. Each test here failed before the lock was made so."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tools import ROOT

from kmc import pipeline
from kmc.output import lock
from kmc.output.writer import TEMP_PREFIX, WriteError

SMALL_STACK = """\
version: 1
grafana:
  enabled: true
  dashboards:
    files:
      - file: dashboards/app.json
metricsServer:
  enabled: true
  tls: {mode: generate, keyType: ecdsa-p256}
certificates:
  keysInOutput: true
"""
BUNDLE_STACK = """\
version: 1
metricsServer:
  enabled: true
  tls:
    mode: secret
    secret: {name: metrics-server-serving, caBundle: pki/ca.crt}
"""
FORMATS = pipeline.FORMATS
NAMES = lock.subtrees(FORMATS, None)


def board(title: str) -> str:
    return json.dumps({"title": title, "panels": []}) + "\n"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A stack with a dashboard file and kmc-made certificates (ECDSA: quick to mint)."""
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards/app.json").write_text(board("App"))
    (tmp_path / "stack.yaml").write_text(SMALL_STACK)
    return tmp_path


def build(case: Path) -> None:
    pipeline.build(case / "stack.yaml", case / "charts-out", FORMATS, None)


def proven(case: Path) -> bool:
    return lock.current(case / "charts-out", case / "stack.yaml", NAMES) is not None


def fresh(case: Path, tmp_path: Path) -> dict[str, bytes]:
    """What a build of the case's stack as it is now writes, into a directory of its own."""
    out = tmp_path / "fresh"
    shutil.rmtree(out, ignore_errors=True)
    pipeline.build(case / "stack.yaml", out, FORMATS, None)
    return {name: content for name in NAMES for name, content in prefixed(name, lock.disk_tree(out / name))}


def prefixed(subtree: str, files: dict[str, bytes]) -> Iterator[tuple[str, bytes]]:
    return ((f"{subtree}/{name}", content) for name, content in files.items())


def on_disk(case: Path) -> dict[str, bytes]:
    return {name: content for name in NAMES for name, content in prefixed(name, lock.disk_tree(case / "charts-out" / name))}


def staging(out: Path) -> list[str]:
    """The staging directories in `out` and `out/manifests`."""
    return sorted(path.relative_to(out).as_posix() for path in [*out.glob(f"{TEMP_PREFIX}*"), *out.glob(f"manifests/{TEMP_PREFIX}*")])


def odd_entries(root: Path) -> list[str]:
    """Everything under `root` that is neither a regular file nor a directory, and the empty directories."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_symlink() or not (path.is_file() or path.is_dir()) or (path.is_dir() and not any(path.iterdir()))
    )


def with_path(directory: Path) -> dict[str, str]:
    """The environment with `directory` first on the module search path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")]))}


class Waited(Exception):
    """Not an OSError: code that reads files may well catch those."""


@contextlib.contextmanager
def within(seconds: int) -> Iterator[None]:
    """Fail, rather than wait for ever (on a FIFO opened for reading, say), after `seconds`."""

    def waited(*_: object) -> None:
        raise Waited(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, waited)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def kmc(*args: str, cwd: Path, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmc", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


# 1. The bytes the build read, hashed when it read them.


@pytest.mark.parametrize("edited", ["stack.yaml", "dashboards/app.json"])
def test_an_input_saved_during_a_build_is_not_vouched_for(small: Path, edited: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The build read the old bytes; the file holds new ones by the time the lock is written."""
    emit = pipeline.emit_with_needs
    new = SMALL_STACK.replace("keysInOutput: true", "keysInOutput: false") if edited == "stack.yaml" else board("Edited meanwhile")

    def emit_while_saved(*args: object, **kwargs: object) -> object:
        (small / edited).write_text(new)  # the editor saves after the build read the file
        return emit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "emit_with_needs", emit_while_saved)
    build(small)
    monkeypatch.undo()
    assert not proven(small)
    assert fresh(small, tmp_path) != on_disk(small)  # and indeed the output is stale


# 2. Inputs reached through symlinks: the name and the file it reaches.


def repoint(link: Path, target: str) -> None:
    link.unlink()
    link.symlink_to(target)


def test_a_repointed_dashboard_symlink_is_noticed(small: Path) -> None:
    (small / "dashboards/a.json").write_text(board("A"))
    (small / "dashboards/b.json").write_text(board("B"))
    (small / "dashboards/app.json").unlink()
    (small / "dashboards/app.json").symlink_to("a.json")
    build(small)
    assert proven(small)
    repoint(small / "dashboards/app.json", "b.json")
    assert not proven(small)


def test_a_repointed_dashboards_directory_is_noticed(small: Path) -> None:
    (small / "dashboards").rename(small / "boards-a")
    shutil.copytree(small / "boards-a", small / "boards-b")
    (small / "boards-b/app.json").write_text(board("B"))
    (small / "dashboards").symlink_to("boards-a")
    build(small)
    assert proven(small)
    repoint(small / "dashboards", "boards-b")
    assert not proven(small)


def test_a_repointed_certificate_state_directory_is_noticed(small: Path) -> None:
    (small / "state-b").mkdir()
    (small / ".kmc-state").symlink_to("state-b")
    build(small)  # mints one CA into state-b
    repoint(small / ".kmc-state", "state-a")
    (small / "state-a").mkdir()
    build(small)  # and another into state-a
    assert proven(small)
    repoint(small / ".kmc-state", "state-b")
    assert not proven(small)


def test_a_repointed_ca_bundle_is_noticed(tmp_path: Path) -> None:
    (tmp_path / "pki-a").mkdir()
    shutil.copy(ROOT / "golden/metrics-server/pki/metrics-ca.crt", tmp_path / "pki-a/ca.crt")
    (tmp_path / "pki-b").mkdir()
    shutil.copy(ROOT / "golden/full/.kmc-state/metrics-server/ca.crt", tmp_path / "pki-b/ca.crt")
    (tmp_path / "pki").symlink_to("pki-a")
    (tmp_path / "stack.yaml").write_text(BUNDLE_STACK)
    build(tmp_path)
    assert proven(tmp_path)
    repoint(tmp_path / "pki", "pki-b")
    assert not proven(tmp_path)


def test_a_symlinked_stack_resolves_its_files_from_the_link_as_the_build_does(small: Path) -> None:
    """The build reads `dashboards/app.json` next to the stack path it was given; so does the lock."""
    (small / "other").mkdir()
    (small / "other/dashboards").mkdir()
    (small / "other/dashboards/app.json").write_text(board("Other"))
    (small / "other/stack.yaml").symlink_to("../stack.yaml")
    build(small)
    assert proven(small)
    # The same stack file through a link elsewhere reaches other dashboards: not this lock's build.
    assert lock.current(small / "charts-out", small / "other/stack.yaml", NAMES) is None


# 3 and 4. The output tree holds what kmc writes and nothing else; nothing but regular files is opened.


def add_symlinked_directory(out: Path) -> None:
    (out.parent / "elsewhere").mkdir()
    (out.parent / "elsewhere/extra.yaml").write_text("kind: ConfigMap\n")
    next(out.glob("helm/*/templates")).joinpath("linked").symlink_to(out.parent / "elsewhere")


def add_symlinked_file(out: Path) -> None:
    values = next(out.glob("helm/*/values.yaml"))
    shutil.copy(values, out.parent / "values-copy.yaml")
    values.unlink()
    values.symlink_to(out.parent / "values-copy.yaml")  # the same bytes, through a link


STRAYS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "symlinked directory": (add_symlinked_directory, "templates/linked", "(a symlink)"),
    "symlinked file": (add_symlinked_file, "/values.yaml", "(a symlink, where kmc writes a file)"),
    "empty directory": (lambda out: (out / "kustomize/overlays/empty").mkdir(), "kustomize/overlays/empty", "(an empty directory)"),
    "extra file": (lambda out: (out / "manifests/default/99-extra.yaml").write_text("kind: Stray\n"), "manifests/default/99-extra.yaml\n", ""),
    "FIFO": (lambda out: os.mkfifo(out / "manifests/default/99-fifo.yaml"), "manifests/default/99-fifo.yaml", "(a FIFO)"),
}


@pytest.mark.parametrize("stray", sorted(STRAYS))
def test_anything_kmc_did_not_write_is_unexpected_and_replaced(small: Path, stray: str) -> None:
    add, where, what = STRAYS[stray]
    assert kmc("build", "-q", "stack.yaml", "--format", "all", cwd=small).returncode == 0
    add(small / "charts-out")
    with within(10):
        assert not proven(small)
    # A FIFO used to make both commands wait for a writer for ever: a timeout fails the test instead.
    check = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=small, timeout=30)
    assert check.returncode == 1, check.stderr
    line = next(line for line in check.stderr.splitlines() if line.startswith("unexpected: "))
    assert where.strip("\n") in line and line.endswith(what), check.stderr
    rebuilt = kmc("build", "stack.yaml", "--format", "all", cwd=small, timeout=30)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "; lock;" not in rebuilt.stderr
    assert odd_entries(small / "charts-out") == []
    assert (small / "elsewhere/extra.yaml").exists() or stray != "symlinked directory"  # a link is removed, never followed
    assert kmc("build", "--check", "stack.yaml", "--format", "all", cwd=small).returncode == 0


def test_a_subtree_that_is_a_symlink_is_refused_not_replaced(small: Path) -> None:
    build(small)
    out = small / "charts-out"
    shutil.move(out / "helm", small / "mine")
    (out / "helm").symlink_to(small / "mine")
    before = sorted(path.name for path in (small / "mine").rglob("*"))
    (small / "stack.yaml").write_text(SMALL_STACK + "namespace: observability\n")
    with pytest.raises(WriteError, match=r"helm is a symlink; kmc replaces only directories it wrote.*the previous output is unchanged"):
        build(small)
    assert (out / "helm").is_symlink() and sorted(path.name for path in (small / "mine").rglob("*")) == before
    assert staging(out) == []


# 5. Staging directories of a build killed with SIGKILL.

# A real build that stops with its trees staged, before swapping them in: where SIGKILL finds it.
PAUSED_BUILD = """\
import sys, time
from kmc.output import writer
swap = writer._swap
def paused(temp, target):
    print("staged", flush=True)
    time.sleep(120)
    return swap(temp, target)
writer._swap = paused
from kmc.commands.entry import main
sys.argv = ["kmc", "build", "-q", "stack.yaml", "--format", "all"]
main()
"""


def test_staging_of_a_killed_build_is_reported_and_removed_and_a_live_one_is_left_alone(small: Path) -> None:
    assert kmc("build", "-q", "stack.yaml", "--format", "all", cwd=small).returncode == 0
    (small / "stack.yaml").write_text(SMALL_STACK + "namespace: observability\n")
    out = small / "charts-out"
    paused = subprocess.Popen([sys.executable, "-c", PAUSED_BUILD], cwd=small, stdout=subprocess.PIPE, text=True)
    try:
        assert paused.stdout is not None and paused.stdout.readline() == "staged\n"
        staged = staging(out)
        held = [path.read_bytes() for name in staged for path in (out / name).rglob("*") if path.is_file()]
        assert any(b"tls.key: " in content for content in held)  # keysInOutput: a private key waits there
        # Another build meanwhile: the paused one is alive, its staging is not another build's to remove.
        during = kmc("build", "-q", "stack.yaml", "--format", "all", cwd=small)
        assert during.returncode == 0, during.stderr
        assert set(staged) <= set(staging(out))
        os.kill(paused.pid, signal.SIGKILL)
        assert paused.wait(timeout=10) == -signal.SIGKILL
    finally:
        if paused.poll() is None:
            paused.kill()
            paused.wait()
        if paused.stdout is not None:
            paused.stdout.close()
    stale = staging(out)
    assert stale
    check = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=small)
    assert check.returncode == 1, check.stderr
    for name in stale:
        assert f"unexpected: charts-out/{name} (a staging directory left by a build that was killed" in check.stderr
    assert staging(out) == stale  # --check writes nothing
    cleaned = kmc("build", "-q", "stack.yaml", "--format", "all", cwd=small)
    assert cleaned.returncode == 0, cleaned.stderr
    assert staging(out) == [] and not list(out.rglob(f"{TEMP_PREFIX}*"))
    assert kmc("build", "--check", "stack.yaml", "--format", "all", cwd=small).returncode == 0


# 6. What kmc was running: its installed files, PyYAML, libyaml.


def test_the_identity_knows_whether_pyyaml_uses_libyaml() -> None:
    import yaml

    from kmc.resources import code_identity

    assert code_identity()["libyaml"] is yaml.__with_libyaml__


def test_a_pyyaml_without_libyaml_is_another_kmc(small: Path, tmp_path: Path) -> None:
    import yaml

    assert kmc("build", "-q", "stack.yaml", "--format", "all", cwd=small).returncode == 0
    shadow = tmp_path / "pure"
    shutil.copytree(Path(yaml.__file__).parent, shadow / "yaml", ignore=shutil.ignore_patterns("_yaml*", "__pycache__"))
    env = with_path(shadow)
    assert subprocess.run([sys.executable, "-c", "import yaml; assert not yaml.__with_libyaml__"], env=env, check=False).returncode == 0
    check = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=small, env=env)
    assert check.returncode == 0, check.stderr
    assert "compiled and compared" in check.stderr


def install_copy(site: Path) -> None:
    """kmc installed as an installer does it: the package, and a RECORD of its files' hashes."""
    import base64
    import hashlib

    import kmc as package
    from kmc import __version__
    from kmc.resources import data_location

    shutil.copytree(Path(package.__file__).parent, site / "kmc", ignore=shutil.ignore_patterns("__pycache__", "schema", "library"))
    for data in ("schema", "library"):
        shutil.copytree(data_location(data), site / "kmc" / data, ignore=shutil.ignore_patterns("__pycache__"))
    lines = []
    for path in sorted((site / "kmc").rglob("*")):
        if path.is_file():
            digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
            lines.append(f"{path.relative_to(site).as_posix()},sha256={digest},{path.stat().st_size}\n")
    (site / f"kmc-{__version__}.dist-info").mkdir()
    (site / f"kmc-{__version__}.dist-info/RECORD").write_text("".join(lines))


def test_an_edited_installed_kmc_file_is_another_kmc(small: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_copy(site)
    env = with_path(site)
    assert kmc("build", "-q", "stack.yaml", "--format", "all", cwd=small, env=env).returncode == 0
    assert "; lock;" in kmc("build", "--check", "stack.yaml", "--format", "all", cwd=small, env=env).stderr
    helm = site / "kmc/emitters/helm.py"
    helm.write_text(helm.read_text() + "# edited in place\n")  # RECORD still lists the old hash
    check = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=small, env=env)
    assert check.returncode == 0, check.stderr
    assert "compiled and compared" in check.stderr


# 7. Wording of --check.


def test_check_says_missing_and_unexpected(small: Path) -> None:
    assert kmc("build", "-q", "stack.yaml", "--format", "all", cwd=small).returncode == 0
    out = small / "charts-out"
    gone = next((out / "manifests/default").glob("*.yaml"))
    gone.unlink()
    (out / "manifests/default/99-stray.yaml").write_text("kind: Stray\n")
    check = kmc("build", "--check", "stack.yaml", "--format", "all", cwd=small)
    assert check.returncode == 1
    assert f"missing: charts-out/manifests/default/{gone.name}\n" in check.stderr
    assert "unexpected: charts-out/manifests/default/99-stray.yaml\n" in check.stderr
    assert "removed:" not in check.stderr and "added:" not in check.stderr


def test_the_fast_path_reads_no_fifo_among_the_inputs(small: Path) -> None:
    """An input replaced by a FIFO is refused, not waited on."""
    build(small)
    (small / "dashboards/app.json").unlink()
    os.mkfifo(small / "dashboards/app.json")
    with within(10):
        assert not proven(small)


def test_inputs_are_named_as_the_stack_names_them_and_found_from_any_spelling_of_its_path(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (small / "sub").mkdir()
    (small / "sub/stack.yaml").write_text(
        SMALL_STACK.replace("dashboards/app.json", "../dashboards/app.json").replace("keysInOutput: true", "stateDir: ../state")
    )
    monkeypatch.chdir(small)
    pipeline.build(Path("sub/stack.yaml"), Path("charts-out"), FORMATS, None)
    entry = json.loads((small / "charts-out" / lock.LOCK_NAME).read_text())["trees"]["helm"]
    assert sorted(entry["inputs"]) == ["../dashboards/app.json", "../state/metrics-server/ca.crt", "../state/metrics-server/tls.crt", "stack.yaml"]
    assert entry["inputs"]["../dashboards/app.json"]["file"] == "../dashboards/app.json"
    for spelled in ("sub/stack.yaml", "./sub//stack.yaml", str(small / "sub/stack.yaml")):
        assert lock.current("charts-out", spelled, NAMES) is not None, spelled
    monkeypatch.chdir(small / "sub")
    assert lock.current("../charts-out", "stack.yaml", NAMES) is not None


@pytest.mark.parametrize("fifo", ["stack.yaml", "dashboards/app.json"])
def test_an_input_that_is_a_fifo_is_a_located_error_not_a_wait(small: Path, fifo: str) -> None:
    (small / fifo).unlink()
    os.mkfifo(small / fifo)
    result = kmc("build", "stack.yaml", cwd=small, timeout=30)
    assert result.returncode == 1
    assert "not a regular file" in result.stderr and result.stderr.startswith("stack.yaml:"), result.stderr
