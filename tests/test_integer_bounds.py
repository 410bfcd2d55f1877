"""Integers in a stack stay below what every reader of the output holds exactly.

Python and the manifests keep any integer exact; Helm reads values as float64 (2^53 + 1 becomes
2^53) and kustomize's JSON patches do the same. So every integer of the schema has a maximum of
at most 2^53 - 1 (or the Kubernetes field's own width), and a larger value is a located error
with a hint. The rounding itself is shown with the real helm and kubectl kustomize.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stack_diagnostics import diagnostics
from tools import HELMS, KUBECTLS, tool

from kmc.check.schema import load_schema

EXACT = 2**53 - 1


def _integers(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        kinds = node.get("type")
        if kinds == "integer" or (isinstance(kinds, list) and "integer" in kinds):
            yield where, node
        for key, child in node.items():
            yield from _integers(child, f"{where}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _integers(child, f"{where}/{index}")


def test_every_schema_integer_is_bounded_by_what_helm_holds_exactly() -> None:
    unbounded = [where for where, node in _integers(load_schema(), "#") if node.get("maximum", EXACT + 1) > EXACT]
    assert not unbounded


def test_integers_beyond_the_bounds_are_located_errors_with_a_hint(tmp_path: Path) -> None:
    stack = (
        "version: 1\n"
        "prometheus:\n"
        "  tolerations:\n"
        "    - {key: dedicated, operator: Exists, effect: NoExecute, tolerationSeconds: 9007199254740993}\n"
        "autoscaling:\n"
        "  - name: api\n"
        "    namespace: shop\n"
        "    target: {kind: Deployment, name: api}\n"
        "    maxReplicas: 2147483648\n"
        "    metrics:\n"
        "      - {resource: cpu, averageUtilization: 60}\n"
    )
    assert diagnostics(tmp_path, stack) == [
        (
            "error",
            4,
            80,
            "$.prometheus.tolerations[0].tolerationSeconds",
            "9007199254740993 is out of range: must be at most 9007199254740991",
            "Helm and kustomize read numbers as 64-bit floats, exact only up to 2^53 - 1; a larger value would change on its way to the cluster",
        ),
        (
            "error",
            9,
            18,
            "$.autoscaling[0].maxReplicas",
            "2147483648 is out of range: must be at most 2147483647",
            "the Kubernetes field is a 32-bit integer",
        ),
    ]


def test_helm_and_kustomize_round_integers_beyond_2_to_the_53(tmp_path: Path) -> None:
    """Why the bound: 2^53 - 1 comes back exact from both, 2^53 + 1 does not."""
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: bounds\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(f"exact: {EXACT}\nbeyond: {EXACT + 2}\n")
    (chart / "templates/values.yaml").write_text("exact: {{ toYaml .Values.exact }}\nbeyond: {{ toYaml .Values.beyond }}\n")
    helm = subprocess.run([tool(HELMS["helm-3.19"]), "template", "bounds", chart], capture_output=True, text=True, timeout=60)
    assert helm.returncode == 0, helm.stderr
    assert helm.stdout.splitlines()[-2:] == [f"exact: {EXACT}", f"beyond: {EXACT + 1}"]

    base, overlay = tmp_path / "base", tmp_path / "overlay"
    base.mkdir()
    overlay.mkdir()
    (base / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bounds\n")
    (base / "kustomization.yaml").write_text("resources:\n- configmap.yaml\n")
    patch = f"- {{op: add, path: /exact, value: {EXACT}}}\n- {{op: add, path: /beyond, value: {EXACT + 2}}}\n"
    (overlay / "kustomization.yaml").write_text(
        "resources:\n- ../base\npatches:\n- target: {kind: ConfigMap, name: bounds}\n  patch: |\n" + "".join(f"    {line}\n" for line in patch.splitlines())
    )
    kustomize = subprocess.run([tool(KUBECTLS["kubectl-1.37"]), "kustomize", overlay], capture_output=True, text=True, timeout=60)
    assert kustomize.returncode == 0, kustomize.stderr
    assert f"exact: {EXACT}\n" in kustomize.stdout
    assert f"beyond: {EXACT + 1}\n" in kustomize.stdout
