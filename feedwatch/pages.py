"""Addresses of the pages of `feedwatch serve`: one home for them, so the digest and the pages agree.

`base` is where serve is reached ("/" inside its own pages, or the `serve.base_url` setting, such as
http://127.0.0.1:8001, in a digest). Values are quoted; the caller escapes the URL for HTML.
"""

from __future__ import annotations

import re
from urllib.parse import quote

DATABASE = "feedwatch"  # the name serve gives the store: /feedwatch/posts, /feedwatch/search, ...


def _root(base: str) -> str:
    return base.rstrip("/") + "/" + DATABASE


def post_page(base: str, post: str | int) -> str:
    """Return the history page of a post: 'channel/id' or the store's row id."""
    return f"{_root(base)}/post_history?post={quote(str(post), safe='/')}"


def channel_page(base: str, channel: str) -> str:
    """Return a channel's profile page (a username, with or without @, or a forward origin's name)."""
    return f"{_root(base)}/channel_profile?channel={quote(channel.removeprefix('@'), safe='')}"


def tag_page(base: str, tag: str) -> str:
    """Return a tag's timeline page (any spelling, with or without #)."""
    return f"{_root(base)}/tag_timeline?tag={quote(tag.removeprefix('#'), safe='')}"


def campaign_page(base: str, campaign: int) -> str:
    """Return the page of one campaign alert (its row id)."""
    return f"{_root(base)}/campaign_alerts/{int(campaign)}"


_TME_POST = re.compile(r"https?://t\.me/(?:s/)?([A-Za-z][A-Za-z0-9_]{3,31})/(\d+)(?:[/?#].*)?")
_USERNAME = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{3,31})")


def post_ref(url: str | None) -> str | None:
    """Return 'channel/id' of a t.me post link, or None when `url` is not one."""
    match = _TME_POST.fullmatch(url or "")
    return f"{match.group(1)}/{match.group(2)}" if match else None


def channel_link(base: str, channel: str) -> str | None:
    """Return a channel's page when serve is configured (`base`), else its t.me page, or None for a mere name."""
    if base:
        return channel_page(base, channel)
    match = _USERNAME.fullmatch(channel)
    return f"https://t.me/{match.group(1)}" if match else None
