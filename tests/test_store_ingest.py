"""Ingest: one post however often and by whatever route it arrives; edits, counters, hooks."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st
from store_support import SEEDS, at, counts, fts_count, generated, post, stored

from feedwatch.models import ForwardedFrom, Post, Reaction, Source
from feedwatch.parse import expand, parse_path
from feedwatch.store import IngestResult, Store
from feedwatch.store.backend import Database, is_postgres

TEXT = "Lavrov met Guterres in New York\n\nThey spoke about the UN Charter. #UNCharterIsOurRules"


@pytest.fixture
def store(store_target: str) -> Store:
    opened = Store.open(store_target)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    """For what only SQLite has (sqlite-utils, FTS5's own tables, statement tracing)."""
    opened = Store.open(tmp_path / "fw.db")
    yield opened
    opened.close()


def ingest_seeds(store: Store) -> IngestResult:
    total = IngestResult()
    for path in expand([str(SEEDS)]):
        total += store.ingest(parse_path(path), path)
    return total


def test_seeds_twice_leave_eight_posts_and_the_second_time_adds_nothing(store: Store) -> None:
    assert ingest_seeds(store) == IngestResult(new=8)
    before = counts(store)
    assert ingest_seeds(store) == IngestResult(unchanged=8)
    assert counts(store) == before
    assert before["posts"] == 8 and before["post_sources"] == 8
    kinds = [p.kind for p in stored(store)]
    assert kinds.count("statement") == 1 and kinds.count("post") == 7


def test_seed_hashtags_keep_one_key_and_every_spelling(store: Store) -> None:
    ingest_seeds(store)
    spellings = store.db.execute(
        "SELECT s.spelling FROM hashtag_spellings s JOIN hashtags h ON h.id = s.hashtag"
        " WHERE h.key = 'uncharterisourrules' ORDER BY s.spelling"
    ).fetchall()
    assert [s for (s,) in spellings] == ["UNCharterIsOurRules", "UnCharterIsOurRules"]
    linked = store.db.execute(
        "SELECT count(*) FROM post_hashtags WHERE hashtag = (SELECT id FROM hashtags WHERE key = ?)",
        ["uncharterisourrules"],
    ).fetchone()[0]
    assert linked == 7


def test_a_pasted_copy_then_the_channel_post_become_one_upgraded_post(store: Store) -> None:
    pasted = post(TEXT, fmt="dump", path="paste.txt", forwarded_from=ForwardedFrom("Russian MFA"))
    own = post(TEXT, channel="mfa_russia", message_id=512, views=900, date=at(1), path="https://t.me/s/mfa_russia")
    assert store.ingest([pasted], "paste.txt") == IngestResult(new=1)
    assert store.ingest([own], "tme") == IngestResult(updated=1)
    [merged] = stored(store)
    assert (merged.channel, merged.message_id, merged.views, merged.date) == ("mfa_russia", 512, 900, at(1))
    assert merged.forwarded_from == ForwardedFrom("Russian MFA")  # known, so kept
    (ident,) = store.db.execute("SELECT ident FROM posts").fetchone()
    assert ident == "c:mfa_russia/512"
    routes = store.db.execute("SELECT format, path FROM post_sources ORDER BY format").fetchall()
    assert routes == [("dump", "paste.txt"), ("tme-html", "https://t.me/s/mfa_russia")]
    assert store.ingest([pasted], "paste.txt") == IngestResult(unchanged=1)
    assert store.ingest([own], "tme") == IngestResult(unchanged=1)
    assert counts(store)["post_sources"] == 2


def test_the_channel_post_then_a_pasted_copy_with_other_spacing_is_one_post(store: Store) -> None:
    own = post(TEXT, channel="mfa_russia", message_id=512, path="page.html")
    pasted = post("🇷🇺 " + TEXT.replace(" ", "  ").upper(), fmt="dump", path="paste.txt")
    assert own.fingerprint == pasted.fingerprint
    store.ingest([own], "tme")
    assert store.ingest([pasted], "paste.txt") == IngestResult(updated=1)
    assert store.count() == 1
    assert stored(store)[0].message_id == 512
    assert counts(store)["post_versions"] == 0  # another rendering of the same words is not an edit


def test_the_same_post_by_two_formats_merges_fields_richer_source_winning(store: Store) -> None:
    page = post(TEXT, channel="mfa_russia", message_id=7, views=1000, approximate=("views",), fmt="tme-html")
    api = post(
        TEXT,
        channel="mfa_russia",
        message_id=7,
        views=1042,
        forwards=5,
        channel_id=1101170442,
        author="Press office",
        reactions=(Reaction("👍", 3),),
        fmt="telethon",
        path=None,
        index=None,
    )
    store.ingest([page], "tme")
    assert store.ingest([api], "telethon") == IngestResult(updated=1)
    [merged] = stored(store)
    assert (merged.views, merged.forwards, merged.channel_id, merged.author) == (1042, 5, 1101170442, "Press office")
    assert merged.approximate == ()  # the exact count replaced the abbreviated one
    assert merged.source.format == "telethon"
    assert counts(store)["post_sources"] == 2


def test_a_known_value_is_never_overwritten_by_null(store: Store) -> None:
    rich = post(
        TEXT,
        channel="c",
        message_id=1,
        date=at(2),
        author="Desk",
        views=50,
        url="https://t.me/c/1",
        forwarded_from=ForwardedFrom("Other", "other", 3),
        fmt="telethon",
    )
    poor = post(TEXT, channel="c", message_id=1, fmt="tme-html")
    store.ingest([rich], "a")
    store.ingest([poor], "b")
    [merged] = stored(store)
    assert (merged.date, merged.author, merged.views, merged.url) == (at(2), "Desk", 50, "https://t.me/c/1")
    assert merged.forwarded_from == ForwardedFrom("Other", "other", 3)


def test_an_edit_keeps_the_old_text_as_a_version_and_search_sees_the_new(store: Store) -> None:
    first = post("Original wording about grain exports", channel="c", message_id=1)
    edited = post("Corrected wording about fertiliser exports", channel="c", message_id=1)
    store.ingest([first], "a", observed_at=at(1))
    assert store.ingest([edited], "a", observed_at=at(2)) == IngestResult(updated=1)
    versions = store.db.execute("SELECT text, since, until, format FROM post_versions").fetchall()
    assert versions == [(first.text, at(1).isoformat(), at(2).isoformat(), "tme-html")]
    assert stored(store)[0].text == edited.text
    assert (fts_count(store, "fertiliser"), fts_count(store, "grain")) == (1, 0)
    # The old capture again (observed later) is recognised as the old text: nothing changes.
    assert store.ingest([first], "a", observed_at=at(3)) == IngestResult(unchanged=1)
    assert store.ingest([edited], "a", observed_at=at(4)) == IngestResult(unchanged=1)
    assert counts(store)["post_versions"] == 1
    assert stored(store)[0].text == edited.text


def test_an_older_edit_arriving_late_is_kept_as_a_version_not_made_current(store: Store) -> None:
    new = post("Second version of the statement", channel="c", message_id=1, edit_date=at(5))
    old = post("First version of the statement", channel="c", message_id=1, edit_date=at(4))
    store.ingest([new], "a", observed_at=at(6))
    assert store.ingest([old], "b", observed_at=at(7)) == IngestResult(updated=1)
    assert stored(store)[0].text == new.text
    assert store.db.execute("SELECT text FROM post_versions").fetchall() == [(old.text,)]


def test_an_edit_once_seen_stays_marked_with_its_latest_date(store: Store) -> None:
    plain = post("Statement on the grain deal", channel="c", message_id=1, edited=False)
    marked = post("Statement on the grain deal", channel="c", message_id=1, edited=True, edit_date=at(3))
    store.ingest([plain], "a", observed_at=at(1))
    store.ingest([marked], "a", observed_at=at(4))
    store.ingest([plain], "a", observed_at=at(5))  # an older capture, without the mark, again
    (kept,) = stored(store)
    assert kept.edited is True and kept.edit_date == at(3)
    changed = post("Statement on the grain deal, corrected", channel="c", message_id=2, edited=False)
    store.ingest([post("Statement on the grain deal, first", channel="c", message_id=2)], "a", observed_at=at(1))
    store.ingest([changed], "a", observed_at=at(2))  # the text changed: that is an edit, marked or not
    assert next(p for p in stored(store) if p.message_id == 2).edited is True


def test_counters_are_observed_when_they_change_and_not_when_repeated(store: Store) -> None:
    p = post(TEXT, channel="c", message_id=1, views=100, forwards=2)
    store.ingest([p], "a", observed_at=at(1))
    store.ingest([p], "a", observed_at=at(2))  # the same numbers again: not stored twice
    store.ingest([dataclasses.replace(p, views=150, reactions=(Reaction("🔥", 4),))], "a", observed_at=at(3))
    store.ingest([dataclasses.replace(p, views=None)], "b", observed_at=at(4))  # no counters: nothing seen
    rows = store.db.execute("SELECT observed_at, views, forwards, reactions FROM observations ORDER BY id").fetchall()
    assert rows == [(at(1).isoformat(), 100, 2, None), (at(3).isoformat(), 150, 2, '[["🔥", 4]]')]
    assert stored(store)[0].views == 150
    first_seen, last_seen = store.db.execute("SELECT first_seen, last_seen FROM posts").fetchone()
    assert (first_seen, last_seen) == (at(1).isoformat(), at(4).isoformat())


def test_duplicates_inside_one_batch_are_one_post(store: Store) -> None:
    p = post(TEXT, channel="c", message_id=1)
    copy = post(TEXT, fmt="dump", path="paste.txt")
    assert store.ingest([copy, p, p, copy], "x") == IngestResult(new=1, updated=1, unchanged=2)
    assert store.count() == 1 and counts(store)["post_sources"] == 2


def test_the_same_words_in_two_channels_are_two_posts(store: Store) -> None:
    store.ingest([post(TEXT, channel="a", message_id=1), post(TEXT, channel="b", message_id=1)], "x")
    assert store.count() == 2
    assert store.ingest([post(TEXT, fmt="dump", path="p.txt")], "p") == IngestResult(updated=1)
    assert store.count() == 2
    routes = store.db.execute(
        "SELECT p.channel, s.format FROM post_sources s JOIN posts p ON p.id = s.post ORDER BY s.first_seen, s.post"
    ).fetchall()
    assert routes == [("a", "tme-html"), ("b", "tme-html"), ("a", "dump")]  # the copy joins the oldest


def test_posts_without_words_are_told_apart_by_their_whole_record(store: Store) -> None:
    a = Post(media=(), fingerprint="", source=Source("dump", "p.txt", 0), author="x")
    b = Post(fingerprint="", source=Source("dump", "p.txt", 1), author="y")
    assert store.ingest([a, b, a], "p") == IngestResult(new=2, unchanged=1)


def test_batches_commit_separately_and_counts_add_up(store: Store) -> None:
    posts = generated(250, copies=40)
    result = store.ingest(posts, "gen", batch=60)
    assert result == IngestResult(new=250, updated=40)
    assert store.count() == 250 and counts(store)["post_sources"] == 290
    assert counts(store)["post_hashtags"] == 500
    assert store.ingest(posts, "gen", batch=33) == IngestResult(unchanged=290)


def test_on_new_sees_new_posts_and_writes_with_the_batch(store: Store) -> None:
    seen: list[list[int]] = []

    def on_new(db: Database, fresh: list[tuple[int, Post]]) -> None:
        seen.append([rowid for rowid, _ in fresh])
        db.execute("CREATE TABLE IF NOT EXISTS detector (post INTEGER NOT NULL PRIMARY KEY, tags INTEGER)")
        for rowid, p in fresh:
            db.execute("INSERT INTO detector (post, tags) VALUES (?, ?)", [rowid, len(p.hashtags)])

    posts = generated(5, copies=2)
    store.ingest(posts, "gen", batch=4, on_new=on_new)
    assert seen == [[1, 2, 3, 4], [5]]
    assert store.db.execute("SELECT count(*) FROM detector").fetchone()[0] == 5
    store.ingest(posts, "gen", on_new=on_new)
    assert seen == [[1, 2, 3, 4], [5]]


def test_a_failing_on_new_rolls_back_its_batch_only(store: Store) -> None:
    store.db.execute("CREATE TABLE detector (post INTEGER)")

    def on_new(db: Database, fresh: list[tuple[int, Post]]) -> None:
        db.execute("INSERT INTO detector (post) VALUES (?)", [fresh[0][0]])
        if fresh[0][0] > 3:
            raise RuntimeError("detector failed")

    with pytest.raises(RuntimeError):
        store.ingest(generated(8), "gen", batch=3, on_new=on_new)
    assert store.count() == 3
    assert store.db.execute("SELECT count(*) FROM detector").fetchone()[0] == 1
    assert store.ingest(generated(8), "gen") == IngestResult(new=5, unchanged=3)


def test_sqlite_utils_writes_in_on_new_join_the_batch_and_roll_back_with_it(sqlite_store: Store) -> None:
    """sqlite-utils must never commit inside a batch: its writes are undone with the batch's posts."""

    def on_new(db: sqlite_utils.Database, fresh: list[tuple[int, Post]]) -> None:
        db.table("hook").create({"post": int, "note": str}, pk="post")
        db.table("hook").insert_all({"post": rowid, "note": p.text} for rowid, p in fresh)
        db.table("hook").upsert_all([{"post": fresh[0][0], "note": "again"}], pk="post")
        db.table("hook").enable_fts(["note"])
        db.execute("INSERT INTO hook (post, note) VALUES (?, ?)", [-1, "by execute"])
        assert db.conn.in_transaction
        raise RuntimeError("hook failed after writing")

    with pytest.raises(RuntimeError, match="hook failed after writing"):
        sqlite_store.ingest(generated(5), "gen", on_new=on_new)
    assert sqlite_store.count() == 0
    assert not [name for name in sqlite_store.db.table_names() if name.startswith("hook")]


@pytest.mark.parametrize(
    "end",
    [
        lambda db: db.conn.commit(),
        lambda db: db.conn.rollback(),
        lambda db: db.conn.execute("COMMIT"),
        lambda db: db.conn.executescript("SELECT 1"),
        lambda db: db.commit(),
    ],
    ids=["commit", "rollback", "COMMIT", "executescript", "Database.commit"],
)
def test_on_new_cannot_end_the_batch_transaction(sqlite_store: Store, end) -> None:
    def on_new(db: sqlite_utils.Database, fresh: list[tuple[int, Post]]) -> None:
        db.table("hook").insert({"post": fresh[0][0]})
        end(db)

    with pytest.raises(RuntimeError, match="refused inside a batch"):
        sqlite_store.ingest(generated(5), "gen", on_new=on_new)
    assert sqlite_store.count() == 0 and "hook" not in sqlite_store.db.table_names()
    assert sqlite_store.ingest(generated(5), "gen") == IngestResult(new=5)  # the store works on afterwards


@pytest.mark.parametrize("end", ["COMMIT", "ROLLBACK", "END", "BEGIN"])
def test_on_new_cannot_end_the_batch_transaction_with_sql(store: Store, end: str) -> None:
    def on_new(db: Database, fresh: list[tuple[int, Post]]) -> None:
        db.execute("CREATE TABLE hook (post INTEGER)")
        db.conn.execute(end)

    with pytest.raises(RuntimeError, match="refused inside a batch"):
        store.ingest(generated(5), "gen", on_new=on_new)
    assert store.count() == 0 and "hook" not in store.db.table_names()
    assert store.ingest(generated(5), "gen") == IngestResult(new=5)  # the store works on afterwards


def test_posts_name_their_channels(store: Store) -> None:
    store.ingest([post(TEXT, channel="MFA_Russia", message_id=1, channel_id=42, channel_title="MID Rossii")], "x")
    state = store.channel("mfa_russia")
    assert state is not None and (state.username, state.channel_id, state.title) == ("MFA_Russia", 42, "MID Rossii")
    assert state.high_water is None  # only polling moves the high-water mark


@settings(max_examples=60, deadline=None)
@given(
    st.builds(
        Post,
        text=st.text(max_size=80),
        channel=st.none() | st.sampled_from(["a", "B"]),
        message_id=st.none() | st.integers(1, 5),
        views=st.none() | st.integers(0, 10),
        forwarded_from=st.none() | st.builds(ForwardedFrom, st.text(max_size=5)),
        reactions=st.lists(st.builds(Reaction, st.text(max_size=2), st.integers(0, 9)), max_size=2).map(tuple),
        source=st.builds(Source, st.sampled_from(["dump", "tme-html"]), st.none() | st.text(max_size=4)),
    )
)
def test_any_post_is_stored_and_read_back_unchanged(p: Post) -> None:
    """Nulls and empty lists are left out of the stored JSON; reading puts back exactly what was written."""
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "fw.db") as store:
        assert store.ingest([p], "x") == IngestResult(new=1)
        assert stored(store) == [p]


