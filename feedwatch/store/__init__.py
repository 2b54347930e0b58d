"""The store: every post once, with its routes, edits and counters over time.

    store = Store.open(default_db_path())          # an SQLite file, or a postgresql:// URL
    result = store.ingest(parse_path("seeds/dump.txt"), "seeds/dump.txt")
    for hit in store.search("Guterres"): ...

One SQLite file (WAL mode, busy timeout) that a poller can write while a
digest reads, or a PostgreSQL database that many pollers share
(feedwatch.store.pg). Both take the same SQL through one Connection
(feedwatch.store.backend); writes go in batched transactions; see
feedwatch.store.ingest for the merge and feedwatch.store.merge for the rules.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Unpack

from feedwatch.errors import StoreError
from feedwatch.models import Post, iso
from feedwatch.store import channels as ch
from feedwatch.store import db as sqlite_db
from feedwatch.store import queries
from feedwatch.store.backend import Database, is_postgres, is_url
from feedwatch.store.channels import ChannelState, RunRecord
from feedwatch.store.db import connect, held, is_database_file, store_errors, transaction
from feedwatch.store.ingest import NEW, UNCHANGED, Batch, batches, prepare
from feedwatch.store.queries import Filters, Hit, SearchOptions
from feedwatch.store.rows import chunks
from feedwatch.store.schema import check_current, migrate
from feedwatch.store.tags import TagIds

__all__ = ["ChannelState", "Hit", "IngestResult", "RunRecord", "Store", "StoreError", "default_db_path"]

DEFAULT_DB = "data/feedwatch.db"
OnNew = Callable[[Database, list[tuple[int, Post]]], None]


def default_db_path() -> str:
    """Return the store: $FEEDWATCH_DB (a path or a postgresql:// URL), else data/feedwatch.db."""
    return os.environ.get("FEEDWATCH_DB") or DEFAULT_DB


def configured(values: Any) -> str:
    """Return the store a config names: its `[database] url`, else its `path`, else "" (none)."""
    url, path = (str(_setting(values, key) or "") for key in ("database.url", "database.path"))
    if url and not is_url(url):
        raise StoreError(f"database.url = {url!r} is not a postgresql:// URL; an SQLite file goes in [database] path")
    return url or path


@dataclass(frozen=True, slots=True)
class IngestResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            self.new + other.new,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.failed + other.failed,
        )

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged + self.failed


def _setting(values: Any, key: str) -> Any:
    try:
        return values[key]
    except KeyError:
        return None


class _ReadAhead:
    """The batches of an ingest's input, the next one read while the store runs statements in a thread.

    `during(statements)` runs `statements` in a second thread and, meanwhile, reads the next batch (parsing the
    input: Python work that needs no database). SQLite runs a statement without holding Python's GIL, so the two
    overlap; on PostgreSQL the next batch is read when it is taken. What reading the input raises is raised by
    the `take` that would have read it, after the batch before it is committed, as if it had been read then.
    """

    def __init__(self, batches: Iterator[list[Post]]):
        self.batches = batches
        self.next: list[Post] | None = None
        self.read = False  # whether `next` (or `error`) holds the next batch already
        self.error: BaseException | None = None

    def take(self) -> list[Post] | None:
        """The next batch, or None at the end of the input."""
        if not self.read:
            self._read()
        self.read = False
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.next

    def _read(self) -> None:
        try:
            self.next = next(self.batches, None)
        except BaseException as exc:  # raised by `take`, once the batch in progress is committed
            self.error = exc
        self.read = True

    def during(self, statement: Callable[[], None]) -> None:
        """Run `statement` in a thread while reading the next batch; raise what the statement raised."""
        failed: list[BaseException] = []

        def run() -> None:
            try:
                statement()
            except BaseException as exc:
                failed.append(exc)

        worker = threading.Thread(target=run, name="feedwatch-index")
        worker.start()
        if not self.read:
            self._read()  # raises nothing: what reading raises waits for `take`
        interrupted: BaseException | None = None
        while worker.is_alive():  # the connection is the statement's until it ends, even on Ctrl-C
            try:
                worker.join()
            except BaseException as exc:
                interrupted = exc
        if interrupted is not None:
            raise interrupted
        if failed:
            raise failed[0]


