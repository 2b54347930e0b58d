"""What `feedwatch serve` shows an analyst: descriptions, canned queries, charts and cell rendering.

Plain data and pure functions, no web framework: feedwatch.serve hands them to
Datasette. Every table an analyst sees is described here, column by column
(tables not described are hidden); a test checks the descriptions against the
schema. Canned queries take named parameters and are also reachable as JSON
and CSV. Cell rendering escapes every stored string: post text is
attacker-controlled.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from feedwatch import pages
from feedwatch.digest.model import safe_url
from feedwatch.digest.sql import DAY
from feedwatch.store.profiles import CHANNEL_PROFILE, CHANNELS, POST_HISTORY, channel_name

DATABASE = pages.DATABASE
# Search snippets mark matches with these tags (in JSON and CSV too); the page shows them as highlights.
MARK_START, MARK_END = "<mark>", "</mark>"

SEARCH = f"""
SELECT coalesce(p.channel || '/' || p.message_id, p.id) AS post, p.channel, p.date,
       snippet(posts_fts, -1, '{MARK_START}', '{MARK_END}', ' … ', 24) AS snippet,
       json_extract(p.json, '$.url') AS url
FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid
WHERE :q != '' AND posts_fts MATCH :q
ORDER BY rank
LIMIT 200
"""

NEW_CAMPAIGNS = """
SELECT a.id AS campaign, a.tier,
       coalesce((SELECT s.spelling FROM campaign_spellings s WHERE s.tag = a.tag ORDER BY s.uses DESC, s.rowid
                 LIMIT 1), a.tag) AS tag,
       strftime('%Y-%m-%dT%H:%M:%SZ', a.episode_start, 'unixepoch') AS first_use,
       strftime('%Y-%m-%dT%H:%M:%SZ', a.alerted_at, 'unixepoch') AS alerted_at,
       (SELECT group_concat(value, ', ') FROM json_each(a.channels)) AS channels,
       a.posts, a.forwards, round(a.score, 2) AS score, a.evidence
FROM campaign_alerts a
WHERE a.tier IN ('T1', 'T2')
ORDER BY a.alerted_at DESC, a.id DESC
"""

TAG_TIMELINE = f"""
SELECT {DAY} AS day, s.value AS spelling,
       {channel_name("p")} AS channel,
       count(*) AS posts
FROM hashtags h
JOIN post_hashtags ph ON ph.hashtag = h.id
JOIN posts p ON p.id = ph.post
JOIN json_each(p.json, '$.hashtags') s
WHERE fw_tag_identity(h.key) = fw_tag_identity(:tag) AND fw_tag_identity(s.value) = fw_tag_identity(:tag)
GROUP BY day, spelling, channel
ORDER BY day IS NULL, day, posts DESC, spelling, channel
"""

CHANNEL_DAYS = """
SELECT substr(date, 1, 10) AS day, count(*) AS posts, fw_median(views) AS median_views
FROM posts
WHERE ident >= 'c:' || lower(trim(:channel, ' @')) || '/' AND ident < 'c:' || lower(trim(:channel, ' @')) || '0'
  AND date IS NOT NULL
GROUP BY day
ORDER BY day
"""

# Edited: the post has older texts. Disappeared: the channel's last successful poll saw posts on both sides
# of it (so it re-read the page that held it) and did not see it.
CHANGED_POSTS = """
WITH last_poll AS (
  SELECT lower(substr(source, instr(source, ':') + 1)) AS ch, max(finished_at) AS at FROM ingest_runs
  WHERE (source LIKE 'web:%' OR source LIKE 'telethon:%') AND kind = 'ok' GROUP BY ch
),
seen AS (
  SELECT l.ch, l.at, min(p.message_id) AS lo, max(p.message_id) AS hi
  FROM posts p JOIN last_poll l ON l.ch = lower(p.channel) AND p.last_seen = l.at GROUP BY l.ch
),
changes AS (
  SELECT v.post AS id, 'edited' AS change, max(v.until) AS noticed, count(*) AS old_texts
  FROM post_versions v GROUP BY v.post
  UNION ALL
  SELECT p.id, 'disappeared', s.at, NULL
  FROM posts p JOIN seen s ON s.ch = lower(p.channel)
  WHERE p.message_id > s.lo AND p.message_id < s.hi AND p.last_seen < s.at
)
SELECT c.change, coalesce(p.channel || '/' || p.message_id, p.id) AS post, p.channel, p.date,
       c.noticed, c.old_texts, substr(p.text, 1, 200) AS text, json_extract(p.json, '$.url') AS url
