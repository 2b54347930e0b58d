"""`scripts/soak --workers N --postgres URL`: N `feedwatch worker` processes against the local t.me/s server.

The queue is a fresh database made on the PostgreSQL at URL (dropped at the end). For a few
minutes: channels gain and edit posts, the server injects faults (429s, 500s, resets, slow,
truncated and drifted pages), and a worker is killed (SIGKILL, sometimes SIGTERM) at random and
another started in its place; besides the soak channels the server holds a campaign scenario
(eight channels, forty-five days), so detection has alerts to raise. Then faults and kills stop,
the workers catch up and are stopped with SIGTERM, and the store is checked: every post the
server served stored exactly once, every edit kept (the latest text current, an old version kept
for a post edited after it was stored), every stored post consumed once by the stream detector
(its spelling counts equal the stored posts' tags), each alert once, no traceback in any worker's
log, every worker's clean stop exit 0, and `PRAGMA integrity_check` ok. Exit 0 only then. The store is
an SQLite file, or with `--pg-store` a schema of its own in that database.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from soak import FAULTS, Served, add_posts, seed_channels

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_workers import _campaign_channels  # noqa: E402  (the campaign scenario as t.me/s channels)
from tme_server import TmeServer  # noqa: E402
from worker_support import Workers, query, wait_for, write_config  # noqa: E402


def make_queue(server_url: str) -> tuple[str, str]:
    """Create a fresh database on the server for the queue; return (its URL, its name)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"fw_soak_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")), name