class Store:
    """A feedwatch database. Open with `Store.open(path or URL)`; close when done.

    `path` names the store in messages: the SQLite file's path, or the URL without its password.
    """

    def __init__(self, path: Path | str, db: Database):
        self.path = path
        self.db = db
        self._tags = TagIds()
        self.on_new: OnNew | None = None  # what every ingest calls when it is given none (the campaign detector)

    @classmethod
    def open(cls, path: str | Path, *, writing: bool = True) -> Store:
        """Open (creating and migrating if needed) the database at `path`; StoreError if it is not one.

        A postgresql:// URL opens that PostgreSQL database (feedwatch.store.pg). With `writing` false
        (commands that only read), a file this process cannot write is opened read-only instead of
        refused; it is not migrated.
        """
        if is_url(path):
            from feedwatch.store import pg

            database = pg.open_database(str(path), writing=writing)
            return cls(database.conn.label, database)
        path = Path(path)
        read_only = not writing and path.exists() and not sqlite_db.writable(path)
        conn = connect(path, read_only=read_only, check_pages=writing)
        try:
            with store_errors(path):
                import sqlite_utils

                db = sqlite_utils.Database(conn, execute_plugins=False)
                if read_only:
                    check_current(db, path=str(path))
                else:
                    migrate(db, path=str(path))
        except BaseException:
            conn.close()
            raise
        return cls(path, db)

    def ingest(
        self,
        posts: Iterable[Post],
        source: str,
        *,
        batch: int = 5000,
        on_new: OnNew | None = None,
        observed_at: datetime | None = None,
        committed: Callable[[], None] | None = None,
    ) -> IngestResult:
        """Store `posts` (read from `source`), merging with what is stored; return the counts.

        `source` names the input (a path, a channel URL) in post_sources. Each
        batch of `batch` posts is one transaction. `on_new(db, [(rowid, post)])`
        sees each batch's newly stored posts (not merges into stored ones) inside
        that batch's transaction: what it writes through `db` commits or rolls
        back with them (it may not end the transaction itself: see
        feedwatch.store.db.held), and an exception it raises rolls the batch back and
        propagates; without one, `Store.on_new` is used. `committed()` is called after each batch commits,
        outside any transaction (feedwatch.campaigns.beside lets its detector write then). `observed_at`
        (default now) dates the sighting: first/last seen, counters and edits. A Store is for one thread at a time.
        """
        when = iso(observed_at or datetime.now(UTC))
        total = IngestResult()
        ahead = _ReadAhead(batches(posts, batch))
        conn = self.db.conn
        with nullcontext() if is_postgres(conn) else sqlite_db.BackgroundCheckpoints(Path(self.path), conn):
            while (posts_batch := ahead.take()) is not None:
                total += self._ingest_batch(posts_batch, source, when, on_new or self.on_new, ahead)
                if committed is not None:
                    committed()
        return total

    def _ingest_batch(
        self, posts: list[Post], source: str, when: str, on_new: OnNew | None, ahead: _ReadAhead
    ) -> IngestResult:
        prepared, failed = [], 0
        for post in posts:
            try:
                prepared.append(prepare(post))
            except (ValueError, TypeError, AttributeError):
                failed += 1  # not a Post the contract can hold
        counts = {NEW: 0, "updated": 0, UNCHANGED: 0}
        conn = self.db.conn

        def finish(commit: Callable[[], None]) -> None:
            def index_and_commit() -> None:
                work.index()
                commit()

            # SQLite indexes the new posts and commits without Python's GIL: the next batch's input is read meanwhile.
            ahead.during(index_and_commit)

        try:
            with store_errors(self.path), transaction(conn, finish=None if is_postgres(conn) else finish):
                work = Batch(conn, self._tags, when, source)
                for post, ident in work.load(prepared):
                    counts[work.add(post, ident)] += 1
                fresh = work.write()
                ch.note_seen(conn, work.channels.values(), datetime.fromisoformat(when))
                ch.note_chats(conn, work.chats.values(), datetime.fromisoformat(when))
                if on_new is not None and fresh:
                    with held(conn):
                        on_new(self.db, fresh)
        except BaseException:
            self._tags.forget()
            raise
        self._tags.committed()
        return IngestResult(counts[NEW], counts["updated"], counts[UNCHANGED], failed)

    def channel(self, username: str) -> ChannelState | None:
        """Return what is known of a channel (by username, any case), or None."""
        with store_errors(self.path):
            return ch.get(self.db.conn, username)

    def save_channel(self, state: ChannelState) -> None:
        """Store a channel's state; its high-water mark only moves forward."""
        with store_errors(self.path), transaction(self.db.conn):
            ch.save(self.db.conn, state, datetime.now(UTC))

    def record_run(
        self,
        source: str,
        *,
        new: int,
        updated: int,
        unchanged: int,
        failed: int,
        errors: list[tuple[str, str]],
        started_at: datetime,
        finished_at: datetime,
    ) -> None:
        """Record one ingest or poll of `source`: counts and (kind, message) errors."""
        kind = errors[0][0] if errors else "ok"
        run = RunRecord(source, kind, started_at, finished_at, new, updated, unchanged, failed, tuple(errors))
        with store_errors(self.path), transaction(self.db.conn):
            ch.record_run(self.db.conn, run)

    def runs(self, source: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Return the latest run records, newest first."""
        with store_errors(self.path):
            return ch.runs(self.db.conn, source, limit)

    def search(self, query: str | None, **filters: Unpack[SearchOptions]) -> list[Hit]:
        """Return posts matching an FTS5 query and filters (see feedwatch.store.queries.search)."""
        with store_errors(self.path):
            return queries.search(self.db.conn, query, **filters)

    def count_matches(self, query: str | None, **filters: Unpack[Filters]) -> int:
        """Return how many posts `search` would find with these filters and no limit."""
        with store_errors(self.path):
            return queries.count(self.db.conn, query, **filters)

    def posts(
        self, *, channel: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Post]:
        """Yield stored posts in storage order (of one channel, in a window, if given)."""
        with store_errors(self.path):
            yield from queries.posts(self.db.conn, channel=channel, since=since, until=until)

    def has_channel(self, channel: str) -> bool:
        """Return whether any stored post is of this channel (any case)."""
        with store_errors(self.path):
            return queries.has_channel(self.db.conn, channel)

    def channel_names(self, limit: int = 10) -> list[str]:
        """Return up to `limit` usernames of channels with stored posts, alphabetically."""
        with store_errors(self.path):
            return queries.channel_names(self.db.conn, limit)

    def catch_up_passages(self, progress: Callable[[int], None] | None = None) -> int:
        """Index the posts stored since the passage index last read (see feedwatch.store.passages); return them."""
        from feedwatch.store import passages

        with store_errors(self.path):
            return passages.catch_up(self.db.conn, progress=progress)

    def rebuild_passages(self) -> int:
        """Recompute the passage index (feedwatch.store.passages) from the stored posts; return its size."""
        from feedwatch.store import passages

        with store_errors(self.path), transaction(self.db.conn):
            return passages.rebuild(self.db.conn)

    def forget_replaced(self, source: str, seen_before: datetime) -> int:
        """Delete the posts known only from `source` and not seen since `seen_before`; return how many.

        An input read again (a file whose content changed) replaces what it gave
        before: a post that only its earlier content held (a half-written last
        post, say) is not kept beside the full one. Posts any other input or
        poll also gave are kept.
        """
        from feedwatch.store import passages
        from feedwatch.store.rows import storable

        when, label = iso(seen_before), storable(source)
        with store_errors(self.path), transaction(self.db.conn):
            conn = self.db.conn
            stale = [
                row[0]
                for row in conn.execute(
                    "SELECT p.id FROM posts p WHERE p.last_seen < ? AND p.id IN (SELECT post FROM post_sources"
                    " WHERE input = ?) AND NOT EXISTS (SELECT 1 FROM post_sources s WHERE s.post = p.id"
                    " AND s.input IS NOT ?)",
                    [when, label, label],
                )
            ]
            passages.drop(conn, stale)  # out of the echo index too
            for part in chunks(stale):
                marks = ", ".join("?" * len(part))
                for table in ("post_hashtags", "post_sources", "post_versions", "observations"):
                    conn.execute(f"DELETE FROM {table} WHERE post IN ({marks})", part)
                conn.execute(f"DELETE FROM posts WHERE id IN ({marks})", part)  # its trigger unindexes them
        return len(stale)

    def is_own_file(self, path: str | os.PathLike[str]) -> bool:
        """True when `path` is this database or one of its side files: never read those as inputs.

        Opening and closing one would drop the locks of this process's connections (see feedwatch.store.db).
        A PostgreSQL store has no file.
        """
        return isinstance(self.path, Path) and is_database_file(path, self.path)

    def count(self) -> int:
        with store_errors(self.path):
            return int(self.db.conn.execute("SELECT count(*) FROM posts").fetchone()[0])

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
