"""Cold-process timing and peak memory of `kmc build`, as a user's venv runs it, next to
`helm template` of the chart kmc emits for the same stack (the same objects).

    .venv/bin/python benchmarks/build.py [--runs 15] [--stack golden/full/stack.yaml] [--kps DIR]

Each run is a fresh `kmc` process (the console script of the interpreter running this file),
measured with wait4 for wall time and peak RSS. Medians are quoted: these machines are noisy.
Three kinds of build:
- `compile`: the lock is removed before each run, so kmc compiles and compares with the output
  of the previous run (unchanged, so nothing is written): the cost of a build after an edit;
- `empty --out`: compiles and writes every file, into a new directory each run;
- `lock`: the output and its lock are current, so the lock proves it without compiling (what a
  pre-commit hook on an unchanged stack does; `--check` the same).
Ratios are paired: the median over runs of (kmc's time / helm template's time in the same round);
a build into an empty directory is also set against `helm template --output-dir` into one, which
creates a file per template as kmc creates a file per object.

With `--kps DIR`, each round also times `helm template` of kube-prometheus-stack's default chart
(the reference a user weighs kmc against), and two floors are checked on the paired ratios:
a cold `--format all` compile at most 0.6x of it, a lock-proven `--check` at most 0.25x; the
exit status is 1 when either fails. DIR is the chart with its subcharts in DIR/charts/ (archives
or directories); the repository ships no copy. Get one on a machine with internet:

    helm pull oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack --untar

or, from a checkout of github.com/prometheus-community/helm-charts,
`helm dependency build charts/kube-prometheus-stack` and pass that directory.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from timing import measure, paired

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--stack", type=Path, default=ROOT / "golden/full/stack.yaml")
    parser.add_argument("--kps", type=Path, metavar="DIR", help="kube-prometheus-stack's chart, subcharts in DIR/charts/")
    args = parser.parse_args()
    # As a user's kmc runs: with its bytecode (written on the first run).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    kmc = str(Path(sys.executable).parent / "kmc")
    helm = Path(os.environ.get("KMC_TOOLS_DIR", ROOT / ".tools")) / "helm-4" / "helm"
    if args.kps and not helm.exists():
        raise SystemExit(f"--kps needs Helm 4 at {helm}: run scripts/install-tools")
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as chart_out:
        subprocess.run([kmc, "build", str(args.stack), "--format", "helm", "--out", chart_out], check=True, capture_output=True)
        (chart,) = (Path(chart_out) / "helm").iterdir()
        fresh = itertools.count()
        current = Path(chart_out) / "current"
        subprocess.run([kmc, "build", "-q", str(args.stack), "--format", "all", "--out", str(current)], check=True)

        def compile_into(fmt: str) -> Callable[[], list[str]]:
            def command() -> list[str]:
                (current / ".kmc-lock.json").unlink(missing_ok=True)
                return [kmc, "build", str(args.stack), "--format", fmt, "--out", str(current)]

            return command

        cases: dict[str, list[str] | Callable[[], list[str]]] = {
            "kmc --version": [kmc, "--version"],
            "kmc validate": [kmc, "validate", str(args.stack)],
            "kmc build --format manifests (compile)": compile_into("manifests"),
            "kmc build --format helm (compile)": compile_into("helm"),
            "kmc build --format all (compile)": compile_into("all"),
            "kmc build --format manifests, empty --out": lambda: [
                kmc,
                "build",
                str(args.stack),
                "--format",
                "manifests",
                "--out",
                f"{out}/fresh-{next(fresh)}",
            ],
            "kmc build --format all, empty --out": lambda: [kmc, "build", str(args.stack), "--format", "all", "--out", f"{out}/fresh-{next(fresh)}"],
            "kmc build --format all (lock)": [kmc, "build", str(args.stack), "--format", "all", "--out", str(out)],
            "kmc build --check --format all (lock)": [kmc, "build", "--check", str(args.stack), "--format", "all", "--out", str(out)],
        }
        subprocess.run([kmc, "build", "-q", str(args.stack), "--format", "all", "--out", str(out)], check=True)
        if helm.exists():
            cases["helm template (4.x) of that chart"] = [str(helm), "template", "bench", str(chart)]
            # Helm writing a file per template, as kmc writes a file per object: the same disk costs.
            cases["helm template --output-dir, empty dir"] = lambda: [str(helm), "template", "bench", str(chart), "--output-dir", f"{out}/helm-{next(fresh)}"]
        if args.kps:
            cases["helm template (4.x) of kube-prometheus-stack"] = [str(helm), "template", "kps", str(args.kps)]
        for command in cases.values():
            measure(command() if callable(command) else command)  # warm the file cache once
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in cases}
        for _ in range(args.runs):  # interleaved, so drift hits every case alike
            for name, command in cases.items():
                results[name].append(measure(command() if callable(command) else command))
    print(f"{args.stack.relative_to(ROOT) if args.stack.is_relative_to(ROOT) else args.stack}, {args.runs} runs each, {sys.executable}")
    times = {name: [seconds for seconds, _ in samples] for name, samples in results.items()}
    for name, samples in results.items():
        peak = max(rss for _, rss in samples)
        median, fastest, slowest = statistics.median(times[name]), min(times[name]), max(times[name])
        print(f"  {name:45} median {median * 1000:6.0f} ms  (min {fastest * 1000:4.0f}, max {slowest * 1000:4.0f})  peak RSS {peak / 1024:5.1f} MiB")
    reference = "helm template (4.x) of that chart"
    if reference in results:
        for name in cases:
            if name.startswith(("kmc --version", "kmc validate", "helm")):
                continue
            print(f"  {name:42} / helm template: {paired(times[name], times[reference]):.2f}x")
    writing = "helm template --output-dir, empty dir"
    if writing in results:
        name = "kmc build --format manifests, empty --out"
        print(f"  {name:42} / helm template --output-dir: {paired(times[name], times[writing]):.2f}x")
    if args.kps:
        floors = {"kmc build --format all (compile)": 0.6, "kmc build --check --format all (lock)": 0.25}
        kps = times["helm template (4.x) of kube-prometheus-stack"]
        failed = False
        for name in cases:
            if not name.startswith("kmc") or name == "kmc --version":
                continue
            ratio = paired(times[name], kps)
            verdict = ""
            if name in floors:
                failed |= ratio > floors[name]
                verdict = f" (floor {floors[name]}x) {'FAIL' if ratio > floors[name] else 'PASS'}"
            print(f"  {name:42} / helm template kube-prometheus-stack: {ratio:.2f}x{verdict}")
        if failed:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
