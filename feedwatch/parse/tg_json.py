"""Telegram Desktop JSON exports (`result.json`), read as a stream.

Three shapes: one chat (`{"name", "type", "id", "messages": [...]}`), a full
account export (the chats under `chats.list` and `left_chats.list`), and a bare
array of messages. Memory holds one message (and a block of the file) at a time
whatever the file size: a single chat or a bare array, pretty-printed as the
exporter writes it, is cut into messages at their closing lines and each is
decoded by msgspec (`_laid_out_items`); anything else, and whatever does not
fit that layout, ijson parses incrementally. The exporter writes control
characters as `\\xNN`, which is not JSON; `_Unescape` rewrites them to `\\u00NN`
on the way in. Service messages become posts of kind "service" whose `service`
is the export's `action` (or "unsupported" for messages the exporter could not
read). A message without an id is skipped with a note naming it; the rest of
the file is read.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

import ijson
import msgspec

from feedwatch.errors import ParseError
from feedwatch.models import ForwardedFrom, Link, Media, Poll, PollAnswer, Post, Reaction, Source
from feedwatch.parse import Options, Replay
from feedwatch.parse.structure import finished_post
from feedwatch.parse.tg_export import Skipped, add_note, local_time, placeholder_note, post_url

FORMAT = "tg-json"
_SNIFF_RE = re.compile(r'"(date_unixtime|text_entities|personal_information)"|"type"\s*:\s*"(message|service)"')
# Where a chat object sits; its messages are in "<chat>.messages".
_CHATS = ("", "chats.list.item", "left_chats.list.item")
_CHAT_KEYS = {f"{chat}.{key}".lstrip("."): key for chat in _CHATS for key in ("name", "id", "type")}
_MESSAGE_ARRAYS = {f"{chat}.messages".lstrip(".") for chat in _CHATS}
_MEDIA_TYPES = {
    "sticker": "sticker",
    "video_message": "round_video",
    "voice_message": "voice",
    "animation": "animation",
    "video_file": "video",
    "audio_file": "audio",
}
# Keys of the other media kinds; the value is the Media type.
_OTHER_MEDIA = {
    "contact_information": "contact",
    "location_information": "location",
    "place_name": "venue",
    "game_title": "game",
    "invoice_information": "invoice",
    "todo_list": "todo",
    "giveaway_information": "giveaway",
    "giveaway_results": "giveaway_results",
}
_HEAD_BYTES = 64 * 1024
_PEER_RE = re.compile(r"(?:user|channel|chat)(\d{1,20})$")
_ESCAPE_RE = re.compile(rb"(?<!\\)(\\+)x([0-9A-Fa-f]{2})")
# A low-surrogate escape (\udc00-\udfff); it is lone, and not text, unless a high-surrogate escape comes just before.
_LOW_RE = re.compile(rb"(?<!\\)(\\+)u[dD][c-fC-F][0-9A-Fa-f]{2}")
_HIGH_RE = re.compile(rb"\\u[dD][89abAB][0-9A-Fa-f]{2}")
# Telegram texts are a few thousand characters; ijson holds a whole string value, so a far longer
# run without a quote is refused rather than read into memory.
MAX_STRING_BYTES = 16 * 2**20
NO_UNIXTIME_NOTE = "{path}: messages carry no date_unixtime; their local `date` is read as {{tz}} (use --tz)"


def sniff(head: str) -> bool:
    """True when the head of a file looks like a Telegram Desktop JSON export."""
    start = head.lstrip()[:1]
    return start in ("{", "[") and bool(_SNIFF_RE.search(head))


def parse(stream: BinaryIO, path: str, options: Options) -> Iterator[Post]:
    """Yield one Post per message of an export; raise ParseError naming the file and the place."""
    source = _Unescape(stream)
    index = 0
    found = False
    skipped = Skipped(path)
    try:
        for chat, messages in _message_arrays(source):
            found = True
            for message in messages:
                if isinstance(message, dict) and _int(message.get("id")) is None:
                    skipped.add(options, _described(message, index))
                else:
                    yield message_post(message, chat, path, index, options)
                index += 1
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        place = f"message {index}, within bytes {source.start}-{source.offset}"
        what = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not valid JSON"
        raise ParseError(path, f"{what} ({_first_line(exc)})", place=place) from None
    skipped.close(options)
    if source.repaired:
        add_note(options, f"{path}: {source.repaired} invalid \\x escape(s) written by the exporter were repaired")
    if not found:
        raise ParseError(path, "no messages in this JSON", hint="Is it a Telegram Desktop export (result.json)?")


def _described(message: dict[str, Any], index: int) -> str:
    """Return how a note names a message: its place, date and first words."""
    when = _string(message.get("date"))
    words = " ".join(flatten(message.get("text", ""))[0].split())
    words = words if len(words) <= 40 else words[:40] + "…"
    about = ", ".join(part for part in (f"dated {when}" if when else "", f"“{words}”" if words else "") if part)
    return f"message {index}" + (f" ({about})" if about else "")


def _first_line(exc: Exception) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:].replace("\\n", "\n")
    return text.split("\n", 1)[0].strip()


def _message_arrays(source: _Unescape) -> Iterator[tuple[dict[str, Any], Iterator[Any]]]:
    """Yield (chat name/id/type, its messages) for each message array of an export.

    A single chat or a bare array, recognised from the first bytes, is read by
    ijson's items() straight from the bytes (its C backend does it without
    handing each event to Python); anything else, such as a full account
    export, goes through `_chats`, which tracks the chat of every array.
    """
    head = source.read(_HEAD_BYTES)
    stream = Replay(head, source)
    shape = _shape(head)
    if shape is None:
        yield from _chats(ijson.parse(stream, use_float=True))
    else:
        prefix, chat = shape
        yield chat, _laid_out_items(source, head, prefix, chat)


def _shape(head: bytes) -> tuple[str, dict[str, Any]] | None:
    """Return the items prefix and chat of a single-chat export or a bare array, else None."""
    chat: dict[str, Any] = {}
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(head), use_float=True):
            if prefix == "" and event == "start_array":
                return "item", chat
            if prefix == "messages" and event == "start_array":
                return "messages.item", chat
            if prefix == "" and event == "map_key" and value not in ("name", "type", "id", "messages"):
                return None  # not a single chat (a full account export has "about" first)
            if prefix in _CHAT_KEYS and event in ("string", "number"):
                chat[prefix] = value
    except (ijson.JSONError, UnicodeDecodeError):
        pass  # the head ends mid-value, or the file is damaged: the general path will say where
    return None


# How a pretty-printed export's message arrays are read, message by message (see `_laid_out_items`).
_BLOCK_BYTES = 1 << 18
_OPENING = {"messages.item": b'{"messages":[', "item": b"["}  # what precedes the array's items, for ijson
_MESSAGES_KEY_RE = re.compile(rb'"messages"[ \t\r\n]*:[ \t\r\n]*\[')
_FIRST_ITEM_RE = re.compile(rb"[ \t\r\n]*\n([ \t]*)\{")
_SPACE = b" \t\r\n"
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")  # a run of 19 digits is then 19 zeros, found fast
_LONG_DIGITS = b"0" * 19
_INT_LIMIT = 2**63 - 1  # ijson refuses a larger integer (or a smaller one than its negative)
_DECODE = msgspec.json.Decoder().decode


def _laid_out_items(source: _Unescape, head: bytes, prefix: str, chat: dict[str, Any]) -> Iterator[Any]:
    """Yield the items of a single chat's message array (or a bare array) as `ijson.items` would.

    Telegram Desktop writes its exports pretty-printed: every message starts on
    a line of its own and ends on a line holding only its closing brace, at the
    indentation of its opening one. A JSON string cannot hold a raw newline, so
    that line is structure: the file is read in large blocks, cut there, and
    each message decoded whole by msgspec, which is several times faster than
    ijson building it event by event. A cut is taken only when msgspec decodes
    exactly one value from it, so a file laid out otherwise cannot be misread:
    from the first thing that does not fit (a message msgspec refuses, a value
    that is not an object, the end of the array, a file in another layout),
    ijson reads on from that point as before, and says where the damage is.
    """
    opening = _OPENING[prefix]
    start = _array_start(head, prefix, chat)
    first = _FIRST_ITEM_RE.match(head, start) if start is not None else None
    if start is None or first is None:
        yield from ijson.items(Replay(head, source), prefix, use_float=True)
        return
    end_line = b"\n" + first.group(1) + b"}"
    buf, pos, skip = head, first.end() - 1, 0
    while True:  # here buf[pos] is the "{" of a message
        end = buf.find(end_line, pos)
        while end < 0 and len(buf) - pos <= MAX_STRING_BYTES:
            more = source.read(_BLOCK_BYTES)
            if not more:
                break
            buf, pos = buf[pos:] + more, 0
            end = buf.find(end_line, max(len(buf) - len(more) - len(end_line), 0))
        message = _decoded(buf[pos : end + len(end_line)]) if end >= 0 else None
        if message is None:
            break  # not one whole message (damaged, cut off, or laid out otherwise): ijson reads it
        yield message
        buf, pos = _next_token(buf, end + len(end_line), source)
        if buf[pos : pos + 1] != b",":
            opening, skip = opening + b"0", 1  # the end of the array, or no separator: ijson reads on after an item
            break
        buf, pos = _next_token(buf, pos + 1, source)
        if buf[pos : pos + 1] != b"{":
            break  # a message that is not an object
    source.resume_at(len(buf) - pos)
    for item in ijson.items(_Then(opening + buf[pos:], source), prefix, use_float=True):
        if skip:
            skip -= 1
        else:
            yield item


def _next_token(buf: bytes, pos: int, source: _Unescape) -> tuple[bytes, int]:
    """Return the buffer and place of the next byte at or after `pos` that is not white space, reading on."""
    while True:
        while pos < len(buf) and buf[pos] in _SPACE:
            pos += 1
        if pos < len(buf):
            return buf, pos
        more = source.read(_BLOCK_BYTES)
        if not more:
            return buf, pos
        buf, pos = more, 0


class _Then:
    """A stream of `data` (bytes already read and not parsed), then of the rest of `source`.

    Unlike `Replay`, no read mixes the two, so an error in `data` is placed where `resume_at` put it.
    """

    def __init__(self, data: bytes, source: _Unescape):
        self._data = data
        self._source = source

    def read(self, size: int) -> bytes:
        if not self._data:
            return self._source.read(size)
        data, self._data = self._data[:size], self._data[size:]
        return data


def _array_start(head: bytes, prefix: str, chat: dict[str, Any]) -> int | None:
    """Return where the items of the message array begin in `head`, or None if that is not certain."""
    if prefix == "item":
        start = len(head) - len(head.lstrip(_SPACE)) + 1
        return start if head[start - 1 : start] == b"[" else None
    key = _MESSAGES_KEY_RE.search(head)
    if key is None:
        return None
    try:  # the key is the chat's own, not words inside a string, when what precedes it reads as the chat
        before = _DECODE(head[: key.end()] + b"]}")
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    known = {name: value for name, value in before.items() if name != "messages"}
    return key.end() if before.get("messages") == [] and known == {k: chat[k] for k in chat} else None


def _decoded(data: bytes) -> Any:
    """Return the one JSON value `data` holds, as ijson reads it; None when msgspec cannot say the same."""
    try:
        value = _DECODE(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if _LONG_DIGITS in data.translate(_DIGITS_AS_ZERO) and _has_long_int(value):
        return None  # ijson refuses integers beyond 64 bits
    return value


def _has_long_int(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_long_int(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_long_int(item) for item in value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT_LIMIT


def _chats(events: Iterator[tuple[str, str, Any]]) -> Iterator[tuple[dict[str, Any], Iterator[Any]]]:
    """Yield (chat name/id/type, its messages) for each message array in the event stream."""
    chat: dict[str, Any] = {}
    for prefix, event, value in events:
        if prefix in _CHAT_KEYS and event in ("string", "number"):
            chat[_CHAT_KEYS[prefix]] = value
        elif event == "start_map" and prefix in _CHATS:
            chat = {}
        elif event == "start_array" and (prefix in _MESSAGE_ARRAYS or prefix == ""):
            yield chat, ijson.items(_until_end(events, prefix), f"{prefix}.item".lstrip("."))


def _until_end(events: Iterator[tuple[str, str, Any]], array: str) -> Iterator[tuple[str, str, Any]]:
    for item in events:
        if item[0] == array and item[1] == "end_array":
            return
        yield item


class _Unescape:
    """A byte stream that rewrites the exporter's invalid `\\xNN` escapes to `\\u00NN`.

    Only a backslash run of odd length escapes the `x`; a run that may continue
    in the next read is held back, so an escape split across reads is still seen.
    """

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._held = b""
        self.start = 0  # offset in the file where the last read began
        self.offset = 0  # bytes read from the file so far
        self.repaired = 0
        self.unquoted = 0  # bytes read since the last quote

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        while True:
            chunk = self._stream.read(size)
            if chunk:
                self.start, self.offset = self.offset, self.offset + len(chunk)
                quote = chunk.rfind(b'"')
                self.unquoted = self.unquoted + len(chunk) if quote < 0 else len(chunk) - quote - 1
                if self.unquoted > MAX_STRING_BYTES:
                    raise ijson.JSONError(f"a value longer than {MAX_STRING_BYTES:,} bytes, far beyond any message")
            data = self._held + chunk
            cut = len(data) if not chunk else _safe_end(data)
            self._held = data[cut:]
            if cut or not chunk:
                return self._fix(data[:cut])

    def close(self) -> None:
        self._stream.close()

    def resume_at(self, unread: int) -> None:
        """Note that the last `unread` bytes returned are still to be parsed: an error's place then includes them."""
        self.start = max(self.offset - len(self._held) - unread, 0)

    def _fix(self, data: bytes) -> bytes:
        if b"\\x" in data:
            data = _ESCAPE_RE.sub(self._replace, data)
        if b"\\u" in data:
            data = _LOW_RE.sub(lambda match: self._lone(match, data), data)
        return data

    def _lone(self, match: re.Match[bytes], data: bytes) -> bytes:
        """A lone low surrogate (no character: the JSON parser refuses it and the rest of the file) reads as U+FFFD."""
        slashes, start = match.group(1), match.start()
        if len(slashes) % 2 == 0 or _HIGH_RE.fullmatch(data, max(start - 6, 0), start):
            return match.group(0)
        self.repaired += 1
        return slashes[:-1] + b"\\ufffd"

    def _replace(self, match: re.Match[bytes]) -> bytes:
        slashes = match.group(1)
        if len(slashes) % 2 == 0:
            return match.group(0)
        self.repaired += 1
        return slashes[:-1] + b"\\u00" + match.group(2)


