"""Saved pages of the public web preview `https://t.me/s/<channel>` (FORMATS.md §1).

`parse_page()` reads one page into a `TmePage` (its channel, its posts and the
id to ask for the next older page); the poller and the file parser both use
it. One message widget becomes one Post:

* `data-post` gives the channel and id; the date is `time[datetime]` (UTC).
* Views and reaction counts are taken as shown ("2.19M" -> 2190000); an
  abbreviated one puts "views" / "reactions" in `Post.approximate`.
* An album is one widget: `Post.album` holds the ids of its `?single` links.
* A link preview becomes a `Media("link_preview", note=site, title and
  description on their own lines, url=the previewed page)` and, when no anchor
  in the text already points there, a `Link(title, url)`. Its words are not the
  post's text, nor are the reply preview, the hidden "Please open Telegram to
  view this post" fallback, or the outer copy of an album's doubled text div.
* A service message (`service_message`) is kind "service" with the shown
  sentence ("Channel created") as both its `service` and its text.

A widget from which no id or no date can be read means the markup has
changed: `TmePage.drift` is set, and the file parser raises ParseError naming
the widget rather than passing on posts with holes.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from feedwatch.errors import ParseError
from feedwatch.models import Media, Post, Source
from feedwatch.parse import Options
from feedwatch.parse import text as tx
from feedwatch.parse import tme_widget as w
from feedwatch.parse.structure import finished_post
from feedwatch.parse.tme_markup import Element, Entities, classes, count, render

FORMAT = "tme-html"


@dataclass(frozen=True, slots=True)
class TmePage:
    channel: str | None  # username (from data-post / header / canonical link)
    title: str | None  # channel title from the header
    posts: tuple[Post, ...]  # in page order (ascending ids)
    before: int | None  # id to request as ?before= for the next older page; None when there is none
    has_preview: bool  # False when the page is not a channel preview (e.g. the t.me/<name> landing page)
    drift: bool  # True when message widgets exist but no id or date could be parsed from them


@dataclass(frozen=True, slots=True)
class _Drift:
    """A widget that gave no id or no date."""

    number: int
    line: int | None
    missing: str


_WIDGET_TOKENS = {"tgme_widget_message", "js-widget_message"}
_WRAP_TOKENS = {"tgme_widget_message_wrap", "js-widget_message_wrap"}
_BEFORE = re.compile(r"[?&]before=(\d+)")
_S_PATH = re.compile(r"/s/([A-Za-z0-9_]{1,64})")


def sniff(head: str) -> bool:
    """True when text is an HTML page from t.me (a channel preview, or the landing page)."""
    return head.lstrip().startswith("<") and any(
        marker in head for marker in ("tgme_widget_message", "tgme_channel_info", "tgme_page", "tgme_webpreview")
    )


# A t.me/s page holds at most 20 widgets (~150 KB); anything far larger is not one, and is not read into memory.
MAX_PAGE_BYTES = 64 * 2**20


def parse(stream: BinaryIO, path: str, options: Options) -> Iterator[Post]:
    """Yield the posts of one saved t.me/s page; raise ParseError when it is none, or has drifted."""
    data = stream.read(MAX_PAGE_BYTES + 1)
    if len(data) > MAX_PAGE_BYTES:
        raise ParseError(
            path,
            f"larger than {MAX_PAGE_BYTES:,} bytes, far beyond any t.me/s page (about 150 KB)",
            hint="Is this the right file or --format?",
        )
    page, items = _read(_utf8(data, path, options.encoding), path)
    if not page.has_preview:
        message, hint = _no_preview(tx.decode(data, path, options.encoding))
        raise ParseError(path, message, hint=hint)
    for item in items:
        if isinstance(item, _Drift):
            place = f"widget {item.number}" + (f" (line {item.line})" if item.line else "")
            raise ParseError(
                path,
                f"a message widget without {item.missing}: the t.me/s markup may have changed",
                place=place,
                hint="Check the saved page; if it is complete, the parser needs updating",
            )
        yield item


def _no_preview(html: str) -> tuple[str, str]:
    if "tgme_page_extra" in html or "tgme_action_button" in html:
        return (
            "the t.me landing page of a channel without a public web preview (private, missing or restricted)",
            "Save t.me/s/<channel> instead, or poll it with Telegram API credentials",
        )
    return "not a t.me/s channel page (no channel header and no message widgets)", "Is this the right file?"


def parse_page(html: str, path: str) -> TmePage:
    """Return the channel, posts and paging of one t.me/s page (never raises on bad markup)."""
    return _read(html.encode("utf-8", errors="replace"), path)[0]


def _utf8(data: bytes, path: str, encoding: str | None) -> bytes:
    """Return a file's bytes as `tx.decode` would read them, encoded as UTF-8 again (ParseError where it would).

    UTF-8 input (the usual case) is checked and passed on as it is, rather than decoded and encoded again.
    """
    if encoding is not None:
        return tx.decode(data, path, encoding).encode("utf-8", errors="replace")
    text = data.removeprefix(b"\xef\xbb\xbf")
    if b"\x00" in data[:8192] or not _is_utf8(text):
        # tx.decode raises its one line here: binary data, or the byte that is not UTF-8.
        return tx.decode(data, path).encode("utf-8", errors="replace")
    return text.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in text else text


_CHECK_CHUNK = 64 * 1024


def _is_utf8(data: bytes) -> bool:
    """True when `data` is UTF-8; checked a chunk at a time, so the page is never held as one large str."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), _CHECK_CHUNK):
            decoder.decode(data[start : start + _CHECK_CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _tree(html: bytes) -> Element | None:
    parser = etree.HTMLParser(encoding="utf-8", no_network=True)
    try:
        return etree.fromstring(_without_bubble_tails(html), parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


# Every widget draws its speech bubble's tail with an inline SVG: over a fifth of a page's bytes and a tenth of its
# elements, which the parser never reads (the walk skips them). They are cut out of the bytes before lxml sees
# them, keeping the white space between their tags, so the text and the line numbers around them stay as they
# were. Only an <i> holding nothing but white space and one-line svg, g and path tags (with double-quoted
# attributes), and met where a tag ended and only white space followed, is cut.
_TAIL_OPEN = b'<i class="tgme_widget_message_bubble_tail">'
_TAIL = re.compile(
    rb'<i class="tgme_widget_message_bubble_tail">'
    rb'(?:[ \t\n\r]++|</?(?:svg|g|path)(?:[ \t]++[A-Za-z][\w:-]*+(?:="[^"<>\n\r]*+")?+)*+[ \t]*+/?>)*+'
    rb"</i>"
)
_TAG = re.compile(rb"<[^<>]*+>")
_SPACE = b" \t\n\r\f\v"


def _without_bubble_tails(html: bytes) -> bytes:
    start = html.find(_TAIL_OPEN)
    if start < 0:
        return html
    kept: list[bytes] = []
    done = 0
    spaces: dict[bytes, bytes] = {}  # each tail's markup, checked once, and its white space
    while start >= 0:
        end = html.find(b"</i>", start)
        if end < 0:
            break
        end += len(b"</i>")
        tail = html[start:end]
        space = spaces.get(tail)
        if space is None:
            space = spaces[tail] = _TAG.sub(b"", tail) if _TAIL.fullmatch(tail) else tail
        if space is not tail and html[html.rfind(b">", 0, start) + 1 : start].strip(_SPACE):
            space = tail  # not right after a tag: it may be inside one, where it is no element
        kept += (html[done:start], space)
        done = end
        start = html.find(_TAIL_OPEN, done)
    kept.append(html[done:])
    return b"".join(kept)


@dataclass
class _Document:
    """The parts of a page the parser reads, found in one walk over it."""

    widgets: list[Element] = field(default_factory=list)
    wraps: list[Element] = field(default_factory=list)
    header: Element | None = None
    username: Element | None = None
    more_before: str | None = None


_PAGE_TOKENS = frozenset(
    [
        *_WIDGET_TOKENS,
        *_WRAP_TOKENS,
        "tgme_channel_info_header_title",
        "tgme_channel_info_header_username",
        "tme_messages_more",
    ]
)
_TOKENS_OF: dict[str, frozenset[str]] = {}


def _page_tokens(cls: str) -> frozenset[str]:
    """The tokens of a class attribute that the page walk looks for; split once per class attribute."""
    tokens = _TOKENS_OF.get(cls)
    if tokens is None:
        tokens = _PAGE_TOKENS.intersection(cls.split())
        if len(_TOKENS_OF) < 4096:  # pages repeat a few dozen class attributes
            _TOKENS_OF[cls] = tokens
    return tokens


def _walk_document(root: Element) -> _Document:
    doc = _Document()
    # Pages pasted one after another parse into several top-level <html> elements.
    tops = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    for top in tops:
        if not isinstance(top.tag, str):
            continue
        walker = etree.iterwalk(top, events=("start",))
        for _, el in walker:
            tokens = _page_tokens(el.get("class") or "")
            if el.get("data-post") is not None or not _WIDGET_TOKENS.isdisjoint(tokens):
                doc.widgets.append(el)
                walker.skip_subtree()
            elif not tokens:
                continue
            elif not _WRAP_TOKENS.isdisjoint(tokens):
                doc.wraps.append(el)
            elif "tgme_channel_info_header_title" in tokens and doc.header is None:
                doc.header = el
            elif "tgme_channel_info_header_username" in tokens and doc.username is None:
                doc.username = el
            elif "tme_messages_more" in tokens and el.get("data-before") and doc.more_before is None:
                doc.more_before = el.get("data-before")
    # A wrap with no widget inside is a widget whose markup has changed. Usually every wrap is a widget's
    # parent, and the widgets' other ancestors need not be looked at.
    parents = {widget.getparent() for widget in doc.widgets}
    orphans = [wrap for wrap in doc.wraps if wrap not in parents]
    if orphans:
        held = {ancestor for widget in doc.widgets for ancestor in widget.iterancestors()}
        orphans = [wrap for wrap in orphans if wrap not in held]
    if orphans:
        doc.widgets = sorted(doc.widgets + orphans, key=lambda el: el.sourceline or 0)
    return doc


def _read(html: bytes, path: str) -> tuple[TmePage, list[Post | _Drift]]:
    root = _tree(html)
    if root is None:
        return TmePage(None, None, (), None, False, False), []
    doc = _walk_document(root)
    head = root.find("head")
    title = w.text_of(doc.header)
    if title is None and doc.widgets and head is not None:
        title = next(iter(head.xpath("meta[@property='og:title']/@content")), "").strip() or None
    items: list[Post | _Drift] = []
    posts: list[Post] = []
    for number, widget in enumerate(doc.widgets, 1):
        post = _widget_post(widget, path, len(posts), title)
        if isinstance(post, Post):
            posts.append(post)
        items.append(post if isinstance(post, Post) else _Drift(number, widget.sourceline, post))
    page = TmePage(
        channel=_page_channel(doc, head, posts),
        title=title,
        posts=tuple(posts),
        before=_before(doc, head),
        has_preview=doc.header is not None or bool(doc.widgets),
        drift=len(posts) < len(items),
    )
    return page, items


def _head_link(head: Element | None, rel: str) -> str:
    if head is None:
        return ""
    return str(next(iter(head.xpath(f"link[@rel='{rel}']/@href")), ""))


def _page_channel(doc: _Document, head: Element | None, posts: list[Post]) -> str | None:
    user = w.text_of(doc.username) or ""
    if user.startswith("@") and len(user) > 1:
        return user[1:]
    canonical = _S_PATH.search(_head_link(head, "canonical"))
    if canonical:
        return canonical.group(1)
    return next((p.channel for p in posts if p.channel), None)


def _before(doc: _Document, head: Element | None) -> int | None:
    match = _BEFORE.search(_head_link(head, "prev"))
    if match:
        return int(match.group(1))
    more = (doc.more_before or "").strip()
    return int(more) if more.isdigit() else None


def _author(parts: w.Parts, channel_title: str | None) -> str | None:
    """The post's signature; in a public group, where there is none, the member who wrote it."""
    signature = w.text_of(parts.one.get("author"))
    if signature is None and channel_title is not None:
        owner = w.text_of(parts.one.get("owner"))
        return owner if owner != channel_title else None
    return signature


def _widget_post(widget: Element, path: str, index: int, channel_title: str | None) -> Post | str:
    """Return the Post of one message widget, or what could not be read from it."""
    parts = w.walk(widget)
    date_link = parts.one.get("date")
    channel, message_id = w.widget_id(widget, date_link)
    when = w.date_of(date_link if date_link is not None else widget)
    if message_id is None or when is None:
        return "an id" if message_id is None else "a date"
    entities = Entities()
    text = render(parts.text, entities)
    media, album = w.media(parts.media)
    links = list(entities.links)
    media += w.link_preview(parts.one.get("preview"), links)
    poll, poll_kind = w.poll(parts.one.get("poll"), parts.one.get("voters"))
    if poll is not None:
        media.append(Media("poll", note=poll_kind))
    views, approximate_views = count(w.text_of(parts.one.get("views")))
    reactions, approximate_reactions = w.reactions(parts.reactions)
    service = "service_message" in classes(widget)
    return finished_post(
        kind="service" if service else "post",
        channel=channel,
        message_id=message_id,
        url=f"https://t.me/{channel}/{message_id}" if channel else None,
        date=when,
        edited=w.edited(parts.one.get("meta")),
        views=views,
        forwarded_from=w.forwarded(parts.one.get("forward")),
        author=_author(parts, channel_title),
        text=text,
        hashtags=tuple(entities.hashtags),
        mentions=tuple(entities.mentions),
        links=tuple(links),
        media=tuple(media),
        source=Source(FORMAT, path, index),
        channel_id=w.channel_id(widget.get("data-view")),
        channel_title=channel_title,
        reply_to=w.reply_to(parts.one.get("reply")),
        album=album,
        reactions=reactions,
        poll=poll,
        service=text.strip() or None if service else None,
        approximate=("views",) * approximate_views + ("reactions",) * approximate_reactions,
    )
