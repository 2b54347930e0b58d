"""The Telethon adapter, on real Message objects built offline and round-tripped through TL bytes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import FIXTURES
from telethon.extensions import BinaryReader
from telethon.tl import types
from telethon.tl.patched import Message as PatchedMessage
from telethon.tl.patched import MessageService as PatchedService

from feedwatch.models import ForwardedFrom, Link, Media, PollAnswer, Reaction
from feedwatch.parse.telethon_message import entity_text, message_to_post

CHANNEL = types.PeerChannel(1006503122)
WHEN = datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC)
GOLDEN = FIXTURES / "telethon"


def units(text: str) -> int:
    """Length of `text` in UTF-16 code units, the way Telegram counts entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def span(text: str, piece: str) -> tuple[int, int]:
    start = text.index(piece)
    return units(text[:start]), units(piece)


def round_trip(obj: Any) -> Any:
    return BinaryReader(bytes(obj)).tgread_object()


def message(**fields: Any) -> Any:
    """A channel post with the given fields, as it comes back from its own TL bytes."""
    base: dict[str, Any] = {"id": 1234, "peer_id": CHANNEL, "date": WHEN, "message": "", "post": True}
    built = types.Message(**{**base, **fields})
    back = round_trip(built)
    assert type(back) is PatchedMessage and bytes(back) == bytes(built)
    return back


def document(*attributes: Any, mime: str = "application/octet-stream") -> Any:
    return types.Document(
        id=1,
        access_hash=2,
        file_reference=b"ref",
        date=WHEN,
        mime_type=mime,
        size=1024,
        dc_id=2,
        attributes=list(attributes),
    )


# Entities: UTF-16 offsets.

FLAGS_TEXT = "🇷🇺🇺🇳 Lavrov 👨‍👩‍👧 at the UN #UNCharterIsOurRules @MFARussia Read in full #НашиПравилаУставООН"


def flags_message() -> Any:
    text = FLAGS_TEXT
    return message(
        message=text,
        entities=[
            types.MessageEntityHashtag(*span(text, "#UNCharterIsOurRules")),
            types.MessageEntityMention(*span(text, "@MFARussia")),
            types.MessageEntityTextUrl(*span(text, "Read in full"), url="https://mid.ru/en/1865000/"),
            types.MessageEntityHashtag(*span(text, "#НашиПравилаУставООН")),
        ],
    )


def test_entity_offsets_count_utf16_units_past_flags_and_joined_emoji() -> None:
    post = message_to_post(flags_message(), channel="mfa_mirror")
    # Seven astral code points stand before "Read in full": a code-point slice would be 7 units off.
    assert post.links == (Link("Read in full", "https://mid.ru/en/1865000/"),)
    assert post.hashtags == ("UNCharterIsOurRules", "НашиПравилаУставООН")
    assert post.mentions == ("MFARussia",)
    assert post.text == FLAGS_TEXT


def test_entity_text_slices_utf16() -> None:
    text = "🇪🇺 a #tag"
    assert entity_text(text, 7, 4) == "#tag"
    assert text[7:11] != "#tag"  # what a code-point slice would wrongly give
    assert entity_text("😀", 1, 1) == "\ufffd"  # half a surrogate pair is replaced, never an exception


def test_url_entities() -> None:
    text = "See telegram.org/blog and https://t.me/durov/1 or this page"
    post = message_to_post(
        message(
            message=text,
            entities=[
                types.MessageEntityUrl(*span(text, "telegram.org/blog")),
                types.MessageEntityUrl(*span(text, "https://t.me/durov/1")),
                types.MessageEntityTextUrl(*span(text, "this page"), url="https://example.org/p"),
            ],
        )
    )
    assert post.links[:3] == (
        Link("telegram.org/blog", "http://telegram.org/blog"),
        Link("https://t.me/durov/1", "https://t.me/durov/1"),
        Link("this page", "https://example.org/p"),
    )


# Everything else a channel post carries.


def test_counts_edits_album_replies_and_ids() -> None:
    post = message_to_post(
        message(
            message="news #Economy",
            views=15300,
            forwards=42,
            post_author="Jane Doe",
            grouped_id=13612345678901234,
            edit_date=WHEN + timedelta(hours=1),
            replies=types.MessageReplies(replies=7, replies_pts=99, comments=True, channel_id=2000000),
            reply_to=types.MessageReplyHeader(reply_to_msg_id=1200),
        ),
        channel="durov",
        channel_title="Pavel Durov",
    )
    assert (post.channel, post.message_id, post.url) == ("durov", 1234, "https://t.me/durov/1234")
    assert (post.channel_id, post.channel_title, post.date) == (1006503122, "Pavel Durov", WHEN)
    assert (post.views, post.forwards, post.replies, post.reply_to) == (15300, 42, 7, 1200)
    assert (post.author, post.grouped_id, post.edited) == ("Jane Doe", 13612345678901234, True)
    assert post.edit_date == WHEN + timedelta(hours=1) and post.approximate == ()
    assert post.hashtags == ("Economy",) and post.source.format == "telethon"


