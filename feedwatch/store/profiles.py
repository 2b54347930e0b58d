"""Channel profiles and a post's history, as SQL over the store's own tables.

The statements here are the one home of these views: `feedwatch channels` and
`feedwatch history` run them, and `feedwatch serve` publishes the same text as
canned queries (so the page, its JSON and the CLI always agree). Each takes
named parameters only (`:channel`, `:post`), the way Datasette passes them.
"""

from __future__ import annotations

from typing import Any

from feedwatch.store.backend import Connection

# How many tags and forward partners a profile lists.
TOP = 5


# A post's actor, the origin of a forward and the actor's name are the store's columns (feedwatch.store.actor: the
# campaign detector's rule). A channel's posts are those of its actor: a pasted copy counts for the channel or name
# it was forwarded from. Posts whose actor is the file they were read from (statements, notes) belong to no channel.
_CHANNEL_POSTS = "substr(actor, 1, 5) <> 'file:'"
_NAME = "trim(:channel, ' @')"


def channel_name(alias: str = "") -> str:
    """Return the SQL of the channel a post (of table alias `alias`) counts for, as the profiles name it: the
    username or title as written (without '@'), or NULL for a post that belongs to no channel."""
    p = f"{alias}." if alias else ""
    return f"CASE WHEN substr({p}actor, 1, 5) = 'file:' THEN NULL ELSE ltrim({p}actor_name, '@') END"


def _posts_of_channel(one: bool) -> str:
    columns = "id, actor AS ch, date, origin, actor_name AS name FROM posts"
    if one:  # the channel's own posts through the unique ident index ('c:<name>/<id>'; '0' sorts after '/')
        return (
            f"SELECT {columns} WHERE ident >= 'c:' || lower({_NAME}) || '/' AND ident < 'c:' || lower({_NAME}) || '0'"
            f" UNION ALL SELECT {columns} WHERE channel IS NULL AND {_CHANNEL_POSTS}"
            f" AND (actor = lower({_NAME}) OR ltrim(actor_name, '@') = {_NAME} COLLATE NOCASE)"
        )
    return f"SELECT {columns} WHERE {_CHANNEL_POSTS}"


def _origins(one: bool) -> str:
    """(forwarding channel, origin, posts): from every post for one channel (who forwards it), else from mine."""
    if one:
        return "SELECT actor AS ch, origin, count(*) AS n FROM posts WHERE origin IS NOT NULL GROUP BY 1, 2"
    return "SELECT ch, origin, count(*) AS n FROM mine WHERE origin IS NOT NULL GROUP BY 1, 2"


