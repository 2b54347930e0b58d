"""`feedwatch worker`: polls, folder scans, digests and campaign detection as procrastinate jobs.

Any number of worker processes, on any machines, share one job queue in
PostgreSQL (procrastinate) and one store. The jobs:

    feedwatch.poll     one channel; lock and queueing lock `poll:<name>`, so a
                       channel is polled by one worker at a time and queued at
                       most once. When it ends it queues its next poll: after
                       the channel's interval, or at its retry time when it was
                       rate limited (the store keeps retry_at and the resume
                       point, so any worker continues where the last one was).
    feedwatch.folders  the watched folders, the same way (`folders`).
    feedwatch.detect   campaign detection over the posts stored since it last
                       ran, in one ordered stream (`detect`; see below).
    feedwatch.digest   procrastinate's periodic task on digest.schedule: built
                       once per schedule however many workers run.
    feedwatch.plan     periodic, every worker.tick seconds: gives up the jobs of
                       workers that stopped sending heartbeats (killed), then
                       queues a poll for every configured channel that has none
                       queued or running. A poll that is not due yet (polled
                       less than its interval ago) only queues its next one.

Each worker process holds its own politeness gate (HostGate) and opens its own
sources: its own source address (`web.source_address`) and Telethon session
(`telethon.session`), so N workers are N addresses or accounts. A worker killed
mid-poll loses nothing: what it stored is committed, the channel's mark moves
only once a walk reaches it, and its job is given up after
`worker.stalled_after` seconds without a heartbeat, so the channel is queued
again and the next poll continues from the stored mark.

Detection with many writers: `StreamGate` is a PostgreSQL advisory lock in the
queue's database. Writers hold it shared while they store; the detector takes
it exclusively only to read the highest post id, so every post with an id up to
that mark is committed (a transaction that took a lower id cannot commit after
it), and hands the mark to feedwatch.campaigns.catch_up.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Status

from feedwatch.config import ChannelSpec, Config
from feedwatch.errors import ConfigError, FeedwatchError, SourceError

log = logging.getLogger("feedwatch.worker")

GATE_KEY = 0x66_77_73_74_72_65_61_6D  # "fwstream": the advisory lock writers share and the detector takes alone
SCHEMA_KEY = 0x66_77_73_63_68_65_6D_61  # "fwschema": one worker at a time installs procrastinate's tables


class Stopping(SourceError):
    """The worker is shutting down: the poll under way ends at its next wait."""


def queue_error(url: str, exc: BaseException) -> FeedwatchError:
    """Return the one line for a job queue that cannot be used."""
    where = url.split("@")[-1]  # never print a password
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return FeedwatchError(
        f"job queue {where}: cannot use it ({reason}). Check that PostgreSQL runs there and the URL "
        "(--queue, FEEDWATCH_QUEUE or [worker] queue) names a database this user may write"
    )


class StreamGate:
    """Writers store under a shared advisory lock; the detector's mark is read under the exclusive one."""

    def __init__(self, url: str, wait: float = 60.0):
        self.url, self.wait = url, wait

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise queue_error(self.url, exc) from None

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the gate shared for the block (a connection of its own: closing it releases the lock)."""
        with self._connect() as conn:
            conn.execute("SELECT pg_advisory_lock_shared(%s)", (GATE_KEY,))
            yield

    def mark(self, newest: Callable[[], int]) -> int:
        """Return `newest()` read while no writer is inside the gate: every post up to it is committed."""
        with self._connect() as conn:
            conn.execute(f"SET lock_timeout = '{int(self.wait * 1000)}ms'")
            try:
                conn.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))
            except psycopg.errors.LockNotAvailable:
                raise FeedwatchError(
                    f"a writer held the stream gate over {self.wait:g} s; detection runs later"
                ) from None
            return newest()  # the lock goes with the connection


def resolve_queue(option: str | None, config: Config, db: str | None, env: dict[str, str]) -> str:
    """Return the queue's PostgreSQL URL: --queue, FEEDWATCH_QUEUE, [worker] queue, else a PostgreSQL --db."""
    for candidate in (option, env.get("FEEDWATCH_QUEUE"), config["worker.queue"], db):
        if candidate and str(candidate).startswith(("postgresql://", "postgres://")):
            return str(candidate)
        if candidate and candidate is not db:
            raise ConfigError(f"{candidate}: the job queue must be a postgresql:// URL")
    raise ConfigError(
        "feedwatch worker needs a PostgreSQL job queue: --queue postgresql://..., FEEDWATCH_QUEUE, "
        "or [worker] queue in the config"
    )


def ensure_queue(url: str) -> None:
    """Install procrastinate's tables in the queue's database when they are missing; one line if unusable."""
    from procrastinate.schema import SchemaManager

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_KEY,))
            row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if row is None or row[0] is None:
                conn.execute(SchemaManager.get_schema())
                log.info("worker: job queue tables installed")
    except psycopg.Error as exc:
        raise queue_error(url, exc) from None


