"""Opening a feedwatch database safely: checks before any write, pragmas, transactions.

A file that is not SQLite, an SQLite file that is not feedwatch's, or a
corrupt one raises StoreError with one line, and is never written to: every
check runs before the first write (even before WAL mode is switched on).

The database file is only ever read through SQLite. On Linux, closing any
descriptor of a file releases every POSIX lock the process holds on it,
including the locks of SQLite connections already open in the same process
(each `watch` job opens one); another process could then take the database
for unused, checkpoint it and delete the WAL under a live connection, and
commits made through that connection would be lost. So nothing here (or in
the watched-folder and ingest paths, see `is_database_file`) opens the
database, its -wal, -shm or -journal file outside SQLite; `os.stat` is safe.

A file this process cannot write is opened read-only (`mode=ro`): reading
commands work on it, and a command that writes is told in one line.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from feedwatch.errors import StoreError
from feedwatch.store.backend import Connection
from feedwatch.store.schema import APPLICATION_ID

BUSY_TIMEOUT_MS = 10_000
WAL_PAGES = 16384  # the WAL is copied back into the database file when it holds this many pages (64 MiB)
# The files SQLite keeps beside a database: opening and closing one drops this process's locks too.
SIDE_FILES = ("-wal", "-shm", "-journal")


def connect(path: Path, *, read_only: bool = False, check_pages: bool = True) -> sqlite3.Connection:
    """Return an autocommit connection to `path` after checking it is (or can become) ours.

    `read_only` opens it with `mode=ro` (see `writable`); otherwise a file this
    process cannot write is refused with one line. `check_pages` reads every
    page once per process before the first write (see `_check_pages_once`);
    a command that only reads skips it: a corrupt page it meets is one line.
    """
    _check_file(path, create=not read_only)
    if not read_only and path.exists() and not writable(path):
        raise StoreError(read_only_message(path))
    conn = _open(path, "?mode=ro" if read_only else "")
    if read_only and not _readable(conn) and not path.with_name(path.name + "-wal").exists():
        # WAL needs a -shm file beside the database; in a folder we cannot write, and with no WAL
        # left by a writer, the file is all there is: read it as immutable.
        conn.close()
        conn = _open(path, "?mode=ro&immutable=1")
    try:
        _check_contents(conn, path)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not read_only and check_pages:
            _check_pages_once(conn, path)
            conn.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL never loses consistency; a killed process loses no committed batch.
        conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoint every 64 MiB of WAL rather than 4 MiB: a batch dirties pages all over the
        # indexes, and fewer checkpoints write each page back once. The file is trimmed after.
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {64 * 1024 * 1024}")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(describe(path, exc)) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _open(path: Path, query: str) -> sqlite3.Connection:
    try:
        return sqlite3.connect(
            path.absolute().as_uri() + query if query else str(path),
            uri=bool(query),
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot be opened ({exc})") from None


def _readable(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError as exc:
        return not _code(exc).startswith("SQLITE_CANTOPEN")
    except sqlite3.DatabaseError:
        return True  # not a database: _check_contents says so
    return True


def writable(path: Path) -> bool:
    """True when this process may write the database file and create its WAL beside it."""
    return os.access(path, os.W_OK) and os.access(path.absolute().parent, os.W_OK)


def read_only_message(path: Path | str) -> str:
    return (
        f"{path}: read-only (this user cannot write the file or its folder); reading commands work on it. "
        "Give a writable copy with --db to store into it"
    )


def is_database_file(path: str | os.PathLike[str], database: Path) -> bool:
    """True when `path` is `database` or one of its side files (-wal, -shm, -journal), by inode.

    Inputs must never be read from these: see the module docstring.
    """
    try:
        target = os.stat(path)
    except OSError:
        return False
    base = Path(database)
    for name in (base, *(base.with_name(base.name + side) for side in SIDE_FILES)):
        try:
            info = os.stat(name)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == (target.st_dev, target.st_ino):
            return True
    return False


def _check_file(path: Path, create: bool) -> None:
    """Check the path with stat only: opening the file here would drop this process's SQLite locks."""
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a database file. Give a file path with --db")
    if path.exists() or not create:
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
        if _code(exc) == "SQLITE_NOTADB":
            raise StoreError(
                f"{path}: not a feedwatch database (not an SQLite file); left untouched. Give another path with --db"
            ) from None
        raise
    if app_id != APPLICATION_ID and tables:
        raise StoreError(
            f"{path}: an SQLite database, but not feedwatch's; left untouched. Give another path with --db"
        )
    if app_id == APPLICATION_ID:
        conn.execute("SELECT count(*) FROM migrations").fetchone()


_CHECKED: set[tuple[int, int]] = set()  # (device, inode) of the databases whose pages this process checked


