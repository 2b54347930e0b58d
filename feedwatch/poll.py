"""Polling: the one place that joins a source to the store.

`poll_channels()` reads each channel from its source (web channels in
parallel, within the per-host politeness limits; Telethon channels one after
the other) and stores what came back in the calling thread, one channel at a
time: posts ingested (new posts, edits as versions, view counts as
observations), the channel's high-water mark moved forward, its polling
progress kept (the time a rate-limited channel may be asked again, where an
unfinished walk resumes), and one ingest-run record with the errors. A channel
whose stored retry time is still ahead is not asked before then, and a source
that can hold its host (`hold(until)`) is held, so a restart honours a 429.
`feedwatch poll`, `feedwatch run` and the scheduler's jobs all call it, so
they can never drift apart.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from feedwatch.config import ChannelSpec, Config
from feedwatch.errors import FeedwatchError, RateLimited
from feedwatch.sources import Fetch, KnownChannel, error_kind

if TYPE_CHECKING:
    from feedwatch.store import ChannelState, Store

log = logging.getLogger("feedwatch.poll")
KEEP = object()  # backfill: take each channel's own setting


class ChannelSource(Protocol):
    name: str

    def fetch(
        self, channel: str, high_water: int | None, backfill_days: int | None, state: KnownChannel | None = None
    ) -> Fetch: ...


@dataclass
class Report:
    """What one poll of one source brought: counts and errors (kind, message)."""

    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    retry_at: datetime | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_line(self) -> str:
        """Return the one line that says why this source failed (and what it still stored)."""
        messages = "; ".join(message for _, message in self.errors)
        named = self.source.split(":", 1)[-1]
        named_in = any(f"{before}{named}{after}" in messages for before in "/:" for after in " :")
        line = messages if named_in else f"{self.source}: {messages}"
        if self.new or self.updated:
            line += f" ({self.new} new, {self.updated} updated stored before that)"
        return line

    def line(self) -> str:
        """Return the one line a person reads for this source."""
        counts = f"{self.new} new, {self.updated} updated"
        if self.failed:
            counts += f", {self.failed} failed"
        status = "ok" if self.ok else "error: " + "; ".join(message for _, message in self.errors)
        if self.ok and self.note:
            status += f"; {self.note}"
        return f"{self.source:32} {counts:28} {status}"


def now_utc() -> datetime:
    return datetime.now(UTC)


def poll_channels(
    store: Store,
    specs: Sequence[ChannelSpec],
    sources: dict[str, ChannelSource],
    *,
    backfill: Any = KEEP,
    workers: int = 4,
    now: Callable[[], datetime] = now_utc,
    on_report: Callable[[Report], None] | None = None,
    guard: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> list[Report]:
    """Poll each channel from its source and store the result; return one Report per channel.

    Each channel's writes happen inside `guard()` (workers: the stream gate, feedwatch.workers).
    """
    states = {spec.name: store.channel(spec.name) for spec in specs}
    reports: list[Report] = []
    for spec, fetch, started in _fetch_all(specs, sources, states, backfill, workers, now):
        with guard():
            report = store_fetch(store, spec, fetch, started, now())
        log.info("poll %s", report.line())
        reports.append(report)
        if on_report:
            on_report(report)
    return reports


Done = tuple[ChannelSpec, Fetch, datetime]


def _fetch_all(
    specs: Sequence[ChannelSpec],
    sources: dict[str, ChannelSource],
    states: dict[str, ChannelState | None],
    backfill: Any,
    workers: int,
    now: Callable[[], datetime],
) -> Iterator[Done]:
    """Yield (spec, fetch, started) as fetches finish: web ones from a thread pool, others in this thread."""

    def one(spec: ChannelSpec) -> Done:
        started = now()
        state = states.get(spec.name)
        days = spec.backfill if backfill is KEEP else backfill
        source = sources.get(spec.source)
        if source is None:
            return (
                spec,
                Fetch(
                    spec.name,
                    error=FeedwatchError(f"{spec.name}: the {spec.source} source is not available (see the README)"),
                ),
                started,
            )
        if state is not None and state.retry_at is not None and state.retry_at > started:
            return spec, _held(spec, state), started
        try:
            return spec, source.fetch(spec.name, state.high_water if state else None, days, state=state), started
        except FeedwatchError as exc:
            return spec, Fetch(spec.name, error=exc), started
        except Exception as exc:  # a bug must not stop the other channels or the scheduler
            log.exception("poll %s: unexpected error", spec.name)
            return spec, Fetch(spec.name, error=exc), started  # type: ignore[arg-type]

    _restore_holds(specs, sources, states, now())
    threaded = [s for s in specs if s.source == "web"]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="feedwatch-web") as pool:
        futures: list[Future[Done]] = [pool.submit(one, s) for s in threaded]
        for spec in specs:
            if spec.source != "web":
                yield one(spec)
        for future in as_completed(futures):
            yield future.result()


def _restore_holds(
    specs: Sequence[ChannelSpec],
    sources: dict[str, ChannelSource],
    states: dict[str, ChannelState | None],
    when: datetime,
) -> None:
    """Hold each source that can hold its host until the latest stored retry time of its channels."""
    for spec in specs:
        state, hold = states.get(spec.name), getattr(sources.get(spec.source), "hold", None)
        if hold is not None and state is not None and state.retry_at is not None and state.retry_at > when:
            hold(state.retry_at)


def _held(spec: ChannelSpec, state: ChannelState) -> Fetch:
    """Return the fetch of a channel not asked because its stored retry time is ahead: progress kept."""
    before, top = state.resume_before, state.resume_top
    resume = (before, top) if before is not None and top is not None else None
    error = RateLimited(
        f"rate limited: not asked before {state.retry_at:%Y-%m-%d %H:%M:%S} UTC, as the server "
        "requested; polled again then"
    )
    return Fetch(spec.name, error=error, retry_at=state.retry_at, resume=resume)


def store_fetch(store: Store, spec: ChannelSpec, fetch: Fetch, started: datetime, finished: datetime) -> Report:
    """Store one channel's fetch: posts, the channel state, and the run record; return its Report."""
    from feedwatch.store import ChannelState

    source = f"{spec.source}:{spec.name}"
    report = Report(source, requests=fetch.requests, retry_at=fetch.retry_at, note=fetch.note)
    if fetch.posts:
        result = store.ingest(fetch.posts, source, observed_at=finished)
        report.new, report.updated = result.new, result.updated
        report.unchanged, report.failed = result.unchanged, result.failed
    if fetch.error is not None:
        report.errors.append((error_kind(fetch.error), _message(fetch.error)))
    state = store.channel(spec.name) or ChannelState(username=spec.name)
    state = replace(
        state,
        title=fetch.title or state.title,
        channel_id=fetch.channel_id or state.channel_id,
        access_hash=fetch.access_hash or state.access_hash,
        high_water=fetch.high_water if fetch.high_water is not None else state.high_water,
        last_polled_at=finished,
        retry_at=fetch.retry_at,
        resume_before=fetch.resume[0] if fetch.resume else None,
        resume_top=fetch.resume[1] if fetch.resume else None,
    )
    store.save_channel(state)
    store.record_run(
        source,
        new=report.new,
        updated=report.updated,
        unchanged=report.unchanged,
        failed=report.failed,
        errors=report.errors,
        started_at=started,
        finished_at=finished,
    )
    return report