@dataclass
class Runtime:
    """What one worker process holds: its config, store, queue, gates and stop flag."""

    config: Config
    db: str | None
    queue: str
    gate: StreamGate
    stop: threading.Event = field(default_factory=threading.Event)
    hosts: Any = None  # the web source's HostGate, one per process

    def sleep(self, seconds: float) -> None:
        """Wait like time.sleep, but end the poll under way when the worker is stopping."""
        if self.stop.wait(seconds):
            raise Stopping("feedwatch is stopping; this poll resumes on the next start")


def spec_args(spec: ChannelSpec) -> dict[str, Any]:
    return {"channel": spec.name, "source": spec.source, "interval": spec.interval, "backfill": spec.backfill}


def due_at(spec: ChannelSpec, last_polled: datetime | None, retry_at: datetime | None) -> datetime | None:
    """Return when a channel's next poll is due (None: now): its interval after the last, or its retry time."""
    times = [t for t in (last_polled + timedelta(seconds=spec.interval) if last_polled else None, retry_at) if t]
    return max(times) if times else None


def tick_cron(seconds: int) -> str:
    """Return the cron (with procrastinate's seconds column) of a tick every `seconds`."""
    if seconds < 60:
        step = next(s for s in range(max(1, seconds), 61) if 60 % s == 0)
        return f"* * * * * */{step}"
    return f"*/{max(1, min(59, seconds // 60))} * * * *"


def make_app(rt: Runtime) -> procrastinate.App:
    """Return the procrastinate App with feedwatch's tasks bound to this worker's runtime."""
    from feedwatch.poll import digest_hook

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=rt.queue))

    async def defer(task: Any, lock: str, at: datetime | None = None, **kwargs: Any) -> None:
        with suppress(AlreadyEnqueued):  # one is queued already: that one runs
            await task.configure(lock=lock, queueing_lock=lock, schedule_at=at).defer_async(**kwargs)

    @app.task(name="feedwatch.poll")
    async def poll(channel: str, source: str, interval: int, backfill: int | None) -> None:
        spec = ChannelSpec(channel, source, interval, backfill)
        following: datetime | None = None
        try:
            following = await asyncio.to_thread(poll_channel, rt, spec)
        finally:
            if not rt.stop.is_set():
                next_at = following or datetime.now(UTC) + timedelta(seconds=interval)
                await defer(poll, f"poll:{channel}", next_at, **spec_args(spec))
                await defer(detect, "detect")

    @app.task(name="feedwatch.folders")
    async def folders(paths: list[str], interval: int) -> None:
        try:
            await asyncio.to_thread(scan_folders, rt, paths)
        finally:
            if not rt.stop.is_set():
                later = datetime.now(UTC) + timedelta(seconds=interval)
                await defer(folders, "folders", later, paths=paths, interval=interval)
                await defer(detect, "detect")

    @app.task(name="feedwatch.detect")
    async def detect() -> None:
        await asyncio.to_thread(detect_campaigns, rt)

    @app.periodic(cron=tick_cron(int(rt.config["worker.tick"])))
    @app.task(name="feedwatch.plan", queueing_lock="plan")
    async def plan(timestamp: int) -> None:
        await give_up_stalled(app, int(rt.config["worker.stalled_after"]))
        queued = await queued_locks(app)
        for spec in rt.config.channels:
            if f"poll:{spec.name}" not in queued:
                await defer(poll, f"poll:{spec.name}", **spec_args(spec))
        paths = list(rt.config["folders.paths"])
        if paths and "folders" not in queued:
            await defer(folders, "folders", paths=paths, interval=int(rt.config["folders.interval"]))
        if "detect" not in queued:
            await defer(detect, "detect")

    hook = digest_hook()
    if hook is not None:
        try:
            from croniter import croniter  # type: ignore[import-untyped]

            croniter(rt.config["digest.schedule"])
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"digest.schedule: not a cron expression ({exc})") from None

        @app.periodic(cron=rt.config["digest.schedule"])
        @app.task(name="feedwatch.digest", queueing_lock="digest", lock="digest")
        async def digest(timestamp: int) -> None:
            await asyncio.to_thread(build_digest, rt, hook)

    return app


def poll_channel(rt: Runtime, spec: ChannelSpec) -> datetime | None:
    """Poll one channel when it is due; return when its next poll is due (None: after its interval)."""
    from feedwatch.poll import close_store, open_store, poll_once

    try:
        store = open_store(rt.config, rt.db)
        try:
            state = store.channel(spec.name)
        finally:
            close_store(store)
        now = datetime.now(UTC)
        due = due_at(spec, state.last_polled_at if state else None, state.retry_at if state else None)
        if due is not None and due > now + timedelta(seconds=1):
            return due  # polled lately (another queue entry) or rate limited: its own time
        reports = poll_once(rt.config, [spec], db=rt.db, gate=rt.hosts, sleep=rt.sleep, guard=rt.gate.writing)
    except FeedwatchError as exc:
        log.error("poll %s: %s", spec.name, exc)
        return None
    retry = max((r.retry_at for r in reports if r.retry_at is not None), default=None)
    if retry is not None:
        log.info("poll %s: rescheduled at %s", spec.name, retry.isoformat())
    return retry