def test_text_filled_in_later_is_not_an_edit(store: Store) -> None:
    bare = post("", channel="c", message_id=9, media=())
    store.ingest([bare], "a", observed_at=at(1))
    assert store.ingest([post(TEXT, channel="c", message_id=9)], "b", observed_at=at(2)) == IngestResult(updated=1)
    assert counts(store)["post_versions"] == 0
    assert stored(store)[0].text == post(TEXT).text


def test_new_counters_do_not_re_index_the_text_but_an_edit_does(sqlite_store: Store) -> None:
    store = sqlite_store
    p = post(TEXT, channel="c", message_id=1, views=1)
    store.ingest([p], "a", observed_at=at(1))
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    store.ingest([dataclasses.replace(p, views=5)], "a", observed_at=at(2))
    assert not any("posts_fts" in s for s in statements)
    store.ingest([post("A new text for the post", channel="c", message_id=1, views=6)], "a", observed_at=at(3))
    assert any("posts_fts" in s for s in statements)
    store.db.conn.set_trace_callback(None)
    assert (fts_count(store, "new"), fts_count(store, "charter"), stored(store)[0].views) == (1, 0, 6)


def test_a_post_the_database_cannot_hold_fails_alone(store: Store) -> None:
    huge = post("A post with an impossible id", channel="c", message_id=2**70)
    assert store.ingest([huge, post(TEXT, channel="c", message_id=1)], "x") == IngestResult(new=1, failed=1)
    assert store.count() == 1