FROM changes c JOIN posts p ON p.id = c.id
ORDER BY c.noticed DESC, p.id DESC
"""


def _query(title: str, sql: str, description: str) -> dict[str, Any]:
    return {"title": title, "sql": sql.strip(), "description": description, "hide_sql": True}


QUERIES: dict[str, dict[str, Any]] = {
    "search": _query(
        "Search posts",
        SEARCH,
        'Full-text search over title, text, key points and author (FTS5 syntax: words, "phrases", '
        "prefix*, NOT, OR), best match first; matches are highlighted.",
    ),
    "new_campaigns": _query(
        "New campaigns",
        NEW_CAMPAIGNS,
        "Coordinated launches (T1) and new campaigns (T2) the detector raised, newest first, "
        "with their evidence. Open a campaign for the whole alert.",
    ),
    "tag_timeline": _query(
        "A tag's timeline",
        TAG_TIMELINE,
        "Posts per day that use a tag, by spelling and channel. Spellings that look alike "
        "(#UNCharterIsOurRules, #UNCharterlsOurRules) are one tag; the day is the publication "
        "date, else the first dateline.",
    ),
    "channels": _query(
        "Channels",
        CHANNELS,
        "One row per channel: posts, first and last post, posts a day, top tags, who it forwards "
        "and who forwards it, and the last poll with its outcome.",
    ),
    "channel_profile": _query(
        "A channel's profile",
        CHANNEL_PROFILE,
        "One channel (its username, or for pasted copies the name they were forwarded "
        "from, or a chat's title: as the channels page names it). Its posts per day and median views are on the "
        "channel_days page.",
    ),
    "channel_days": _query(
        "A channel's days", CHANNEL_DAYS, "Posts per day of one channel and the median of their latest view counts."
    ),
    "post_history": _query(
        "A post's history",
        POST_HISTORY,
        "One post (channel/id, or its row id): its texts over time, each with when it was "
        "current, then its counters at each sighting that changed them.",
    ),
    "changed_posts": _query(
        "Edited and disappeared posts",
        CHANGED_POSTS,
        "Posts whose text changed after they were stored, and posts missing from the page "
        "their channel's last poll re-read (deleted or hidden), newest first.",
    ),
}


# Charts drawn above a canned query's results: (x column, y column, what is counted).
@dataclass(frozen=True)
class ChartSpec:
    """A bar chart drawn on a query's page from the rows of a query (its own, or another with the same parameters)."""

    query: str
    x: str
    y: str
    what: str


_DAYS = ChartSpec("channel_days", "day", "posts", "posts per day")
_MEDIAN_VIEWS = ChartSpec("channel_days", "day", "median_views", "median views of the day's posts")
CHARTS: dict[str, tuple[ChartSpec, ...]] = {
    "tag_timeline": (ChartSpec("tag_timeline", "day", "posts", "posts per day"),),
    "post_history": (ChartSpec("post_history", "at", "views", "views at each sighting"),),
    "channel_profile": (_DAYS, _MEDIAN_VIEWS),
    "channel_days": (_DAYS, _MEDIAN_VIEWS),
}

