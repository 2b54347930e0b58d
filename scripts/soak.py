"""Fault-injection soak of `feedwatch watch` against the local t.me/s-shaped server.

For a few minutes: channels gain and edit posts; the server injects 429s, 500s,
connection resets, slow responses, truncated pages and drifted markup; the
watch process is killed (SIGKILL, sometimes SIGTERM) and restarted at random
points; a reader runs digests (or searches) against the same database. Then
faults and kills stop, the watcher catches up and is stopped with SIGTERM, and
the store is checked: every post the server ever served stored exactly once,
edits recorded, `PRAGMA integrity_check` ok. Exit 0 only when all of that holds.

`--mode shared` instead runs two `feedwatch watch` processes on one database
(channels polled every second) while a third process runs `ingest`s of fresh
posts with a `search` between them: every post served or ingested must be
stored exactly once, with no traceback or SQLite error from any process.

`--workers N --postgres URL` runs N `feedwatch worker` processes instead, on a job queue
made on that PostgreSQL, killed and replaced at random (scripts/soak_workers.py).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import tme_server  # noqa: E402  (the test suite's server: one implementation of t.me/s semantics)
from tme_server import TmeServer, make_posts  # noqa: E402

FEEDWATCH = [sys.executable, "-m", "feedwatch"]
FAULTS = ["429", "500", "reset", "slow", "truncate", "cut", "drift"]


def seed_channels(server: TmeServer, channels: list[str], posts: int) -> None:
    """Give each channel `posts` posts over the last three days, with a few deleted ids."""
    for name in channels:
        server.add_channel(
            name,
            make_posts(
                posts,
                start=datetime.now(UTC) - timedelta(days=3),
                step=timedelta(minutes=30),
                deleted=(7, 8, 30),
                salt=f" {name}",
            ),
        )


def add_posts(rng: random.Random, server: TmeServer, name: str, next_id: dict[str, int], counts: Counter[str]) -> None:
    """Publish 1-3 new posts on a channel (sometimes after a deleted id: a gap)."""
    first = next_id[name] + (1 if rng.random() < 0.2 else 0)
    posts = make_posts(
        rng.randint(1, 3), first_id=first, start=datetime.now(UTC), step=timedelta(seconds=1), salt=f" {name}"
    )
    server.add_posts(name, posts)
    next_id[name] = posts[-1].id + 1
    counts["posts added"] += len(posts)


class Served:
    """Which (channel, id) the server put on a page: wraps the server's page renderer."""

    def __init__(self) -> None:
        self.ids: set[tuple[str, int]] = set()
        self.lock = threading.Lock()
        original = tme_server.render_page

        def render(channel, query, drift=False):  # type: ignore[no-untyped-def]
            html = original(channel, query, drift)
            if not drift:
                shown = tme_server.page_ids(sorted(channel.posts), query)
                with self.lock:
                    self.ids.update((channel.name.lower(), i) for i in shown)
            return html

        tme_server.render_page = render


