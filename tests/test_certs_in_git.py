"""The certificate state in git: its certificates and issued.json are committed, its private keys
are not (the real `git check-ignore` judges the state's .gitignore), and a clone that has the
certificates but not the keys builds byte for byte what the golden output holds; it never mints
a new CA, and an output that needs a missing key stops with an error naming it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from golden_trees import read_tree, tree_diff
from x509_tools import user_ca

from kmc.tls import certs

ROOT = Path(__file__).resolve().parents[1]


def kmc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmc", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git")
    if git is None:
        pytest.fail("git is not installed", pytrace=False)
    return subprocess.run([git, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def clone_without_keys(case: str, into: Path) -> Path:
    """golden/<case> as a fresh clone has it: its stack, state and files, but no private key (`*.key`)."""
    shutil.copytree(ROOT / "golden" / case, into, ignore=shutil.ignore_patterns("out"))
    removed = sorted(path.relative_to(into).as_posix() for path in into.rglob("*.key"))
    for name in removed:
        (into / name).unlink()
    assert removed, f"golden/{case} holds no key to leave out"
    return into


def files(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


STACK = """\
version: 1
metricsServer:
  enabled: true
prometheusAdapter:
  enabled: true
  customMetrics:
    - {name: http_requests_per_second, series: http_requests_total, resource: pod}
  tls:
    mode: ca
    ca: {cert: pki/user-ca.crt, key: pki/user-ca.key}
