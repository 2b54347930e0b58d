"""The Post record and its JSON Lines contract."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from conftest import ROOT
from hypothesis import given
from hypothesis import strategies as st

from feedwatch.models import (
    Dateline,
    ForwardedFrom,
    Link,
    Media,
    Poll,
    PollAnswer,
    Post,
    Reaction,
    Source,
    post_from_line,
    post_line,
    stored_json,
    stored_post,
)
from feedwatch.parse import parse_path

CONTRACT_KEYS = {
    "kind",
    "channel",
    "message_id",
    "url",
    "date",
    "edited",
    "views",
    "forwarded_from",
    "author",
    "title",
    "text",
    "key_points",
    "hashtags",
    "mentions",
    "links",
    "media",
    "datelines",
    "source",
    "fingerprint",
}


def full_post() -> Post:
    return Post(
        kind="post",
        channel="mfa_russia",
        message_id=12,
        url="https://t.me/mfa_russia/12",
        date=datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC),
        edited=True,
        views=2190000,
        forwarded_from=ForwardedFrom("Russian MFA 🇷🇺", "MFARussia", 7, "https://t.me/MFARussia/7"),
        author="Press office",
        title="Title",
        text="Title\n#Tag",
        key_points=("one",),
        hashtags=("Tag",),
        mentions=("durov",),
        links=(Link("Read in full", "https://mid.ru"),),
        media=(Media("video", "too big"),),
        datelines=(Dateline("Moscow", date(2024, 3, 1)),),
        source=Source("tme-html", "p.html", 3),
        fingerprint="abc",
        channel_id=1,
        channel_title="MFA",
        edit_date=datetime(2024, 3, 2, tzinfo=UTC),
        forwards=4,
        replies=5,
        reply_to=11,
        grouped_id=99,
        album=(12, 13),
        reactions=(Reaction("👍", 10),),
        poll=Poll("Q?", (PollAnswer("A", 3, 50.0),), True, 6),
        service=None,
        approximate=("views",),
    )


def test_every_contract_key_is_always_present() -> None:
    assert set(Post().to_json()) >= CONTRACT_KEYS
    assert Post().to_json()["forwarded_from"] is None
    assert Post().to_json()["hashtags"] == []


def test_round_trip_through_json_text() -> None:
    post = full_post()
    assert Post.from_json(json.loads(json.dumps(post.to_json()))) == post


def test_dates_are_utc_with_offset() -> None:
    post = Post(date=datetime(2024, 1, 1, 15, 0, tzinfo=UTC))
    assert post.to_json()["date"] == "2024-01-01T15:00:00+00:00"
    back = Post.from_json({**post.to_json(), "date": "2024-01-01T18:00:00+03:00"})
    assert back.date == post.date


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"kind": "tweet"}, "Invalid enum value 'tweet' - at `$.kind` (one of post, statement, service)"),
        ({"kind": None}, "got `null` - at `$.kind`"),
        ({"kind": ""}, "Invalid enum value '' - at `$.kind`"),
        ({"source": None}, "got `null` - at `$.source`"),
        ({"album": {}}, "Expected `array`, got `object` - at `$.album`"),
        ({"message_id": "12"}, "Expected `int | null`, got `str` - at `$.message_id`"),
        ({"message_id": True}, "got `bool` - at `$.message_id`"),
        ({"date": "2024-01-01T00:00:00"}, "timezone component - at `$.date`"),
        ({"hashtags": "Tag"}, "got `str` - at `$.hashtags`"),
        ({"hashtags": ["Tag", 3]}, "got `int` - at `$.hashtags[1]`"),
        ({"surprise": 1}, "unknown field `surprise`"),
        ({"links": [{"text": "x"}]}, "missing required field `url` - at `$.links[0]`"),
        ({"links": [{"text": "x", "url": None, "rel": "nofollow"}]}, "unknown field `rel` - at `$.links[0]`"),
        ({"poll": {"question": "Q", "answers": [{"text": "A", "voters": "3"}]}}, "at `$.poll.answers[0].voters`"),
        ({"channel": "proxy?server=1.2.3.4&port=443"}, "not a Telegram channel username .* at `\\$.channel`"),
        ({"forwarded_from": {"name": "x", "channel": "t.me/x"}}, "username .* at `\\$.forwarded_from.channel`"),
    ],
)
def test_from_json_rejects_what_is_not_a_post(patch: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message if "\\$" in message else re.escape(message)):
        Post.from_json({**full_post().to_json(), **patch})
    with pytest.raises(ValueError, match=message if "\\$" in message else re.escape(message)):
        post_from_line(json.dumps({**full_post().to_json(), **patch}))


def test_not_an_object_or_not_json() -> None:
    with pytest.raises(ValueError, match="a post must be a JSON object"):
        post_from_line("[1, 2]")
    with pytest.raises(ValueError, match="not JSON"):
        post_from_line('{"text": "cut off')


def test_nulls_and_absent_keys_read_as_defaults() -> None:
    post = post_from_line(
        '{"text": null, "hashtags": null, "links": null, "fingerprint": null, "channel": "@Some_one"}'
    )
    assert (post.text, post.hashtags, post.links, post.fingerprint, post.kind) == ("", (), (), "", "post")
    assert post.channel == "Some_one"  # as polling takes it
    assert post_from_line("{}") == Post()


def test_times_are_read_in_utc_and_written_as_before() -> None:
    post = post_from_line('{"date": "2024-01-01T18:00:00.5+03:00", "edit_date": "2024-01-02T00:00:00Z"}')
    assert post.date == datetime(2024, 1, 1, 15, 0, 0, 500000, tzinfo=UTC) and post.date.tzinfo is UTC
    line = post_line(post).decode()
    assert '"date":"2024-01-01T15:00:00.500000+00:00"' in line and '"edit_date":"2024-01-02T00:00:00+00:00"' in line


def test_a_time_in_another_zone_is_written_in_utc() -> None:
    moscow = timezone(timedelta(hours=3))
    post = Post(text="é", date=datetime(2024, 1, 1, 18, tzinfo=moscow), edit_date=datetime(2024, 1, 2, tzinfo=moscow))
    obj = json.loads(post_line(post))
    assert (obj["date"], obj["edit_date"], obj["text"]) == (
        "2024-01-01T15:00:00+00:00",
        "2024-01-01T21:00:00+00:00",
        "é",
    )
    assert b"\xc3\xa9" in post_line(post)  # UTF-8, not escaped


def test_a_text_that_looks_like_a_date_key_is_left_alone() -> None:
    text = '"date":"2024-01-01T00:00:00Z" and "edit_date":"Z"'
    post = Post(text=text, date=datetime(2024, 1, 1, tzinfo=UTC), datelines=(Dateline(None, date(2024, 1, 1)),))
    assert post_from_line(post_line(post)) == post
    assert json.loads(post_line(post))["text"] == text


def test_contract_line_keeps_the_key_order_and_every_key() -> None:
    obj = json.loads(post_line(full_post()))
    assert list(obj) == list(full_post().to_json()) and list(obj)[:5] == [
        "kind",
        "channel",
        "message_id",
        "url",
        "date",
    ]
    assert set(obj) >= CONTRACT_KEYS


def test_lone_surrogates_are_written_escaped() -> None:
    post = Post(text="a\udc80b", title="\ud800", channel_title="c\udfff", date=datetime(2024, 1, 1, tzinfo=UTC))
    line = post_line(post)
    assert b"\\udc80" in line and post_from_line(line) == post and Post.from_json(post.to_json()) == post
    assert json.loads(line)["date"] == "2024-01-01T00:00:00+00:00"
    stored = stored_json(post, frozenset(("title", "text", "author")))
    assert stored_post(stored, title=post.title, text=post.text) == post


def test_stored_json_leaves_out_columns_and_empties_and_reads_back() -> None:
    post = full_post()
    stored = stored_json(post, frozenset(("title", "text", "author")))
    obj = json.loads(stored)
    assert not {"title", "text", "author", "service"} & set(obj) and obj["key_points"] == ["one"]
    assert None not in obj.values()
    assert stored_post(stored, title=post.title, text=post.text, author=post.author) == post
    # What earlier versions stored (dates with offsets, nulls) still reads.
    old = '{"kind": "post", "channel": "c", "date": "2024-03-01T12:30:05+00:00", "hashtags": null, "source": {"format": "dump"}}'
    back = stored_post(old, text="x")
    assert back.date == datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC) and back.hashtags == ()
    assert back.channel == "c"  # checked when it came in, not again


def test_seed_posts_survive_the_round_trip() -> None:
    for post in parse_path(str(ROOT / "seeds" / "004_01d4050f5de082cc.txt")):
        assert Post.from_json(json.loads(json.dumps(post.to_json(), ensure_ascii=False))) == post


@given(
    text=st.text(),
    title=st.none() | st.text(),
    views=st.none() | st.integers(-(2**63), 2**63 - 1),
    when=st.none() | st.datetimes(timezones=st.just(UTC)),
    tags=st.lists(st.text(max_size=5), max_size=3),
    place=st.none() | st.text(max_size=5),
    day=st.dates(),
    percent=st.floats(allow_nan=False, allow_infinity=False),
)
def test_a_post_survives_every_form(
    text: str,
    title: str | None,
    views: int | None,
    when: datetime | None,
    tags: list[str],
    place: str | None,
    day: date,
    percent: float,
) -> None:
    post = Post(
        text=text,
        title=title,
        views=views,
        date=when,
        edit_date=when,
        hashtags=tuple(tags),
        datelines=(Dateline(place, day),),
        poll=Poll("Q", (PollAnswer("A", 1, percent),)),
        links=(Link(text, None),),
        source=Source("dump", text, 0),
    )
    assert post_from_line(post_line(post)) == post
    assert Post.from_json(post.to_json()) == post
    assert stored_post(stored_json(post, frozenset(("title", "text"))), title=title, text=text) == post
