"""How build time grows with the stack: generated stacks of N and 4N extra jobs (and E, 4E
environments), cold `kmc build --format all` processes, interleaved, medians, peak RSS.

    .venv/bin/python benchmarks/scaling.py [--jobs 500] [--environments 5] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from large_stack import large_stack
from timing import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--environments", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    kmc = str(Path(sys.executable).parent / "kmc")
    sizes = {"1x": (args.jobs, args.environments), "4x": (4 * args.jobs, 4 * args.environments)}
    with tempfile.TemporaryDirectory() as temp:
        commands = {}
        for name, (jobs, environments) in sizes.items():
            stack = Path(temp) / f"{name}.yaml"
            stack.write_text(large_stack(jobs, environments))
            commands[name] = [kmc, "build", "-q", str(stack), "--format", "all", "--out", str(Path(temp) / f"out-{name}")]
        for command in commands.values():
            measure(command)
        samples: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(measure(command))
    medians = {name: statistics.median(seconds for seconds, _ in values) for name, values in samples.items()}
    for name, (jobs, environments) in sizes.items():
        peak = max(rss for _, rss in samples[name])
        print(f"  {name}: {jobs} jobs, {environments} environments  median {medians[name]:.2f} s  peak RSS {peak / 1024:.0f} MiB")
    print(f"  4x input / 1x input: {medians['4x'] / medians['1x']:.2f}x time")


if __name__ == "__main__":
    main()
