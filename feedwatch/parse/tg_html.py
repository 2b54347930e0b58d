"""Telegram Desktop HTML exports: a folder of messages.html, messages2.html, ...

The files are read in pagination order and fed to lxml's pull parser in
chunks; each message is turned into a Post as soon as its element closes and
is then dropped, so memory holds a chunk and a message. A "joined" message
(the exporter's way of saying "same sender as before") inherits the sender and
the forward source of the message before it, across file boundaries too. Date
dividers (negative ids) are not posts; service messages ("Channel created",
"X pinned this message") become posts of kind "service".
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from feedwatch.errors import ParseError
from feedwatch.models import ForwardedFrom, Post, Source
from feedwatch.parse import SNIFF_BYTES, Options
from feedwatch.parse import tg_html_parts as parts
from feedwatch.parse.structure import finish
from feedwatch.parse.tg_export import local_time, post_url

FORMAT = "tg-html"
_CHUNK = 1024 * 1024
_FILE_RE = re.compile(r"messages(\d*)\.html", re.IGNORECASE)
_SNIFF_RE = re.compile(r"<title>Exported Data</title>|<div class=\"message (?:default|service)")
_ID_RE = re.compile(r"message(-?\d{1,18})")
_DATE_RE = re.compile(
    r"(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: UTC(?:([+-])(\d{1,2}):?(\d{2}))?)?\s*$"
)
NO_ZONE_NOTE = "{path}: date titles carry no time zone; read as {{tz}} (use --tz)"


def sniff(head: str) -> bool:
    """True when the head of a file is HTML that looks like a Telegram Desktop export page.

    It must start with markup: a text that only quotes the markers (this project's README does) is not one.
    """
    return head.lstrip().startswith("<") and bool(_SNIFF_RE.search(head))


def export_files(folder: Path) -> list[Path]:
    """Return the export's message files in pagination order (messages.html, messages2.html, ...)."""
    found = []
    for entry in folder.iterdir():
        match = _FILE_RE.fullmatch(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1) or 1), entry))
    return [entry for _, entry in sorted(found)]


def sniff_folder(folder: Path) -> bool:
    """True when a folder holds a Telegram Desktop HTML export."""
    files = export_files(folder)
    if not files:
        return False
    with files[0].open("rb") as first:
        return sniff(first.read(SNIFF_BYTES).decode("utf-8", errors="replace"))


@dataclass
class _Chain:
    """What a joined message inherits: the previous message's sender and forward source."""

    channel_title: str | None = None
    sender: str | None = None
    forward: ForwardedFrom | None = None
    last_id: int | None = None


def parse_folder(folder: Path, options: Options) -> Iterator[Post]:
    """Yield the Posts of every message file of an export folder, in pagination order."""
    files = export_files(folder)
    if not files:
        raise ParseError(str(folder), "no messages.html in this folder", hint="Is it a Telegram Desktop export?")
    chain = _Chain()
    for file in files:
        try:
            stream = file.open("rb")
        except OSError as exc:
            raise ParseError(str(file), f"cannot be read ({exc.strerror})") from None
        with stream:
            yield from _parse_file(stream, str(file), options, chain, note_path=str(folder))


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
        raise ParseError(path, "ends early: the file is cut off", place=reader.place(), hint="Give the whole file")
    parser.close()
    yield from reader.events(parser.read_events())
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
                    yield post
            elif "page_header" in classes:
                title = parts.block_text(element.find(".//div[@class='text bold']"))
                self.chain.channel_title = title or self.chain.channel_title
            elif "history" in classes:
                self.seen_history = True

    def _message(self, element: etree._Element, classes: list[str]) -> Post | None:
        match = _ID_RE.fullmatch(element.get("id", ""))
        if match is None:
            raise ParseError(self.path, "a message without a numeric id", place=self.place())
        message_id = int(match.group(1))
        if message_id <= 0:
            return None  # a date divider, not a message
        self.chain.last_id = message_id
        if "service" in classes:
            post = self._service(element, message_id)
        else:
            post = self._default(element, message_id, joined="joined" in classes)
        self.index += 1
        return post

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
        source = Source(FORMAT, self.path, self.index)
        url = post_url(None, message_id)
        return finish(Post(message_id=message_id, url=url, source=source, channel_title=self.chain.channel_title,
                           **fields))

    def _date(self, title: str | None) -> datetime | None:
        match = _DATE_RE.search(title or "")
        if match is None:
            return None
        day, month, year, hour, minute, second, sign, zh, zm = match.groups()
        try:
            written = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
            if title and "UTC" in title:
                offset = timedelta(hours=int(zh or 0), minutes=int(zm or 0)) * (-1 if sign == "-" else 1)
                return written.replace(tzinfo=timezone(offset)).astimezone(UTC)
            return local_time(written, self.options, NO_ZONE_NOTE.format(path=self.note_path))
        except (ValueError, OverflowError):
            raise ParseError(self.path, f"a date title that is not a date ({title!r})", place=self.place()) from None


def _drop(element: etree._Element) -> None:
    """Free a handled message and what came before it, so memory stays flat."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]

