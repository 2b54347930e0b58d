"""What the layers above the store may rely on, whichever database holds it.

    Connection   execute / executemany / in_transaction / close: sqlite3.Connection, or the
                 PostgreSQL adapter (feedwatch.store.pg.PgConnection), which takes the same SQL
    Database     .conn, .execute, .table_names(): sqlite_utils.Database, or feedwatch.store.pg.PgDatabase

SQL above the store is written once, in SQLite's dialect; the PostgreSQL
connection translates the few forms that differ (feedwatch.store.pg.translate)
and its schema defines the SQLite functions the queries call. `is_url` tells
the two kinds of store target apart: a `postgresql://` (or `postgres://`) URL
selects PostgreSQL, anything else is the path of an SQLite file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

URL_SCHEMES = ("postgresql://", "postgres://")


class Cursor(Protocol):
    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    def close(self) -> None: ...


class Database(Protocol):
    @property
    def conn(self) -> Any: ...

    def execute(self, sql: str, parameters: Any = None) -> Any: ...

    def table_names(self) -> list[str]: ...


def is_url(target: object) -> bool:
    """True when `target` names a PostgreSQL store (a postgresql:// URL) rather than an SQLite file."""
    return isinstance(target, str) and target.lower().startswith(URL_SCHEMES)


def is_postgres(conn: object) -> bool:
    """True when `conn` (a Connection, or a Database) talks to PostgreSQL."""
    return not isinstance(getattr(conn, "conn", conn), sqlite3.Connection)


def streamed(conn: Connection, sql: str, parameters: Any = None) -> Iterator[Any]:
    """Yield the rows of a read as they come, memory flat whatever their number: an SQLite cursor reads as it
    goes; PostgreSQL reads them through a server-side cursor on a connection of its own (one snapshot of what
    is committed), so `conn` may write meanwhile."""
    rows = (
        conn.stream(sql, parameters)  # type: ignore[attr-defined]
        if is_postgres(conn)
        else conn.execute(sql, [] if parameters is None else parameters)
    )
    # A loop, not `yield from`: a reader that stops early must not close an SQLite cursor whose store is closed.
    for row in rows:  # noqa: UP028
        yield row


def paged(conn: Connection, select: str, where: str = "", page: int = 1000) -> Iterator[Any]:
    """Yield the rows of `select` (its first column the row id) and `where`, in id order, `page` rows at a time.

    Read on `conn` itself, unlike `streamed`: memory stays flat, and the caller may write the rows it was given
    within the transaction it reads in (a migration filling a column it has just added).
    """
    last = 0
    while True:
        rows = conn.execute(f"{select} WHERE id > ?{where} ORDER BY id LIMIT ?", [last, page]).fetchall()
        yield from rows
        if len(rows) < page:
            return
        last = rows[-1][0]


def has_table(conn: Connection, name: str) -> bool:
    """True when the store has a table called `name`."""
    if is_postgres(conn):
        return conn.execute("SELECT to_regclass(?) IS NOT NULL", [name]).fetchone()[0] is True
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", [name])
    return row.fetchone() is not None
