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

With many writers (`feedwatch worker`), detection is one ordered stream
instead: `adopt_stream` records a *position* (a post id) in campaign_meta, and
from then on the hook stores without detecting, and `catch_up` (one detector
job at a time, under a lock) feeds the posts past the position, moving it in
the same transaction as the detector state it wrote, so a killed job redoes
its batch and each alert is raised once. The caller hands `catch_up` a mark
below which every post is committed (feedwatch.workers.StreamGate): on
PostgreSQL an id is taken before its transaction commits, so reading "past the
highest id seen" alone could skip a post committed later with a lower id.
"""

from __future__ import annotations

import heapq
import os
import socket
import time as clock
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time
from typing import Any

from feedwatch.campaigns.detector import Detector, run
from feedwatch.campaigns.model import DEFAULTS, Settings
from feedwatch.campaigns.schema import clear, connection, ensure_schema, has_tables, transaction
from feedwatch.errors import FeedwatchError
from feedwatch.models import Post, stored_post
from feedwatch.store.backend import Connection, streamed

_GENERATION = "SELECT value FROM campaign_meta WHERE key = 'generation'"
POSITION = "stream_position"  # campaign_meta key: the id of the last post the stream's detector consumed


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
        if stream_position(conn) is not None:
            return  # workers own detection: the stream's detector job reads these posts (catch_up)
        row = conn.execute(_GENERATION).fetchone()
        current = row[0] if row else None
        if self.detector is None or current != self.generation:
            self.detector = Detector(conn, self.settings)
        self.detector.conn = conn  # the batch's connection: writes join the store's transaction
        try:
            self.detector.feed(fresh)
            raised = self.detector.flush()
            generation = next_generation(conn, current)
        except BaseException:
            self.detector = None  # the batch rolls back: what the detector holds in memory is not stored
            raise
        self.raised += raised
        self.generation = generation


def next_generation(conn: Connection, current: str | None) -> str:
    """Move the detector state's generation on from `current` (inside the caller's transaction); return it.

    A hook whose detector was built at another generation builds it afresh from what is stored.
    """
    generation = str(int(current or 0) + 1)
    conn.execute("INSERT OR REPLACE INTO campaign_meta VALUES ('generation', ?)", (generation,))
    return generation


Track = Callable[[Iterator[tuple[int, Post]], int], Iterator[tuple[int, Post]]]


def rebuild_stored(db: Any, settings: Settings = DEFAULTS, batch: int = 5000, track: Track | None = None) -> int:
    """Recompute all detector state from the stored posts, in stream order; return the alerts raised.

    `track(posts, total)` may wrap the stream of stored posts (a progress bar); it gets their count.
    """
    conn = connection(db)
    ensure_schema(conn)
    release_stale(conn, settings)  # what an ingest that died left: handed back first
    streamed = stream_position(conn) is not None  # workers' stream: it goes on from what this rebuild read
    upto = newest_post(conn)
    with transaction(conn):
        lease = lease_of(conn)
        if lease is not None:  # its detector would go on writing into the state being rebuilt
            host, _, pid = lease.rpartition(" ")
            raise FeedwatchError(
                f"an ingest (process {pid} on {host}) is detecting campaigns beside itself; rebuild once it ends"
            )
        clear(conn)
    posts = stored_in_stream_order(conn, upto)
    if track is not None:
        posts = track(posts, conn.execute("SELECT count(*) FROM posts WHERE id <= ?", (upto,)).fetchone()[0])
    raised = run(conn, posts, batch=batch, settings=settings)
    with transaction(conn):
        conn.execute("INSERT OR REPLACE INTO campaign_meta VALUES ('generation', '0')")
        if streamed:
            conn.execute("INSERT OR REPLACE INTO campaign_meta VALUES (?, ?)", (POSITION, str(upto)))
    return raised


def stream_position(conn: Connection) -> int | None:
    """Return the stream detector's position (a post id), or None when detection runs as posts are stored."""
    row = conn.execute("SELECT value FROM campaign_meta WHERE key = ?", (POSITION,)).fetchone()
    return int(row[0]) if row else None


def newest_post(conn: Connection) -> int:
    """Return the highest stored post id (0 when there is none)."""
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM posts").fetchone()[0])


