"""Official statements kept as text: a date line, a title, the speaker, then paragraphs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

from feedwatch.errors import ParseError
from feedwatch.models import Post, Source
from feedwatch.parse.dates import date_line
from feedwatch.parse.structure import finish

FORMAT = "statement"
_SPEAKER_MAX = 80
_SENTENCE_END = re.compile(r"[.!?:;]$")


def sniff(head: str) -> bool:
    """True when the first non-blank line is nothing but a date."""
    first = next((line for line in head.split("\n") if line.strip()), "")
    return date_line(first) is not None


def _blocks(text: str) -> list[str]:
    """Paragraphs: runs of non-blank lines, each joined by a newline."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def _is_speaker(block: str) -> bool:
    return "\n" not in block and len(block) <= _SPEAKER_MAX and not _SENTENCE_END.search(block)


def parse_text(text: str, path: str) -> Iterator[Post]:
    """Yield the one statement of `text`; raise ParseError when it has no date line first."""
    blocks = _blocks(text)
    when = date_line(blocks[0]) if blocks else None
    if when is None:
        raise ParseError(path, "a statement must start with a date line such as '14 May 2021'", place="line 1")
    rest = blocks[1:]
    if not rest:
        raise ParseError(path, "the statement has a date but no title or text", place="line 1")
    title = rest[0].replace("\n", " ")
    author = rest[1] if len(rest) > 2 and _is_speaker(rest[1]) else None
    yield finish(
        Post(
            kind="statement",
            date=datetime(when.year, when.month, when.day, tzinfo=UTC),
            author=author,
            title=title,
            text="\n\n".join(rest),
            source=Source(FORMAT, path, 0),
            approximate=("date",),
        )
    )