def _safe_end(data: bytes) -> int:
    """Return where `data` can be cut without splitting an escape (`\\xNN`, `\\uXXXX`) or a surrogate pair."""
    tail = data.find(b"\\", max(len(data) - 6, 0))
    if tail < 0:
        tail = len(data)
    else:
        while tail > 0 and data[tail - 1] == 0x5C:
            tail -= 1
    if _HIGH_RE.fullmatch(data, max(tail - 6, 0), tail):  # keep a high surrogate with the low one after it
        tail -= 6
    return tail


def message_post(message: Any, chat: dict[str, Any], path: str, index: int, options: Options) -> Post:
    """Return the Post of one exported message (a JSON object); ParseError if it is not one."""
    if not isinstance(message, dict):
        raise ParseError(path, "a message is not a JSON object", place=f"message {index}")
    message_id = message.get("id")
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise ParseError(path, "a message has no numeric id", place=f"message {index}")
    chat_id, title = _chat(chat, message)
    text, tags, mentions, links = flatten(message.get("text", message.get("text_entities", "")))
    kind = "post" if message.get("type", "message") == "message" else "service"
    service = _string(message.get("action")) or ("unsupported" if message.get("type") == "unsupported" else None)
    if kind == "service" and not text:
        text = _string(message.get("title")) or ""
    edit_date = _time(message, "edited", "edited_unixtime", path, (index, message_id), options)
    return finished_post(
        kind=kind,
        message_id=message_id,
        url=post_url(None, message_id),
        date=_time(message, "date", "date_unixtime", path, (index, message_id), options),
        edited=edit_date is not None,
        edit_date=edit_date,
        forwarded_from=ForwardedFrom(_string(message["forwarded_from"])) if "forwarded_from" in message else None,
        author=_author(message, chat_id),
        text=text,
        hashtags=tags,
        mentions=mentions,
        links=links,
        media=_media(message),
        source=Source(FORMAT, path, index),
        channel_id=chat_id,
        channel_title=title,
        reply_to=_int(message.get("reply_to_message_id", message.get("message_id"))),
        reactions=_reactions(message.get("reactions")),
        poll=_poll(message.get("poll")),
        service=service if kind == "service" else None,
    )


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _chat(chat: dict[str, Any], message: dict[str, Any]) -> tuple[int | None, str | None]:
    """Return the chat's bare id and title; a bare array names its channel in `from_id`."""
    if chat:
        return _int(chat.get("id")), _string(chat.get("name"))
    sender = _PEER_RE.match(_string(message.get("from_id")) or "")
    if sender and sender.group(0).startswith("channel"):
        return int(sender.group(1)), _string(message.get("from"))
    return None, None


