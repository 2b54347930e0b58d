"""Detector state: bounded memory, rebuilt from the store in one scan, shared safely between runs."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from campaign_support import QUICK, T0, at, background, detect, post
from test_campaign_tiers import CHANNELS, co_launch

from feedwatch.campaigns import (
    Detector,
    IngestHook,
    alerts,
    rebuild_stored,
    tag_daily_counts,
    tag_identity,
)
from feedwatch.campaigns.stream import actor_of, use_of
from feedwatch.models import Dateline, ForwardedFrom, Post, Source
from feedwatch.store import Store


def scenario(offset: int = 0) -> list[Post]:
    """Every tier at least once (`offset` days after a quiet start): co-launches, a single-source
    campaign, a burst of a known tag; numbered per channel like a real stream."""
    posts = background(45 + offset, CHANNELS)
    posts += co_launch(offset + 8, "LaunchOne", ["a", "b", "c"]) + co_launch(offset + 15, "LaunchTwo", ["c", "a", "b"])
    posts += co_launch(offset + 20, "LaunchThree", ["b", "c", "a", "d"], forwards=True)
    posts += [post((offset + 5) * 24 + k * 14, "d", "Sustained") for k in range(20)]
    posts += [post((offset + 30) * 24 + 10 + k / 60, CHANNELS[k % 8], "news") for k in range(40)]
    numbered: dict[str, int] = {}
    out = []
    for p in sorted(posts, key=lambda p: p.date or T0):
        numbered[p.channel or ""] = numbered.get(p.channel or "", 0) + 1
        out.append(
            dataclasses.replace(
                p, message_id=numbered[p.channel or ""], url=f"https://t.me/{p.channel}/{numbered[p.channel or '']}"
            )
        )
    return out


def shape(found: list) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (a.tag, a.tier, a.first_seen, a.alerted_at, a.channels, a.posts, a.forwards, round(a.score, 6)) for a in found
    ]


def test_every_tier_fires_in_the_scenario() -> None:
    found = alerts(detect(scenario()))
    assert {a.tier for a in found} == {"T1", "T2", "T3"}


def test_small_cache_evicts_to_sqlite_and_gives_the_same_alerts() -> None:
    posts = scenario()
    big = detect(posts)
    small = detect(posts, cache_size=3)
    assert shape(alerts(small)) == shape(alerts(big))
    assert len(alerts(big)) >= 5


def test_cache_never_holds_more_than_its_size() -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:", isolation_level=None)
    detector = Detector(conn, QUICK, cache_size=4)
    posts = [post(k, "a", f"Tag{k}") for k in range(50)]
    detector.feed(enumerate(posts))
    assert len(detector.cache) == 4
    detector.flush()
    assert conn.execute("SELECT count(*) FROM campaign_tags").fetchone()[0] == 50


def test_rebuild_from_the_store_gives_the_same_alerts_as_ingest(tmp_path: Path) -> None:
    posts = scenario()
    with Store.open(tmp_path / "feedwatch.db") as store:
        store.ingest(posts, "scenario", batch=200, on_new=IngestHook(QUICK))
        incremental = shape(alerts(store.db))
        assert rebuild_stored(store.db, QUICK) == len(store.db.conn.execute("SELECT * FROM campaign_alerts").fetchall())
        rebuilt = shape(alerts(store.db))
    assert rebuilt == incremental
    assert {a[1] for a in incremental} == {"T1", "T2", "T3"}


def test_a_second_ingest_continues_from_stored_state(tmp_path: Path) -> None:
    posts = scenario()
    half = len(posts) // 2
    with Store.open(tmp_path / "one.db") as store:
        store.ingest(posts, "all", batch=200, on_new=IngestHook(QUICK))
        whole = shape(alerts(store.db))
    with Store.open(tmp_path / "two.db") as store:
        store.ingest(posts[:half], "first half", batch=200, on_new=IngestHook(QUICK))
        store.ingest(posts[half:], "second half", batch=200, on_new=IngestHook(QUICK))
        assert shape(alerts(store.db)) == whole


def test_daily_counts_for_charts_count_forwards_apart() -> None:
    conn = detect(scenario())
    days = tag_daily_counts(conn, ["LaunchThree"], since=date(2025, 1, 21))
    key = tag_identity("LaunchThree")
    assert days[key][0] == (date(2025, 1, 21), 2, 2)  # b and d forwarded a's post; a and c posted
    assert [d for d, _, _ in days[key]] == [date(2025, 1, d) for d in range(21, 26)]


def test_stream_time_actor_and_forward_rules() -> None:
    dated = post(5, "chan", "x", forward_of="origin")
    assert actor_of(dated) == ("chan", True)
    pasted = Post(
        hashtags=("x",),
        forwarded_from=ForwardedFrom("Russian MFA 🇷🇺"),
        datelines=(Dateline("Moscow", date(2023, 4, 29)),),
        source=Source("dump", "seeds/d.txt", 1),
    )
    use = use_of(pasted)
    assert use is not None and use.approximate and use.actor == "russian mfa 🇷🇺" and not use.forward
    assert use.t == at(0).replace(year=2023, month=4, day=29).timestamp()
    assert use_of(dataclasses.replace(pasted, datelines=())) is None
    assert actor_of(Post(source=Source("dump", "paste.txt"))) == ("file:paste.txt", False)


def test_a_hook_notices_another_writer_and_reloads_its_state(tmp_path: Path) -> None:
    posts = scenario()
    third = len(posts) // 3
    with Store.open(tmp_path / "one.db") as store:
        store.ingest(posts, "all", batch=200, on_new=IngestHook(QUICK))
        whole = shape(alerts(store.db))
    with Store.open(tmp_path / "two.db") as store:
        first, other = IngestHook(QUICK), IngestHook(QUICK)  # e.g. a poll beside an ingest
        store.ingest(posts[:third], "a", batch=200, on_new=first)
        store.ingest(posts[third : 2 * third], "b", batch=200, on_new=other)
        store.ingest(posts[2 * third :], "c", batch=200, on_new=first)  # its cache is stale: it must reload
        assert shape(alerts(store.db)) == whole


def test_readers_on_a_database_without_detector_tables_create_nothing(tmp_path: Path) -> None:
    import sqlite3

    from feedwatch.campaigns import spellings

    conn = sqlite3.connect(tmp_path / "plain.db")
    assert alerts(conn) == [] and tag_daily_counts(conn, ["x"]) == {"x": []} and spellings(conn, ["x"]) == {"x": {}}
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_out_of_order_ingest_counts_every_use(tmp_path: Path) -> None:
    posts = scenario()
    half = len(posts) // 2
    with Store.open(tmp_path / "late.db") as store:
        store.ingest(posts[half:], "recent first", batch=200, on_new=IngestHook(QUICK))
        store.ingest(posts[:half], "then the backfill", batch=200, on_new=IngestHook(QUICK))
        late = tag_daily_counts(store.db, ["news", "Sustained", "LaunchThree"])
        late_states = store.db.conn.execute("SELECT count(*) FROM campaign_tags").fetchone()[0]
    in_order = detect(posts)
    assert late == tag_daily_counts(in_order, ["news", "Sustained", "LaunchThree"])
    assert late_states == in_order.execute("SELECT count(*) FROM campaign_tags").fetchone()[0]


def test_a_failed_batch_leaves_no_detector_state_behind(tmp_path: Path) -> None:
    posts = scenario()
    hook = IngestHook(QUICK)
    calls = 0

    def failing_once(db, fresh):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        hook(db, fresh)
        if calls == 3:
            raise RuntimeError("disk full")  # after the detector wrote: the whole batch rolls back

    with Store.open(tmp_path / "fail.db") as store:
        with pytest.raises(RuntimeError):
            store.ingest(posts, "all", batch=200, on_new=failing_once)
        store.ingest(posts, "again", batch=200, on_new=hook)
        again = shape(alerts(store.db))
    with Store.open(tmp_path / "ok.db") as store:
        store.ingest(posts, "all", batch=200, on_new=IngestHook(QUICK))
        assert again == shape(alerts(store.db))


def test_a_tag_state_packed_before_ep_wrote_existed_reads_back_with_writers_unknown() -> None:
    import json

    from feedwatch.campaigns.model import TagState

    state = TagState("freehim", 1000.0)
    older = json.dumps(json.loads(state.pack())[:-1])  # the same state without its last field
    back = TagState.unpack(older)
    assert back.ep_wrote is None and back.ep_first == {} and back.key == "freehim"
