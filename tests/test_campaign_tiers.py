"""The tiers: each fires once per episode on what it is for, and not on the negatives."""

from __future__ import annotations

import dataclasses

from campaign_support import QUICK, at, background, detect, post, tiers_of

from feedwatch.campaigns import alerts
from feedwatch.campaigns.identity import tag_identity
from feedwatch.campaigns.model import TagState

CHANNELS = ["a", "b", "c", "d", "e", "f", "g", "h"]


def co_launch(day: float, tag: str, members: list[str], forwards: bool = False) -> list:
    """Members first use `tag` 20 minutes apart, then each uses it daily for four days (it persists)."""
    start = day * 24
    posts = []
    for i, ch in enumerate(members):
        origin = members[0] if forwards and i % 2 == 1 else None
        posts.append(post(start + i / 3, ch, tag, forward_of=origin))
    posts += [post(start + d * 24 + 2 + i / 3, ch, tag) for d in range(1, 5) for i, ch in enumerate(members)]
    return posts


def test_t1_fires_once_when_regular_partners_launch_together() -> None:
    posts = background(40, CHANNELS)
    posts += co_launch(8, "LaunchOne", ["a", "b", "c"]) + co_launch(15, "LaunchTwo", ["c", "a", "b"])
    posts += co_launch(20, "LaunchThree", ["b", "c", "a", "d"])
    conn = detect(posts)
    assert tiers_of(conn, "LaunchOne") == ["T2"]  # no co-launch history yet: caught when it persists
    assert tiers_of(conn, "LaunchTwo")[0] == "T1"  # the network's second push
    t1 = next(a for a in alerts(conn) if a.tag == "LaunchTwo" and a.tier == "T1")
    assert t1.alerted_at == at(15 * 24 + 2 / 3)  # the third partner's first post
    assert t1.first_seen == at(15 * 24)
    assert t1.channels[:3] == ("c", "a", "b")
    assert t1.evidence["value"] == 3 and t1.evidence["threshold"] == 3
    assert {link[1] for link in t1.evidence["links"]} == {"co-launched with"}
    assert 0 < t1.score <= 100


def test_t1_not_for_a_crowd_that_happens_to_include_partners() -> None:
    posts = background(40, CHANNELS)
    posts += co_launch(8, "LaunchOne", ["a", "b", "c"]) + co_launch(15, "LaunchTwo", ["a", "b", "c"])
    crowd = ["f", "g", "a", "h", "b", "d", "c", "e"]  # a news event: everyone within the hour, gone by evening
    posts += [post(21 * 24 + i / 10, ch, "Quake") for i, ch in enumerate(crowd)]
    conn = detect(posts)
    assert tiers_of(conn, "Quake") == []


def test_forwards_are_counted_apart_from_independent_posts() -> None:
    posts = background(40, CHANNELS)
    posts += co_launch(8, "LaunchOne", ["a", "b", "c", "d"]) + co_launch(15, "LaunchTwo", ["a", "b", "c", "d"])
    posts += co_launch(20, "Relay", ["a", "b", "c", "d"], forwards=True)
    conn = detect(posts)
    t1 = next(a for a in alerts(conn) if a.tag == "Relay" and a.tier == "T1")
    # a posts, b forwards a, c posts: T1 holds at c's post (three partners), one forward so far.
    assert (t1.posts, t1.forwards) == (2, 1)


def test_t2_fires_once_for_a_single_source_sustained_tag() -> None:
    posts = background(40, CHANNELS)
    posts += [post(5 * 24 + k * 14, "d", "Sustained") for k in range(20)]
    conn = detect(posts)
    assert tiers_of(conn, "Sustained") == ["T2"]
    t2 = next(a for a in alerts(conn) if a.tag == "Sustained")
    assert t2.evidence["value"] < t2.evidence["threshold"] == 0.001
    assert (t2.alerted_at - t2.first_seen).total_seconds() >= 48 * 3600
    assert t2.channels == ("d",) and t2.posts >= 3 and t2.evidence["episode"] == "novel"
    assert t2.evidence["samples"][0]["url"] == "https://t.me/d/0"


