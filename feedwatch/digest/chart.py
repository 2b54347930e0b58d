"""The chart's data: posts per day (or per few days) for each tag the digest lists.

The range runs from the earliest to the latest publication day among the
window's posts of the listed tags, at least MIN_DAYS long so a new tag shows
the quiet before it; every stored post of the tag in that range counts. Spans
too long for MAX_BUCKETS bars are bucketed by whole numbers of days.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta

from feedwatch.digest.model import Chart, Series
from feedwatch.digest.sql import DAY
from feedwatch.store.backend import Connection

MAX_BUCKETS, MIN_DAYS, MAX_SERIES = 60, 14, 8


def _ids(conn: Connection, keys: Iterable[str]) -> list[int]:
    keys = sorted(set(keys))
    marks = ",".join("?" * len(keys))
    return [row[0] for row in conn.execute(f"SELECT id FROM hashtags WHERE key IN ({marks})", keys)] if keys else []


def _list(ids: list[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


def daily(conn: Connection, ids: list[int], first: date, last: date) -> list[tuple[str, int]]:
    """Return (day, posts) of the posts tagged with any of `ids` in [first, last]: dated, then dateline-only."""
    tagged = f"EXISTS (SELECT 1 FROM post_hashtags ph WHERE ph.post = p.id AND ph.hashtag IN ({_list(ids)}))"
    dated = conn.execute(
        f"SELECT substr(p.date, 1, 10) AS day, count(*) FROM posts p WHERE p.date >= ? AND p.date < ? AND {tagged}"
        " GROUP BY day",
        [first.isoformat(), (last + timedelta(days=1)).isoformat()],
    ).fetchall()
    undated = conn.execute(
        f"SELECT {DAY} AS day, count(*) FROM posts p WHERE p.date IS NULL AND {tagged} AND {DAY} BETWEEN ? AND ?"
        " GROUP BY day",
        [first.isoformat(), last.isoformat()],
    ).fetchall()
    return dated + undated


def build_chart(conn: Connection, listed: list[tuple[str, set[str]]]) -> Chart | None:
    """Return the chart of the listed (label, tag keys) pairs, or None when none of their posts has a date."""
    groups = [(label, _ids(conn, keys)) for label, keys in listed]
    groups = [(label, ids) for label, ids in groups if ids][:MAX_SERIES]
    if not groups:
        return None
    every = sorted({i for _, ids in groups for i in ids})
    lo, hi, undated = conn.execute(
        "SELECT min(w.day), max(w.day), sum(w.day IS NULL) FROM temp.digest_window w"
        f" WHERE w.id IN (SELECT post FROM post_hashtags WHERE hashtag IN ({_list(every)}))"
    ).fetchone()
    if hi is None:
        return None
    last = date.fromisoformat(hi)
    first = min(date.fromisoformat(lo), last - timedelta(days=MIN_DAYS - 1))
    span = (last - first).days + 1
    width = math.ceil(span / MAX_BUCKETS)
    buckets = math.ceil(span / width)
    series = []
    for label, ids in groups:
        counts = [0] * buckets
        for day, n in daily(conn, ids, first, last):
            counts[(date.fromisoformat(day) - first).days // width] += n
        series.append(Series(label, tuple(counts)))
    return Chart(first, width, buckets, tuple(series), undated or 0)