def adopt_stream(db: Any, mark: int) -> bool:
    """Hand detection to the ordered stream from `mark` on (posts up to it were detected as stored).

    Idempotent: a store already in stream mode keeps its position. Return whether this call started it.
    """
    conn = connection(db)
    ensure_schema(conn)
    with transaction(conn):
        if stream_position(conn) is not None:
            return False
        conn.execute("INSERT INTO campaign_meta VALUES (?, ?)", (POSITION, str(mark)))
    return True


def catch_up(db: Any, mark: int, settings: Settings = DEFAULTS, batch: int = 5000) -> tuple[int, int]:
    """Feed the stored posts past the stream's position up to `mark` to the detector; return (posts, alerts).

    Every post with an id <= `mark` must be committed (the caller's gate sees to that). Each batch is
    fed outside any transaction (so a writer beside it is not kept waiting), then written in one
    transaction that moves the position only if it is still where this run read it (`advance`): a
    rebuild in between (which clears it) or another detector ends this run, its batch dropped. A store
    not in stream mode (no position) is left alone.
    """
    conn = connection(db)
    ensure_schema(conn)
    position = stream_position(conn)
    detector: Detector | None = None
    posts = alerts = 0
    while position is not None and position < mark:
        rows = stored_range(conn, position, mark, batch)
        last = rows[-1][0] if len(rows) == batch else mark
        if detector is None:
            detector = Detector(conn, settings)
        detector.feed(rows)
        written = advance(conn, detector, position, last)
        if written is None:
            return posts, alerts  # a rebuild or another detector moved it: theirs now
        alerts += written
        posts += len(rows)
        position = last
    return posts, alerts


def stored_range(conn: Connection, after: int, upto: int, limit: int | None = None) -> list[tuple[int, Post]]:
    """Return (id, Post) of the stored posts with ids in (after, upto], by id (at most `limit` of them)."""
    sql = "SELECT id, json FROM posts WHERE id > ? AND id <= ? ORDER BY id" + (" LIMIT ?" if limit else "")
    rows = conn.execute(sql, (after, upto, limit) if limit else (after, upto)).fetchall()
    return [(rowid, stored_post(text)) for rowid, text in rows]


def advance(conn: Connection, detector: Detector, old: int, new: int) -> int | None:
    """Write what `detector` was fed and move the stream's position from `old` to `new`, in one transaction.

    Return the alerts written, or None (nothing written) when the position is no longer `old`: another
    detector, or a rebuild, took the stream.
    """
    with transaction(conn):
        moved = conn.execute(
            "UPDATE campaign_meta SET value = ? WHERE key = ? AND value = ? RETURNING key",
            (str(new), POSITION, str(old)),
        ).fetchone()
        if moved is None:
            return None
        return detector.flush()


# -- an ingest detecting beside itself (feedwatch.campaigns.beside) holds the stream for a while ----------------------
#
# It makes the store a stream (a position) for as long as it runs, and says so under LEASE: which process holds it.
# When it ends, it hands detection back to the ingest hooks (`release_stream`). A holder that died leaves both; the
# next writer that opens the store (`release_stale`) feeds what the dead one had not, and hands detection back.

LEASE = "stream_lease"  # campaign_meta key: "host pid" of the process holding the stream
BEAT = "stream_lease_beat"  # campaign_meta key: when the holder last wrote (seconds since the epoch)
STALE_SECONDS = 1800  # a holder on another host silent this long is taken for dead


def holder() -> str:
    """This process, as a lease names it."""
    return f"{socket.gethostname()} {os.getpid()}"


def take_stream(conn: Connection) -> bool:
    """Make the store a stream held by this process, from its newest post on; False when it is one already."""
    ensure_schema(conn)
    with transaction(conn):
        if stream_position(conn) is not None:
            return False
        conn.execute("INSERT INTO campaign_meta VALUES (?, ?)", (POSITION, str(newest_post(conn))))
        conn.execute("INSERT OR REPLACE INTO campaign_meta VALUES (?, ?)", (LEASE, holder()))
        beat(conn)
    return True


def beat(conn: Connection) -> None:
    """Note that the holder is alive (inside the caller's transaction)."""
    conn.execute("INSERT OR REPLACE INTO campaign_meta VALUES (?, ?)", (BEAT, str(int(clock.time()))))


