"""Telegram Desktop HTML exports: a folder of messages.html, messages2.html, ...

An export's pages are known by what they hold, not by their names (a page may
be renamed, index.html, or compressed); they are read in the order of their
messages, and any other file of the folder is named in a note as not read.
Each page is fed to lxml's pull parser in chunks; each message is turned into
a Post as soon as its element closes and is then dropped, so memory holds a
chunk and a message. A "joined" message (the exporter's way of saying "same
sender as before") inherits the sender and the forward source of the message
before it, across file boundaries too. Date dividers (negative ids) are not
posts, but they date the service messages ("Channel created", "X pinned this
message") under them, which carry no time: such a post has the day's start in
the export's zone, and "date" in `Post.approximate`.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from feedwatch.errors import ParseError
from feedwatch.models import ForwardedFrom, Post, Source
from feedwatch.parse import SNIFF_BYTES, Options, input_name, open_input
from feedwatch.parse import tg_html_parts as parts
from feedwatch.parse.dates import MONTHS
from feedwatch.parse.structure import finish
from feedwatch.parse.tg_export import Skipped, add_note, local_time, post_url, tz_name

FORMAT = "tg-html"
_CHUNK = 1024 * 1024
_FILE_RE = re.compile(r"messages(\d*)\.html?", re.IGNORECASE)
_SNIFF_RE = re.compile(r"<title>Exported Data</title>|<div class=\"message (?:default|service)")
_SNIFF_BYTES_RE = re.compile(_SNIFF_RE.pattern.encode())
_ID_RE = re.compile(r"message(-?\d{1,18})")
_FIRST_ID_RE = re.compile(rb'<div class="message [^"]*" id="message(\d{1,18})"')
_DIVIDER_RE = re.compile(r"(\d{1,2}) ([A-Za-z]+) (\d{4})")
_UNREAD_SHOWN = 10  # files named in the note about files not read
_UNDATED_HELD = 1000  # service posts held while no date title has told the zone
_PAGE_HEAD_BYTES = 4096  # a page's <title>Exported Data</title> is within its first few hundred bytes
_DATE_RE = re.compile(
    r"(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: UTC(?:([+-])(\d{1,2}):?(\d{2}))?)?\s*$"
)
NO_ZONE_NOTE = "{path}: date titles carry no time zone; read as {{tz}} (use --tz)"
NO_TIME_NOTE = "{path}: service messages carry no time; dated by the day above them in {tz} (use --tz)"


def sniff(head: str) -> bool:
    """True when the head of a file is HTML that looks like a Telegram Desktop export page.

    It must start with markup: a text that only quotes the markers (this project's README does) is not one.
    """
    return head.lstrip().startswith("<") and bool(_SNIFF_RE.search(head))


def export_pages(folder: Path) -> tuple[list[Path], list[Path]]:
    """Return an export folder's pages in the order of their messages, and the folder's other files.

    A page is a file whose first bytes are an export page, whatever its name
    (also compressed); pages are ordered by their first message id, then by
    the number in their name (messages2.html after messages.html).
    """
    pages: list[tuple[int, int, str, Path]] = []
    others: list[Path] = []
    for entry in _files(folder):
        head = _head(entry, SNIFF_BYTES)
        if head is None or not _SNIFF_BYTES_RE.search(head):
            others.append(entry)
            continue
        first = _FIRST_ID_RE.search(head)
        number = _FILE_RE.fullmatch(input_name(entry.name))
        pages.append(
            (int(first.group(1)) if first else 2**63, int(number.group(1) or 1) if number else 0, entry.name, entry)
        )
    return [page for *_, page in sorted(pages)], others


def export_files(folder: Path) -> list[Path]:
    """Return an export folder's pages in the order of their messages."""
    return export_pages(folder)[0]


def sniff_folder(folder: Path) -> bool:
    """True when a folder holds a Telegram Desktop HTML export (a page's head names it within a few KB)."""
    for entry in _files(folder):
        head = _head(entry, _PAGE_HEAD_BYTES)
        if head is not None and _SNIFF_BYTES_RE.search(head):
            return True
    return False


def _files(folder: Path) -> list[Path]:
    return [e for e in sorted(folder.iterdir()) if not e.name.startswith(".") and e.is_file()]


def _head(path: Path, size: int) -> bytes | None:
    """Return the first bytes of a file (of the data inside, when compressed), or None when unreadable."""
    try:
        stream = open_input(str(path))
    except ParseError:
        return None
    try:
        return stream.read(size)
    except ParseError:
        return None
    finally:
        stream.close()


@dataclass
class _Chain:
    """What a joined message inherits: the previous message's sender and forward source."""

    channel_title: str | None = None
    sender: str | None = None
    forward: ForwardedFrom | None = None
    last_id: int | None = None
    day: date | None = None  # the last date divider's day
    zone: tzinfo | None = None  # the export's zone, once a date title has told it
    undated: list[tuple[Post, date | None]] = field(default_factory=list)  # service posts awaiting the zone


def parse_folder(folder: Path, options: Options) -> Iterator[Post]:
    """Yield the Posts of every message file of an export folder, in pagination order."""
    files, others = export_pages(folder)
    if not files:
        raise ParseError(str(folder), "no export page in this folder", hint="Is it a Telegram Desktop export?")
    if others:
        names = ", ".join(p.name for p in others[:_UNREAD_SHOWN])
        more = f" and {len(others) - _UNREAD_SHOWN} more" if len(others) > _UNREAD_SHOWN else ""
        add_note(
            options, f"{folder}: not read, not pages of the export: {names}{more} (give a file on its own to read it)"
        )
    chain = _Chain()
    for file in files:
        stream = open_input(str(file))
        try:
            yield from _parse_file(stream, str(file), options, chain, note_path=str(folder))
        finally:
            stream.close()


def parse(stream: BinaryIO, path: str, options: Options) -> Iterator[Post]:
    """Yield the Posts of one messages*.html file."""
    return _parse_file(stream, path, options, _Chain(), note_path=path)


def _parse_file(stream: BinaryIO, path: str, options: Options, chain: _Chain, note_path: str) -> Iterator[Post]:
    reader = _Reader(path, options, chain, note_path)
    parser = etree.HTMLPullParser(events=("end",), tag="div")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset, tail = 0, ""
    while True:
        chunk = stream.read(_CHUNK)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            parser.feed(exc.object[: exc.start].decode("utf-8", errors="ignore"))
            yield from reader.events(parser.read_events())  # the messages before the bad byte
            yield from reader.finish()
            where = f"byte 0x{exc.object[exc.start]:02x} at offset {offset + exc.start}"
            raise ParseError(path, f"not UTF-8 ({where})", place=reader.place()) from None
        offset += len(chunk)
        if text:
            parser.feed(text)
            tail = (tail + text)[-64:]
            yield from reader.events(parser.read_events())
        if not chunk:
            break
    if not tail.rstrip().lower().endswith("</html>"):
        yield from reader.finish()
        raise ParseError(path, "ends early: the file is cut off", place=reader.place(), hint="Give the whole file")
    parser.close()
    yield from reader.events(parser.read_events())
    yield from reader.finish()
    if not reader.seen_history:
        raise ParseError(path, "no Telegram Desktop messages in this file", hint="Is it a messages.html?")


class _Reader:
    """Turns the closed <div> elements of one file into Posts."""

    def __init__(self, path: str, options: Options, chain: _Chain, note_path: str):
        self.path = path
        self.options = options
        self.chain = chain
        self.note_path = note_path
        self.index = 0
        self.seen_history = False
        self.skipped = Skipped(path)

    def place(self) -> str:
        last = self.chain.last_id
        return f"after message {last}" if last is not None else "before the first message"

    def events(self, events: Iterable[tuple[str, Any]]) -> Iterator[Post]:
        for _, element in events:
            classes = element.get("class", "").split()
            if classes[:1] == ["message"]:
                post = self._message(element, classes)
                _drop(element)
                if post is not None:
                    if self.chain.undated:
                        yield from self._dated()  # the post's date title has told the zone
                    yield post
                elif len(self.chain.undated) >= _UNDATED_HELD:
                    yield from self._undated_in_fallback_zone()
            elif "page_header" in classes:
                title = parts.block_text(element.find(".//div[@class='text bold']"))
                self.chain.channel_title = title or self.chain.channel_title
            elif "history" in classes:
                self.seen_history = True

    def finish(self) -> Iterator[Post]:
        """Yield the service posts still waiting for the zone, and note the skipped messages."""
        yield from self._undated_in_fallback_zone()
        self.skipped.close(self.options)

    def _undated_in_fallback_zone(self) -> Iterator[Post]:
        """Yield the waiting service posts, in --tz when no date title has told the export's zone."""
        if self.chain.undated and self.chain.zone is None:
            add_note(self.options, NO_TIME_NOTE.format(path=self.note_path, tz=tz_name(self.options.tz)))
            self.chain.zone = self.options.tz
        yield from self._dated()

    def _dated(self) -> Iterator[Post]:
        zone = self.chain.zone
        for post, day in self.chain.undated:
            if day is None or zone is None:
                yield post
            else:
                start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
                yield dataclasses.replace(post, date=start, approximate=(*post.approximate, "date"))
        self.chain.undated.clear()

    def _message(self, element: etree._Element, classes: list[str]) -> Post | None:
        match = _ID_RE.fullmatch(element.get("id", ""))
        if match is None:
            self.skipped.add(self.options, f"the message {self.place()}")
            return None
        message_id = int(match.group(1))
        if message_id <= 0:
            self.chain.day = _divider_day(parts.block_text(element.find("div[@class='body details']")))
            return None
        self.chain.last_id = message_id
        self.index += 1
        if "service" not in classes:
            return self._default(element, message_id, joined="joined" in classes)
        self.chain.undated.append((self._service(element, message_id), self.chain.day))
        return None

    def _service(self, element: etree._Element, message_id: int) -> Post:
        body = element.find("div[@class='body details']")
        content = parts.Content()
        parts.inline(body, content)
        text = content.text()
        return self._post(
            kind="service",
            message_id=message_id,
            text=text,
            links=tuple(content.links),
            reply_to=content.goto,
            service=parts.service_action(text),
        )

    def _default(self, element: etree._Element, message_id: int, joined: bool) -> Post:
        body = element.find("div[@class='body']")
        found = parts.Message()
        if body is not None:
            parts.read_body(body, found)
        sender = found.sender if not joined or found.sender else self.chain.sender
        forward = None
        if found.forwarded:
            forward = ForwardedFrom(found.forward_name) if found.forward_name else None
            if forward is None:
                forward = self.chain.forward if joined and self.chain.forward else ForwardedFrom(None)
        self.chain.sender, self.chain.forward = sender, forward
        signature = found.signature
        title = self.chain.channel_title
        return self._post(
            kind="post",
            message_id=message_id,
            date=self._date(found.date_title),
            forwarded_from=forward,
            author=signature or (sender if sender and sender != title else None),
            text=found.content.text(),
            hashtags=tuple(found.content.tags),
            links=tuple(found.content.links),
            media=tuple(found.media),
            reply_to=found.reply_to,
            reactions=tuple(found.reactions),
            poll=found.poll,
        )

    def _post(self, message_id: int, **fields: Any) -> Post:
        """Return the finished Post of a message, with what every message of the file shares."""
        source = Source(FORMAT, self.path, self.index - 1)
        url = post_url(None, message_id)
        return finish(
            Post(message_id=message_id, url=url, source=source, channel_title=self.chain.channel_title, **fields)
        )

    def _date(self, title: str | None) -> datetime | None:
        match = _DATE_RE.search(title or "")
        if match is None:
            return None
        day, month, year, hour, minute, second, sign, zh, zm = match.groups()
        try:
            written = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
            if title and "UTC" in title:
                offset = timedelta(hours=int(zh or 0), minutes=int(zm or 0)) * (-1 if sign == "-" else 1)
                self.chain.zone = timezone(offset)
                return written.replace(tzinfo=self.chain.zone).astimezone(UTC)
            self.chain.zone = self.options.tz
            return local_time(written, self.options, NO_ZONE_NOTE.format(path=self.note_path))
        except (ValueError, OverflowError):
            raise ParseError(self.path, f"a date title that is not a date ({title!r})", place=self.place()) from None


def _divider_day(text: str) -> date | None:
    """Return the day of a date divider ("7 March 2022", written in English), or None."""
    match = _DIVIDER_RE.fullmatch(text)
    month = MONTHS.get(match.group(2).casefold()) if match else None
    if match is None or month is None:
        return None
    try:
        return date(int(match.group(3)), month, int(match.group(1)))
    except ValueError:
        return None


def _drop(element: etree._Element) -> None:
    """Free a handled message and what came before it, so memory stays flat."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