def _author(message: dict[str, Any], chat_id: int | None) -> str | None:
    """Return the post's signature, or the sender's name when the sender is not the chat itself."""
    signature = _string(message.get("author"))
    if signature or chat_id is None:
        return signature
    sender = message.get("from_id", message.get("actor_id"))
    if isinstance(sender, str):
        match = _PEER_RE.match(sender)
        sender = int(match.group(1)) if match else None
    if _int(sender) == chat_id:  # early exports write the bare id as a number
        return None
    return _string(message.get("from", message.get("actor")))


def _time(
    message: dict[str, Any], key: str, unix_key: str, path: str, which: tuple[int, int], options: Options
) -> datetime | None:
    """Return `unix_key` (`<key>_unixtime`) as UTC, or the zone-less `<key>` read in options.tz.

    `which` is the message's place in the file and its id, for an error.
    """
    unix, local = message.get(unix_key), message.get(key)
    try:
        if isinstance(unix, str | int) and not isinstance(unix, bool):
            return datetime.fromtimestamp(int(unix), UTC)
        if isinstance(local, str):
            written = datetime.fromisoformat(local)
            if written.tzinfo is not None:
                return written.astimezone(UTC)
            return local_time(written, options, NO_UNIXTIME_NOTE.format(path=path))
    except (ValueError, OverflowError, OSError):
        place = f"message {which[0]} (id {which[1]})"
        raise ParseError(path, f"{key} is not a time ({unix or local!r})", place=place) from None
    return None


