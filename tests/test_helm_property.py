"""Property: for generated stacks, `helm template -f values-E.yaml` equals the manifests of E (with
`namespace.create=true`: the chart leaves the Namespace out by default), and
`helm lint --strict` is clean (real Helm 3 and 4; few examples, as each one runs helm per environment)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from object_sets import chart_objects, difference, directory_objects, helm_objects, namespace_opt_in
from stack_strategies import dump, stacks
from tools import HELMS, tool

from kmc import pipeline


@pytest.mark.slow
@pytest.mark.parametrize("helm_name", sorted(HELMS))
@settings(
    max_examples=10, deadline=None, phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(doc=stacks())
def test_helm_template_equals_manifests(helm_name: str, doc: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("helm")
    (root / "stack.yaml").write_bytes(dump(doc))
    pipeline.build(root / "stack.yaml", root / "out", ("manifests", "helm"), None)
    (chart,) = (root / "out/helm").iterdir()
    for env_dir in sorted((root / "out/manifests").iterdir()):
        values = [] if env_dir.name == "default" else ["-f", str(chart / f"values-{env_dir.name}.yaml")]
        values += namespace_opt_in(chart)
        for command in (["lint", "--strict"], ["template", "release"]):
            result = subprocess.run([tool(HELMS[helm_name]), *command, str(chart), *values], capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
        built = helm_objects(result.stdout)
        expected = chart_objects(directory_objects(env_dir), namespace=True)
        assert built == expected, difference(expected, built)


def test_property_inputs_exist() -> None:
    assert all(Path(path).name == "helm" for path in HELMS.values())
