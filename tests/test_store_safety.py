"""A database feedwatch cannot trust: corrupt pages, a read-only file, a --db that is no database.

Each case is one line and a documented exit code, and a damaged file is never written to.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from store_support import SEEDS

from feedwatch.cli import main
from feedwatch.parse import parse_path
from feedwatch.store import Store

FEEDWATCH = [sys.executable, "-m", "feedwatch"]


def cli(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(argv), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run(*argv: str) -> tuple[int, str, str]:
    """Run feedwatch in a process of its own, as a person would (what a process checked once stays checked)."""
    done = subprocess.run([*FEEDWATCH, *argv], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def _stored(tmp_path: Path) -> Path:
    path = tmp_path / "fw.db"
    with Store.open(path) as store:
        for seed in sorted(SEEDS.glob("00*.txt"))[:6]:
            store.ingest(parse_path(str(seed)), str(seed))
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def _damage(path: Path, table: str) -> bytes:
    """Overwrite the root page of `table` with garbage (the header and schema page stay intact)."""
    con = sqlite3.connect(path)
    root, size = (
        con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()[0],
        con.execute("PRAGMA page_size").fetchone()[0],
    )
    con.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * size : root * size] = b"\xa5" * size
    path.write_bytes(bytes(data))
    return bytes(data)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("table", ["post_versions", "observations", "ingest_runs"])
def test_ingest_into_a_database_with_a_corrupt_page_writes_nothing(tmp_path: Path, table: str) -> None:
    path = _stored(tmp_path)
    damaged = _damage(path, table)  # a page an ingest of a new post never reads
    new = tmp_path / "new.txt"
    new.write_text("Forwarded from Somebody\nA text never stored before, about zebras\n", encoding="utf-8")
    code, _out, err = run("ingest", str(new), "--db", str(path))
    assert code == 1  # a store failure, not bad usage
    assert "corrupt database" in _one_line(err) and str(path) in err
    assert path.read_bytes() == damaged
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_digest_and_search_of_a_database_with_a_corrupt_page_are_one_line(tmp_path: Path) -> None:
    path = _stored(tmp_path)
    damaged = _damage(path, "posts")
    for argv, exit_code in (
        (["digest", "--since", "all"], 1),
        (["digest", "--since", "all", "--format", "html"], 1),
        (["search", "Guterres"], 1),
        (["export"], 1),
    ):
        code, _out, err = cli(*argv, "--db", str(path))
        assert code == exit_code, (argv, err)
        assert "corrupt database" in _one_line(err), argv
    assert path.read_bytes() == damaged


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> object:
    """Make database files read-only: really (chmod) for a normal user; root writes anyway, so there
    the store's check of the file's permissions is the seam, and SQLite still opens it read-only."""

    def make(path: Path) -> None:
        path.chmod(0o444)
        if os.access(path, os.W_OK):
            monkeypatch.setattr("feedwatch.store.db.writable", lambda p: Path(p) != path and os.access(p, os.W_OK))

    return make


def test_reading_commands_work_on_a_read_only_file_and_writing_ones_say_so(tmp_path: Path, read_only) -> None:  # type: ignore[no-untyped-def]
    path = _stored(tmp_path)
    read_only(path)
    before = path.read_bytes()
    code, out, err = cli("search", "Guterres", "--db", str(path))
    assert code == 0 and "Guterres" in out, err
    code, out, err = cli("export", "--db", str(path))
    assert code == 0 and len(out.splitlines()) >= 6, err
    code, out, err = cli("campaigns", "--db", str(path))
    assert code == 0 and "No campaign alerts." in out, err
    code, out, err = cli("digest", "--since", "all", "--db", str(path))
    assert code == 0 and "Top hashtags" in out, err
    new = tmp_path / "new.txt"
    new.write_text("Forwarded from Somebody\nanother text\n", encoding="utf-8")
    for argv in (["ingest", str(new)], ["campaigns", "--rebuild"]):
        code, out, err = cli(*argv, "--db", str(path))
        assert code == 1, (argv, err)
        assert "read-only" in _one_line(err), argv
    assert path.read_bytes() == before


def test_a_read_only_database_older_than_feedwatch_is_named_in_one_line(tmp_path: Path, read_only) -> None:  # type: ignore[no-untyped-def]
    path = _stored(tmp_path)
    con = sqlite3.connect(path)
    con.execute("DELETE FROM migrations WHERE name = (SELECT max(name) FROM migrations)")
    con.commit()
    con.close()
    read_only(path)
    code, _out, err = cli("search", "Guterres", "--db", str(path))
    assert code == 1
    line = _one_line(err)
    assert "read-only" in line and "older feedwatch" in line


def _watch_config(tmp_path: Path) -> Path:
    config = tmp_path / "watch.toml"
    config.write_text('[[channels]]\nname = "MFARussia"\ninterval = 60\n', encoding="utf-8")
    return config


@pytest.mark.parametrize("kind", ["text", "folder", "corrupt"])
def test_watch_on_a_db_that_is_no_database_stops_at_once_with_polls_line(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "not.db"
    if kind == "folder":
        db.mkdir()
    elif kind == "corrupt":
        db = _stored(tmp_path)
        _damage(db, "observations")
    else:
        db.write_text("just notes, not a database\n" * 20, encoding="utf-8")
    config = _watch_config(tmp_path)
    env = {**os.environ, "FEEDWATCH_TME_BASE_URL": "http://127.0.0.1:9"}
    options = ["--config", str(config), "--db", str(db)]
    poll = subprocess.run([*FEEDWATCH, "poll", *options], capture_output=True, text=True, env=env, timeout=60)
    watch = subprocess.run([*FEEDWATCH, "watch", *options], capture_output=True, text=True, env=env, timeout=60)
    assert watch.returncode == poll.returncode == 1
    assert _one_line(watch.stderr) == _one_line(poll.stderr)
    assert str(db) in watch.stderr


def test_ingest_of_a_folder_skips_a_link_loop_with_one_line_and_stores_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text((SEEDS / "004_01d4050f5de082cc.txt").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "sub").mkdir()
    (folder / "sub" / "down").symlink_to(folder / "sub" / "down", target_is_directory=True)
    code, out, err = cli("ingest", str(folder), "--db", str(tmp_path / "fw.db"))
    assert code == 1
    assert err.splitlines() == [
        f"error: {folder / name}: cannot be read (Too many levels of symbolic links)"
        for name in ("loop.txt", "sub/down")
    ]  # one line per loop
    assert "a.txt" in out and "total" in out
    with Store.open(tmp_path / "fw.db") as store:
        assert store.count() > 0


def test_ingest_of_the_folder_holding_the_database_never_reads_it(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text((SEEDS / "004_01d4050f5de082cc.txt").read_text(encoding="utf-8"), encoding="utf-8")
    db = folder / "posts.json"  # a name the folder walk takes for an input
    code, out, err = cli("ingest", str(folder), "--db", str(db))
    assert code == 0, err
    assert err.strip() == f"note: {db}: the database itself; skipped"
    assert [line.split()[0] for line in out.splitlines()] == ["input", str(folder / "a.txt"), "total"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder; needs a normal user")
def test_a_database_in_a_folder_nobody_may_write_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = _stored(folder)
    path.chmod(0o444)
    folder.chmod(0o555)  # no room for the -shm file WAL readers need: read as immutable
    try:
        code, out, err = cli("search", "Guterres", "--db", str(path))
        assert code == 0 and "Guterres" in out, err
        code, _out, err = cli("ingest", str(SEEDS / "004_01d4050f5de082cc.txt"), "--db", str(path))
        assert code == 1 and "read-only" in _one_line(err)
    finally:
        folder.chmod(0o755)
