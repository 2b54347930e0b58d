"""No committed write is lost while several connections, in this process and others, share a database.

Closing any descriptor of a file drops every POSIX lock the process holds on it,
the locks of open SQLite connections included. If opening a second store read
the database file outside SQLite, another process closing its own connection
would take the database for unused, checkpoint it and delete the WAL under the
first connection, whose next commits would then be lost.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from store_support import post, stored

from feedwatch.store import Store

WRITER = """
import sys
from feedwatch.parse.structure import finish
from feedwatch.models import Post, Source
from feedwatch.store import Store

store = Store.open(sys.argv[1])
store.ingest([finish(Post(channel="other", message_id=int(sys.argv[2]), text="from another process " + sys.argv[2],
                          source=Source("tme-html", "x", 0)))], "other")
store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
store.close()
"""


def _other_process_writes(path: Path, number: int) -> None:
    done = subprocess.run([sys.executable, "-c", WRITER, str(path), str(number)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _mine(number: int) -> list:  # type: ignore[type-arg]
    return [post(f"written in this process {number}", channel="mine", message_id=number)]


def test_a_second_connection_in_this_process_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    path = tmp_path / "fw.db"
    first = Store.open(path)
    first.ingest(_mine(1), "mine")
    second = Store.open(path)  # a watch job opening its own connection beside another job's
    _other_process_writes(path, 1)  # it closes last as far as it can tell only if our locks were dropped
    first.ingest(_mine(2), "mine")
    _other_process_writes(path, 2)
    first.ingest(_mine(3), "mine")
    second.ingest(_mine(4), "mine")
    first.close()
    second.close()
    with Store.open(path) as store:
        texts = sorted(p.text for p in stored(store))
        integrity = store.db.execute("PRAGMA integrity_check").fetchone()[0]
    assert texts == sorted(
        [*(f"written in this process {n}" for n in (1, 2, 3, 4)), "from another process 1", "from another process 2"]
    )
    assert integrity == "ok"


def test_the_database_and_its_side_files_are_recognised_by_inode(tmp_path: Path) -> None:
    from feedwatch.store.db import is_database_file

    path = tmp_path / "fw.db"
    with Store.open(path) as store:
        store.ingest(_mine(1), "mine")
        (tmp_path / "link.db-wal").symlink_to(tmp_path / "fw.db-wal")
        (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
        assert is_database_file(path, path)
        assert is_database_file(tmp_path / "fw.db-wal", path)
        assert is_database_file(tmp_path / "fw.db-shm", path)
        assert is_database_file(tmp_path / "link.db-wal", path)
        assert not is_database_file(tmp_path / "notes.txt", path)
        assert not is_database_file(tmp_path / "missing", path)


def test_opening_and_closing_more_stores_beside_another_writer_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fw.db"
    with Store.open(path) as store:
        for number in range(1, 4):
            store.ingest(_mine(number), "mine")
            Store.open(path).close()
            _other_process_writes(path, number)
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 6
    con.close()


def test_the_wal_is_checkpointed_from_a_thread_of_its_own_during_an_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BackgroundCheckpoints copies the WAL back into the database file from a second connection, while the
    writer's own automatic checkpoint is off (here) or set high (in an ingest), and restores it after."""
    import time

    from feedwatch.store import db
    from feedwatch.store.db import BackgroundCheckpoints, transaction

    path = tmp_path / "fw.db"
    monkeypatch.setattr(db, "WAL_PAGES", 16)  # 64 KiB: a few batches of this test fill it
    with Store.open(path) as store:
        conn = store.db.conn
        conn.execute("CREATE TABLE scratch (body BLOB)")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = path.stat().st_size
        with BackgroundCheckpoints(path, conn) as checkpoints:
            assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 64  # the writer's own, as a net
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # here only the thread may checkpoint
            for _ in range(40):
                with transaction(conn):
                    conn.executemany("INSERT INTO scratch VALUES (randomblob(4000))", [()] * 8)
            deadline = time.monotonic() + 10
            while path.stat().st_size <= before and time.monotonic() < deadline:
                time.sleep(0.05)
            assert path.stat().st_size > before + 40 * 8 * 4000 // 2  # pages copied back by the thread
        assert not checkpoints.thread.is_alive()
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 16
        store.ingest([post("after the checkpoints")], "after.txt")
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 16  # an ingest restores it too
        assert [p.text for p in stored(store)] == ["after the checkpoints"]