def flatten(value: Any) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[Link, ...]]:
    """Return the text of an export's `text` (a string or a list of runs) and its entities.

    The entities give hashtags (without '#'), mentions (without '@') and links.
    """
    if isinstance(value, str):
        return value, (), (), ()
    parts: list[str] = []
    tags: list[str] = []
    mentions: list[str] = []
    links: list[Link] = []
    for run in value if isinstance(value, list) else ():
        if isinstance(run, str):
            parts.append(run)
            continue
        if not isinstance(run, dict) or not isinstance(run.get("text"), str):
            continue
        text, kind = run["text"], run.get("type")
        parts.append(text)
        if kind == "hashtag":
            tags.append(text.lstrip("#"))
        elif kind == "mention":
            mentions.append(text.lstrip("@"))
        elif kind == "link":
            links.append(Link(text, text))
        elif kind == "text_link":
            links.append(Link(text, _string(run.get("href"))))
        elif kind == "email":
            links.append(Link(text, "mailto:" + text))
    return "".join(parts), tuple(tags), tuple(mentions), tuple(links)


def _file_media(kind: str, value: Any) -> Media:
    note = placeholder_note(value) if isinstance(value, str) and value.startswith("(") else None
    url = value if isinstance(value, str) and note is None and value else None
    return Media(kind, note, url)


