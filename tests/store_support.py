"""Small builders shared by the store tests."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

from feedwatch.models import Post, Source
from feedwatch.parse.structure import finish
from feedwatch.store import Store

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
TABLES = (
    "posts",
    "post_sources",
    "post_versions",
    "observations",
    "hashtags",
    "hashtag_spellings",
    "post_hashtags",
    "channels",
    "channel_names",
)


def post(
    text: str, fmt: str = "tme-html", path: str | None = "page.html", index: int | None = 0, **fields: object
) -> Post:
    """A post as a parser would give it: through the shared structure pass."""
    return finish(Post(text=text, source=Source(fmt, path, index), **fields))  # type: ignore[arg-type]


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def counts(store: Store) -> dict[str, int]:
    return {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def fts_count(store: Store, query: str) -> int:
    """How many posts the search index finds for `query` (on SQLite, the FTS5 index alone)."""
    return store.count_matches(query)


def index_size(store: Store) -> int:
    """How many rows the search index holds (FTS5's table; PostgreSQL's tsvector column, one per post)."""
    from feedwatch.store.backend import is_postgres

    table = "posts WHERE fts IS NOT NULL" if is_postgres(store.db) else "posts_fts"
    return int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def stored(store: Store) -> list[Post]:
    return list(store.posts())


def write_jsonl(path: Path, posts: list[Post]) -> Path:
    path.write_text("".join(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in posts), encoding="utf-8")
    return path


def generated(n: int, copies: int = 0) -> list[Post]:
    """`n` channel posts with hashtags and views, then id-less copies of the first `copies` of them."""
    posts = [
        post(
            f"Post number {i} about topic{i % 17}\n\nbody words {i * 7} more #Tag{i % 5} #Common",
            channel="chan",
            message_id=i + 1,
            views=100 + i,
            fmt="tme-html",
            path="https://t.me/s/chan",
            index=i,
        )
        for i in range(n)
    ]
    pasted = [
        dataclasses.replace(p, channel=None, message_id=None, views=None, source=Source("dump", "paste.txt", i))
        for i, p in enumerate(posts[:copies])
    ]
    return posts + pasted
