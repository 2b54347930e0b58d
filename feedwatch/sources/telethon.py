"""The Telethon source: channels read through the Telegram API with a user session.

Used for channels with `source = "telethon"`, when TG_API_ID and TG_API_HASH
are set and the session file (`telethon.session`) holds an authorised login.
Each username is resolved once; its id and access hash are kept in the store,
so later polls skip the resolve call. Messages are read oldest first from the
high-water mark (`iter_messages(min_id=..., reverse=True)`), so the mark can
follow every message read and an interruption never loses the position; then
the messages of the last `telethon.reread_hours` are read again, for their
edits and view counts.

FloodWait: a wait up to `telethon.flood_wait_max` seconds is slept through and
the read continues; a longer one ends this poll with `RateLimited` and a
`retry_at` that the scheduler uses to reschedule the channel. The client is a
seam: tests pass a stand-in whose `iter_messages` yields real Telethon
messages. The session path and its contents are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telethon import errors as tg_errors
from telethon.tl.types import InputPeerChannel

from feedwatch.config import Config, valid_username
from feedwatch.errors import (
    ChannelNotFound,
    ConfigError,
    ParseError,
    RateLimited,
    SourceError,
    SourceUnreachable,
)
from feedwatch.sources import Fetch, KnownChannel

log = logging.getLogger("feedwatch.telethon")


class TelethonSource:
    """Reads channels through a Telethon client (a TelegramClient, or a stand-in with the same calls)."""

    name = "telethon"

    def __init__(
        self,
        client: Any,
        *,
        flood_wait_max: float = 60,
        reread_hours: float = 48.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.client, self.flood_wait_max, self.sleep, self.now = client, flood_wait_max, sleep, now
        self.reread_hours = reread_hours

    def close(self) -> None:
        disconnect = getattr(self.client, "disconnect", None)
        if disconnect is not None:
            disconnect()
        loop = getattr(self.client, "loop", None)
        if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_running():
            loop.close()

    def fetch(
        self, channel: str, high_water: int | None, backfill_days: int | None, state: KnownChannel | None = None
    ) -> Fetch:
        """Return the messages of `channel` after `high_water` (or the backfill), oldest first, as Posts,
        then those of the re-read window (edits, view counts) when the channel was polled before."""
        channel = valid_username(channel)
        result = Fetch(channel, high_water=high_water, title=getattr(state, "title", None))
        seen: set[int] = set()
        try:
            peer = self._peer(channel, state, result)
            cutoff = (
                None if high_water is not None or backfill_days is None else self.now() - timedelta(days=backfill_days)
            )

            def new_ones() -> dict[str, Any]:
                after = {"offset_date": cutoff} if cutoff is not None else {}
                return {"min_id": result.high_water or 0, "reverse": True, **after}

            done = self._read(channel, peer, new_ones, result, seen)
            if done and high_water is not None and self.reread_hours > 0:
                window = self.now() - timedelta(hours=self.reread_hours)
                self._read(
                    channel,
                    peer,
                    lambda: {"offset_date": window, "max_id": high_water + 1, "reverse": True},
                    result,
                    seen,
                )
        except SourceError as exc:
            result.error = exc
        return result

    def _read(
        self, channel: str, peer: Any, kwargs: Callable[[], dict[str, Any]], result: Fetch, seen: set[int]
    ) -> bool:
        """Read messages into `result`, moving its mark; False when a long FloodWait ended the poll."""
        from feedwatch.parse.telethon_message import message_to_post

        while True:
            try:
                for message in self.client.iter_messages(peer, **kwargs()):
                    if message.id in seen:
                        continue
                    seen.add(message.id)
                    try:
                        result.posts.append(message_to_post(message, channel=channel, channel_title=result.title))
                    except ParseError as exc:  # one odd message must not hold the channel back
                        result.error = exc
                    result.high_water = max(result.high_water or 0, message.id)
                return True
            except tg_errors.FloodWaitError as exc:
                if not self._wait_out(channel, exc.seconds, result):
                    return False

    def _wait_out(self, channel: str, seconds: int, result: Fetch) -> bool:
        """Sleep through a short FloodWait (True: go on); for a long one, set the error and retry_at (False)."""
        if seconds <= self.flood_wait_max:
            log.info("telethon %s: FloodWait of %d s, waiting", channel, seconds)
            self.sleep(seconds)
            return True
        result.retry_at = self.now() + timedelta(seconds=seconds)
        log.warning("telethon %s: FloodWait of %d s; rescheduled at %s", channel, seconds, result.retry_at.isoformat())
        result.error = RateLimited(
            f"telegram:{channel}: Telegram asks to wait {seconds} s (FloodWait); polled again "
            f"after {result.retry_at:%Y-%m-%d %H:%M} UTC from where it stopped",
            retry_after=seconds,
        )
        return False

    def _peer(self, channel: str, state: KnownChannel | None, result: Fetch) -> Any:
        channel_id, access_hash = getattr(state, "channel_id", None), getattr(state, "access_hash", None)
        if channel_id and access_hash:
            return InputPeerChannel(channel_id, access_hash)
        while True:
            try:
                peer = self.client.get_input_entity(channel)
                break
            except tg_errors.FloodWaitError as exc:
                if not self._wait_out(channel, exc.seconds, result):
                    raise result.error from None  # type: ignore[misc]
            except (ValueError, tg_errors.UsernameInvalidError, tg_errors.UsernameNotOccupiedError):
                raise ChannelNotFound(f"telegram:{channel}: no such public channel") from None
            except (ConnectionError, OSError) as exc:
                raise SourceUnreachable(f"cannot reach Telegram ({type(exc).__name__})") from None
        if not isinstance(peer, InputPeerChannel):
            raise ChannelNotFound(f"telegram:{channel}: is not a channel")
        result.channel_id, result.access_hash = peer.channel_id, peer.access_hash
        return peer


class UnavailableSource:
    """Stands in for the Telethon source when it cannot run; every fetch says why, in one line."""

    name = "telethon"

    def __init__(self, reason: str):
        self.reason = reason

    def fetch(
        self, channel: str, high_water: int | None, backfill_days: int | None, state: KnownChannel | None = None
    ) -> Fetch:
        return Fetch(channel, high_water=high_water, error=SourceError(f"telegram:{channel}: {self.reason}"))

    def close(self) -> None:
        pass


def secure_session_file(path: Path) -> Path:
    """Create the session file with mode 0600 (or tighten an existing one); return the path Telethon uses."""
    if path.suffix != ".session":
        path = path.with_name(path.name + ".session")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path


def open_telethon_source(config: Config, *, sleep: Callable[[float], None] = time.sleep) -> Any:
    """Return a connected TelethonSource, or an UnavailableSource saying what is missing."""
    api_id, api_hash = os.environ.get("TG_API_ID", ""), os.environ.get("TG_API_HASH", "")
    if not api_id.strip().isdigit() or not api_hash.strip():
        return UnavailableSource("needs the environment variables TG_API_ID and TG_API_HASH (see the README)")
    session = Path(config["telethon.session"])
    existing = session if session.suffix == ".session" else session.with_name(session.name + ".session")
    if not existing.is_file():
        return UnavailableSource("no Telethon session file; create it once with: feedwatch login")
    from telethon.sync import TelegramClient

    asyncio.set_event_loop(asyncio.new_event_loop())  # Telethon needs a loop in this (job) thread
    client = TelegramClient(str(secure_session_file(session)), int(api_id), api_hash.strip())
    try:
        client.connect()
        if not client.is_user_authorized():
            client.disconnect()
            return UnavailableSource("the Telethon session is not logged in; run: feedwatch login")
    except Exception as exc:  # any failure to connect (resets, EOF, a proxy's reply) is one clear line
        client.disconnect()
        return UnavailableSource(f"cannot reach Telegram ({type(exc).__name__})")
    return TelethonSource(
        client,
        flood_wait_max=config["telethon.flood_wait_max"],
        reread_hours=config["telethon.reread_hours"],
        sleep=sleep,
    )


def api_credentials(env: Mapping[str, str]) -> tuple[int, str]:
    """Return TG_API_ID and TG_API_HASH from the environment; raise ConfigError saying what is missing."""
    api_id, api_hash = env.get("TG_API_ID", "").strip(), env.get("TG_API_HASH", "").strip()
    if not api_id.isdigit() or not api_hash:
        raise ConfigError(
            "Telethon needs the environment variables TG_API_ID (a number) and TG_API_HASH: "
            "get both for your account at https://my.telegram.org (API development tools)"
        )
    return int(api_id), api_hash


def telegram_client() -> Callable[..., Any]:
    """Return Telethon's synchronous TelegramClient class (the seam a test replaces)."""
    from telethon.sync import TelegramClient

    asyncio.set_event_loop(asyncio.new_event_loop())
    client: Callable[..., Any] = TelegramClient
    return client


def login(config: Config, env: Mapping[str, str] = os.environ) -> tuple[Path, str]:
    """Run Telethon's interactive login on the terminal; return the session file (mode 0600) and who logged in.

    Telethon asks for the phone number, the code Telegram sends, and the two-step password when one is set.
    """
    api_id, api_hash = api_credentials(env)
    session = secure_session_file(Path(config["telethon.session"]))
    client = telegram_client()(str(session), api_id, api_hash)
    try:
        client.start()
        me = client.get_me()
    except (tg_errors.RPCError, ValueError) as exc:
        raise SourceError(f"Telegram refused the login ({exc})") from None
    except OSError as exc:
        raise SourceUnreachable(f"cannot reach Telegram ({type(exc).__name__})") from None
    finally:
        client.disconnect()
    os.chmod(session, 0o600)  # Telethon may have written the file anew
    who = getattr(me, "username", None) or getattr(me, "first_name", None) or "your account"
    return session, who
