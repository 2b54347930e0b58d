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
    """The stored-time window as SQL: `where` over posts p, and its arguments."""

    def __init__(self, since: datetime | None, until: datetime):
        self.since, self.until = since, until
        self.where = ("p.first_seen >= ? AND " if since else "") + "p.first_seen <= ?"
        self.args = [*([iso(since)] if since else []), iso(until)]
