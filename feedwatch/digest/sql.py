"""SQL fragments over stored posts (alias p) that the digest queries share.

A post's actor and whether it is a forward are the store's columns
(feedwatch.store.actor: the campaign detector's rule, applied when the post
was written): the chat, else the forwarded origin, else the file it was read
from; a forward is a chat's post of another's. Its day is its date, else its
first dateline.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from feedwatch.models import iso
from feedwatch.store.backend import Connection

ACTOR = "p.actor"
FORWARD = "(p.origin IS NOT NULL)"
DAY = "coalesce(substr(p.date, 1, 10), json_extract(p.json, '$.datelines[0].date'))"


def ensure_indexes(conn: Connection) -> None:
    """Index the columns digest windows select on (idempotent; the first call on a big store takes a while).

    On a database opened read-only the missing ones are left out: they only make the digest faster.
    """
    try:
        conn.execute("CREATE INDEX IF NOT EXISTS posts_first_seen ON posts(first_seen)")
        conn.execute("CREATE INDEX IF NOT EXISTS posts_last_seen ON posts(last_seen)")
        conn.execute("CREATE INDEX IF NOT EXISTS ingest_runs_finished ON ingest_runs(finished_at)")
    except sqlite3.OperationalError as exc:
        if not getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
            raise


class Window:
    """The window's posts, gathered once into the temporary table `digest_window` (alias w).

    Each row holds a post's id, actor, forward flag and day, so the JSON of a post is
    read once per digest, not once per query. By default the window holds the posts
    first stored in it; with `seen`, also those seen again in it (what one run cycle read).
    """

    def __init__(self, conn: Connection, since: datetime | None, until: datetime, seen: bool = False):
        self.since, self.until = since, until
        column = "p.last_seen" if seen else "p.first_seen"
        where = (f"{column} >= ? AND " if since else "") + f"{column} <= ?"
        self.args = [*([iso(since)] if since else []), iso(until)]
        conn.execute("DROP TABLE IF EXISTS temp.digest_window")
        conn.execute(
            f"CREATE TEMP TABLE digest_window AS SELECT p.id AS id, {ACTOR} AS actor, {FORWARD} AS fwd, {DAY} AS day"
            f" FROM posts p WHERE {where}",
            self.args,
        )
