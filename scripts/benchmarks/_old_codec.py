"""The hand-written Post codecs the msgspec codec replaced, kept only as the codec bench's baseline.

As they were (feedwatch/models.py and feedwatch/store/rows.py before the
msgspec codec), applied to today's records: `decode` is `json.loads` and the
old `Post.from_json`, `encode` the old `Post.to_json` and `json.dumps`, and
`stored_json` / `stored_post` the old store encoder and reader. A field added
to Post since is decoded as it is, unchecked.
"""
# ruff: noqa

from __future__ import annotations

import dataclasses
import json
import operator
from datetime import UTC, date, datetime
from typing import Any

from feedwatch.models import KINDS, Dateline, ForwardedFrom, Link, Media, Poll, PollAnswer, Post, Reaction, Source


def decode(line: bytes | str) -> Post:
    return from_json(json.loads(line))


def encode(post: Post) -> str:
    return json.dumps(to_json(post), ensure_ascii=False)


def to_json(post: Post) -> dict[str, Any]:
    return {f.name: _encode(getattr(post, f.name)) for f in dataclasses.fields(post)}


def from_json(obj: Any) -> Post:
    if not isinstance(obj, dict):
        raise ValueError("a post must be a JSON object")
    if not obj.keys() <= _FIELD_NAMES:
        raise ValueError(f"unknown key(s): {', '.join(sorted(set(obj) - _FIELD_NAMES))}")
    values = {}
    for name, value in obj.items():
        if value is None:
            if name in _NULLABLE:
                continue
        elif value.__class__ is _SCALARS.get(name):
            values[name] = value
            continue
        elif value.__class__ is list and not value and name in _LISTS:
            continue
        values[name] = _DECODERS.get(name, lambda v, n: v)(value, name)
    if values.get("kind", "post") not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return Post(**values)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


_FIELD_NAMES = {f.name for f in dataclasses.fields(Post)}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def _opt(kind: type, value: Any, name: str) -> Any:
    if value is None:
        return None
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {kind.__name__} or null")
    return value


def _datetime(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string or null")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name} must carry a UTC offset")
    return parsed.astimezone(UTC)


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(value)


def _records(kind: type, value: Any, name: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list")
    return tuple(_record(kind, v, name) for v in value)


_RECORD_FIELDS: dict[type, frozenset[str]] = {}


def _record(kind: type, value: Any, name: str) -> Any:
    if not isinstance(value, dict):
        raise ValueError(f"{name} entries must be objects")
    names = _RECORD_FIELDS.get(kind)
    if names is None:
        names = _RECORD_FIELDS[kind] = frozenset(f.name for f in dataclasses.fields(kind))
    unknown = set(value) - names
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        if kind is Dateline:
            return Dateline(_opt(str, value.get("place"), name), date.fromisoformat(value["date"]))
        if kind is Poll:
            answers = _records(PollAnswer, value.get("answers"), name)
            return Poll(**{**value, "answers": answers})
        return kind(**value)
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None


def _strict(kind: type) -> Any:
    return lambda v, n: _opt(kind, v, n)


_DECODERS: dict[str, Any] = {
    "date": _datetime,
    "edit_date": _datetime,
    "key_points": _strings,
    "hashtags": _strings,
    "mentions": _strings,
    "approximate": _strings,
    "links": lambda v, n: _records(Link, v, n),
    "media": lambda v, n: _records(Media, v, n),
    "datelines": lambda v, n: _records(Dateline, v, n),
    "reactions": lambda v, n: _records(Reaction, v, n),
    "forwarded_from": lambda v, n: _record(ForwardedFrom, v, n),
    "poll": lambda v, n: _record(Poll, v, n),
    "source": lambda v, n: _record(Source, v, n),
    "album": lambda v, n: _ints(v, n),
    "edited": _strict(bool),
    "text": lambda v, n: _opt(str, v, n) or "",
    "fingerprint": lambda v, n: _opt(str, v, n) or "",
    "kind": _strict(str),  # null and "" are not kinds (checked against KINDS after decoding)
    **{
        name: _strict(int)
        for name in ("message_id", "views", "channel_id", "forwards", "replies", "reply_to", "grouped_id")
    },
    **{name: _strict(str) for name in ("channel", "url", "author", "title", "channel_title", "service")},
}
_LISTS = frozenset(
    ("key_points", "hashtags", "mentions", "approximate", "links", "media", "datelines", "reactions", "album")
)
# Fields whose null reads as their default (None, () or ""): all but source and kind.
_NULLABLE = frozenset(f.name for f in dataclasses.fields(Post)) - {"source", "kind"}
# Fields of a plain JSON type, taken as they are when they have it (a bool is not an int here).
_SCALARS: dict[str, type] = {
    **{name: int for name in ("message_id", "views", "channel_id", "forwards", "replies", "reply_to", "grouped_id")},
    **{
        name: str
        for name in ("kind", "channel", "url", "author", "title", "channel_title", "service", "text", "fingerprint")
    },
    "edited": bool,
}


def _ints(value: Any, name: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list of integers")
    return tuple(_opt(int, i, name) for i in value)


# The store's encoder and reader (feedwatch/store/rows.py).
_COLUMNS = ("title", "text", "author")
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_STORED_NAMES = tuple(f.name for f in dataclasses.fields(Post) if f.name not in _COLUMNS)
_stored_values = operator.attrgetter(*_STORED_NAMES)
_NEEDS_ENCODING = frozenset(
    ("date", "edit_date", "forwarded_from", "poll", "source", "links", "media", "datelines", "reactions")
)
_EMPTY_RECORD = to_json(Post())


def stored_json(post: Post) -> str:
    pairs = zip(_STORED_NAMES, _stored_values(post), strict=True)
    rest = {name: value for name, value in pairs if value is not None and value != ()}
    for name in _NEEDS_ENCODING.intersection(rest):
        rest[name] = _encode(rest[name])
    return _JSON.encode(rest)


def stored_post(stored: str, title: str | None, text: str, author: str | None) -> Post:
    record = dict(_EMPTY_RECORD)
    record.update(json.loads(stored))
    record.update(title=title, text=text, author=author)
    return from_json(record)
