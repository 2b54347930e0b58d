"""Watched folders: each input ingested once per content, never read half-written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feedwatch.folders import FolderWatcher
from feedwatch.store import Store

SEED = Path(__file__).resolve().parents[1] / "seeds" / "004_01d4050f5de082cc.txt"


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "feedwatch.db") as opened:
        yield opened


def test_new_files_once_changed_files_again(tmp_path, store):
    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(SEED, folder / "a.txt")
    watcher = FolderWatcher(store, settle=0)
    first = watcher.poll(str(folder))
    assert first.ok and first.new > 0
    again = watcher.poll(str(folder))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 0)  # same content: not read again
    (folder / "a.txt").write_text(SEED.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    changed = watcher.poll(str(folder))
    assert changed.new == 0 and changed.unchanged == first.new  # read again, nothing new in it
    rows = store.db.conn.execute("SELECT path, status, posts FROM folder_files").fetchall()
    assert rows == [(str(folder / "a.txt"), "ingested", first.new)]
    assert store.runs(f"folder:{folder}")[0].new == 0


def test_a_file_still_being_written_waits_for_the_next_look(tmp_path, store):
    folder = tmp_path / "drop"
    folder.mkdir()
    target = folder / "growing.txt"
    content = SEED.read_bytes()
    target.write_bytes(content[: len(content) // 2])

    def writer_keeps_writing(seconds: float) -> None:
        with target.open("ab") as out:
            out.write(content[len(content) // 2 :])

    watcher = FolderWatcher(store, settle=1.0, sleep=writer_keeps_writing)
    assert watcher.poll(str(folder)).new == 0 and store.count() == 0
    watcher.sleep = lambda seconds: None
    assert watcher.poll(str(folder)).new > 0


def test_a_bad_file_is_reported_once(tmp_path, store):
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "bad.json").write_bytes(b"\x00\x01 not a format")
    watcher = FolderWatcher(store, settle=0)
    report = watcher.poll(str(folder))
    assert report.errors and report.errors[0][0] == "parse" and "bad.json" in report.errors[0][1]
    assert watcher.poll(str(folder)).errors == []
    assert watcher.poll(str(tmp_path / "missing")).errors[0] == ("not_found", f"{tmp_path / 'missing'}: no such folder")


def test_a_file_written_in_pieces_far_apart_replaces_its_first_reading(tmp_path, store):
    from feedwatch.parse import parse_path

    folder = tmp_path / "drop"
    folder.mkdir()
    target = folder / "pieces.txt"
    content = SEED.read_text(encoding="utf-8")
    target.write_text(content[: len(content) * 2 // 3], encoding="utf-8")  # the writer pauses longer than settle
    watcher = FolderWatcher(store, settle=0)
    assert watcher.poll(str(folder)).new > 0
    half = {p.text for p in store.posts()}
    target.write_text(content, encoding="utf-8")
    assert watcher.poll(str(folder)).ok
    full = {p.text for p in parse_path(str(target))}
    assert half - full  # the first reading held a cut-off post the full file does not
    assert {p.text for p in store.posts()} == full
    store.db.execute("INSERT INTO posts_fts(posts_fts) VALUES ('integrity-check')")  # raises if the index lags


def test_a_post_another_input_also_gave_is_kept_when_a_file_is_read_again(tmp_path, store):
    folder = tmp_path / "drop"
    folder.mkdir()
    target = folder / "a.txt"
    content = SEED.read_text(encoding="utf-8")
    target.write_text(content, encoding="utf-8")
    elsewhere = tmp_path / "copy.txt"
    elsewhere.write_text(content, encoding="utf-8")
    watcher = FolderWatcher(store, settle=0)
    first = watcher.poll(str(folder)).new
    from feedwatch.parse import parse_path

    store.ingest(parse_path(str(elsewhere)), str(elsewhere))
    target.write_text("Forwarded from Somebody\nsomething else entirely\n", encoding="utf-8")
    assert watcher.poll(str(folder)).new == 1
    assert store.count() == first + 1  # the first content's posts stay: copy.txt holds them too


def test_a_link_loop_in_a_watched_folder_is_one_line_and_the_rest_is_read(tmp_path, store):
    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(SEED, folder / "a.txt")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "x.txt").symlink_to(folder / "y.txt")
    (folder / "y.txt").symlink_to(folder / "x.txt")
    watcher = FolderWatcher(store, settle=0)
    report = watcher.poll(str(folder))
    assert report.new > 0
    assert sorted(message for _, message in report.errors) == [
        f"{folder / name}: cannot be read (Too many levels of symbolic links); skipped"
        for name in ("loop.txt", "x.txt", "y.txt")
    ]
    assert watcher.poll(str(folder)).errors == []  # reported once


def test_the_database_in_a_watched_folder_is_never_read(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(SEED, folder / "a.txt")
    with Store.open(folder / "watch.jsonl") as store:  # a name that says "input" to the folder walk
        store.ingest([], "nothing")
        watcher = FolderWatcher(store, settle=0)
        report = watcher.poll(str(folder))
        assert report.ok and report.new > 0
        paths = [row[0] for row in store.db.execute("SELECT path FROM folder_files")]
    assert paths == [str(folder / "a.txt")]


def test_a_bad_line_of_json_lines_is_reported_and_the_others_stored(tmp_path, store):
    folder = tmp_path / "drop"
    folder.mkdir()
    line = '{"text": "#Tag words", "channel": "some_channel", "message_id": %d}\n'
    (folder / "posts.jsonl").write_text(line % 1 + '{"text": "x", "kind": "tweet"}\n' + line % 2, encoding="utf-8")
    report = FolderWatcher(store, settle=0).poll(str(folder))
    assert (report.new, report.failed) == (2, 1) and store.count() == 2
    assert [kind for kind, _ in report.errors] == ["parse"] and "posts.jsonl: line 2: not a post" in report.errors[0][1]


def test_a_database_whose_folder_table_predates_its_migration_keeps_what_it_read(tmp_path):
    """Before 014_folder_files the watcher made its table on first use: the migration keeps its rows."""
    import hashlib
    import sqlite3

    import sqlite_utils

    from feedwatch.store.schema import MIGRATIONS, applied, migrate

    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(SEED, folder / "a.txt")
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(
        sqlite_utils.Database(conn, execute_plugins=False),
        upto=[name for name, _ in MIGRATIONS].index("014_folder_files"),
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS folder_files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER"
        " NOT NULL, status TEXT NOT NULL, posts INTEGER NOT NULL, seen_at TEXT NOT NULL)"
    )
    read = (
        str(folder / "a.txt"),
        hashlib.sha256(SEED.read_bytes()).hexdigest(),
        SEED.stat().st_size,
        "ingested",
        7,
        "2026-11-01T00:00:00+00:00",
    )
    conn.execute("INSERT INTO folder_files VALUES (?, ?, ?, ?, ?, ?)", read)
    conn.close()
    with Store.open(path) as store:
        assert "014_folder_files" in applied(store.db)
        assert store.db.execute("SELECT * FROM folder_files").fetchall() == [read]
        report = FolderWatcher(store, settle=0).poll(str(folder))
        assert report.ok and report.new == 0 and store.count() == 0  # read before: not read again


def test_the_folder_table_is_part_of_the_versioned_schema(tmp_path):
    with Store.open(tmp_path / "fw.db") as store:
        assert "folder_files" in store.db.table_names()
        assert store.db.execute("SELECT count(*) FROM folder_files").fetchone()[0] == 0
