"""Watched folders: files dropped into a folder are parsed and ingested once per content.

Each input (a file, or an export folder) is identified by its path and the
SHA-256 of its content, kept in the store's `folder_files` table (created
here by `ensure_table`, an idempotent migration of its own). A new or changed
input is ingested; one already seen is skipped. An input whose size changed
between two looks `settle` seconds apart is still being written: it is left
for the next look, never read half-written. An input that fails to parse is
reported once and tried again only when its content changes.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedwatch.errors import FeedwatchError
from feedwatch.parse import Options, expand, parse_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS folder_files (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,          -- 'ingested' or 'failed'
    posts INTEGER NOT NULL,
    seen_at TEXT NOT NULL
)
"""


def ensure_table(conn: sqlite3.Connection) -> None:
    """Create the folder_files table when missing (safe to call on every open)."""
    conn.execute(SCHEMA)
    conn.commit()


def connection_of(store: Any) -> sqlite3.Connection:
    """Return the SQLite connection behind a Store."""
    conn = getattr(getattr(store, "db", None), "conn", None)
    if not isinstance(conn, sqlite3.Connection):
        raise TypeError("the store exposes no sqlite3 connection as .db.conn")
    return conn


class FolderWatcher:
    """Ingests the new or changed inputs of watched folders into a store."""

    def __init__(self, store: Any, *, settle: float = 1.0, sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.store, self.settle, self.sleep, self.now = store, settle, sleep, now
        self.conn = connection_of(store)
        ensure_table(self.conn)

    def poll(self, folder: str) -> Any:
        """Ingest what is new in `folder`; return its Report."""
        from feedwatch.poll import Report

        started = self.now()
        source = f"folder:{folder}"
        report = Report(source)
        if not os.path.isdir(folder):
            report.errors.append(("not_found", f"{folder}: no such folder"))
        else:
            self._ingest_stable(self._inputs(folder), report)
        self.store.record_run(source, new=report.new, updated=report.updated, unchanged=report.unchanged,
                              failed=report.failed, errors=report.errors, started_at=started, finished_at=self.now())
        return report

    def _inputs(self, folder: str) -> list[str]:
        return list(expand([folder]))

    def _ingest_stable(self, inputs: list[str], report: Any) -> None:
        first = {path: _size(path) for path in inputs}
        if self.settle > 0 and inputs:
            self.sleep(self.settle)
        for path in inputs:
            if _size(path) != first[path]:
                continue  # still being written: the next look takes it
            digest = _digest(path)
            row = self.conn.execute("SELECT sha256 FROM folder_files WHERE path = ?", [path]).fetchone()
            if row is not None and row[0] == digest:
                continue
            self._ingest(path, digest, first[path], report)

    def _ingest(self, path: str, digest: str, size: int, report: Any) -> None:
        status, count = "ingested", 0
        options = Options()
        try:
            posts = list(parse_path(path, options=options))
            count = len(posts)
            result = self.store.ingest(posts, f"folder:{path}", observed_at=self.now())
            report.new += result.new
            report.updated += result.updated
            report.unchanged += result.unchanged
            report.failed += result.failed + len(options.problems)
            report.errors += [("parse", str(problem)) for problem in options.problems]  # lines skipped
        except FeedwatchError as exc:
            status = "failed"
            report.errors.append(("parse", str(exc)))
        self.conn.execute(
            "INSERT INTO folder_files (path, sha256, size, status, posts, seen_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, "
            "status = excluded.status, posts = excluded.posts, seen_at = excluded.seen_at",
            [path, digest, size, status, count, self.now().isoformat()],
        )
        self.conn.commit()


def _files(path: str) -> list[Path]:
    root = Path(path)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]


def _size(path: str) -> int:
    return sum(p.stat().st_size for p in _files(path) if p.exists())


def _digest(path: str) -> str:
    sha = hashlib.sha256()
    root = Path(path)
    for file in _files(path):
        if root.is_dir():
            sha.update(str(file.relative_to(root)).encode() + b"\0")
        with file.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                sha.update(chunk)
    return sha.hexdigest()
