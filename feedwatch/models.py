"""The records feedwatch passes around (frozen dataclasses, no I/O), and the one codec of their JSON.

`Post` is the one normalised record every input format becomes. Its JSON form
(`post_line`, one object per line) is a public contract: `feedwatch parse`
writes it, `feedwatch ingest` and `feedwatch export` read and write it, and
other tools consume it. Keys are always present; unknown values are null or
empty. Readers take any object with some of the keys (`post_from_line`); the
store keeps its own leaner copy (`stored_json`, `stored_post`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints, overload

import msgspec

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
        """Return the JSON Lines object of this post (the public contract), every key present."""
        return to_json(self)

    @classmethod
    def from_json(cls, obj: Any) -> Post:
        """Return the Post of a JSON object with the contract's keys; ValueError says what is wrong and where."""
        return from_json(obj)


# The codec: the one way a Post becomes JSON and back, for the JSON Lines contract, the store's copy and
# every reader. msgspec does the work in C: records are encoded as they are, and untrusted JSON is decoded
# into a schema derived from the records below (strict types, no unknown keys, times with a UTC offset),
# then into the records themselves.

USERNAME = re.compile(r"[A-Za-z](?!\w*__)[A-Za-z0-9_]{3,31}(?<!_)")  # a Telegram username: t.me/<name>
_USERNAME_RULE = "5-32 letters, digits or _, starting with a letter"


Fingerprint = Callable[[str], str]  # a text's fingerprint (feedwatch.parse.text.fingerprint)


def telegram_username(name: str) -> str:
    """Return `name` without a leading @; ValueError when it is not a Telegram username."""
    bare = name.strip().removeprefix("@")
    if not USERNAME.fullmatch(bare):
        raise ValueError(f"{name!r} is not a Telegram channel username ({_USERNAME_RULE})")
    return bare


def _schema_type(hint: Any) -> Any:
    """Return the type msgspec validates a record field's JSON against."""
    if hint is datetime:
        return Annotated[datetime, msgspec.Meta(tz=True)]
    args = get_args(hint)
    if get_origin(hint) in (Union, UnionType):
        return Union[tuple(_schema_type(arg) for arg in args)]  # noqa: UP007 (built from parts)
    if get_origin(hint) is tuple:
        return tuple[_schema_type(args[0]), ...]  # type: ignore[misc]
    if dataclasses.is_dataclass(hint):
        return _schema(hint)  # type: ignore[arg-type]
    return hint


@functools.cache
def _schema(record: type) -> type[msgspec.Struct]:
    """Return the msgspec Struct that checks the JSON of `record` (a dataclass above): same fields and defaults."""
    hints = get_type_hints(record)
    fields: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(record):
        kind = Literal[KINDS] if (record, f.name) == (Post, "kind") else _schema_type(hints[f.name])
        if f.default is not dataclasses.MISSING:
            fields.append((f.name, kind, f.default))
        elif f.default_factory is not dataclasses.MISSING:
            fields.append((f.name, kind, f.default_factory()))
        else:
            fields.append((f.name, kind, msgspec.NODEFAULT))
    return msgspec.defstruct(record.__name__, fields, kw_only=True, forbid_unknown_fields=True)


def from_json(obj: Any, source: Source | None = None, fingerprint: Fingerprint | None = None) -> Post:
    """Return the Post of a decoded JSON object (see `post_from_line`)."""
    if not isinstance(obj, dict):
        raise ValueError("a post must be a JSON object")
    try:
        checked = msgspec.convert(_nulls_as_defaults(obj), _schema(Post))
    except msgspec.ValidationError as exc:
        kinds = f" (one of {', '.join(KINDS)})" if str(exc).endswith("at `$.kind`") else ""
        raise ValueError(f"{exc}{kinds}") from None
    return _post(checked, source, fingerprint)


def post_from_line(line: bytes | str, source: Source | None = None, fingerprint: Fingerprint | None = None) -> Post:
    """Return the Post of one JSON object: the contract, or any object with some of its keys.

    Absent keys, and nulls, take the field's default (except `kind` and
    `source`, which must not be null); `source` is the source of a line that
    names none; `fingerprint`, given, computes the fingerprint from the text in
    place of the one in the line. ValueError names what is wrong and where
    ("Expected `int | null`, got `str` - at `$.message_id`").
    """
    try:
        checked = _LINE.decode(line)
    except msgspec.ValidationError:  # nulls where the contract writes [] or "": the default
        return from_json(_ANY.decode(line), source, fingerprint)
    except msgspec.DecodeError as exc:
        try:
            return from_json(_loads(line), source, fingerprint)
        except ValueError:
            raise ValueError(f"not JSON ({exc})") from None
    return _post(checked, source, fingerprint)


def _loads(data: bytes | str) -> Any:
    """Return decoded JSON; a lone surrogate escape ("\\udc80"), which msgspec refuses, is read as Python does."""
    try:
        return _ANY.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)


def _post(checked: Any, source: Source | None, fingerprint: Fingerprint | None) -> Post:
    """Return the Post of a checked schema Struct: times in UTC, channel names checked, `source` if none given."""
    if source is not None and checked.source.format == "unknown":
        checked.source = source
    if fingerprint is not None:
        checked.fingerprint = fingerprint(checked.text)
    for name in ("date", "edit_date"):
        when = getattr(checked, name)
        if when is not None and when.tzinfo is not UTC:
            setattr(checked, name, when.astimezone(UTC))
    if checked.channel is not None:  # it makes links (t.me/<channel>/<id>): a username, as for polling
        checked.channel = _field_username(checked.channel, "$.channel")
    origin = checked.forwarded_from
    if origin is not None and origin.channel is not None:
        origin.channel = _field_username(origin.channel, "$.forwarded_from.channel")
    return msgspec.convert(checked, Post, from_attributes=True)


