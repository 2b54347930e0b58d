"""The channels a post points at: its forward's origin, its @mentions, and its t.me links.

A channel is named by its username (lower case) when known. A forward whose
origin is given only by a numeric id is resolved to a username through the
channels the store knows (every stored post carries its channel's id). A chat
without a username is named as the store names it (feedwatch.store.merge.chat_key):
`i:<id>`, or `t:<title>` for an export that carries neither, so a graph never
merges two channels on a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from feedwatch.models import Post

FORWARD, MENTION, LINK = "forward", "mention", "link"
KINDS = (FORWARD, MENTION, LINK)

USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
# Paths under t.me that are Telegram's own pages, not channels.
_NOT_CHANNELS = frozenset(
    {
        "s",
        "c",
        "joinchat",
        "addstickers",
        "addemoji",
        "share",
        "proxy",
        "socks",
        "iv",
        "login",
        "setlanguage",
        "addtheme",
        "invoice",
        "boost",
        "contact",
        "bg",
        "m",
    }
)
_TME_HOSTS = frozenset({"t.me", "telegram.me", "telegram.dog", "www.t.me", "www.telegram.me"})


@dataclass(frozen=True, slots=True)
class Ref:
    """One reference from a post to a channel."""

    kind: str  # forward, mention, link
    target: str  # the node id: username (lower case), i:<id> or t:<title>
    title: str | None = None  # what the post calls the target, when it says


def username(name: str | None) -> str | None:
    """Return `name` as a node id (lower case, no @) when it is a valid channel username, else None."""
    if not name:
        return None
    bare = name.strip().lstrip("@")
    if USERNAME.fullmatch(bare) and "__" not in bare and not bare.endswith("_"):
        return bare.lower()
    return None


def tme_channel(url: str | None) -> str | None:
    """Return the channel a t.me link points at (t.me/name, t.me/name/123, t.me/s/name), else None."""
    if not url or "t" not in url:
        return None
    text = url if "://" in url else "https://" + url
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if (parts.hostname or "").lower() not in _TME_HOSTS:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0] == "s":
        segments = segments[1:]
    if not segments or segments[0].lower() in _NOT_CHANNELS:
        return None
    return username(segments[0])


def post_node(post: Post) -> str | None:
    """Return the node id of the chat a post was published in, or None when it names none."""
    if name := username(post.channel):
        return name
    from feedwatch.store.merge import chat_key  # here, so the CLI reads KINDS without loading the store

    return chat_key(post)


def refs(post: Post, ids: dict[int, str]) -> Iterator[Ref]:
    """Yield the references of `post` to other channels (a channel's references to itself are left out).

    `ids` maps numeric channel ids to known usernames (see `known_ids`).
    """
    own = post_node(post)
    origin = post.forwarded_from
    if origin is not None:
        target = username(origin.channel) or (tme_channel(origin.url) if origin.url else None)
        if target is None and origin.channel_id is not None:
            target = ids.get(origin.channel_id, f"i:{origin.channel_id}")
        if target is None and origin.name and origin.name.strip():
            from feedwatch.store.merge import title_key

            target = f"t:{title_key(origin.name)}"
        if target is not None and target != own:
            yield Ref(FORWARD, target, origin.name)
    seen: set[str] = set()
    for mention in post.mentions:
        target = username(mention)
        if target and target != own and target not in seen:
            seen.add(target)
            yield Ref(MENTION, target)
    seen.clear()
    for link in post.links:
        target = tme_channel(link.url)
        if target and target != own and target not in seen:
            seen.add(target)
            yield Ref(LINK, target)
