"""Channel state (ids, title, polling high-water mark and progress), rename history, and run records.

A channel row is a chat the store has posts of. Most have a username; a chat
read only from a Telegram Desktop export has none, and is known by its numeric
id or, failing that, its title (see feedwatch.store.merge.chat_key). When a
source later gives the username together with that id, the row takes the
username: the chat is linked, and its posts move to the username (see
feedwatch.store.ingest.Batch.link).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedwatch.models import iso
from feedwatch.store.backend import Connection
from feedwatch.store.merge import title_key
from feedwatch.store.rows import chunks, storable


@dataclass(frozen=True, slots=True)
class ChannelState:
    """What the store knows of a channel; `high_water` is the largest message id polling has seen.

    The polling progress is written as the last poll left it (None clears it): `retry_at`, the time a
    rate-limited source may be asked again; `resume_before` and `resume_top`, the unfinished walk of a
    poll that stopped short (the posts from `resume_before` up to `resume_top` are stored).
    """

    username: str
    title: str | None = None
    channel_id: int | None = None
    access_hash: int | None = None
    high_water: int | None = None
    last_polled_at: datetime | None = None
    retry_at: datetime | None = None
    resume_before: int | None = None
    resume_top: int | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One ingest or poll of a source: its counts, and errors as (kind, message)."""

    source: str
    kind: str  # "ok", or the kind of the first error: "unreachable", "no_preview", "rate_limited", "drift", ...
    started_at: datetime
    finished_at: datetime
    new: int
    updated: int
    unchanged: int
    failed: int
    errors: tuple[tuple[str, str], ...]


_COLUMNS = (
    "id, username, title, channel_id, access_hash, high_water, last_polled_at, retry_at, resume_before, resume_top"
)


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _find(conn: Connection, username: str, channel_id: int | None) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(
        f"SELECT {_COLUMNS} FROM channels WHERE username = ? COLLATE NOCASE", [username]
    ).fetchone()
    if row is None and channel_id is not None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM channels WHERE channel_id = ?", [channel_id]).fetchone()
    return row


def get(conn: Connection, username: str) -> ChannelState | None:
    """Return the state of a channel by username (any case), or None."""
    row = _find(conn, username.lstrip("@"), None)
    if row is None:
        return None
    return ChannelState(row[1], row[2], row[3], row[4], row[5], _when(row[6]), _when(row[7]), row[8], row[9])


def save(conn: Connection, state: ChannelState, now: datetime, progress: bool = True) -> None:
    """Store `state`; the high-water mark only moves forward, known values are not erased by None.

    With `progress` the polling progress (retry time, resume point) is written as `state` has it.
    """
    username = state.username.lstrip("@")
    row = _find(conn, username, state.channel_id)
    if row is None:
        marks = (
            (state.retry_at and iso(state.retry_at), state.resume_before, state.resume_top)
            if progress
            else (None, None, None)
        )
        conn.execute(
            "INSERT INTO channels (username, title, channel_id, access_hash, high_water, last_polled_at,"
            " first_seen, retry_at, resume_before, resume_top) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                username,
                state.title,
                state.channel_id,
                state.access_hash,
                state.high_water,
                state.last_polled_at and iso(state.last_polled_at),
                iso(now),
                *marks,
            ],
        )
        _note_name(conn, username, state.title, now)
        return
    high = max((h for h in (row[5], state.high_water) if h is not None), default=None)
    polled = max((p for p in (_when(row[6]), state.last_polled_at) if p is not None), default=None)
    title = state.title if state.title is not None else row[2]
    channel_id = _first(state.channel_id, row[3])
    conn.execute(
        "UPDATE channels SET username = ?, title = ?, channel_id = ?, access_hash = ?, high_water = ?,"
        " last_polled_at = ? WHERE id = ?",
        [username, title, channel_id, _first(state.access_hash, row[4]), high, polled and iso(polled), row[0]],
    )
    if channel_id is not None:  # an export's row of the same chat, now known by its username
        conn.execute("DELETE FROM channels WHERE channel_id = ? AND username IS NULL AND id <> ?", [channel_id, row[0]])
    if progress:
        conn.execute(
            "UPDATE channels SET retry_at = ?, resume_before = ?, resume_top = ? WHERE id = ?",
            [state.retry_at and iso(state.retry_at), state.resume_before, state.resume_top, row[0]],
        )
    if username != row[1] or title != row[2]:
        _note_name(conn, username, title, now)


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _note_name(conn: Connection, username: str, title: str | None, now: datetime) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO channel_names (channel, username, title, first_seen)"
        " SELECT id, ?, ?, ? FROM channels WHERE username = ? COLLATE NOCASE",
        [username, title, iso(now), username],
    )


