"""Actors learned from forwarding, forward cascades, rubrics told apart, and the settings that must not break."""

from __future__ import annotations

import dataclasses

from campaign_support import QUICK, at, background, detect, post, tiers_of

from feedwatch.campaigns import alerts
from feedwatch.models import Post

CHANNELS = ["a", "b", "c", "d", "e", "f", "g", "h"]


def test_new_days_above_a_week_counts_every_day() -> None:
    posts = background(30, CHANNELS)
    posts += [post(10 * 24 + k * 20, "a", "LongPush") for k in range(12)]  # used on days 0-9 of its episode
    conn = detect(posts, settings=dataclasses.replace(QUICK, new_days=10))
    assert "T2" in tiers_of(conn, "LongPush")


def _amplified(days: int, hub: str, network: list[str]) -> list[Post]:
    """The hub posts daily (untagged); each network channel forwards it every other day."""
    posts = [post(d * 24 + 1, hub, mid=d + 1) for d in range(days)]
    posts += [post(d * 24 + 2 + i / 10, ch, forward_of=hub) for d in range(0, days, 2) for i, ch in enumerate(network)]
    return posts


def test_a_forward_cascade_from_an_origin_its_network_amplifies_is_t1_within_hours() -> None:
    network = ["b", "c", "d"]
    posts = background(30, CHANNELS) + _amplified(30, "hub", network)
    posts.append(post(20 * 24 + 3, "hub", "FreeHim", mid=500))
    posts += [post(20 * 24 + 3.5 + i, ch, "FreeHim", forward_of="hub") for i, ch in enumerate(network)]
    conn = detect(posts)
    t1 = [a for a in alerts(conn) if a.tag == "FreeHim" and a.tier == "T1"]
    assert len(t1) == 1
    assert t1[0].alerted_at == at(20 * 24 + 5.5)  # the third forward, 2.5 h after the origin's post
    summary = " ".join(t1[0].evidence["summary"])
    assert "@hub posted #FreeHim" in summary and "regularly forward it" in summary
    assert 0 <= t1[0].score <= 100


def test_the_same_cascade_by_channels_that_never_forwarded_the_origin_is_not_t1() -> None:
    posts = background(30, CHANNELS)
    posts.append(post(20 * 24 + 3, "hub", "FreeHim", mid=500))
    posts += [post(20 * 24 + 3.5 + i, ch, "FreeHim", forward_of="hub") for i, ch in enumerate(["b", "c", "d"])]
    conn = detect(posts)
    assert "T1" not in tiers_of(conn, "FreeHim")


def test_a_satellite_counts_once_with_its_origin() -> None:
    posts = background(30, CHANNELS)
    posts += [post(d * 24 + 2, "echo", forward_of="a") for d in range(30) for _ in range(2)]  # only forwards a
    posts += [post(20 * 24 + 1 + h * 24, "a", "Solo") for h in range(5)]
    posts += [post(20 * 24 + 1.2 + h * 24, "echo", "Solo", forward_of="a") for h in range(5)]
    conn = detect(posts)
    found = [a for a in alerts(conn) if a.tag == "Solo"]
    assert found and all(a.channels == ("a",) for a in found)  # echo speaks for a


def test_a_channel_that_keeps_coining_series_tags_is_routine_and_a_break_is_not() -> None:
    posts = background(60, CHANNELS)
    for n in range(8):  # a new place tag every 5 days, used on three days
        posts += [post((10 + 5 * n) * 24 + 3 + d * 24, "walker", f"Place{n}") for d in range(3) for _ in range(2)]
    posts.append(post(1, "quiet"))  # its history starts with its first post, untagged
    posts += [post(30 * 24 + 3 + d * 24, "quiet", "Vote") for d in range(5) for _ in range(2)]
    conn = detect(posts)
    late = [tiers_of(conn, f"Place{n}") for n in range(3, 8)]
    assert late == [[]] * 5  # its habit by then: one more of its series
    t2 = [a for a in alerts(conn) if a.tag == "Vote" and a.tier == "T2"]
    assert len(t2) == 1 and "breaks its habit" in " ".join(t2[0].evidence["summary"])


def test_a_channels_own_name_or_initials_is_a_brand_tag() -> None:
    posts = background(30, CHANNELS)
    posts += [post(20 * 24 + d * 24 + 1, "AmericanFreedomParty", "AFP") for d in range(5)]
    conn = detect(posts)
    assert tiers_of(conn, "AFP") == []


def test_t3_samples_come_from_the_burst_hour() -> None:
    posts = [post(h, "a", "Evergreen", mid=h + 1) for h in range(0, 20 * 24, 12)]
    posts += [post(19 * 24 + 0.5 + i / 100, CHANNELS[i % 8], "Evergreen", mid=1000 + i) for i in range(30)]
    conn = detect(posts)
    t3 = [a for a in alerts(conn) if a.tier == "T3"]
    assert t3
    urls = [s["url"] for s in t3[0].evidence["samples"]]
    assert urls and all(not url.endswith("/1") for url in urls)
    assert all(int(url.rsplit("/", 1)[1]) >= 19 * 24 + 1 for url in urls)  # posts of that hour, not of day 0
    assert 0 < t3[0].score <= 30


