"""Two kmcs side by side: the same golden/full builds, interleaved round by round, with `helm
template` of the chart in each round, so that a change is measured against what it replaces
under the same load (this machine's noise moves both alike).

    python3 -m venv /tmp/bench-old && (cd /tmp/old-checkout && /tmp/bench-old/bin/pip install .)
    /tmp/bench/bin/python benchmarks/against.py /tmp/bench-old/bin/kmc [--runs 11]

The kmc under test is the console script of the interpreter running this file. Each case says
`old` and `new` medians, new/old, and each against helm (all paired: medians of per-round ratios).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from timing import measure, paired

ROOT = Path(__file__).resolve().parents[1]
STACK = str(ROOT / "golden/full/stack.yaml")


def cases(kmc: str, work: Path) -> dict[str, Callable[[], list[str]]]:
    """The builds to time for one kmc, each a command made fresh per round."""
    current, proven, fresh = work / "current", work / "proven", itertools.count()
    for out in (current, proven):
        subprocess.run([kmc, "build", "-q", STACK, "--format", "all", "--out", str(out)], check=True)

    def compiling(fmt: str) -> Callable[[], list[str]]:
        def command() -> list[str]:
            (current / ".kmc-lock.json").unlink(missing_ok=True)  # so that the lock cannot answer
            return [kmc, "build", STACK, "--format", fmt, "--out", str(current)]

        return command

    return {
        "manifests, compile": compiling("manifests"),
        "all formats, compile": compiling("all"),
        "manifests, empty directory": lambda: [kmc, "build", STACK, "--format", "manifests", "--out", str(work / f"fresh-{next(fresh)}")],
        "all formats, output current": lambda: [kmc, "build", STACK, "--format", "all", "--out", str(proven)],
        "--check, output current": lambda: [kmc, "build", "--check", STACK, "--format", "all", "--out", str(proven)],
        "validate": lambda: [kmc, "validate", STACK],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", help="the other kmc's console script")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    # As a user's kmc runs: with its bytecode (written on the first run).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    kmcs = {"old": args.old, "new": str(Path(sys.executable).parent / "kmc")}
    helm = str(Path(os.environ.get("KMC_TOOLS_DIR", ROOT / ".tools")) / "helm-4" / "helm")
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        subprocess.run([kmcs["new"], "build", "-q", STACK, "--format", "helm", "--out", str(work / "chart")], check=True)
        (chart,) = (work / "chart" / "helm").iterdir()
        commands = {name: cases(kmc, work / name) for name, kmc in kmcs.items()}
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.runs):
            for name, by_case in commands.items():
                for case, command in by_case.items():
                    times.setdefault((case, name), []).append(measure(command())[0])
            times.setdefault(("helm", ""), []).append(measure([helm, "template", "bench", str(chart)])[0])
        shutil.rmtree(work, ignore_errors=True)
    helm_times = times[("helm", "")]

    print(f"golden/full, {args.runs} rounds; helm template median {statistics.median(helm_times) * 1000:.0f} ms")
    for case in commands["new"]:
        old, new = times[(case, "old")], times[(case, "new")]
        print(
            f"  {case:30} old {statistics.median(old) * 1000:5.0f} ms  new {statistics.median(new) * 1000:5.0f} ms  "
            f"new/old {paired(new, old):.2f}  old/helm {paired(old, helm_times):.2f}x  new/helm {paired(new, helm_times):.2f}x"
        )


if __name__ == "__main__":
    main()
