"""Run the benchmark areas (every other module in this folder) and print one report.

    scripts/bench [--scale X] [AREA...]

--scale X multiplies every area's input size (posts, megabytes) by X: `--scale 0.05` is a quick look
(the figures are then not comparable with a full run's; each area's own variable, such as
FEEDWATCH_BENCH_POSTS, still wins).

Each area module has `run(workdir: Path) -> list[Figure]`; modules named _* are helpers. These machines are
shared and noisy, so every figure is printed beside a baseline measured in the
same run, as a ratio; a target, where an issue sets one, is printed too.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Figure  # noqa: E402


def main(argv: list[str]) -> int:
    if argv[:1] == ["--scale"] and len(argv) > 1:
        os.environ["FEEDWATCH_BENCH_SCALE"] = str(float(argv[1]))
        argv = argv[2:]
    areas = argv or sorted(p.stem for p in HERE.glob("*.py") if p.stem not in ("run", "common") and p.stem[0] != "_")
    rows: list[Figure] = []
    for area in areas:
        module = importlib.import_module(area)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"feedwatch-bench-{area}-") as tmp:
            figures = module.run(Path(tmp))
        print(f"[{area}] done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        for figure in figures:
            print(figure.line(area), flush=True)
        rows += figures
    missed = [f for f in rows if f.met is False]
    scale = os.environ.get("FEEDWATCH_BENCH_SCALE")
    at = f" (inputs scaled by {scale})" if scale and float(scale) != 1 else ""
    print(f"\n{len(rows)} figures, {len(missed)} below target{at}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