def note_seen(conn: Connection, seen: Iterable[tuple[str, int | None, str | None]], now: datetime) -> None:
    """Record the channels that stored posts name: (username, channel id, title), without polling state.

    One query finds the ones already stored as they are; only new or changed ones are written.
    """
    seen = list(seen)
    stored: dict[str, tuple[str | None, int | None]] = {}
    for part in chunks(sorted({username for username, _, _ in seen})):
        marks = ", ".join("?" * len(part))
        for username, title, channel_id in conn.execute(
            f"SELECT username, title, channel_id FROM channels WHERE username COLLATE NOCASE IN ({marks})", part
        ):
            stored[username.lower()] = (title, channel_id)
    for username, channel_id, title in seen:
        known = stored.get(username.lower())
        if known is not None and not (title and title != known[0]) and not (channel_id and channel_id != known[1]):
            continue
        row = _find(conn, username, channel_id)
        if row is None or row[1] is None or (title and title != row[2]) or (channel_id and channel_id != row[3]):
            save(conn, ChannelState(username, title=title, channel_id=channel_id), now, progress=False)
            stored.clear()  # a save can rename a stored channel: from here on, look each one up again


def note_chats(conn: Connection, chats: Iterable[tuple[int | None, str | None]], now: datetime) -> None:
    """Record the chats without a username that stored posts are in: (numeric id, title).

    A chat is its id when it has one, else its title (compared as identities
    are, see feedwatch.store.merge.title_key); a known chat's title is kept
    up to date.
    """
    for channel_id, title in chats:
        if channel_id is not None:
            row = conn.execute(
                "SELECT id, title FROM channels WHERE channel_id = ? ORDER BY username IS NULL LIMIT 1", [channel_id]
            ).fetchone()
        elif title:
            key = title_key(title)
            row = next(
                (
                    r
                    for r in conn.execute(
                        "SELECT id, title FROM channels WHERE username IS NULL AND channel_id IS NULL"
                    )
                    if title_key(r[1] or "") == key
                ),
                None,
            )
        else:
            continue
        if row is None:
            conn.execute(
                "INSERT INTO channels (username, title, channel_id, first_seen) VALUES (NULL, ?, ?, ?)",
                [title, channel_id, iso(now)],
            )
        elif title and title != row[1] and channel_id is not None:
            conn.execute("UPDATE channels SET title = ? WHERE id = ? AND username IS NULL", [title, row[0]])


def record_run(conn: Connection, run: RunRecord) -> None:
    """Append one run record."""
    conn.execute(
        "INSERT INTO ingest_runs (source, kind, started_at, finished_at, new, updated, unchanged, failed, errors)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            storable(run.source),
            run.kind,
            iso(run.started_at),
            iso(run.finished_at),
            run.new,
            run.updated,
            run.unchanged,
            run.failed,
            json.dumps([list(e) for e in run.errors], ensure_ascii=True),
        ],
    )


def runs(conn: Connection, source: str | None = None, limit: int = 20) -> list[RunRecord]:
    """Return the latest run records, newest first (of one source, if given)."""
    where, args = ("WHERE source = ?", [source]) if source else ("", [])
    rows = conn.execute(
        "SELECT source, kind, started_at, finished_at, new, updated, unchanged, failed, errors FROM ingest_runs "
        f"{where} ORDER BY id DESC LIMIT ?",
        [*args, limit],
    ).fetchall()
    return [
        RunRecord(
            r[0],
            r[1],
            datetime.fromisoformat(r[2]),
            datetime.fromisoformat(r[3]),
            r[4],
            r[5],
            r[6],
            r[7],
            tuple((k, m) for k, m in json.loads(r[8] or "[]")),
        )
        for r in rows
    ]
