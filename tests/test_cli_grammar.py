"""One CLI grammar: the same --since/--until, --db, --json/--nl and error lines in every command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from store_support import SEEDS, write_jsonl

from feedwatch.cli import main
from feedwatch.cli.options import resolve_db
from feedwatch.errors import ConfigError
from feedwatch.models import Post
from feedwatch.window import parse_time

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "fw.db")
    assert run("ingest", str(SEEDS), "--db", path).exit_code == 0
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("7days", NOW - timedelta(days=7)),
        ("2 weeks", NOW - timedelta(weeks=2)),
        ("90min", NOW - timedelta(minutes=90)),
        ("1 hour", NOW - timedelta(hours=1)),
        ("3D", NOW - timedelta(days=3)),
        ("2023-04-29", datetime(2023, 4, 29, tzinfo=UTC)),
        ("2023-04-29T06:30:00+03:00", datetime(2023, 4, 29, 3, 30, tzinfo=UTC)),
        ("2023-04-29 06:30", datetime(2023, 4, 29, 6, 30, tzinfo=UTC)),
        ("all", None),
    ],
)
def test_one_grammar_for_the_start_of_a_window(text: str, expected: datetime | None) -> None:
    assert parse_time(text, NOW) == expected


def test_a_day_as_the_end_of_a_window_includes_that_day() -> None:
    assert parse_time("2023-04-30", NOW, end=True) == datetime(2023, 5, 1, tzinfo=UTC)
    assert parse_time("2023-04-30T12:00", NOW, end=True) == datetime(2023, 4, 30, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["last week", "7 fortnights", "", "2w ago", "99999999d", "all"])
def test_what_the_grammar_refuses_is_one_line_naming_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--until .*use 24h, 7d, 2w") as caught:
        parse_time(text, NOW, name="--until", allow_all=False)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "args",
    [
        ["campaigns", "--since", "2w"],
        ["campaigns", "--since", "7days"],
        ["search", "--since", "7d"],
        ["search", "Lavrov", "--since", "24h", "--until", "2030-01-01"],
        ["export", "--since", "24h"],
        ["export", "--since", "2021-05-14", "--until", "2021-05-14"],
        ["digest", "--since", "2w"],
    ],
)
def test_every_time_window_takes_the_same_grammar(db: str, args: list[str]) -> None:
    result = run(*args, "--db", db)
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output


@pytest.mark.parametrize("command", ["campaigns", "search", "export", "digest"])
def test_a_bad_window_is_a_one_line_usage_error(db: str, command: str) -> None:
    result = run(command, "--since", "2 fortnights", "--db", db)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "'--since': '2 fortnights': use 24h, 7d, 2w" in result.stderr
    assert "internal error" not in result.stderr and result.stdout == ""


def test_an_unknown_option_is_one_line_too() -> None:
    result = run("search", "--nosuch")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "--nosuch" in result.stderr


def test_export_keeps_only_the_window(db: str) -> None:
    day = run("export", "--since", "2021-05-14", "--until", "2021-05-14", "--db", db)
    assert [json.loads(line)["kind"] for line in day.stdout.splitlines()] == ["statement"]
    assert run("export", "--until", "2021-05-13", "--db", db).stdout == ""


# --- one --db ---------------------------------------------------------------------------------------------


def _config(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "other.toml"
    path.write_text(
        f'[database]\npath = "{db}"\n[folders]\npaths = ["{SEEDS}"]\nsettle = 0.0\n'
        f'[digest.file]\npath = "{tmp_path}/digest-{{date}}.md"\n',
        encoding="utf-8",
    )
    return path


def test_search_and_campaigns_read_the_database_run_stored_in(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.db"
    config = _config(tmp_path, other)
    assert run("run", "--config", str(config)).exit_code == 0
    assert other.exists()
    found = run("search", "Guterres", "--json", "--config", str(config))
    assert found.exit_code == 0 and len(json.loads(found.stdout)) == 2
    by_env = run("search", "Guterres", "--json", env={"FEEDWATCH_CONFIG": str(config)})
    assert by_env.exit_code == 0 and len(json.loads(by_env.stdout)) == 2
    alerts = run("campaigns", "--json", "--config", str(config))
    assert alerts.exit_code == 0 and json.loads(alerts.stdout) == []
    exported = run("export", "--config", str(config))
    assert len(exported.stdout.splitlines()) == 8


def test_the_database_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, tmp_path / "configured.db")
    monkeypatch.delenv("FEEDWATCH_DB", raising=False)
    monkeypatch.delenv("FEEDWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no config/feedwatch.toml here
    assert resolve_db(None) == "data/feedwatch.db"
    assert resolve_db(None, str(config)) == str(tmp_path / "configured.db")
    monkeypatch.setenv("FEEDWATCH_DB", str(tmp_path / "env.db"))
    assert resolve_db(None, str(config)) == str(tmp_path / "env.db")
    assert resolve_db(str(tmp_path / "flag.db"), str(config)) == str(tmp_path / "flag.db")


def test_poll_writes_where_feedwatch_db_says_before_the_config(tmp_path: Path) -> None:
    """poll used to have its own --db that ignored FEEDWATCH_DB when the config named a database."""
    from tme_server import TmeServer, make_posts

    config = tmp_path / "poll.toml"
    config.write_text(
        f'[database]\npath = "{tmp_path}/configured.db"\n[web]\nmin_delay = 0.0\njitter = 0.0\n'
        '[poll]\nbackfill = "all"\n',
        encoding="utf-8",
    )
    env_db = tmp_path / "env.db"
    with TmeServer() as tme:
        tme.add_channel("MFARussia", make_posts(5))
        result = run(
            "poll",
            "MFARussia",
            "--config",
            str(config),
            env={"FEEDWATCH_DB": str(env_db), "FEEDWATCH_TME_BASE_URL": tme.base_url},
        )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "configured.db").exists()
    exported = run("export", "--channel", "MFARussia", "--db", str(env_db))
    assert len(exported.stdout.splitlines()) == 5


# --- output -----------------------------------------------------------------------------------------------


def test_search_json_is_one_array_and_nl_is_json_lines(db: str) -> None:
    array = run("search", "--hashtag", "UNCharterIsOurRules", "--json", "--db", db)
    assert array.exit_code == 0
    parsed = json.loads(array.stdout)
    assert isinstance(parsed, list) and len(parsed) == 7 and {"id", "link", "snippet", "post"} <= set(parsed[0])
    lines = run("search", "--hashtag", "UNCharterIsOurRules", "--nl", "--db", db).stdout.splitlines()
    assert [json.loads(line) for line in lines] == parsed
    assert json.loads(run("search", "nosuchwordanywhere", "--json", "--db", db).stdout) == []


def test_campaigns_nl_is_json_lines(db: str) -> None:
    result = run("campaigns", "--nl", "--db", db)
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(run("campaigns", "--json", "--db", db).stdout) == []


def test_the_count_says_how_many_match_not_how_many_are_shown(db: str) -> None:
    some = run("search", "--hashtag", "UNCharterIsOurRules", "--limit", "2", "--db", db)
    assert some.exit_code == 0 and "2 of 7 shown" in some.stderr
    assert "[2]" in some.stdout and "[3]" not in some.stdout
    everything = len(json.loads(run("search", "Lavrov", "--limit", "100", "--json", "--db", db).stdout))
    words = run("search", "Lavrov", "--limit", "3", "--db", db)
    assert everything > 3 and f"3 of {everything} shown" in words.stderr
    every = run("search", "Guterres", "--db", db)
    assert "2 found" in every.stderr


def test_a_hashtag_typed_as_a_query_suggests_hashtag_or_quotes(db: str) -> None:
    result = run("search", "#UNCharterIsOurRules", "--db", db)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "--hashtag UNCharterIsOurRules" in result.stderr and "'\"#UNCharterIsOurRules\"'" in result.stderr
    quoted = run("search", '"#UNCharterIsOurRules"', "--json", "--db", db)
    assert quoted.exit_code == 0 and len(json.loads(quoted.stdout)) == 7


def test_digest_refuses_a_file_kind_it_does_not_write(db: str, tmp_path: Path) -> None:
    pdf = tmp_path / "x.pdf"
    result = run("digest", "--out", str(pdf), "--db", db)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and ".md, .html or .json" in result.stderr
    assert not pdf.exists()
    page = tmp_path / "week.htm"
    assert run("digest", "--out", str(page), "--since", "all", "--db", db).exit_code == 0
    assert page.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


def test_an_unknown_channel_in_export_says_so(db: str, tmp_path: Path) -> None:
    posts = [Post(channel="mfa_russia", message_id=n, text=f"note {n}", fingerprint=f"n{n}") for n in (1, 2)]
    assert run("ingest", str(write_jsonl(tmp_path / "c.jsonl", posts)), "--db", db).exit_code == 0
    unknown = run("export", "--channel", "MFARussia", "--db", db)
    assert unknown.exit_code == 1 and unknown.stdout == ""
    assert (
        "--channel MFARussia: no stored post is from this channel (stored channels include mfa_russia)"
        in unknown.stderr
    )
    known = run("export", "--channel", "MFA_Russia", "--db", db)
    assert known.exit_code == 0 and len(known.stdout.splitlines()) == 2
    empty_window = run("export", "--channel", "mfa_russia", "--since", "2030-01-01", "--db", db)
    assert empty_window.exit_code == 0 and empty_window.stdout == ""
    searched = run("search", "note", "--channel", "MFARussia", "--db", db)
    assert searched.exit_code == 0 and searched.stderr == (
        "0 found. --channel MFARussia: no stored post is from this channel (stored channels include mfa_russia).\n"
    )
    assert run("search", "nothing", "--channel", "mfa_russia", "--db", db).stderr == "0 found.\n"


def test_ingest_counts_for_machines(tmp_path: Path) -> None:
    db = str(tmp_path / "fw.db")
    first = run("ingest", str(SEEDS), "--json", "--db", db)
    assert first.exit_code == 0
    assert [(r["new"], r["unchanged"], r["failed"]) for r in json.loads(first.stdout)] == [(1, 0, 0), (7, 0, 0)]
    again = [json.loads(line) for line in run("ingest", str(SEEDS), "--nl", "--db", db).stdout.splitlines()]
    assert [r["input"] for r in again] == sorted(str(p) for p in SEEDS.iterdir())
    assert [(r["new"], r["unchanged"]) for r in again] == [(0, 1), (0, 7)]


def test_no_command_shows_the_help_not_an_error_line() -> None:
    result = run()
    assert result.exit_code == 2 and result.stderr.startswith("Usage:") and "Commands:" in result.stderr
    assert "error:" not in result.stderr
