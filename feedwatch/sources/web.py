"""The t.me/s web preview source: public channels over HTTP, no account, politely.

Politeness: a per-host limit on requests in flight, a minimum delay with
jitter between the starts of two requests, timeouts, and a User-Agent that
names feedwatch. Pages are followed with the `?before=` the page itself links
to (never computed: deleted posts leave gaps), newest first, until the posts
newer than the channel's high-water mark are read (or, on a first poll, the
backfill reaches its start date), plus a bounded re-read of the trailing
window for edits and view counts. A page that brings no new ids ends the walk.

Every answer is read within `web.max_bytes` (decoded) and `web.deadline`
(`feedwatch.net`), and one poll reads at most `web.max_pages` pages. A walk
that stops short (page cap, error) keeps a resume point: the posts from the
oldest one read up to the newest are stored, and the next poll continues below
them; the high-water mark moves only once the walk reaches it.

429 and 5xx answers, timeouts and cut-off pages are retried, honouring
Retry-After, each wait capped and kept by every request to that host. A 429
asking for longer than `web.max_wait` holds the host until then (`HostGate.hold`:
no request from any channel), ends the channel with `RateLimited` and a
`retry_at` that the store keeps, so `watch` and a restart come back then. The
`httpx.Client` is a seam, and so are the clocks and `sleep`.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from feedwatch import __version__
from feedwatch.config import Config, default, valid_username
from feedwatch.errors import ChannelNotFound, PreviewUnavailable, RateLimited, SourceError, SourceUnreachable
from feedwatch.models import Post, Source
from feedwatch.net import TooLarge, TooSlow, bounded_transport, parse_retry_after, request
from feedwatch.sources import Fetch, KnownChannel, MarkupChanged


@dataclass(frozen=True)
class WebSettings:
    base_url: str = default("web.base_url")
    concurrency: int = default("web.concurrency")
    min_delay: float = default("web.min_delay")
    jitter: float = default("web.jitter")
    timeout: float = default("web.timeout")
    connect_timeout: float = default("web.connect_timeout")
    user_agent: str = default("web.user_agent")
    max_retries: int = default("web.max_retries")
    backoff: float = default("web.backoff")
    max_wait: float = default("web.max_wait")
    reread_hours: float = default("web.reread_hours")
    reread_pages: int = default("web.reread_pages")
    max_pages: int = default("web.max_pages")
    max_bytes: int = default("web.max_bytes")
    deadline: float = default("web.deadline")
    source_address: str = default("web.source_address")

    @classmethod
    def from_config(cls, config: Config) -> WebSettings:
        return cls(**{name: config[f"web.{name}"] for name in cls.__dataclass_fields__})

    @property
    def agent(self) -> str:
        return self.user_agent or f"feedwatch/{__version__} (+public channel monitor; polite t.me/s poller)"


def make_client(settings: WebSettings) -> httpx.Client:
    """Return the HTTP client the web source uses: timeouts, an honest User-Agent, no redirects followed."""
    timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
    limits = httpx.Limits(max_connections=max(1, settings.concurrency), max_keepalive_connections=settings.concurrency)
    return httpx.Client(
        timeout=timeout,
        transport=bounded_transport(limits, settings.source_address or None),
        follow_redirects=False,
        headers={"User-Agent": settings.agent, "Accept-Language": "en"},
    )


class HostGate:
    """At most `concurrency` requests in flight to the host, starts spaced by min_delay plus jitter."""

    def __init__(
        self, settings: WebSettings, clock: Callable[[], float], sleep: Callable[[float], None], rng: random.Random
    ):
        self._slots = threading.BoundedSemaphore(max(1, settings.concurrency))
        self._lock = threading.Lock()
        self._next = 0.0
        self._held: datetime | None = None
        self._settings, self._clock, self._sleep, self._rng = settings, clock, sleep, rng

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            with self._lock:
                now = self._clock()
                start = max(now, self._next)
                self._next = start + self._settings.min_delay + self._rng.uniform(0, self._settings.jitter)
            if start > now:
                self._sleep(start - now)
            yield

    def defer(self, seconds: float) -> None:
        """Hold every request to the host for `seconds` from now (after a 429, a 5xx or a timeout)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)

    def hold(self, until: datetime) -> None:
        """Send no request to the host before `until` (a wall-clock time): a long Retry-After, here or stored."""
        with self._lock:
            self._held = until if self._held is None else max(self._held, until)

    def held_until(self, now: datetime) -> datetime | None:
        """Return the time the host is held until, or None when it is not held at `now`."""
        with self._lock:
            return self._held if self._held is not None and self._held > now else None


