"""Post JSON Lines: what `feedwatch parse` and `export` write, and what other tools convert to it.

A line is any JSON object with some of the Post's keys (at least `text` with
`channel`, `message_id`, `date` or `kind` for detection); absent keys take their
defaults. A line without the derived keys (fingerprint, hashtags, mentions,
links) goes through the structure pass like every other format's posts, which
computes them; a line with all of them (as `parse` and `export` write it, after
that same pass) keeps them, but its fingerprint, the identity of a post without
an id, is always recomputed from the text, never trusted. A line that is not a
post is reported with its number (`Options.problems`) and the others are read.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import msgspec

from feedwatch.errors import ParseError
from feedwatch.models import Post, Source, post_from_line
from feedwatch.parse import Options, read_lines
from feedwatch.parse.structure import finish
from feedwatch.parse.text import fingerprint

FORMAT = "jsonl"
CORE_KEYS = ("channel", "message_id", "date", "kind")  # `text` and one of these make a line a post
MAX_REPORTED = 20  # bad lines named one by one; past that, counted
_POST_KEYS = frozenset(f.name for f in dataclasses.fields(Post))
_FIRST_KEY = re.compile(r'\{\s*"(\w+)"\s*:')
_KEY = re.compile(r'"(\w+)"\s*:')
# A key's quotes cannot occur unescaped inside a string: finding these, the line has the keys.
_DERIVED = ('"fingerprint":', '"hashtags":', '"mentions":', '"links":')


def sniff(head: str) -> bool:
    """True when the first non-blank line is a JSON object with the Post's core keys (or, as before, kind and
    fingerprint)."""
    first = next((line for line in head.split("\n") if line.strip()), "").strip()
    if not first.startswith("{"):
        return False
    try:
        obj = msgspec.json.decode(first)
    except msgspec.DecodeError:  # a first line longer than the sniff window: judge by the keys it starts with
        start = _FIRST_KEY.match(first)
        return start is not None and start.group(1) in _POST_KEYS and _has_core_keys(set(_KEY.findall(first)))
    return isinstance(obj, dict) and _has_core_keys(obj.keys())


def _has_core_keys(keys: Iterable[str]) -> bool:
    found = set(keys)
    return ("text" in found and any(key in found for key in CORE_KEYS)) or {"kind", "fingerprint"} <= found


def parse(stream: BinaryIO, path: str, options: Options) -> Iterator[Post]:
    """Yield the Post of each non-blank line; bad lines go to `options.problems` at the end, by number.

    An input whose first MAX_REPORTED lines are all bad is not JSON Lines of
    posts at all (a wrong --format, say): one ParseError, not a line for each.
    """
    named: list[ParseError] = []
    skipped = posts = 0
    first = ""
    for number, line in enumerate(read_lines(stream, path, options.encoding), 1):
        if not line.strip():
            continue
        derived = all(key in line for key in _DERIVED)
        try:
            post = post_from_line(line, Source(FORMAT, path, number - 1), fingerprint if derived else None)
        except ValueError as exc:
            skipped += 1
            first = first or f"line {number}: {exc}"
            if skipped <= MAX_REPORTED:
                named.append(ParseError(path, f"not a post ({exc}); line skipped", place=f"line {number}"))
            if skipped == MAX_REPORTED and not posts:
                raise ParseError(
                    path,
                    f"none of the first {MAX_REPORTED} lines is a post ({first})",
                    hint="Is this Post JSON Lines? Try another --format",
                ) from None
            continue
        posts += 1
        yield post if derived else finish(post)
    options.problems.extend(named)
    if skipped > MAX_REPORTED:
        more = skipped - MAX_REPORTED
        options.problems.append(
            ParseError(
                path,
                f"{more:,} more line(s) skipped, {skipped:,} in all",
                hint="Check the lines named above; the others were read",
            )
        )
