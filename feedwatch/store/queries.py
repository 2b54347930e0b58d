"""Reading the store: full-text search with snippets, and stored posts for export."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from feedwatch.errors import QueryError, StoreError
from feedwatch.models import Post, iso
from feedwatch.parse.text import tag_key
from feedwatch.store.backend import Connection, is_postgres, streamed
from feedwatch.store.rows import post_from_row

SNIPPET_TOKENS = 16
SORTS = {"relevance": "rank", "recent": "posts_fts.rowid DESC"}
# Relevance ranks the latest this-many matches (of the query and filters): every query with
# fewer matches is ranked whole, and a word in most posts stays fast.
RANK_WINDOW = 10_000


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the stored post, a snippet with the matches marked, and where to read it."""

    id: int
    post: Post
    snippet: str
    link: str


def link(post: Post) -> str:
    """Return the t.me URL of a post when known, else its source path#index."""
    if post.url:
        return post.url
    if post.channel and post.message_id is not None:
        return f"https://t.me/{post.channel}/{post.message_id}"
    if post.source.path:
        return f"{post.source.path}#{post.source.index}" if post.source.index is not None else post.source.path
    return post.source.format


def _filters(
    hashtag: str | None, channel: str | None, since: datetime | None, until: datetime | None
) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []
    if hashtag:
        where.append("p.id IN (SELECT post FROM post_hashtags WHERE hashtag = (SELECT id FROM hashtags WHERE key = ?))")
        args.append(tag_key(hashtag))
    if channel:
        where.append("p.channel = ? COLLATE NOCASE")
        args.append(channel.lstrip("@"))
    if since:
        where.append("p.date >= ?")
        args.append(iso(since))
    if until:
        where.append("p.date < ?")
        args.append(iso(until))
    return where, args


class Filters(TypedDict, total=False):
    """The filters `count` takes (and `search`)."""

    hashtag: str | None
    channel: str | None
    since: datetime | None
    until: datetime | None


class SearchOptions(Filters, total=False):
    """What `search` takes besides the query."""

    limit: int
    marks: tuple[str, str]
    sort: str


def search(
    conn: Connection,
    query: str | None,
    *,
    hashtag: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    marks: tuple[str, str] = ("[", "]"),
    sort: str = "relevance",
) -> list[Hit]:
    """Return up to `limit` posts matching the FTS5 `query` (best first) and the filters.

    Without a query, the filters alone select posts, newest first. `until` is
    exclusive. `sort` is "relevance" (bm25 over the latest RANK_WINDOW
    matches) or "recent" (latest stored first). A malformed query raises
    StoreError with one line.
    """
    if is_postgres(conn):
        sql, params = _pg_search_sql(query, hashtag, channel, since, until, limit, sort)
    else:
        sql, params = _search_sql(query, hashtag, channel, since, until, limit, marks, sort)
    rows = _fetch(conn, query, sql, params)
    hits = []
    for row in rows:
        post = post_from_row(row[1:5])
        snippet = row[5] if row[5] is not None else _head(post.text)
        if is_postgres(conn):
            snippet = snippet.replace(_START, marks[0]).replace(_STOP, marks[1])
        hits.append(Hit(row[0], post, " ".join(snippet.split()), link(post)))
    return hits


