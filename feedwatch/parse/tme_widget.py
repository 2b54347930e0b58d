"""One t.me/s message widget, read in one walk: its parts and what each of them says.

`walk()` visits a widget's elements once and sorts them by the role their
class gives them (text, media, reply, link preview, forward, poll, reactions,
footer parts); the reply block, link preview, media players and the hidden
fallback are not descended into, so their words never reach the post's text.
The other functions here turn one part into the Post field it feeds.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from feedwatch.models import ForwardedFrom, Link, Media, Poll, PollAnswer, Reaction
from feedwatch.parse.tme_markup import Element, classes, count, find, find_all, post_link, render, style_url

_MEDIA_KINDS = {
    "tgme_widget_message_photo_wrap": "photo",
    "tgme_widget_message_video_player": "video",
    "tgme_widget_message_roundvideo_player": "round_video",
    "tgme_widget_message_sticker": "sticker",
    "tgme_widget_message_tgsticker": "sticker",
    "tgme_widget_message_videosticker": "sticker",
    "tgme_widget_message_document_wrap": "document",
    "tgme_widget_message_voice_player": "voice",
    "tgme_widget_message_voice": "voice",  # the <audio> itself, where no player wraps it
    "tgme_widget_message_location_wrap": "location",
}
# What each class token inside a widget is to the parser. "skip" subtrees are
# never read: the hidden fallback, the avatar, the bubble tail's SVG.
_ROLES = {
    **{token: "media" for token in _MEDIA_KINDS},
    "tgme_widget_message_text": "text",
    "tgme_widget_message_reply": "reply",
    "tgme_widget_message_link_preview": "preview",
    "tgme_widget_message_forwarded_from": "forward",
    "tgme_widget_message_poll": "poll",
    "tgme_reaction": "reaction",
    "tgme_widget_message_date": "date",
    "tgme_widget_message_views": "views",
    "tgme_widget_message_meta": "meta",
    "tgme_widget_message_from_author": "author",
    "tgme_widget_message_voters": "voters",
    "tgme_widget_message_owner_name": "owner",
    "media_not_supported_cont": "skip",
    "tgme_widget_message_user": "skip",
    "tgme_widget_message_bubble_tail": "skip",
}
# Roles whose subtree is read by their own handler, not by the widget pass.
_CLOSED = {"media", "reply", "preview", "forward", "poll", "reaction", "skip"}
_SINGLE = re.compile(r"/(\d+)\?single")


@dataclass
class Parts:
    """The elements of one widget, by role, found in one walk over it."""

    text: Element | None = None
    media: list[Element] = field(default_factory=list)
    reactions: list[Element] = field(default_factory=list)
    one: dict[str, Element] = field(default_factory=dict)  # the first element of every other role


def _role(cls: str) -> str | None:
    """Return the role of an element by its class attribute ("text_reply" for a reply's text div); cached."""
    role = _ROLE_OF.get(cls, "")
    if role == "":
        tokens = cls.split()
        role = next((_ROLES[t] for t in tokens if t in _ROLES), None)
        if role == "text" and "js-message_reply_text" in tokens:
            role = "text_reply"
        if len(_ROLE_OF) < 4096:  # pages repeat a few dozen class attributes
            _ROLE_OF[cls] = role
    return role


_ROLE_OF: dict[str, str | None] = {}


def walk(widget: Element) -> Parts:
    parts = Parts()
    walker = etree.iterwalk(widget, events=("start",))
    next(walker)  # the widget itself
    roles = _ROLE_OF
    for _, el in walker:
        cls = el.get("class")
        if not cls:
            continue
        role = roles.get(cls, "")
        if role == "":
            role = _role(cls)
        if role is None:
            continue
        if role == "text":
            # The innermost text div: an album doubles it, a stray reply text is not the post's.
            if parts.text is None or parts.text in el.iterancestors():
                parts.text = el
        elif role == "media":
            parts.media.append(el)
        elif role == "reaction":
            parts.reactions.append(el)
        elif role != "text_reply":
            parts.one.setdefault(role, el)
        if role in _CLOSED:
            walker.skip_subtree()
    return parts


def widget_id(widget: Element, date_link: Element | None) -> tuple[str | None, int | None]:
    channel, _, number = (widget.get("data-post") or "").strip().rpartition("/")
    if channel and number.isdigit():
        return channel, int(number)
    name, _, message_id = post_link(date_link.get("href") if date_link is not None else None)
    return name, message_id


def date_of(el: Element) -> datetime | None:
    for time in el.iter("time"):
        stamp = time.get("datetime")
        if stamp:
            break
    else:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or one that leaves the calendar in UTC
        return None


def text_of(el: Element | None) -> str | None:
    return render(el).strip() or None if el is not None else None


def reply_to(reply: Element | None) -> int | None:
    return post_link(reply.get("href"))[2] if reply is not None else None


def edited(meta: Element | None) -> bool | None:
    if meta is None:
        return None
    own = " ".join([meta.text or ""] + [child.tail or "" for child in meta])
    return "edited" in own and bool(_EDITED.search(own))


_EDITED = re.compile(r"\bedited\b")


def forwarded(block: Element | None) -> ForwardedFrom | None:
    if block is None:
        return None
    name_el = find(block, "tgme_widget_message_forwarded_from_name")
    name = text_of(name_el)
    if name is None:
        name = re.sub(r"^\s*Forwarded from\s*", "", render(block)).strip() or None
    href = name_el.get("href") if name_el is not None else None
    channel, channel_id, message_id = post_link(href)
    return ForwardedFrom(
        name=name,
        channel=channel,
        message_id=message_id,
        url=href or None,
        author=text_of(find(block, "tgme_widget_message_forwarded_from_author")),
        channel_id=channel_id,
    )


def media(elements: list[Element]) -> tuple[list[Media], tuple[int, ...]]:
    media: list[Media] = []
    album: list[int] = []
    for el in elements:
        kind = next((_MEDIA_KINDS[c] for c in classes(el) if c in _MEDIA_KINDS), "document")
        media.append(_one_media(el, kind))
        single = _SINGLE.search(el.get("href") or "")
        if single and int(single.group(1)) not in album:
            album.append(int(single.group(1)))
    return media, tuple(album)


def _one_media(el: Element, kind: str) -> Media:
    if kind in ("video", "round_video", "voice"):
        player = next((p for p in el.iter("video", "audio") if p.get("src")), None)
        if player is None:
            label = text_of(find(el, "message_media_not_supported_label")) or ""
            return Media(kind, note="too big" if label.casefold() == "media is too big" else label or None)
        if kind == "video" and player.get("loop") is not None and next(el.iter("time"), None) is None:
            kind = "animation"  # a GIF-like clip: looping, without a duration
        return Media(kind, url=player.get("src"))
    if kind == "photo":
        return Media("photo", url=style_url(el) or style_url(find(el, "tgme_widget_message_photo")))
    if kind == "sticker":
        video = next((v for v in el.iter("video") if v.get("src")), None)
        return Media("sticker", url=el.get("data-webp") or (video.get("src") if video is not None else None))
    if kind == "document":
        if "audio" in classes(find(el, "tgme_widget_message_document_icon")):
            kind = "audio"
        title = text_of(find(el, "tgme_widget_message_document_title"))
        extra = text_of(find(el, "tgme_widget_message_document_extra"))
        return Media(kind, note=" — ".join(p for p in (title, extra) if p) or None, url=el.get("href"))
    return Media(kind, url=el.get("href"))


def link_preview(preview: Element | None, links: list[Link]) -> list[Media]:
    if preview is None:
        return []
    site, title, about = (text_of(find(preview, f"link_preview_{n}")) for n in ("site_name", "title", "description"))
    url = preview.get("href")
    if url and all(link.url != url for link in links):
        links.append(Link(title or site or url, url))
    return [Media("link_preview", note="\n".join(p for p in (site, title, about) if p) or None, url=url)]


def poll(block: Element | None, voters: Element | None) -> tuple[Poll | None, str | None]:
    """Return the poll of a widget and its type as shown ("Anonymous Quiz"), or (None, None)."""
    if block is None:
        return None, None
    answers = []
    for option in find_all(block, "tgme_widget_message_poll_option"):
        text = text_of(find(option, "tgme_widget_message_poll_option_text")) or ""
        shown = text_of(find(option, "tgme_widget_message_poll_option_percent")) or ""
        percent = re.match(r"^(\d+(?:\.\d+)?)\s*%$", shown)
        answers.append(PollAnswer(text, percent=float(percent.group(1)) if percent else None))
    question = text_of(find(block, "tgme_widget_message_poll_question")) or ""
    total, _ = count(text_of(voters))
    return Poll(question, tuple(answers), total_voters=total), text_of(find(block, "tgme_widget_message_poll_type"))


def reactions(spans: list[Element]) -> tuple[tuple[Reaction, ...], bool]:
    found: list[Reaction] = []
    abbreviated = False
    for span in spans:
        size = len(span)
        first = span[0] if size else None
        last = first if size == 1 else span[-1] if size else None
        number, short = count((last.tail if last is not None else span.text) or "")
        if number is None:
            continue
        abbreviated |= short
        found.append(Reaction(_reaction_emoji(span, first), number))
    return tuple(found), abbreviated


def _reaction_emoji(span: Element, first: Element | None) -> str:
    """The emoji of a reaction `span` whose first child is `first`."""
    cls = span.get("class") or ""
    if "tgme_reaction_paid" in cls and "tgme_reaction_paid" in cls.split():
        return "paid"
    if first is not None and first.tag == "tg-emoji" and span.tag != "tg-emoji":
        emoji_id = first.get("emoji-id")
        if emoji_id:
            return f"custom:{emoji_id}"  # the usual markup: the first tg-emoji met is the first child
    custom = next((e for e in span.iter("tg-emoji") if e.get("emoji-id")), None)
    if custom is not None:
        return f"custom:{custom.get('emoji-id')}"
    if first is not None and "emoji" in classes(first) and "emoji" not in cls.split():
        glyph = first  # the usual markup again: the first element with the class is the first child
    else:
        glyph = find(span, "emoji")
    return render(glyph if glyph is not None else span).strip(" 0123456789.,KMB") or "?"


# The usual `data-view` JSON, read without the JSON decoder: its "c" is the same integer json.loads gives.
_NUMBER = rb"-?(?:0|[1-9][0-9]*)"
_VIEW = re.compile(rb'\{"c":(%s),"p":%s,"t":%s,"h":"[0-9a-f]*"\}' % (_NUMBER, _NUMBER, _NUMBER))


def channel_id(data_view: str | None) -> int | None:
    """The bare channel id from `data-view` (base64url JSON whose "c" is the negated id)."""
    if not data_view:
        return None
    try:
        raw = base64.urlsafe_b64decode(data_view + "=" * (-len(data_view) % 4))
        usual = _VIEW.fullmatch(raw)
        marked = int(usual.group(1) if usual else json.loads(raw)["c"])
    except (binascii.Error, ValueError, TypeError, KeyError, OverflowError):
        return None
    bare = -marked if marked < 0 else marked
    return bare - 1_000_000_000_000 if bare > 1_000_000_000_000 else bare
