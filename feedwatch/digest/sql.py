"""SQL fragments over stored posts (alias p) that the digest queries share.

They follow the campaign detector's view of a post: its actor is the channel,
else the forwarded origin, else the file it was read from; it is a forward when
a channel posted another's post; its day is its date, else its first dateline.
"""

from __future__ import annotations

from datetime import UTC, datetime

ACTOR = ("coalesce('@' || p.channel, '@' || json_extract(p.json, '$.forwarded_from.channel'),"
         " json_extract(p.json, '$.forwarded_from.name'), 'file:' || json_extract(p.json, '$.source.path'),"
         " json_extract(p.json, '$.source.format'))")
FORWARD = ("(p.channel IS NOT NULL AND json_extract(p.json, '$.forwarded_from') IS NOT NULL AND"
           " lower(coalesce(json_extract(p.json, '$.forwarded_from.channel'),"
           " json_extract(p.json, '$.forwarded_from.name'), '')) <> lower(p.channel))")
DAY = "coalesce(substr(p.date, 1, 10), json_extract(p.json, '$.datelines[0].date'))"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


class Window:
    """The window as SQL: `where` over posts p, and its arguments.

    By default it holds the posts first stored in it; with `seen`, also those seen
    again (re-read, re-ingested) in it: what one run cycle read.
    """

    def __init__(self, since: datetime | None, until: datetime, seen: bool = False):
        self.since, self.until = since, until
        column = "p.last_seen" if seen else "p.first_seen"
        self.where = (f"{column} >= ? AND " if since else "") + f"{column} <= ?"
        self.args = [*([iso(since)] if since else []), iso(until)]