def scan_folders(rt: Runtime, paths: list[str]) -> None:
    from feedwatch.poll import poll_folders_once

    try:
        poll_folders_once(rt.config, db=rt.db, paths=paths, guard=rt.gate.writing)
    except FeedwatchError as exc:
        log.error("folders: %s", exc)


def detect_campaigns(rt: Runtime) -> tuple[int, int]:
    """Feed the posts stored since the last run to the campaign detector; return (posts, alerts)."""
    from feedwatch.campaigns import catch_up
    from feedwatch.campaigns.stored import newest_post
    from feedwatch.poll import close_store, open_store

    try:
        store = open_store(rt.config, rt.db)
        try:
            mark = rt.gate.mark(lambda: newest_post(store.db.conn))
            posts, alerts = catch_up(store.db, mark)
        finally:
            close_store(store)
    except FeedwatchError as exc:
        log.error("detect: %s", exc)
        return 0, 0
    if posts:
        log.info("detect: %d post(s) read, %d alert(s) raised", posts, alerts)
    return posts, alerts


def build_digest(rt: Runtime, hook: Callable[[Config], object]) -> None:
    try:
        log.info("digest: %s", hook(rt.config))
    except FeedwatchError as exc:
        log.error("digest: %s", exc)


async def give_up_stalled(app: procrastinate.App, after: int) -> int:
    """Mark failed the running jobs of workers silent for `after` seconds (killed); return how many."""
    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=after))
    for job in stalled:
        assert job.id is not None
        await app.job_manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
        log.info("worker: gave up %s %s (its worker stopped answering)", job.task_name, job.task_kwargs)
    return len(stalled)


async def queued_locks(app: procrastinate.App) -> set[str]:
    """Return the queueing locks of the jobs waiting or running."""
    rows = await app.connector.execute_query_all_async(
        "SELECT DISTINCT queueing_lock FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        " AND queueing_lock IS NOT NULL"
    )
    return {row["queueing_lock"] for row in rows}


def start(config: Config, db: str | None, queue: str) -> Runtime:
    """Prepare a worker: check the store and the queue, take the stream over; raise FeedwatchError if unusable."""
    import random

    from feedwatch.campaigns import adopt_stream
    from feedwatch.campaigns.stored import newest_post
    from feedwatch.poll import close_store, open_store
    from feedwatch.sources.web import HostGate, WebSettings

    if db:  # the digest reads the config's store: make it the one the polls write
        from feedwatch.store.backend import is_url

        target = {"database.path": db, "database.url": db if is_url(db) else ""}
        config = replace(config, values={**config.values, **target})
    ensure_queue(queue)
    rt = Runtime(config, db, queue, StreamGate(queue))
    rt.hosts = HostGate(WebSettings.from_config(config), time.monotonic, rt.sleep, random.Random())
    store = open_store(config, db)
    try:
        if adopt_stream(store.db, rt.gate.mark(lambda: newest_post(store.db.conn))):
            log.info("worker: campaign detection now runs as one stream over the stored posts")
    finally:
        close_store(store)
    return rt


def run(rt: Runtime, *, name: str = "worker", concurrency: int = 1, install_signals: bool = True) -> None:
    """Run the worker until SIGINT/SIGTERM (or rt.stop); the jobs under way end at their next wait."""
    for noisy in ("procrastinate", "httpx"):  # their INFO lines are per job and per request
        logging.getLogger(noisy).setLevel(logging.WARNING)
    app = make_app(rt)

    async def main() -> None:
        async with app.open_async():
            worker = asyncio.create_task(
                app.run_worker_async(
                    name=name,
                    concurrency=max(1, concurrency),
                    install_signal_handlers=False,
                    update_heartbeat_interval=max(1.0, int(rt.config["worker.stalled_after"]) / 4),
                    stalled_worker_timeout=float(rt.config["worker.stalled_after"]),
                    fetch_job_polling_interval=1.0,
                    shutdown_graceful_timeout=60.0,
                )
            )
            loop = asyncio.get_running_loop()
            stopping = False

            def stop() -> None:  # once: a second cancel would cut procrastinate's graceful shutdown short
                nonlocal stopping
                if not stopping:
                    stopping = True
                    rt.stop.set()
                    worker.cancel()

            if install_signals:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, stop)
            watcher = asyncio.create_task(asyncio.to_thread(rt.stop.wait))
            watcher.add_done_callback(lambda _: stop())
            log.info("worker %s: started (queue %s)", name, rt.queue.split("@")[-1])
            with suppress(asyncio.CancelledError):
                await worker
            rt.stop.set()
            await watcher
            log.info("worker %s: stopped", name)

    asyncio.run(main())


def queue_rows(url: str) -> list[dict[str, Any]]:
    """Return the jobs waiting or running, oldest first: task, status, args, when, worker."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (None,):
                return []
            cur = conn.execute(
                "SELECT id, task_name, status::text AS status, args, scheduled_at, worker_id FROM procrastinate_jobs"
                " WHERE status IN ('todo', 'doing') ORDER BY status, coalesce(scheduled_at, now()), id"
            )
            names = [d.name for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    except psycopg.Error as exc:
        raise queue_error(url, exc) from None
