"""Post JSON Lines, as written by `feedwatch parse` and `feedwatch export` (the round trip)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from feedwatch.errors import ParseError
from feedwatch.models import Post

FORMAT = "jsonl"


def sniff(head: str) -> bool:
    """True when the first non-blank line is a JSON object with the Post keys."""
    first = next((line for line in head.split("\n") if line.strip()), "")
    if not first.lstrip().startswith("{"):
        return False
    try:
        obj = json.loads(first)
    except ValueError:  # a first line longer than the sniff window: the contract writes "kind" first
        return first.lstrip().startswith('{"kind": ') or ('"fingerprint"' in first and '"kind"' in first)
    return isinstance(obj, dict) and "kind" in obj and "fingerprint" in obj


def parse_lines(lines: Iterable[str], path: str) -> Iterator[Post]:
    """Yield the Post of each non-blank line; raise ParseError naming the line."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield Post.from_json(json.loads(line))
        except ValueError as exc:
            raise ParseError(path, f"not a feedwatch post ({exc})", place=f"line {number}") from None
