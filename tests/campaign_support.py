"""Small builders shared by the campaign tests: posts at an hour of a stream, and a detector run."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from feedwatch.campaigns import Detector, Settings, alerts
from feedwatch.campaigns.schema import transaction
from feedwatch.models import ForwardedFrom, Post

T0 = datetime(2025, 1, 1, tzinfo=UTC)
# Short warm-up so that small streams can alert.
QUICK = Settings(warmup_days=2)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def post(
    hours: float, channel: str | None, *tags: str, forward_of: str | None = None, mid: int = 0, fwd_mid: int = 1
) -> Post:
    origin = (
        ForwardedFrom(forward_of, forward_of, fwd_mid, f"https://t.me/{forward_of}/{fwd_mid}") if forward_of else None
    )
    url = f"https://t.me/{channel}/{mid}" if channel else None
    return Post(
        channel=channel,
        message_id=mid or None,
        url=url,
        date=at(hours),
        hashtags=tags,
        text=" ".join("#" + t for t in tags),
        forwarded_from=origin,
    )


def background(days: int, channels: list[str], tag: str = "news") -> list[Post]:
    """A quiet evergreen tag used by each channel every 6 hours (gives the warm-up and the actors)."""
    return [post(h + i * 0.1, ch, tag) for h in range(0, days * 24, 6) for i, ch in enumerate(channels)]


def detect(
    posts: list[Post],
    settings: Settings = QUICK,
    cache_size: int = 10_000,
    conn: sqlite3.Connection | None = None,
    batch: int = 50,
) -> sqlite3.Connection:
    """Feed `posts` (sorted by time) to a detector on a fresh in-memory database; return the connection."""
    conn = conn or sqlite3.connect(":memory:", isolation_level=None)
    detector = Detector(conn, settings, cache_size)
    ordered = sorted(enumerate(posts, 1), key=lambda kp: kp[1].date or T0)
    for start in range(0, len(ordered), batch):
        with transaction(conn):
            detector.feed(ordered[start : start + batch])
            detector.flush()
    return conn


def tiers_of(conn: sqlite3.Connection, tag: str) -> list[str]:
    """Return the tiers alerted for `tag` (by display spelling), in order."""
    return [a.tier for a in alerts(conn) if a.tag.lower() == tag.lower()]