def _field_username(name: str, where: str) -> str:
    try:
        return telegram_username(name)
    except ValueError as exc:
        raise ValueError(f"{exc} - at `{where}`") from None


def _nulls_as_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None or k not in _NULLABLE}


def to_json(post: Post) -> dict[str, Any]:
    """Return the contract's JSON object of `post`, as a dict: exactly what `post_line` writes."""
    return _loads(post_line(post))  # type: ignore[no-any-return]


def post_line(post: Post) -> bytes:
    """Return the JSON Lines line of `post` (no newline), UTF-8: the contract's keys in its order, compact."""
    date, edited = post.date, post.edit_date
    if (date is not None and date.tzinfo is not UTC) or (edited is not None and edited.tzinfo is not UTC):
        date, edited = _utc(date), _utc(edited)
        post = dataclasses.replace(post, date=date, edit_date=edited)
    try:
        data = _ENCODE(post)
    except UnicodeEncodeError:  # a lone surrogate (a JSON \udXXX escape, possible in input): escaped
        return _escaped(post)
    # msgspec writes UTC as "Z"; the contract writes "+00:00" (datetime.isoformat), as it always has.
    # A key's quotes cannot occur unescaped inside a string, so the first `"date":"` is the post's own.
    if date is not None:
        data = _utc_offset(data, b'"date":"')
    return _utc_offset(data, b'"edit_date":"') if edited is not None else data


def _utc(when: datetime | None) -> datetime | None:
    return when.astimezone(UTC) if when is not None else None


@overload
def iso(when: date) -> str: ...


@overload
def iso(when: None) -> None: ...


@overload
def iso(when: date | None) -> str | None: ...


def iso(when: date | None) -> str | None:
    """Return `when` as feedwatch writes times: ISO 8601, a datetime in UTC (naive means UTC); None stays None."""
    if when is None:
        return None
    if isinstance(when, datetime):
        if when.tzinfo is UTC:  # the usual case: msgspec writes what isoformat() does, in a fifth of its time
            return _ENCODE(when)[1:-2].decode() + "+00:00"  # '"...Z"' less its quotes and Z
        when = (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).astimezone(UTC)
    return when.isoformat()


def _escaped(post: Post, names: Iterable[str] = ()) -> bytes:
    """Return the JSON of `post` (or of these fields) the slow way: non-ASCII escaped (lone surrogates too)."""
    obj: dict[str, Any] = msgspec.to_builtins(post, builtin_types=(datetime,))
    for name in ("date", "edit_date"):
        obj[name] = iso(obj[name])
    return json.dumps({n: obj[n] for n in names} if names else obj, separators=(",", ":")).encode()


def _utc_offset(data: bytes, key: bytes) -> bytes:
    end = data.index(b'"', data.index(key) + len(key))
    return data[: end - 1] + b"+00:00" + data[end:] if data[end - 1] == 0x5A else data  # 0x5A: Z


def stored_json(post: Post, leave_out: frozenset[str]) -> str:
    """Return the JSON the store keeps of `post`: its known fields less `leave_out`, nulls and empties left out."""
    record, values_of = _kept(leave_out)
    try:
        return _ENCODE(record(*values_of(post))).decode()
    except UnicodeEncodeError:
        names = [f.name for f in msgspec.structs.fields(record)]
        values = {n: v for n, v in zip(names, values_of(post), strict=True) if v is not None and v != ()}
        return _escaped(post, values).decode()


def stored_post(data: str | bytes, **columns: Any) -> Post:
    """Return the Post of JSON written by `stored_json`, with the fields kept elsewhere given as `columns`.

    The store checked the post when it came in: its JSON is read by the same
    schema, but channel names are not checked again.
    """
    try:
        checked = _LINE.decode(data)
    except msgspec.DecodeError:  # as an earlier version wrote it (nulls, say), or a lone surrogate escape
        try:
            checked = msgspec.convert(_nulls_as_defaults(_loads(data)), _schema(Post))
        except msgspec.ValidationError as exc:
            raise ValueError(f"a stored post that is not one ({exc})") from None
    for name, value in columns.items():
        setattr(checked, name, value)
    return msgspec.convert(checked, Post, from_attributes=True)


@functools.cache
def _kept(leave_out: frozenset[str]) -> tuple[type[msgspec.Struct], Callable[[Post], tuple[Any, ...]]]:
    """Return the record `stored_json` encodes (the Post's fields less `leave_out`) and a getter of their values.

    The record leaves out a field whose value is its default (`omit_defaults`): None for the fields that default
    to None, an empty list for the lists. Every other field (kind, text, source, fingerprint) has a default no
    value equals, so it is always written, as it was by the dict this replaces. msgspec builds and encodes the
    record in C, about three times faster than filtering a dict of the fields in Python.
    """
    fields: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(Post):
        if f.name not in leave_out:
            default = f.default if f.default is None or f.default == () else _ALWAYS
            fields.append((f.name, Any, default))
    names = tuple(name for name, _, _ in fields)
    return msgspec.defstruct("StoredPost", fields, omit_defaults=True), operator.attrgetter(*names)


_ALWAYS = object()  # the default of the stored fields that are always written: no value is it
_NAMES = tuple(f.name for f in dataclasses.fields(Post))
_values = operator.attrgetter(*_NAMES)
_NULLABLE = frozenset(_NAMES) - {"source", "kind"}  # whose null reads as their default (None, () or "")
_ENCODE = msgspec.json.Encoder().encode
_LINE = msgspec.json.Decoder(_schema(Post))
_ANY = msgspec.json.Decoder()
