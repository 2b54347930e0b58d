"""Text primitives shared by every parser: hashtags, mentions, URLs, emoji, fingerprints."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator


def _mark_ranges() -> str:
    """Character-class ranges of the combining marks (Mn, Mc, Me) in the BMP."""
    ranges: list[str] = []
    start = None
    for cp in range(0x300, 0x10000):
        is_mark = unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me")
        if is_mark and start is None:
            start = cp
        elif not is_mark and start is not None:
            ranges.append(f"\\u{start:04x}-\\u{cp - 1:04x}")
            start = None
    return "".join(ranges)


# Telegram hashtags: letters, digits, underscore (and the marks scripts such as
# Devanagari need, and ZWNJ for Persian); not preceded by a word character, so
# "C#" and "page#anchor" are not tags. A tag made of digits only is not a tag, and a tag starts with a word
# character: a mark right after '#' makes it the base of an emoji ("#️⃣" is the keycap sign), not a tag.
_TAG_CHAR = f"[\\w{_mark_ranges()}\\u200c]"
# The '#' comes first so the regex engine can jump from '#' to '#'.
HASHTAG_RE = re.compile(f"#(?<![\\w#/&]#)(\\w{_TAG_CHAR}*)")
# Both start with what they match, the look-behind after it: the regex engine then jumps from '@' to '@' (from
# h, w or t to the next) instead of trying every position ("(?<![\w@.])@..." and "\b(?:https?://..." match
# the same).
MENTION_RE = re.compile(r"@(?<![\w@.]@)([A-Za-z][A-Za-z0-9_]{3,31})\b")
URL_RE = re.compile(r"(?:h(?<!\wh)ttps?://|w(?<!\ww)ww\.|t(?<!\wt)\.me/)[^\s<>\"'«»]+", re.IGNORECASE)
_URL_TRAIL = ".,;:!?)]}'\""
MAX_TAG_LENGTH = 256
MAX_HASHTAGS = 1000  # per post; more is flooding, and the post says so in Post.approximate
_NOT_ALNUM = re.compile(r"[\W_]+")
_ASCII_NOT_ALNUM = bytes(i for i in range(128) if not chr(i).isalnum())
_NOT_LETTERS_UTF8 = re.compile(
    rb"\xf0\x9f[\x80-\xab][\x80-\xbf]"  # U+1F000-1FAFF: emoji, flags' regional indicators
    rb"|\xf3\xa0[\x80-\x81][\x80-\xbf]"  # U+E0000-E007F: emoji tag characters
    rb"|\xe2[\x80\x81\x98-\x9e\xac-\xaf][\x80-\xbf]"  # general punctuation, symbols, dingbats, arrows
    rb"|\xef\xb8[\x80-\x8f]"  # variation selectors
    rb"|\xc2[\xa0-\xbf]"  # no-break space and Latin-1 punctuation: « » © ° ...
)


def hashtags(text: str, seen: Iterable[str] = ()) -> tuple[str, ...]:
    """Return the hashtags of `text` without '#', first spelling, unique case-insensitively."""
    keys = {tag_key(t) for t in seen}
    found: list[str] = []
    if "#" not in text:
        return ()
    for match in HASHTAG_RE.finditer(text):
        tag = match.group(1)[:MAX_TAG_LENGTH]
        if tag.isdigit() or tag.replace("_", "") == "":
            continue
        key = tag_key(tag)
        if key not in keys:
            keys.add(key)
            found.append(tag)
            if len(found) > MAX_HASHTAGS:
                break
    return tuple(found)


def tag_key(tag: str) -> str:
    """Return the case-insensitive identity of a hashtag (NFKC, case-folded, no '#')."""
    return unicodedata.normalize("NFKC", tag.lstrip("#")).casefold()


def mentions(text: str) -> tuple[str, ...]:
    """Return the @usernames of `text` without '@', unique case-insensitively, in order."""
    if "@" not in text:
        return ()
    return unique_ci(m.group(1) for m in MENTION_RE.finditer(text))


def urls(text: str) -> tuple[str, ...]:
    """Return the URLs written out in `text`, trailing punctuation removed, unique, in order."""
    found: list[str] = []
    if "://" not in text and "." not in text:
        return ()  # no URL can start here ("://", "www." or "t.me/" in any case): skip the scan
    for match in _url_matches(text):
        url = match.group(0).rstrip(_URL_TRAIL)
        if url.count("(") < url.count(")"):
            url = url.rstrip(")")
        found.append(url)
    return tuple(dict.fromkeys(found))


def _url_matches(text: str) -> Iterator[re.Match[str]]:
    """Return what `URL_RE.finditer(text)` does, trying the regex only where a URL can start.

    A URL starts 4 or 5 characters before a "://" ("http", "https"), or at a "www." or a "t.me/", in
    any case: these are found at C speed in the lower-cased text, instead of trying h, t and w all
    through it (lower() changes no character that URL_RE reads as one of these, nor any length but İ's).
    """
    low = text.lower()
    if len(low) != len(text):
        yield from URL_RE.finditer(text)
        return
    starts: set[int] = set()
    for anchor, before in _URL_ANCHORS:
        at = low.find(anchor)
        while at >= 0:
            starts.update(at - back for back in before if at >= back)
            at = low.find(anchor, at + 1)
    end = 0
    for start in sorted(starts):
        if start >= end and (match := URL_RE.match(text, start)):
            yield match
            end = match.end()


_URL_ANCHORS = (("://", (4, 5)), ("www.", (0,)), ("t.me/", (0,)))


def unique_ci(items: Iterable[str]) -> tuple[str, ...]:
    keys: set[str] = set()
    out = []
    for item in items:
        key = item.casefold()
        if key not in keys:
            keys.add(key)
            out.append(item)
    return tuple(out)


def is_emoji_char(ch: str) -> bool:
    """True for pictographs, flags' regional indicators, and emoji joiners/modifiers."""
    if ch in "\u200d\ufe0f\ufe0e\u20e3":
        return True
    cat = unicodedata.category(ch)
    if cat in ("So", "Sk") and ord(ch) > 0x2000:
        return True
    return 0x1F000 <= ord(ch) <= 0x1FAFF or 0xE0020 <= ord(ch) <= 0xE007F


def strip_leading_emoji(line: str) -> str:
    """Return `line` without the emoji (and spaces) it starts with."""
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch.isspace() or is_emoji_char(ch):
            i += 1
        elif ch.isdigit() and i + 1 < n and line[i + 1] in "\ufe0f\u20e3":
            i += 2  # keycap emoji such as 1️⃣
        else:
            break
    return line[i:]


def fingerprint(text: str) -> str:
    """Return a stable hash of `text` that ignores case, spacing, punctuation and emoji."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # At C speed on the UTF-8 bytes first: ASCII punctuation and spaces, then emoji and the common
    # punctuation and symbol blocks; what is left rarely needs the (slower) Unicode regex.
    data = folded.encode("utf-8").translate(None, _ASCII_NOT_ALNUM)
    if not data.isalnum():  # bytes: true only when all ASCII letters and digits, the usual English text's case
        if not data.isascii():
            data = _NOT_LETTERS_UTF8.sub(b"", data)
        letters = data.decode("utf-8")
        if not letters.isalnum():
            letters = _NOT_ALNUM.sub("", letters)
        data = letters.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:32]


def decode(data: bytes, path: str, encoding: str | None = None) -> str:
    """Return `data` as text (UTF-8 with or without BOM unless `encoding` says otherwise).

    Raises ParseError naming the offending byte and suggesting --encoding.
    """
    from feedwatch.errors import ParseError

    enc = encoding or "utf-8-sig"
    if b"\x00" in data[:8192] and not enc.lower().startswith("utf-16"):
        raise ParseError(path, "binary data, not text", hint="Is this the right file?")
    try:
        text = data.decode(enc)
    except LookupError:
        raise ParseError(path, f"unknown encoding {encoding!r}", hint="Try --encoding cp1251") from None
    except UnicodeDecodeError as exc:
        raise ParseError(
            path,
            f"not {enc if encoding else 'UTF-8'} (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint="Try --encoding cp1251" if not encoding else "Try another --encoding",
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# Marks kept among the raw text until it is laid out: a line break, a block's edge, and a
# preformatted space and tab (characters that HTML text cannot hold).
_BREAK, _EDGE, _PRE_SPACE, _PRE_TAB = "\x00", "\x01", "\x02", "\x03"
_EDGES = re.compile("\x01+")
_PRE = str.maketrans({" ": _PRE_SPACE, "\t": _PRE_TAB, "\n": _BREAK, "\r": None})
_UNMARK = str.maketrans({_BREAK: "\n", _PRE_SPACE: " ", _PRE_TAB: "\t"})


class HtmlText:
    """Text laid out as a browser lays out HTML's inline content (CSS `white-space: normal`).

    A run of spaces, tabs and newlines in the markup is one space, also across
    element boundaries; a line break (`<br>`, a block's edge) drops the spaces
    around it. A no-break space is not white space. Text added with `pre=True`
    is kept as written. So a page re-indented by an editor reads the same.

    The raw text is only collected (with marks for breaks) and laid out once,
    by a few regular expressions over the whole, when it is read.
    """

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, text: str, pre: bool = False) -> None:
        self.parts.append(text.translate(_PRE) if pre else text)

    def add_pre(self, text: str) -> None:
        """Add text whose white space is kept as written (`<pre>`)."""
        self.parts.append(text.translate(_PRE))

    def line_break(self) -> None:
        """A `<br>`: always a new line."""
        self.parts.append(_BREAK)

    def block_edge(self) -> None:
        """The edge of a block element: a new line unless one has just begun."""
        self.parts.append(_EDGE)

    def mark(self) -> int:
        """Return a position to read the text added since with `since()`."""
        return len(self.parts)

    def since(self, mark: int) -> str:
        return _layout("".join(self.parts[mark:]))

    def value(self) -> str:
        return _layout("".join(self.parts))


def _layout(raw: str) -> str:
    flat = raw.strip(" \t\n\r\f")
    if not (
        "  " in flat
        or "\n" in flat
        or _BREAK in flat
        or _EDGE in flat
        or "\t" in flat
        or "\r" in flat
        or "\f" in flat
        or _PRE_SPACE in flat
        or _PRE_TAB in flat
    ):
        return flat  # one line, single-spaced already: most names, titles and short texts
    flat = _collapse(flat)
    for mark in (_BREAK, _EDGE):
        if mark in flat:
            flat = flat.replace(" " + mark, mark).replace(mark + " ", mark)
    flat = flat.strip(" ")
    if _EDGE in flat:
        flat = _EDGES.sub(lambda m: "" if m.start() == 0 or flat[m.start() - 1] == _BREAK else _BREAK, flat)
    if _BREAK in flat:
        flat = flat.replace(_BREAK, "\n")
    if _PRE_SPACE in flat or _PRE_TAB in flat:
        flat = flat.translate(_UNMARK)
    return flat


def _collapse(text: str) -> str:
    """Return `text` with every run of HTML white space as one space (C-speed string methods, no regex)."""
    for char in "\n\t\r\f":
        if char in text:
            text = text.replace(char, " ")
    if "  " in text:
        edges = (" " if text[0] == " " else "", " " if text[-1] == " " else "")
        text = edges[0] + " ".join(filter(None, text.split(" "))) + edges[1]
    return text
