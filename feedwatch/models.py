"""The records feedwatch passes around: frozen dataclasses, no I/O.

`Post` is the one normalised record every input format becomes. Its JSON form
(`Post.to_json`, one object per line) is a public contract: `feedwatch parse`
writes it, `feedwatch ingest` and `feedwatch export` read and write it, and
other tools consume it. Keys are always present; unknown values are null or
empty.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

KINDS = ("post", "statement", "service")


@dataclass(frozen=True, slots=True)
class ForwardedFrom:
    """Where a forwarded post came from, as far as the source tells."""

    name: str | None
    channel: str | None = None
    message_id: int | None = None
    url: str | None = None
    author: str | None = None  # the original post's signature
    channel_id: int | None = None  # the original channel's bare id (no -100), when only the id is known


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Media:
    type: str  # photo, video, round_video, animation, sticker, document, audio, voice, poll, ...
    note: str | None = None  # e.g. "too big", "not included in export"
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Dateline:
    """The place and date of the event a post reports: "(Moscow, April 29, 2023)"."""

    place: str | None
    date: date


@dataclass(frozen=True, slots=True)
class Reaction:
    emoji: str  # the glyph, "custom:<document id>" or "paid"
    count: int


@dataclass(frozen=True, slots=True)
class PollAnswer:
    text: str
    voters: int | None = None
    percent: float | None = None


@dataclass(frozen=True, slots=True)
class Poll:
    question: str
    answers: tuple[PollAnswer, ...] = ()
    closed: bool | None = None
    total_voters: int | None = None


@dataclass(frozen=True, slots=True)
class Source:
    format: str  # dump, statement, jsonl, tg-json, tg-html, tme-html, telethon
    path: str | None = None
    index: int | None = None  # position of the post in its file


@dataclass(frozen=True, slots=True)
class Post:
    kind: str = "post"
    channel: str | None = None
    message_id: int | None = None
    url: str | None = None
    date: datetime | None = None
    edited: bool | None = None
    views: int | None = None
    forwarded_from: ForwardedFrom | None = None
    author: str | None = None
    title: str | None = None
    text: str = ""
    key_points: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    media: tuple[Media, ...] = ()
    datelines: tuple[Dateline, ...] = ()
    source: Source = field(default_factory=lambda: Source("unknown"))
    fingerprint: str = ""
    # What some sources carry beyond the core contract.
    channel_id: int | None = None
    channel_title: str | None = None
    edit_date: datetime | None = None
    forwards: int | None = None
    replies: int | None = None
    reply_to: int | None = None
    grouped_id: int | None = None
    album: tuple[int, ...] = ()  # message ids of the album this post stands for
    reactions: tuple[Reaction, ...] = ()
    poll: Poll | None = None
    service: str | None = None  # the action of a service message
    approximate: tuple[str, ...] = ()  # names of fields whose values are approximate

    def to_json(self) -> dict[str, Any]:
        """Return the JSON Lines object of this post (the public contract)."""
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, obj: Any) -> Post:
        """Return the Post of a JSON object made by `to_json`; raise ValueError if it is not one."""
        if not isinstance(obj, dict):
            raise ValueError("a post must be a JSON object")
        if not obj.keys() <= _FIELD_NAMES:
            raise ValueError(f"unknown key(s): {', '.join(sorted(set(obj) - _FIELD_NAMES))}")
        values = {}
        for name, value in obj.items():
            # The common cases first. A null, or an empty list where a list belongs, is the field's default.
            if value is None:
                if name in _NULLABLE:
                    continue
            elif value.__class__ is _SCALARS.get(name):
                values[name] = value
                continue
            elif value.__class__ is list and not value and name in _LISTS:
                continue
            values[name] = _DECODERS[name](value, name)
        if values.get("kind", "post") not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        return cls(**values)


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
    **{name: _strict(int) for name in ("message_id", "views", "channel_id", "forwards", "replies", "reply_to",
                                       "grouped_id")},
    **{name: _strict(str) for name in ("channel", "url", "author", "title", "channel_title", "service")},
}
_LISTS = frozenset(("key_points", "hashtags", "mentions", "approximate", "links", "media", "datelines",
                    "reactions", "album"))
# Fields whose null reads as their default (None, () or ""): all but source and kind.
_NULLABLE = frozenset(f.name for f in dataclasses.fields(Post)) - {"source", "kind"}
# Fields of a plain JSON type, taken as they are when they have it (a bool is not an int here).
_SCALARS: dict[str, type] = {
    **{name: int for name in ("message_id", "views", "channel_id", "forwards", "replies", "reply_to", "grouped_id")},
    **{name: str for name in ("kind", "channel", "url", "author", "title", "channel_title", "service", "text",
                              "fingerprint")},
    "edited": bool,
}


def _ints(value: Any, name: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list of integers")
    return tuple(_opt(int, i, name) for i in value)
