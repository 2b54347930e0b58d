"""`feedwatch ingest`, `search` and `export` end to end on a real database file."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from store_support import SEEDS, counts, stored, write_jsonl

from feedwatch.cli import main
from feedwatch.models import Post
from feedwatch.store import Store

DUMP = str(SEEDS / "004_01d4050f5de082cc.txt")
STATEMENT = str(SEEDS / "000_bc5f4b5de1e8430e.txt")


def run(
    *args: str, db: Path | str | None = None, stdin: str | None = None, env: dict[str, str] | None = None
) -> Result:
    argv = [*args, "--db", str(db)] if db else list(args)
    return CliRunner().invoke(main, argv, input=stdin, env=env, catch_exceptions=False)


@pytest.fixture
def db(store_target: str) -> str:
    """The seeds stored by `feedwatch ingest`: in an SQLite file, and in PostgreSQL."""
    assert run("ingest", str(SEEDS), db=store_target).exit_code == 0
    return store_target


@pytest.fixture
def file_db(tmp_path: Path) -> Path:
    path = tmp_path / "fw.db"
    assert run("ingest", str(SEEDS), db=path).exit_code == 0
    return path


def hits(result: Result) -> list[dict]:  # type: ignore[type-arg]
    """The hits of `search --json`: one JSON array."""
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert isinstance(found, list)
    return found


def test_ingest_prints_a_table_per_input_and_a_total(tmp_path: Path) -> None:
    first = run("ingest", str(SEEDS), db=tmp_path / "fw.db")
    assert first.exit_code == 0
    lines = first.stdout.splitlines()
    assert lines[0].split() == ["input", "new", "updated", "unchanged", "failed"]
    assert lines[1].split() == [STATEMENT.replace(str(SEEDS), str(SEEDS)), "1", "0", "0", "0"]
    assert lines[2].split() == [DUMP, "7", "0", "0", "0"]
    assert lines[3].split() == ["total", "8", "0", "0", "0"]
    again = run("ingest", str(SEEDS), db=tmp_path / "fw.db")
    assert again.stdout.splitlines()[3].split() == ["total", "0", "0", "8", "0"]
    with Store.open(tmp_path / "fw.db") as store:
        assert store.count() == 8
        assert [r.kind for r in store.runs()] == ["ok"] * 4


def test_a_bad_input_is_one_line_and_the_others_are_stored(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "post", "fingerprint": ""}\n{"kind": "nonsense", "fingerprint": ""}\n')
    result = run("ingest", str(bad), DUMP, str(tmp_path / "missing.txt"), db=tmp_path / "fw.db")
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and "bad.jsonl: line 2" in errors[0] and "missing.txt: no such file" in errors[1]
    assert "Traceback" not in result.output
    with Store.open(tmp_path / "fw.db") as store:
        assert store.count() == 8  # the good line of bad.jsonl, and the dump's 7
        assert store.runs()[0].kind == "parse"


def test_ingest_reads_json_lines_from_stdin(tmp_path: Path) -> None:
    lines = run("parse", DUMP).stdout
    result = run("ingest", "-", db=tmp_path / "fw.db", stdin=lines)
    assert result.exit_code == 0
    assert [line.split() for line in result.stdout.splitlines()[1:]] == [
        ["-", "7", "0", "0", "0"],
        ["total", "7", "0", "0", "0"],
    ]


def test_search_finds_guterres_in_both_seed_files_with_highlights(db: str) -> None:
    found = hits(run("search", "Guterres", "--json", db=db))
    assert sorted(h["link"] for h in found) == [f"{STATEMENT}#0", f"{DUMP}#0"]
    assert all("**Guterres**" in h["snippet"] for h in found)
    text = run("search", "Guterres", db=db).stdout
    assert "**Guterres**" in text and f"{DUMP}#0" in text


def test_search_by_hashtag_finds_all_seven_dump_posts_in_any_case(db: str) -> None:
    for tag in ("uncharterisourrules", "#UNCHARTERISOURRULES"):
        found = hits(run("search", "--hashtag", tag, "--json", db=db))
        assert len(found) == 7
        assert {h["post"]["source"]["path"] for h in found} == {DUMP}
    assert len(hits(run("search", "Lavrov", "--hashtag", "BRICS", "--json", db=db))) == 1


def test_search_filters_by_date_and_channel(db: str) -> None:
    on_the_day = hits(run("search", "Lavrov", "--since", "2021-05-14", "--until", "2021-05-14", "--json", db=db))
    assert [h["post"]["kind"] for h in on_the_day] == ["statement"]
    assert hits(run("search", "Lavrov", "--since", "2021-05-15", "--json", db=db)) == []
    assert hits(run("search", "Lavrov", "--channel", "mfa_russia", "--json", db=db)) == []
    bad = run("search", "x", "--since", "last week", db=db)
    assert bad.exit_code == 2 and "'--since': 'last week': use 24h, 7d, 2w" in bad.stderr


@pytest.mark.parametrize("query", ['"unbalanced', "Lavrov AND", "nosuchcolumn:word", "(Lavrov"])
def test_a_malformed_query_is_one_clear_line(file_db: Path, query: str) -> None:
    """FTS5's syntax errors (PostgreSQL's websearch syntax reads any text as a query)."""
    result = run("search", query, db=file_db)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "is not valid" in result.stderr and "double quotes" in result.stderr


def test_export_then_ingest_into_an_empty_database_gives_the_same_posts(db: str, tmp_path: Path) -> None:
    exported = run("export", db=db)
    assert exported.exit_code == 0 and len(exported.stdout.splitlines()) == 8
    path = tmp_path / "export.jsonl"
    path.write_text(exported.stdout, encoding="utf-8")
    again = tmp_path / "again.db"
    assert run("ingest", str(path), db=again).stdout.splitlines()[1].split()[1] == "8"
    with Store.open(db) as first, Store.open(again) as second:
        assert stored(second) == stored(first)
        assert counts(second) == counts(first)
    assert run("export", db=again).stdout == exported.stdout


def test_export_filters_and_csv(db: str, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "chan.jsonl", [Post(channel="Chan", message_id=1, text="Hello", fingerprint="f1")])
    run("ingest", str(tmp_path / "chan.jsonl"), db=db)
    only = run("export", "--channel", "chan", db=db).stdout.splitlines()
    assert [json.loads(line)["message_id"] for line in only] == [1]
    since = run("export", "--since", "2021-01-01", db=db).stdout.splitlines()
    assert [json.loads(line)["kind"] for line in since] == ["statement"]
    table = run("export", "--format", "csv", db=db).stdout
    assert table.startswith("kind,channel,message_id,url,date,") and table.count("\nstatement,") == 1


def test_feedwatch_db_environment_variable_chooses_the_database(tmp_path: Path) -> None:
    env = {"FEEDWATCH_DB": str(tmp_path / "env.db")}
    assert run("ingest", DUMP, env=env).exit_code == 0
    assert len(hits(run("search", "--hashtag", "UNCharterIsOurRules", "--json", env=env))) == 7
    assert (tmp_path / "env.db").is_file()


def test_not_a_database_and_no_database_are_one_line_each(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = run("ingest", DUMP, db=notes)
    assert result.exit_code == 1 and "not a feedwatch database" in result.stderr  # a store error, not usage
    assert run("search", "x", db=notes).exit_code == 1
    assert notes.read_text() == "my notes\n"
    missing = run("search", "x", db=tmp_path / "none.db")
    assert missing.exit_code == 2 and "no database there yet" in missing.stderr
    assert not (tmp_path / "none.db").exists()


def test_every_command_has_an_example_in_its_help() -> None:
    def walk(group: click.Group, prefix: list[str]) -> list[list[str]]:
        found = [prefix]
        for name, command in group.commands.items():
            found += walk(command, [*prefix, name]) if isinstance(command, click.Group) else [[*prefix, name]]
        return found

    commands = walk(main, [])
    assert {"ingest", "search", "export"} <= {c[-1] for c in commands if c}
    for path in commands:
        result = run(*path, "--help")
        assert result.exit_code == 0 and "Example" in result.stdout, path


def test_links_point_to_t_me_when_the_channel_and_id_are_known(db: str, tmp_path: Path) -> None:
    posts = [Post(channel="mfa_russia", message_id=n, text=f"Guterres note {n}", fingerprint=f"g{n}") for n in (1, 2)]
    run("ingest", str(write_jsonl(tmp_path / "chan.jsonl", posts)), db=db)
    recent = hits(run("search", "Guterres", "--sort", "recent", "--json", db=db))
    assert [h["link"] for h in recent[:2]] == ["https://t.me/mfa_russia/2", "https://t.me/mfa_russia/1"]
    assert len(recent) == 4
    latest = run("search", "--limit", "1", db=db)
    assert latest.exit_code == 0 and latest.stdout.startswith("[1] 2021-05-14 ")  # the only dated post


def test_a_post_that_cannot_be_stored_is_named_and_exits_1(tmp_path: Path) -> None:
    posts = [
        Post(channel="chan_c", message_id=2**64, text="too big", fingerprint="a"),
        Post(channel="chan_c", message_id=5, text="fine", fingerprint="b"),
    ]
    result = run("ingest", str(write_jsonl(tmp_path / "p.jsonl", posts)), db=tmp_path / "fw.db")
    assert result.exit_code == 1 and "1 post(s) could not be stored" in result.stderr
    assert result.stdout.splitlines()[1].split()[1:] == ["1", "0", "0", "1"]


def test_a_file_no_format_recognises_says_so(tmp_path: Path) -> None:
    """This project's README quotes the export markers; it is still no export."""
    from conftest import ROOT

    result = run("ingest", str(ROOT / "README.md"), db=tmp_path / "fw.db")
    assert result.exit_code == 1
    assert result.stderr.strip().endswith(
        "README.md: not a format feedwatch knows. Force one with --format "
        "jsonl|tg-json|tg-html|tme-html|desktop-paste|statement|dump"
    )
