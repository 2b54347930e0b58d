"""What `feedwatch run` tells a person at a terminal after a cycle: what it read, where it went, what to try next."""

from __future__ import annotations

import shlex
from datetime import datetime

from feedwatch.cli.options import open_store, resolve_db
from feedwatch.digest.model import Digest
from feedwatch.errors import FeedwatchError


def cycle_lines(db_path: str, started: datetime, finished: datetime) -> list[str]:
    """Return a readable account of the cycle that ran from `started`: posts, campaigns, tags, store, next steps."""
    from feedwatch.digest.build import build_digest

    store = open_store(db_path)
    try:
        digest = build_digest(store.db, started, finished, now=finished, seen=True)
        total = store.count()
    finally:
        store.close()
    from feedwatch.store.pg import redact

    named = redact(db_path)  # a URL's password is never printed
    return [*read_lines(digest), "", f"The store: {named} ({total:,} post(s) in all).", *next_steps(digest, db_path)]


def read_lines(digest: Digest) -> list[str]:
    """Return what the cycle read, in words: posts, new campaigns, spiking tags, top hashtags."""
    lines = [f"This run read {digest.posts:,} post(s)."]
    if digest.new_campaigns:
        lines.append("New campaigns:")
        lines += [
            f"  #{a.tag}  {a.title}: {len(a.channels)} channel(s), {a.posts} post(s), {a.forwards} forward(s)"
            for a in digest.new_campaigns[:5]
        ]
    else:
        lines.append("New campaigns: none.")
    if digest.spiking:
        lines.append("Spiking known tags: " + ", ".join(f"#{a.tag}" for a in digest.spiking[:5]))
    if digest.top_tags:
        lines.append("Top hashtags: " + ", ".join(f"#{row.tag} ({row.posts})" for row in digest.top_tags[:5]))
    return lines


def next_steps(digest: Digest, db_path: str) -> list[str]:
    """Return the commands worth trying next, with --db when the default would not find this store."""
    try:
        found = resolve_db(None)
    except FeedwatchError:
        found = ""
    from feedwatch.store.pg import redact

    db = "" if found == db_path else f" --db {shlex.quote(redact(db_path))}"
    steps = []
    if digest.top_tags:
        steps.append((f"feedwatch search --hashtag {shlex.quote(digest.top_tags[0].tag)}{db}", "posts with a hashtag"))
    steps += [
        (f"feedwatch search --limit 10{db}", "the latest stored posts (add words to search them)"),
        (f"feedwatch campaigns{db}", "the campaign alerts raised so far"),
        (f"feedwatch digest --since 7d --out week.html{db}", "a week's digest to open in a browser"),
    ]
    width = max(len(command) for command, _ in steps)
    return ["Next:", *(f"  {command:<{width}}  {what}" for command, what in steps)]
