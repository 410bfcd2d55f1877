"""Timing one process: wall time and peak memory, as the benchmarks quote them."""

from __future__ import annotations

import os
import statistics
import subprocess
import time


def measure(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return elapsed, usage.ru_maxrss


def paired(times: list[float], reference: list[float]) -> float:
    """Median over rounds of time / reference time in the same round: what the load moves least."""
    return statistics.median(seconds / ref for seconds, ref in zip(times, reference, strict=True))
