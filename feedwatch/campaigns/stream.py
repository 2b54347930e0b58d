"""How a Post enters the detector's stream: its time, its actor, whether it is a forward.

Stream time is the post's publication time. A post without one (text pasted
from a client) is placed at midnight UTC of its first dateline date and marked
approximate; a post with neither is left out of detection.

The actor and whether the post is a forward follow the one rule of
feedwatch.store.actor (the chat that published the post, else the forwarded
origin, else the file; a forward is a chat's post of another's), which the
store also keeps in its posts table for the digest and the channel profiles.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import NamedTuple

from feedwatch.models import Post
from feedwatch.store.actor import actor_from, actor_of, channel_of, origin_of

__all__ = ["Use", "actor_of", "channel_of", "origin_of", "stream_time", "use_of"]


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


def use_of(post: Post) -> Use | None:
    """Return how the detector sees a post, or None when the post has no time to place it at."""
    date = post.date
    if date is not None:  # stream_time's common case, inline: this runs for every post the detector reads
        t, approximate = date.timestamp(), "date" in post.approximate
    else:
        when = stream_time(post)
        if when is None:
            return None
        t, approximate = when
    channel = channel_of(post)
    source = post.forwarded_from
    origin = origin_of(post) if source is not None else None
    actor, forward = actor_from(post, channel, origin)
    return _new(
        Use,
        (
            t,
            approximate,
            actor,
            forward,
            post.url or (source.url if source is not None else None),
            channel,
            origin if forward else None,
            post.channel_title,
            post.channel or post.channel_title or "",
            post.channel_id,
            source.message_id if forward and source is not None else None,
        ),
    )


_new = tuple.__new__  # a Use of all its fields, without NamedTuple's keyword handling
