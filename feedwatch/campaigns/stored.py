"""The detector over the store: run as posts are stored, or rebuilt from them in one ordered scan.

`IngestHook` is the store's `on_new` callback: pass one to `Store.ingest` and
each batch's newly stored posts are fed to a detector inside that batch's
transaction, so alerts commit or roll back with the posts that raised them.
The hook keeps its detector (and its LRU of hot tag state) across batches;
when another process has written detector state in between (a poll running
beside an ingest), it notices by the generation counter and starts a fresh
detector from what is stored.

`rebuild_stored` forgets all detector state and feeds every stored post in
stream order: dated posts by the `posts.date` index, then merged with the few
undated ones placed at their dateline.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time
from typing import Any

from feedwatch.campaigns.detector import Detector, run
from feedwatch.campaigns.model import DEFAULTS, Settings
from feedwatch.campaigns.schema import clear, connection, ensure_schema, transaction
from feedwatch.models import Post, stored_post
from feedwatch.store.backend import Connection, streamed

_GENERATION = "SELECT value FROM campaign_meta WHERE key = 'generation'"


class IngestHook:
    """`on_new(db, [(rowid, Post)])` for `Store.ingest`: detection as posts are stored."""

    def __init__(self, settings: Settings = DEFAULTS):
        self.settings = settings
        self.detector: Detector | None = None
        self.generation: str | None = None
        self.raised = 0

    def __call__(self, db: Any, fresh: list[tuple[int, Post]]) -> None:
        conn = connection(db)
        ensure_schema(conn)
        row = conn.execute(_GENERATION).fetchone()
        current = row[0] if row else None
        if self.detector is None or current != self.generation:
            self.detector = Detector(conn, self.settings)
        self.detector.conn = conn  # the batch's connection: writes join the store's transaction
        try:
            self.detector.feed(fresh)
            raised = self.detector.flush()
            generation = str(int(current or 0) + 1)
            conn.execute("INSERT OR REPLACE INTO campaign_meta VALUES ('generation', ?)", (generation,))
        except BaseException:
            self.detector = None  # the batch rolls back: what the detector holds in memory is not stored
            raise
        self.raised += raised
        self.generation = generation


Track = Callable[[Iterator[tuple[int, Post]], int], Iterator[tuple[int, Post]]]


def rebuild_stored(db: Any, settings: Settings = DEFAULTS, batch: int = 5000, track: Track | None = None) -> int:
    """Recompute all detector state from the stored posts, in stream order; return the alerts raised.

    `track(posts, total)` may wrap the stream of stored posts (a progress bar); it gets their count.
    """
    conn = connection(db)
    with transaction(conn):
        clear(conn)
    posts = stored_in_stream_order(conn)
    if track is not None:
        posts = track(posts, conn.execute("SELECT count(*) FROM posts").fetchone()[0])
    raised = run(conn, posts, batch=batch, settings=settings)
    with transaction(conn):
        conn.execute("INSERT OR REPLACE INTO campaign_meta VALUES ('generation', '0')")
    return raised


def stored_in_stream_order(conn: Connection) -> Iterator[tuple[int, Post]]:
    """Yield (rowid, Post) of every stored post, oldest first (those with no time first).

    Untagged posts count too: they start their channel's history and show whom it forwards.
    """
    dated = (
        (row[1], row[0], stored_post(row[2]))
        for row in streamed(conn, "SELECT id, date, json FROM posts WHERE date IS NOT NULL ORDER BY date, id")
    )
    undated = []
    for rowid, text in streamed(conn, "SELECT id, json FROM posts WHERE date IS NULL"):
        post = stored_post(text)  # the detector reads neither title, text nor author
        if post.hashtags or post.datelines:  # with no dateline either it sorts first: only its spellings count
            day = datetime.combine(post.datelines[0].date, time(0), UTC).isoformat() if post.datelines else ""
            undated.append((day, rowid, post))
    undated.sort(key=lambda item: (item[0], item[1]))
    for _, rowid, post in heapq.merge(dated, undated, key=lambda item: (item[0], item[1])):
        yield rowid, post
