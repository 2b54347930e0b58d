"""`feedwatch serve`: the canned queries over HTTP, read-only serving, the password rule, metadata, rendering."""

from __future__ import annotations

import base64
import csv
import hashlib
import html as html_lib
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browse_support import EDITED, VIEWS, WORD, Served, make_store, serving
from store_support import post

from feedwatch import browse
from feedwatch.errors import ConfigError, StoreError
from feedwatch.serve import ReadOnlyDatabase, build, check_exposure, is_loopback
from feedwatch.store import Store


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("serve") / "store.db")


@pytest.fixture(scope="module")
def served(store_path: Path) -> Iterator[Served]:
    with serving(store_path) as running:
        yield running


def rows(served: Served, path: str) -> list[dict]:
    sep = "&" if "?" in path else "?"
    status, body = served.get(f"{path}{sep}_shape=array")
    assert status == 200, body[:300]
    return json.loads(body)


def test_search_query_gives_the_post_with_its_match_marked(served: Served) -> None:
    found = rows(served, f"/feedwatch/search.json?q={WORD}")
    assert [r["post"] for r in found] == ["/".join(map(str, EDITED))]
    assert f"<mark>{WORD}</mark>" in found[0]["snippet"]
    assert found[0]["url"] == "https://t.me/delta_news/900"
    assert rows(served, "/feedwatch/search.json?q=") == []  # the empty form is no error


def test_new_campaigns_lists_the_alert_with_readable_evidence(served: Served) -> None:
    found = rows(served, "/feedwatch/new_campaigns.json")
    assert [(r["tier"], r["tag"], r["channels"]) for r in found] == [("T2", "Sustained", "delta_news")]
    evidence = json.loads(found[0]["evidence"])
    assert evidence["value"] < evidence["threshold"]
    assert found[0]["first_use"].startswith("2025-01-06") and found[0]["alerted_at"] > found[0]["first_use"]


def test_tag_timeline_counts_posts_per_day_by_spelling_and_channel(served: Served) -> None:
    found = rows(served, "/feedwatch/tag_timeline.json?tag=%23SUSTAINED")  # any case, with #
    assert {(r["spelling"], r["channel"]) for r in found} == {("Sustained", "delta_news")}
    assert sum(r["posts"] for r in found) == 21  # 20 pushes and the edited statement
    assert [r["day"] for r in found] == sorted(r["day"] for r in found)


def test_channels_and_a_channel_profile(served: Served) -> None:
    everyone = rows(served, "/feedwatch/channels.json")
    assert [r["channel"] for r in everyone] == ["delta_news", "alpha_news", "bravo_news", "charlie_news"]
    one = rows(served, "/feedwatch/channel_profile.json?channel=%40Delta_News")
    assert one == everyone[:1]
    assert one[0]["posts"] == 181 and one[0]["top_tags"] == "#news (160), #Sustained (21)"
    days = rows(served, "/feedwatch/channel_days.json?channel=delta_news")
    assert sum(d["posts"] for d in days) == 181 and len(days) == 40
    assert days[0]["median_views"] is None and any(d["median_views"] == VIEWS[-1] for d in days)


def test_post_history_has_both_texts_and_three_view_counts(served: Served) -> None:
    found = rows(served, "/feedwatch/post_history.json?post=delta_news/900")
    texts = [r for r in found if r["what"].startswith("text")]
    assert [r["what"] for r in texts] == ["text", "text (current)"]
    assert texts[0]["until"] == texts[1]["at"] and WORD in texts[1]["text"] and WORD not in texts[0]["text"]
    assert [r["views"] for r in found if r["what"] == "counters"] == list(VIEWS)


def test_changed_posts_lists_the_edited_post(served: Served) -> None:
    found = rows(served, "/feedwatch/changed_posts.json")
    assert [(r["change"], r["post"], r["old_texts"]) for r in found] == [("edited", "delta_news/900", 1)]


def test_every_canned_query_is_also_csv(served: Served) -> None:
    status, body = served.get("/feedwatch/post_history.csv?post=delta_news/900")
    assert status == 200
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert [r["views"] for r in table if r["what"] == "counters"] == [str(v) for v in VIEWS]