def release_stream(conn: Connection, lease: str, settings: Settings = DEFAULTS) -> int:
    """Hand detection back to the ingest hooks, if `lease` still holds the stream; return the alerts raised.

    Posts past the position (what the holder had not fed, and what other writers stored meanwhile without
    detecting) are fed first; the hand-back itself is one transaction that finds the position at the newest
    post, so no post is left between the stream and the hooks. The generation moves on, so a hook holding a
    detector from before reads the state afresh.
    """
    alerts = 0
    while True:
        alerts += catch_up(conn, newest_post(conn), settings)[1]
        with transaction(conn):
            if not holds(conn, lease):
                return alerts
            position = stream_position(conn)
            if position is not None and position < newest_post(conn):
                continue  # stored since the catch-up: feed those too (a position past the newest: it was deleted)
            conn.execute("DELETE FROM campaign_meta WHERE key IN (?, ?, ?)", (POSITION, LEASE, BEAT))
            row = conn.execute(_GENERATION).fetchone()
            next_generation(conn, row[0] if row else None)
            return alerts


def stale_lease(conn: Connection) -> str | None:
    """Return the lease of a holder that is gone, else None: on this host, its process ended; on another (a store
    on a shared disk), it has not written for STALE_SECONDS."""
    meta: dict[str, str] = dict(
        conn.execute("SELECT key, value FROM campaign_meta WHERE key IN (?, ?)", (LEASE, BEAT)).fetchall()
    )
    lease = meta.get(LEASE)
    if lease is None:
        return None
    host, _, pid = lease.rpartition(" ")
    if host == socket.gethostname():
        return lease if not (pid.isdigit() and _alive(int(pid))) else None
    return lease if clock.time() - float(meta.get(BEAT, 0)) > STALE_SECONDS else None


def lease_of(conn: Connection) -> str | None:
    """The lease on the stream ("host pid"), or None."""
    row = conn.execute("SELECT value FROM campaign_meta WHERE key = ?", (LEASE,)).fetchone()
    return row[0] if row else None


def holds(conn: Connection, lease: str) -> bool:
    """True when `lease` still holds the stream."""
    return lease_of(conn) == lease


def live_lease(conn: Connection) -> bool:
    """True when an ingest detecting beside itself holds the stream and is alive."""
    return lease_of(conn) is not None and stale_lease(conn) is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


def release_stale(db: Any, settings: Settings = DEFAULTS) -> int:
    """When a process that held the stream is gone, feed what it had not and hand detection back; return alerts.

    Writers call this when they open a store; it does nothing (one read) on a store without such a lease.
    """
    conn = connection(db)
    if not has_tables(conn):
        return 0
    lease = stale_lease(conn)
    if lease is None:
        return 0
    return release_stream(conn, lease, settings)


def release_stale_on_open(store: Any) -> None:
    """`release_stale` for a store a writer has just opened: a store error is one StoreError line, and the
    store is closed when it fails (the writer gets no store to close)."""
    from feedwatch.store.db import store_errors

    try:
        with store_errors(store.path):
            release_stale(store.db)
    except BaseException:
        store.close()
        raise


def stored_in_stream_order(conn: Connection, upto: int | None = None) -> Iterator[tuple[int, Post]]:
    """Yield (rowid, Post) of every stored post (with an id up to `upto`), oldest first (those with no time first).

    Untagged posts count too: they start their channel's history and show whom it forwards.
    """
    limit = upto if upto is not None else newest_post(conn)
    dated = (
        (row[1], row[0], stored_post(row[2]))
        for row in streamed(
            conn, "SELECT id, date, json FROM posts WHERE date IS NOT NULL AND id <= ? ORDER BY date, id", [limit]
        )
    )
    undated = []
    for rowid, text in streamed(conn, "SELECT id, json FROM posts WHERE date IS NULL AND id <= ?", [limit]):
        post = stored_post(text)  # the detector reads neither title, text nor author
        if post.hashtags or post.datelines:  # with no dateline either it sorts first: only its spellings count
            day = datetime.combine(post.datelines[0].date, time(0), UTC).isoformat() if post.datelines else ""
            undated.append((day, rowid, post))
    undated.sort(key=lambda item: (item[0], item[1]))
    for _, rowid, post in heapq.merge(dated, undated, key=lambda item: (item[0], item[1])):
        yield rowid, post
