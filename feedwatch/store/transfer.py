"""Copying a whole store from one backend to the other (`feedwatch migrate-store`), verified by counts.

    with Store.open("data/feedwatch.db") as source, Store.open(url) as target:
        counts = copy_store(source, target)

Every table of the store is copied row for row (ids kept, so links between
tables hold), in one transaction of the target: a copy stopped half-way leaves
the target as it was. A target that holds posts, runs or detector state is
refused unless `replace` says to empty it first. Search indexes are the
target's own: PostgreSQL computes its tsvector column, SQLite's FTS5 tables
(posts and echo bands) are rebuilt from the copied rows. Each backend keeps
its own list of migrations, so `migrations` is not copied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feedwatch.campaigns.schema import TABLES as CAMPAIGN_TABLES
from feedwatch.errors import StoreError
from feedwatch.store.backend import Connection, is_postgres, streamed
from feedwatch.store.db import transaction

if TYPE_CHECKING:
    from feedwatch.store import Store

# The store's tables, parents before the rows that point at them.
TABLES = (
    "channels",
    "channel_names",
    "posts",
    "post_sources",
    "post_versions",
    "observations",
    "hashtags",
    "hashtag_spellings",
    "post_hashtags",
    "ingest_runs",
    *CAMPAIGN_TABLES,
    "digest_sent",
    "digest_deliveries",
    "digest_leases",
    "echo_passages",
    "echo_state",
    "folder_files",
    "post_ids",
)
PAGE = 5000  # rows read and written at a time: memory stays flat whatever the store's size
# What a new store holds already: not "non-empty".
_FRESH = "key = 'schema_version'"


@dataclass(frozen=True, slots=True)
class Counted:
    table: str
    source: int
    target: int


def columns(conn: Connection, table: str) -> list[str]:
    """Return the columns of `table` one can write (not PostgreSQL's generated ones), in order."""
    if is_postgres(conn):
        return [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = ? AND is_generated = 'NEVER' ORDER BY ordinal_position",
                [table],
            )
        ]
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def count(conn: Connection, table: str, where: str = "") -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")).fetchone()[0])


def holds_data(conn: Connection) -> list[str]:
    """Return the tables of a store that hold rows a new store would not."""
    return [t for t in TABLES if count(conn, t, "NOT (" + _FRESH + ")" if t == "campaign_meta" else "")]


def _rows(conn: Connection, table: str, names: list[str]) -> Iterator[tuple[Any, ...]]:
    """Yield the rows of `table` as they are read (memory stays flat whatever the store's size)."""
    select = f"SELECT {', '.join(names)} FROM {table}"
    # campaign_spellings keeps SQLite's rowid order in a column of its own on PostgreSQL
    order = " ORDER BY rowid" if is_postgres(conn) and "rowid" in columns(conn, table) else ""
    yield from (tuple(row) for row in streamed(conn, select + order))


def copy_store(
    source: Store, target: Store, *, replace: bool = False, progress: Callable[[str, int], None] | None = None
) -> list[Counted]:
    """Copy every table of `source` into `target`; return the rows of each on both sides, counted after.

    StoreError when the target holds data (unless `replace`), or when the counts differ after the copy.
    """
    src, dst = source.db.conn, target.db.conn
    if is_postgres(src) == is_postgres(dst) and source.path == target.path:
        raise StoreError(f"{target.path}: the same store as the source; give another --to")
    full = holds_data(dst)
    if full and not replace:
        raise StoreError(
            f"{target.path}: not empty ({', '.join(full[:4])}{', ...' if len(full) > 4 else ''} hold rows); "
            "give an empty store, or --replace to empty it first"
        )
    with transaction(dst):
        for table in reversed(TABLES):
            dst.execute(f"DELETE FROM {table}")
        for table in TABLES:
            wanted = set(columns(dst, table))
            names = [c for c in columns(src, table) if c in wanted]
            done = _write(dst, table, names, _rows(src, table, names))
            if progress is not None:
                progress(table, done)
        _finish(dst)
    counted = [Counted(t, count(src, t), count(dst, t)) for t in TABLES]
    wrong = [c for c in counted if c.source != c.target]
    if wrong:
        raise StoreError(
            f"{target.path}: copied, but the counts differ: "
            + ", ".join(f"{c.table} {c.source:,} -> {c.target:,}" for c in wrong)
        )
    return counted


def _write(conn: Connection, table: str, names: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    if is_postgres(conn):
        copied: int = conn.copy_rows(table, names, rows)  # type: ignore[attr-defined]
        return copied
    marks = ", ".join("?" * len(names))
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
    done, page = 0, []
    for row in rows:
        page.append(row)
        if len(page) >= PAGE:
            conn.executemany(sql, page)
            done, page = done + len(page), []
    conn.executemany(sql, page)
    return done + len(page)


def _finish(conn: Connection) -> None:
    """Make the target's own derived state match the copied rows: identity counters, or the FTS5 indexes."""
    if is_postgres(conn):
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES' AND table_name <> 'migrations'"
        ).fetchall():
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce((SELECT max({column}) FROM {table}), 0) + 1,"
                " false)",
                [table, column],
            )
        return
    conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')")
    conn.execute("INSERT INTO echo_bands (echo_bands) VALUES ('rebuild')")