def test_an_older_capture_ingested_again_adds_no_observation(store: Store) -> None:
    p = post(TEXT, channel="c", message_id=1, views=100)
    store.ingest([p], "a", observed_at=at(5))
    older = dataclasses.replace(p, views=40, source=Source("tme-html", "old.html", 0))
    assert store.ingest([older], "b", observed_at=at(2)) == IngestResult(updated=1)
    assert store.ingest([older], "b", observed_at=at(2)) == IngestResult(unchanged=1)
    rows = store.db.execute("SELECT observed_at, views FROM observations ORDER BY observed_at").fetchall()
    assert rows == [(at(2).isoformat(), 40), (at(5).isoformat(), 100)]
    assert stored(store)[0].views == 100  # the newer count stays current


def test_the_search_index_holds_exactly_the_stored_texts_across_batches_claims_and_edits(store: Store) -> None:
    """New posts are indexed per batch in one statement: the index must match the table whatever the batch held."""
    words = [f"word{i:03d}x" for i in range(40)]
    pasted = [post(f"Pasted {w} text", fmt="dump", path="paste.txt", index=i) for i, w in enumerate(words[:10])]
    keyed = [post(f"Pasted {w} text", channel="c", message_id=i, date=at(1)) for i, w in enumerate(words[:10])]
    fresh = [post(f"Fresh {w} text", channel="c", message_id=100 + i, date=at(2)) for i, w in enumerate(words[10:])]
    # Pasted copies first; then a batch mixing new posts with keyed ones that claim the pasted rows.
    store.ingest(pasted, "paste", batch=3)
    store.ingest([p for pair in zip(fresh, keyed, strict=False) for p in pair] + fresh[10:], "page", batch=7)
    store.ingest([post("An edited text, now about word999x", channel="c", message_id=100, date=at(2))], "edit")
    if not is_postgres(store.db):  # FTS5's own check that the index matches the posts (PostgreSQL's is generated)
        store.db.execute("INSERT INTO posts_fts(posts_fts, rank) VALUES ('integrity-check', 1)")
    assert store.count() == 40
    assert [fts_count(store, w) for w in words] == [1] * 10 + [0] + [1] * 29  # word010x was edited away
    assert fts_count(store, "word999x") == 1
    assert fts_count(store, "text") == store.count()  # every post, found through the index itself


