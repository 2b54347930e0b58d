"""Watched folders: files dropped into a folder are parsed and ingested once per content.

Like `feedwatch.poll` for channels, this joins an input to the store: it
parses, ingests, and records each look as an ingest run. Each input (a file,
or an export folder) is identified by its path and the SHA-256 of its
content, kept in the store's `folder_files` table (migration
014_folder_files). A new or changed input is ingested; one already seen is
skipped. An input whose size changed between two looks `settle` seconds apart
is still being written: it is left for the next look. A file written in
pieces further apart than that is read twice, and the second reading replaces
what the first gave: posts only the earlier content held are deleted
(Store.forget_replaced). An input that fails to parse, or cannot be read (a
link loop), is reported once and tried again only when its content changes.
The database's own files are never read.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from feedwatch.errors import FeedwatchError
from feedwatch.parse import Options, expand, parse_path
from feedwatch.poll import Report
from feedwatch.store import Store
from feedwatch.store.rows import storable


class FolderWatcher:
    """Ingests the new or changed inputs of watched folders into a store."""

    def __init__(
        self,
        store: Store,
        *,
        settle: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.store, self.settle, self.sleep, self.now = store, settle, sleep, now
        self.conn = store.db.conn

    def poll(self, folder: str) -> Report:
        """Ingest what is new in `folder`; return its Report."""
        started = self.now()
        source = f"folder:{folder}"
        report = Report(source)
        if not os.path.isdir(folder):
            report.errors.append(("not_found", f"{folder}: no such folder"))
        else:
            self._ingest_stable(self._inputs(folder), report)
        self.store.record_run(
            source,
            new=report.new,
            updated=report.updated,
            unchanged=report.unchanged,
            failed=report.failed,
            errors=report.errors,
            started_at=started,
            finished_at=self.now(),
        )
        return report

    def _inputs(self, folder: str) -> list[str]:
        # The database itself may lie in a watched folder: reading it would drop this process's locks on it.
        return [path for path in expand([folder]) if not self._own(path)]

    def _own(self, path: str | Path) -> bool:
        return self.store.is_own_file(path)

    def _ingest_stable(self, inputs: list[str], report: Report) -> None:
        first = {path: self._size(path) for path in inputs}
        if self.settle > 0 and inputs:
            self.sleep(self.settle)
        for path in inputs:
            if self._size(path) != first[path]:
                continue  # still being written: the next look takes it
            try:
                digest = self._digest(path)
            except OSError as exc:
                digest = f"unreadable: {exc.strerror}"  # reported once, like a file that fails to parse
                if not self._known(path, digest):
                    report.errors.append(("parse", f"{path}: cannot be read ({exc.strerror}); skipped"))
                    self._record(path, digest, 0, "failed", 0)
                continue
            if not self._known(path, digest):
                self._ingest(path, digest, first[path], report)

    def _known(self, path: str, digest: str) -> bool:
        row = self.conn.execute("SELECT sha256 FROM folder_files WHERE path = ?", [storable(path)]).fetchone()
        return row is not None and row[0] == digest

    def _files(self, path: str) -> list[Path]:
        return [p for p in _files(path) if not self._own(p)]

    def _size(self, path: str) -> int:
        return sum(_stat_size(p) for p in self._files(path))

    def _digest(self, path: str) -> str:
        sha = hashlib.sha256()
        root = Path(path)
        for file in self._files(path):
            if root.is_dir():
                sha.update(os.fsencode(file.relative_to(root)) + b"\0")
            with file.open("rb") as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    sha.update(chunk)
        return sha.hexdigest()

    def _ingest(self, path: str, digest: str, size: int, report: Report) -> None:
        status, count = "ingested", 0
        options = Options()
        try:
            posts = list(parse_path(path, options=options))
            count = len(posts)
            observed = self.now()
            result = self.store.ingest(posts, f"folder:{path}", observed_at=observed)
            # What this input's earlier content gave and its content now lacks (a half-written
            # first version of a file written in pieces) is replaced, not kept beside it.
            self.store.forget_replaced(f"folder:{path}", observed)
            report.new += result.new
            report.updated += result.updated
            report.unchanged += result.unchanged
            report.failed += result.failed + len(options.problems)
            report.errors += [("parse", str(problem)) for problem in options.problems]  # lines skipped
        except FeedwatchError as exc:
            status = "failed"
            report.errors.append(("parse", str(exc)))
        self._record(path, digest, size, status, count)

    def _record(self, path: str, digest: str, size: int, status: str, count: int) -> None:
        self.conn.execute(
            "INSERT INTO folder_files (path, sha256, size, status, posts, seen_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, "
            "status = excluded.status, posts = excluded.posts, seen_at = excluded.seen_at",
            [storable(path), digest, size, status, count, self.now().isoformat()],
        )


def _files(path: str) -> list[Path]:
    root = Path(path)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]


def _stat_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1  # gone, or a link loop: the read that follows says which