def test_scores_are_bounded_and_a_known_tags_burst_never_outranks_a_campaign() -> None:
    from feedwatch.campaigns.tiers import T3_MAX_SCORE, score_of

    weakest_t2, _ = score_of(actors=1, active_days=3, coordination=0.0, novel=False)  # T2 needs 3 days
    weakest_t1, _ = score_of(actors=3, active_days=1, coordination=0.5, novel=False)  # T1: 3 linked, half
    strongest, _ = score_of(actors=50, active_days=7, coordination=1.0, novel=True)
    assert T3_MAX_SCORE < weakest_t2 < weakest_t1 and strongest == 100.0


def test_a_channel_without_a_username_is_shown_by_its_title() -> None:
    posts = background(30, CHANNELS)
    titled = [Post(channel=None, channel_title="Daily Bulletin", date=at(1), text="first")]
    titled += [
        Post(
            channel=None,
            channel_title="Daily Bulletin",
            date=at(20 * 24 + d * 24 + 1),
            hashtags=("Relief",),
            text="#Relief",
        )
        for d in range(5)
    ]
    conn = detect(posts + titled)
    found = [a for a in alerts(conn) if a.tag == "Relief"]
    assert found and "Daily Bulletin" in " ".join(found[0].evidence["summary"])


def test_two_tags_that_meet_in_a_few_posts_are_not_a_family() -> None:
    from feedwatch.campaigns import families
    from feedwatch.campaigns.identity import tag_identity

    posts = background(30, CHANNELS)
    posts += [post(20 * 24 + k * 2, "a", "Edinburgh") for k in range(12)]
    posts += [post(20 * 24 + k * 2 + 1, "b", "Poplar") for k in range(12)]
    posts += [post(20 * 24 + 30 + k, "c", "Edinburgh", "Poplar") for k in range(2)]  # they meet twice
    posts += [post(20 * 24 + 40 + k, "d", "Ours", "Наши") for k in range(4)]  # translations: always together
    conn = detect(posts)
    keys = [tag_identity(t) for t in ("Edinburgh", "Poplar", "Ours", "Наши")]
    found = families(conn, keys)
    assert found[keys[0]] != found[keys[1]]
    assert found[keys[2]] == found[keys[3]]


def test_a_tag_alerted_before_alerts_again_only_after_a_long_silence_and_says_revived() -> None:
    posts = background(200, CHANNELS)

    def push(day: int, channel: str) -> list[Post]:
        return [post(day * 24 + d * 24 + 1 + k, channel, "Charter") for d in range(5) for k in range(2)]

    posts += push(10, "a") + push(50, "b") + push(160, "c")  # silences of 35 days, then of 105 days
    conn = detect(posts)
    found = [a for a in alerts(conn) if a.tag == "Charter" and a.tier == "T2"]
    assert [a.first_seen.date() for a in found] == [at(10 * 24).date(), at(160 * 24).date()]
    assert found[1].evidence["episode"] == "revived"
    assert "Revived after" in " ".join(found[1].evidence["summary"])


def _sign_off(relay_forwards: bool) -> list[Post]:
    """hub tags two of its posts #SignOff (days 20 and 21); relay, not in its network, passes two on."""
    posts = [*background(30, CHANNELS), post(1, "hub"), post(1, "relay")]
    posts += [post(20 * 24 + 1, "hub", "SignOff", mid=501), post(21 * 24 + 1, "hub", "SignOff", mid=502)]
    forward_of = "hub" if relay_forwards else None
    posts += [post((21 + d) * 24 + 5, "relay", "SignOff", forward_of=forward_of, mid=600 + d) for d in range(2)]
    return posts


def test_a_channel_that_only_forwards_posts_carrying_a_tag_has_not_taken_it_up() -> None:
    assert "T2" not in tiers_of(detect(_sign_off(relay_forwards=True)), "SignOff")
    t2 = [a for a in alerts(detect(_sign_off(relay_forwards=False))) if a.tag == "SignOff" and a.tier == "T2"]
    assert len(t2) == 1 and "taken up by @relay" in " ".join(t2[0].evidence["summary"])


def test_a_new_origin_comes_into_a_channels_full_table() -> None:
    import sqlite3

    from feedwatch.campaigns.actors import KEEP_ORIGINS, Actors
    from feedwatch.campaigns.model import Settings
    from feedwatch.campaigns.schema import ensure_schema

    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    actors = Actors(conn, Settings())
    t = at(1).timestamp()
    for n in range(KEEP_ORIGINS):  # a full table of origins, each forwarded several times
        for _ in range(5):
            actors.observe("relay_chan", t, f"origin_{n}", None)
    for _ in range(3):  # a new origin it starts forwarding must be kept, and build up, not be dropped at once
        actors.observe("relay_chan", t, "newcomer", None)
    origins = actors.channels["relay_chan"].origins
    assert len(origins) == KEEP_ORIGINS and origins["newcomer"] == 3.0


