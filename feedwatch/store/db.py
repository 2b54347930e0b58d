"""Opening a feedwatch database safely: checks before any write, pragmas, transactions.

A file that is not SQLite, an SQLite file that is not feedwatch's, or a
corrupt one raises StoreError with one line, and is never written to: every
check runs before the first write (even before WAL mode is switched on).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from feedwatch.errors import StoreError
from feedwatch.store.schema import APPLICATION_ID

BUSY_TIMEOUT_MS = 10_000
_SQLITE_MAGIC = b"SQLite format 3\x00"


def connect(path: Path) -> sqlite3.Connection:
    """Return an autocommit connection to `path` after checking it is (or can become) ours."""
    _check_file(path)
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot be opened ({exc})") from None
    try:
        _check_contents(conn, path)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL never loses consistency; a killed process loses no committed batch.
        conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoint every 64 MiB of WAL rather than 4 MiB: a batch dirties pages all over the
        # indexes, and fewer checkpoints write each page back once. The file is trimmed after.
        conn.execute("PRAGMA wal_autocheckpoint = 16384")
        conn.execute(f"PRAGMA journal_size_limit = {64 * 1024 * 1024}")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")
    except BaseException:
        conn.close()
        raise
    return conn


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a database file. Give a file path with --db")
    if path.exists():
        try:
            with path.open("rb") as f:
                head = f.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise StoreError(f"{path}: cannot be read ({exc.strerror})") from None
        if head and head != _SQLITE_MAGIC:
            raise StoreError(f"{path}: not a feedwatch database (not an SQLite file); left untouched. "
                             "Give another path with --db")
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create its folder ({exc.strerror})") from None


def _check_contents(conn: sqlite3.Connection, path: Path) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: corrupt or not a database ({exc}); left untouched") from None
    if app_id != APPLICATION_ID and tables:
        raise StoreError(f"{path}: an SQLite database, but not feedwatch's; left untouched. "
                         "Give another path with --db")
    if app_id == APPLICATION_ID:
        try:
            conn.execute("SELECT count(*) FROM migrations").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: corrupt feedwatch database ({exc}); left untouched") from None


class _HeldConnection:
    """A connection whose commit() and rollback() do nothing: the batch owner ends the transaction.

    sqlite-utils' write methods run inside `with conn:`, which would commit a
    batch half-way; through this they join the batch's transaction instead.
    """

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def __enter__(self) -> _HeldConnection:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False


def batch_database(conn: sqlite3.Connection) -> sqlite_utils.Database:
    """Return a sqlite_utils.Database over `conn` that never ends a transaction itself."""
    return sqlite_utils.Database(_HeldConnection(conn), execute_plugins=False)  # type: ignore[arg-type]


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one write transaction: committed whole, or rolled back whole."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def store_errors(path: Path) -> Iterator[None]:
    """Turn SQLite failures into StoreError lines that name the database."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(f"{path}: busy (another feedwatch holds it for over "
                             f"{BUSY_TIMEOUT_MS // 1000} s). Try again") from None
        raise StoreError(f"{path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: corrupt or unreadable database ({exc})") from None
