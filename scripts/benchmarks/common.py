"""What the benchmark areas share: the Figure row, timing, peak memory of a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass


def size(env: str, default: int, least: int = 1) -> int:
    """Return an area's input size: $env if set, else `default` times $FEEDWATCH_BENCH_SCALE (run.py --scale)."""
    if os.environ.get(env):
        return int(os.environ[env])
    return max(least, round(default * float(os.environ.get("FEEDWATCH_BENCH_SCALE") or 1)))


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None  # the same quantity for the baseline, measured in this run
    baseline_name: str = ""
    target: str = ""  # the target, in words
    met: bool | None = None

    def line(self, area: str) -> str:
        text = f"{area:10} {self.name:44} {self.value:12,.2f} {self.unit:8}"
        if self.baseline is not None:
            ratio = self.value / self.baseline if self.baseline else float("inf")
            text += f"  {ratio:6.2f}x {self.baseline_name} ({self.baseline:,.2f})"
        if self.target:
            text += f"  target {self.target}: {'met' if self.met else 'NOT met'}"
        return text


def best_of(repeats: int, fn: Callable[[], object], clock: Callable[[], float] = time.process_time) -> float:
    """Return the shortest time of `repeats` calls of `fn`, in seconds.

    CPU-bound work is timed by this process's CPU time by default, which other
    jobs on a shared machine disturb far less than wall time; pass
    clock=time.perf_counter where waiting is part of what is measured.
    """
    best = float("inf")
    for _ in range(repeats):
        started = clock()
        fn()
        best = min(best, clock() - started)
    return best


def child_peak(code: str) -> dict[str, float]:
    """Run `code` in a fresh interpreter; return its printed JSON dict plus peak RSS in MB.

    Peak RSS is the child's VmHWM: ru_maxrss would carry over the parent's peak across exec.
    """
    wrapper = (
        "import json\n" + code + "\nres = dict(result)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "res['peak_rss_mb'] = int(hwm) / 1024\n"
        "print(json.dumps(res))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
