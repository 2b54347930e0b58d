"""Opening a database: migrations, pragmas, and files that are not ours."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from store_support import SEEDS

from feedwatch.errors import StoreError
from feedwatch.parse import parse_path
from feedwatch.store import Store, default_db_path
from feedwatch.store.schema import MIGRATIONS, applied, migrate


def schema_of(path: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(path)
    rows = con.execute("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    con.close()
    return rows


def test_open_creates_the_folder_and_applies_every_migration(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "fw.db"
    with Store.open(path) as store:
        assert applied(store.db) == [name for name, _ in MIGRATIONS]
        assert store.db.execute("PRAGMA application_id").fetchone()[0] == 0x46445754
    assert path.is_file()


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fw.db"
    Store.open(path).close()
    before = schema_of(path)
    with Store.open(path) as store:
        assert migrate(store.db) == []
        assert store.db.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)
    assert schema_of(path) == before


@pytest.mark.parametrize("done", range(len(MIGRATIONS)))
def test_every_older_version_migrates_to_the_current_schema(tmp_path: Path, done: int) -> None:
    fresh = tmp_path / "fresh.db"
    Store.open(fresh).close()
    old = tmp_path / "old.db"
    con = sqlite3.connect(old, isolation_level=None)
    assert migrate(sqlite_utils.Database(con, execute_plugins=False), upto=done) == [
        name for name, _ in MIGRATIONS[:done]
    ]
    con.close()
    with Store.open(old) as store:
        assert applied(store.db) == [name for name, _ in MIGRATIONS]
        store.ingest(parse_path(str(SEEDS / "004_01d4050f5de082cc.txt")), "seed")
        assert store.count() == 7
    assert schema_of(old) == schema_of(fresh)


def test_tables_made_before_their_migration_are_kept(tmp_path: Path) -> None:
    """Before 007 and 008 the detector and the digest made their own tables on first use: data survives."""
    from sqlite_utils import Database

    from feedwatch.campaigns.schema import ensure_schema

    path = tmp_path / "old.db"
    con = sqlite3.connect(path, isolation_level=None)
    migrate(sqlite_utils.Database(con, execute_plugins=False), upto=6)
    ensure_schema(con)
    con.execute("INSERT INTO campaign_actors VALUES ('mfarussia', 1.0)")
    db = Database(con)
    db["digest_sent"].create({"target": str, "key": str, "sent_at": str}, pk=("target", "key"))  # type: ignore[union-attr]
    db["digest_sent"].insert({"target": "file", "key": "T2:x:1", "sent_at": "2026-11-01"})  # type: ignore[union-attr]
    con.close()
    with Store.open(path) as store:
        assert applied(store.db)[6:8] == ["007_campaigns", "008_digests"] and "011_campaign_actors" in applied(store.db)
        # 011 drops the detector's derived state (its format changed; `campaigns --rebuild` recomputes it)
        assert store.db.execute("SELECT actor FROM campaign_actors").fetchall() == []
        assert store.db.execute("SELECT key FROM digest_sent").fetchall() == [("T2:x:1",)]
        assert store.db.execute("SELECT count(*) FROM digest_leases").fetchone()[0] == 0


def test_wal_mode_and_busy_timeout(tmp_path: Path) -> None:
    with Store.open(tmp_path / "fw.db") as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_a_reader_reads_while_a_writer_holds_a_transaction(tmp_path: Path) -> None:
    path = tmp_path / "fw.db"
    writer, reader = Store.open(path), Store.open(path)
    writer.ingest(parse_path(str(SEEDS / "000_bc5f4b5de1e8430e.txt")), "seed")
    writer.db.conn.execute("BEGIN IMMEDIATE")
    writer.db.conn.execute("DELETE FROM post_sources")
    assert reader.count() == 1
    assert len(reader.search("Guterres")) == 1
    writer.db.conn.execute("ROLLBACK")
    writer.close()
    reader.close()


@pytest.mark.parametrize("content", [b"just some text, not a database\n" * 10, b"\x89PNG\r\n\x1a\n" + bytes(200)])
def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a feedwatch database"):
        Store.open(path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_another_programs_sqlite_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE things (x)")
    con.commit()
    con.close()
    content = path.read_bytes()
    with pytest.raises(StoreError, match="not feedwatch's"):
        Store.open(path)
    assert path.read_bytes() == content


def test_a_corrupt_database_is_refused_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "fw.db"
    with Store.open(path) as store:
        store.ingest(parse_path(str(SEEDS / "004_01d4050f5de082cc.txt")), "seed")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert "corrupt" in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_bytes() == bytes(data)


def test_a_database_from_a_newer_feedwatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fw.db"
    with Store.open(path) as store:
        store.db.execute("INSERT INTO migrations VALUES ('999_future', 'x')")
    with pytest.raises(StoreError, match="newer feedwatch"):
        Store.open(path)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        Store.open(tmp_path)


def test_default_path_honours_feedwatch_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDWATCH_DB", raising=False)
    assert default_db_path() == "data/feedwatch.db"
    monkeypatch.setenv("FEEDWATCH_DB", "/tmp/elsewhere.db")
    assert default_db_path() == "/tmp/elsewhere.db"
    url = "postgresql://feedwatch@db.example.org:5432/feedwatch"
    monkeypatch.setenv("FEEDWATCH_DB", url)
    assert default_db_path() == url  # a URL kept whole (a Path would fold its '//')


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Migration steps written with sqlite-utils run in migrate()'s one transaction: none of them commits."""
    path = tmp_path / "fw.db"
    Store.open(path).close()

    def step(db: sqlite_utils.Database) -> None:
        db.table("added").create({"id": int, "name": str}, pk="id")
        db.table("added").insert_all([{"id": 1, "name": "one"}])
        db.table("added").enable_fts(["name"])
        raise RuntimeError("step failed")

    def ending(db: sqlite_utils.Database) -> None:
        db.table("added").create({"id": int}, pk="id")
        db.conn.commit()

    for failing, message in ((step, "step failed"), (ending, "COMMIT refused inside a batch")):
        monkeypatch.setattr("feedwatch.store.schema.MIGRATIONS", [*MIGRATIONS, ("999_added", failing)])
        with pytest.raises(RuntimeError, match=message):
            Store.open(path)
        con = sqlite3.connect(path)
        assert not [row for row in con.execute("SELECT name FROM sqlite_master WHERE name LIKE 'added%'")]
        assert "999_added" not in [row[0] for row in con.execute("SELECT name FROM migrations")]
        con.close()
