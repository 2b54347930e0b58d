"""Reading t.me/s markup with lxml: class queries, rendered text with its entities, counts.

The t.me/s parser (`tme_html`) builds on these. Text is rendered the way a
reader sees it: white space collapsed as a browser does (`HtmlText`), `<br>` a
line break, emoji markup its glyph, and the
anchors Telegram made from the post's entities are collected as hashtags,
mentions and links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lxml import etree

from feedwatch.models import Link
from feedwatch.parse.text import HtmlText

Element = Any  # lxml.etree._Element; lxml ships no type information


def classes(el: Element | None) -> list[str]:
    return (el.get("class") or "").split() if el is not None else []


def find(el: Element | None, token: str) -> Element | None:
    """Return the first element at or under `el` whose class holds `token` (small subtrees)."""
    if el is None:
        return None
    for node in el.iter(etree.Element):
        cls = node.get("class")
        if cls and token in cls and token in cls.split():
            return node
    return None


def find_all(el: Element, token: str) -> list[Element]:
    return [node for node in el.iter(etree.Element) if token in (node.get("class") or "").split()]


@dataclass
class Entities:
    """What a post's anchors carry beyond their text."""

    hashtags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    def anchor(self, text: str, href: str | None) -> None:
        shown = text.strip()
        if not href or not shown:
            return
        if href.startswith(("?q=%23", "?q=#")):
            self.hashtags.append(shown.lstrip("#") or unquote(href[3:]).lstrip("#"))
        elif href.startswith("?q="):
            pass  # another search of the channel (a $cashtag): its words are in the text, it is no link
        elif shown.startswith("@") and _T_ME.match(href):
            self.mentions.append(shown[1:])
        else:
            self.links.append(Link(shown, href))


_T_ME = re.compile(r"https?://(?:www\.)?(?:t\.me|telegram\.me)/", re.IGNORECASE)
_BLOCKS = {"blockquote", "pre", "div", "p"}
_SKIP = {"script", "style", "template"}
_PLAIN = {"b", "span"}  # tags that _render_into reads as their bare text when they hold no element
_EMOJI_PNG = re.compile(r"/([0-9A-Fa-f]{2,64})\.png")


def render(el: Element | None, entities: Entities | None = None) -> str:
    """Return the text a reader sees in `el`; anchors go into `entities` when given."""
    if el is None:
        return ""
    out = HtmlText()
    size = len(el)
    if entities is None and size < 2:
        # The usual short part (a count, a name, an emoji's <b>glyph</b>): its text, as _render_into would add it.
        text = el.text or ""
        if size:
            child = el[0]
            if child.tag not in _PLAIN or len(child):
                _render_into(el, out, entities, pre=False)
                return out.value()
            text += (child.text or "") + (child.tail or "")
        out.parts.append(text)
        return out.value()
    _render_into(el, out, entities, pre=False)
    return out.value()


def _render_into(el: Element, out: HtmlText, entities: Entities | None, pre: bool) -> None:
    # libxml2 caps nesting at 256 levels, so this recursion stays shallow.
    add = out.add_pre if pre else out.parts.append  # raw text is laid out once, when read
    text = el.text
    if text:
        add(text)
    # The tags a post's text holds most come first; none of them is in _SKIP or _BLOCKS.
    for child in el:
        tag = child.tag
        if tag == "br":
            out.line_break()
        elif tag == "tg-emoji" or tag == "b":
            _render_into(child, out, entities, pre)
        elif tag == "i" and "emoji" in (child.get("class") or "").split():
            out.add(_emoji(child))
        elif tag == "a" and entities is not None:
            start = out.mark()
            _render_into(child, out, None, pre)
            entities.anchor(out.since(start), child.get("href"))
        elif not isinstance(tag, str) or tag in _SKIP:
            pass  # comments, processing instructions, scripts
        elif tag in _BLOCKS:
            out.block_edge()
            _render_into(child, out, entities, pre or tag == "pre")
            out.block_edge()
        else:
            _render_into(child, out, entities, pre)
        tail = child.tail
        if tail:
            add(tail)


def _emoji(el: Element) -> str:
    """The glyph of an emoji image: its <b> text, or else the UTF-8 hex of its PNG name."""
    if len(el) == 1 and not len(child := el[0]) and isinstance(child.tag, str):
        glyph = (el.text or "") + (child.text or "") + (child.tail or "")  # the usual <b>glyph</b>, as itertext()
    else:
        glyph = "".join(el.itertext())
    if glyph.strip():
        return glyph
    match = _EMOJI_PNG.search(el.get("style") or "")
    if match and len(match.group(1)) % 2 == 0:
        try:
            return bytes.fromhex(match.group(1)).decode("utf-8")
        except ValueError:
            return ""
    return ""


_COUNT = re.compile(r"^(\d+(?:[.,]\d+)?)\s*([KMB]?)$", re.IGNORECASE)
_SCALE = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}


def count(shown: str | None) -> tuple[int | None, bool]:
    """Return a count as shown ("2.19M" -> 2190000) and whether it was abbreviated."""
    if not shown:
        return None, False
    if shown.isascii() and shown.isdigit():
        return int(shown), False  # most counts: "482"
    compact = shown.strip().replace("\u00a0", "").replace(" ", "")
    match = _COUNT.match(compact)
    if not match:
        return None, False
    number, suffix = match.group(1), match.group(2).lower()
    if not suffix:
        number = number.replace(",", "").replace(".", "")
    whole, _, fraction = number.replace(",", ".").partition(".")
    # Exact, as a decimal would be, and cut toward zero: 4.35K is 4350, 2.19M is 2190000, 1.2345K is 1234.
    return int(whole + fraction) * _SCALE[suffix] // 10 ** len(fraction), bool(suffix)


_STYLE_URL = re.compile(r"url\(['\"]?([^'\")]+)['\"]?\)")


def style_url(el: Element | None) -> str | None:
    """Return the background-image URL of an element's inline style, or None."""
    if el is None:
        return None
    match = _STYLE_URL.search(el.get("style") or "")
    return match.group(1) if match else None


_POST_LINK = re.compile(
    r"^https?://(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?(?:(?P<c>c)/(?P<cid>\d+)|(?P<name>[A-Za-z0-9_]{1,64}))"
    r"(?:/(?P<id>\d+))?/?(?:[?#].*)?$",
    re.IGNORECASE,
)


def post_link(href: str | None) -> tuple[str | None, int | None, int | None]:
    """Return (username, bare channel id, message id) of a t.me link; None where absent."""
    match = _POST_LINK.match(href or "")
    if not match:
        return None, None, None
    message_id = int(match.group("id")) if match.group("id") else None
    if match.group("c"):
        return None, int(match.group("cid")), message_id
    return match.group("name"), None, message_id
