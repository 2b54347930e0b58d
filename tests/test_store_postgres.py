"""PostgreSQL as the store: the commands on a postgresql:// URL, its migrations, many writers, migrate-store.

The behaviour both backends share is tested on both by the store suite (the `store_target` fixture); this
module holds what only a server has: the URL in every place a store is named, the schema's versions, two
writers at once, copying a store between backends, and the one-line errors of a bad URL or server.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from store_support import SEEDS, generated

from feedwatch.cli import main
from feedwatch.errors import StoreError
from feedwatch.store import Store
from feedwatch.store import pg as pg_backend

DUMP = str(SEEDS / "004_01d4050f5de082cc.txt")
STATEMENT = str(SEEDS / "000_bc5f4b5de1e8430e.txt")


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_ingest_twice_search_campaigns_and_digest_on_a_postgresql_url(postgres_url: str) -> None:
    first = run("ingest", str(SEEDS), "--db", postgres_url)
    second = run("ingest", str(SEEDS), "--db", postgres_url)
    assert first.exit_code == second.exit_code == 0
    assert "total" in second.output and second.output.split("total")[1].split()[:4] == ["0", "0", "8", "0"]
    with Store.open(postgres_url) as store:
        assert store.count() == 8
    found = run("search", "Guterres", "--json", "--db", postgres_url)
    assert found.exit_code == 0
    paths = {hit["post"]["source"]["path"] for hit in json.loads(found.stdout)}
    assert paths == {DUMP, STATEMENT}
    assert all("[Guterres]" in hit["snippet"] or "Guterres" in hit["snippet"] for hit in json.loads(found.stdout))
    campaigns = run("campaigns", "--rebuild", "--db", postgres_url)
    assert campaigns.exit_code == 0 and "Rebuilt campaign state from 8 stored post(s)" in campaigns.output
    assert run("campaigns", "--json", "--db", postgres_url).exit_code == 0
    digest = run("digest", "--since", "all", "--format", "json", "--db", postgres_url)
    assert digest.exit_code == 0
    body = json.loads(digest.stdout)
    assert body["posts"] == 8 and body["top_tags"][0]["key"] == "uncharterisourrules"


def test_the_environment_and_the_config_name_a_postgresql_store(postgres_url: str, tmp_path: Path) -> None:
    assert run("ingest", DUMP, env={"FEEDWATCH_DB": postgres_url}).exit_code == 0
    config = tmp_path / "feedwatch.toml"
    config.write_text(f'[database]\nurl = "{postgres_url}"\n', encoding="utf-8")
    found = run(
        "search", "--hashtag", "UNCharterIsOurRules", "--json", "--config", str(config), env={"FEEDWATCH_DB": ""}
    )
    assert found.exit_code == 0 and len(json.loads(found.stdout)) == 7
    config.write_text('[database]\nurl = "data/not-a-url.db"\n', encoding="utf-8")
    wrong = run("search", "x", "--config", str(config), env={"FEEDWATCH_DB": ""})
    assert wrong.exit_code == 2 and "is not a postgresql:// URL" in wrong.output


def test_search_syntax_prefixes_and_filters_on_postgresql(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        from feedwatch.parse import parse_path

        store.ingest(parse_path(DUMP), DUMP)
        assert len(store.search("multipolari*")) == store.count_matches("multipolari*") >= 1  # multipolarity
        assert store.search("multipolari") == []  # no stemming: the whole word, as FTS5
        assert store.count_matches("Lavrov -Guterres") < store.count_matches("Lavrov")
        assert store.count_matches('"Sergey Lavrov"') >= 1
        assert store.count_matches("Lavrov", hashtag="UNCharterIsOurRules") >= 1
        assert store.search("nosuchwordanywhere") == [] and store.count_matches("!!!") == 0


def test_migrations_are_recorded_and_a_newer_schema_is_refused(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        names = [r[0] for r in store.db.execute("SELECT name FROM migrations ORDER BY rowid")]
        assert names == [name for name, _ in pg_backend.MIGRATIONS]
        store.db.execute("INSERT INTO migrations (name, applied_at) VALUES ('999_future', 'now')")
    with pytest.raises(StoreError, match=r"made by a newer feedwatch \(schema 999_future\)"):
        Store.open(postgres_url)
    with pytest.raises(StoreError, match="newer feedwatch"):
        Store.open(postgres_url, writing=False)


def test_a_schema_holding_other_tables_is_left_untouched(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE theirs (x integer)")
    with pytest.raises(StoreError, match="other tables, not feedwatch's; left untouched"):
        Store.open(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        tables = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        assert [r[0] for r in tables] == ["theirs"]


def test_two_writers_at_once_store_every_post_once(postgres_url: str) -> None:
    """Two stores (two connections) ingesting overlapping posts at the same time: the write lock serialises
    their batches, so each post is stored once and every hashtag once."""
    posts = generated(300, copies=60)
    with Store.open(postgres_url):
        pass  # the schema exists before the two start
    failures: list[BaseException] = []

    def write(part: list) -> None:  # type: ignore[type-arg]
        try:
            with Store.open(postgres_url) as store:
                store.ingest(part, "gen", batch=25)
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in (posts[:250], posts[100:])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with Store.open(postgres_url) as store:
        assert store.count() == 300
        tags = store.db.execute("SELECT count(*), count(DISTINCT key) FROM hashtags").fetchone()
        assert tags[0] == tags[1] > 0
        assert store.db.execute("SELECT count(DISTINCT ident) FROM posts").fetchone()[0] == 300


def test_migrate_store_there_and_back_keeps_every_row(postgres_url: str, tmp_path: Path) -> None:
    source, back = tmp_path / "fw.db", tmp_path / "back.db"
    assert run("ingest", str(SEEDS), "--db", str(source)).exit_code == 0
    assert run("campaigns", "--rebuild", "--db", str(source)).exit_code == 0
    there = run("migrate-store", "--from", str(source), "--to", postgres_url)
    assert there.exit_code == 0 and "every count matches" in there.output
    assert "posts                    8       8" in there.output
    again = run("migrate-store", "--from", str(source), "--to", postgres_url)
    assert again.exit_code == 1 and "not empty" in again.output and again.output.count("\n") == 1
    assert run("migrate-store", "--from", str(source), "--to", postgres_url, "--replace").exit_code == 0
    assert run("migrate-store", "--from", postgres_url, "--to", str(back)).exit_code == 0
    exports = [run("export", "--db", str(db)).stdout for db in (source, back)]
    assert exports[0] == exports[1] and exports[0].count("\n") == 8
    actors = []  # each post's actor columns travel with it, both ways
    for db in (source, postgres_url, back):
        with Store.open(db) as store:
            actors.append(store.db.execute("SELECT id, actor, origin, actor_name FROM posts ORDER BY id").fetchall())
    assert [tuple(r) for r in actors[0]] == [tuple(r) for r in actors[1]] == [tuple(r) for r in actors[2]]
    assert all(r[1] for r in actors[0])
    with Store.open(back) as store:  # SQLite's own indexes were rebuilt from the copied rows
        assert store.count_matches("Guterres") == 2
        assert store.ingest(generated(3), "more").new == 3  # ids go on after the copied ones
    with Store.open(postgres_url) as store:
        assert store.count_matches("Guterres") == 2
        store.record_run("x", new=0, updated=0, unchanged=0, failed=0, errors=[], started_at=_now(), finished_at=_now())
        assert len(store.runs()) == 3  # the identity counter went on after the copied runs


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("postgresql://postgres@127.0.0.1:1/feedwatch", "cannot connect"),
        ("postgresql://postgres@127.0.0.1:5432/feedwatch?nosuchoption=1", "not a PostgreSQL URL feedwatch can read"),
        ("postgresql://postgres@127.0.0.1:5432/feedwatch_no_such_database", "does not exist"),
    ],
)
def test_a_bad_url_or_server_is_one_line(postgres_server: str, tmp_path: Path, target: str, says: str) -> None:
    source = tmp_path / "fw.db"
    assert run("ingest", DUMP, "--db", str(source)).exit_code == 0
    result = run("migrate-store", "--from", str(source), "--to", target)
    assert result.exit_code == 1 and says in result.output and result.output.count("\n") == 1
    assert "Traceback" not in result.output
    searched = run("search", "x", "--db", target)
    assert searched.exit_code == 1 and says in searched.output and searched.output.count("\n") == 1


def test_a_missing_source_file_is_one_line(tmp_path: Path) -> None:
    result = run("migrate-store", "--from", str(tmp_path / "none.db"), "--to", str(tmp_path / "new.db"))
    assert result.exit_code == 2 and "no database there" in result.output and result.output.count("\n") == 1


def test_a_password_never_appears_in_a_message() -> None:
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql://someone:s3cret@127.0.0.1:1/feedwatch")
    assert "s3cret" not in str(caught.value) and "someone:***@" in str(caught.value)
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql://someone@127.0.0.1:1/feedwatch?password=s3cret")
    assert "s3cret" not in str(caught.value) and "password=***" in str(caught.value)


def test_serve_says_in_one_line_that_it_reads_sqlite_only() -> None:
    result = run("serve", "--db", "postgresql://someone:s3cret@127.0.0.1:1/feedwatch")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "serve reads an SQLite store only" in result.output and "s3cret" not in result.output


def test_a_reading_command_upgrades_a_store_made_by_an_older_feedwatch(postgres_url: str) -> None:
    assert run("ingest", str(SEEDS), "--db", postgres_url).exit_code == 0
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:  # the store as the previous feedwatch left it
        conn.execute("ALTER TABLE posts DROP COLUMN actor, DROP COLUMN origin, DROP COLUMN actor_name")
        conn.execute("DROP TABLE post_ids")
        conn.execute("DELETE FROM migrations WHERE name IN ('002_actors', '003_post_ids')")
    found = run("search", "Guterres", "--db", postgres_url)
    assert found.exit_code == 0 and "2 found" in found.output, found.output
    with Store.open(postgres_url, writing=False) as store:
        names = [r[0] for r in store.db.execute("SELECT name FROM migrations ORDER BY rowid")]
        assert names == [name for name, _ in pg_backend.MIGRATIONS]
        assert store.db.execute("SELECT count(*) FROM posts WHERE actor IS NULL").fetchone()[0] == 0
    digest = run("digest", "--since", "all", "--format", "json", "--db", postgres_url)
    assert digest.exit_code == 0 and json.loads(digest.stdout)["posts"] == 8
