"""Campaign detector throughput, against counting each post's tags in a dict (same posts, same run).

Also the detector's share of `Store.ingest` time: ingest with detection against ingest alone.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from common import Figure, best_of

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "eval"))


def make_posts(workdir: Path) -> list:  # type: ignore[type-arg]
    """A labelled synthetic stream (100 channels x 80 days) as Posts in time order."""
    from generator import Config, generate

    from feedwatch.parse import parse_path

    path = workdir / "stream.jsonl"
    generate(Config(channels=100, days=80, seed=3), path)
    return list(parse_path(str(path)))


def run(workdir: Path) -> list[Figure]:
    from feedwatch.campaigns import IngestHook
    from feedwatch.campaigns import run as detect
    from feedwatch.store import Store

    posts = make_posts(workdir)
    items = list(enumerate(posts, 1))
    n = len(posts)

    def count_tags() -> None:
        counts: dict[str, int] = {}
        for _, post in items:
            for tag in post.hashtags:
                counts[tag] = counts.get(tag, 0) + 1

    def detector() -> None:
        path = workdir / "detector.db"
        path.unlink(missing_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        detect(conn, items, batch=1000)
        conn.close()

    def ingest(hook: bool) -> None:
        for old in workdir.glob("store.db*"):
            old.unlink()
        with Store.open(workdir / "store.db") as store:
            store.ingest(posts, "bench", on_new=IngestHook() if hook else None)

    floor_s = best_of(3, count_tags)
    detect_s = best_of(2, detector)
    plain_s = best_of(1, lambda: ingest(False))
    with_s = best_of(1, lambda: ingest(True))
    rate = n / detect_s
    return [
        Figure(f"detector alone ({n:,} posts)", rate, "posts/s", n / floor_s, "count tags in a dict"),
        Figure("detector time per post", detect_s / n * 1e6, "us", None, "", "< 50 us", detect_s / n < 50e-6),
        Figure("ingest + detection", n / with_s, "posts/s", n / plain_s, "ingest alone",
               ">= 20,000 posts/s", n / with_s >= 20_000),
    ]
