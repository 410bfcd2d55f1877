"""How build time grows with the stack (issue 7): a generated stack of N extra scrape jobs, R
prometheus-adapter rules and D Grafana dashboards (by default the issue's 2,000 + 1,000 + 200),
and one of a quarter of each, both with E environments. Cold `kmc build --format manifests`
processes into an empty directory, interleaved, medians, peak RSS; then, in fresh processes
too, where the time goes (benchmarks/stages.py): reading, validating, compiling, emitting,
writing.

Environments stay fixed: the output holds every object once per environment, so scaling them
too would grow the output (and the time) with the product, not with the input.

    .venv/bin/python benchmarks/scaling.py [--jobs 2000] [--adapter-rules 1000] [--dashboards 200] [--environments 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from large_stack import write_large_stack
from timing import measure

STAGES = Path(__file__).resolve().parent / "stages.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--adapter-rules", type=int, default=1000)
    parser.add_argument("--dashboards", type=int, default=200)
    parser.add_argument("--environments", type=int, default=3)
    parser.add_argument("--format", default="manifests", choices=("manifests", "helm", "kustomize", "all"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # An installed kmc has its bytecode: without it each process would compile kmc's modules again.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    kmc = str(Path(sys.executable).parent / "kmc")
    full = (args.jobs, args.adapter_rules, args.dashboards)
    sizes = {"1/4": tuple(count // 4 for count in full), "full": full}
    with tempfile.TemporaryDirectory() as temp:
        stacks = {
            name: write_large_stack(Path(temp) / f"stack-{index}", jobs, args.environments, dashboards, rules)
            for index, (name, (jobs, rules, dashboards)) in enumerate(sizes.items())
        }
        fresh = itertools.count()

        def out() -> str:
            return str(Path(temp) / f"out-{next(fresh)}")

        def command(name: str) -> list[str]:
            return [kmc, "build", "-q", str(stacks[name]), "--format", args.format, "--out", out()]

        for name in stacks:
            measure(command(name))  # warm the file cache once
        samples: dict[str, list[tuple[float, int]]] = {name: [] for name in stacks}
        stages: dict[str, list[dict[str, float]]] = {name: [] for name in stacks}
        for _ in range(args.runs):  # interleaved, so drift hits every size alike
            for name in stacks:
                samples[name].append(measure(command(name)))
        if args.format != "all":
            for _ in range(args.runs):
                for name in stacks:
                    done = subprocess.run(
                        [sys.executable, str(STAGES), str(stacks[name]), out(), "--format", args.format], check=True, capture_output=True, text=True
                    )
                    stages[name].append(json.loads(done.stdout)["seconds"])
    medians = {name: statistics.median(seconds for seconds, _ in values) for name, values in samples.items()}
    print(f"kmc build --format {args.format} into an empty directory, {args.environments} environments, {args.runs} runs each, medians")
    for name, (jobs, rules, dashboards) in sizes.items():
        peak = max(rss for _, rss in samples[name])
        print(f"  {name:4}: {jobs} jobs, {rules} adapter rules, {dashboards} dashboards  {medians[name]:.2f} s  peak RSS {peak / 1024:.0f} MiB")
        if stages[name]:
            split = ", ".join(f"{stage} {statistics.median(run[stage] for run in stages[name]) * 1000:.0f}" for stage in stages[name][0])
            print(f"        stages (ms): {split}")
    print(f"  4x input / 1x input: {medians['full'] / medians['1/4']:.2f}x time")


if __name__ == "__main__":
    main()
