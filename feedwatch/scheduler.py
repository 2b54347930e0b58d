"""`feedwatch watch`: APScheduler wiring. Jobs call feedwatch.poll, exactly as `feedwatch poll` does.

One job per channel (its interval, plus jitter) and one for the watched
folders, all with coalesce=True, max_instances=1 and a misfire grace time, so
a late or slow poll never piles up; each job opens its own store connection.
The digest runs on its cron schedule when this build has
`feedwatch.digest.run_scheduled`. Web channels share one politeness gate per
host, so a long 429 on one channel holds the host for all of them; a channel
whose poll ends with a retry time (a long 429, a FloodWait, or one kept in the
store from before a restart) is rescheduled at that time. SIGINT/SIGTERM stop
the scheduler: the poll under way ends at its next wait (what it read is
stored, its mark not moved past anything unread), and `watch` returns. A
restart resumes from the stored high-water marks and resume points.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from feedwatch.config import ChannelSpec, Config
from feedwatch.errors import ConfigError, FeedwatchError, SourceError
from feedwatch.poll import close_store, digest_hook, follow_stream, open_store, poll_folders_once, poll_once

log = logging.getLogger("feedwatch.watch")


class Stopping(SourceError):
    """The scheduler is shutting down: the poll under way ends at its next wait."""


class Watcher:
    """The scheduler and its jobs; `run()` blocks until stop() or a signal."""

    def __init__(self, config: Config, db: str | None = None):
        """Raise StoreError, before any job exists, when the database cannot be used (not one, a folder, read-only)."""
        from feedwatch.sources.web import HostGate, WebSettings

        if db:  # the digest job reads config's database.path: make it the database the polls write
            config = dataclasses.replace(config, values={**config.values, "database.path": db})
        close_store(open_store(config, db))
        self.config, self.db = config, db
        self.stop_event = threading.Event()
        settings = WebSettings.from_config(config)
        self.gate = HostGate(settings, time.monotonic, self.sleep, random.Random())
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its per-job INFO lines say nothing of when
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(config["poll.misfire_grace"]) or None,
            },
        )
        self._add_jobs()

    def sleep(self, seconds: float) -> None:
        """Wait like time.sleep, but end the poll under way when the scheduler is stopping."""
        if self.stop_event.wait(seconds):
            raise Stopping("feedwatch is stopping; this poll resumes on the next start")

    def _add_jobs(self) -> None:
        now = datetime.now(UTC)
        jitter = int(self.config["poll.jitter"]) or None
        for spec in self.config.channels:
            self.scheduler.add_job(
                self.poll_channel,
                IntervalTrigger(seconds=spec.interval, jitter=jitter),
                args=[spec],
                id=f"poll:{spec.name}",
                name=f"poll {spec.name}",
                next_run_time=now,
            )
        if self.config["folders.paths"]:
            self.scheduler.add_job(
                self.poll_folders,
                IntervalTrigger(seconds=int(self.config["folders.interval"])),
                id="folders",
                name="watched folders",
                next_run_time=now,
            )
        hook = digest_hook()
        if hook is not None:
            try:
                trigger = CronTrigger.from_crontab(self.config["digest.schedule"], timezone=UTC)
            except ValueError as exc:
                raise ConfigError(f"digest.schedule: not a cron expression ({exc})") from None
            self.scheduler.add_job(self.digest, trigger, args=[hook], id="digest", name="digest")
        else:
            log.info("digest: not in this build; no digest job scheduled")

    def poll_channel(self, spec: ChannelSpec) -> None:
        if self.stop_event.is_set():
            return
        reports = poll_once(self.config, [spec], db=self.db, gate=self.gate, sleep=self.sleep)
        follow_stream(self.config, self.db)  # a store workers wrote: detection follows its stream
        for report in reports:
            if report.retry_at is not None and not self.stop_event.is_set():
                log.info("poll %s: rescheduled at %s", spec.name, report.retry_at.isoformat())
                self.scheduler.modify_job(f"poll:{spec.name}", next_run_time=report.retry_at)

    def digest(self, hook: Callable[[Config], object]) -> None:
        """Build and deliver the digest; a failure is one log line, and the next schedule tries again."""
        try:
            log.info("digest: %s", hook(self.config))
        except FeedwatchError as exc:
            log.error("digest: %s", exc)

    def poll_folders(self) -> None:
        if not self.stop_event.is_set():
            poll_folders_once(self.config, db=self.db)
            follow_stream(self.config, self.db)

    def jobs(self) -> list[Any]:
        return list(self.scheduler.get_jobs())

    def schedule_lines(self) -> list[str]:
        """Return one line per job: what it does, how often, and when it next runs (UTC)."""
        lines = []
        for job in self.jobs():
            when = getattr(job, "next_run_time", None)
            at = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if when else "not yet scheduled"
            lines.append(f"{job.name}: {_every(job.trigger, self.config)}, next at {at}")
        return lines

    def run(self, install_signals: bool = True) -> None:
        """Start the jobs and block until stop() or SIGINT/SIGTERM; return after a clean shutdown."""
        if install_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: self.stop_event.set())
        self.scheduler.start(paused=True)  # the schedule is told before the first jobs run and move it on
        for line in self.schedule_lines():
            log.info("watch: %s", line)
        self.scheduler.resume()
        while not self.stop_event.wait(0.5):
            pass
        log.info("watch: stopping")
        self.scheduler.shutdown(wait=True)
        log.info("watch: stopped")

    def stop(self) -> None:
        self.stop_event.set()


def _every(trigger: Any, config: Config) -> str:
    """Return how often a trigger fires, for people: "every 15 min", "on cron 0 8 * * * (UTC)"."""
    if isinstance(trigger, IntervalTrigger):
        seconds = int(trigger.interval.total_seconds())
        return f"every {seconds // 60} min" if seconds % 60 == 0 and seconds >= 60 else f"every {seconds} s"
    if isinstance(trigger, CronTrigger):
        return f"on cron {config['digest.schedule']} (UTC)"
    return str(trigger)
