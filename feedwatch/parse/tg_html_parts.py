"""The parts of one Telegram Desktop HTML export message: text, links, media, poll, reactions.

The exporter writes fixed class names (export_output_html.cpp) and puts every
block's content between newlines; a block's text is its inline content laid
out as a browser shows it (white space collapsed, `<br>` a line break, see
`HtmlText`). Parts are told apart by where they sit and by their classes,
never by their words: the date inside an older export's forward header is a
`details` span beside the source's name, not part of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from feedwatch.models import Link, Media, Poll, PollAnswer, Reaction
from feedwatch.parse.text import HtmlText
from feedwatch.parse.tg_export import placeholder_note, without_via

_HASHTAG_RE = re.compile(r'ShowHashtag\("([^"]*)"\)')
_GOTO_RE = re.compile(r"go_to_message(\d{1,18})|GoToMessage\((\d{1,18})\)")
_COUNT_RE = re.compile(r"(\d[\d,. ]*)")
# div classes inside a message's body, exactly as the exporter writes them.
_BODY_PARTS = {
    "pull_right date details": "date",
    "from_name": "from",
    "forwarded body": "forwarded",
    "reply_to details": "reply",
    "media_wrap clearfix": "media",
    "text": "text",
    "signature details": "signature",
}
_CLASS_TYPES = {
    "media_photo": "photo",
    "media_video": "video",
    "media_file": "document",
    "media_voice_message": "voice",
    "media_audio_file": "audio",
    "media_contact": "contact",
    "media_location": "location",
    "media_live_location": "location",
    "media_venue": "venue",
    "media_game": "game",
    "media_invoice": "invoice",
    "media_call": "call",
    "photo_wrap": "photo",
    "video_file_wrap": "video",
    "animated_wrap": "animation",
    "sticker_wrap": "sticker",
}
# Titles that say more than the class (the exporter shares classes between kinds).
_TITLE_TYPES = {
    "video message": "round_video",
    "sticker": "sticker",
    "animation": "animation",
    "voice message": "voice",
    "audio file": "audio",
}
# Service sentences -> the action names the JSON export uses.
_ACTIONS = (
    (re.compile(r"^Channel «.*» created$"), "create_channel"),
    (re.compile(r" created group «.*»$"), "create_group"),
    (re.compile(r" pinned "), "pin_message"),
    (re.compile(r"(photo|video) changed$|changed group photo"), "edit_group_photo"),
    (re.compile(r"photo removed$|removed group photo"), "delete_group_photo"),
    (re.compile(r"title changed to «|changed group title to «"), "edit_group_title"),
    (re.compile(r"not supported by this version"), "unsupported"),
)


@dataclass
class Content:
    """Inline text being read, with the links, hashtags and message link found in it."""

    out: HtmlText = field(default_factory=HtmlText)
    links: list[Link] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    goto: int | None = None  # the message a service text points at ("pinned this message")

    def text(self) -> str:
        return self.out.value().strip()


@dataclass
class Message:
    """What the body of a default message holds."""

    content: Content = field(default_factory=Content)
    date_title: str | None = None
    sender: str | None = None
    forwarded: bool = False
    forward_name: str | None = None
    signature: str | None = None
    reply_to: int | None = None
    media: list[Media] = field(default_factory=list)
    poll: Poll | None = None
    reactions: list[Reaction] = field(default_factory=list)


def inline(element: etree._Element | None, content: Content, skip: str | None = None, pre: bool = False) -> None:
    """Append the text of `element`'s inline content; children whose class has the token `skip` are left out.

    The exporter writes every line break of a text as `<br>`, so no element
    but `<br>` breaks a line; inside `<pre>` white space is kept as written.
    """
    if element is None:
        return
    out = content.out
    add = out.add_pre if pre else out.parts.append  # raw text is laid out once, when read
    if element.text:
        add(element.text)
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and (skip is None or skip not in (child.get("class") or "").split()):
            if tag == "br":
                out.line_break()
            elif tag == "a":
                _anchor(child, content, pre)
            else:
                inline(child, content, pre=pre or tag == "pre")
        if child.tail:
            add(child.tail)


def block_text(element: etree._Element | None, skip: str | None = None) -> str:
    """Return a block's text as a browser lays it out, without the white space around it."""
    content = Content()
    inline(element, content, skip)
    return content.text()


