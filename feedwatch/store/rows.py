"""A Post as a stored row and back: the columns search needs, plus the rest of its JSON."""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from feedwatch.models import Post

if TYPE_CHECKING:
    from feedwatch.store.ingest import Row

# Kept as columns (for full-text search), so left out of the stored JSON.
COLUMN_FIELDS = ("title", "text", "author")
_MAX_PARAMS = 500
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


_SIMPLE = (str, int, float, bool, type(None))
_NAMES: dict[type, tuple[str, ...]] = {}


def _encode(value: Any) -> Any:
    """Return the JSON form of a Post field's value, as Post.to_json writes it."""
    kind = type(value)
    if kind in _SIMPLE:
        return value
    if kind is tuple:
        return [v if type(v) in _SIMPLE else _encode(v) for v in value] if value else []
    if kind is datetime:
        return value.astimezone(UTC).isoformat()
    if kind is date:
        return value.isoformat()
    names = _NAMES.get(kind)
    if names is None:
        if not dataclasses.is_dataclass(value):
            return value
        names = _NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
    return {name: _encode(getattr(value, name)) for name in names}


def stored_json(post: Post, when: str | None = None) -> str:
    """Return the JSON kept in posts.json: the post's known fields, less the column fields.

    Null and empty fields are left out (a third of a typical record); reading
    puts them back, so the stored post is exactly the one written. `when` is
    the post's date as `_encode` writes it, when the caller has it already.
    """
    pairs = zip(_STORED_NAMES, _stored_values(post), strict=True)
    rest = {name: value for name, value in pairs if value is not None and value != ()}
    # Strings, numbers and tuples of strings are JSON as they are; the rest needs encoding.
    for name in _NEEDS_ENCODING.intersection(rest):
        rest[name] = when if name == "date" and when is not None else _encode(rest[name])
    return _JSON.encode(rest)


def full_record(title: str | None, text: str, author: str | None, stored: str) -> dict[str, Any]:
    """Return the Post JSON object of a stored row, every key, in the contract's order."""
    record = dict(_EMPTY_RECORD)
    record.update(json.loads(stored))
    record.update(title=title, text=text, author=author)
    return record


def post_from_row(columns: Sequence[Any]) -> Post:
    """Return the Post of (title, text, author, json) columns."""
    return Post.from_json(full_record(*columns))


def post_values(row: Row) -> tuple[Any, ...]:
    """Return the posts-table values of a row, in the INSERT column order."""
    post = row.post
    when = _encode(post.date) if post.date else None
    return (
        row.id, row.ident, post.channel, post.message_id, post.fingerprint, post.kind, when,
        post.title, post.text, post.author, "\n".join(post.key_points) or None, post.views, post.forwards,
        stored_json(post, when), row.first_seen, row.last_seen, row.text_since,
    )


def chunks(items: Sequence[Any], size: int = _MAX_PARAMS) -> Iterator[list[Any]]:
    """Yield `items` in lists of at most `size` (SQLite caps the parameters of one statement)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


_POST_NAMES = tuple(f.name for f in dataclasses.fields(Post))
_STORED_NAMES = tuple(name for name in _POST_NAMES if name not in COLUMN_FIELDS)
_stored_values = operator.attrgetter(*_STORED_NAMES)
# Post fields whose values are not JSON as they are: times, records, and tuples of records.
_NEEDS_ENCODING = frozenset(("date", "edit_date", "forwarded_from", "poll", "source", "links", "media", "datelines",
                             "reactions"))
# What a left-out field reads back as: every field that can be left out defaults to null or [].
_EMPTY_RECORD = Post().to_json()
