"""What the output needs and does not hold: declared by the compiler from the stack, said after
every build, written beside each environment's objects and into the chart's NOTES.txt.

That the declarations are exact (every object a pod needs is held or declared, nothing declared
is unneeded) is proven over every golden stack and generated stacks in test_startability.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_helm import helm
from tools import KUBECTLS, ROOT, tool

from kmc import pipeline
from kmc.components.prerequisites import PRIVILEGED, for_values, needs

FULL = ROOT / "golden/full/stack.yaml"
# golden/full, the stack's own values: every kind of prerequisite but a Namespace of its own, and
# the cluster settings of its platform (kubeadm) for the control-plane jobs it turns on.
FULL_DEFAULT = [
    "Namespace shop",
    "CustomResourceDefinition certificates.cert-manager.io",
    "CustomResourceDefinition httproutes.gateway.networking.k8s.io",
    "CustomResourceDefinition issuers.cert-manager.io",
    "Secret monitoring/alertmanager-receivers",
    "Secret monitoring/alertmanager-smtp",
    "Secret monitoring/alerts-tls",
    "Secret monitoring/checkout-metrics",
    "Secret monitoring/egress-proxy",
    "Secret monitoring/etcd-client",
    "Secret monitoring/grafana-admin",
    "Secret monitoring/grafana-db",
    "Secret monitoring/influxdb-grafana",
    "Secret monitoring/influxdb-prometheus",
    "Secret monitoring/metrics-push",
    "Secret monitoring/mimir-remote-write",
    "Secret monitoring/mimir-tls",
    "Secret monitoring/registry-credentials",
    "Secret monitoring/thanos-grafana",
    "Secret monitoring/thanos-objstore",
    "Issuer monitoring/internal-ca",
    "ClusterIssuer letsencrypt",
    "Gateway gateways/public",
    "IngressClass nginx",
    "PriorityClass monitoring",
    "PriorityClass monitoring-critical",
    "StorageClass fast-ssd",
    "cluster setting: kube-controller-manager metrics on the node's address",
    "cluster setting: kube-proxy metrics on the node's address",
    "cluster setting: kube-scheduler metrics on the node's address",
    "cluster setting: kube-scheduler serving certificate signed by the cluster CA",
    "cluster setting: kubelet serving certificates signed by the cluster CA",
]


def _compiled(text: str, tmp_path: Path) -> pipeline.Compiled:
    (tmp_path / "stack.yaml").write_text(text)
    return pipeline.compile_stack(tmp_path / "stack.yaml")


def test_golden_full_needs_in_a_fixed_order() -> None:
    stack = pipeline.compile_stack(FULL, certificates="read").stack
    manifests = pipeline.prerequisites(stack, "manifests")
    assert [item.ref for item in manifests["default"]] == FULL_DEFAULT
    # The chart never holds the serving key kmc made (keysInOutput puts it in manifests and kustomize only).
    chart = [item.ref for item in pipeline.prerequisites(stack, "helm")["default"]]
    assert sorted(set(chart) - set(FULL_DEFAULT)) == ["Secret monitoring/metrics-server-tls"]
    # dev: no prometheus-adapter (so no HPA and no cert-manager objects of kmc's), its own StorageClass
    # for Prometheus; cert-manager still makes the certificates of Grafana's and Thanos Query's Ingresses.
    dev = {item.ref: item for item in manifests["dev"]}
    assert "Namespace shop" not in dev and "CustomResourceDefinition issuers.cert-manager.io" not in dev
    assert dev["CustomResourceDefinition certificates.cert-manager.io"].why == (
        "the Certificate cert-manager makes for Grafana's Ingress; the Certificate cert-manager makes for Thanos Query's Ingress"
    )
    assert "Gateway gateways/public-prod" not in dev  # only prod's HTTPRoute attaches to it
    assert "StorageClass standard" in dev
    admin = next(item for item in manifests["default"] if item.ref == "Secret monitoring/grafana-admin")
    assert admin.keys == ("admin-password", "admin-user", "secret-key")
    assert admin.why == "Grafana's admin login and secret key (grafana.adminSecret)"


def test_keys_kmc_made_are_needed_where_the_output_does_not_hold_them(tmp_path: Path) -> None:
    compiled = _compiled("version: 1\nmetricsServer: {enabled: true}\n", tmp_path)
    (item,) = for_values(needs(compiled.stack, keys_in_output=False), compiled.stack.values(None))
    assert item.ref == "Secret monitoring/metrics-server-tls" and item.keys == ("tls.crt", "tls.key")
    # kmc prints the Secret from its state: the private key never passes through an output tree.
    assert item.create == ("kmc certs secrets stack.yaml --server metrics-server | kubectl apply -f -",)
    assert for_values(needs(compiled.stack, keys_in_output=True), compiled.stack.values(None)) == ()


def test_a_namespace_kmc_does_not_create_is_needed_with_the_level_node_exporter_needs(tmp_path: Path) -> None:
    stack = "version: 1\ncreateNamespace: false\nenvironments:\n  lite:\n    nodeExporter: {enabled: false}\n"
    compiled = _compiled(stack, tmp_path)
    by_env = pipeline.prerequisites(compiled.stack, "manifests")
    (default,) = by_env["default"]
    assert default.ref == "Namespace monitoring" and default.keys == (PRIVILEGED,)
    assert default.create == ("kubectl create namespace monitoring", f"kubectl label namespace monitoring {PRIVILEGED}")
    (lite,) = by_env["lite"]
    assert lite.keys == ()


def test_cert_manager_needs_its_kinds_and_the_named_issuer(tmp_path: Path) -> None:
    stack = "version: 1\nmetricsServer:\n  enabled: true\n  tls: {mode: cert-manager, certManager: {issuer: {kind: ClusterIssuer, name: cluster-ca}}}\n"
    items = pipeline.prerequisites(_compiled(stack, tmp_path).stack, "manifests")["default"]
    assert [item.ref for item in items] == ["CustomResourceDefinition certificates.cert-manager.io", "ClusterIssuer cluster-ca"]


def test_helm_notes_list_what_each_environment_needs() -> None:
    """NOTES.txt as `helm install` prints it: each prerequisite under the switches that need it."""
    chart = ROOT / "golden/full/out/helm/monitoring-full"
    notes = helm("helm-4.3", "install", "rel", chart, "--dry-run=client").stdout.split("NOTES:\n", 1)[1]
    assert "  Secret monitoring/grafana-admin (admin-password, admin-user, secret-key): Grafana's admin login" in notes
    assert "  Secret monitoring/metrics-server-tls (tls.crt, tls.key): metrics-server's serving certificate and key, made by kmc" in notes
    assert "    kmc certs secrets stack.yaml --server metrics-server | kubectl apply -f -\n" in notes
    assert "  StorageClass fast-ssd: Prometheus' volume claims ask for it" in notes
    assert "  Namespace shop: " in notes
    dev = helm("helm-4.3", "install", "rel", chart, "--dry-run=client", "-f", chart / "values-dev.yaml").stdout.split("NOTES:\n", 1)[1]
    assert "  StorageClass standard: Prometheus' volume claims ask for it" in dev
    assert "Namespace shop" not in dev  # no prometheus-adapter in dev, so no HPA
    assert "{{" not in notes + dev


def test_the_file_is_beside_each_environment_and_not_an_object(tmp_path: Path) -> None:
    out = ROOT / "golden/full/out"
    for env in ("default", "dev", "prod"):
        text = (out / "manifests" / env / "PREREQUISITES.md").read_text()
        assert text.startswith("# Before you apply\n\nFor the objects beside this file, applied with `kubectl apply -f .`.\n")
        assert (out / "kustomize/overlays" / env / "PREREQUISITES.md").read_text() == text.replace("kubectl apply -f .", "kubectl apply -k .")
    assert "| Secret `monitoring/etcd-client` | `ca.crt`, `tls.crt`, `tls.key` |" in (out / "manifests/default/PREREQUISITES.md").read_text()
    # kubectl reads only .yaml, .yml and .json files of a directory: the file is no object to it.
    kubectl = tool(KUBECTLS["kubectl-1.37"])
    env_dir = out / "manifests/default"
    listed = subprocess.run([kubectl, "label", "--local", "-f", env_dir, "checked=yes", "-o", "name"], capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == len(list(env_dir.glob("*.yaml")))
    alone = subprocess.run(
        [kubectl, "label", "--local", "-f", env_dir / "PREREQUISITES.md", "x=y", "-o", "name"], capture_output=True, text=True, timeout=120, check=False
    )
    assert alone.returncode != 0, "named on its own, kubectl would parse it: only the directory rule keeps it out"
    assert "PREREQUISITES.md" not in (out / "kustomize/overlays/default/kustomization.yaml").read_text()
    assert (
        (ROOT / "golden/minimal/out/manifests/default/PREREQUISITES.md")
        .read_text()
        .endswith("Nothing to create first: these objects need nothing beyond what every cluster has.\n")
    )


def _kmc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    kmc = shutil.which("kmc", path=str(Path(sys.executable).parent)) or "kmc"
    return subprocess.run([kmc, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def full(tmp_path: Path) -> Path:
    shutil.copy(FULL, tmp_path / "stack.yaml")
    shutil.copytree(FULL.parent / "dashboards", tmp_path / "dashboards")
    shutil.copytree(FULL.parent / "monitors", tmp_path / "monitors")
    return tmp_path


def test_build_says_what_to_create_first_and_the_lock_says_it_again(full: Path) -> None:
    first = _kmc("build", "stack.yaml", "--format", "all", "--out", "out", cwd=full)
    assert first.returncode == 0, first.stderr
    # The copy has no certificate state: the first build mints it, and says so first.
    assert first.stderr.startswith(
        "kmc: metrics-server: no certificate in .kmc-state/metrics-server: minted a new CA and a serving certificate; "
        "commit the certificates and issued.json (the .key files stay out of git)\n"
    )
    said = first.stderr.split("kmc: before you apply, ", 1)[1].splitlines()
    assert re.match(r"kmc: \d+ objects, ", said[-1]), "the summary line stays last"
    said = said[:-1]
    assert said[0] == "create what the output needs and does not hold, and set the cluster up so (why and how: PREREQUISITES.md, the chart's NOTES.txt):"
    assert said[-1] == "  cluster setting: kubelet serving certificates signed by the cluster CA", "the cluster's settings last"
    assert "  Secret monitoring/metrics-server-tls: tls.crt, tls.key (helm only)" in said
    assert "  StorageClass standard (dev only)" in said
    assert "  Secret monitoring/grafana-admin: admin-password, admin-user, secret-key" in said
    objects = [line.strip() if "cluster setting: " in line else line.split(":")[0].split(" (")[0].strip() for line in said[1:]]
    assert [name for name in objects if name in FULL_DEFAULT] == FULL_DEFAULT, "in the order of the files"
    again = _kmc("build", "stack.yaml", "--format", "all", "--out", "out", cwd=full)
    assert " current (" in again.stderr and "; lock; " in again.stderr, again.stderr
    assert "minted" not in again.stderr
    assert again.stderr.split("kmc: before you apply, ", 1)[1].splitlines()[:-1] == said
    assert _kmc("-q", "build", "stack.yaml", "--format", "all", "--out", "out", cwd=full).stderr == ""
    check = _kmc("build", "--check", "stack.yaml", "--format", "all", "--out", "out", cwd=full)
    assert check.returncode == 0 and "before you apply" not in check.stderr
    only = _kmc("build", "stack.yaml", "--format", "manifests", "--env", "dev", "--out", "out", cwd=full)
    assert "(why and how: PREREQUISITES.md):" in only.stderr and "(dev only)" not in only.stderr


def test_a_stack_that_needs_nothing_says_nothing_more(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text("version: 1\n")
    built = _kmc("build", "stack.yaml", "--out", "out", cwd=tmp_path)
    assert built.returncode == 0 and "before you apply" not in built.stderr


def test_the_built_in_priority_classes_are_not_asked_for() -> None:
    """The API server creates system-cluster-critical and system-node-critical itself: golden/full's
    pods name them, and nobody is told to create them."""
    stack = pipeline.compile_stack(ROOT / "golden/full/stack.yaml").stack
    for items in pipeline.prerequisites(stack, "manifests").values():
        classes = {item.ref for item in items if item.kind == "PriorityClass"}
        assert classes and not classes & {"PriorityClass system-cluster-critical", "PriorityClass system-node-critical"}