_STORED = "when feedwatch first stored it (UTC)"
TABLES: dict[str, dict[str, Any]] = {
    "posts": {
        "description": "Every post once, whatever route it came by. Search it with the box above, or use the "
        "search page for highlighted snippets.",
        "sort_desc": "date",
        "facets": ["channel", "kind", {"date": "date"}],
        "label_column": "ident",
        "fts_table": "posts_fts",
        "fts_pk": "id",
        "columns": {
            "id": "row id in this store",
            "ident": "the post's identity: c:<channel>/<message id>, or f:<text fingerprint> for posts without "
            "an id (pasted text, statements)",
            "channel": "the channel's username (t.me/<channel>), when known",
            "message_id": "the message id within the channel",
            "fingerprint": "hash of the text that ignores case, spacing, punctuation and emoji",
            "kind": "post, statement or service (Telegram's own messages: pins, title changes)",
            "date": "when it was published (UTC)",
            "title": "headline, when the post or statement has one",
            "text": "the current text (older texts are in post_versions)",
            "author": "signature or sender, when shown",
            "key_points": "a statement's key points",
            "views": "latest view count (every change is in observations)",
            "forwards": "latest forward count",
            "json": "the whole Post record (links, media, hashtags, forward origin, reactions, where it was read)",
            "first_seen": _STORED,
            "last_seen": "when it was last read again (UTC)",
            "text_since": "since when the current text has been seen (UTC)",
            "actor": "who published or pushed it, as the campaign detector counts: the channel (username, i:<id> or "
            "t:<title>), else the channel or name it was forwarded from, else file:<the file it was read from>",
            "origin": "the channel or name it was forwarded from, when it is a channel's forward of another's post",
            "actor_name": "the actor as the post writes it: @username, the chat's title, the forwarded name",
        },
    },
    "post_versions": {
        "description": "Older texts of edited posts, with when each was current.",
        "sort_desc": "since",
        "facets": ["format"],
        "columns": {
            "id": "row id",
            "post": "the post (row id in posts)",
            "title": "its headline then",
            "text": "its text then",
            "since": "first seen with this text (UTC)",
            "until": "first seen with a newer text (UTC)",
            "format": "the input format that showed this text",
        },
    },
    "observations": {
        "description": "A post's counters each time a sighting changed them: views, forwards, replies, reactions.",
        "sort_desc": "observed_at",
        "facets": ["format"],
        "columns": {
            "id": "row id",
            "post": "the post (row id in posts)",
            "observed_at": "when it was seen (UTC)",
            "views": "views then",
            "forwards": "forwards then",
            "replies": "replies then",
            "reactions": "reactions then: emoji and count",
            "format": "input format of the sighting",
            "path": "file or page it was read from",
        },
    },
    "post_sources": {
        "description": "Every route a post came by: file, page, export or poll.",
        "sort_desc": "first_seen",
        "facets": ["format"],
        "columns": {
            "post": "the post (row id in posts)",
            "format": "input format",
            "path": "file or page read",
            "idx": "position of the post in that input",
            "input": "what was named on the command line or polled",
            "first_seen": _STORED,
        },
    },
    "channels": {
        "description": "Channels the store knows: polled ones and those its posts name. The channels page has "
        "one profile row each.",
        "sort": "username",
        "label_column": "username",
        "columns": {
            "id": "row id",
            "username": "t.me/<username>",
            "title": "its title as last seen",
            "channel_id": "Telegram's numeric id, when known",
            "access_hash": "Telegram API access hash",
            "high_water": "largest message id polling has stored",
            "last_polled_at": "last poll (UTC)",
            "first_seen": _STORED,
            "retry_at": "after a rate limit: when this channel may be asked again (UTC)",
            "resume_before": "an unfinished walk of older pages goes on below this message id",
            "resume_top": "the newest message id of that unfinished walk",
        },
    },
    "channel_names": {
        "description": "Every username and title a channel has had.",
        "sort_desc": "first_seen",
        "facets": ["channel"],
        "columns": {
            "channel": "the channel (row id in channels)",
            "username": "username then",
            "title": "title then",
            "first_seen": "when this name was first seen (UTC)",
        },
    },
    "hashtags": {
        "description": "Hashtags by their normalised key (any case, any Unicode form).",
        "sort": "key",
        "label_column": "key",
        "columns": {"id": "row id", "key": "the tag, case-folded and NFKC-normalised, without #"},
    },
    "hashtag_spellings": {
        "description": "Every raw spelling of each hashtag.",
        "sort": "spelling",
        "columns": {"hashtag": "the hashtag (row id in hashtags)", "spelling": "as written in a post, without #"},
    },
    "post_hashtags": {
        "description": "Which post uses which hashtag.",
        "facets": ["hashtag"],
        "columns": {"post": "the post (row id in posts)", "hashtag": "the hashtag (row id in hashtags)"},
    },
    "ingest_runs": {
        "description": "Each ingest or poll of a source: counts and errors.",
        "sort_desc": "id",
        "facets": ["kind", "source"],
        "columns": {
            "id": "row id",
            "source": "what was read: a path, or web:<channel> / telethon:<channel> for polls",
            "kind": "ok, or the first error's kind (unreachable, no_preview, rate_limited, drift, ...)",
            "started_at": "start (UTC)",
            "finished_at": "end (UTC)",
            "new": "posts stored new",
            "updated": "stored posts changed",
            "unchanged": "stored posts seen again unchanged",
            "failed": "inputs or posts that failed",
            "errors": "each error: kind and message",
        },
    },
    "campaign_alerts": {
        "description": "Every alert of the campaign detector: T1 coordinated launch, T2 new campaign, T3 "
        "known-tag burst.",
        "sort_desc": "alerted_at",
        "facets": ["tier"],
        "columns": {
            "id": "row id",
            "tag": "the tag's identity (look-alike letters merged)",
            "tier": "T1, T2 or T3",
            "episode_start": "first use in this episode (UTC)",
            "alerted_at": "when the condition held (UTC)",
            "channels": "the actors of the episode so far",
            "posts": "independent posts",
            "forwards": "forwards of them, counted apart",
            "score": "the tier's score (see evidence)",
            "evidence": "the statistic, its value and threshold, the actors and sample posts",
        },
    },
    "campaign_spellings": {
        "description": "Raw spellings of each tag identity with how often each was used.",
        "sort_desc": "uses",
        "facets": ["tag"],
        "columns": {"tag": "the tag's identity", "spelling": "as written", "uses": "posts that used it"},
    },
    "campaign_tag_days": {
        "description": "Uses of each tag identity per day, as the detector counted them.",
        "sort_desc": "day",
        "facets": ["tag"],
        "columns": {
            "tag": "the tag's identity",
            "day": "UTC day",
            "posts": "independent posts",
            "forwards": "forwards",
        },
    },
}
# Times the detector keeps as seconds since 1970.
EPOCH_COLUMNS = {("campaign_alerts", "episode_start"), ("campaign_alerts", "alerted_at")}
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?")