def test_without_a_username_the_url_uses_the_channel_id() -> None:
    post = message_to_post(message(message="x"))
    assert post.channel is None and post.url == "https://t.me/c/1006503122/1234"


def test_hidden_edit_and_reply_to_another_chat() -> None:
    post = message_to_post(
        message(
            message="x",
            edit_date=WHEN,
            edit_hide=True,
            reply_to=types.MessageReplyHeader(reply_to_msg_id=5, reply_to_peer_id=types.PeerChannel(42)),
        )
    )
    assert post.edited is False and post.edit_date == WHEN and post.reply_to is None


def test_dates_become_utc() -> None:
    kyiv = timezone(timedelta(hours=3))
    post = message_to_post(message(message="x", date=datetime(2024, 3, 1, 15, 30, 5, tzinfo=kyiv)))
    assert post.date == WHEN and post.date.tzinfo == UTC


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            types.MessageFwdHeader(
                date=WHEN, from_id=types.PeerChannel(1101170442), channel_post=777, post_author="Ann"
            ),
            ForwardedFrom(None, None, 777, "https://t.me/c/1101170442/777", "Ann", 1101170442),
        ),
        (types.MessageFwdHeader(date=WHEN, from_name="Hidden Sender"), ForwardedFrom("Hidden Sender")),
        (types.MessageFwdHeader(date=WHEN, from_id=types.PeerUser(42)), ForwardedFrom(None, url="tg://user?id=42")),
    ],
    ids=["channel", "hidden", "user"],
)
def test_forwards(header: Any, expected: ForwardedFrom) -> None:
    assert message_to_post(message(message="fwd", fwd_from=header)).forwarded_from == expected


def test_reactions() -> None:
    reactions = types.MessageReactions(
        results=[
            types.ReactionCount(reaction=types.ReactionPaid(), count=26700),
            types.ReactionCount(reaction=types.ReactionEmoji(emoticon="👍"), count=44),
            types.ReactionCount(reaction=types.ReactionCustomEmoji(document_id=5265077361648368841), count=3),
        ]
    )
    post = message_to_post(message(message="x", reactions=reactions))
    assert post.reactions == (
        Reaction("paid", 26700),
        Reaction("👍", 44),
        Reaction("custom:5265077361648368841", 3),
    )


STICKER_SET = types.InputStickerSetEmpty()
MEDIA = {
    "photo": (
        types.MessageMediaPhoto(
            photo=types.Photo(
                id=1,
                access_hash=2,
                file_reference=b"r",
                date=WHEN,
                sizes=[types.PhotoSize("x", 800, 600, 1000)],
                dc_id=2,
            )
        ),
        Media("photo"),
    ),
    "video": (
        types.MessageMediaDocument(
            video=True,
            document=document(
                types.DocumentAttributeVideo(duration=9.5, w=1280, h=720),
                types.DocumentAttributeFilename("clip.mp4"),
                mime="video/mp4",
            ),
        ),
        Media("video", "clip.mp4"),
    ),
    "round": (
        types.MessageMediaDocument(
            round=True, document=document(types.DocumentAttributeVideo(duration=12, w=384, h=384, round_message=True))
        ),
        Media("round_video"),
    ),
    "voice": (
        types.MessageMediaDocument(voice=True, document=document(types.DocumentAttributeAudio(duration=7, voice=True))),
        Media("voice"),
    ),
    "audio": (
        types.MessageMediaDocument(
            document=document(
                types.DocumentAttributeAudio(duration=200, performer="Choir", title="Anthem"),
                types.DocumentAttributeFilename("anthem.mp3"),
            )
        ),
        Media("audio", "Choir — Anthem"),
    ),
    "sticker": (
        types.MessageMediaDocument(document=document(types.DocumentAttributeSticker(alt="👍", stickerset=STICKER_SET))),
        Media("sticker"),
    ),
    "animation": (
        types.MessageMediaDocument(
            document=document(types.DocumentAttributeAnimated(), types.DocumentAttributeVideo(duration=3, w=320, h=240))
        ),
        Media("animation"),
    ),
    "document": (
        types.MessageMediaDocument(document=document(types.DocumentAttributeFilename("report.pdf"))),
        Media("document", "report.pdf"),
    ),
    "geo": (types.MessageMediaGeo(geo=types.GeoPoint(long=37.6, lat=55.7, access_hash=1)), Media("location")),
    "dice": (types.MessageMediaDice(value=6, emoticon="🎲"), Media("dice")),
}