"""


def test_the_state_gitignore_ignores_the_keys_and_nothing_else(tmp_path: Path) -> None:
    assert git("init", "-q", cwd=tmp_path).returncode == 0
    user_ca(tmp_path / "pki")
    (tmp_path / "stack.yaml").write_text(STACK)
    built = kmc("build", "stack.yaml", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    state = tmp_path / ".kmc-state"
    # A temporary file a crash left behind ends as the file it was to become.
    (state / "metrics-server/.a1b2c3.tls.key").write_text("a key being written\n")
    every = sorted(path.relative_to(tmp_path).as_posix() for path in state.rglob("*") if path.is_file())
    checked = git("check-ignore", "--no-index", *every, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert (
        checked.stdout.splitlines()
        == [name for name in every if name.endswith(".key")]
        == [
            ".kmc-state/metrics-server/.a1b2c3.tls.key",
            ".kmc-state/metrics-server/ca.key",
            ".kmc-state/metrics-server/tls.key",
            ".kmc-state/prometheus-adapter/tls.key",
        ]
    )
    # What `git add` takes of the state: its certificates, their record and the .gitignore.
    assert git("add", ".kmc-state", cwd=tmp_path).returncode == 0
    assert git("ls-files", ".kmc-state", cwd=tmp_path).stdout.splitlines() == [
        ".kmc-state/.gitignore",
        ".kmc-state/metrics-server/ca.crt",
        ".kmc-state/metrics-server/issued.json",
        ".kmc-state/metrics-server/tls.crt",
        ".kmc-state/prometheus-adapter/issued.json",
        ".kmc-state/prometheus-adapter/tls.crt",
    ]
    assert (state / ".gitignore").read_text() == certs.GITIGNORE


def test_a_clone_without_the_keys_builds_the_golden_bytes(tmp_path: Path) -> None:
    """golden/adapter-resource (mode ca, keys not in the output), its state's keys and the CA's
    key left out: every format, byte for byte, and nothing written into the state."""
    case = clone_without_keys("adapter-resource", tmp_path / "case")
    state = files(case)
    built = kmc("build", "stack.yaml", "--format", "all", "--out", "out", cwd=case)
    assert built.returncode == 0, built.stderr
    assert "minted" not in built.stderr and "issued" not in built.stderr
    diff = tree_diff(read_tree(ROOT / "golden/adapter-resource/out"), read_tree(case / "out"))
    assert not diff, diff
    assert files(case).keys() - {name for name in files(case) if name.startswith("out/")} == state.keys()
    assert {name: content for name, content in files(case).items() if not name.startswith("out/")} == state
    checked = kmc("build", "--check", "stack.yaml", "--format", "all", "--out", "out", cwd=case)
    assert checked.returncode == 0, checked.stderr


def test_the_lock_of_a_clone_without_the_keys_is_the_lock_of_the_machine_with_them(tmp_path: Path) -> None:
    """Without keysInOutput the output does not depend on the keys: both machines record the same inputs."""
    with_keys = tmp_path / "with"
    shutil.copytree(ROOT / "golden/adapter-resource", with_keys, ignore=shutil.ignore_patterns("out"))
    without = clone_without_keys("adapter-resource", tmp_path / "without")
    locks = []
    for case in (with_keys, without):
        built = kmc("build", "stack.yaml", "--format", "all", "--out", "out", cwd=case)
        assert built.returncode == 0, built.stderr
        locks.append((case / "out/.kmc-lock.json").read_bytes())
    assert locks[0] == locks[1]
    inputs = {name for tree in json.loads(locks[0])["trees"].values() for name in tree["inputs"]}
    assert ".kmc-state/prometheus-adapter/tls.crt" in inputs and not [name for name in inputs if name.endswith(".key")]


def test_an_output_that_needs_a_missing_key_is_an_error_naming_it(tmp_path: Path) -> None:
    """golden/full puts metrics-server's key into manifests and kustomize (keysInOutput): a clone
    without it cannot build them, says which file and how to get it, and writes nothing; the Helm
    chart, which never holds a key, still builds the golden bytes."""
    case = clone_without_keys("full", tmp_path / "case")
    for fmt in ("manifests", "kustomize", "all"):
        failed = kmc("build", "stack.yaml", "--format", fmt, "--out", "out", cwd=case)
        assert failed.returncode == 1
        assert failed.stderr == (
            "kmc: error: .kmc-state/metrics-server/tls.key is missing: certificates.keysInOutput (the manifests and kustomize output) "
            "needs metrics-server's private key, and the certificate state holds only the certificates\n"
            "  hint: private keys are kept out of git: copy it from where the state was made (or your backup), or run "
            "`kmc certs rotate stack.yaml --server metrics-server` for a new key and certificate (then commit tls.crt and issued.json)\n"
        )
        assert not (case / "out").exists()
    helm = kmc("build", "stack.yaml", "--format", "helm", "--out", "out", cwd=case)
    assert helm.returncode == 0, helm.stderr
    diff = tree_diff(read_tree(ROOT / "golden/full/out/helm"), read_tree(case / "out/helm"))
    assert not diff, diff
    assert sorted(path.name for path in (case / ".kmc-state/metrics-server").iterdir()) == ["ca.crt", "issued.json", "tls.crt"]


def test_no_new_ca_where_the_state_holds_a_certificate(tmp_path: Path) -> None:
    """The clone lacks its CA certificate but holds the serving certificate: kmc refuses to mint a
    CA over it (every APIService's caBundle would change) and names the way out."""
    case = clone_without_keys("full", tmp_path / "case")
    (case / ".kmc-state/metrics-server/ca.crt").unlink()
    failed = kmc("build", "stack.yaml", "--format", "helm", "--out", "out", cwd=case)
    assert failed.returncode == 1
    assert (
        "error: $.metricsServer.tls.mode: .kmc-state/metrics-server/ca.crt is missing, and .kmc-state/metrics-server holds tls.crt, issued.json: "
        "kmc mints a new CA only where there is no state\n" in failed.stderr
    )
    assert "kmc certs rotate STACK --ca" in failed.stderr
    assert sorted(path.name for path in (case / ".kmc-state/metrics-server").iterdir()) == ["issued.json", "tls.crt"]


def test_a_build_without_any_state_mints_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text("version: 1\nmetricsServer: {enabled: true}\n")
    first = kmc("build", "-q", "stack.yaml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr == (
        "kmc: metrics-server: no certificate in .kmc-state/metrics-server: minted a new CA and a serving certificate; "
        "commit the certificates and issued.json (the .key files stay out of git)\n"
    )
    (tmp_path / "stack.yaml").write_text("version: 1\nnamespace: observability\nmetricsServer: {enabled: true}\n")
    moved = kmc("build", "-q", "stack.yaml", cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert moved.stderr.startswith("kmc: metrics-server: the serving certificate in .kmc-state/metrics-server no longer fit the stack")
    assert kmc("build", "stack.yaml", cwd=tmp_path).stderr.count("kmc: metrics-server:") == 0