def metadata(tables: list[str]) -> dict[str, Any]:
    """Return Datasette metadata for a store with these tables: those not described here are hidden."""
    shown = {name: dict(meta) for name, meta in TABLES.items() if name in tables}
    hidden = {name: {"hidden": True} for name in tables if name not in TABLES}
    about = (
        "Posts of public Telegram channels with their edits and view counts over time, hashtag campaigns "
        "and polling health. Start from the queries: search, new campaigns, channels."
    )
    return {
        "title": "feedwatch",
        "description": about,
        "databases": {DATABASE: {"description": about, "tables": {**hidden, **shown}, "queries": QUERIES}},
    }


def _link(href: str, label: str, external: bool = False) -> str:
    rel = ' rel="noopener noreferrer nofollow"' if external else ""
    return f'<a href="{html.escape(href, quote=True)}"{rel}>{html.escape(label)}</a>'


def page_links(prefix: str) -> dict[str, Any]:
    """Return {column: value -> page URL} for the columns of query results that name a page of ours."""
    return {
        "post": lambda v: pages.post_page(prefix, v),
        "channel": lambda v: pages.channel_page(prefix, str(v)),
        "tag": lambda v: pages.tag_page(prefix, str(v)),
        "spelling": lambda v: pages.tag_page(prefix, str(v)),
        "campaign": lambda v: pages.campaign_page(prefix, int(v)),
    }