def test_pages_render_times_links_json_and_the_charts(served: Served) -> None:
    status, page = served.get("/feedwatch/post_history?post=delta_news/900")
    html = page.decode("utf-8")
    assert status == 200 and "2025-01-13 01:00 UTC</time>" in html
    assert html.count('<rect x="') == 3 and 'data-value="400"' in html  # the views chart
    status, page = served.get("/feedwatch/new_campaigns")
    assert '<a href="/feedwatch/campaign_alerts/1">1</a>' in page.decode()
    assert '<a href="/feedwatch/tag_timeline?tag=Sustained">Sustained</a>' in page.decode()
    status, page = served.get("/feedwatch/campaign_alerts/1")
    assert status == 200 and '<pre class="fw-json">' in page.decode()
    status, page = served.get("/feedwatch/channel_profile?channel=delta_news")
    assert page.decode().count('aria-label="posts per day"') == 1 and 'aria-label="median views' in page.decode()
    status, page = served.get("/feedwatch/tag_timeline?tag=sustained")
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page.decode()
    status, page = served.get("/feedwatch/posts.json?_search=" + WORD + "&_shape=array")
    assert [r["ident"] for r in json.loads(page)] == ["c:delta_news/900"]  # the table's own search box
    status, page = served.get("/feedwatch/search?q=" + WORD)
    assert '<a href="https://t.me/delta_news/900" rel="noopener noreferrer nofollow">' in page.decode()


def test_internal_tables_are_hidden_and_shown_ones_described(served: Served) -> None:
    status, body = served.get("/feedwatch.json")
    assert status == 200
    tables = {t["name"]: t for t in json.loads(body)["tables"]}
    shown = {name for name, t in tables.items() if not t["hidden"]}
    assert shown == set(browse.TABLES)
    assert tables["migrations"]["hidden"] and tables["campaign_pairs"]["hidden"]


