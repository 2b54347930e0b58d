"""The one structure pass every format's posts go through.

A format parser fills in what its source carries (ids, dates, entities, media)
and the raw text; `finish()` then derives, the same way for every format: the
headline, the "Key talking points", datelines, hashtags, mentions, links
written out in the text, and the fingerprint. `finish()` is idempotent.

The Telegram client's chrome ("VIEW IN TELEGRAM", "Media is too big") is
left out by where it sits wherever there is markup to tell (the HTML parsers
never read it as text), so words a post itself uses ("Смотреть на карте" as a
link's text) stay. Only text pasted out of a client has nothing but the words:
there (`pasted=True`) whole lines that are chrome are moved out of the text
into links and media.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from feedwatch.models import Link, Media, Post
from feedwatch.parse import text as tx
from feedwatch.parse.dates import datelines

# Whole lines that are the client's user interface, not the post's words.
_CHROME_LINKS = re.compile(
    r"^(read in full|view in telegram|open in telegram|watch on [\w .-]{1,30}|"
    r"читать полностью|смотреть на [\w .-]{1,30})$",
    re.IGNORECASE,
)
_CHROME_MEDIA = {
    "media is too big": Media("video", "too big"),
    "this media is not supported in your browser": Media("video", "not supported in browser"),
}
_CHROME_DROP = {"please open telegram to view this post"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_CHROME_MAX = 50  # no chrome line is longer

_HEADING_RE = re.compile(
    r"^[^\w\n]*(key[ \t]+(talking[ \t]+)?points|main[ \t]+points|"
    r"основные[ \t]+тезисы|ключевые[ \t]+тезисы|главное)[ \t]*:?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# Every heading holds one of these words, lower-cased; the regex is tried only on a text that does. The
# regex, ignoring case, also reads these letters as i, s, в, о, с and т, which lower() leaves as they are.
_HEADING_WORDS = ("points", "тезисы", "главное")
_ODD_CASES_RE = re.compile("[\u0130\u0131\u017f\u1c80-\u1c85]")
_BULLETS = "•·‣▪▫◦●○■□►▶➤➢→-–—*"
_NUMBERED_RE = re.compile(r"^\d{1,2}[.)]\s+")


def finish(post: Post, pasted: bool = False) -> Post:
    """Return `post` with its text cleaned and every derived field filled in; `pasted`: chrome lines moved out."""
    return dataclasses.replace(
        post,
        **_derived(
            post.text, post.title, post.hashtags, post.mentions, post.links, post.media, post.approximate, pasted
        ),
    )


def finished_post(**fields: Any) -> Post:
    """Return the Post of `fields` as `finish(Post(**fields))` would, building one Post instead of two."""
    derived = _derived(
        fields.get("text", ""),
        fields.get("title"),
        fields.get("hashtags", ()),
        fields.get("mentions", ()),
        fields.get("links", ()),
        fields.get("media", ()),
        fields.get("approximate", ()),
        False,
    )
    return Post(**(fields | derived))


def _derived(
    text: str,
    title: str | None,
    hashtags: tuple[str, ...],
    mentions: tuple[str, ...],
    links: tuple[Link, ...],
    media: tuple[Media, ...],
    approximate: tuple[str, ...],
    pasted: bool,
) -> dict[str, Any]:
    """Return the fields `finish()` derives from a post's text and entities."""
    text = _valid_unicode(text)
    if pasted:
        lines, links, media = _strip_chrome(text, links, media)
    else:
        lines = text.split("\n")
    text = _tidy(lines)
    found_links = {link.url for link in links if link.url}
    links += tuple(Link(url, url) for url in tx.urls(text) if url not in found_links)
    tags = tx.hashtags(text + "\n" + " ".join("#" + t for t in hashtags)) if hashtags or "#" in text else ()
    if len(tags) > tx.MAX_HASHTAGS:
        tags = tags[: tx.MAX_HASHTAGS]
        approximate += ("hashtags",) if "hashtags" not in approximate else ()
    return {
        "text": text,
        "title": title if title else headline(text),
        "key_points": key_points(text),
        "datelines": datelines(text),
        "hashtags": tags,
        "approximate": approximate,
        "mentions": tx.unique_ci(tx.mentions(text) + mentions),
        "links": links,
        "media": media,
        "fingerprint": tx.fingerprint(text),
    }


def _valid_unicode(text: str) -> str:
    """Return `text` with lone surrogates (possible in JSON input) replaced by U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _strip_chrome(
    text: str, links: tuple[Link, ...], media: tuple[Media, ...]
) -> tuple[list[str], tuple[Link, ...], tuple[Media, ...]]:
    kept: list[str] = []
    link_texts = {link.text.casefold() for link in links}
    for line in text.split("\n"):
        bare = line.strip()
        if len(bare) > _CHROME_MAX:
            kept.append(line.rstrip())
            continue
        low = bare.casefold()
        if _CHROME_LINKS.match(bare):
            if low not in link_texts:
                links += (Link(bare, None),)
                link_texts.add(low)
        elif low in _CHROME_MEDIA:
            if _CHROME_MEDIA[low] not in media:
                media += (_CHROME_MEDIA[low],)
        elif low not in _CHROME_DROP:
            kept.append(line.rstrip())
    return kept, links, media


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1]):
            out.append(line if line.strip() else "")
    return "\n".join(out).strip()


def is_hashtag_line(line: str) -> bool:
    """True when a line holds nothing but hashtags (after any leading emoji)."""
    if "#" not in line:
        return False
    rest = tx.HASHTAG_RE.sub("", tx.strip_leading_emoji(line))
    return bool(tx.HASHTAG_RE.search(line)) and not rest.strip(" ,;\u00a0")


def headline(text: str) -> str | None:
    """Return the first content line without its leading emoji, or None."""
    for line in text.split("\n"):
        if is_hashtag_line(line):
            continue
        title = tx.strip_leading_emoji(line).strip()
        if title:
            return title
    return None


def _marker_end(line: str) -> int:
    """Return where a point's bullet marker ends in `line`, or 0 when it has none."""
    rest = tx.strip_leading_emoji(line)
    if len(rest) < len(line.lstrip()):
        return len(line) - len(rest)
    stripped = line.lstrip()
    if stripped[:1] in _BULLETS and stripped[1:2] in (" ", "\u00a0", ""):
        return len(line) - len(stripped[1:].lstrip())
    numbered = _NUMBERED_RE.match(stripped)
    if numbered:
        return len(line) - len(stripped) + numbered.end()
    return 0


def key_points(text: str) -> tuple[str, ...]:
    """Return the points listed after a "Key talking points" heading, markers removed."""
    low = text.lower()
    if not any(word in low for word in _HEADING_WORDS) and (text.isascii() or not _ODD_CASES_RE.search(text)):
        return ()
    heading = _HEADING_RE.search(text)
    if heading is None:
        return ()
    section = [ln for ln in text[heading.end() :].split("\n") if ln.strip() and not is_hashtag_line(ln)]
    cuts = [_marker_end(ln) for ln in section]
    bulleted = any(cuts)
    points: list[str] = []
    for line, cut in zip(section, cuts, strict=True):
        if _HEADING_RE.fullmatch(line.strip()):
            break
        body = line[cut:].strip()
        if cut or not bulleted or not points:
            if body:
                points.append(body)
        else:
            points[-1] += "\n" + body
    return tuple(points)
