"""Writing posts: one batch at a time, each batch one transaction.

A batch first resolves its posts' chats (a numeric channel id the store knows
a username for becomes that username; a username seen with its id for the
first time takes over the posts stored under the id), then loads the stored
rows its posts could merge with (by identity and by fingerprint, two indexed
queries), merges in memory, then writes with
executemany: new posts with ids assigned here (so their hashtag links and
sources need no round trip; one INSERT ... SELECT indexes them all for search),
changed posts, routes, old texts, counters and hashtag links. A process
killed at any point leaves the last committed batch; running the same
ingest again finds what is stored and adds only the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from feedwatch.models import Post
from feedwatch.store import actor, passages
from feedwatch.store import merge as mg
from feedwatch.store.backend import Connection, is_postgres
from feedwatch.store.rows import chunks, null_for, post_from_row, post_values, storable
from feedwatch.store.tags import TagIds

NEW, UPDATED, UNCHANGED = "new", "updated", "unchanged"
_SELECT = "SELECT id, ident, title, text, author, json, first_seen, last_seen, text_since FROM posts WHERE "
_INSERT = (
    "INSERT INTO posts (id, ident, channel, message_id, fingerprint, kind, date, title, text, author,"
    " key_points, views, forwards, json, first_seen, last_seen, text_since, actor, origin, actor_name)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The actor columns (feedwatch.store.actor), set with every write of a post's fields: the rule is applied once.
ACTOR_SET = ", actor = ?, origin = ?, actor_name = ?"
_UPDATE = (
    "UPDATE posts SET ident = ?, channel = ?, message_id = ?, fingerprint = ?, kind = ?, date = ?,"
    " title = ?, text = ?, author = ?, key_points = ?, views = ?, forwards = ?, json = ?,"
    " first_seen = ?, last_seen = ?, text_since = ?" + ACTOR_SET + " WHERE id = ?"
)
# The same without the searched columns, so the FTS trigger does not re-index an unchanged text.
_UPDATE_META = (
    "UPDATE posts SET ident = ?, channel = ?, message_id = ?, fingerprint = ?, kind = ?, date = ?,"
    " views = ?, forwards = ?, json = ?, first_seen = ?, last_seen = ?, text_since = ?" + ACTOR_SET + " WHERE id = ?"
)
_SEARCHED = ("title", "text", "key_points", "author")
# New rows take the ids from the batch's first one up, so this indexes exactly the batch's new posts.
_INDEX_NEW = (
    "INSERT INTO posts_fts (rowid, title, text, key_points, author)"
    " SELECT id, title, text, key_points, author FROM posts WHERE id >= ?"
)


@dataclass(slots=True)
class Row:
    """A post row while a batch works on it."""

    id: int
    ident: str
    post: Post
    first_seen: str
    last_seen: str
    text_since: str
    sources: set[tuple[str, str | None, int | None]] = field(default_factory=set)
    old_texts: set[str] | None = None  # texts this post had before (loaded when needed)
    new: bool = False
    dirty: bool = False
    searched_changed: bool = False  # title, text, key points or author changed: FTS must re-index
    seen: bool = False


# The highest post id stored and the highest ever given (schema.POST_IDS); then, noting a batch's highest (ids only
# grow: see Batch.next_id).
_IDS_GIVEN = "SELECT (SELECT max(id) FROM posts), (SELECT value FROM post_ids WHERE key = 'posts')"
_ID_GIVEN = (
    "INSERT INTO post_ids (key, value) VALUES ('posts', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)


class Batch:
    """Merges a list of posts into the stored ones and writes the result."""

    def __init__(self, conn: Connection, tags: TagIds, observed_at: str, label: str):
        self.conn, self.tags, self.now, self.label = conn, tags, observed_at, storable(label)
        self.paths: dict[str | None, str | None] = {}  # each source path as the store holds it (see `storable`)
        self.null = null_for(conn)  # what the rows carry for an unknown value
        self.by_ident: dict[str, Row] = {}
        self.by_fp: dict[str, list[Row]] = {}
        self.sources: list[tuple[Any, ...]] = []
        self.versions: list[tuple[Any, ...]] = []
        self.observations: list[tuple[Any, ...]] = []
        self.channels: dict[str, tuple[str, int | None, str | None]] = {}
        self.chats: dict[str, tuple[int | None, str | None]] = {}  # chats without a username, by chat key
        self.first_new: int | None = None  # the id of the batch's first new post, once written
        stored, given = conn.execute(_IDS_GIVEN).fetchone()
        self.next_id = max(stored or 0, given or 0) + 1  # never an id given before (schema.POST_IDS)

    def load(self, posts: list[Post]) -> list[tuple[Post, str]]:
        """Resolve the posts' chats and read the stored rows they could merge with; return (post, identity).

        At most two stored rows per post are read (see `match`).
        """
        prepared = [(post, mg.ident(post)) for post in self.resolve(posts)]
        idents = {ident for _, ident in prepared}
        # A post with an id may claim an id-less row of its text; one without joins the oldest of its text.
        idents |= {f"f:{p.fingerprint}" for p, ident in prepared if mg.is_keyed(ident)}
        oldest = {p.fingerprint for p, ident in prepared if ident.startswith("f:")}
        found: dict[int, tuple[Any, ...]] = {}
        for column, keys in (("ident", idents), ("id", oldest)):
            for part in chunks(sorted(keys)):
                marks = ", ".join("?" * len(part))
                where = (
                    f"ident IN ({marks})"
                    if column == "ident"
                    else f"id IN (SELECT min(id) FROM posts WHERE fingerprint IN ({marks}) GROUP BY fingerprint)"
                )
                found.update((r[0], r) for r in self.conn.execute(_SELECT + where, part))
        rows = {i: Row(i, r[1], post_from_row(r[2:6]), r[6], r[7], r[8]) for i, r in found.items()}
        for part in chunks(sorted(rows)):
            marks = ", ".join("?" * len(part))
            for post_id, fmt, path, idx in self.conn.execute(
                f"SELECT post, format, path, idx FROM post_sources WHERE post IN ({marks})", part
            ):
                rows[post_id].sources.add((fmt, path, idx))
        for row in rows.values():
            self._index(row)
        return prepared

    def resolve(self, posts: list[Post]) -> list[Post]:
        """Return the posts with the username the store (or the batch) knows for their numeric channel id.

        Posts stored under a channel id whose username is now known move to the
        username (`link`), so a channel read from an export and polled (in
        either order) is one channel.
        """
        ids = sorted({p.channel_id for p in posts if p.channel_id is not None})
        if not ids:
            return posts
        names: dict[int, str] = {}
        for part in chunks(ids):
            marks = ", ".join("?" * len(part))
            names.update(
                (cid, name)
                for name, cid in self.conn.execute(
                    f"SELECT username, channel_id FROM channels WHERE channel_id IN ({marks}) AND username IS NOT NULL",
                    part,
                )
            )
        names.update((p.channel_id, p.channel) for p in posts if p.channel and p.channel_id is not None)
        for channel_id, username in names.items():
            # Posts stored under the id before its username was known (however the store learnt it) move now.
            old = f"i:{channel_id}/"
            if self.conn.execute(
                "SELECT 1 FROM posts WHERE ident >= ? AND ident < ? LIMIT 1", [old, old[:-1] + "0"]
            ).fetchone():
                self.link(username, channel_id)
        return [
            p if p.channel or p.channel_id not in names else mg.with_username(p, names[p.channel_id]) for p in posts
        ]

    def link(self, username: str, channel_id: int) -> None:
        """Move the posts stored under a channel's numeric id to its username.

        A post stored under both (read by username from a source that did not
        give the id) is merged into the one under the username.
        """
        from feedwatch.store.repair import merge_rows

        old, new = f"i:{channel_id}/", f"c:{username.lower()}/"
        rest = f"substr(posts.ident, {len(old) + 1})"
        self.conn.execute(
            f"UPDATE posts SET ident = ? || {rest}, channel = ?, json = json_set(json, '$.channel', ?, '$.url',"
            " coalesce(json_extract(json, '$.url'), 'https://t.me/' || ? || '/' || message_id))"
            f" WHERE ident >= ? AND ident < ? AND NOT EXISTS (SELECT 1 FROM posts AS p WHERE p.ident = ? || {rest})",
            [new, username, username, username, old, old[:-1] + "0", new],
        )
        # Their actor was the chat's id; it is its username now (the one rule applied again, to these rows).
        actor.update(self.conn, "ident >= ? AND ident < ? AND actor = ?", [new, new[:-1] + "0", f"i:{channel_id}"])
        both = self.conn.execute(
            f"SELECT p.id, posts.id FROM posts JOIN posts AS p ON p.ident = ? || {rest}"
            " WHERE posts.ident >= ? AND posts.ident < ?",
            [new, old, old[:-1] + "0"],
        ).fetchall()
        for keep, other in both:
            merge_rows(self.conn, keep, other)

    def _index(self, row: Row) -> None:
        self.by_ident[row.ident] = row
        self.by_fp.setdefault(row.post.fingerprint, []).append(row)

    def match(self, post: Post, ident: str) -> Row | None:
        """Return the row `post` merges into: same channel+id, else same fingerprint (see merge)."""
        row = self.by_ident.get(ident)
        if row is not None or ident.startswith("r:"):
            return row
        same_text = self.by_fp.get(post.fingerprint)
        if not same_text:
            return None
        if mg.is_keyed(ident):
            return next((r for r in same_text if r.ident.startswith("f:")), None)
        return min(same_text, key=lambda r: r.id)

    def add(self, post: Post, ident: str) -> str:
        """Merge one post (with its identity) into the batch; return NEW, UPDATED or UNCHANGED."""
        self._note_channel(post)
        row = self.match(post, ident)
        if row is None:
            row = Row(self.next_id, ident, post, self.now, self.now, self.now, new=True)
            self.next_id += 1
            self._index(row)
            self._note_source(row, post)
            if post.views is not None or post.forwards is not None or post.replies is not None or post.reactions:
                self._observe(row, post)  # any known counter
            return NEW
        changed = ident != row.ident and mg.is_keyed(ident)
        if changed:  # a post with an id claims its id-less copy
            del self.by_ident[row.ident]
            row.ident = ident
            self.by_ident[ident] = row
            row.dirty = True
        changed = self._merge_into(row, post) or changed
        changed = self._note_source(row, post) or changed
        if self.now > row.last_seen or self.now < row.first_seen:
            row.last_seen, row.first_seen, row.seen = max(row.last_seen, self.now), min(row.first_seen, self.now), True
        return UPDATED if changed else UNCHANGED

    def _merge_into(self, row: Row, post: Post) -> bool:
        old = row.post
        observed = mg.new_counters(old, post) and not self._seen_before(row, post)
        if observed:
            self._observe(row, post)
        text_from_new = versioned = None
        if mg.is_edit(old, post):
            versioned = self._edit(row, post)
            text_from_new = bool(versioned)
        merged = mg.merge(old, post, text_from_new=text_from_new, counters_from_new=self.now >= row.last_seen)
        differs = merged != old
        if differs:
            row.post, row.dirty = merged, True
            row.searched_changed |= any(getattr(merged, f) != getattr(old, f) for f in _SEARCHED)
        return observed or differs or versioned is not None

    def _edit(self, row: Row, post: Post) -> bool | None:
        """Keep the text that is not current as a version; return whether the new text becomes current.

        None: the incoming text is one this post had before, already kept.
        """
        if row.old_texts is None:
            rows = self.conn.execute("SELECT text FROM post_versions WHERE post = ?", [row.id]).fetchall()
            row.old_texts = {r[0] for r in rows}
        if post.text in row.old_texts:
            return None
        newer = mg.edit_is_newer(row.post, post)
        if newer is None:
            newer = self.now >= row.text_since
        kept = row.post if newer else post
        since, until = (row.text_since, self.now) if newer else (None, None)
        self.versions.append((row.id, kept.title, kept.text, since, until, kept.source.format))
        row.old_texts.add(kept.text)
        if newer:
            row.text_since = self.now
        return newer

    def _seen_before(self, row: Row, post: Post) -> bool:
        """True when this sighting (an older one, arriving again) is already stored."""
        if self.now >= row.last_seen:
            return False  # a sighting from now on: its counters are compared with the current ones
        found = self.conn.execute(
            "SELECT 1 FROM observations WHERE post = ? AND observed_at = ? AND ifnull(format, '') = ?"
            " AND ifnull(path, '') = ?",
            [row.id, self.now, post.source.format, post.source.path or ""],
        ).fetchone()
        return found is not None

    def _path(self, path: str | None) -> str | None:
        """Return a source path as the store holds it (`storable`), once per path and batch."""
        try:
            return self.paths[path]
        except KeyError:
            stored = self.paths[path] = storable(path)
            return stored

    def _note_source(self, row: Row, post: Post) -> bool:
        source = post.source
        route = (source.format, self._path(source.path), source.index)
        if route in row.sources:
            return False
        row.sources.add(route)
        fmt, path, index = route
        null = self.null
        self.sources.append(
            (row.id, fmt, null if path is None else path, null if index is None else index, self.label, self.now)
        )
        return True

    def _observe(self, row: Row, post: Post) -> None:
        reactions = (
            json.dumps([[r.emoji, r.count] for r in post.reactions], ensure_ascii=False) if post.reactions else None
        )
        path, null = self._path(post.source.path), self.null
        self.observations.append(
            (
                row.id,
                self.now,
                null if post.views is None else post.views,
                null if post.forwards is None else post.forwards,
                null if post.replies is None else post.replies,
                null if reactions is None else reactions,
                post.source.format,
                null if path is None else path,
            )
        )

    def _note_channel(self, post: Post) -> None:
        if post.channel:
            key = post.channel.lower()
            _, channel_id, title = self.channels.get(key, (None, None, None))
            self.channels[key] = (post.channel, post.channel_id or channel_id, post.channel_title or title)
        elif post.message_id is not None:
            chat = mg.chat_key(post)
            if chat is not None:
                self.chats[chat] = (post.channel_id, post.channel_title or self.chats.get(chat, (None, None))[1])

    def rows(self) -> Iterator[Row]:
        return iter(self.by_ident.values())

    def write(self) -> list[tuple[int, Post]]:
        """Write everything the batch gathered but the search index of its new posts (`index`); return (id, post)
        of the new posts."""
        rows = list(self.rows())
        fresh = [r for r in rows if r.new]
        self.first_new = min((r.id for r in fresh), default=None)
        changed = [r for r in rows if r.dirty and not r.new]
        self.conn.executemany(_INSERT, [post_values(r, self.null) for r in fresh])
        if fresh:
            self.conn.execute(_ID_GIVEN, [max(r.id for r in fresh)])
        values = [(r, post_values(r, self.null)) for r in changed]
        self.conn.executemany(_UPDATE, [(*v[1:], r.id) for r, v in values if r.searched_changed])
        self.conn.executemany(_UPDATE_META, [(*v[1:7], *v[11:], r.id) for r, v in values if not r.searched_changed])
        self.conn.executemany(
            "UPDATE posts SET first_seen = ?, last_seen = ? WHERE id = ?",
            [(r.first_seen, r.last_seen, r.id) for r in rows if r.seen and not r.dirty],
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO post_sources (post, format, path, idx, input, first_seen) VALUES (?, ?, ?, ?, ?, ?)",
            self.sources,
        )
        self.conn.executemany(
            "INSERT INTO post_versions (post, title, text, since, until, format) VALUES (?, ?, ?, ?, ?, ?)",
            self.versions,
        )
        self.conn.executemany(
            "INSERT OR REPLACE INTO observations (post, observed_at, views, forwards, replies,"
            " reactions, format, path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            self.observations,
        )
        self.tags.link(self.conn, [(r.id, r.post.hashtags) for r in fresh + changed if r.post.hashtags])
        # New posts are indexed for echoes when the index is next read (passages.catch_up); edits of read ones now.
        passages.reindex(self.conn, [(r.id, r.post) for r in changed if r.searched_changed])
        return [(r.id, r.post) for r in sorted(fresh, key=lambda r: r.id)]

    def index(self) -> None:
        """Index the batch's new posts for search, in one statement, after `write` (and anything else the batch
        writes: no new post takes an id after it). SQLite runs it without Python's GIL, so the store reads the
        next batch's input meanwhile (Store.ingest). PostgreSQL indexes them itself (a generated tsvector column).
        """
        if self.first_new is not None and not is_postgres(self.conn):
            self.conn.execute(_INDEX_NEW, [self.first_new])


_INT64_MIN, _INT64_END = -(2**63), 2**63


def prepare(post: Post) -> Post:
    """Return a post the database can hold; ValueError for one it cannot."""
    for value in (post.message_id, post.views, post.forwards, post.channel_id):
        if value is not None and not _INT64_MIN <= value < _INT64_END:
            raise ValueError(f"{value} does not fit in a 64-bit integer")
    return post


def batches(posts: Iterable[Post], size: int) -> Iterator[list[Post]]:
    batch: list[Post] = []
    for post in posts:
        batch.append(post)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
