"""Sending digests: one digest per target, built from what that target has not yet been sent.

`send_digests()` is the one mechanism behind `feedwatch digest --send` and the
scheduled job (`run_scheduled`): for each configured target it picks the window
(from the end of the last digest the target accepted, unless one is given),
builds the digest without the alerts the target already has, delivers it, and
records the outcome. A failure is recorded and reported, the alerts stay unsent
and the window stays open, so the next run carries them again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from feedwatch.digest import state
from feedwatch.digest.deliver import ConfigLike, Target, send
from feedwatch.digest.model import Digest
from feedwatch.errors import DeliveryError, StoreError
from feedwatch.store.backend import Database
from feedwatch.window import parse_time

log = logging.getLogger("feedwatch.digest")

# Builds the digest of [since, until] without the alerts whose keys are in the set (None: keep all).
Builder = Callable[[datetime | None, datetime, "set[str] | None"], Digest]
AUTO = "auto"  # since = the end of the last digest the target accepted
DEFAULT_WINDOW = timedelta(days=1)  # a target's first digest covers this much
MAX_WINDOW = timedelta(days=7)  # and a target that failed for long gets at most this much stats


@dataclass(frozen=True, slots=True)
class Outcome:
    target: str
    ok: bool
    detail: str  # where it went, or why it failed
    alerts: int
    since: datetime | None
    skipped: bool = False  # another sender was sending to this target: nothing was built or sent


def window_start(db: Database, target: str, since: datetime | str | None, now: datetime) -> datetime | None:
    """Return where `target`'s next digest starts: `since` itself, or after its last accepted one."""
    if since != AUTO:
        return since if isinstance(since, datetime) or since is None else None
    last = state.last_delivered(db, target)
    if last is None:  # never delivered: a default window, from the first try if that failed
        last = (state.first_attempt(db, target) or now) - DEFAULT_WINDOW
    return max(last, now - MAX_WINDOW)


def send_digests(
    db: Database,
    targets: list[Target],
    build: Builder,
    *,
    since: datetime | str | None = AUTO,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    env: Mapping[str, str] = os.environ,
    transport: httpx.BaseTransport | None = None,
) -> list[Outcome]:
    """Deliver one digest to each target and record it; return what happened to each."""
    now = now or datetime.now(UTC)
    holder = state.holder_name()
    outcomes = []
    for target in targets:
        if not state.claim(db, target.name, holder):
            skipped = f"{target.name}: skipped, another feedwatch is sending to it now"
            outcomes.append(Outcome(target.name, True, skipped, 0, None, skipped=True))
            continue
        try:  # the window is read under the claim, after any sender before this one has recorded its digest
            start = window_start(db, target.name, since, now)
            outcomes.append(_deliver(db, target, build, start, now, sleep=sleep, env=env, transport=transport))
        finally:
            # The claim expires on its own; what was sent is recorded (a PostgreSQL failure is a StoreError).
            with contextlib.suppress(sqlite3.Error, StoreError):
                state.release(db, target.name, holder)
    return outcomes


def _deliver(
    db: Database,
    target: Target,
    build: Builder,
    start: datetime | None,
    now: datetime,
    *,
    sleep: Callable[[float], None],
    env: Mapping[str, str],
    transport: httpx.BaseTransport | None,
) -> Outcome:
    """Build `target`'s digest without what it was sent before, send it, and record the outcome."""
    digest = build(start, now, state.sent_keys(db, target.name))
    keys = [alert.key for alert in digest.alerts]
    try:
        detail = send(target, digest, sleep=sleep, env=env, transport=transport)
    except DeliveryError as exc:
        state.record(db, target.name, now, keys, error=str(exc), now=now)
        return Outcome(target.name, False, str(exc), len(keys), start)
    except Exception as exc:  # a bug in one target must not keep the digest from the targets after it
        log.debug("digest %s: unexpected error", target.name, exc_info=True)  # the outcome carries the line
        detail = f"{target.name}: internal error ({type(exc).__name__}: {exc}); please report it"
        state.record(db, target.name, now, keys, error=detail, now=now)
        return Outcome(target.name, False, detail, len(keys), start)
    state.record(db, target.name, now, keys, now=now)
    return Outcome(target.name, True, detail, len(keys), start)


def raise_failures(outcomes: list[Outcome]) -> None:
    """Raise one DeliveryError naming every target that failed (after all were tried)."""
    failed = [o.detail for o in outcomes if not o.ok]
    if failed:
        raise DeliveryError("; ".join(failed))


def summary(outcomes: list[Outcome]) -> str:
    """Return one line saying where the digests went (or why not)."""
    if not outcomes:
        return "no delivery target configured (digest.file.path, digest.webhook.url, digest.smtp.host)"
    return "; ".join(
        o.detail if o.skipped else f"{o.detail} ({o.alerts} alerts)" if o.ok else f"FAILED {o.target}" for o in outcomes
    )


def parse_since(text: str, now: datetime) -> datetime | None:
    """Return the start of a window in feedwatch's one grammar (feedwatch.window), or None for all."""
    return parse_time(text, now)


def run_scheduled(config: ConfigLike, now: datetime | None = None) -> str:
    """The scheduled digest job: build and deliver to every configured target; return one line.

    Raises DeliveryError naming every target that failed (after trying them all).
    """
    from feedwatch.digest.build import builder
    from feedwatch.digest.deliver import targets_from_config
    from feedwatch.store import Store
    from feedwatch.store.db import store_errors

    targets = targets_from_config(config)
    if not targets:
        return summary([])
    store = Store.open(_db_path(config))
    try:
        with store_errors(store.path):  # a corrupt page met while building: one line, never a traceback
            outcomes = send_digests(store.db, targets, builder(store.db, browse_url(config)), now=now)
    finally:
        store.close()
    raise_failures(outcomes)
    return summary(outcomes)


def browse_url(config: ConfigLike) -> str:
    """Return the configured address of `feedwatch serve` (serve.base_url), or "" when unset."""
    from feedwatch.digest.deliver import settings

    return str(settings(config).get("serve.base_url") or "")


def _db_path(config: ConfigLike) -> str:
    from feedwatch.digest.deliver import settings
    from feedwatch.store import configured, default_db_path

    return configured(settings(config)) or default_db_path()
