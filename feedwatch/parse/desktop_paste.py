"""Text copied out of Telegram Desktop: messages selected in a chat and copied (Ctrl+C).

Telegram Desktop writes each selected message as a header line, the sender's
name and the time in the user's locale (`Ronny Gunawan, [25/06/2022 07:25]`),
then header lines of its own for a forward (`[Forwarded from Name]`) and a
reply (`[In reply to Name]`), a bracketed line for media (`[ Photo ]`), then
the text; messages are separated by a blank line. So a header is such a line
at the start or after a blank line, and every header begins a post.

Telegram Desktop writes this text from the messages themselves, so it holds
no client chrome: every line that is not a header is the message's own.

Times are local with no zone: they are read in `--tz` (UTC unless told) and
the user is told once. Dates come in the short formats of common locales:
25/06/2022, 25.06.2022, 25-06-2022, 2022-06-25, 2022/06/25, 6/25/22 7:25 AM.
A date with slashes whose day and month could be swapped (03/04/2022) is read
in the order another date of the same text settles (25/06/2022); messages
wait for it, a bounded few. When no date settles it, day/month is read, or
month/day with a 12-hour clock (as US English writes), and the user is told.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from feedwatch.errors import ParseError
from feedwatch.models import ForwardedFrom, Media, Post, Source
from feedwatch.parse import Options, read_lines
from feedwatch.parse.dump import MAX_POST_CHARS
from feedwatch.parse.structure import finish
from feedwatch.parse.tg_export import add_note, local_time, without_via

FORMAT = "desktop-paste"
HEADER_RE = re.compile(r"^(?P<name>.+), \[(?P<when>[^\[\]]{6,40})\]\s*$")
_SPACE = r"[ \u00a0\u202f]"
_TIME = (
    rf"(?P<h>\d{{1,2}})[:.](?P<mi>\d{{2}})(?:[:.](?P<s>\d{{2}}))?"
    rf"(?:{_SPACE}?(?P<ampm>[AaPp])\.?{_SPACE}?[Mm]\.?)?"
)
_YEAR_FIRST_RE = re.compile(
    rf"(?P<y>\d{{4}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}})\.?,?{_SPACE}+{_TIME}"
)
_YEAR_LAST_RE = re.compile(
    rf"(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}|\d{{2}}),?{_SPACE}+{_TIME}"
)
# The header lines Telegram Desktop writes for a forward and a reply, in the languages seen most.
_FORWARD_RE = re.compile(r"^\[(?:Forwarded from|Переслано от|Переслано від)\s+(?P<name>.+?)\]\s*$")
_REPLY_RE = re.compile(r"^\[(?:In reply to|В ответ на|У відповідь на)\s+(?P<name>.+?)\]\s*$")
_MEDIA_RE = re.compile(r"^\[ (?P<what>[^\[\]]{1,200}) \]\s*$")
_MEDIA_TYPES = {
    "photo": "photo",
    "video": "video",
    "album": "album",
    "sticker": "sticker",
    "gif": "animation",
    "voice message": "voice",
    "video message": "round_video",
    "file": "document",
    "music": "audio",
    "audio": "audio",
    "location": "location",
    "live location": "location",
    "contact": "contact",
    "poll": "poll",
    "quiz": "poll",
    "game": "game",
}
NO_ZONE_NOTE = "{path}: copied message times carry no time zone; read as {{tz}} (use --tz)"
GUESS_NOTE = "{path}: no date settles whether dates such as 03/04/2022 are day/month or month/day; read as {how}"
# Messages held while their dates could be day/month or month/day, until a date settles the order.
_HELD_MESSAGES = 1000
_HELD_CHARS = 4_000_000


def sniff(head: str) -> bool:
    """True when the first non-blank line is a Telegram Desktop message header with a readable time."""
    first = next((line for line in head.split("\n") if line.strip()), "")
    match = HEADER_RE.match(first)
    return match is not None and _stamp(match.group("when")) is not None


@dataclass(frozen=True)
class _Stamp:
    """A header's time as written; `first` and `second` are the day and month in an order `fixed` or not."""

    year: int
    first: int
    second: int
    fixed: str | None  # "dm" or "md" when the writing itself settles the order
    slashed: bool  # written with slashes and the year last: the one form both orders use
    twelve_hour: bool
    hour: int
    minute: int
    seconds: int

    def time(self, order: str) -> datetime | None:
        """Return the local time, day and month read in `order` unless the writing fixed it."""
        day, month = (self.first, self.second) if (self.fixed or order) == "dm" else (self.second, self.first)
        try:
            return datetime(self.year, month, day, self.hour, self.minute, self.seconds)
        except ValueError:
            return None


