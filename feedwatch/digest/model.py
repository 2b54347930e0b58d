"""The digest record: what an analyst reads, built once and rendered many ways.

A `Digest` holds plain values only (no I/O, no markup). Everything that comes
from posts (tags, titles, channel names, texts, URLs) is kept as the raw,
attacker-controlled string; each renderer escapes it for its own format.
`clean_text()` is the one shared normalisation: it removes control,
bidirectional-override, zero-width and tag characters (which can make text
read differently from what it is, or hide text; see feedwatch.display) and
folds whitespace, so a snippet, a tag or a label is always one safe line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from feedwatch.display import strip_invisible

TIER_TITLES = {
    "T1": "coordinated launch",
    "T2": "new campaign",
    "T3": "known-tag burst",
}
_SPACES = re.compile(r"\s+")


def clean_text(text: str | None, limit: int = 0) -> str:
    """Return `text` as one line without control, bidi, zero-width or tag characters, cut to `limit` chars."""
    if not text:
        return ""
    text = strip_invisible(text)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = _SPACES.sub(" ", text).strip()
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def safe_url(url: str | None) -> str | None:
    """Return `url` if it may be made a link (http, https, or t.me without scheme), else None."""
    if not url:
        return None
    url = url.strip()
    if url.lower().startswith("t.me/"):
        url = "https://" + url
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


@dataclass(frozen=True, slots=True)
class PostLink:
    """A pointer back to one post: its t.me/http link when known, else where it was read from."""

    label: str  # the post's title or first words
    url: str | None  # a link the renderers may make clickable (already checked by safe_url)
    where: str  # what to show when there is no link: "seeds/004.txt#3"
    channel: str | None = None
    date: datetime | None = None
    forwarded: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """One named fact behind an alert: 'statistic', '14.2'."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class AlertEntry:
    """A campaign alert as the digest shows it."""

    key: str  # stable identity, recorded when sent so the alert is never sent twice
    tier: str
    tag: str
    tags: tuple[str, ...]
    first_seen: datetime | None
    alerted_at: datetime | None
    channels: tuple[str, ...]
    posts: int  # independent posts of the episode
    forwards: int  # forwards of them (amplification, counted apart)
    score: float
    evidence: tuple[Evidence, ...] = ()  # the detector's other figures, shown as details
    samples: tuple[PostLink, ...] = ()
    statistic: str = ""  # the test that fired, its value and threshold, in words
    score_basis: str = ""  # what the score is: "-log10 p", "z", ...
    summary: tuple[str, ...] = ()  # the detector's evidence as sentences (who, what, why it is not routine)

    @property
    def title(self) -> str:
        return TIER_TITLES.get(self.tier, self.tier)


@dataclass(frozen=True, slots=True)
class EchoLink:
    """One post that repeated a talking point: how (forward, verbatim, edited), how similar, how much later."""

    post: PostLink
    how: str
    similarity: float
    lag_hours: float | None


@dataclass(frozen=True, slots=True)
class Spread:
    """A passage that reached several channels in the window: its origin first, then its echoes in time order."""

    text: str  # the origin's passage
    origin: PostLink
    channels: int
    forwards: int  # amplification the platform shows
    verbatim: int  # copies without attribution
    edited: int  # copies with words added, dropped or moved
    echoes: tuple[EchoLink, ...] = ()


@dataclass(frozen=True, slots=True)
class TagRow:
    """One hashtag over the digest's window, every spelling merged under its key."""

    key: str
    spellings: tuple[str, ...]  # most used first; spellings[0] is the display spelling
    posts: int
    forwards: int
    channels: int

    @property
    def tag(self) -> str:
        return self.spellings[0] if self.spellings else self.key


@dataclass(frozen=True, slots=True)
class ChannelRow:
    channel: str
    posts: int
    forwards: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True, slots=True)
class HealthRow:
    """How one source fared over the window, from the ingest runs."""

    source: str
    runs: int
    failed_runs: int
    posts: int
    errors: tuple[tuple[str, int], ...]  # (kind, count): unreachable, no_preview, rate_limited, drift
    last_error: str | None
    last_run: datetime | None

    @property
    def status(self) -> str:
        """Return 'failing' (every run failed, not only for a rate limit), 'markup drift', 'rate limited',
        'errors' or 'ok'."""
        kinds = dict(self.errors)
        if self.runs and self.failed_runs == self.runs and set(kinds) - {"rate_limited", "drift"}:
            return "failing"
        if kinds.get("drift"):
            return "markup drift"
        if kinds.get("rate_limited"):
            return "rate limited"
        return "errors" if kinds else "ok"


@dataclass(frozen=True, slots=True)
class Series:
    """Post counts per time bucket for one listed tag (the chart's data)."""

    tag: str
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """Counts of every listed tag over the same buckets of `days` days from `start`."""

    start: date
    days: int  # bucket width in days (1: daily)
    buckets: int
    series: tuple[Series, ...]
    undated: int = 0  # posts of the listed tags with no date or dateline: not in the chart


@dataclass(frozen=True, slots=True)
class Digest:
    generated_at: datetime
    since: datetime | None  # None: everything stored
    until: datetime
    posts: int = 0
    new_campaigns: tuple[AlertEntry, ...] = ()  # T1 and T2
    spiking: tuple[AlertEntry, ...] = ()  # T3
    spreading: tuple[Spread, ...] = ()  # talking points that reached several channels
    top_tags: tuple[TagRow, ...] = ()
    channels: tuple[ChannelRow, ...] = ()
    health: tuple[HealthRow, ...] = ()
    chart: Chart | None = None
    notes: tuple[str, ...] = field(default=())  # e.g. "campaign detection is not available"
    seen: bool = False  # the window holds posts seen again in it, not only those first stored
    browse_url: str = ""  # where `feedwatch serve` is reached: the HTML links to its pages when set

    @property
    def alerts(self) -> tuple[AlertEntry, ...]:
        return self.new_campaigns + self.spiking

    @property
    def has_news(self) -> bool:
        """True when the window holds posts or alerts (scraper health alone is no news)."""
        return bool(self.posts or self.alerts)

    @property
    def title(self) -> str:
        when = self.until.strftime("%Y-%m-%d %H:%M UTC")
        return f"feedwatch digest, {when}"

    def window(self) -> str:
        """Return the window in words: 'posts stored 2026-11-22 08:00 to 2026-11-23 08:00 UTC', or the like."""
        if self.since is None:
            return "everything stored"
        what = "posts stored or seen again" if self.seen else "posts stored"
        return f"{what} {self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M} UTC"


def plural(n: int, word: str) -> str:
    if word.endswith("copy"):
        return f"{n:,} {word if n == 1 else word[:-1] + 'ies'}"
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def lag(hours: float | None) -> str:
    """Return how long after the origin, in words: '40 min later', '5.5 h later', '3 days later'."""
    if hours is None:
        return "undated"
    if hours < 1:
        return f"{max(hours * 60, 0):.0f} min later"
    if hours < 48:
        return f"{hours:.1f} h later"
    return f"{hours / 24:.0f} days later"


def scalar(value: Any) -> str:
    """Return an evidence value as short text: numbers rounded, lists joined."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(scalar(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {scalar(v)}" for k, v in value.items())
    return str(value)