def _message(exc: BaseException) -> str:
    if isinstance(exc, FeedwatchError):
        return str(exc)
    return f"internal error ({type(exc).__name__}: {exc}); please report it"


def channel_sources(
    config: Config,
    specs: Sequence[ChannelSpec],
    *,
    now: Callable[[], datetime] = now_utc,
    client: Any = None,
    gate: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[dict[str, ChannelSource], Callable[[], None]]:
    """Return the sources the channels need, and a function that closes them."""
    from feedwatch.sources.web import WebSettings, WebSource, make_client

    sources: dict[str, ChannelSource] = {}
    closers: list[Callable[[], None]] = []
    if any(s.source == "web" for s in specs):
        settings = WebSettings.from_config(config)
        http = client or make_client(settings)
        if client is None:
            closers.append(http.close)
        sources["web"] = WebSource(http, settings, now=now, sleep=sleep, gate=gate)
    if any(s.source == "telethon" for s in specs):
        from feedwatch.sources.telethon import open_telethon_source

        telethon = open_telethon_source(config, sleep=sleep)
        sources["telethon"] = telethon
        closers.append(telethon.close)

    def close() -> None:
        for closer in closers:
            closer()

    return sources, close


def open_store(config: Config, db: str | None = None) -> Store:
    """Open the store at --db, else the configured path, else feedwatch's default, detecting campaigns as it stores."""
    from feedwatch.campaigns import IngestHook
    from feedwatch.campaigns.stored import release_stale_on_open
    from feedwatch.store import Store, configured, default_db_path

    store = Store.open(db or configured(config) or default_db_path())
    release_stale_on_open(store)  # an ingest that died detecting beside itself left detection to the next writer
    store.on_new = IngestHook()
    return store


def close_store(store: Store) -> None:
    store.close()


def follow_stream(config: Config, db: str | None = None) -> int:
    """Catch up campaign detection when workers made it one ordered stream (see feedwatch.workers); return alerts.

    One machine (`watch`, `run`) needs no gate: its own writes are done when it asks.
    """
    from feedwatch.campaigns import catch_up
    from feedwatch.campaigns.stored import live_lease, newest_post, stream_position

    store = open_store(config, db)
    try:
        if stream_position(store.db.conn) is None or live_lease(store.db.conn):
            return 0  # detection runs as posts are stored, or an ingest detects beside itself (it feeds these too)
        return catch_up(store.db, newest_post(store.db.conn))[1]
    finally:
        close_store(store)


def poll_once(
    config: Config,
    specs: Sequence[ChannelSpec],
    *,
    db: str | None = None,
    backfill: Any = KEEP,
    on_report: Callable[[Report], None] | None = None,
    client: Any = None,
    gate: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    guard: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> list[Report]:
    """Open the store and the sources, poll `specs` once, close everything; return the Reports."""
    store = open_store(config, db)
    sources, close = channel_sources(config, specs, client=client, gate=gate, sleep=sleep)
    try:
        return poll_channels(
            store,
            specs,
            sources,
            backfill=backfill,
            workers=config["web.concurrency"],
            on_report=on_report,
            guard=guard,
        )
    finally:
        close()
        close_store(store)


def poll_folders_once(
    config: Config,
    *,
    db: str | None = None,
    paths: Sequence[str] | None = None,
    on_report: Callable[[Report], None] | None = None,
    guard: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> list[Report]:
    """Ingest the new or changed files of the watched folders; return one Report per folder."""
    from feedwatch.folders import FolderWatcher  # it builds on Report, defined here

    store = open_store(config, db)
    try:
        watcher = FolderWatcher(store, settle=config["folders.settle"])
        reports = []
        for folder in paths if paths is not None else config["folders.paths"]:
            with guard():
                report = watcher.poll(folder)
            log.info("poll %s", report.line())
            reports.append(report)
            if on_report:
                on_report(report)
        return reports
    finally:
        close_store(store)


# Failures that pass by themselves: a monitoring cycle that met only these still did its job.
TRANSIENT_KINDS = frozenset({"unreachable", "rate_limited"})


@dataclass
class Summary:
    """The totals of one monitoring cycle."""

    reports: list[Report] = field(default_factory=list)
    digest: str | None = None

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def lasting_failures(self) -> list[Report]:
        """The failed sources whose errors will not pass by themselves (not merely unreachable or rate limited)."""
        return [r for r in self.reports if any(kind not in TRANSIENT_KINDS for kind, _ in r.errors)]

    def lines(self) -> list[str]:
        failed = [r for r in self.reports if not r.ok]
        new = sum(r.new for r in self.reports)
        updated = sum(r.updated for r in self.reports)
        lines = [f"summary: {len(self.reports)} source(s), {len(failed)} failed; {new} new post(s), {updated} updated"]
        transient = len(failed) - len(self.lasting_failures)
        if transient:
            lines.append(f"{transient} source(s) could not be reached or were rate limited; the next run retries them")
        if self.digest:
            lines.append(f"digest: {self.digest}")
        return lines


def digest_hook() -> Callable[[Config], object] | None:
    """Return `feedwatch.digest.run_scheduled` when this build has it, else None."""
    try:
        from feedwatch import digest
    except ImportError:
        return None
    return getattr(digest, "run_scheduled", None)


def run_cycle(
    config: Config, *, db: str | None = None, on_report: Callable[[Report], None] | None = None, client: Any = None
) -> Summary:
    """One monitoring cycle: watched folders, then every channel, then the digest when available."""
    if db:
        config = dataclasses.replace(config, values={**config.values, "database.path": db})
    summary = Summary()
    summary.reports += poll_folders_once(config, db=db, on_report=on_report)
    if config.channels:
        summary.reports += poll_once(config, config.channels, db=db, on_report=on_report, client=client)
    follow_stream(config, db)
    hook = digest_hook()
    if hook is not None:
        try:
            result = hook(config)
            summary.digest = str(result) if result is not None else "built"
        except FeedwatchError as exc:
            summary.reports.append(Report("digest", errors=[(error_kind(exc), str(exc))]))
    return summary
