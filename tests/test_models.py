"""The Post record and its JSON Lines contract."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from conftest import ROOT

from feedwatch.models import Dateline, ForwardedFrom, Link, Media, Poll, PollAnswer, Post, Reaction, Source
from feedwatch.parse import parse_path

CONTRACT_KEYS = {
    "kind", "channel", "message_id", "url", "date", "edited", "views", "forwarded_from", "author", "title",
    "text", "key_points", "hashtags", "mentions", "links", "media", "datelines", "source", "fingerprint",
}


def full_post() -> Post:
    return Post(
        kind="post", channel="mfa_russia", message_id=12, url="https://t.me/mfa_russia/12",
        date=datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC), edited=True, views=2190000,
        forwarded_from=ForwardedFrom("Russian MFA 🇷🇺", "MFARussia", 7, "https://t.me/MFARussia/7"),
        author="Press office", title="Title", text="Title\n#Tag", key_points=("one",), hashtags=("Tag",),
        mentions=("durov",), links=(Link("Read in full", "https://mid.ru"),), media=(Media("video", "too big"),),
        datelines=(Dateline("Moscow", date(2024, 3, 1)),), source=Source("tme-html", "p.html", 3),
        fingerprint="abc", channel_id=1, channel_title="MFA", edit_date=datetime(2024, 3, 2, tzinfo=UTC),
        forwards=4, replies=5, reply_to=11, grouped_id=99, album=(12, 13), reactions=(Reaction("👍", 10),),
        poll=Poll("Q?", (PollAnswer("A", 3, 50.0),), True, 6), service=None, approximate=("views",),
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
        ({"kind": "tweet"}, "kind"),
        ({"kind": None}, "kind"),
        ({"kind": ""}, "kind"),
        ({"source": None}, "source"),
        ({"album": {}}, "album"),
        ({"message_id": "12"}, "message_id"),
        ({"message_id": True}, "message_id"),
        ({"date": "2024-01-01T00:00:00"}, "offset"),
        ({"hashtags": "Tag"}, "hashtags"),
        ({"surprise": 1}, "unknown key"),
        ({"links": [{"text": "x"}]}, "links"),
    ],
)
def test_from_json_rejects_what_is_not_a_post(patch: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Post.from_json({**full_post().to_json(), **patch})


def test_seed_posts_survive_the_round_trip() -> None:
    for post in parse_path(str(ROOT / "seeds" / "004_01d4050f5de082cc.txt")):
        assert Post.from_json(json.loads(json.dumps(post.to_json(), ensure_ascii=False))) == post
