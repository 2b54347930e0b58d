"""Digest figures: building the digest of a day and of a week out of a month of stored posts.

The baseline is the least any digest must do, measured in the same run: read the
window's stored rows once and decode their JSON. FEEDWATCH_BENCH_DIGEST_POSTS
sets the store's size (default 100,000 posts stored over 30 days).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import Figure, best_of, size
from store import Generator

from feedwatch.digest.build import build_digest
from feedwatch.digest.render_html import render_html
from feedwatch.store import Store

N = size("FEEDWATCH_BENCH_DIGEST_POSTS", 100_000, 1000)
NOW = datetime(2026, 11, 23, tzinfo=UTC)
DAYS = 30


def _fill(store: Store) -> None:
    generator, per_day = Generator(), N // DAYS
    for day in range(DAYS):
        posts = (generator.post(n) for n in range(day * per_day, (day + 1) * per_day))
        store.ingest(posts, "bench", observed_at=NOW - timedelta(days=DAYS - day - 0.5))


def _read_window(store: Store, since: datetime) -> int:
    rows = store.db.conn.execute("SELECT json FROM posts WHERE first_seen >= ?", [since.isoformat()])
    return sum(1 for (text,) in rows if json.loads(text))


def run(workdir: Path) -> list[Figure]:
    figures = []
    with Store.open(workdir / "bench.db") as store:
        _fill(store)
        build_digest(store.db, NOW - timedelta(days=1), NOW)  # creates the window indexes once
        for label, days in (("day", 1), ("week", 7)):
            since = NOW - timedelta(days=days)
            built = best_of(3, lambda since=since: build_digest(store.db, since, NOW, now=NOW))
            floor = best_of(3, lambda since=since: _read_window(store, since))
            figures.append(
                Figure(
                    f"digest of a {label} ({N // DAYS * days:,} of {N:,} posts)",
                    built * 1000,
                    "ms",
                    floor * 1000,
                    "read + decode the window",
                )
            )
        digest = build_digest(store.db, NOW - timedelta(days=1), NOW, now=NOW)
        html = best_of(5, lambda: render_html(digest))
        figures.append(Figure("HTML rendering of the day's digest", html * 1000, "ms"))
    return figures