def test_t2_not_for_one_offs_news_or_a_revived_rubric() -> None:
    posts = background(80, CHANNELS)
    posts += [post(6 * 24 + k, "e", "OneOff") for k in range(3)]  # a short run within hours
    posts += [post(7 * 24 + k / 4, ch, "Storm") for k, ch in enumerate(CHANNELS * 2)]  # many channels, one day
    rubric = [post(d * 24 + 9, "f", "MorningDigest") for d in range(0, 10)]  # daily rubric, then paused
    rubric += [post(d * 24 + 9, "f", "MorningDigest") for d in range(45, 60)]  # revived after 35 days
    conn = detect(posts + rubric)
    assert tiers_of(conn, "OneOff") == tiers_of(conn, "Storm") == tiers_of(conn, "MorningDigest") == []


def test_t3_fires_once_per_burst_of_a_known_tag() -> None:
    posts = background(60, CHANNELS)
    burst = [post(30 * 24 + 10 + k / 60, CHANNELS[k % 8], "news") for k in range(40)]
    burst_next_hour = [post(30 * 24 + 11 + k / 60, CHANNELS[k % 8], "news") for k in range(40)]
    later = [post(40 * 24 + 10 + k / 60, CHANNELS[k % 8], "news") for k in range(40)]
    conn = detect(posts + burst + burst_next_hour + later)
    t3 = [a for a in alerts(conn) if a.tag == "news"]
    assert [a.tier for a in t3] == ["T3", "T3"]
    assert t3[0].alerted_at.date() == at(30 * 24).date() and t3[1].alerted_at.date() == at(40 * 24).date()
    assert t3[0].evidence["value"] >= 6 and t3[0].evidence["threshold"] == 6


def _state(conn, tag: str) -> TagState:  # type: ignore[no-untyped-def]
    row = conn.execute("SELECT state FROM campaign_tags WHERE tag = ?", (tag_identity(tag),)).fetchone()
    return TagState.unpack(row[0])


def test_episodes_open_on_first_use_and_reopen_after_30_days_of_silence() -> None:
    base = background(50, CHANNELS)
    conn = detect([*base, post(3 * 24, "a", "Gap"), post(3 * 24 + 29 * 24, "b", "Gap")])
    state = _state(conn, "Gap")
    assert state.ep_start == at(3 * 24).timestamp() and state.ep_novel and state.ep_posts == 2
    conn = detect([*base, post(3 * 24, "a", "Gap"), post(3 * 24 + 31 * 24, "b", "Gap")])
    state = _state(conn, "Gap")
    assert state.ep_start == at(34 * 24).timestamp() and not state.ep_novel
    assert state.ep_posts == 1 and state.past_weight == 1.0 and state.hist_chans == ["a"]


def test_warm_up_episodes_never_alert_as_new() -> None:
    posts = background(40, CHANNELS)
    posts += [post(k * 14, "d", "EarlyTag") for k in range(20)]  # starts with the stream
    assert tiers_of(detect(posts), "EarlyTag") == []


def test_translations_used_together_while_new_are_one_family_and_one_alert() -> None:
    posts = background(40, CHANNELS)
    posts += co_launch(8, "LaunchOne", ["a", "b", "c"]) + co_launch(15, "LaunchTwo", ["a", "b", "c"])
    both = [post(20 * 24 + i / 3, ch, "OurRules", "НашиПравила") for i, ch in enumerate(["a", "b", "c"])]
    both += [
        post(20 * 24 + d * 24 + 2 + i / 3, ch, "OurRules", "НашиПравила")
        for d in range(1, 5)
        for i, ch in enumerate(["a", "b", "c"])
    ]
    conn = detect(posts + both)
    found = [a for a in alerts(conn) if "OurRules" in a.tags]
    tiers = [a.tier for a in found]
    assert tiers[0] == "T1" and len(tiers) == len(set(tiers))  # not doubled: the two spellings of one campaign merge
    assert set(found[0].tags) == {"OurRules", "НашиПравила"}
    assert found[0].evidence["family_alerts"][0]["tag"] in ("OurRules", "НашиПравила")


def test_a_channel_that_joins_late_has_its_own_warm_up() -> None:
    posts = background(80, CHANNELS)
    posts += [post(20 * 24 + k * 12, "late", "HouseRubric") for k in range(30)]  # first seen on day 20
    posts += [post(70 * 24 + k * 14, "late", "NewPush") for k in range(12)]  # after its own warm-up
    conn = detect(posts, settings=dataclasses.replace(QUICK, warmup_days=30))
    assert tiers_of(conn, "HouseRubric") == []
    assert tiers_of(conn, "NewPush") == ["T2"]