def _anchor(anchor: etree._Element, content: Content, pre: bool) -> None:
    start = content.out.mark()
    inline(anchor, content, pre=pre)
    text = content.out.since(start).strip()
    href = (anchor.get("href") or "").strip()
    action = anchor.get("onclick") or ""
    goto = _GOTO_RE.search(href) or _GOTO_RE.search(action)
    if goto:
        content.goto = int(goto.group(1) or goto.group(2))
    elif action:
        tag = _HASHTAG_RE.search(action)
        if tag:
            content.tags.append(tag.group(1))
    elif href and not href.startswith(("emoji/", "tel:")) and not _is_mention(text, href):
        content.links.append(Link(text, href))


def _is_mention(text: str, href: str) -> bool:
    return text.startswith("@") and href.rstrip("/").lower().endswith("t.me/" + text[1:].lower())


def read_body(body: etree._Element, found: Message, forwarded: bool = False) -> None:
    """Fill `found` from a message's body (or from the forwarded body inside it)."""
    for child in body:
        if not isinstance(child.tag, str):
            continue
        cls = child.get("class") or ""
        part = _BODY_PARTS.get(cls)
        if part == "date":
            found.date_title = child.get("title")
        elif part == "from":
            # A forward's original date sits in a details span; a sender's or a forward's name may end "via @bot".
            name = without_via(block_text(child, skip="details")) or None
            if forwarded:
                found.forward_name = name
            else:
                found.sender = name
        elif part == "forwarded":
            found.forwarded = True
            read_body(child, found, forwarded=True)
        elif part == "reply":
            match = _GOTO_RE.search(" ".join(a.get("href") or "" for a in child.iter("a")))
            found.reply_to = int(match.group(1) or match.group(2)) if match else None
        elif part == "media":
            _media(child, found)
        elif part == "text":
            found.content.out.block_edge()
            inline(child, found.content)
        elif part == "signature":
            found.signature = block_text(child) or None
        elif "reactions" in cls.split():
            found.reactions += reactions(child)


def _media(wrap: etree._Element, found: Message) -> None:
    for child in wrap:
        if not isinstance(child.tag, str):
            continue
        classes = (child.get("class") or "").split()
        if "media_poll" in classes:
            found.poll = poll(child)
            found.media.append(Media("poll"))
            continue
        kind = next((_CLASS_TYPES[c] for c in classes if c in _CLASS_TYPES), "other")
        title, note = "", None
        for part in child.iter("div"):
            part_class = part.get("class") or ""
            if part_class.startswith("title"):
                title = block_text(part).casefold()
            elif part_class == "description":
                note = placeholder_note(block_text(part))
        href = child.get("href") if child.tag == "a" else None
        found.media.append(Media(_TITLE_TYPES.get(title, kind), note, href or None))


def poll(element: etree._Element) -> Poll:
    """Return the poll of a `div.media_poll` (question, answers with votes, total, closed)."""
    question, details, total = "", "", None
    answers: list[PollAnswer] = []
    for child in element:
        classes = (child.get("class") or "").split() if isinstance(child.tag, str) else []
        if "question" in classes:
            question = block_text(child)
        elif "answer" in classes:
            text = block_text(child, skip="details")
            votes = child.find("span[@class='details']")
            answers.append(PollAnswer(text[2:] if text.startswith("- ") else text, _count(votes)))
        elif "total" in classes:
            total = _count(child)
        elif classes == ["details"]:
            details = block_text(child)
    return Poll(question, tuple(answers), closed="final results" in details.casefold(), total_voters=total)


def _count(element: etree._Element | None) -> int | None:
    match = _COUNT_RE.search(block_text(element)) if element is not None else None
    digits = re.sub(r"\D", "", match.group(1)) if match else ""
    return int(digits) if digits else None


def reactions(element: etree._Element) -> list[Reaction]:
    """Return the reactions of a `span.reactions`."""
    found = []
    for reaction in element.iter("span"):
        classes = (reaction.get("class") or "").split()
        if "reaction" not in classes:
            continue
        emoji = "paid" if "paid" in classes else ""
        count: int | None = None
        for part in reaction:
            part_class = part.get("class") if isinstance(part.tag, str) else None
            if part_class == "emoji" and not emoji:
                emoji = block_text(part)
            elif part_class == "count":
                count = _count(part)
            elif part_class == "userpics" and count is None:
                count = len(part)
        found.append(Reaction(emoji or "custom:unknown", count or 0))
    return found


def service_action(text: str) -> str:
    """Return the action name (as in the JSON export) of a service message's sentence."""
    return next((action for pattern, action in _ACTIONS if pattern.search(text)), "other")
