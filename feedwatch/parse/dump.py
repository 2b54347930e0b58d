"""Posts pasted from a Telegram client as plain text ("dumps").

A post starts at a line "Forwarded from <name>". The way such text is usually
captured copies the post's body a second time right after it; `drop_repeat`
finds that repeated run of lines and removes it, while a line the post itself
repeats (a closing hashtag, a refrain) stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from feedwatch.errors import ParseError
from feedwatch.models import ForwardedFrom, Post, Source
from feedwatch.parse.structure import finish

FORWARDED_RE = re.compile(r"^\s*Forwarded from\s+(?P<name>\S.*?)\s*$")
FORMAT = "dump"

# A repeated run must carry at least this share of the characters before it,
# so that a short line the post repeats on purpose is never taken for the copy.
_MIN_SHARE = 0.5
_MIN_CHARS = 40
# Telegram posts are at most a few thousand characters; the capture doubles them.
MAX_POST_CHARS = 1_000_000


def sniff(head: str) -> bool:
    """True when text looks like a pasted dump."""
    return any(FORWARDED_RE.match(line) for line in head.split("\n")[:2000])


def parse_text(text: str, path: str) -> Iterator[Post]:
    """Yield the posts of a dump's text (already decoded, LF line ends)."""
    return parse_lines(text.split("\n"), path)


def parse_lines(lines: Iterable[str], path: str) -> Iterator[Post]:
    """Yield the posts of a dump read line by line; memory holds one post at a time."""
    index = 0
    for name, body in _split(lines, path):
        kept = drop_repeat([ln.strip() for ln in body if ln.strip()])
        if not kept and name is None:
            continue
        forwarded = ForwardedFrom(name) if name else None
        yield finish(
            Post(
                kind="post",
                forwarded_from=forwarded,
                text="\n".join(kept),
                source=Source(FORMAT, path, index),
            ),
            pasted=True,
        )
        index += 1


def _split(lines: Iterable[str], path: str) -> Iterator[tuple[str | None, list[str]]]:
    name: str | None = None
    body: list[str] = []
    size = start = 0
    for number, line in enumerate(lines, 1):
        match = FORWARDED_RE.match(line) if "Forwarded from" in line[:64] else None
        if match:
            if name is not None or any(ln.strip() for ln in body):
                yield name, body
            name, body, size, start = match.group("name"), [], 0, number
            continue
        size += len(line)
        if size > MAX_POST_CHARS:
            raise ParseError(
                path,
                f"the post starting here runs past {MAX_POST_CHARS:,} characters",
                place=f"line {start or 1}",
                hint="Telegram posts are far shorter: is this the right file, or a 'Forwarded from' line missing?",
            )
        body.append(line)
    if name is not None or any(ln.strip() for ln in body):
        yield name, body


def drop_repeat(lines: list[str]) -> list[str]:
    """Return `lines` without the longest trailing run that copies an earlier run.

    The copy must be a run of whole lines standing earlier in the post, must
    not overlap it, and must be long enough (see _MIN_SHARE) to be a capture's
    repeat rather than a line repeated on purpose. Linear time (Z-algorithm
    over the reversed lines).
    """
    n = len(lines)
    if n < 2:
        return lines
    ids: dict[str, int] = {}
    rev = [ids.setdefault(line, len(ids)) for line in reversed(lines)]
    z = _z_array(rev)
    best = 0
    for j in range(1, n):
        k = min(z[j], j)  # the earlier run ends n-1-j; the copy must not overlap it
        if k > best:
            best = k
    if best == 0:
        return lines
    copy = lines[n - best :]
    before = lines[: n - best]
    copy_chars = sum(len(line) for line in copy)
    if copy_chars < _MIN_CHARS or copy_chars < _MIN_SHARE * sum(len(line) for line in before):
        return lines
    return before


def _z_array(seq: list[int]) -> list[int]:
    n = len(seq)
    z = [0] * n
    z[0] = n
    left = right = 0
    for i in range(1, n):
        if i < right:
            z[i] = min(right - i, z[i - left])
        while i + z[i] < n and seq[z[i]] == seq[i + z[i]]:
            z[i] += 1
        if i + z[i] > right:
            left, right = i, i + z[i]
    return z
