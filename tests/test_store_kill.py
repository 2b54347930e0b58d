"""Crash safety: a process killed mid-ingest (kill -9) leaves a consistent database, and the
same ingest run again completes it with no duplicates."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from store_support import ROOT, counts, generated, write_jsonl

from feedwatch.parse import parse_path
from feedwatch.store import IngestResult, Store
from feedwatch.store.backend import is_url

BATCH = 40
POSTS = 400  # 10 batches of channel posts, then id-less copies that merge into them
COPIES = 120

CHILD = """
import sys
from feedwatch.parse import parse_path
from feedwatch.store import Store

db, path, mode = sys.argv[1:4]

def on_new(database, fresh):
    print("in batch", flush=True)  # inside the batch's transaction, its rows written
    if mode == "hold":
        sys.stdin.readline()  # wait here, transaction open, until told to go on (or killed)

store = Store.open(db)
store.ingest(parse_path(path), path, batch=int(sys.argv[4]), on_new=on_new)
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("kill") / "posts.jsonl", generated(POSTS, copies=COPIES))


@pytest.fixture(scope="module")
def complete(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """The counts of the same ingest never interrupted."""
    with Store.open(tmp_path_factory.mktemp("clean") / "fw.db") as store:
        store.ingest(parse_path(str(source)), str(source), batch=BATCH)
        return counts(store)


def start(db: str, source: Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(source), mode, str(BATCH)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def kill(child: subprocess.Popen[str]) -> int:
    """Kill -9 the child (unless it has already finished); return its exit status."""
    child.kill()
    child.wait()
    for pipe in (child.stdin, child.stdout):
        if pipe is not None:
            pipe.close()
    return child.returncode


def check_consistent(db: str) -> int:
    """Assert the database is whole and its tables agree; return the number of posts."""
    if not is_url(db):
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.execute("INSERT INTO posts_fts(posts_fts, rank) VALUES ('integrity-check', 1)")
        con.close()
    with Store.open(db) as store:
        con = store.db.conn
        posts = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        orphans = "SELECT count(*) FROM posts WHERE id NOT IN (SELECT post FROM post_sources)"
        assert con.execute(orphans).fetchone()[0] == 0
        tags = "SELECT count(*) FROM post_hashtags WHERE post NOT IN (SELECT id FROM posts)"
        assert con.execute(tags).fetchone()[0] == 0
        assert con.execute("SELECT count(DISTINCT ident) FROM posts").fetchone()[0] == posts
    return int(posts)


def finish_and_compare(db: str, source: Path, complete: dict[str, int]) -> None:
    with Store.open(db) as store:
        result = store.ingest(parse_path(str(source)), str(source), batch=BATCH)
        assert result.failed == 0 and result.new + result.updated + result.unchanged == POSTS + COPIES
        assert counts(store) == complete
        assert store.ingest(parse_path(str(source)), str(source), batch=BATCH) == IngestResult(unchanged=POSTS + COPIES)


@pytest.mark.parametrize("batches_done", [0, 1, 4, 9])
def test_killed_inside_a_transaction(
    store_target: str, source: Path, complete: dict[str, int], batches_done: int
) -> None:
    db = store_target
    child = start(db, source, "hold")
    assert child.stdin is not None and child.stdout is not None
    for _ in range(batches_done):
        assert child.stdout.readline() == "in batch\n"
        child.stdin.write("\n")
        child.stdin.flush()
    assert child.stdout.readline() == "in batch\n"  # now inside batch number batches_done + 1
    assert kill(child) == -signal.SIGKILL
    assert check_consistent(db) == batches_done * BATCH  # every committed batch, none of the open one
    finish_and_compare(db, source, complete)


@pytest.mark.parametrize("batches_seen", [1, 5, 8])
def test_killed_while_running_freely(
    store_target: str, source: Path, complete: dict[str, int], batches_seen: int
) -> None:
    db = store_target
    child = start(db, source, "run")
    assert child.stdout is not None
    for _ in range(batches_seen):
        assert child.stdout.readline() == "in batch\n"
    assert kill(child) in (-signal.SIGKILL, 0)  # wherever it has got to: writing, committing, between batches
    assert check_consistent(db) >= (batches_seen - 1) * BATCH
    finish_and_compare(db, source, complete)
