"""How two sightings of one post become one record: pure functions over Posts.

- Identity: a post with a message id is its chat and that id. The chat is the
  channel's username when known (`c:<username>/<id>`), else its numeric id
  (`i:<channel id>/<id>`), else, for an export that names neither, the
  export's chat title (`t:<title>/<id>`); an id with no chat at all is kept
  apart by its text (`m:<id>/<fingerprint>`). A post without an id is its
  text fingerprint `f:<fingerprint>` (one with no words at all is identified
  by its whole record, `r:`). Fingerprints never join two posts with ids: they
  only let an id-less copy be claimed by the post with an id it copies.
- Fields: the richer sighting (more known fields) wins each field it knows;
  nothing known is ever replaced by an unknown (null or empty) value.
- Text and what is derived from it (title, key points, hashtags, ...) move
  together, from one sighting, so they never disagree.
- Counters (views, forwards, replies, reactions) take the newest sighting's
  known values.
- An edit never un-happens: `edited` is true once any sighting shows an edit,
  and `edit_date` is the latest one known.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import operator
import unicodedata
from collections.abc import Callable
from typing import Any

from feedwatch.models import Post
from feedwatch.parse.text import fingerprint
from feedwatch.parse.tg_export import post_url

EMPTY_FINGERPRINT = fingerprint("")
TEXT_FIELDS = ("text", "title", "key_points", "hashtags", "mentions", "links", "datelines", "fingerprint")
COUNTERS = ("views", "forwards", "replies", "reactions")
_FIELDS = tuple(f.name for f in dataclasses.fields(Post))
_OTHER_FIELDS = tuple(
    name
    for name in _FIELDS
    if name not in TEXT_FIELDS and name not in COUNTERS and name not in ("approximate", "source")
)


# Prefixes of the identities of posts with a message id (see the module docstring).
KEYED = ("c:", "i:", "t:", "m:")


def title_key(title: str) -> str:
    """Return a chat title as an identity: NFKC, case-folded, runs of spaces made one."""
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def chat_key(post: Post) -> str | None:
    """Return the identity of the chat a post is in (`c:`, `i:` or `t:`), or None when nothing names it."""
    if post.channel:
        return f"c:{post.channel.lower()}"
    if post.channel_id is not None:
        return f"i:{post.channel_id}"
    if post.channel_title and post.channel_title.strip():
        return f"t:{title_key(post.channel_title)}"
    return None


def keyed_ident(post: Post) -> str | None:
    """Return the chat+id identity of a post, or None when it has no message id."""
    if post.message_id is None:
        return None
    chat = chat_key(post)
    if chat is None:
        return f"m:{post.message_id}/{post.fingerprint}"
    return f"{chat}/{post.message_id}"


def with_username(post: Post, username: str) -> Post:
    """Return a post of a chat known by its numeric id, with the username the chat is known by (and its link)."""
    return dataclasses.replace(post, channel=username, url=post.url or post_url(username, post.message_id))


def is_keyed(ident: str) -> bool:
    """True for the identity of a post with a message id."""
    return ident.startswith(KEYED)


def ident(post: Post) -> str:
    """Return the identity a post is stored under."""
    keyed = keyed_ident(post)
    if keyed:
        return keyed
    if post.fingerprint and post.fingerprint != EMPTY_FINGERPRINT:
        return f"f:{post.fingerprint}"
    record = post.to_json()
    del record["source"]
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"r:{digest[:32]}"


def known(value: object) -> bool:
    return value is not None and value != "" and value != ()


def richness(post: Post) -> int:
    """Return how many fields of `post` are known: the measure of the richer source."""
    return sum(1 for name in _FIELDS if known(getattr(post, name)))


counters: Callable[[Post], tuple[Any, ...]] = operator.attrgetter(*COUNTERS)


def new_counters(old: Post, new: Post) -> bool:
    """True when `new` carries a known counter value that differs from `old`'s."""
    return any(known(n) and n != o for n, o in zip(counters(new), counters(old), strict=True))


def is_edit(old: Post, new: Post) -> bool:
    """True when `new` carries a different text: changed words, or any change from the same format.

    Two formats render one text differently (spacing, emoji, punctuation), so
    across formats only a changed fingerprint counts as an edit.
    """
    if not new.text or not old.text or new.text == old.text:
        return False  # an empty text is an unknown one: filling it in is not an edit
    if new.fingerprint != old.fingerprint:
        return True
    return new.source.format == old.source.format


def edit_is_newer(old: Post, new: Post) -> bool | None:
    """Return whether `new`'s text is the later edit by the posts' edit dates, or None if they cannot tell."""
    if old.edit_date and new.edit_date and old.edit_date != new.edit_date:
        return new.edit_date > old.edit_date
    return None


def merge(old: Post, new: Post, *, text_from_new: bool | None = None, counters_from_new: bool = True) -> Post:
    """Return the one record of two sightings of a post.

    `text_from_new` forces where the text group comes from (an edit); None lets
    the richer sighting give it.
    """
    new_richer = richness(new) > richness(old)
    primary, secondary = (new, old) if new_richer else (old, new)
    picked: dict[str, Post] = {}
    for name in _OTHER_FIELDS:
        picked[name] = primary if known(getattr(primary, name)) else secondary
    for name in COUNTERS:
        first, second = (new, old) if counters_from_new else (old, new)
        picked[name] = first if known(getattr(first, name)) else second
    text_source = new if text_from_new else old
    if text_from_new is None:
        text_source = primary if primary.text else secondary
    for name in TEXT_FIELDS:
        picked[name] = text_source
    values = {name: getattr(post, name) for name, post in picked.items()}
    approximate = [name for name in old.approximate if picked.get(name) is old]
    approximate += [name for name in new.approximate if picked.get(name) is new and name not in approximate]
    values["approximate"] = tuple(approximate)
    values["source"] = primary.source
    # An edit never un-happens: once any sighting shows one (or the text changed), the post is edited.
    if old.edited or new.edited or text_from_new:
        values["edited"] = True
    edit_dates = [d for d in (old.edit_date, new.edit_date) if d is not None]
    if edit_dates:
        values["edit_date"] = max(edit_dates)
    return Post(**values)