def _media(message: dict[str, Any]) -> tuple[Media, ...]:
    found: list[Media] = []
    if "photo" in message:
        found.append(_file_media("photo", message["photo"]))
    if "file" in message or "media_type" in message:
        kind = _MEDIA_TYPES.get(_string(message.get("media_type")) or "", "document")
        found.append(_file_media(kind, message.get("file")))
    if "poll" in message:
        found.append(Media("poll"))
    found += [Media(kind) for key, kind in _OTHER_MEDIA.items() if key in message]
    return tuple(found)


def _reactions(value: Any) -> tuple[Reaction, ...]:
    found: list[Reaction] = []
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "emoji" and isinstance(item.get("emoji"), str):
            emoji = item["emoji"]
        elif kind == "custom_emoji":
            emoji = f"custom:{item.get('document_id')}"
        elif kind == "paid":
            emoji = "paid"
        else:
            continue
        found.append(Reaction(emoji, _int(item.get("count")) or 0))
    return tuple(found)


def _poll(value: Any) -> Poll | None:
    if not isinstance(value, dict):
        return None
    answers = tuple(
        PollAnswer(flatten(answer.get("text"))[0], _int(answer.get("voters")))
        for answer in _dicts(value.get("answers"))
    )
    closed = value.get("closed")
    return Poll(
        question=flatten(value.get("question"))[0],
        answers=answers,
        closed=closed if isinstance(closed, bool) else None,
        total_voters=_int(value.get("total_voters")),
    )


def _dicts(value: Any) -> Iterable[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
