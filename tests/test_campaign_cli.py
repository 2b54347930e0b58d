"""`feedwatch campaigns`: the JSON shape, the table, --since, --rebuild, and one-line errors."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import postgres_schema
from test_campaign_state import scenario

from feedwatch.cli import main
from feedwatch.models import ForwardedFrom, Post, post_line

KEYS = {"tag", "tags", "tier", "first_seen", "alerted_at", "channels", "posts", "forwards", "score", "evidence"}


def named(post: Post) -> Post:
    """The post with its one-letter channels named as Telegram usernames (what JSON Lines input must give)."""
    origin = post.forwarded_from
    if origin is not None:
        origin = ForwardedFrom(
            f"chan_{origin.name}",
            f"chan_{origin.channel}",
            origin.message_id,
            f"https://t.me/chan_{origin.channel}/{origin.message_id}",
        )
    return dataclasses.replace(
        post,
        channel=f"chan_{post.channel}",
        url=f"https://t.me/chan_{post.channel}/{post.message_id}",
        forwarded_from=origin,
    )


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store filled by `feedwatch ingest` (detection on) with a stream past the 60-day warm-up: an SQLite
    file, and a PostgreSQL schema."""
    folder = tmp_path_factory.mktemp("cli")
    posts = folder / "posts.jsonl"
    posts.write_text("".join(post_line(named(p)).decode() + "\n" for p in scenario(offset=62)), encoding="utf-8")
    if request.param == "sqlite":
        path = str(folder / "feedwatch.db")
        assert run("ingest", str(posts), "--db", path).exit_code == 0
        yield path
        return
    with postgres_schema(request.getfixturevalue("postgres_server")) as url:
        assert run("ingest", str(posts), "--db", url).exit_code == 0
        yield url


def test_json_is_an_array_of_alerts_oldest_first(db: str) -> None:
    result = run("campaigns", "--db", str(db), "--json")
    assert result.exit_code == 0
    found = json.loads(result.output)
    assert {a["tier"] for a in found} == {"T1", "T2", "T3"}
    assert all(set(a) >= KEYS for a in found)
    assert [a["alerted_at"] for a in found] == sorted(a["alerted_at"] for a in found)
    t1 = next(a for a in found if a["tier"] == "T1")
    assert t1["tag"] == "LaunchTwo" and t1["tags"] == ["LaunchTwo"]  # a network's second push
    assert t1["channels"][:3] == ["chan_c", "chan_a", "chan_b"] and (t1["posts"], t1["forwards"]) == (3, 0)
    assert t1["first_seen"] == "2025-03-19T00:00:00+00:00" and t1["alerted_at"] == "2025-03-19T00:40:00+00:00"
    assert isinstance(t1["score"], float) and t1["evidence"]["threshold"] == 3
    assert t1["evidence"]["samples"][0]["url"].startswith("https://t.me/chan_c/")
    assert "co-launched tags with them before" in t1["evidence"]["summary"][0]


def test_since_filters_on_the_alert_time(db: str) -> None:
    every = json.loads(run("campaigns", "--db", str(db), "--json", "--since", "all").output)
    later = json.loads(run("campaigns", "--db", str(db), "--json", "--since", "2025-03-25").output)
    assert later == [a for a in every if a["alerted_at"] >= "2025-03-25"]
    assert 0 < len(later) < len(every)


def test_rebuild_gives_the_same_alerts(db: str) -> None:
    before = json.loads(run("campaigns", "--db", str(db), "--json").output)
    result = CliRunner().invoke(main, ["campaigns", "--db", str(db), "--json", "--rebuild"])
    assert result.exit_code == 0
    after = json.loads(result.stdout)
    assert [{k: a[k] for k in KEYS} for a in after] == [{k: a[k] for k in KEYS} for a in before]
    assert [a["key"] for a in after] == [a["key"] for a in before]
    assert len({a["key"] for a in after}) == len(after)


def test_table_names_tier_tag_and_statistic(db: str) -> None:
    result = run("campaigns", "--db", str(db))
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if "#LaunchTwo" in line and " T1 " in line)
    assert "coordinated launch" in line and "(threshold 3)" in line and "@chan_b" in line


def test_bad_since_and_missing_database_are_one_line_errors(tmp_path: Path, db: str) -> None:
    result = run("campaigns", "--db", str(db), "--since", "last tuesday")
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "--since" in result.output
    result = run("campaigns", "--db", str(tmp_path / "none.db"))
    assert result.exit_code == 2 and "no database there yet" in result.output


def test_help_has_an_example() -> None:
    assert "Example" in run("campaigns", "--help").output
