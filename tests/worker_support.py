"""Real `feedwatch worker` processes for tests, the soak and the bench: start, kill, stop, read their logs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

FEEDWATCH = [sys.executable, "-m", "feedwatch"]


def write_config(path: Path, channels: list[str], *, interval: int = 1, reread_pages: int = 1) -> Path:
    """Write a worker config for `channels` on a local server: fast politeness, quick recovery."""
    entries = "".join(f'\n[[channels]]\nname = "{name}"\ninterval = {interval}\n' for name in channels)
    path.write_text(
        f"[web]\nmin_delay = 0.01\njitter = 0.0\ntimeout = 3\nbackoff = 0.2\nreread_pages = {reread_pages}\n"
        '[poll]\njitter = 0\nbackfill = "all"\n[worker]\ntick = 1\nstalled_after = 4\n[folders]\npaths = []\n'
        + entries,
        encoding="utf-8",
    )
    return path


class Workers:
    """Worker processes on one config, store and queue; each logs to its own file in `folder`."""

    def __init__(self, folder: Path, config: Path, db: Path | str, queue: str, base_url: str):
        self.folder, self.config, self.db, self.queue = folder, config, db, queue
        self.env = {**os.environ, "FEEDWATCH_TME_BASE_URL": base_url}
        self.env.pop("FEEDWATCH_DB", None)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started = 0

    def start(self, name: str | None = None, *, source_address: str | None = None, concurrency: int = 1) -> str:
        self.started += 1
        name = name or f"w{self.started}"
        args = [*FEEDWATCH, "worker", "--config", str(self.config), "--db", str(self.db), "--queue", self.queue]
        args += ["--name", name, "--concurrency", str(concurrency)]
        args += ["--source-address", source_address] if source_address else []
        with (self.folder / f"{name}.log").open("ab") as log:  # the child keeps its own copy
            self.procs[name] = subprocess.Popen(
                args, env=self.env, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return name

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    def stop_all(self, timeout: float = 60) -> dict[str, int]:
        """SIGTERM every worker; return their exit codes (a worker that does not stop is killed: -9)."""
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        codes = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        self.procs.clear()
        return codes

    def logs(self) -> dict[str, str]:
        return {p.stem: p.read_text(encoding="utf-8", errors="replace") for p in sorted(self.folder.glob("w*.log"))}

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            proc.kill()
            proc.wait()
        self.procs.clear()


def wait_for(condition: Callable[[], bool], within: float, what: str, every: float = 0.3) -> None:
    """Return once `condition()` holds; fail with `what` after `within` seconds (a bound, not a measurement)."""
    end = time.monotonic() + within
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {within:g} s: {what}")
        time.sleep(every)


def stored_ids(db: Path | str) -> list[tuple[str, int]]:
    """Return (channel, message id) of every stored post, one per row (duplicates show twice)."""
    return [(str(c), int(i)) for c, i in query(db, "SELECT lower(channel), message_id FROM posts")]


def query(db: Path | str, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Return the rows of `sql` (with ? parameters) on the store, an SQLite file or a PostgreSQL URL, read-only.

    [] while the store or its tables do not exist yet.
    """
    if isinstance(db, str) and db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            try:
                return [tuple(row) for row in conn.execute(sql.replace("?", "%s"), args).fetchall()]
            except psycopg.errors.UndefinedTable:
                return []
    path = Path(db)
    if not path.exists():
        return []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return list(con.execute(sql, args))
    except sqlite3.OperationalError:
        return []  # not made yet
    finally:
        con.close()
