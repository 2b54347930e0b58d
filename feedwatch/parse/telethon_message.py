"""Telethon messages to Posts: a pure adapter, no client and no network (FORMATS.md §4).

`message_to_post()` reads only a message's raw TL fields, because the helpers
that need a client (`msg.text`, `msg.forward`, `msg.chat`) are empty offline.
Entity offsets and lengths count UTF-16 code units, so an emoji or a flag
before a hashtag shifts it by two units per astral character; the text is
sliced as UTF-16 for that reason.

A forward from a channel keeps the channel's bare id and the original post id
(`ForwardedFrom.channel_id`, `.message_id`, and the `t.me/c/<id>/<post>` link);
the username and title of that channel are not in the message. A service
message is kind "service" whose `service` is the action in snake case
("channel_create", "pin_message"); its text is the title the action carries,
if any. A web page preview becomes `Media("link_preview")` and a `Link`, as in
the t.me/s parser.

Only this module, the Telethon source and tests import telethon.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from telethon.tl import types

from feedwatch.models import ForwardedFrom, Link, Media, Poll, PollAnswer, Post, Reaction, Source
from feedwatch.parse.structure import finish

FORMAT = "telethon"


def message_to_post(msg: Any, channel: str | None = None, channel_title: str | None = None) -> Post:
    """Return the Post of a Telethon `Message` or `MessageService` (`channel` is the username, if known)."""
    channel_id = msg.peer_id.channel_id if isinstance(msg.peer_id, types.PeerChannel) else None
    service = _action_name(msg.action) if isinstance(msg, types.MessageService) else None
    text = (msg.message or "") if service is None else getattr(msg.action, "title", None) or ""
    hashtags, mentions, links = _entities(text, msg.entities or [])
    media, poll = _media(msg.media, links)
    return finish(
        Post(
            kind="service" if service else "post",
            channel=channel,
            message_id=msg.id,
            url=_url(channel, channel_id, msg.id),
            date=_utc(msg.date),
            edited=msg.edit_date is not None and not msg.edit_hide,
            views=msg.views,
            forwarded_from=_forwarded(msg.fwd_from),
            author=msg.post_author,
            text=text,
            hashtags=hashtags,
            mentions=mentions,
            links=tuple(links),
            media=media,
            source=Source(FORMAT),
            channel_id=channel_id,
            channel_title=channel_title,
            edit_date=_utc(msg.edit_date),
            forwards=msg.forwards,
            replies=msg.replies.replies if msg.replies is not None else None,
            reply_to=_reply_to(msg.reply_to),
            grouped_id=msg.grouped_id,
            reactions=_reactions(msg.reactions),
            poll=poll,
            service=service,
        )
    )


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _url(channel: str | None, channel_id: int | None, message_id: int) -> str | None:
    if channel:
        return f"https://t.me/{channel}/{message_id}"
    return f"https://t.me/c/{channel_id}/{message_id}" if channel_id else None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _action_name(action: Any) -> str:
    return _snake(type(action).__name__.removeprefix("MessageAction")) or "unknown"


def entity_text(text: str, offset: int, length: int) -> str:
    """Return the part of `text` an entity covers; offset and length count UTF-16 code units."""
    units = text.encode("utf-16-le", errors="surrogatepass")
    return units[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="replace")


def _entities(text: str, entities: list[Any]) -> tuple[tuple[str, ...], tuple[str, ...], list[Link]]:
    hashtags: list[str] = []
    mentions: list[str] = []
    links: list[Link] = []
    for entity in entities:
        piece = entity_text(text, entity.offset, entity.length)
        if isinstance(entity, types.MessageEntityHashtag):
            hashtags.append(piece.lstrip("#"))
        elif isinstance(entity, types.MessageEntityMention):
            mentions.append(piece.lstrip("@"))
        elif isinstance(entity, types.MessageEntityTextUrl):
            links.append(Link(piece, entity.url))
        elif isinstance(entity, types.MessageEntityUrl):
            # Telegram links a scheme-less URL as http://, as the web preview shows.
            links.append(Link(piece, piece if "://" in piece else "http://" + piece))
    return tuple(t for t in hashtags if t), tuple(m for m in mentions if m), links


def _forwarded(fwd: Any) -> ForwardedFrom | None:
    if fwd is None:
        return None
    channel_id = fwd.from_id.channel_id if isinstance(fwd.from_id, types.PeerChannel) else None
    url = None
    if channel_id and fwd.channel_post:
        url = f"https://t.me/c/{channel_id}/{fwd.channel_post}"
    elif isinstance(fwd.from_id, types.PeerUser):
        url = f"tg://user?id={fwd.from_id.user_id}"
    return ForwardedFrom(
        name=fwd.from_name,
        message_id=fwd.channel_post,
        url=url,
        author=fwd.post_author,
        channel_id=channel_id,
    )


def _reply_to(header: Any) -> int | None:
    # A reply to a message of another chat names that chat; its id is not one of this channel's.
    if isinstance(header, types.MessageReplyHeader) and header.reply_to_peer_id is None:
        return int(header.reply_to_msg_id) if header.reply_to_msg_id is not None else None
    return None


def _reactions(reactions: Any) -> tuple[Reaction, ...]:
    if reactions is None:
        return ()
    found = []
    for result in reactions.results or []:
        reaction = result.reaction
        if isinstance(reaction, types.ReactionEmoji):
            found.append(Reaction(reaction.emoticon, result.count))
        elif isinstance(reaction, types.ReactionCustomEmoji):
            found.append(Reaction(f"custom:{reaction.document_id}", result.count))
        elif isinstance(reaction, types.ReactionPaid):
            found.append(Reaction("paid", result.count))
    return tuple(found)


def _media(media: Any, links: list[Link]) -> tuple[tuple[Media, ...], Poll | None]:
    if media is None or isinstance(media, types.MessageMediaEmpty):
        return (), None
    if isinstance(media, types.MessageMediaPhoto):
        return (Media("photo"),), None
    if isinstance(media, types.MessageMediaDocument):
        return (_document(media),), None
    if isinstance(media, types.MessageMediaWebPage):
        return (_web_page(media.webpage, links),), None
    if isinstance(media, types.MessageMediaPoll):
        poll, kind = _poll(media.poll, media.results)
        return (Media("poll", note=kind),), poll
    if isinstance(media, types.MessageMediaGeo | types.MessageMediaGeoLive | types.MessageMediaVenue):
        return (Media("location"),), None
    return (Media(_snake(type(media).__name__.removeprefix("MessageMedia")) or "unknown"),), None


def _document(media: Any) -> Media:
    """The kind of a document: sticker, animation, round_video, video, voice, audio or document."""
    attributes = getattr(media.document, "attributes", None) or []
    by_type = {type(a): a for a in attributes}
    video = by_type.get(types.DocumentAttributeVideo)
    audio = by_type.get(types.DocumentAttributeAudio)
    named = by_type.get(types.DocumentAttributeFilename)
    if types.DocumentAttributeSticker in by_type:
        kind = "sticker"
    elif types.DocumentAttributeAnimated in by_type:
        kind = "animation"
    elif media.round or (video is not None and video.round_message):
        kind = "round_video"
    elif media.video or video is not None:
        kind = "video"
    elif media.voice or (audio is not None and audio.voice):
        kind = "voice"
    elif audio is not None:
        kind = "audio"
    else:
        kind = "document"
    note = named.file_name if named is not None else None
    if kind == "audio" and audio is not None and (audio.performer or audio.title):
        note = " — ".join(p for p in (audio.performer, audio.title) if p)
    return Media(kind, note=note)


def _web_page(page: Any, links: list[Link]) -> Media:
    url = getattr(page, "url", None)
    parts = [getattr(page, name, None) for name in ("site_name", "title", "description")]
    if url and all(link.url != url for link in links):
        links.append(Link(parts[1] or parts[0] or url, url))
    return Media("link_preview", note="\n".join(p for p in parts if p) or None, url=url)


def _plain(value: Any) -> str:
    """Text of a TextWithEntities (layer 229 polls) or of a plain string (older layers)."""
    return str(getattr(value, "text", value) or "")


def _poll(poll: Any, results: Any) -> tuple[Poll, str]:
    votes = {r.option: r.voters for r in (getattr(results, "results", None) or [])}
    answers = tuple(PollAnswer(_plain(a.text), voters=votes.get(a.option)) for a in poll.answers)
    total = getattr(results, "total_voters", None)
    kind = ("Public " if poll.public_voters else "Anonymous ") + ("Quiz" if poll.quiz else "Poll")
    return Poll(_plain(poll.question), answers, closed=bool(poll.closed), total_voters=total), kind
