"""The real external tools the tests run, installed by scripts/install-tools."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = Path(os.environ.get("KMC_TOOLS_DIR", ROOT / ".tools"))
PROMTOOLS = {"2.53": TOOLS / "prometheus-2" / "promtool", "3.x": TOOLS / "prometheus-3" / "promtool"}


def tool(path: Path) -> Path:
    """`path` if it is installed; otherwise fail (never skip: a missing tool is a broken setup)."""
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not installed; run scripts/install-tools (scripts/test does)", pytrace=False)
    return path


# kubectl builds whose `kubectl kustomize` judges the kustomize trees (kustomize 5.5+).
KUBECTLS = {
    "kubectl-1.34": TOOLS / "helm-3" / "kubectl",
    "kubectl-1.37": TOOLS / "helm-4" / "kubectl",
}
if Path("/usr/bin/kubectl").exists():  # the machine's own (kubectl 1.32, kustomize 5.5 here)
    KUBECTLS["kubectl-system"] = Path("/usr/bin/kubectl")

# The Helm releases that judge the chart (lint, template, pull from a registry).
HELMS = {
    "helm-3.19": TOOLS / "helm-3" / "helm",
    "helm-4.3": TOOLS / "helm-4" / "helm",
}
