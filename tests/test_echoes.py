"""Echoes: a passage found in other channels, verbatim, edited or forwarded, in the order it spread."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from store_support import at, post

from feedwatch.cli import main
from feedwatch.models import ForwardedFrom, Post
from feedwatch.network import echoes
from feedwatch.store import Store, passages
from feedwatch.store.backend import is_postgres
from feedwatch.store.schema import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "eval"))

ORIGIN = (
    "The ministry stated that the western partners continue to ignore the principles of the charter. "
    "Sanctions pressure has failed to achieve any of its declared goals.\n\n"
    "Subscribe to our channel for daily updates."
)
# Words dropped and added, emoji and punctuation changed, the two sentences swapped.
EDITED = (
    "🔥 Sanctions pressure has completely failed to achieve its declared goals!!! "
    "The ministry stated that western partners continue to ignore all principles of the UN charter."
)
UNRELATED = (
    "The ministry stated that talks on grain exports will continue next week in Istanbul, "
    "with partners from the region expected to attend the meeting."
)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def spread() -> list[Post]:
    def item(channel: str, number: int, text: str, hours: float, **extra: object) -> Post:
        return post(
            text,
            channel=channel,
            message_id=number,
            date=at(10) + timedelta(hours=hours),
            path=f"https://t.me/s/{channel}",
            index=number,
            **extra,
        )

    return [
        item("embassy_two", 7, EDITED, 5.5),  # stored first, published last: order comes from the dates
        item("mfa_origin", 100, ORIGIN, 0),
        item("embassy_one", 55, ORIGIN.split("\n\n")[0], 2),  # a verbatim copy of the first paragraph
        item("allied_news", 31, ORIGIN, 1, forwarded_from=ForwardedFrom("mfa_origin", "mfa_origin", 100)),
        item("embassy_one", 56, UNRELATED, 3),
        item("embassy_one", 57, UNRELATED.replace("next week", "on Monday"), 4),  # the same channel: no echo
    ]


@pytest.fixture
def db(store_target: str) -> str:
    """The spread posts stored: in an SQLite file, and in PostgreSQL."""
    with Store.open(store_target) as store:
        store.ingest(spread(), "test")
    return store_target


@pytest.fixture
def file_db(tmp_path: Path) -> Path:
    path = tmp_path / "fw.db"
    with Store.open(path) as store:
        store.ingest(spread(), "test")
    return path


def test_a_passage_edited_across_three_channels_is_found_in_the_order_it_spread(db: str) -> None:
    result = run("echoes", "mfa_origin/100", "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    groups = json.loads(result.stdout)
    assert len(groups) == 1
    group = groups[0]
    assert group["origin"]["channel"] == "mfa_origin" and group["origin"]["url"] == "https://t.me/mfa_origin/100"
    assert [(e["channel"], e["how"]) for e in group["echoes"]] == [
        ("allied_news", "forward"),
        ("embassy_one", "verbatim"),
        ("embassy_two", "edited"),
    ]
    assert [e["lag_hours"] for e in group["echoes"]] == [1.0, 2.0, 5.5]
    edited = group["echoes"][2]
    assert echoes.THRESHOLD <= edited["similarity"] < 1
    assert group["channels"] == 4 and (group["forwards"], group["verbatim"], group["edited"]) == (1, 1, 1)


def test_a_window_lists_groups_that_reached_enough_channels(db: str) -> None:
    found = json.loads(run("echoes", "--since", "2024-03-10", "--db", str(db), "--json").stdout)
    assert len(found) == 1 and found[0]["channels"] == 4
    assert (
        json.loads(run("echoes", "--since", "2024-03-10", "--min-channels", "5", "--db", str(db), "--json").stdout)
        == []
    )
    text = run("echoes", "--since", "2024-03-10", "--db", str(db)).stdout
    assert "4 channels (1 forward, 1 verbatim, 1 edited)" in text
    assert "+5.5 h" in text and "https://t.me/embassy_two/7" in text


def test_the_digest_shows_talking_points_spreading(db: str) -> None:
    result = run("digest", "--db", str(db), "--since", "all")
    assert result.exit_code == 0, result.output
    section = result.stdout.split("## Talking points spreading (1)")[1].split("## Top hashtags")[0]
    assert "4 channels" in section and "Origin: [" in section
    lines = [line for line in section.splitlines() if line.startswith("  - ")]
    assert [line.split(",")[0] for line in lines] == ["  - forward", "  - verbatim", "  - edited"]
    html = run("digest", "--db", str(db), "--since", "all", "--format", "html").stdout
    assert 'id="spreading"' in html and "https://t.me/embassy_two/7" in html
    data = json.loads(run("digest", "--db", str(db), "--since", "all", "--format", "json").stdout)
    assert [e["how"] for e in data["spreading"][0]["echoes"]] == ["forward", "verbatim", "edited"]


def test_bad_arguments_get_one_line(db: str) -> None:
    assert run("echoes", "--db", str(db)).exit_code == 2
    missing = run("echoes", "nobody_here/1", "--db", str(db))
    assert missing.exit_code == 1 and "no such post" in missing.stderr and len(missing.stderr.splitlines()) == 1
    assert run("echoes", "not-a-post", "--db", str(db)).exit_code == 1


def findable(store: Store) -> set[int]:
    """The passages whose every band key finds them in the index, and nothing else a key finds."""
    found: set[int] = set()
    for passage_id, keys in store.db.execute("SELECT id, keys FROM echo_passages").fetchall():
        near = passages.candidates(store.db.conn, {passage_id: keys})
        if is_postgres(store.db):  # the band keys' GIN index
            lookup, arg = "SELECT id FROM echo_passages WHERE string_to_array(keys, ' ') @> ARRAY[?]", "{}"
        else:
            lookup, arg = "SELECT rowid FROM echo_bands WHERE echo_bands MATCH ?", '"{}"'
        hits = {r[0] for key in keys.split() for r in store.db.execute(lookup, [arg.format(key)])}
        assert near[passage_id] <= hits
        if hits >= {passage_id}:
            found |= hits
    return found


def test_an_edit_replaces_the_passages_and_rebuild_gives_the_same_index(db: str) -> None:
    with Store.open(db) as store:
        assert store.db.execute("SELECT count(*) FROM echo_passages").fetchone()[0] == 0  # ingest does not wait
        assert store.catch_up_passages() == 6 and store.catch_up_passages() == 0  # read once
        before = store.db.execute("SELECT post, part, idx, keys FROM echo_passages ORDER BY id").fetchall()
        assert store.rebuild_passages() == len(before)
        after = store.db.execute("SELECT post, part, idx, keys FROM echo_passages ORDER BY id").fetchall()
        assert sorted(before) == sorted(after)
        assert findable(store) == {row[0] for row in store.db.execute("SELECT id FROM echo_passages")}
        edited = post(
            UNRELATED,
            channel="embassy_two",
            message_id=7,
            date=at(10) + timedelta(hours=5.5),
            path="https://t.me/s/embassy_two",
            index=7,
        )
        store.ingest([edited], "edit")  # seen now, after the first sighting: its text becomes current
        rows = store.db.execute(
            "SELECT p.message_id FROM echo_passages e JOIN posts p ON p.id = e.post WHERE p.channel = 'embassy_two'"
        ).fetchall()
        assert rows == [(7,)]
        assert findable(store) == {row[0] for row in store.db.execute("SELECT id FROM echo_passages")}
        groups = echoes.echoes_of_post(store.db.conn, echoes.find_post(store.db.conn, "t.me/mfa_origin/100"))
        assert [e.channel for e in groups[0].echoes] == ["mfa_origin", "allied_news", "embassy_one"]


def test_the_migration_indexes_posts_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store.open(path) as store:
        store.ingest(spread(), "test")
        conn = store.db.conn
        conn.execute("DROP TABLE echo_bands")  # a virtual table: its shadow tables go with it
        conn.execute("DROP TABLE echo_state")
        conn.execute("DROP TABLE echo_passages")
        conn.execute("DELETE FROM migrations WHERE name = '013_echoes'")
        conn.commit()
    with Store.open(path) as store:
        assert [g.channels for g in echoes.echoes_of_window(store.db.conn, None, None)] == [4]  # read at first use
        assert store.db.execute("SELECT count(*) FROM echo_passages").fetchone()[0] == 6  # one per post
    assert any(name == "013_echoes" for name, _ in MIGRATIONS)


def test_short_texts_and_service_messages_are_not_indexed() -> None:
    assert passages.passages(1, post("Good morning everyone")) == []
    assert passages.passages(1, Post(kind="service", text=ORIGIN)) == []
    parts = passages.passages(1, post(ORIGIN))  # the sign-off line is too short to be a passage
    assert [(p.part, p.text) for p in parts] == [("paragraph", ORIGIN.split("\n\n")[0])]
    two = passages.passages(1, post(ORIGIN.replace("\n\nSubscribe", "\n\n" + UNRELATED + "\n\nSubscribe")))
    assert [(p.part, p.index) for p in two] == [("paragraph", 0), ("paragraph", 1)]
    assert [p.part for p in passages.passages(1, post(UNRELATED))] == ["post"]


def test_signatures_estimate_jaccard_similarity() -> None:
    a, b = passages.normal(ORIGIN), passages.normal(EDITED)
    sig = passages.signatures([a, b, a])
    assert (sig[0] == sig[2]).all()
    estimate = float((sig[0] == sig[1]).mean())
    exact = passages.jaccard(passages.shingles(ORIGIN), passages.shingles(EDITED))
    assert abs(estimate - exact) < 0.3  # SIGNATURE values: a coarse estimate; candidates are checked exactly


def test_the_labelled_synthetic_set_is_found_with_precision_and_recall_over_09() -> None:
    from echoes import score_synthetic

    result = score_synthetic(seed=3, threshold=echoes.THRESHOLD)
    assert result["precision"] >= 0.9, result
    assert result["recall"] >= 0.9, result


def test_a_lookup_reads_a_bounded_number_of_rows(file_db: Path) -> None:
    conn = sqlite3.connect(file_db)
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    groups = echoes.echoes_of_post(conn, echoes.find_post(conn, "mfa_origin/100"))
    assert groups
    band_queries = [s for s in seen if "FROM echo_bands WHERE echo_bands MATCH" in s]
    assert 0 < len(band_queries) <= passages.BANDS * 3  # the post's passages, each BANDS keys


def test_an_edit_before_the_index_read_the_post_is_indexed_once_with_the_new_text(tmp_path: Path) -> None:
    path = tmp_path / "fw.db"
    with Store.open(path) as store:
        store.ingest(spread(), "test")
        edited = post(
            UNRELATED + " Edited later.",
            channel="embassy_two",
            message_id=7,
            date=at(10) + timedelta(hours=5.5),
            path="https://t.me/s/embassy_two",
            index=7,
        )
        store.ingest([edited], "edit")  # the index has not read the post yet: nothing to re-index
        assert store.db.execute("SELECT count(*) FROM echo_passages").fetchone()[0] == 0
        store.catch_up_passages()
        texts = [p.text for p in store.posts() if p.channel == "embassy_two"]
        assert texts == [UNRELATED + " Edited later."]
        assert findable(store) == {row[0] for row in store.db.execute("SELECT id FROM echo_passages")}
        assert store.db.execute("SELECT count(*) FROM echo_passages").fetchone()[0] == 6


def test_a_read_only_store_is_read_with_the_index_it_has(tmp_path: Path) -> None:
    path = tmp_path / "fw.db"
    with Store.open(path) as store:
        store.ingest(spread(), "test")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert passages.catch_up(conn) == 0  # it cannot write: no error, nothing indexed
    assert echoes.echoes_of_window(conn, None, None) == []
    conn.close()
