"""Digests built from a real SQLite store: the seeds, the window, channels, scraper health, the chart."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from feedwatch.digest.build import build_digest, post_link
from feedwatch.digest.render_html import render_html
from feedwatch.digest.render_json import digest_json
from feedwatch.digest.render_md import render_md
from feedwatch.models import ForwardedFrom, Post, Source
from feedwatch.parse import parse_path
from feedwatch.parse.text import fingerprint, hashtags
from feedwatch.store import Store

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "feedwatch.db")
    yield opened  # type: ignore[misc]
    opened.close()


@pytest.fixture
def seeded(store: Store) -> Store:
    for path in sorted(SEEDS.iterdir()):
        store.ingest(parse_path(str(path)), str(path), observed_at=NOW - timedelta(hours=1))
    return store


def post(channel: str | None, text: str, *, day: int = 20, forwarded: str | None = None, msg: int = 1) -> Post:
    return Post(
        channel=channel,
        message_id=msg if channel else None,
        date=datetime(2026, 11, day, 12, tzinfo=UTC),
        text=text,
        hashtags=hashtags(text),
        fingerprint=fingerprint(text),
        forwarded_from=ForwardedFrom(forwarded, forwarded) if forwarded else None,
        source=Source("test"),
    )


def test_seeds_digest_shows_the_campaign_tag_once_over_all_seven_posts(seeded: Store) -> None:
    d = build_digest(seeded.db, None, NOW, now=NOW)
    assert d.posts == 8
    top = d.top_tags[0]
    assert (top.key, top.tag, top.posts) == ("uncharterisourrules", "UNCharterIsOurRules", 7)
    assert top.spellings == ("UNCharterIsOurRules", "UnCharterIsOurRules")
    assert [t.key for t in d.top_tags].count("uncharterisourrules") == 1
    rows = [line for line in render_md(d).splitlines() if "CharterIsOurRules" in line]
    assert rows == ["| #UNCharterIsOurRules | 7 | 0 | 1 | #UNCharterIsOurRules, #UnCharterIsOurRules |"]
    obj = digest_json(d)
    assert obj["top_tags"][0]["spellings"] == ["UNCharterIsOurRules", "UnCharterIsOurRules"]
    assert obj["top_tags"][0]["posts"] == 7
    page = render_html(d)
    assert page.count("<td>#UNCharterIsOurRules</td>") == 1 and "#UnCharterIsOurRules" in page


def test_seeds_channels_and_chart(seeded: Store) -> None:
    d = build_digest(seeded.db, None, NOW, now=NOW)
    assert [(c.channel, c.posts) for c in d.channels] == [
        ("Russian MFA 🇷🇺", 7),
        ("file:" + str(SEEDS / "000_bc5f4b5de1e8430e.txt"), 1),
    ]
    chart = d.chart
    assert chart is not None and [s.tag for s in chart.series] == ["UNCharterIsOurRules"]
    # Six of the seven posts carry a dateline (the seventh has no date at all): 2023-04-24 .. 2024-12-06.
    assert (chart.start, chart.days, chart.buckets, chart.undated) == (date(2023, 4, 24), 10, 60, 1)
    counts = chart.series[0].counts
    assert sum(counts) == 6 and {i: n for i, n in enumerate(counts) if n} == {0: 3, 16: 1, 18: 1, 59: 1}
    page = render_html(d)
    svg = ET.fromstring(page[page.index("<svg") : page.index("</svg>") + 6])
    bars = [int(r.get("data-count") or 0) for r in svg.iter("{http://www.w3.org/2000/svg}rect")]
    assert bars == [3, 1, 1, 1]
    assert "Posts per 10 days by publication date; 1 post without a date not shown" in page


def test_window_counts_only_what_was_stored_in_it(store: Store) -> None:
    store.ingest([post("old_chan", "old #Alpha")], "a", observed_at=NOW - timedelta(days=3))
    store.ingest([post("new_chan", "new #alpha #Beta", msg=2)], "b", observed_at=NOW - timedelta(hours=2))
    d = build_digest(store.db, NOW - timedelta(hours=24), NOW, now=NOW)
    assert d.posts == 1
    assert [(t.tag, t.posts, t.spellings) for t in d.top_tags] == [("alpha", 1, ("alpha",)), ("Beta", 1, ("Beta",))]
    assert [c.channel for c in d.channels] == ["@new_chan"]
    everything = build_digest(store.db, None, NOW, now=NOW)
    assert (everything.top_tags[0].key, everything.top_tags[0].posts, everything.top_tags[0].spellings) == (
        "alpha",
        2,
        ("Alpha", "alpha"),
    )


def test_forwards_are_counted_apart(store: Store) -> None:
    store.ingest(
        [
            post("origin", "launch #Campaign", msg=1),
            post("relay1", "launch #Campaign", forwarded="origin", msg=2),
            post("relay2", "launch #campaign", forwarded="origin", msg=3),
            post("origin", "again #Campaign", day=21, msg=4),
        ],
        "t",
        observed_at=NOW,
    )
    d = build_digest(store.db, None, NOW, now=NOW)
    assert [(t.tag, t.posts, t.forwards, t.channels) for t in d.top_tags] == [("Campaign", 4, 2, 3)]
    assert {c.channel: (c.posts, c.forwards) for c in d.channels} == {
        "@origin": (2, 0),
        "@relay1": (1, 1),
        "@relay2": (1, 1),
    }
    assert d.chart is not None and d.chart.series[0].counts[-2:] == (3, 1)  # 2026-11-20: 3, 2026-11-21: 1


def test_scraper_health_puts_failing_sources_first(store: Store) -> None:
    def run(source: str, errors: list[tuple[str, str]], hours: float, new: int = 0) -> None:
        when = NOW - timedelta(hours=hours)
        store.record_run(
            source, new=new, updated=0, unchanged=0, failed=0, errors=errors, started_at=when, finished_at=when
        )

    run("web:fine", [], 3, new=5)
    run("web:down", [("unreachable", "connection refused")], 3)
    run("web:down", [("unreachable", "connection timed out")], 2)
    run("web:drifting", [], 3, new=2)
    run("web:drifting", [("drift", "no message widgets on the page")], 2)
    run("web:busy", [("rate_limited", "429, retry after 120 s")], 2, new=1)
    run("web:ancient", [("unreachable", "long ago")], 48)
    d = build_digest(store.db, NOW - timedelta(hours=24), NOW, now=NOW)
    assert [(h.source, h.status, h.runs, h.failed_runs, h.posts) for h in d.health] == [
        ("web:down", "failing", 2, 2, 0),
        ("web:busy", "rate limited", 1, 1, 1),
        ("web:drifting", "markup drift", 2, 1, 2),
        ("web:fine", "ok", 1, 0, 5),
    ]
    assert d.health[0].last_error == "connection timed out" and d.health[0].errors == (("unreachable", 2),)
    text = render_md(d)
    assert "| web\\:down | failing | 2 | 2 | unreachable 2 | connection timed out |" in text


def test_post_link_prefers_tme_and_falls_back_to_the_source() -> None:
    with_id = post("MFARussia", "x #T", msg=42)
    assert (post_link(with_id).url, post_link(with_id).where) == (
        "https://t.me/MFARussia/42",
        "https://t.me/MFARussia/42",
    )
    pasted = Post(text="Pasted #T", source=Source("dump", "seeds/004.txt", 3), fingerprint="f")
    assert (post_link(pasted).url, post_link(pasted).where, post_link(pasted).label) == (
        None,
        "seeds/004.txt#3",
        "Pasted #T",
    )
    hostile = Post(url="javascript:alert(1)", text="<script>alert(1)</script>", source=Source("x"), fingerprint="f")
    assert post_link(hostile).url is None


def test_digest_json_of_the_seeds_is_valid_json(seeded: Store) -> None:
    text = json.dumps(digest_json(build_digest(seeded.db, None, NOW, now=NOW)))
    assert json.loads(text)["top_tags"][0]["tag"] == "UNCharterIsOurRules"


def test_seen_window_counts_posts_read_again(seeded: Store) -> None:
    for path in sorted(SEEDS.iterdir()):
        seeded.ingest(parse_path(str(path)), str(path), observed_at=NOW - timedelta(minutes=5))
    since = NOW - timedelta(minutes=10)
    assert build_digest(seeded.db, since, NOW, now=NOW).posts == 0  # nothing new was stored
    again = build_digest(seeded.db, since, NOW, now=NOW, seen=True)
    assert again.posts == 8 and (again.top_tags[0].tag, again.top_tags[0].posts) == ("UNCharterIsOurRules", 7)
    assert again.window() == "posts stored or seen again 2026-11-23 07:50 to 2026-11-23 08:00 UTC"
