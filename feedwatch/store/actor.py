"""Who published or pushed a post (its actor), whether it is a forward, and how to name the actor: one rule.

The actor is the chat that published the post, identified as the store
identifies it (feedwatch.store.merge.chat_key): its username (lower case), else
`i:<numeric id>`, else `t:<title>` for a Telegram Desktop export that names
neither. When the chat is not known (pasted dumps) the post is the origin's
words passed on by someone we do not monitor, so the actor is the origin:
forwarded_from.channel, else forwarded_from.name (lower case), else
`i:<origin's numeric id>`; else the source file the post came from
(`file:<path or format>`). A post counts as a forward only when a known chat
passed on another actor's post (not its own chat's, which an export may name by
title); forwards are amplification and are counted apart from independent posts.

The campaign detector applies this rule to each post it reads
(feedwatch.campaigns.stream). The store applies it once when it writes a post
and keeps the result in three columns of `posts` (migration 015), which the
digest, `feedwatch channels` and the served queries read instead of deriving
the actor again in SQL:

    actor       the actor's key (above)
    origin      the origin's key when the post is a forward, else NULL (a forward is `origin IS NOT NULL`)
    actor_name  how to name the actor to a reader, as written: '@Username', the chat's title,
                the forwarded name, 'channel <id>' or 'file:<path>'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from feedwatch.models import Post
from feedwatch.store.backend import Connection, paged
from feedwatch.store.merge import chat_key, title_key

TITLE = "t:"  # the key of a chat known only by its title, as the store names it (feedwatch.store.merge.chat_key)
NUMBERED = "i:"  # the key of a chat known only by its numeric id
FILE = "file:"  # the key of a post that names no chat and no origin: the file it was read from
COLUMNS = ("actor", "origin", "actor_name")  # of posts, in this order (see Actor)
_SET = "UPDATE posts SET actor = ?, origin = ?, actor_name = ? WHERE id = ?"
BACKFILL_PAGE = 5000  # rows read and written at a time when the columns are filled for stored posts


class Actor(NamedTuple):
    """A post's actor as the store keeps it (the columns of the same names)."""

    actor: str
    origin: str | None  # the origin's key when the post is a forward
    actor_name: str


def origin_of(post: Post) -> str | None:
    """Return the key of the channel a forward came from (username, else name, else id), or None."""
    origin = post.forwarded_from
    if origin is None:
        return None
    if origin.channel or origin.name:
        return (origin.channel or origin.name or "").lower()
    return f"{NUMBERED}{origin.channel_id}" if origin.channel_id else None


def channel_of(post: Post) -> str | None:
    """Return the key of the publishing chat as the store identifies it (feedwatch.store.merge.chat_key): its
    username, else `i:<numeric id>`, else `t:<title>` (an export that carries neither), else None."""
    chat = chat_key(post)
    if chat is None:
        return None
    return chat[2:] if chat.startswith("c:") else chat  # a username stands for itself


def actor_of(post: Post) -> tuple[str, bool]:
    """Return (actor, is a forward) of a post."""
    return actor_from(post, channel_of(post), origin_of(post))


def actor_from(post: Post, channel: str | None, origin: str | None) -> tuple[str, bool]:
    """Return (actor, is a forward) of a post whose `channel_of` and `origin_of` are known already."""
    if channel:
        if origin is None or origin == channel:
            return channel, False
        own_title = title_key(post.channel_title or "") or None  # an export forwarding its own chat's post
        return channel, title_key(origin) != own_title
    if origin is not None:
        return origin, False
    return f"{FILE}{post.source.path or post.source.format}", False


def channel_label(key: str) -> str:
    """Return how to name an actor key to a reader when nothing else is known: a title, `channel <id>`, @key."""
    if key.startswith(TITLE):
        return key[len(TITLE) :]
    if key.startswith(NUMBERED):
        return f"channel {key[len(NUMBERED) :]}"
    if key.startswith(FILE):
        return key
    return "@" + key


def actor_name(post: Post, actor: str) -> str:
    """Return how to name the actor `actor` of `post` to a reader, as the post writes it."""
    if chat_key(post) is not None:
        if post.channel:
            return "@" + post.channel
        if post.channel_title and post.channel_title.strip():
            return post.channel_title.strip()
        return channel_label(actor)
    origin = post.forwarded_from
    if origin is not None and (origin.channel or origin.name):
        return "@" + origin.channel if origin.channel else (origin.name or "").strip() or actor
    return channel_label(actor)


def of(post: Post) -> Actor:
    """Return the actor columns of a post."""
    actor, forward = actor_of(post)
    return Actor(actor, origin_of(post) if forward else None, actor_name(post, actor))


def backfill(conn: Connection, progress: Callable[[Iterator[Any], int], Iterator[Any]] | None = None) -> int:
    """Fill the actor columns of every stored post (what migration 015 does for an older store); return how many.

    Rows are read and written a page at a time, so memory stays flat. `progress(rows, total)` may wrap the
    stream of stored rows (a bar); it gets their count.
    """
    from feedwatch.store.rows import post_from_row

    rows = paged(conn, "SELECT id, title, text, author, json FROM posts", page=BACKFILL_PAGE)
    if progress is not None:
        rows = progress(rows, int(conn.execute("SELECT count(*) FROM posts").fetchone()[0]))
    done, page = 0, []
    for row in rows:
        page.append((*of(post_from_row(row[1:])), row[0]))
        if len(page) >= BACKFILL_PAGE:
            conn.executemany(_SET, page)
            done, page = done + len(page), []
    conn.executemany(_SET, page)
    return done + len(page)


def update(conn: Connection, where: str, parameters: list[Any]) -> None:
    """Recompute the actor columns of the stored posts `where` selects (after SQL changed their chat)."""
    from feedwatch.store.rows import post_from_row

    rows = conn.execute(f"SELECT id, title, text, author, json FROM posts WHERE {where}", parameters).fetchall()
    conn.executemany(_SET, [(*of(post_from_row(r[1:])), r[0]) for r in rows])