def _co_forwarding(days: int, members: list[str], origins: list[str]) -> list[Post]:
    """The members forward the same posts of several origins within an hour of each other, twice a day."""
    posts = []
    for n in range(days * 2):
        origin = origins[n % len(origins)]
        posts += [post(n * 12 + 1 + i / 4, ch, forward_of=origin, fwd_mid=n + 1) for i, ch in enumerate(members)]
    return posts


def test_a_tight_set_of_co_forwarding_channels_passing_on_a_post_is_t1() -> None:
    members = ["b", "c", "d"]
    posts = background(30, CHANNELS) + _co_forwarding(30, members, ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"])
    # a post of a channel that is not monitored and that nobody here forwarded before, passed on
    posts += [post(20 * 24 + 4 + i, ch, "FreeHer", forward_of="newcomer", fwd_mid=900) for i, ch in enumerate(members)]
    conn = detect(posts)
    t1 = [a for a in alerts(conn) if a.tag == "FreeHer" and a.tier == "T1"]
    assert len(t1) == 1 and t1[0].alerted_at == at(20 * 24 + 6)  # the third channel passing it on
    summary = " ".join(t1[0].evidence["summary"])
    assert "@newcomer posted #FreeHer" in summary and "repeatedly forward the same posts within hours" in summary


def test_a_chain_of_channels_that_each_co_forward_with_one_other_is_not_a_tight_set() -> None:
    posts = background(30, CHANNELS)
    for pair in ("bc", "cd", "de"):  # b-c, c-d and d-e each pass on their own origins' posts together
        posts += _co_forwarding(30, list(pair), [f"{pair}{n}" for n in range(8)])
    posts += [post(20 * 24 + 4 + i, ch, "FreeHer", forward_of="newcomer", fwd_mid=900) for i, ch in enumerate("bcde")]
    conn = detect(posts)
    assert "T1" not in tiers_of(conn, "FreeHer")


def test_a_tag_seen_only_through_forwards_of_its_starter_is_not_taken_up() -> None:
    posts = background(30, CHANNELS)
    # news passed on: an unmonitored channel's posts forwarded on two days, then two others write the tag once each
    posts += [post(20 * 24 + 2 + d * 24, "a", "Verdict", forward_of="newsroom", fwd_mid=d + 1) for d in range(2)]
    posts += [post(22 * 24 + 5, "b", "Verdict"), post(23 * 24 + 5, "c", "Verdict")]
    conn = detect(posts)
    assert tiers_of(conn, "Verdict") == []
    # a starter that writes the tag itself on two days, taken up by another actor: a push
    posts += [post(20 * 24 + 2 + d * 48, "d", "FreeThem", mid=700 + d) for d in range(2)]
    posts += [post(23 * 24 + 6, "e", "FreeThem"), post(24 * 24 + 6, "e", "FreeThem")]
    conn = detect(posts)
    t2 = [a for a in alerts(conn) if a.tag == "FreeThem" and a.tier == "T2"]
    assert len(t2) == 1 and "taken up by @e" in " ".join(t2[0].evidence["summary"])


def test_a_channel_that_writes_new_tags_daily_needs_a_tag_that_stands_out() -> None:
    posts = background(70, CHANNELS)
    for tagger in ("tagger", "loud"):  # a new tag of the day, every day, used once or twice
        posts += [post(d * 24 + 5, tagger, f"{tagger}Topic{d}") for d in range(2, 70)]
        posts += [post(d * 24 + 6, tagger, f"{tagger}Topic{d}") for d in range(2, 70, 3)]
    posts += [post(60 * 24 + 8 + d * 24, "tagger", "Series") for d in range(5)]  # once a day: one more of them
    posts += [post(60 * 24 + 8 + d * 24 + k, "loud", "Rally") for d in range(6) for k in range(4)]  # 4 a day
    conn = detect(posts)
    assert [a for a in alerts(conn) if a.tag == "Series"] == []
    t2 = [a for a in alerts(conn) if a.tag == "Rally" and a.tier == "T2"]
    assert len(t2) == 1 and "stands out" in " ".join(t2[0].evidence["summary"])


def test_a_quiet_channels_tag_used_on_four_days_is_not_yet_a_push_and_on_five_it_is() -> None:
    posts = [*background(30, CHANNELS), post(1, "quiet"), post(1, "calm")]  # their history starts at day 0
    posts += [post(20 * 24 + 3 + d * 24, "quiet", "Fourdays") for d in range(4)]
    posts += [post(20 * 24 + 3 + d * 24, "calm", "Fivedays") for d in range(5)]
    conn = detect(posts)
    assert tiers_of(conn, "Fourdays") == [] and tiers_of(conn, "Fivedays") == ["T2"]
