"""What the monitoring tests share: a fake clock, a web source on the local server, a real store."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from feedwatch.config import ChannelSpec
from feedwatch.poll import poll_channels
from feedwatch.sources.web import WebSettings, WebSource, make_client
from feedwatch.store import Store

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A clock whose sleep only moves time forward (and records the waits): no test sleeps for real."""

    wall: datetime = NOW
    mono: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.mono += seconds
            self.wall += timedelta(seconds=seconds)


def settings(base_url: str, **changes: object) -> WebSettings:
    values: dict[str, object] = {
        "base_url": base_url,
        "min_delay": 0.0,
        "jitter": 0.0,
        "timeout": 0.5,
        "connect_timeout": 0.5,
        "backoff": 1.0,
    }
    values.update(changes)
    return WebSettings(**values)  # type: ignore[arg-type]


def web_source(base_url: str, clock: FakeClock, **changes: object) -> WebSource:
    chosen = settings(base_url, **changes)
    return WebSource(
        make_client(chosen), chosen, now=clock.now, clock=clock.monotonic, sleep=clock.sleep, rng=random.Random(1)
    )


def poll(store: Store, source: WebSource, *names: str, backfill: object = None) -> dict:
    """Poll `names` with the web source (then close its client); return {channel: Report}."""
    specs = [ChannelSpec(n, "web", 900, backfill) for n in names]  # type: ignore[arg-type]
    try:
        reports = poll_channels(store, specs, {"web": source}, workers=4, now=source.now)
    finally:
        source.client.close()
    return {r.source.split(":", 1)[1]: r for r in reports}


def stored_ids(store: Store, channel: str) -> list[int]:
    rows = store.db.conn.execute(
        "SELECT message_id FROM posts WHERE lower(channel) = lower(?) ORDER BY message_id", [channel]
    ).fetchall()
    return [r[0] for r in rows]