def drop_queue(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class WorkerSoak:
    def __init__(self, args: argparse.Namespace, workdir: Path, queue: str, store: str | None):
        import random

        self.args, self.workdir, self.queue = args, workdir, queue
        self.rng = random.Random(args.seed)
        self.db: Path | str = store or workdir / "soak.db"
        self.channels = [f"soak_channel_{i}" for i in range(args.channels)]
        self.counts: Counter[str] = Counter()
        self.edited: dict[tuple[str, int], str] = {}
        self.stored_before_edit: set[tuple[str, int]] = set()
        self.stop = threading.Event()

    def grow(self, server: TmeServer) -> None:
        """New posts and edits while the soak runs; an edit adds a marker and keeps the post's hashtags.

        Keeping them lets the check count the detector's tag uses against the stored posts' tags.
        """
        next_id = {name: self.args.posts + 1 for name in self.channels}
        while not self.stop.wait(0.3):
            name = self.rng.choice(self.channels)
            if self.rng.random() < 0.7:
                add_posts(self.rng, server, name, next_id, self.counts)
                continue
            post_id = self.rng.randint(max(1, next_id[name] - 15), next_id[name] - 1)
            post = server.channels[name.lower()].posts.get(post_id)
            if post is None:
                continue
            marker = f"(edited {self.rng.randint(0, 10**9)})"  # the text stays, so its hashtags stay
            before = self.stored_text(name, post_id)
            if before is not None:
                self.stored_before_edit.add((name.lower(), post_id))
            server.edit(
                name, post_id, text=f"{post.text.split(' (edited ')[0]} {marker}", views=self.rng.randint(10, 10**6)
            )
            self.edited[(name.lower(), post_id)] = marker
            self.counts["edits made"] += 1

    def stored_text(self, name: str, post_id: int) -> str | None:
        rows = query(
            self.db, "SELECT text FROM posts WHERE lower(channel) = ? AND message_id = ?", name.lower(), post_id
        )
        return str(rows[0][0]) if rows else None

    def inject(self, server: TmeServer) -> None:
        names = self.channels + [name for name in server.channels if name.startswith("camp_")]
        while not self.stop.wait(0.5):
            kind = self.rng.choice(FAULTS)
            server.fault(
                self.rng.choice(names), kind, times=self.rng.randint(1, 3), retry_after="1" if kind == "429" else None
            )
            self.counts[f"fault {kind}"] += 1

    def chaos(self, workers: Workers) -> None:
        deadline = time.monotonic() + self.args.minutes * 60
        while time.monotonic() < deadline:
            time.sleep(self.rng.uniform(3.0, 10.0))
            victim = self.rng.choice(sorted(workers.procs))
            if self.rng.random() < 0.25:
                proc = workers.procs.pop(victim)
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(60)
                self.counts["clean stops"] += 1
                self.counts["clean stops with exit != 0"] += code != 0
            else:
                workers.kill(victim)
                self.counts["kills"] += 1
            workers.start()
            self.counts["restarts"] += 1

    def run(self) -> int:
        served = Served()
        with TmeServer(slow_seconds=2.0) as server:
            seed_channels(server, self.channels, self.args.posts)
            _campaign_channels(server)
            # Posts arrive fast here (a page a minute per channel) while faults and kills can keep a channel
            # from being read for a minute or more: re-read deep enough that an edit cannot slide out of reach.
            config = write_config(self.workdir / "soak.toml", sorted(server.channels), interval=1, reread_pages=10)
            with Workers(self.workdir, config, self.db, self.queue, server.base_url) as workers:
                for _ in range(self.args.workers):
                    workers.start()
                threads = [threading.Thread(target=fn, args=(server,), daemon=True) for fn in (self.grow, self.inject)]
                for thread in threads:
                    thread.start()
                self.chaos(workers)
                self.stop.set()
                for thread in threads:
                    thread.join()
                server.faults.clear()
                on_server = {(c.name.lower(), i) for c in server.channels.values() for i in c.posts}
                caught_up = self.catch_up(on_server | served.ids)
                codes = workers.stop_all()
                logs = workers.logs()
                requests = len(server.requests)
        return self.report(served.ids, on_server, requests, codes, logs, caught_up)

    def catch_up(self, expected: set[tuple[str, int]]) -> bool:
        """Let the workers, without faults or kills, store everything and detect it; False if they did not."""
        time.sleep(self.args.settle)
        try:
            wait_for(lambda: expected <= self.stored(), 300, "every served post stored", every=1)
            wait_for(lambda: not self.edits_missing(), 120, "every edit's latest text stored", every=1)
            wait_for(
                lambda: (
                    query(self.db, "SELECT value FROM campaign_meta WHERE key = 'stream_position'")
                    == query(self.db, "SELECT CAST(max(id) AS TEXT) FROM posts")
                ),
                120,
                "the detector caught up",
                every=1,
            )
        except AssertionError as exc:
            print(f"catch-up: {exc}")
            return False
        return True

    def edits_missing(self) -> list[tuple[tuple[str, int], str, str]]:
        """The edited posts whose latest text is not the stored one: (post, edit marker, stored text's end)."""
        texts = {
            (str(c), int(i)): str(t) for c, i, t in query(self.db, "SELECT lower(channel), message_id, text FROM posts")
        }
        return [
            (key, mark, texts.get(key, "")[-60:]) for key, mark in self.edited.items() if mark not in texts.get(key, "")
        ]

    def stored(self) -> set[tuple[str, int]]:
        return {(str(c), int(i)) for c, i in query(self.db, "SELECT lower(channel), message_id FROM posts")}

    def report(
        self,
        served: set[tuple[str, int]],
        on_server: set[tuple[str, int]],
        requests: int,
        codes: dict[str, int],
        logs: dict[str, str],
        caught_up: bool,
    ) -> int:
        from feedwatch.campaigns.identity import tag_identity
        from feedwatch.models import stored_post

        integrity = "n/a (PostgreSQL)"
        if isinstance(self.db, Path):
            con = sqlite3.connect(self.db)
            integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
            con.close()
        rows = query(self.db, "SELECT lower(channel), message_id, text, json FROM posts")
        stored = Counter((str(c), int(i)) for c, i, _, _ in rows)
        texts = {(str(c), int(i)): str(t) for c, i, t, _ in rows}
        tags = sum(1 for *_, js in rows for raw in stored_post(str(js)).hashtags if tag_identity(raw))
        uses = int(query(self.db, "SELECT coalesce(sum(uses), 0) FROM campaign_spellings")[0][0])
        alerts = query(self.db, "SELECT tag, tier, episode_start FROM campaign_alerts")
        versioned = {
            (str(c), int(i))
            for c, i in query(
                self.db,
                "SELECT DISTINCT lower(p.channel), p.message_id FROM post_versions v JOIN posts p ON p.id = v.post",
            )
        }
        lost = sorted((served | on_server) - set(stored))
        duplicates = sum(n - 1 for n in stored.values() if n > 1)
        edits_current = sum(1 for key, text in self.edited.items() if text in texts.get(key, ""))
        tracebacks = sum(log.count("Traceback") for log in logs.values())
        gave_up = sum(log.count("gave up") for log in logs.values())
        figures = [
            ("workers at once", self.args.workers),
            ("requests", requests),
            ("faults injected", sum(n for k, n in self.counts.items() if k.startswith("fault "))),
            *sorted((k, n) for k, n in self.counts.items() if k.startswith("fault ")),
            ("workers killed (SIGKILL)", self.counts["kills"]),
            ("workers stopped (SIGTERM)", self.counts["clean stops"]),
            ("workers started in their place", self.counts["restarts"]),
            ("jobs of killed workers given up", gave_up),
            ("posts added while running", self.counts["posts added"]),
            ("posts served", len(served)),
            ("posts on the server", len(on_server)),
            ("posts stored", len(stored)),
            ("duplicates", duplicates),
            ("lost", len(lost)),
            ("edits made", self.counts["edits made"]),
            ("edited posts", len(self.edited)),
            ("edited posts whose latest text is stored", edits_current),
            ("edited after being stored", len(self.stored_before_edit)),
            ("  of which have an old version kept", len(self.stored_before_edit & versioned)),
            ("hashtags in stored posts", tags),
            ("hashtags the detector counted", uses),
            ("campaign alerts", len(alerts)),
            ("campaign alerts raised twice", len(alerts) - len(set(alerts))),
            ("caught up after the chaos", caught_up),
            ("tracebacks in worker logs", tracebacks),
            ("clean stops with exit != 0", self.counts["clean stops with exit != 0"]),
            ("final exit codes", sorted(codes.values())),
            ("integrity_check", integrity),
        ]
        for name, value in figures:
            print(f"{name:42} {value}")
        if lost:
            print(f"lost (first 10): {lost[:10]}")
        for missing in self.edits_missing()[:10]:
            print(f"edit not stored: {missing}")
        ok = (
            caught_up
            and not lost
            and not duplicates
            and integrity in ("ok", "n/a (PostgreSQL)")
            and edits_current == len(self.edited)
            and self.stored_before_edit <= versioned
            and tags == uses
            and alerts
            and len(alerts) == len(set(alerts))
            and not tracebacks
            and not self.counts["clean stops with exit != 0"]
            and set(codes.values()) == {0}
        )
        print("soak: PASS" if ok else "soak: FAIL")
        return 0 if ok else 1


def run(args: argparse.Namespace, workdir: Path) -> int:
    """Make the queue's database (and with --pg-store a schema in it for the store), soak, drop it."""
    queue, name = make_queue(args.postgres)
    store = None
    if args.pg_store:
        import psycopg

        with psycopg.connect(queue, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA store")
        store = queue + ("&" if "?" in queue else "?") + "options=-csearch_path%3Dstore"
    print(f"store: {store.split('@')[-1] if store else 'SQLite file'}", flush=True)
    try:
        return WorkerSoak(args, workdir, queue, store).run()
    finally:
        drop_queue(args.postgres, name)
