"""A Post as a stored row and back: the columns search needs, plus the rest of its JSON (models' codec)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from feedwatch.models import Post, iso, stored_json, stored_post
from feedwatch.store import actor
from feedwatch.store.backend import is_postgres

if TYPE_CHECKING:
    from feedwatch.store.ingest import Row

# Kept as columns (for full-text search), so left out of the stored JSON.
COLUMN_FIELDS = ("title", "text", "author")
_LEAVE_OUT = frozenset(COLUMN_FIELDS)
_MAX_PARAMS = 500
# What the store's SQLite rows carry for an unknown value: SQLite stores a float NaN bound as a parameter as NULL
# (it is documented to), and Python's sqlite3 binds a float directly, where it binds None only after looking for
# an adapter (an AttributeError raised and cleared on each value: ~0.3 us, a tenth of an ingest's time).
SQLITE_NULL = math.nan


def null_for(conn: object) -> Any:
    """Return what a row written to this store's connection carries for an unknown value: None on PostgreSQL
    (where NaN is a number), SQLITE_NULL on SQLite."""
    return None if is_postgres(conn) else SQLITE_NULL


def storable(text: str | None) -> str | None:
    """Return `text` as SQLite can hold it: a lone surrogate (a byte of a file name that is not UTF-8, as Python
    reads such names) becomes its visible escape, `\\udcff`. Other text is returned as it is."""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def post_from_row(columns: Sequence[Any]) -> Post:
    """Return the Post of (title, text, author, json) columns."""
    title, text, author, stored = columns
    return stored_post(stored, title=title, text=text, author=author)


def json_column(post: Post) -> str:
    """Return what posts.json holds for a post: its JSON less the column fields."""
    return stored_json(post, _LEAVE_OUT)


def post_values(row: Row, null: Any = None) -> tuple[Any, ...]:
    """Return the posts-table values of a row, in the INSERT column order (the actor columns last); `null` for
    an unknown one (`null_for`)."""
    post = row.post
    who = actor.of(post)
    return (
        row.id,
        row.ident,
        null if post.channel is None else post.channel,
        null if post.message_id is None else post.message_id,
        post.fingerprint,
        post.kind,
        null if post.date is None else iso(post.date),
        null if post.title is None else post.title,
        post.text,
        null if post.author is None else post.author,
        "\n".join(post.key_points) or null,
        null if post.views is None else post.views,
        null if post.forwards is None else post.forwards,
        json_column(post),
        row.first_seen,
        row.last_seen,
        row.text_since,
        who.actor,
        null if who.origin is None else who.origin,
        who.actor_name,
    )


def chunks(items: Sequence[Any], size: int = _MAX_PARAMS) -> Iterator[list[Any]]:
    """Yield `items` in lists of at most `size` (SQLite caps the parameters of one statement)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
