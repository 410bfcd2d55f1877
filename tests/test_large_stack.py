"""The generated stacks benchmarks/scaling.py times are valid and hold what they claim:
every kind of adapter rule, each exposing its own metric, and HPAs scaling on them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tools import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from large_stack import write_large_stack

from kmc import pipeline
from kmc.components import adapter_rules


@pytest.mark.parametrize(("jobs", "rules"), [(8, 40), (3, 17)])
def test_generated_stack_compiles_with_every_rule_kind(tmp_path: Path, jobs: int, rules: int) -> None:
    stack_file = write_large_stack(tmp_path, jobs, environments=2, dashboards=3, adapter_rules=rules)
    compiled = pipeline.compile_stack(stack_file, certificates="files")
    adapter = compiled.stack.prometheus_adapter
    counts = (len(adapter.custom), len(adapter.external), len(adapter.raw_custom), len(adapter.raw_external))
    assert sum(counts) == rules and all(counts)
    exposed = [metric for _, metric in adapter_rules.exposed(adapter)]
    assert len(exposed) == rules and len(set(exposed)) == rules
    assert {metric.api for metric in exposed} == {"custom", "external"}
    assert compiled.stack.autoscaling and len(compiled.stack.grafana.files) == 3
