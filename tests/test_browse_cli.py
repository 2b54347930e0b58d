"""`feedwatch channels` and `feedwatch history` on the seeds and on a polled store; edits and disappearances."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from monitor_helpers import NOW, FakeClock, poll, web_source
from tme_server import TmeServer, make_posts

from feedwatch import browse
from feedwatch.cli import main
from feedwatch.serve import register_functions
from feedwatch.store import Store

CHANNEL = "chan_alpha"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def seeded(in_root: Path, tmp_path: Path) -> Path:
    db = tmp_path / "seeds.db"
    assert run("ingest", "--db", str(db), "seeds/")[0] == 0
    return db


def test_channels_on_the_seeds_counts_pasted_copies_for_their_origin(seeded: Path) -> None:
    code, out, _ = run("channels", "--db", str(seeded), "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["channel"], r["posts"]) for r in rows] == [("Russian MFA 🇷🇺", 7)]
    assert rows[0]["top_tags"].startswith("#UNCharterIsOurRules (7)")
    code, out, _ = run("channels", "--db", str(seeded), "--nl")
    assert [json.loads(line) for line in out.splitlines()] == rows
    code, out, _ = run("channels", "--db", str(seeded))
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["channel", "posts"] and lines[1].startswith("Russian MFA 🇷🇺") and len(lines) == 2


def test_history_on_the_seeds_shows_the_one_text_and_no_counters(seeded: Path) -> None:
    code, out, _ = run("history", "3", "--db", str(seeded), "--json")
    assert code == 0
    assert [r["what"] for r in json.loads(out)] == ["text (current)"]
    code, out, _ = run("history", "3", "--db", str(seeded))
    assert out.startswith("Texts (1)\n") and "Counters (0)\n  none recorded" in out


def test_history_of_an_unknown_post_is_one_line(seeded: Path) -> None:
    code, out, err = run("history", "nobody_here/5", "--db", str(seeded))
    assert code == 1 and not out
    assert err.strip().splitlines() == [
        "error: nobody_here/5: no such post stored. Give CHANNEL/ID or a row id; feedwatch search finds posts"
    ]


def test_commands_on_a_missing_store_say_so_in_one_line(tmp_path: Path) -> None:
    for command in ("channels", "history x/1"):
        code, _, err = run(*command.split(), "--db", str(tmp_path / "none.db"))
        assert code == 2 and len(err.strip().splitlines()) == 1 and "no database there yet" in err
    assert not (tmp_path / "none.db").exists()


@pytest.fixture
def polled(tmp_path: Path) -> Path:
    """Three polls of one channel an hour apart: post 20 edited and its views changing, post 15 deleted."""
    db = tmp_path / "polled.db"
    clock = FakeClock(wall=NOW)
    posts = make_posts(25, start=NOW - timedelta(hours=30), step=timedelta(hours=1))
    with TmeServer() as server, Store.open(db) as store:
        server.add_channel(CHANNEL, posts, title="Alpha")
        assert poll(store, web_source(server.base_url, clock), CHANNEL)[CHANNEL].ok
        server.edit(CHANNEL, 20, text="Corrected statement on the harbour\n\n#Harbour", views=5000)
        clock.wall += timedelta(hours=1)
        assert poll(store, web_source(server.base_url, clock), CHANNEL)[CHANNEL].ok
        server.edit(CHANNEL, 20, views=9000)
        server.delete(CHANNEL, 15)
        clock.wall += timedelta(hours=1)
        assert poll(store, web_source(server.base_url, clock), CHANNEL)[CHANNEL].ok
    return db


def test_channels_on_a_polled_store_shows_the_last_poll(polled: Path) -> None:
    code, out, _ = run("channels", "--db", str(polled), "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert (row["channel"], row["title"], row["posts"], row["last_poll_outcome"]) == (CHANNEL, "Alpha", 25, "ok")
    assert row["last_poll"].startswith((NOW + timedelta(hours=2)).isoformat()[:13])
    assert row["posts_per_day"] == round(25 / 1, 2)  # 25 posts within one day


def test_history_on_a_polled_store_has_the_edit_and_each_view_count(polled: Path) -> None:
    code, out, _ = run("history", f"https://t.me/{CHANNEL}/20", "--db", str(polled), "--json")
    assert code == 0
    rows = json.loads(out)
    texts = [r["text"] for r in rows if r["what"].startswith("text")]
    assert len(texts) == 2 and "Corrected statement" in texts[1] and "Corrected" not in texts[0]
    views = [r["views"] for r in rows if r["what"] == "counters"]
    assert views[-2:] == [5000, 9000] and len(views) == 3
    code, out, _ = run("history", f"{CHANNEL.upper()}/20", "--db", str(polled))
    assert "Texts (2)" in out and "Counters (3)" in out and "9,000" in out


def test_changed_posts_names_the_edited_and_the_disappeared_post(polled: Path) -> None:
    conn = sqlite3.connect(polled)
    register_functions(conn)
    conn.row_factory = sqlite3.Row
    changes = {(r["change"], r["post"]) for r in conn.execute(browse.CHANGED_POSTS)}
    assert changes == {("edited", f"{CHANNEL}/20"), ("disappeared", f"{CHANNEL}/15")}


def test_channels_lists_an_export_without_a_username_by_its_title(tmp_path: Path) -> None:
    db = tmp_path / "fw.db"
    root = Path(__file__).resolve().parents[1]
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(root / "tests/fixtures/tg_html/channel"), "--db", str(db)]).exit_code == 0
    result = runner.invoke(main, ["channels", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["channel"], r["posts"]) for r in rows] == [("Baltic Wire 🛰", 12)]  # not an empty row with 0 posts
