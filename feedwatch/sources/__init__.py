"""Sources: fetching only. Each turns a channel into Posts; `feedwatch.poll` stores them.

A channel source has `fetch(channel, high_water, backfill_days) -> Fetch`. A
fetch that fails part-way still returns what it read, with the error; its
`high_water` moves forward only when every post newer than the old mark was
read, so a failure never skips posts. A source that reads newest first may
instead return a `resume` point: the posts from `before` up to `top` are read,
and the next poll continues below `before`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from feedwatch.errors import (
    ChannelNotFound,
    FeedwatchError,
    PreviewUnavailable,
    RateLimited,
    SourceError,
    SourceUnreachable,
)
from feedwatch.models import Post


class MarkupChanged(SourceError):
    """A page with message widgets from which no ids or dates parse: the site's markup changed."""


class KnownChannel(Protocol):
    """What a source may read of a channel's stored state (feedwatch.store.ChannelState has it all)."""

    @property
    def title(self) -> str | None: ...
    @property
    def channel_id(self) -> int | None: ...
    @property
    def access_hash(self) -> int | None: ...
    @property
    def resume_before(self) -> int | None: ...
    @property
    def resume_top(self) -> int | None: ...


@dataclass
class Fetch:
    """What one poll of one channel read."""

    channel: str
    posts: list[Post] = field(default_factory=list)
    title: str | None = None
    high_water: int | None = None  # the mark to store: moved forward only when nothing newer was skipped
    channel_id: int | None = None
    access_hash: int | None = None
    requests: int = 0
    error: FeedwatchError | None = None
    retry_at: datetime | None = None  # a source that must wait (FloodWait, a long 429) says when to come back
    resume: tuple[int, int] | None = None  # (before, top): a walk that stopped short continues below `before`
    note: str | None = None  # one line a person should read about a fetch that went well (a page cap reached)


ERROR_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (PreviewUnavailable, "no_preview"),
    (ChannelNotFound, "not_found"),
    (RateLimited, "rate_limited"),
    (SourceUnreachable, "unreachable"),
    (MarkupChanged, "drift"),
    (SourceError, "source"),
    (FeedwatchError, "error"),
)


def error_kind(exc: BaseException) -> str:
    """Return the kind recorded in the ingest runs for an error: 'unreachable', 'no_preview', 'drift', ..."""
    return next((kind for cls, kind in ERROR_KINDS if isinstance(exc, cls)), "internal")