def test_unknown_values_are_stored_as_null(store: Store) -> None:
    """SQLite rows carry an unknown value as NaN (cheaper to bind than None), which SQLite stores as NULL."""
    known = post(TEXT, channel="mfa_russia", message_id=7, views=12, forwards=3, replies=1, author="MFA")
    unknown = post("A text with nothing else known", fmt="dump", path=None, index=None)
    store.ingest([known, unknown], "in.txt")
    store.ingest([dataclasses.replace(known, views=13, reactions=(Reaction("👍", 2),))], "again.txt")
    nulls = {
        "posts": "channel, message_id, date, title, author, key_points, views, forwards",
        "observations": "views, forwards, replies, reactions, path",
        "post_sources": "path, idx",
    }
    for table, columns in nulls.items():
        for column in columns.split(", "):
            values = [r[0] for r in store.db.execute(f"SELECT {column} FROM {table}").fetchall()]
            assert all(v is None or v == v for v in values), (table, column, values)  # no NaN (NaN != NaN)
            nulls_counted = store.db.execute(f"SELECT count(*) FROM {table} WHERE {column} IS NULL").fetchone()[0]
            assert nulls_counted == values.count(None), (table, column)
    unknown_row = store.db.execute("SELECT author, views, date FROM posts WHERE message_id IS NULL").fetchone()
    assert tuple(unknown_row) == (None, None, None)
    assert store.db.execute("SELECT count(*) FROM observations WHERE reactions IS NULL").fetchone()[0] == 1
    assert store.db.execute("SELECT count(*) FROM post_sources WHERE path IS NULL AND idx IS NULL").fetchone()[0] == 1


