"""Browse figures: each page query of `feedwatch serve` (and `feedwatch channels`) on a generated store.

The baseline is one pass over every stored post that reads its JSON, measured in
the same run: the least a page that looks at every post's forward origin costs.
FEEDWATCH_BENCH_SERVE_POSTS sets the store's size (default 200,000 posts, 50
channels, one post in ten forwarded from another channel, two tags each).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import Figure, best_of, size

from feedwatch import browse
from feedwatch.models import ForwardedFrom, Post, Source
from feedwatch.serve import register_functions
from feedwatch.store import Store, profiles

N = size("FEEDWATCH_BENCH_SERVE_POSTS", 200_000, 1000)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _posts() -> Iterator[Post]:
    for i in range(N):
        channel, origin = f"chan{i % 50}", f"chan{(i * 7) % 50}"
        yield Post(
            channel=channel,
            message_id=i + 1,
            url=f"https://t.me/{channel}/{i + 1}",
            date=T0 + timedelta(minutes=i),
            views=100 + i,
            forwarded_from=ForwardedFrom(origin, origin, i) if i % 10 == 0 else None,
            text=f"Post number {i} about topic{i % 17}\n\nbody words {i * 7} #Tag{i % 40} #Common",
            hashtags=(f"Tag{i % 40}", "Common"),
            source=Source("tme-html", f"https://t.me/s/{channel}", i),
        )


def run(workdir: Path) -> list[Figure]:
    path = workdir / "bench.db"
    with Store.open(path) as store:
        store.ingest(_posts(), "bench", on_new=lambda db, fresh: None)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    register_functions(conn)
    floor = best_of(3, lambda: conn.execute("SELECT max(json_extract(json, '$.views')) FROM posts").fetchall())
    pages = [
        ("channels (all)", profiles.CHANNELS, {}),
        ("channel_profile", profiles.CHANNEL_PROFILE, {"channel": "chan3"}),
        ("channel_days", browse.CHANNEL_DAYS, {"channel": "chan3"}),
        ("tag_timeline", browse.TAG_TIMELINE, {"tag": "tag3"}),
        ("search", browse.SEARCH, {"q": "topic3"}),
        ("changed_posts", browse.CHANGED_POSTS, {}),
        ("post_history", profiles.POST_HISTORY, {"post": "chan3/4", "row_id": -1}),
    ]
    figures = []
    for name, sql, params in pages:
        took = best_of(3, lambda sql=sql, params=params: conn.execute(sql, params).fetchall())
        figures.append(Figure(f"{name} at {N:,} posts", took * 1000, "ms", floor * 1000, "one pass over the JSON"))
    conn.close()
    return figures