def human_time(value: str) -> str:
    """Return an ISO time as '2026-05-01 12:00 UTC' in a <time> element, or the escaped value if not one."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return html.escape(value)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return f'<time datetime="{html.escape(value, quote=True)}">{when:%Y-%m-%d %H:%M} UTC</time>'


def highlight(snippet: str) -> str:
    """Return a search snippet escaped, all but its match markers, which become <mark> elements."""
    text = html.escape(snippet)
    return text.replace(html.escape(MARK_START), "<mark>").replace(html.escape(MARK_END), "</mark>")


def readable_json(value: str) -> str | None:
    """Return a JSON object or array pretty-printed in an escaped <pre>, or None when `value` is not one."""
    if value[:1] not in ("{", "["):
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if isinstance(data, list) and all(isinstance(v, str | int | float) for v in data):
        return html.escape(", ".join(str(v) for v in data))  # a list of names reads as one line
    return f'<pre class="fw-json">{html.escape(json.dumps(data, indent=1, ensure_ascii=False))}</pre>'


# Table columns that name a page of ours: (table, column) -> the kind of page (a key of page_links).
TABLE_LINKS = {
    ("posts", "channel"): "channel",
    ("channels", "username"): "channel",
    ("campaign_spellings", "spelling"): "tag",
    ("hashtag_spellings", "spelling"): "tag",
}


def render_cell(value: Any, column: str, table: str | None, prefix: str = "/") -> str | None:
    """Return the HTML of one cell, or None to let Datasette render it (numbers, foreign keys, ...)."""
    kind = column if table is None else TABLE_LINKS.get((table, column))
    if kind and value not in (None, "") and kind in (links := page_links(prefix)):
        try:
            return _link(links[kind](value), str(value))
        except (TypeError, ValueError):
            return None
    if (table, column) in EPOCH_COLUMNS and isinstance(value, int | float):
        return human_time(datetime.fromtimestamp(value, UTC).isoformat())
    if not isinstance(value, str) or not value:
        return None
    if column == "snippet" and table is None:
        return highlight(value)
    if _ISO_TIME.fullmatch(value):
        return human_time(value)
    if url := safe_url(value) if value.startswith(("http://", "https://", "t.me/")) else None:
        return _link(url, value, external=True)
    return readable_json(value)


def bar_chart_svg(points: list[tuple[str, float]], what: str) -> str:
    """Return an inline SVG bar chart of (label, value) points in order; labels and values are escaped."""
    width, height, top, bottom = 640, 160, 14, 22
    peak = max((v for _, v in points), default=0) or 1
    step = width / max(len(points), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(what, quote=True)}" class="fw-chart">'
    ]
    base = height - bottom
    for i, (label, value) in enumerate(points):
        bar = max((base - top) * value / peak, 1.0) if value else 0.0
        parts.append(
            f'<rect x="{i * step:.2f}" y="{base - bar:.2f}" width="{max(step - 1, 0.8):.2f}" height="{bar:.2f}" '
            f'fill="#2b6cb0" data-label="{html.escape(label, quote=True)}" data-value="{value:g}">'
            f"<title>{html.escape(label)}: {value:g}</title></rect>"
        )
    parts.append(f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#999" stroke-width="0.5"/>')
    parts.append(f'<text x="0" y="10" font-size="10">{html.escape(what)} (peak {peak:g})</text>')
    if points:
        parts.append(f'<text x="0" y="{height - 6}" font-size="10">{html.escape(points[0][0])}</text>')
        parts.append(
            f'<text x="{width}" y="{height - 6}" font-size="10" text-anchor="end">{html.escape(points[-1][0])}</text>'
        )
    return "".join(parts) + "</svg>"


def chart_points(rows: list[dict[str, Any]], x: str, y: str) -> list[tuple[str, float]]:
    """Return (x, sum of y) in order of first appearance, leaving out rows where either is missing."""
    sums: dict[str, float] = {}
    for row in rows:
        label, value = row.get(x), row.get(y)
        if label is None or not isinstance(value, int | float):
            continue
        label = str(label)
        if _ISO_TIME.fullmatch(label):
            label = label[:16].replace("T", " ")
        sums[label] = sums.get(label, 0) + value
    return _fill_days(list(sums.items()))


MAX_CHART_DAYS = 1000


def _fill_days(points: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Return daily points with the missing days as zero (so the bars keep time), when labels are days."""
    try:
        days = [date.fromisoformat(label) for label, _ in points]
    except ValueError:
        return points
    if not days or (max(days) - min(days)).days >= MAX_CHART_DAYS:
        return points
    counts = {day: value for day, (_, value) in zip(days, points, strict=True)}
    span = (max(days) - min(days)).days + 1
    every = (min(days) + timedelta(days=n) for n in range(span))
    return [(day.isoformat(), counts.get(day, 0)) for day in every]