def test_every_column_an_analyst_sees_is_described(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        for table, meta in browse.TABLES.items():
            columns = [c.name for c in store.db[table].columns]
            assert list(meta["columns"]) == columns, table
            assert meta["description"] and all(meta["columns"].values())
    for name, query in browse.QUERIES.items():
        assert query["title"] and query["description"], name


def test_serving_never_writes_while_a_writer_keeps_writing(served: Served, store_path: Path, tmp_path: Path) -> None:
    def digest() -> str:
        return hashlib.sha256(store_path.read_bytes()).hexdigest()

    before = digest()
    for path in (
        "/feedwatch",
        "/feedwatch/posts",
        "/feedwatch/channels",
        "/feedwatch/post_history?post=delta_news/900",
        "/feedwatch/posts?_facet=channel&_facet_date=date",
        "/feedwatch/changed_posts",
    ):
        assert served.get(path)[0] == 200
    assert digest() == before
    status, body = served.get("/feedwatch.json?sql=" + "delete%20from%20posts")
    assert status == 400 and b"Statement must be a SELECT" in body
    with Store.open(store_path) as store:  # the writer is not blocked by the server
        store.ingest(
            [
                post(
                    f"Late news about {WORD} ore",
                    channel="alpha_news",
                    message_id=99999,
                    date=datetime(2025, 3, 1, tzinfo=UTC),
                )
            ],
            "late",
        )
    assert {r["post"] for r in rows(served, f"/feedwatch/search.json?q={WORD}")} == {
        "delta_news/900",
        "alpha_news/99999",
    }


def test_the_database_refuses_write_connections(store_path: Path) -> None:
    ds = build(store_path)
    db = ds.get_database("feedwatch")
    assert isinstance(db, ReadOnlyDatabase)
    with pytest.raises(StoreError, match="never writes"):
        db.connect(write=True)
    conn = db.connect()
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("CREATE TABLE x (a)")
    conn.close()


def test_other_hosts_need_a_password() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    with pytest.raises(ConfigError, match="FEEDWATCH_SERVE_PASSWORD"):
        check_exposure("0.0.0.0", None)
    check_exposure("0.0.0.0", "s3cret")
    check_exposure("127.0.0.1", None)


def test_serve_on_all_interfaces_without_a_password_refuses_in_one_line(store_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FEEDWATCH_SERVE_PASSWORD"}
    done = subprocess.run(
        [sys.executable, "-m", "feedwatch", "serve", "--db", str(store_path), "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "0.0.0.0" in done.stderr and "FEEDWATCH_SERVE_PASSWORD" in done.stderr and not done.stdout


def test_serve_names_a_missing_or_foreign_database_in_one_line(tmp_path: Path) -> None:
    foreign = tmp_path / "other.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (a)").connection.close()
    for db in (tmp_path / "missing.db", foreign):
        done = subprocess.run(
            [sys.executable, "-m", "feedwatch", "serve", "--db", str(db)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert str(db) in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "missing.db").exists()


def test_a_password_is_required_on_every_request_when_set(store_path: Path) -> None:
    with serving(store_path, env={"FEEDWATCH_SERVE_PASSWORD": "correct horse"}) as running:
        assert running.get("/feedwatch")[0] == 401
        assert running.get("/feedwatch/search.json?q=x")[0] == 401
        basic = base64.b64encode(b"anyone:correct horse").decode()
        assert running.get("/feedwatch", {"Authorization": f"Basic {basic}"})[0] == 200
        assert running.get("/feedwatch/channels.json", {"Authorization": "Bearer correct horse"})[0] == 200
        wrong = base64.b64encode(b"anyone:wrong").decode()
        assert running.get("/feedwatch", {"Authorization": f"Basic {wrong}"})[0] == 401


def test_cells_escape_hostile_text() -> None:
    snippet = browse.render_cell("a <script>alert(1)</script> <mark>hit</mark>", "snippet", None)
    assert snippet == "a &lt;script&gt;alert(1)&lt;/script&gt; <mark>hit</mark>"
    pretty = browse.render_cell('{"x": "</pre><script>alert(1)</script>"}', "evidence", "campaign_alerts")
    assert pretty is not None and "<script>" not in pretty and "&lt;/pre&gt;" in pretty
    assert browse.render_cell('["a<b", "c"]', "channels", "campaign_alerts") == "a&lt;b, c"
    assert browse.render_cell("javascript:alert(1)", "url", None) is None
    link = browse.render_cell('https://t.me/x/1"><script>', "url", None)
    assert link is not None and "<script>" not in link
    channel = browse.render_cell('a"b<c', "channel", None)
    assert channel == '<a href="/feedwatch/channel_profile?channel=a%22b%3Cc">a&quot;b&lt;c</a>'
    assert browse.render_cell("mfa", "channel", "posts") == '<a href="/feedwatch/channel_profile?channel=mfa">mfa</a>'
    assert browse.render_cell("mfa", "channel", "post_sources") is None
    assert browse.render_cell(1736121600.0, "episode_start", "campaign_alerts") == (
        '<time datetime="2025-01-06T00:00:00+00:00">2025-01-06 00:00 UTC</time>'
    )


def _hrefs(page: str) -> list[str]:
    import re

    return [html_lib.unescape(h) for h in re.findall(r'<a href="([^"]*)"', page)]


def test_html_digest_links_to_serve_pages_when_configured_else_to_tme() -> None:
    from digest_support import digest

    from feedwatch.digest.render_html import render_html

    served_links = _hrefs(render_html(digest(browse_url="http://10.0.0.5:8001/")))
    assert "http://10.0.0.5:8001/feedwatch/post_history?post=MFARussia/101" in served_links
    assert "http://10.0.0.5:8001/feedwatch/channel_profile?channel=MID_Russia" in served_links
    assert "http://10.0.0.5:8001/feedwatch/tag_timeline?tag=UNCharterIsOurRules" in served_links
    assert not [h for h in served_links if "t.me" in h]
    plain = _hrefs(render_html(digest()))
    assert "https://t.me/MFARussia/101" in plain and "https://t.me/MID_Russia" in plain
    assert not [h for h in plain if "feedwatch/" in h]


def test_digest_command_takes_the_serve_address_from_the_config(store_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[serve]\nbase_url = "http://127.0.0.1:8001"\n', encoding="utf-8")
    out = tmp_path / "d.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "feedwatch",
            "digest",
            "--db",
            str(store_path),
            "--config",
            str(config),
            "--since",
            "all",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    links = _hrefs(out.read_text(encoding="utf-8"))
    assert "http://127.0.0.1:8001/feedwatch/tag_timeline?tag=Sustained" in links
    assert "http://127.0.0.1:8001/feedwatch/channel_profile?channel=delta_news" in links


def test_daily_charts_keep_time_and_other_charts_keep_their_points() -> None:
    rows = [
        {"day": "2025-01-01", "posts": 2},
        {"day": "2025-01-01", "posts": 1},
        {"day": "2025-01-04", "posts": 5},
        {"day": None, "posts": 9},
    ]
    assert browse.chart_points(rows, "day", "posts") == [
        ("2025-01-01", 3),
        ("2025-01-02", 0),
        ("2025-01-03", 0),
        ("2025-01-04", 5),
    ]
    seen = [
        {"at": "2025-01-13T00:00:00+00:00", "views": 1},
        {"at": "2025-01-20T05:00:00+00:00", "views": 4},
        {"at": "2025-01-20T06:00:00+00:00", "views": None},
    ]
    assert browse.chart_points(seen, "at", "views") == [("2025-01-13 00:00", 1), ("2025-01-20 05:00", 4)]
    svg = browse.bar_chart_svg([("<b>", 1)], "views & <i>")
    assert "<b>" not in svg and "<i>" not in svg and "&lt;b&gt;" in svg
