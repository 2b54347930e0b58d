"""The t.me/s source end to end: a real HTTP server on 127.0.0.1, the real page parser, a real SQLite store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from monitor_helpers import NOW, FakeClock, poll, settings, stored_ids, web_source
from tme_server import TmeServer, make_posts

from feedwatch.errors import ConfigError
from feedwatch.net import parse_retry_after
from feedwatch.sources.web import HostGate
from feedwatch.store import Store

DELETED = (5, 6, 30, 31, 32, 47)


@pytest.fixture
def tme():
    with TmeServer(slow_seconds=1.0) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "feedwatch.db") as opened:
        yield opened


def expected(count: int, deleted=DELETED) -> list[int]:
    return [p.id for p in make_posts(count, deleted=deleted)]


def test_full_backfill_follows_the_pages_and_stores_every_post(tme, store):
    tme.add_channel("MFARussia", make_posts(70, deleted=DELETED), title="MFA Russia 🇷🇺")
    report = poll(store, web_source(tme.base_url, FakeClock()), "MFARussia")["MFARussia"]
    assert report.ok and report.new == 70
    assert stored_ids(store, "MFARussia") == expected(70)
    # 70 posts, 20 a page: 4 pages, each asked with the before= the previous page linked to
    assert tme.requests[0] == "/s/MFARussia" and len(tme.requests) == 4
    assert all(r.startswith("/s/MFARussia?before=") for r in tme.requests[1:])
    assert store.channel("MFARussia").high_water == max(expected(70))
    post = next(p for p in store.posts(channel="MFARussia") if p.message_id == 4)
    assert post.hashtags == ("Zakharova", "Briefing")
    assert post.forwarded_from is not None and post.forwarded_from.channel == "MID_Russia"
    assert post.forwarded_from.message_id == 777 and post.date is not None


def test_first_poll_backfills_only_the_configured_days(tme, store):
    # one post every 6 hours, the newest 6 hours before "now": 20 days fit in 80 posts
    posts = make_posts(200, start=NOW - timedelta(hours=6 * 200))
    tme.add_channel("mod_russia_en", posts)
    report = poll(store, web_source(tme.base_url, FakeClock()), "mod_russia_en", backfill=10)["mod_russia_en"]
    ids = stored_ids(store, "mod_russia_en")
    assert report.ok and ids == [p.id for p in posts if p.date >= NOW - timedelta(days=10)]
    assert len(tme.requests) == 3  # 60 posts fall in the last 10 days of 6-hourly posts
    assert store.channel("mod_russia_en").high_water == 200


def test_incremental_poll_reads_only_what_is_new(tme, store):
    tme.add_channel("MFARussia", make_posts(70, deleted=DELETED))
    tme.add_channel("RusEmbUSA", make_posts(45))
    clock = FakeClock()
    poll(store, web_source(tme.base_url, clock), "MFARussia", "RusEmbUSA")
    tme.add_posts("MFARussia", make_posts(3, first_id=80))
    tme.requests.clear()
    reports = poll(store, web_source(tme.base_url, clock), "MFARussia", "RusEmbUSA")
    assert (reports["MFARussia"].new, reports["RusEmbUSA"].new) == (3, 0)
    assert reports["MFARussia"].updated == 0 and reports["MFARussia"].unchanged == 17
    assert tme.count("MFARussia") <= 2 and tme.count("RusEmbUSA") <= 2
    assert stored_ids(store, "MFARussia") == [*expected(70), 80, 81, 82]
    assert store.channel("MFARussia").high_water == 82


def test_many_new_posts_are_all_read_down_to_the_mark(tme, store):
    tme.add_channel("MFARussia", make_posts(30))
    clock = FakeClock()
    poll(store, web_source(tme.base_url, clock), "MFARussia")
    tme.add_posts("MFARussia", make_posts(50, first_id=31, deleted=(40, 41)))
    report = poll(store, web_source(tme.base_url, clock), "MFARussia")["MFARussia"]
    assert report.new == 50 and report.requests == 3
    assert stored_ids(store, "MFARussia") == [i for i in range(1, 83) if i not in (40, 41)]


def test_trailing_window_records_edits_and_views(tme, store):
    posts = make_posts(30, start=NOW - timedelta(hours=30), step=timedelta(hours=1))
    tme.add_channel("MFARussia", posts)
    clock = FakeClock()
    poll(store, web_source(tme.base_url, clock), "MFARussia")
    tme.edit("MFARussia", 12, text="Corrected statement. #UNCharterIsOurRules", views=99_000)
    tme.edit("MFARussia", 25, views=123_456)
    tme.requests.clear()
    clock.sleep(900)  # the next poll, one interval later
    report = poll(store, web_source(tme.base_url, clock), "MFARussia")["MFARussia"]
    assert report.new == 0 and report.updated == 2
    assert tme.count("MFARussia") == 2  # the newest page and one re-read page: post 12 sits on the second
    conn = store.db.conn
    versions = conn.execute(
        "SELECT v.text FROM post_versions v JOIN posts p ON p.id = v.post WHERE p.message_id = 12"
    ).fetchall()
    assert len(versions) == 1 and "No. 12." in versions[0][0]
    edited = next(p for p in store.posts(channel="MFARussia") if p.message_id == 12)
    assert edited.text.startswith("Corrected statement")
    assert edited.edited is True
    views = [
        r[0]
        for r in conn.execute(
            "SELECT o.views FROM observations o JOIN posts p ON p.id = o.post WHERE p.message_id = 25 ORDER BY o.id"
        )
    ]
    assert views[-1] == 123_500  # shown as "123.5K": the page gives only an approximate count


@pytest.mark.parametrize(
    ("kind", "retry_after", "waits"),
    [("429", "1", [1.0]), ("500", None, [1.0]), ("slow", None, [1.0]), ("truncate", None, [1.0]), ("cut", None, [1.0])],
)
def test_faults_are_retried_and_nothing_is_lost_or_duplicated(tme, store, kind, retry_after, waits):
    tme.add_channel("MFARussia", make_posts(70, deleted=DELETED))
    tme.fault("MFARussia", kind, retry_after=retry_after, path_has="before=")
    clock = FakeClock()
    report = poll(store, web_source(tme.base_url, clock), "MFARussia")["MFARussia"]
    assert report.ok and report.new == 70
    assert clock.sleeps == waits
    assert stored_ids(store, "MFARussia") == expected(70)
    assert len(tme.requests) == 5


def test_a_lasting_fault_gives_up_for_this_run_and_the_next_run_loses_nothing(tme, store):
    tme.add_channel("MFARussia", make_posts(70, deleted=DELETED))
    third_page = f"before={expected(70)[-40]}"
    tme.fault("MFARussia", "500", times=10, path_has=third_page)  # the third page keeps failing
    clock = FakeClock()
    report = poll(store, web_source(tme.base_url, clock), "MFARussia")["MFARussia"]
    assert report.errors[0][0] == "unreachable" and "HTTP 500 after 4 tries" in report.errors[0][1]
    assert clock.sleeps == [1.0, 2.0, 4.0]  # backoff doubles, then gives up
    assert store.channel("MFARussia").high_water is None  # the mark did not pass the unread page
    assert store.runs("web:MFARussia")[0].kind == "unreachable"
    tme.faults.clear()
    report = poll(store, web_source(tme.base_url, clock), "MFARussia")["MFARussia"]
    assert report.ok and stored_ids(store, "MFARussia") == expected(70)


def test_a_long_retry_after_is_not_waited_but_reported_as_rate_limited(tme, store):
    tme.add_channel("MFARussia", make_posts(10))
    tme.fault("MFARussia", "429", retry_after="3600")
    clock = FakeClock()
    report = poll(store, web_source(tme.base_url, clock), "MFARussia")["MFARussia"]
    assert clock.sleeps == [] and report.errors[0][0] == "rate_limited"
    assert "asked to wait 3600 s" in report.errors[0][1] and "polled again then" in report.errors[0][1]
    assert report.retry_at == clock.now() + timedelta(seconds=3600)


def test_no_preview_and_drift_are_errors_of_their_own_kind(tme, store):
    tme.add_channel("privatechan", make_posts(5), preview=False)
    tme.add_channel("MFARussia", make_posts(10))
    tme.fault("MFARussia", "drift")
    reports = poll(store, web_source(tme.base_url, FakeClock()), "privatechan", "MFARussia", "nosuchchannel")
    assert reports["privatechan"].errors[0][0] == "no_preview"
    assert reports["privatechan"].errors[0][1].startswith(f"{tme.base_url[7:]}/s/privatechan has no public web preview")
    assert reports["nosuchchannel"].errors[0][0] == "no_preview"
    assert reports["MFARussia"].errors[0][0] == "drift" and "markup" in reports["MFARussia"].errors[0][1]
    assert store.runs("web:MFARussia")[0].kind == "drift" and stored_ids(store, "MFARussia") == []


def test_unreachable_host_fails_each_channel_in_one_line_quickly(store):
    clock = FakeClock()
    source = web_source("http://127.0.0.1:9", clock)
    reports = poll(store, source, "MFARussia", "mod_russia_en", "RusEmbUSA")
    assert all(r.errors[0][0] == "unreachable" for r in reports.values())
    assert all(r.errors[0][1].startswith("cannot reach 127.0.0.1:9") for r in reports.values())
    assert sum(r.requests for r in reports.values()) <= 4 and clock.sleeps == []


def test_honest_user_agent_and_no_redirects_followed(tme, store):
    tme.add_channel("MFARussia", make_posts(3))
    source = web_source(tme.base_url, FakeClock())
    assert source.client.headers["user-agent"].startswith("feedwatch/")
    assert source.client.follow_redirects is False
    source.client.close()


def test_gate_spaces_request_starts_and_limits_concurrency():
    clock = FakeClock()
    gate = HostGate(
        settings("http://x", min_delay=2.0, jitter=0.5, concurrency=2),
        clock.monotonic,
        clock.sleep,
        __import__("random").Random(3),
    )
    for _ in range(3):
        with gate.slot():
            pass
    assert len(clock.sleeps) == 2 and all(2.0 <= s <= 2.5 for s in clock.sleeps)
    assert gate._slots._value == 2


def test_retry_after_in_seconds_or_as_a_date():
    assert parse_retry_after("7", NOW) == 7.0
    assert parse_retry_after("Fri, 01 May 2026 12:00:30 GMT", NOW) == 30.0
    assert parse_retry_after(None, NOW) is None and parse_retry_after("soon", NOW) is None


@pytest.mark.parametrize("name", ["x/../../admin", "MFARussia?before=1", "evil.example.com", "@/etc", "a b c d e"])
def test_a_channel_name_can_never_change_the_host_or_path(tme, name):
    source = web_source(tme.base_url, FakeClock())
    with pytest.raises(ConfigError, match="not a Telegram channel username"):
        source.fetch(name, None, None)
    source.client.close()
    assert tme.requests == []
