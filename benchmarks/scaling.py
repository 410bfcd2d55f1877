"""How build time grows with the stack: generated stacks of N and 4N extra jobs and D and 4D
dashboards, both with E environments; cold `kmc build --format all` processes into an empty
directory, interleaved, medians, peak RSS.

Environments stay fixed: the output holds every object once per environment, so scaling them
too would grow the output (and the time) with the product, not with the input.

    .venv/bin/python benchmarks/scaling.py [--jobs 500] [--dashboards 50] [--environments 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
from pathlib import Path

from large_stack import write_large_stack
from timing import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--environments", type=int, default=3)
    parser.add_argument("--dashboards", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    kmc = str(Path(sys.executable).parent / "kmc")
    sizes = {"1x": (args.jobs, args.environments, args.dashboards), "4x": (4 * args.jobs, args.environments, 4 * args.dashboards)}
    with tempfile.TemporaryDirectory() as temp:
        stacks = {name: write_large_stack(Path(temp) / name, *size) for name, size in sizes.items()}
        fresh = itertools.count()

        def command(name: str) -> list[str]:
            return [kmc, "build", "-q", str(stacks[name]), "--format", "all", "--out", str(Path(temp) / f"out-{next(fresh)}")]

        for name in stacks:
            measure(command(name))
        samples: dict[str, list[tuple[float, int]]] = {name: [] for name in stacks}
        for _ in range(args.runs):
            for name in stacks:
                samples[name].append(measure(command(name)))
    medians = {name: statistics.median(seconds for seconds, _ in values) for name, values in samples.items()}
    for name, (jobs, environments, dashboards) in sizes.items():
        peak = max(rss for _, rss in samples[name])
        print(f"  {name}: {jobs} jobs, {environments} environments, {dashboards} dashboards  median {medians[name]:.2f} s  peak RSS {peak / 1024:.0f} MiB")
    print(f"  4x input / 1x input: {medians['4x'] / medians['1x']:.2f}x time")


if __name__ == "__main__":
    main()