@pytest.mark.parametrize("name", list(MEDIA))
def test_media_kinds(name: str) -> None:
    media, expected = MEDIA[name]
    assert message_to_post(message(message="", media=media)).media == (expected,)


def test_web_page_preview_is_media_and_a_link() -> None:
    page = types.WebPage(
        id=1,
        url="https://9to5mac.com/x",
        display_url="9to5mac.com/x",
        hash=0,
        site_name="9to5Mac",
        title="FBI used iPhone notification data",
        description="The FBI …",
    )
    post = message_to_post(message(message="got access", media=types.MessageMediaWebPage(webpage=page)))
    assert post.media == (
        Media("link_preview", "9to5Mac\nFBI used iPhone notification data\nThe FBI …", "https://9to5mac.com/x"),
    )
    assert post.links == (Link("FBI used iPhone notification data", "https://9to5mac.com/x"),)


def test_poll_with_results() -> None:
    poll = types.Poll(
        id=9,
        hash=0,
        quiz=True,
        closed=True,
        question=types.TextWithEntities("Which year? 🗳", []),
        answers=[
            types.PollAnswer(types.TextWithEntities("2021", []), b"0"),
            types.PollAnswer(types.TextWithEntities("2023", []), b"1"),
        ],
    )
    results = types.PollResults(
        total_voters=30,
        results=[
            types.PollAnswerVoters(option=b"0", voters=10, recent_voters=[types.PeerUser(7)]),
            types.PollAnswerVoters(option=b"1", voters=20, recent_voters=[types.PeerUser(8)]),
        ],
    )
    post = message_to_post(message(message="", media=types.MessageMediaPoll(poll=poll, results=results)))
    assert post.poll is not None
    assert (post.poll.question, post.poll.closed, post.poll.total_voters) == ("Which year? 🗳", True, 30)
    assert post.poll.answers == (PollAnswer("2021", voters=10), PollAnswer("2023", voters=20))
    assert post.media == (Media("poll", "Anonymous Quiz"),)


def service(action: Any, **fields: Any) -> Any:
    built = types.MessageService(id=1, peer_id=CHANNEL, date=WHEN, action=action, post=True, **fields)
    back = round_trip(built)
    assert type(back) is PatchedService
    return back


def test_service_messages() -> None:
    created = message_to_post(service(types.MessageActionChannelCreate(title="Feedwatch Test")))
    assert (created.kind, created.service, created.text) == ("service", "channel_create", "Feedwatch Test")
    pinned = message_to_post(
        service(types.MessageActionPinMessage(), reply_to=types.MessageReplyHeader(reply_to_msg_id=11))
    )
    assert (pinned.kind, pinned.service, pinned.text, pinned.reply_to) == ("service", "pin_message", "", 11)


# Golden: TL bytes kept in a file (base64, one message a line) and the Posts they give.


def golden_messages() -> dict[str, Any]:
    return {
        "flags": flags_message(),
        "forward": message(
            message="Forwarded words",
            views=100,
            forwards=3,
            fwd_from=types.MessageFwdHeader(date=WHEN, from_id=types.PeerChannel(1101170442), channel_post=777),
        ),
        **{f"media_{name}": message(message=f"{name} post", media=media) for name, (media, _) in MEDIA.items()},
        "service": service(types.MessageActionChannelCreate(title="Feedwatch Test")),
    }


def test_stored_tl_bytes_match_golden(golden, request) -> None:  # type: ignore[no-untyped-def]
    stored = GOLDEN / "messages.b64"
    if request.config.getoption("--regen-golden") or not stored.exists():
        GOLDEN.mkdir(parents=True, exist_ok=True)
        lines = [f"{name}\t{base64.b64encode(bytes(msg)).decode()}" for name, msg in golden_messages().items()]
        stored.write_text("\n".join(lines) + "\n", encoding="utf-8")
    posts = {}
    for line in stored.read_text(encoding="utf-8").splitlines():
        name, data = line.split("\t")
        posts[name] = message_to_post(BinaryReader(base64.b64decode(data)).tgread_object(), channel="fwtest")
    assert set(posts) == set(golden_messages())
    golden(GOLDEN / "messages.golden.json", {name: post.to_json() for name, post in posts.items()})
