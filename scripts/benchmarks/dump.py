"""Dump parser throughput on a ~50 MB generated dump, against reading and splitting it into lines."""

from __future__ import annotations

import random
from pathlib import Path

from common import Figure, best_of, child_peak, size

ROOT = Path(__file__).resolve().parents[2]
SIZE = size("FEEDWATCH_BENCH_DUMP_MB", 50) * 1024 * 1024


def make_dump(path: Path, size: int = SIZE, seed: int = 7) -> int:
    """Write a dump of varied seed-like posts; return its size in bytes."""
    from feedwatch.parse import parse_path

    rng = random.Random(seed)
    seed_posts = list(parse_path(str(ROOT / "seeds" / "004_01d4050f5de082cc.txt")))
    words = " ".join(p.text for p in seed_posts).split()
    tags = ["UNCharterIsOurRules", "Russia", "BRICS", "ООН", "Kazan2024", "Russia_Africa", "МИД"]
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < size:
            base = rng.choice(seed_posts)
            lines = base.text.split("\n")
            head, body = lines[0], lines[1:]
            body = [
                " ".join(rng.choice(words) for _ in range(rng.randint(8, 60))) if rng.random() < 0.4 else line
                for line in body
            ]
            body.append(" ".join("#" + rng.choice(tags) for _ in range(rng.randint(1, 3))))
            chrome = ["Media is too big", "VIEW IN TELEGRAM"] if rng.random() < 0.3 else []
            copy = body if rng.random() < 0.8 else []
            text = "\n".join(["Forwarded from Russian MFA 🇷🇺", *chrome, head, "Read in full", *body, *copy]) + "\n"
            out.write(text)
            written += len(text.encode("utf-8"))
    return written


def run(workdir: Path) -> list[Figure]:
    path = workdir / "dump.txt"
    size_mb = make_dump(path) / 1e6

    def floor() -> None:
        with path.open("rb") as f:
            for _ in f.read().decode("utf-8").split("\n"):
                pass

    def parse() -> None:
        from feedwatch.parse import parse_path

        for _ in parse_path(str(path), "dump"):
            pass

    floor_s = best_of(3, floor)
    parse_s = best_of(2, parse)
    mem = child_peak(
        f"from feedwatch.parse import parse_path\nn = sum(1 for _ in parse_path({str(path)!r}, 'dump'))\n"
        "result = {'posts': n}"
    )
    mbps = size_mb / parse_s
    return [
        Figure("dump parse throughput", mbps, "MB/s", size_mb / floor_s, "read+split floor", ">= 20 MB/s", mbps >= 20),
        Figure(
            "dump parse peak RSS / file size",
            mem["peak_rss_mb"] / size_mb,
            "x",
            None,
            "",
            "< 3x",
            mem["peak_rss_mb"] / size_mb < 3,
        ),
    ]