def _stamp(text: str) -> _Stamp | None:
    """Return the time of a header as written, or None when it is no time."""
    text = text.strip()
    fixed: str | None = "dm"
    slashed = False
    match = _YEAR_FIRST_RE.fullmatch(text)
    if match:
        year, first, second = int(match["y"]), int(match["d"]), int(match["m"])
    else:
        match = _YEAR_LAST_RE.fullmatch(text)
        if match is None:
            return None
        year = int(match["y"]) + (2000 if len(match["y"]) == 2 else 0)
        first, second = int(match["a"]), int(match["b"])
        slashed = match["sep"] == "/"  # 25.06.2022 and 25-06-2022 are written day first everywhere
        if slashed and first != second:
            fixed = "dm" if first > 12 else "md" if second > 12 else None
    hour = int(match["h"])
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"] in "Pp" else 0)
    stamp = _Stamp(
        year, first, second, fixed, slashed, bool(match["ampm"]), hour, int(match["mi"]), int(match["s"] or 0)
    )
    return stamp if stamp.time("dm") or stamp.time("md") else None


@dataclass
class _Message:
    author: str
    stamp: _Stamp | None
    line: int
    body: list[str] = field(default_factory=list)
    size: int = 0


def parse(stream: BinaryIO, path: str, options: Options) -> Iterator[Post]:
    """Yield one Post per copied message; memory holds one message (a bounded few while dates are ambiguous)."""
    return parse_lines(read_lines(stream, path, options.encoding), path, options)


def parse_lines(lines: Iterable[str], path: str, options: Options | None = None) -> Iterator[Post]:
    """Yield the posts of copied text read line by line."""
    options = options or Options()
    order: str | None = None  # day/month ("dm") or month/day ("md"), once a slashed date settles it
    held: list[_Message] = []
    index = 0
    for message in _messages(lines, path):
        stamp = message.stamp
        if order is None and stamp is not None and stamp.slashed and stamp.fixed:
            order = stamp.fixed
        held.append(message)
        if order is None and (len(held) > 1 or (stamp is not None and stamp.fixed is None)):
            if len(held) < _HELD_MESSAGES and sum(m.size for m in held) < _HELD_CHARS:
                continue
            order = _guess(held, path, options)
        for ready in held:
            yield _post(ready, path, index, options, order or "dm")
            index += 1
        held.clear()
    order = order or (_guess(held, path, options) if held else "dm")
    for ready in held:
        yield _post(ready, path, index, options, order)
        index += 1


def _guess(held: list[_Message], path: str, options: Options) -> str:
    """Return the order to read unsettled dates in, and tell the user."""
    twelve_hour = any(m.stamp is not None and m.stamp.fixed is None and m.stamp.twelve_hour for m in held)
    how = "month/day (a 12-hour clock, as US English writes)" if twelve_hour else "day/month"
    add_note(options, GUESS_NOTE.format(path=path, how=how))
    return "md" if twelve_hour else "dm"


def _messages(lines: Iterable[str], path: str) -> Iterator[_Message]:
    current: _Message | None = None
    blank = True
    for number, line in enumerate(lines, 1):
        header = HEADER_RE.match(line) if blank and line.rstrip().endswith("]") else None
        stamp = _stamp(header.group("when")) if header else None
        if header and stamp is not None:
            if current is not None:
                yield current
            current = _Message(header.group("name"), stamp, number)
        else:
            if current is None:
                current = _Message("", None, number)  # text before the first header: a post of its own
            current.size += len(line)
            if current.size > MAX_POST_CHARS:
                raise ParseError(
                    path,
                    f"the message starting here runs past {MAX_POST_CHARS:,} characters",
                    place=f"line {current.line}",
                    hint="Is this the right file or --format?",
                )
            current.body.append(line)
        blank = not line.strip()
    if current is not None:
        yield current


def _post(message: _Message, path: str, index: int, options: Options, order: str) -> Post:
    body = message.body
    forwarded: ForwardedFrom | None = None
    media: list[Media] = []
    start = 0
    while start < len(body):
        line = body[start]
        forward, reply, shown = _FORWARD_RE.match(line), _REPLY_RE.match(line), _MEDIA_RE.match(line)
        if forward and forwarded is None and not media:
            forwarded = ForwardedFrom(without_via(forward.group("name")))
        elif reply and not media:
            pass  # the replied-to message is named only by its sender; nothing in a Post can hold that
        elif shown and not media:
            media.append(_media(shown.group("what")))
        else:
            break
        start += 1
    when = message.stamp.time(order) if message.stamp else None
    return finish(
        Post(
            kind="post",
            date=local_time(when, options, NO_ZONE_NOTE.format(path=path)) if when else None,
            author=_name(message.author),
            forwarded_from=forwarded,
            text="\n".join(body[start:]),
            media=tuple(media),
            source=Source(FORMAT, path, index),
        )
    )


def _name(shown: str) -> str | None:
    """Return a sender's name without the blanks and lone emoji modifiers around it."""
    return shown.strip(" \t\u00a0\ufe0f\ufe0e\u200d") or None


def _media(what: str) -> Media:
    """Return the Media of a copied message's bracketed media line ("Photo", "File : report.pdf")."""
    kind, _, rest = what.partition(":")
    key = kind.strip().casefold()
    found = next((name for word, name in _MEDIA_TYPES.items() if key == word or key.startswith(word + " ")), None)
    return Media(found or "other", note=rest.strip() or (None if found else what.strip()) or None)