def count(
    conn: Connection,
    query: str | None,
    *,
    hashtag: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Return how many posts match what `search` would show (with no limit)."""
    where, args = _filters(hashtag, channel, since, until)
    if query and query.strip() and is_postgres(conn):
        sql = "SELECT count(*) FROM posts p WHERE p.fts @@ ?::tsquery" + "".join(f" AND {w}" for w in where)
        args = [_pg_tsquery(conn, query), *args]
    elif query and query.strip() and not where:  # the index alone: no row of posts is read
        sql, args = "SELECT count(*) FROM posts_fts WHERE posts_fts MATCH ?", [query]
    elif query and query.strip():
        sql = "SELECT count(*) FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid WHERE posts_fts MATCH ?" + "".join(
            f" AND {w}" for w in where
        )
        args = [query, *args]
    elif hashtag and len(where) == 1:  # the hashtag's links alone, from their covering index
        sql = "SELECT count(*) FROM post_hashtags WHERE hashtag = (SELECT id FROM hashtags WHERE key = ?)"
    else:
        sql = "SELECT count(*) FROM posts p" + (" WHERE " + " AND ".join(where) if where else "")
    return int(_fetch(conn, query, sql, args)[0][0])


def _fetch(conn: Connection, query: str | None, sql: str, params: list[object]) -> list[Any]:
    """Run a search statement; a query FTS5 cannot read raises QueryError (one line)."""
    if query and _QUERY in params:
        tsquery = _pg_tsquery(conn, query)
        params = [tsquery if p is _QUERY else p for p in params]
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if query and ("fts5" in str(exc) or "no such column" in str(exc) or "unterminated" in str(exc)):
            raise QueryError(query, str(exc)) from None
        raise


def channel_names(conn: Connection, limit: int = 10) -> list[str]:
    """Return up to `limit` usernames of channels with stored posts, alphabetically (one index seek each)."""
    names: list[str] = []
    after = "c:"
    while len(names) < limit:
        row = conn.execute(
            "SELECT ident FROM posts WHERE ident > ? AND ident < 'c;' ORDER BY ident LIMIT 1", (after,)
        ).fetchone()
        if row is None:
            break
        names.append(row[0][2:].rsplit("/", 1)[0])
        after = f"c:{names[-1]}0"  # '0' sorts just after '/': the next channel's first post
    return names


def has_channel(conn: Connection, channel: str) -> bool:
    """Return whether any stored post is of `channel` (any case, with or without @)."""
    row = conn.execute("SELECT 1 FROM posts WHERE channel = ? COLLATE NOCASE LIMIT 1", (channel.lstrip("@"),))
    return row.fetchone() is not None


def _search_sql(
    query: str | None,
    hashtag: str | None,
    channel: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    marks: tuple[str, str],
    sort: str,
) -> tuple[str, list[object]]:
    if sort not in SORTS:
        raise StoreError(f"sort must be one of {', '.join(SORTS)}")
    where, args = _filters(hashtag, channel, since, until)
    if query and query.strip():
        matches = "FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid WHERE posts_fts MATCH ?" + "".join(
            f" AND {w}" for w in where
        )
        window, window_args = "", []
        if sort == "relevance":  # rank only the latest RANK_WINDOW matches: bm25 reads every match it ranks
            window = (
                " AND posts_fts.rowid >= (SELECT ifnull(min(id), 0) FROM (SELECT posts_fts.rowid AS id "
                f"{matches} ORDER BY posts_fts.rowid DESC LIMIT {RANK_WINDOW}))"
            )
            window_args = [query, *args]
        sql = (
            "SELECT p.id, p.title, p.text, p.author, p.json,"
            f" snippet(posts_fts, -1, ?, ?, '…', {SNIPPET_TOKENS}) {matches}{window}"
            f" ORDER BY {SORTS[sort]} LIMIT ?"
        )
        return sql, [marks[0], marks[1], query, *args, *window_args, limit]
    # Newest first; posts without a date (NULL sorts lowest) come last.
    sql = (
        "SELECT p.id, p.title, p.text, p.author, p.json, NULL FROM posts p"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY p.date IS NULL, p.date DESC, p.id DESC LIMIT ?"
    )
    return sql, [*args, limit]


# PostgreSQL search (see feedwatch.store.pg): websearch syntax, the 'simple' configuration (no stemming, as FTS5).
_START, _STOP = "\x02", "\x03"  # ts_headline's marks, replaced by the caller's
_HEADLINE = f"StartSel={_START}, StopSel={_STOP}, MaxWords={SNIPPET_TOKENS}, MinWords={SNIPPET_TOKENS // 2}"
_PREFIX = re.compile(r"(?<![\w\"])(\w+)\*")


def _pg_tsquery(conn: Connection, query: str) -> str:
    """Return the tsquery (as text) of a search query: websearch syntax, and `word*` matching words it begins.

    FTS5's operators read the same here: AND (any words: all of them), OR, NOT (websearch's -word).
    """
    parts = re.split(r'("[^"]*")', query)  # outside quotes only
    query = "".join(
        part if part.startswith('"') else re.sub(r"\bNOT\s+", "-", re.sub(r"\bAND\b", " ", part)) for part in parts
    )
    prefixes = {m.group(1).lower() for m in _PREFIX.finditer(query)}
    row = conn.execute("SELECT websearch_to_tsquery('simple', ?)::text", [_PREFIX.sub(r"\1", query)]).fetchone()
    text = str(row[0])
    for word in prefixes:
        quoted = "'" + word.replace("'", "''") + "'"
        text = re.sub(re.escape(quoted) + r"(?!:)", quoted + ":*", text)
    return text


def _pg_search_sql(
    query: str | None,
    hashtag: str | None,
    channel: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    sort: str,
) -> tuple[str, list[object]]:
    if sort not in SORTS:
        raise StoreError(f"sort must be one of {', '.join(SORTS)}")
    where, args = _filters(hashtag, channel, since, until)
    if not (query and query.strip()):
        return _search_sql(query, hashtag, channel, since, until, limit, ("", ""), sort)
    filters = "".join(f" AND {w}" for w in where)
    window, window_args = "", []
    if sort == "relevance":  # as in SQLite: rank only the latest RANK_WINDOW matches
        window = (
            " AND p.id >= (SELECT coalesce(min(id), 0) FROM (SELECT p.id AS id FROM posts p"
            f" WHERE p.fts @@ (SELECT q FROM q){filters} ORDER BY p.id DESC LIMIT {RANK_WINDOW}) AS latest)"
        )
        window_args = list(args)
    order = "ts_rank(p.fts, q.q) DESC, p.id DESC" if sort == "relevance" else "p.id DESC"
    text = "concat_ws(' ', p.title, p.text, p.key_points, p.author)"
    sql = (
        "WITH q AS (SELECT ?::tsquery AS q) SELECT p.id, p.title, p.text, p.author, p.json,"
        f" ts_headline('simple', {text}, q.q, '{_HEADLINE}') FROM q, posts p"
        f" WHERE p.fts @@ q.q{filters}{window} ORDER BY {order} LIMIT ?"
    )
    return sql, [_QUERY, *args, *window_args, limit]


_QUERY = object()  # stands for the query's tsquery in a statement's arguments, filled in by `_fetch`


def _head(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rsplit(" ", 1)[0] + "…"


def posts(
    conn: Connection,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[Post]:
    """Yield stored posts in the order they were first stored (of one channel, in a window, if given)."""
    where, args = _filters(None, channel, since, until)
    sql = "SELECT p.title, p.text, p.author, p.json FROM posts p"
    sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY p.id"
    for row in streamed(conn, sql, args):
        yield post_from_row(row)
