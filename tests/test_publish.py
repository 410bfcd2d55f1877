"""`kmc package` and `kmc publish`, judged by real tools: Helm 3 and 4 template the package and
pull what kmc pushed from a real OCI registry (Debian's docker-registry) on loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from object_sets import chart_objects, difference, directory_objects, helm_objects
from registry import free_port, running_registry
from tools import HELMS, ROOT, tool

CHART = ROOT / "golden/full/out/helm/monitoring-full"
MANIFESTS = ROOT / "golden/full/out/manifests/default"
PACKAGE = "monitoring-full-1.2.3-rc.1+build.7.tgz"
# Not a real key: the scanner looks for the PEM armour, as text or base64.
FAKE_KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBfakefakefakefakefakefakefakefakefakefakeoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n"


def kmc(*args: str | Path, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmc", *map(str, args)], capture_output=True, text=True, input=stdin, timeout=120, env=env)


def helm(name: str, *args: str | Path) -> str:
    result = subprocess.run([tool(HELMS[name]), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_package_is_byte_reproducible_across_clones_and_times(tmp_path: Path) -> None:
    digests = set()
    for index, (mtime, mode) in enumerate([(1_000_000_000, 0o600), (1_900_000_000, 0o664)]):
        clone = tmp_path / f"clone{index}"
        shutil.copytree(ROOT / "golden/full", clone, ignore=shutil.ignore_patterns("out"))
        built = kmc("build", clone / "stack.yaml", "--format", "helm", "--out", clone / "out")
        assert built.returncode == 0, built.stderr
        for path in (clone / "out").rglob("*"):
            if path.is_file():
                path.chmod(mode)
                os.utime(path, (mtime, mtime))
        result = kmc("package", clone / "out/helm/monitoring-full", "-d", clone / "dist")
        assert result.returncode == 0, result.stderr
        content = (clone / "dist" / PACKAGE).read_bytes()
        assert result.stdout.strip().endswith(f"sha256:{hashlib.sha256(content).hexdigest()}")
        digests.add(hashlib.sha256(content).hexdigest())
    assert len(digests) == 1


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_helm_templates_and_lints_the_package(helm_name: str, tmp_path: Path) -> None:
    assert kmc("package", CHART, "-d", tmp_path).returncode == 0
    helm(helm_name, "lint", "--strict", tmp_path / PACKAGE)
    built = helm_objects(helm(helm_name, "template", "r", tmp_path / PACKAGE))
    expected = chart_objects(directory_objects(MANIFESTS), namespace=False)  # by default: no Namespace, never the key Secrets
    assert built == expected, difference(expected, built)


@pytest.mark.parametrize(
    "planted",
    [
        {"templates/key.yaml": FAKE_KEY},
        {"templates/secret.yaml": "apiVersion: v1\nkind: Secret\ndata:\n  tls.key: " + base64.b64encode(FAKE_KEY.encode()).decode() + "\n"},
    ],
    ids=["pem", "base64-in-secret"],
)
def test_package_and_publish_refuse_a_private_key(planted: dict[str, str], tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    for name, text in planted.items():
        (chart / name).write_text(text)
    result = kmc("package", chart, "-d", tmp_path / "dist")
    assert result.returncode == 1 and "refusing to package a private key" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
    result = kmc("publish", chart, f"oci://127.0.0.1:{free_port()}/charts", "--plain-http")
    assert result.returncode == 1 and "private key" in result.stderr, result.stderr


@pytest.mark.slow
def test_publish_then_pull_with_helm_3_and_4(tmp_path: Path) -> None:
    assert kmc("package", CHART, "-d", tmp_path / "dist").returncode == 0
    package = (tmp_path / "dist" / PACKAGE).read_bytes()
    with running_registry(tmp_path / "registry") as host:
        first = kmc("publish", CHART, f"oci://{host}/charts", "--plain-http")
        assert first.returncode == 0, first.stderr
        again = kmc("publish", tmp_path / "dist" / PACKAGE, f"oci://{host}/charts/", "--plain-http")
        assert again.returncode == 0, again.stderr
        assert first.stdout == again.stdout  # same chart, same digest
        reference, _, digest = first.stdout.strip().partition("@")
        assert reference == f"{host}/charts/monitoring-full:1.2.3-rc.1_build.7" and digest.startswith("sha256:")
        for name in sorted(HELMS):
            pulled = tmp_path / name
            pulled.mkdir()
            output = subprocess.run(
                [tool(HELMS[name]), "pull", f"oci://{host}/charts/monitoring-full", "--version", "1.2.3-rc.1+build.7", "--plain-http", "-d", pulled],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert output.returncode == 0, output.stderr
            assert digest in output.stdout + output.stderr
            assert (pulled / PACKAGE).read_bytes() == package
            built = helm_objects(helm(name, "template", "r", pulled / PACKAGE))
            assert built == chart_objects(directory_objects(MANIFESTS), namespace=False)


@pytest.mark.slow
def test_publish_with_credentials(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry", users={"ci": "s3cret"}) as host:
        target = f"oci://{host}/team/charts"
        anonymous = kmc("publish", CHART, target, "--plain-http", env={**os.environ, "DOCKER_CONFIG": str(tmp_path / "none")})
        assert anonymous.returncode == 1 and "asks for credentials" in anonymous.stderr, anonymous.stderr
        wrong = kmc("publish", CHART, target, "--plain-http", "--username", "ci", "--password-stdin", stdin="guess\n")
        assert wrong.returncode == 1 and "refused the credentials" in wrong.stderr, wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1
        right = kmc("publish", CHART, target, "--plain-http", "--username", "ci", "--password-stdin", stdin="s3cret\n")
        assert right.returncode == 0, right.stderr
        docker = tmp_path / "docker"
        docker.mkdir()
        (docker / "config.json").write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(b"ci:s3cret").decode()}}}))
        from_config = kmc("publish", CHART, target, "--plain-http", env={**os.environ, "DOCKER_CONFIG": str(docker)})
        assert from_config.returncode == 0, from_config.stderr
        assert from_config.stdout == right.stdout


@pytest.mark.parametrize(
    ("reference", "complaint"),
    [
        ("https://registry.example.com/charts", "is not an OCI registry reference"),
        ("oci://registry.example.com/Charts", "is not an OCI registry reference"),
        ("oci://registry.example.com/charts:1.0", "is not an OCI registry reference"),
    ],
)
def test_bad_reference_is_one_clear_line(reference: str, complaint: str) -> None:
    result = kmc("publish", CHART, reference, "--plain-http")
    assert result.returncode == 1 and complaint in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_registry_down_is_one_clear_line() -> None:
    result = kmc("publish", CHART, f"oci://127.0.0.1:{free_port()}/charts", "--plain-http")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("kmc: error: cannot reach the registry 127.0.0.1:") and len(result.stderr.strip().splitlines()) == 1


def test_package_of_a_directory_without_chart_is_an_error(tmp_path: Path) -> None:
    result = kmc("package", tmp_path)
    assert result.returncode == 1 and "no Chart.yaml" in result.stderr


@pytest.mark.slow
def test_a_published_version_is_never_replaced_with_other_content(tmp_path: Path) -> None:
    changed = tmp_path / "changed"
    shutil.copytree(CHART, changed)
    (changed / "values.yaml").write_text((changed / "values.yaml").read_text() + "# another chart under the same version\n")
    with running_registry(tmp_path / "registry") as host:
        target = f"oci://{host}/charts"
        first = kmc("publish", CHART, target, "--plain-http")
        assert first.returncode == 0, first.stderr

        refused = kmc("publish", changed, target, "--plain-http")
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.startswith(f"kmc: error: {host}/charts/monitoring-full:1.2.3-rc.1_build.7 is already published with other content")
        assert "raise `chart.version` in the stack" in refused.stderr and "--force" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1

        same = kmc("publish", CHART, target, "--plain-http")  # the same chart again: nothing to do
        assert same.returncode == 0, same.stderr
        assert same.stdout == first.stdout
        assert "already holds this chart; nothing was sent" in same.stderr

        forced = kmc("publish", changed, target, "--plain-http", "--force")
        assert forced.returncode == 0, forced.stderr
        assert forced.stdout != first.stdout
        pulled = tmp_path / "pulled"
        pulled.mkdir()
        helm(sorted(HELMS)[0], "pull", f"{target}/monitoring-full", "--version", "1.2.3-rc.1+build.7", "--plain-http", "-d", pulled)
        assert kmc("package", changed, "-d", tmp_path / "dist").returncode == 0
        assert (pulled / PACKAGE).read_bytes() == (tmp_path / "dist" / PACKAGE).read_bytes()


def test_the_chart_version_is_the_stacks_not_kmcs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack without `chart.version` gets 0.1.0, whatever kmc's own version is."""
    import yaml

    from kmc import pipeline
    from kmc.emitters import helm as helm_emitter

    monkeypatch.setattr(helm_emitter, "__version__", "9.8.7")
    (tmp_path / "stack.yaml").write_text('version: 1\ncluster: {name: demo, kubernetesVersion: "1.33"}\n')
    compiled = pipeline.compile_stack(tmp_path / "stack.yaml")
    chart = yaml.safe_load(pipeline.emit(compiled, ("helm",), None)["helm"]["kmc-monitoring/Chart.yaml"])
    assert (chart["version"], chart["appVersion"]) == ("0.1.0", "0.1.0")