class WebSource:
    """Reads channels from the t.me/s web preview; one instance per poll pass (it counts requests)."""

    name = "web"

    def __init__(
        self,
        client: httpx.Client,
        settings: WebSettings,
        *,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        gate: HostGate | None = None,
    ):
        self.client, self.settings = client, settings
        self.now = now or (lambda: datetime.now(UTC))
        self.sleep = sleep
        self.gate = gate or HostGate(settings, clock, sleep, rng or random.Random())
        base = urlsplit(settings.base_url)
        self.host = base.netloc or settings.base_url
        self._lock = threading.Lock()
        self.down: str | None = None  # set when the host cannot be reached: the rest of this pass fails fast

    def label(self, channel: str) -> str:
        return f"{self.host}/s/{channel}"

    def hold(self, until: datetime) -> None:
        """Hold the host until `until` (a stored retry time, restored before a poll starts)."""
        self.gate.hold(until)

    def fetch(
        self, channel: str, high_water: int | None, backfill_days: int | None, state: KnownChannel | None = None
    ) -> Fetch:
        """Return the posts of `channel` newer than `high_water` (or the backfill), plus the re-read window.

        A stored resume point (`state.resume_before`, `state.resume_top`) continues an unfinished walk below it.
        """
        channel = valid_username(channel)
        resume = _resume(state)
        result = Fetch(channel, high_water=high_water, resume=resume)
        now = self.now()
        cutoff = None if backfill_days is None else now - timedelta(days=backfill_days)
        window = now - timedelta(hours=self.settings.reread_hours)
        seen: dict[int, Post] = {}
        reached = False
        try:
            params: dict[str, Any] = {"before": resume[0]} if resume else {}
            reread_left = self.settings.reread_pages
            for _ in range(max(1, self.settings.max_pages)):
                page = self._page(channel, params, result)
                fresh = [p for p in page.posts if p.message_id is not None and p.message_id not in seen]
                seen.update((p.message_id, p) for p in fresh if p.message_id is not None)
                oldest = min(fresh, key=lambda p: p.message_id or 0) if fresh else None
                if oldest is None or page.before is None:
                    reached = True
                    break
                assert oldest.message_id is not None
                if high_water is None and cutoff is not None and oldest.date is not None and oldest.date < cutoff:
                    reached = True
                    break
                if high_water is not None and oldest.message_id <= high_water:
                    reached = True
                    if reread_left <= 0 or oldest.date is None or oldest.date < window:
                        break
                    reread_left -= 1
                params = {"before": page.before}
            else:
                if not reached:
                    result.note = (
                        f"{self.settings.max_pages} pages read (web.max_pages); the next poll "
                        f"continues below post {min(seen)}"
                    )
        except SourceError as exc:
            result.error = exc
        posts = sorted(seen.values(), key=lambda p: p.message_id or 0)
        if high_water is None and cutoff is not None:
            posts = [p for p in posts if p.date is None or p.date >= cutoff]
        result.posts = posts
        _settle(result, seen, reached, resume)
        return result

    def _page(self, channel: str, params: dict[str, Any], result: Fetch) -> Any:
        from feedwatch.parse.tme_html import parse_page

        text = self._get(channel, params, result)
        where = self.label(channel) + (f"?before={params['before']}" if params else "")
        page = parse_page(text, where)
        if not page.has_preview:
            raise PreviewUnavailable(
                f"{self.label(channel)} has no public web preview. "
                'Add Telegram API credentials and set source = "telethon" to poll it'
            )
        if page.drift:
            raise MarkupChanged(
                f"{where}: message widgets without ids or dates; the t.me/s markup may have "
                "changed (feedwatch needs an update)"
            )
        result.title = result.title or page.title
        # One route per channel, so re-reading a post on another page is not a new sighting.
        route = Source(page.posts[0].source.format if page.posts else "tme-html", self.label(channel), None)
        return dataclasses.replace(page, posts=tuple(dataclasses.replace(p, source=route) for p in page.posts))

    def _get(self, channel: str, params: dict[str, Any], result: Fetch) -> str:
        """Return one page's HTML, retrying transient failures; raise a SourceError naming the channel."""
        url = f"{self.settings.base_url.rstrip('/')}/s/{channel}"
        label = self.label(channel)
        attempt = 0
        while True:
            if self.down:
                raise SourceUnreachable(self.down)
            outcome = self._try(url, params, label, result)
            if outcome.page is not None:
                return outcome.page
            problem, retry_after, status = outcome.problem, outcome.retry_after, outcome.status
            attempt += 1
            wait = retry_after if retry_after is not None else self.settings.backoff * 2 ** (attempt - 1)
            if status == 429 and retry_after is not None and wait > self.settings.max_wait:
                self.gate.hold(self.now() + timedelta(seconds=wait))  # no channel asks this host before then
                self._check_hold(label, result, f"HTTP 429, the server asked to wait {wait:.0f} s")
            if attempt > self.settings.max_retries or wait > self.settings.max_wait:
                after = f"; the server asked for {wait:.0f} s" if retry_after is not None else ""
                message = f"{label}: {problem} after {attempt} tries{after}; will retry on the next run"
                if status == 429:
                    raise RateLimited(message, retry_after=wait)
                raise SourceUnreachable(message)
            self.gate.defer(wait)  # the whole host waits, not just this channel

    def _check_hold(self, label: str, result: Fetch, why: str = "") -> None:
        """Raise RateLimited, with the channel's retry time, while the host is held after a long 429."""
        now = self.now()
        held = self.gate.held_until(now)
        if held is None:
            return
        result.retry_at = held
        why = why or f"{self.host} asked feedwatch to wait (HTTP 429)"
        raise RateLimited(
            f"{label}: {why}; no request to {self.host} until {held:%Y-%m-%d %H:%M:%S} UTC, "
            "this channel is polled again then",
            retry_after=(held - now).total_seconds(),
        )

    def _try(self, url: str, params: dict[str, Any], label: str, result: Fetch) -> _Outcome:
        """Make one request: return the page, or a retryable problem; raise for a lasting one."""
        settings = self.settings
        try:
            with self.gate.slot():
                self._check_hold(label, result)  # checked once the slot is ours: a hold may have come meanwhile
                with self._lock:
                    result.requests += 1
                response = request(
                    self.client,
                    "GET",
                    url,
                    params=params,
                    max_bytes=settings.max_bytes,
                    deadline=settings.deadline,
                    read_body=_is_page,
                )
        except TooLarge as exc:
            raise SourceError(
                f"{label}: {exc} (web.max_bytes); a t.me/s page is about 150 KB, so this is not one. Check web.base_url"
            ) from None
        except TooSlow as exc:
            raise SourceUnreachable(f"{label}: {exc} (web.deadline); will retry on the next run") from None
        except httpx.ConnectError as exc:
            self.down = f"cannot reach {self.host} ({_reason(exc)}); will retry on the next run"
            raise SourceUnreachable(self.down) from None
        except httpx.TimeoutException:
            return _Outcome(problem="timed out")
        except httpx.TransportError as exc:
            return _Outcome(problem=f"connection failed ({_reason(exc)})")
        except httpx.HTTPError as exc:  # a malformed answer (bad encoding, bad headers): not a page
            raise SourceError(f"{label}: unreadable answer ({_reason(exc)})") from None
        status = response.status
        if status in (301, 302, 303, 307, 308):
            target = urlsplit(response.headers.get("location", "")).path
            if target.startswith("/s/"):
                raise SourceError(f"{label}: redirected to {target}; check the channel name")
            raise PreviewUnavailable(
                f"{label} has no public web preview (it redirects to the channel page). "
                'Add Telegram API credentials and set source = "telethon" to poll it'
            )
        if status == 404:
            raise ChannelNotFound(f"{label}: no such channel (HTTP 404)")
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"), self.now())
            return _Outcome(None, f"HTTP {status}", retry_after, status)
        if status != 200:
            raise SourceError(f"{label}: unexpected HTTP {status}")
        text = response.text
        if "</html>" not in text[-4096:].lower():
            return _Outcome(problem="the page was cut off")
        return _Outcome(text)


@dataclass(frozen=True)
class _Outcome:
    page: str | None = None
    problem: str = ""
    retry_after: float | None = None
    status: int = 0


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]


def _settle(result: Fetch, seen: dict[int, Post], reached: bool, resume: tuple[int, int] | None) -> None:
    """Set the mark and the resume point a walk leaves: the mark moves only when the walk reached it."""
    top = resume[1] if resume else max(seen, default=0)
    if reached and (seen or resume):
        result.high_water = max(result.high_water or 0, top, *seen)
        result.resume = None
    elif seen:  # stopped short: the posts from the oldest one read up to the top are stored; go on below them
        result.resume = (min(seen), top)


def _is_page(status: int) -> bool:
    return status == 200  # the body of a redirect, a 404, a 429 or a 5xx is not read


def _resume(state: KnownChannel | None) -> tuple[int, int] | None:
    """Return a stored (before, top) resume point of an unfinished walk, or None."""
    before, top = getattr(state, "resume_before", None), getattr(state, "resume_top", None)
    return (before, top) if before is not None and top is not None else None