def test_a_post_id_is_never_given_twice_so_readers_past_a_stored_id_miss_nothing(store: Store) -> None:
    """The newest posts deleted (their input read again without them), the next post takes a new id, and the echo
    index, which reads the posts past the last id it read, still indexes it."""
    from feedwatch.store import passages

    words = "the ministry says the talks in geneva ended without any agreement on the grain corridor"
    first = [post(f"{words} {i}", path="feed.txt", index=i, channel="a", message_id=i) for i in range(3)]
    store.ingest(first, "feed.txt", observed_at=at(1))
    highest = store.db.execute("SELECT max(id) FROM posts").fetchone()[0]
    passages.catch_up(store.db.conn)
    assert passages.indexed_to(store.db.conn) == highest
    store.ingest(first[:1], "feed.txt", observed_at=at(2))  # the file read again holds only its first post
    assert store.forget_replaced("feed.txt", at(2)) == 2
    assert store.db.execute("SELECT max(id) FROM posts").fetchone()[0] < highest
    echoed = post(f"{words} again", path="other.txt", index=0, channel="b", message_id=1)
    store.ingest([echoed], "other.txt", observed_at=at(3))
    new_id = store.db.execute("SELECT id FROM posts WHERE channel = 'b'").fetchone()[0]
    assert new_id > highest
    assert passages.catch_up(store.db.conn) == 1
    assert store.db.execute("SELECT count(*) FROM echo_passages WHERE post = ?", [new_id]).fetchone()[0] >= 1


def test_input_that_fails_part_way_keeps_the_batches_before_it_indexed(store: Store) -> None:
    """The next batch is read while the search index is written; what reading it raises comes after the commit."""
    posts = generated(25)

    def failing() -> Iterator[Post]:
        yield from posts[:20]
        raise ValueError("the input broke")

    with pytest.raises(ValueError, match="the input broke"):
        store.ingest(failing(), "broken.jsonl", batch=10)
    assert len(stored(store)) == 20  # two whole batches, committed
    assert fts_count(store, "number") == 20  # and searchable


def test_a_failing_search_index_rolls_the_batch_back(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from feedwatch.errors import StoreError
    from feedwatch.store.ingest import Batch

    sqlite_store.ingest(generated(5), "first.jsonl")
    index = Batch.index

    def failing(self: Batch) -> None:
        index(self)  # written, then the statement fails: the whole batch goes
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Batch, "index", failing)
    with pytest.raises(StoreError, match="disk I/O error"):
        sqlite_store.ingest(generated(12)[5:], "second.jsonl")
    assert len(stored(sqlite_store)) == 5
    assert fts_count(sqlite_store, "number") == 5
