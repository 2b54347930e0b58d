"""Repairs of what earlier versions stored: posts re-keyed by today's identity rules, duplicates merged.

Before schema 009, a post with a message id but no channel username (every
Telegram Desktop export) was stored under its text fingerprint, so messages
with the same text were merged into one row. `rekey` gives each such row the
identity it has today (its chat and id, see feedwatch.store.merge); two rows
that turn out to be one message are merged with `merge_rows`. What an earlier
version merged cannot be taken apart here (the lost messages were never
stored), but ingesting the export again now stores each of them once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from feedwatch.store import actor
from feedwatch.store import channels as ch
from feedwatch.store import merge as mg
from feedwatch.store.backend import Connection, has_table, is_postgres, paged
from feedwatch.store.ingest import _UPDATE, ACTOR_SET, Row
from feedwatch.store.rows import json_column, post_from_row, post_values

_SELECT = "SELECT id, title, text, author, json FROM posts"
PAGE = 1000  # rows read at a time


def rekey(conn: Connection) -> tuple[int, int]:
    """Give every post with a message id that is stored under its text its chat+id identity.

    Returns (re-keyed rows, rows merged into another). Usernames known for a
    numeric channel id are used, as ingest does.
    """
    names = dict(
        conn.execute("SELECT channel_id, username FROM channels WHERE channel_id IS NOT NULL AND username IS NOT NULL")
    )
    rekeyed = merged = 0
    chats: dict[str, tuple[int | None, str | None]] = {}
    for row_id, *columns in _old_keyed_rows(conn):
        post = post_from_row(columns)
        if not post.channel and post.channel_id in names:
            post = mg.with_username(post, names[post.channel_id])
        ident = mg.ident(post)
        chat = mg.chat_key(post)
        if chat is not None and not post.channel:
            chats[chat] = (post.channel_id, post.channel_title)
        taken = conn.execute("SELECT id FROM posts WHERE ident = ?", [ident]).fetchone()
        if taken is None:
            conn.execute(
                "UPDATE posts SET ident = ?, channel = ?, json = ? WHERE id = ?",
                [ident, post.channel, json_column(post), row_id],
            )
            rekeyed += 1
        else:
            merge_rows(conn, taken[0], row_id)
            merged += 1
    ch.note_chats(conn, chats.values(), datetime.now(UTC))
    return rekeyed, merged


def _old_keyed_rows(conn: Connection) -> Iterator[tuple[Any, ...]]:
    """Yield the rows with a message id stored under their text, a page at a time (memory stays flat)."""
    return paged(conn, _SELECT, " AND message_id IS NOT NULL AND substr(ident, 1, 2) IN ('f:', 'r:')", PAGE)


_POST_ROWS = {
    "post_sources": "format, path, idx, input, first_seen",
    "observations": "observed_at, views, forwards, replies, reactions, format, path",
    "post_hashtags": "hashtag",
    "post_versions": "title, text, since, until, format",
}


def merge_rows(conn: Connection, keep: int, other: int) -> None:
    """Merge stored post `other` into `keep`: fields by the merge rules; routes, versions, counters and tags."""
    columns = "ident, id, title, text, author, json, first_seen, last_seen, text_since"
    kept, gone = (conn.execute(f"SELECT {columns} FROM posts WHERE id = ?", [i]).fetchone() for i in (keep, other))
    old, new = post_from_row(kept[2:6]), post_from_row(gone[2:6])
    merged = mg.merge(old, new)
    for post in (old, new):
        if post.text != merged.text:  # the text that is no longer current is kept as a version
            conn.execute(
                "INSERT INTO post_versions (post, title, text, since, until, format)"
                " SELECT ?, ?, ?, NULL, NULL, ? WHERE NOT EXISTS"
                " (SELECT 1 FROM post_versions WHERE post IN (?, ?) AND text = ?)",
                [keep, post.title, post.text, post.source.format, keep, other, post.text],
            )
    # Rows of `other` move to `keep` unless `keep` has the same one already (same route, sighting or tag).
    for table, columns in _POST_ROWS.items():
        conn.execute(
            f"INSERT OR IGNORE INTO {table} (post, {columns}) SELECT ?, {columns} FROM {table} WHERE post = ?",
            [keep, other],
        )
        conn.execute(f"DELETE FROM {table} WHERE post = ?", [other])
    conn.execute("DELETE FROM posts WHERE id = ?", [other])
    row = Row(keep, kept[0], merged, min(kept[6], gone[6]), max(kept[7], gone[7]), kept[8])
    values = post_values(row)[1:]
    if _before_actor_columns(conn):  # migration 009 merges rows before 015 adds the columns (015 fills them)
        conn.execute(_UPDATE.replace(ACTOR_SET, ""), [*values[: -len(actor.COLUMNS)], keep])
    else:
        conn.execute(_UPDATE, [*values, keep])
    if has_table(conn, "echo_passages"):  # from migration 013 on
        from feedwatch.store import passages

        passages.drop(conn, [other])
        passages.reindex(conn, [(keep, merged)])


def _before_actor_columns(conn: Connection) -> bool:
    """True in an SQLite store that migration 015 has not yet given the actor columns."""
    return not is_postgres(conn) and not any(r[1] == "actor" for r in conn.execute("PRAGMA table_info(posts)"))