def channels_sql(one: bool = False) -> str:
    """Return the statement of one row per channel (or of the channel named `:channel` when `one`)."""
    which = f"AND c.username = {_NAME} COLLATE NOCASE" if one else ""
    return f"""
WITH mine AS MATERIALIZED ({_posts_of_channel(one)}),
chosen AS (
  SELECT c.username, c.title, lower(c.username) AS ch FROM channels c WHERE c.username IS NOT NULL {which}
  UNION ALL
  SELECT min(ltrim(m.name, '@')), NULL, m.ch FROM mine m
  WHERE m.ch NOT IN (SELECT lower(username) FROM channels WHERE username IS NOT NULL) GROUP BY m.ch
),
per AS (
  SELECT ch, count(*) AS posts, min(date) AS first_post, max(date) AS last_post,
         sum(origin IS NOT NULL) AS forwarded_posts
  FROM mine GROUP BY ch
),
tagged AS (
  SELECT m.ch, ph.hashtag, count(*) AS n FROM mine m JOIN post_hashtags ph ON ph.post = m.id
  GROUP BY m.ch, ph.hashtag
),
tag_names AS (
  SELECT t.ch, t.n, '#' || (SELECT min(spelling) FROM hashtag_spellings s WHERE s.hashtag = t.hashtag) AS tag,
         row_number() OVER (PARTITION BY t.ch ORDER BY t.n DESC, t.hashtag) AS rank
  FROM tagged t
),
origins AS MATERIALIZED ({_origins(one)}),
ranked_out AS (SELECT ch, origin, n, row_number() OVER (PARTITION BY ch ORDER BY n DESC, origin) AS rank
               FROM origins),
ranked_in AS (SELECT origin, ch, n, row_number() OVER (PARTITION BY origin ORDER BY n DESC, ch) AS rank
              FROM origins),
last_run AS (
  SELECT lower(substr(source, instr(source, ':') + 1)) AS ch, finished_at, kind, errors,
         row_number() OVER (PARTITION BY lower(substr(source, instr(source, ':') + 1)) ORDER BY id DESC) AS rank
  FROM ingest_runs WHERE source LIKE 'web:%' OR source LIKE 'telethon:%'
)
SELECT
  c.username AS channel,
  c.title,
  coalesce(p.posts, 0) AS posts,
  p.first_post,
  p.last_post,
  round(coalesce(p.posts, 0) / max(1.0, julianday(p.last_post) - julianday(p.first_post)), 2) AS posts_per_day,
  (SELECT group_concat(tag || ' (' || n || ')', ', ') FROM
     (SELECT tag, n FROM tag_names t WHERE t.ch = c.ch AND t.rank <= {TOP} ORDER BY t.rank) AS r) AS top_tags,
  (SELECT group_concat(origin || ' (' || n || ')', ', ') FROM
     (SELECT origin, n FROM ranked_out o WHERE o.ch = c.ch AND o.rank <= {TOP} ORDER BY o.rank) AS r) AS forwards_from,
  (SELECT group_concat(ch || ' (' || n || ')', ', ') FROM
     (SELECT ch, n FROM ranked_in i WHERE i.origin = c.ch AND i.rank <= {TOP} ORDER BY i.rank) AS r) AS forwarded_by,
  coalesce(p.forwarded_posts, 0) AS forwards_out,
  coalesce((SELECT sum(n) FROM origins o WHERE o.origin = c.ch), 0) AS forwards_in,
  r.finished_at AS last_poll,
  CASE WHEN r.kind IS NULL THEN NULL WHEN r.kind = 'ok' THEN 'ok'
       ELSE r.kind || ': ' || coalesce(json_extract(r.errors, '$[0][1]'), '') END AS last_poll_outcome
FROM chosen c
LEFT JOIN per p ON p.ch = c.ch
LEFT JOIN last_run r ON r.ch = c.ch AND r.rank = 1
ORDER BY posts DESC, channel
"""


CHANNELS = channels_sql(one=False)
CHANNEL_PROFILE = channels_sql(one=True)

# The target post: 'channel/id' (any case, an optional @ or t.me/ prefix) or the store's row id.
_TARGET = """
target AS (
  SELECT id, title, text, text_since, last_seen FROM posts
  WHERE ident = 'c:' || lower(replace(replace(trim(:post, ' @/'), 'https://t.me/', ''), 't.me/', ''))
     OR id = :row_id
)"""

POST_HISTORY = f"""
WITH {_TARGET.strip()}
SELECT what, at, until, title, text, views, forwards, replies, reactions FROM (
  SELECT 'text' AS what, v.since AS at, v.until, v.title, v.text,
         CAST(NULL AS INTEGER) AS views, CAST(NULL AS INTEGER) AS forwards, CAST(NULL AS INTEGER) AS replies,
         CAST(NULL AS TEXT) AS reactions, 0 AS part, v.id AS seq
  FROM post_versions v JOIN target t ON v.post = t.id
  UNION ALL
  SELECT 'text (current)', t.text_since, NULL, t.title, t.text, NULL, NULL, NULL, NULL, 1, 0 FROM target t
  UNION ALL
  SELECT 'counters', o.observed_at, NULL, NULL, NULL, o.views, o.forwards, o.replies, o.reactions, 2, o.id
  FROM observations o JOIN target t ON o.post = t.id
) AS history
ORDER BY part, at IS NULL, at, seq
"""


def rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the rows of `sql` as dicts keyed by column name."""
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def channels(conn: Connection) -> list[dict[str, Any]]:
    """Return one profile row per known channel, most posts first."""
    return rows(conn, CHANNELS, {})


def post_history(conn: Connection, post: str) -> list[dict[str, Any]]:
    """Return a post's texts (old versions, then the current one) and its counters at each sighting."""
    row_id = int(post.strip()) if post.strip().isdecimal() and post.strip().isascii() else -1
    return rows(conn, POST_HISTORY, {"post": post, "row_id": row_id})
