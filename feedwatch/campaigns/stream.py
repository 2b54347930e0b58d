"""How a Post enters the detector's stream: its time, its actor, whether it is a forward.

Stream time is the post's publication time. A post without one (text pasted
from a client) is placed at midnight UTC of its first dateline date and marked
approximate; a post with neither is left out of detection.

The actor is the chat that published the post, identified as the store
identifies it (feedwatch.store.merge.chat_key): its username, else `i:<numeric
id>`, else `t:<title>` for a Telegram Desktop export that names neither. When
the chat is not known (pasted dumps) the post is the origin's words passed on
by someone we do not monitor, so the actor is the origin: forwarded_from.channel,
else forwarded_from.name, else the source file the post came from. A post counts
as a forward only when a known chat passed on another actor's post; forwards
are amplification and are counted apart from independent posts.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import NamedTuple

from feedwatch.models import Post
from feedwatch.store.merge import chat_key, title_key


class Use(NamedTuple):
    """A post as the detector sees it."""

    t: float  # stream time, Unix seconds
    approximate: bool
    actor: str
    forward: bool
    url: str | None
    channel: str | None = None  # the publishing channel (lower case; "title:..." when it has no username)
    origin: str | None = None  # the channel (or name, or id) a forward came from, lower case
    title: str | None = None  # the channel's title, to name it when it has no username
    raw_channel: str = ""  # the channel as written (its initials make brand tags: BritainFirst -> #bf)
    channel_id: int | None = None
    origin_post: int | None = None  # the forwarded post's message id in its origin channel


def stream_time(post: Post) -> tuple[float, bool] | None:
    """Return (Unix time, approximate) of a post in the stream, or None when it has no time at all."""
    if post.date is not None:
        return post.date.timestamp(), "date" in post.approximate
    if post.datelines:
        return datetime.combine(post.datelines[0].date, time(0), UTC).timestamp(), True
    return None


def origin_of(post: Post) -> str | None:
    """Return the key of the channel a forward came from (username, else name, else id), or None."""
    origin = post.forwarded_from
    if origin is None:
        return None
    if origin.channel or origin.name:
        return (origin.channel or origin.name or "").lower()
    return f"i:{origin.channel_id}" if origin.channel_id else None


def channel_of(post: Post) -> str | None:
    """Return the key of the publishing chat as the store identifies it (feedwatch.store.merge.chat_key): its
    username, else `i:<numeric id>`, else `t:<title>` (an export that carries neither), else None."""
    chat = chat_key(post)
    if chat is None:
        return None
    return chat[2:] if chat.startswith("c:") else chat  # a username stands for itself


def actor_of(post: Post) -> tuple[str, bool]:
    """Return (actor, is a forward) of a post."""
    origin = origin_of(post)
    channel = channel_of(post)
    if channel:
        own_title = title_key(post.channel_title or "") or None  # an export forwarding its own chat's post
        return channel, origin is not None and origin != channel and title_key(origin) != own_title
    if origin is not None:
        return origin, False
    return f"file:{post.source.path or post.source.format}", False


def use_of(post: Post) -> Use | None:
    """Return how the detector sees a post, or None when the post has no time to place it at."""
    when = stream_time(post)
    if when is None:
        return None
    actor, forward = actor_of(post)
    url = post.url or (post.forwarded_from.url if post.forwarded_from else None)
    channel = channel_of(post)
    origin = origin_of(post) if forward else None
    return Use(
        when[0],
        when[1],
        actor,
        forward,
        url,
        channel,
        origin,
        post.channel_title,
        post.channel or post.channel_title or "",
        post.channel_id,
        post.forwarded_from.message_id if forward and post.forwarded_from else None,
    )