def _check_pages_once(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database with corrupt pages before this process first writes to it.

    SQLite finds a corrupt page only when a statement reads it, so an ingest
    could add rows to a damaged file. `PRAGMA quick_check` reads every page
    (about 0.3 s per 100 MB); it runs once per database per process, so a
    `watch` pays it at start, not at every poll.
    """
    try:
        info = os.stat(path)
    except OSError:
        return
    key = (info.st_dev, info.st_ino)
    if key in _CHECKED:
        return
    problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    if problem != "ok":
        raise StoreError(
            f"{path}: corrupt database ({' '.join(str(problem).split())}); left untouched. "
            f"Check it with sqlite3 {path} 'PRAGMA integrity_check', or restore a backup"
        )
    _CHECKED.add(key)


def _code(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""


def describe(path: Path | str, exc: sqlite3.Error) -> str:
    """Return the one line for an SQLite failure on the database at `path`."""
    code = _code(exc)
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(exc):
        return f"{path}: busy (another feedwatch holds it for over {BUSY_TIMEOUT_MS // 1000} s). Try again"
    if code.startswith("SQLITE_READONLY"):
        return read_only_message(path)
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in str(exc):
        return (
            f"{path}: corrupt database ({exc}); feedwatch stopped and wrote nothing more to it. Check it "
            f"with sqlite3 {path} 'PRAGMA integrity_check', or restore a backup"
        )
    if code.startswith("SQLITE_CANTOPEN"):
        return f"{path}: cannot be opened ({exc}); check that this user may read it and its folder"
    return f"{path}: {exc}"


@contextmanager
def held(conn: Connection) -> Iterator[None]:
    """Run the block inside the open transaction of `conn`, which nothing in the block may end.

    Code run inside a batch (an `on_new` hook, a migration step written with
    sqlite-utils) writes with the batch: sqlite-utils 4 nests its writes in
    savepoints when a transaction is open. A statement that would begin,
    commit or roll back the transaction (a `conn.commit()`, an older
    sqlite-utils' `with conn:`, `executescript`) is refused by SQLite's
    authorizer and raises, so the batch rolls back whole instead of being
    committed half-way. Savepoints stay allowed.
    """
    if not isinstance(conn, sqlite3.Connection):  # PostgreSQL: the connection refuses them itself
        with conn.held():  # type: ignore[attr-defined]
            yield
        return
    refused: list[str] = []

    def authorize(action: int, arg1: str | None, *_: str | None) -> int:
        if action == sqlite3.SQLITE_TRANSACTION:
            refused.append(arg1 or "")
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorize)
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if refused:
            raise RuntimeError(
                f"{refused[0]} refused inside a batch: only the batch's owner ends its transaction"
            ) from exc
        raise
    finally:
        conn.set_authorizer(None)


@contextmanager
def transaction(
    conn: Connection, *, join: bool = False, finish: Callable[[Callable[[], None]], None] | None = None
) -> Iterator[None]:
    """Run the block in one write transaction: committed whole, or rolled back whole.

    On PostgreSQL, BEGIN IMMEDIATE also takes the store's write lock (see feedwatch.store.pg).

    With `join`, a block on a connection already inside a transaction runs in
    that one instead, and whoever opened it commits or rolls it back.

    `finish(commit)`, when given, is called after the block instead of committing here: it runs what is left
    of the transaction and then `commit()` (Store.ingest does both in a thread while it reads its next batch);
    what it raises rolls the transaction back.
    """
    if join and conn.in_transaction:
        yield
        return

    def commit() -> None:
        conn.execute("COMMIT")

    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        if finish is not None:
            finish(commit)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if finish is None:
        commit()


@contextmanager
def store_errors(path: Path | str) -> Iterator[None]:
    """Turn SQLite failures into StoreError lines that name the database."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(describe(path, exc)) from None


class BackgroundCheckpoints:
    """While an ingest writes, copy the WAL back into the database file from a thread of its own.

    SQLite's automatic checkpoint runs inside the COMMIT that fills the WAL, so the writer waits for it. As a
    store grows, each batch dirties pages all over its indexes, the WAL fills every few batches, and those
    checkpoints came to dominate: ingest into a store of 1,000,000 generated posts ran at half its speed into an
    empty one, the COMMITs alone 0.34 s of 0.9 s a 10,000-post chunk. Here a second connection, in a thread,
    runs a PASSIVE checkpoint (it never waits for, nor blocks, the writer or a reader) once the WAL has grown past
    WAL_PAGES, then at most once a second; SQLite runs it without Python's GIL, on another core. The writer's own
    automatic checkpoint stays, at four times the size, for when this one falls behind. Leaving restores it.
    """

    def __init__(self, path: Path, conn: Connection):
        self.path, self.conn = path, conn
        self.wal = path.with_name(path.name + "-wal")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="feedwatch-checkpoint", daemon=True)

    def __enter__(self) -> BackgroundCheckpoints:
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {4 * WAL_PAGES}")
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        with suppress(sqlite3.Error):  # a connection that failed: what failed is raised already, and it closes next
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES}")

    def _run(self) -> None:
        own: sqlite3.Connection | None = None
        limit = WAL_PAGES * 4096
        try:
            pause = 0.05
            while not self.stop.wait(pause):
                pause = 0.05
                try:
                    if os.stat(self.wal).st_size < limit:
                        continue
                    if own is None:
                        own = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                    own.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    # The WAL file is reused, not shrunk, once it has grown this big: at most one checkpoint a
                    # second from then on, so a page the writer keeps dirtying is copied back once a second.
                    pause = 1.0
                except (OSError, sqlite3.Error):
                    continue  # no WAL yet, or busy: the next look tries again; the writer's own stays as a net
        finally:
            if own is not None:
                own.close()