def write_config(folder: Path, channels: list[str]) -> Path:
    path = folder / "soak.toml"
    entries = "".join(f'\n[[channels]]\nname = "{name}"\ninterval = 1\n' for name in channels)
    path.write_text(
        "[web]\nmin_delay = 0.01\njitter = 0.0\ntimeout = 1.5\nbackoff = 0.2\n"
        '[poll]\njitter = 0\nbackfill = "all"\n[folders]\npaths = []\n' + entries,
        encoding="utf-8",
    )
    return path


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.rng = random.Random(args.seed)
        self.workdir = workdir
        self.db = workdir / "soak.db"
        self.channels = [f"soak_channel_{i}" for i in range(args.channels)]
        self.config = write_config(workdir, self.channels)
        self.counts: Counter[str] = Counter()
        self.edited: dict[tuple[str, int], str] = {}
        self.stored_before_edit: set[tuple[str, int]] = set()  # edits the store must keep an old version of
        self.stop = threading.Event()
        self.proc: subprocess.Popen[str] | None = None

    def env(self, server: TmeServer) -> dict[str, str]:
        return {**os.environ, "FEEDWATCH_TME_BASE_URL": server.base_url, "FEEDWATCH_DB": str(self.db)}

    def start_watch(self, server: TmeServer) -> None:
        self.proc = subprocess.Popen(
            [*FEEDWATCH, "watch", "--config", str(self.config), "--db", str(self.db)],
            env=self.env(server),
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def stop_watch(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.counts["watch did not stop on SIGTERM"] += 1
            return self.proc.wait()

    def grow(self, server: TmeServer) -> None:
        """New posts and edits arrive while the soak runs."""
        next_id = {name: self.args.posts + 1 for name in self.channels}
        while not self.stop.wait(0.3):
            name = self.rng.choice(self.channels)
            if self.rng.random() < 0.7:
                add_posts(self.rng, server, name, next_id, self.counts)
            else:
                post_id = self.rng.randint(max(1, next_id[name] - 15), next_id[name] - 1)
                if post_id in server.channels[name.lower()].posts:
                    text = f"Edited statement {self.rng.randint(0, 10**9)} #soak"
                    if self.stored_text(name, post_id) not in (None, text):
                        self.stored_before_edit.add((name.lower(), post_id))
                    server.edit(name, post_id, text=text, views=self.rng.randint(10, 10**6))
                    self.edited[(name.lower(), post_id)] = text
                    self.counts["edits made"] += 1

    def stored_text(self, name: str, post_id: int) -> str | None:
        """The text the store holds for a post right now (read-only), or None."""
        if not self.db.exists():
            return None
        try:
            con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
            try:
                row = con.execute(
                    "SELECT text FROM posts WHERE lower(channel) = ? AND message_id = ?", (name.lower(), post_id)
                ).fetchone()
            finally:
                con.close()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    def inject(self, server: TmeServer) -> None:
        while not self.stop.wait(0.5):
            kind = self.rng.choice(FAULTS)
            server.fault(
                self.rng.choice(self.channels),
                kind,
                times=self.rng.randint(1, 3),
                retry_after="1" if kind == "429" else None,
            )
            self.counts[f"fault {kind}"] += 1

    def read(self, server: TmeServer) -> None:
        """A reader in parallel: digests when this build has them, else searches and exports."""
        has_digest = subprocess.run([*FEEDWATCH, "digest", "--help"], capture_output=True).returncode == 0
        commands = (
            [["digest", "--since", "7d", "--format", "html", "--out", str(self.workdir / "digest.html")]]
            if has_digest
            else [["search", "statement"], ["export", "--format", "jsonl"]]
        )
        while not self.stop.wait(1.0):
            for command in commands:
                done = subprocess.run(
                    [*FEEDWATCH, *command, "--db", str(self.db)],
                    env=self.env(server),
                    capture_output=True,
                    text=True,
                    cwd=self.workdir,
                )
                self.counts["reader runs"] += 1
                if done.returncode not in (0, 1) or "Traceback" in done.stderr:
                    self.counts["reader failures"] += 1
                    print(f"reader failed: {done.stderr.strip()[-300:]}", file=sys.stderr)

    def run(self) -> int:
        served = Served()
        with TmeServer(slow_seconds=2.0) as server:
            seed_channels(server, self.channels, self.args.posts)
            threads = [
                threading.Thread(target=fn, args=(server,), daemon=True) for fn in (self.grow, self.inject, self.read)
            ]
            for thread in threads:
                thread.start()
            self.chaos(server)
            self.stop.set()
            for thread in threads:
                thread.join()
            server.faults.clear()
            self.start_watch(server)  # the catch-up: no faults, no kills
            time.sleep(self.args.settle)
            clean_exit = self.stop_watch(signal.SIGTERM)
            requests = len(server.requests)
            on_server = {(c.name.lower(), i) for c in server.channels.values() for i in c.posts}
        return self.report(served.ids, on_server, requests, clean_exit)

    def chaos(self, server: TmeServer) -> None:
        deadline = time.monotonic() + self.args.minutes * 60
        while time.monotonic() < deadline:
            self.start_watch(server)
            time.sleep(self.rng.uniform(2.0, 10.0))
            if self.rng.random() < 0.25:
                code = self.stop_watch(signal.SIGTERM)
                self.counts["clean stops"] += 1
                self.counts["clean stops with exit != 0"] += code != 0
            else:
                self.stop_watch(signal.SIGKILL)
                self.counts["kills"] += 1
            self.counts["restarts"] += 1

    def report(
        self, served: set[tuple[str, int]], on_server: set[tuple[str, int]], requests: int, clean_exit: int
    ) -> int:
        con = sqlite3.connect(self.db)
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        rows = con.execute("SELECT lower(channel), message_id, text FROM posts WHERE message_id IS NOT NULL").fetchall()
        stored = Counter((c, i) for c, i, _ in rows)
        texts = {(c, i): t for c, i, t in rows}
        versions = con.execute("SELECT count(*) FROM post_versions").fetchone()[0]
        versioned = {
            (c, i)
            for c, i in con.execute(
                "SELECT DISTINCT lower(p.channel), p.message_id FROM post_versions v JOIN posts p ON p.id = v.post"
            )
        }
        con.close()
        lost = sorted((served | on_server) - set(stored))
        duplicates = sum(n - 1 for n in stored.values() if n > 1)
        edits_current = sum(1 for key, text in self.edited.items() if text in texts.get(key, ""))
        faults = sum(n for k, n in self.counts.items() if k.startswith("fault "))
        figures = [
            ("requests", requests),
            ("faults injected", faults),
            *sorted((k, n) for k, n in self.counts.items() if k.startswith("fault ")),
            ("restarts", self.counts["restarts"]),
            ("kills (SIGKILL)", self.counts["kills"]),
            ("clean stops (SIGTERM)", self.counts["clean stops"]),
            ("clean stops with exit != 0", self.counts["clean stops with exit != 0"] + (clean_exit != 0)),
            ("posts added while running", self.counts["posts added"]),
            ("posts served", len(served)),
            ("posts on the server", len(on_server)),
            ("posts stored", len(stored)),
            ("duplicates", duplicates),
            ("lost", len(lost)),
            ("edits made", self.counts["edits made"]),
            ("edited posts whose latest text is stored", edits_current),
            ("edited posts", len(self.edited)),
            ("old versions kept", versions),
            ("edited after being stored", len(self.stored_before_edit)),
            ("  of which have an old version kept", len(self.stored_before_edit & versioned)),
            ("reader runs", self.counts["reader runs"]),
            ("reader failures", self.counts["reader failures"]),
            ("integrity_check", integrity),
        ]
        for name, value in figures:
            print(f"{name:42} {value}")
        if lost:
            print(f"lost (first 10): {lost[:10]}")
        ok = (
            not lost
            and not duplicates
            and integrity == "ok"
            and edits_current == len(self.edited)
            and self.stored_before_edit <= versioned
            and not self.counts["reader failures"]
            and clean_exit == 0
            and not self.counts["clean stops with exit != 0"]
            and not self.counts["watch did not stop on SIGTERM"]
        )
        print("soak: PASS" if ok else "soak: FAIL")
        return 0 if ok else 1


class Shared(Soak):
    """Two watchers and an ingesting, searching process on one database; no faults, no kills."""

    BAD = ("Traceback", "disk I/O error", "malformed", "not a database", "internal error", "locked")

    def __init__(self, args: argparse.Namespace, workdir: Path):
        super().__init__(args, workdir)
        self.watchers: list[subprocess.Popen[str]] = []
        self.ingested: set[tuple[str, int]] = set()
        self.problems: list[str] = []

    def start_watchers(self, server: TmeServer) -> None:
        for number in range(2):
            log = (self.workdir / f"watch{number}.log").open("w", encoding="utf-8")
            self.watchers.append(
                subprocess.Popen(
                    [*FEEDWATCH, "watch", "--config", str(self.config), "--db", str(self.db)],
                    env=self.env(server),
                    cwd=self.workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )

    def ingest_and_search(self, server: TmeServer) -> None:
        """Ingest files of 50 fresh posts each, with a search between them, until told to stop."""
        import json

        number = 0
        while not self.stop.is_set():
            number += 1
            lines = [
                json.dumps(
                    {
                        "kind": "post",
                        "channel": "soak_ingest",
                        "message_id": number * 100 + i,
                        "date": datetime.now(UTC).isoformat(),
                        "fingerprint": "",
                        "text": f"Ingested statement {number}.{i} about soak topics #soakingest",
                        "source": {"format": "jsonl", "path": f"batch{number}.jsonl", "index": i},
                    }
                )
                for i in range(50)
            ]
            path = self.workdir / f"batch{number}.jsonl"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            for command in (["ingest", str(path)], ["search", "statement", "--limit", "5"]):
                done = subprocess.run(
                    [*FEEDWATCH, *command, "--db", str(self.db)],
                    env=self.env(server),
                    capture_output=True,
                    text=True,
                    cwd=self.workdir,
                )
                self.counts[f"{command[0]} runs"] += 1
                if done.returncode != 0 or any(bad in done.stderr for bad in self.BAD):
                    self.counts[f"{command[0]} failures"] += 1
                    self.problems.append(f"{command[0]}: {done.stderr.strip()[-300:]}")
            self.ingested.update(("soak_ingest", number * 100 + i) for i in range(50))

    def run(self) -> int:
        served = Served()
        with TmeServer(slow_seconds=2.0) as server:
            for name in self.channels:
                server.add_channel(
                    name,
                    make_posts(
                        self.args.posts,
                        start=datetime.now(UTC) - timedelta(days=3),
                        step=timedelta(minutes=30),
                        salt=f" {name}",
                    ),
                )
            self.start_watchers(server)
            threads = [
                threading.Thread(target=fn, args=(server,), daemon=True) for fn in (self.grow, self.ingest_and_search)
            ]
            for thread in threads:
                thread.start()
            time.sleep(self.args.minutes * 60)
            self.stop.set()
            for thread in threads:
                thread.join()
            time.sleep(self.args.settle)  # the watchers catch up with the last posts added
            codes = []
            for proc in self.watchers:
                proc.send_signal(signal.SIGTERM)
                try:
                    codes.append(proc.wait(timeout=30))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    codes.append(proc.wait())
            requests = len(server.requests)
            on_server = {(c.name.lower(), i) for c in server.channels.values() for i in c.posts}
        return self.shared_report(served.ids | on_server, requests, codes)

    def shared_report(self, served: set[tuple[str, int]], requests: int, codes: list[int]) -> int:
        con = sqlite3.connect(self.db)
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        stored = Counter(con.execute("SELECT lower(channel), message_id FROM posts WHERE message_id IS NOT NULL"))
        con.close()
        lost_polled = sorted(served - set(stored))
        lost_ingested = sorted(self.ingested - set(stored))
        duplicates = sum(n - 1 for n in stored.values() if n > 1)
        logs = [(self.workdir / f"watch{n}.log").read_text(encoding="utf-8") for n in range(len(codes))]
        watch_problems = [line for log in logs for line in log.splitlines() if any(b in line for b in self.BAD)]
        figures = [
            ("requests", requests),
            ("posts added while running", self.counts["posts added"]),
            ("edits made", self.counts["edits made"]),
            ("posts served", len(served)),
            ("posts ingested", len(self.ingested)),
            ("posts stored", len(stored)),
            ("lost (polled)", len(lost_polled)),
            ("lost (ingested)", len(lost_ingested)),
            ("duplicates", duplicates),
            ("ingest runs", self.counts["ingest runs"]),
            ("ingest failures", self.counts["ingest failures"]),
            ("search runs", self.counts["search runs"]),
            ("search failures", self.counts["search failures"]),
            ("watch log lines with errors", len(watch_problems)),
            (
                "tracebacks",
                sum(log.count("Traceback") for log in logs) + sum(p.count("Traceback") for p in self.problems),
            ),
            ("watch exit codes", codes),
            ("integrity_check", integrity),
        ]
        for name, value in figures:
            print(f"{name:42} {value}")
        for line in (watch_problems + self.problems)[:10]:
            print(f"problem: {line[:300]}")
        ok = (
            not lost_polled
            and not lost_ingested
            and not duplicates
            and integrity == "ok"
            and not watch_problems
            and not self.problems
            and codes == [0, 0]
        )
        print("soak: PASS" if ok else "soak: FAIL")
        return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mode",
        choices=["chaos", "shared"],
        default="chaos",
        help="chaos: faults and kills of one watcher; shared: two watchers, ingests and searches on one database",
    )
    parser.add_argument("--minutes", type=float, default=3.0, help="how long the chaos lasts (default 3)")
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--posts", type=int, default=80, help="posts per channel at the start")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds the final catch-up runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work folder and print its path")
    parser.add_argument("--workers", type=int, default=0, help="run this many `feedwatch worker` processes instead")
    parser.add_argument("--postgres", metavar="URL", help="with --workers: the PostgreSQL the job queue is made on")
    parser.add_argument("--pg-store", action="store_true", help="with --workers: the store in PostgreSQL too")
    args = parser.parse_args()
    if args.workers and not args.postgres:
        parser.error("--workers needs --postgres URL (a PostgreSQL where the soak may create a database)")
    workdir = Path(tempfile.mkdtemp(prefix="feedwatch-soak-"))
    mode = f"{args.workers} workers" if args.workers else args.mode
    print(f"soak ({mode}): {args.minutes} min, {args.channels} channels, seed {args.seed}, in {workdir}", flush=True)
    try:
        if args.workers:
            import soak_workers

            return soak_workers.run(args, workdir)
        return (Shared if args.mode == "shared" else Soak)(args, workdir).run()
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
