"""Identity: a post with a message id is its chat and that id; text fingerprints only for posts without one."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from store_support import at, counts, index_size, post, stored

import feedwatch.store.ingest as ingest_module
from feedwatch.models import ForwardedFrom, Post, Source
from feedwatch.parse import expand, parse_path
from feedwatch.parse.text import fingerprint
from feedwatch.store import ChannelState, IngestResult, Store, repair
from feedwatch.store import merge as mg
from feedwatch.store.ingest import Batch
from feedwatch.store.rows import post_values
from feedwatch.store.schema import MIGRATIONS, migrate
from feedwatch.store.tags import TagIds

SAME = "Free webinar tonight on concrete design. Join us! #Webinar"


@pytest.fixture
def store(store_target: str) -> Store:
    opened = Store.open(store_target)
    yield opened
    opened.close()


def json_export(path: Path, messages: list[dict[str, object]], **chat: object) -> Path:
    """A Telegram Desktop JSON export of one chat (`chat`: name, type, id as the export has them)."""
    path.write_text(json.dumps({**chat, "messages": messages}, ensure_ascii=False), encoding="utf-8")
    return path


def same_text_messages() -> list[dict[str, object]]:
    return [
        {
            "id": 100 + day,
            "type": "message",
            "date": f"2024-03-0{day + 1}T10:00:00",
            "date_unixtime": str(1709287200 + day * 86400),
            "text": SAME,
            "text_entities": [],
        }
        for day in range(3)
    ]


def ingest_path(store: Store, path: Path | str) -> IngestResult:
    total = IngestResult()
    for each in expand([str(path)]):
        total += store.ingest(parse_path(each), each)
    return total


@pytest.mark.parametrize(
    "chat",
    [
        {"name": "Civil Aspirants", "type": "public_channel", "id": 1858370886},
        {"name": "Civil Aspirants", "type": "public_channel"},  # no id: the export's title names the chat
    ],
)
def test_three_messages_with_the_same_text_in_an_export_are_three_posts(
    store: Store, tmp_path: Path, chat: dict[str, object]
) -> None:
    path = json_export(tmp_path / "result.json", same_text_messages(), **chat)
    assert ingest_path(store, path) == IngestResult(new=3)
    assert sorted(p.message_id for p in stored(store)) == [100, 101, 102]
    assert ingest_path(store, path) == IngestResult(unchanged=3)


def test_the_same_message_ids_in_two_chats_are_two_posts(store: Store, tmp_path: Path) -> None:
    one = json_export(tmp_path / "a.json", same_text_messages(), name="Chat A", type="public_channel", id=1)
    two = json_export(tmp_path / "b.json", same_text_messages(), name="Chat B", type="public_channel", id=2)
    titled = json_export(tmp_path / "c.json", same_text_messages(), name="Chat C", type="public_channel")
    for path in (one, two, titled):
        assert ingest_path(store, path) == IngestResult(new=3)
    idents = sorted(r[0] for r in store.db.execute("SELECT ident FROM posts"))
    assert idents == [f"i:{c}/{i}" for c in (1, 2) for i in (100, 101, 102)] + [
        f"t:chat c/{i}" for i in (100, 101, 102)
    ]


def test_an_export_without_an_id_is_its_title_across_re_ingests_and_files(store: Store, tmp_path: Path) -> None:
    first = json_export(tmp_path / "old.json", same_text_messages()[:2], name="Civil  Aspirants", type="public_channel")
    later = json_export(tmp_path / "new.json", same_text_messages(), name="Civil Aspirants", type="public_channel")
    assert ingest_path(store, first) == IngestResult(new=2)
    assert ingest_path(store, later) == IngestResult(new=1, updated=2)  # a new route; spacing is not identity
    assert store.count() == 3
    rows = store.db.execute("SELECT username, channel_id, title FROM channels").fetchall()
    assert rows == [(None, None, "Civil  Aspirants")]  # the export's chat, recorded once


def test_an_id_less_copy_is_claimed_by_the_export_post_it_copies(store: Store, tmp_path: Path) -> None:
    pasted = post(SAME, fmt="dump", path="paste.txt")
    assert store.ingest([pasted], "paste.txt") == IngestResult(new=1)
    path = json_export(tmp_path / "result.json", same_text_messages(), name="Civil Aspirants", id=42)
    # The first message claims the pasted copy; the other two, with their own ids, are posts of their own.
    assert ingest_path(store, path) == IngestResult(new=2, updated=1)
    assert sorted(r[0] for r in store.db.execute("SELECT ident FROM posts")) == ["i:42/100", "i:42/101", "i:42/102"]
    assert store.ingest([pasted], "paste.txt") == IngestResult(unchanged=1)  # the copy joins the oldest of its text
    assert store.count() == 3


def test_posts_without_an_id_are_still_one_post_per_text(store: Store) -> None:
    a = post(SAME, fmt="dump", path="one.txt")
    b = post(SAME.upper(), fmt="dump", path="two.txt")
    assert store.ingest([a, b], "pastes") == IngestResult(new=1, updated=1)


def test_an_id_without_any_chat_is_kept_apart_by_its_text(store: Store) -> None:
    posts = [post(SAME, fmt="jsonl", path="x.jsonl", index=i, message_id=100 + i) for i in range(3)]
    assert store.ingest(posts, "x.jsonl") == IngestResult(new=3)
    assert store.ingest(posts, "x.jsonl") == IngestResult(unchanged=3)
    ident = mg.ident(posts[0])
    assert ident == f"m:100/{fingerprint(SAME)}" and mg.is_keyed(ident)


def export_post(message_id: int, text: str = SAME, **fields: object) -> Post:
    return post(
        text,
        fmt="tg-json",
        path="result.json",
        index=message_id,
        message_id=message_id,
        channel_id=1858370886,
        channel_title="All1App daily",
        date=at(1),
        **fields,
    )


def tme_post(message_id: int, text: str = SAME) -> Post:
    return post(
        text,
        fmt="tme-html",
        path="https://t.me/s/all1app",
        index=message_id,
        channel="All1App",
        channel_id=1858370886,
        message_id=message_id,
        views=10,
        date=at(1),
        url=f"https://t.me/All1App/{message_id}",
    )


def test_an_export_then_the_channel_polled_by_username_are_one_channel(store: Store) -> None:
    exported = [export_post(i, f"{SAME} {i}") for i in (1, 2, 3)]
    assert store.ingest(exported, "result.json") == IngestResult(new=3)
    assert store.db.execute("SELECT username, channel_id FROM channels").fetchall() == [(None, 1858370886)]
    assert store.ingest([tme_post(3, f"{SAME} 3")], "tme") == IngestResult(updated=1)
    # The username and the id met: every post of the chat moved to the username, not just the one polled.
    assert sorted(r[0] for r in store.db.execute("SELECT ident FROM posts")) == [
        "c:all1app/1",
        "c:all1app/2",
        "c:all1app/3",
    ]
    assert store.db.execute("SELECT username, channel_id FROM channels").fetchall() == [("All1App", 1858370886)]
    assert [p.url for p in store.posts(channel="All1App")] == [f"https://t.me/All1App/{i}" for i in (1, 2, 3)]
    before = counts(store)
    assert store.ingest(exported, "result.json") == IngestResult(unchanged=3)
    assert counts(store) == before


def test_a_post_stored_under_both_the_id_and_the_username_becomes_one_when_they_meet(store: Store) -> None:
    store.ingest([export_post(5, "Words", views=None)], "result.json")
    by_name = dataclasses.replace(tme_post(5, "Words"), channel_id=None, views=7)  # a source without the id
    assert store.ingest([by_name], "page") == IngestResult(new=1)
    assert store.count() == 2
    assert store.ingest([tme_post(6, "Later")], "tme") == IngestResult(new=1)  # the username meets the id
    assert sorted(r[0] for r in store.db.execute("SELECT ident FROM posts")) == ["c:all1app/5", "c:all1app/6"]
    [five] = [p for p in store.posts() if p.message_id == 5]
    assert (five.channel_id, five.views, five.channel_title) == (1858370886, 7, "All1App daily")
    assert counts(store)["post_sources"] == 3
    assert index_size(store) == 2


def test_a_username_learnt_from_channel_state_alone_still_takes_over_the_posts(store: Store) -> None:
    exported = [export_post(i, f"{SAME} {i}") for i in (1, 2)]
    store.ingest(exported, "result.json")
    store.save_channel(ChannelState("All1App", channel_id=1858370886))  # a poll that found no new posts
    assert store.ingest(exported, "result.json") == IngestResult(unchanged=2)  # moved, not duplicated
    assert sorted(r[0] for r in store.db.execute("SELECT ident FROM posts")) == ["c:all1app/1", "c:all1app/2"]
    assert {p.channel for p in store.posts()} == {"All1App"}


def test_a_polled_channel_then_its_export_are_one_channel(store: Store) -> None:
    assert store.ingest([tme_post(1), tme_post(2, "Other words")], "tme") == IngestResult(new=2)
    assert store.ingest(
        [export_post(1), export_post(2, "Other words"), export_post(3, "New")], "result.json"
    ) == IngestResult(new=1, updated=2)
    assert sorted(p.message_id for p in store.posts(channel="all1app")) == [1, 2, 3]
    assert store.db.execute("SELECT count(*) FROM channels").fetchone()[0] == 1


def test_the_desktop_html_sample_stores_every_message(store: Store, formats_dir: Path) -> None:
    path = formats_dir / "tdesktop_html_onlineverdan"
    ids = {p.message_id for p in parse_path(str(path))}
    assert len(ids) == 1985
    assert ingest_path(store, path) == IngestResult(new=1985)
    assert {p.message_id for p in stored(store)} == ids
    before = counts(store)
    assert ingest_path(store, path) == IngestResult(unchanged=1985)
    assert counts(store) == before
    assert len(store.search("webinar OR Join")) > 0


@pytest.mark.parametrize(
    "name",
    [
        "tdesktop_json_all1app_messages_array.json",
        "tdesktop_json_langchain_result.json",
        "tme_s_durov.html",
        "tme_s_tginfouk.html",
        "tdesktop_html_cybersec_2018",
        "real/tgh_android_sec_2019",
        "real/tgh_fin_capital_ru",
        "real/tgj_tgif_corporate_speak",
        "real/tgj_tgif_software_testing",
        "real/tme_topwar_2023",
        "real/tme_any2feed_fragments",
    ],
)
def test_every_sample_stores_each_of_its_messages_once(store: Store, formats_dir: Path, name: str) -> None:
    path = formats_dir / name
    messages = {(p.channel, p.channel_id, p.message_id) for each in expand([str(path)]) for p in parse_path(each)}
    result = ingest_path(store, path)
    assert (result.new, result.failed) == (len(messages), 0)  # the JSON array repeats some messages verbatim
    assert store.count() == len(messages)
    assert ingest_path(store, path).new == 0


def old_ident(post: Post) -> str:
    """The identity rule of feedwatch before schema 009: channel+id, else the text."""
    if post.channel and post.message_id is not None:
        return f"c:{post.channel.lower()}/{post.message_id}"
    if post.fingerprint and post.fingerprint != mg.EMPTY_FINGERPRINT:
        return f"f:{post.fingerprint}"
    return "r:" + fingerprint(repr(post))


def old_database(path: Path, posts: list[Post], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """A database at schema 008 holding `posts` as the code of that version stored them; return (new, merged)."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(
        sqlite_utils.Database(conn, execute_plugins=False),
        upto=[name for name, _ in MIGRATIONS].index("008_digests") + 1,
    )
    with monkeypatch.context() as patch:
        patch.setattr(mg, "ident", old_ident)
        patch.setattr(Batch, "resolve", lambda self, posts: posts)
        patch.setattr(ingest_module.passages, "index", lambda conn, posts: 0)  # no passage index at 008
        insert = ingest_module._INSERT.replace(", actor, origin, actor_name", "").replace(", ?, ?, ?)", ")")
        patch.setattr(ingest_module, "_INSERT", insert)  # no actor columns before 015
        for name in ("_UPDATE", "_UPDATE_META"):
            patch.setattr(ingest_module, name, getattr(ingest_module, name).replace(ingest_module.ACTOR_SET, ""))
        patch.setattr(ingest_module, "post_values", lambda row, null=None: post_values(row, null)[:-3])
        patch.setattr(ingest_module, "_IDS_GIVEN", "SELECT max(id), NULL FROM posts")  # no post_ids before 017
        patch.setattr(ingest_module, "_ID_GIVEN", "SELECT ?")
        conn.execute("BEGIN")
        work = Batch(conn, TagIds(), "2024-03-01T00:00:00+00:00", str(path))
        results = [work.add(p, ident) for p, ident in work.load(posts)]
        work.write()
        work.index()
        for username, channel_id, title in work.channels.values():  # the channel rows as schema 008 kept them
            conn.execute(
                "INSERT INTO channels (username, title, channel_id, first_seen) VALUES (?, ?, ?, ?)",
                [username, title, channel_id, at(1).isoformat()],
            )
        conn.execute("COMMIT")
    conn.close()
    return results.count("new"), results.count("updated")


def test_migration_re_keys_an_old_database_and_re_ingesting_restores_every_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = [dataclasses.replace(export_post(100 + i), date=at(1 + i)) for i in range(3)]
    others = [export_post(200, "Another post"), export_post(201, "Yet another")]
    pasted = post("Only pasted, never exported", fmt="dump", path="paste.txt")
    polled = tme_post(7, "A polled post")
    path = tmp_path / "old.db"
    assert old_database(path, [*exported, *others, pasted, polled], monkeypatch) == (5, 2)  # the old defect
    monkeypatch.setattr(repair, "PAGE", 2)  # rows are read a page at a time
    with Store.open(path) as store:
        idents = sorted(r[0] for r in store.db.execute("SELECT ident FROM posts"))
        # The polled channel gave its username with the id: the export's posts are stored under it.
        assert idents == ["c:all1app/100", "c:all1app/200", "c:all1app/201", "c:all1app/7", f"f:{pasted.fingerprint}"]
        assert {p.channel for p in store.posts() if p.message_id} == {"All1App"}
        before = counts(store)["posts"]
        assert store.ingest([*exported, *others], "result.json") == IngestResult(new=2, unchanged=3)
        assert store.count() == before + 2
        assert sorted(p.message_id or 0 for p in store.posts()) == [0, 7, 100, 101, 102, 200, 201]


def test_migration_merges_rows_that_turn_out_to_be_one_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = export_post(5, "The first wording of the post")
    edited = dataclasses.replace(
        export_post(5, "A later, edited wording of it"), source=Source("tg-json", "result2.json", 5)
    )
    path = tmp_path / "old.db"
    assert old_database(path, [first, edited], monkeypatch) == (2, 0)  # two texts: two rows, then
    with Store.open(path) as store:
        [merged] = stored(store)
        assert merged.message_id == 5
        assert store.db.execute("SELECT ident FROM posts").fetchall() == [("i:1858370886/5",)]
        versions = [r[0] for r in store.db.execute("SELECT text FROM post_versions")]
        assert sorted([merged.text, *versions]) == sorted([first.text, edited.text])
        assert counts(store)["post_sources"] == 2
        assert index_size(store) == 1
        assert store.ingest([first, edited], "again") == IngestResult(unchanged=2)


def test_campaigns_and_digests_key_a_chat_as_the_store_does(store: Store, tmp_path: Path) -> None:
    from feedwatch.campaigns.stream import actor_of
    from feedwatch.digest.sql import ACTOR, FORWARD

    exported = [
        export_post(1),
        export_post(2, "Forwarded words", forwarded_from=ForwardedFrom("Someone else")),
        export_post(3, "Our own words again", forwarded_from=ForwardedFrom("All1App daily")),
    ]
    titled = [
        dataclasses.replace(
            p,
            channel_id=None,
            channel_title="ВСЕ Новости",
            source=Source("tg-html", f"messages{i}.html", 0),
            forwarded_from=p.forwarded_from and ForwardedFrom("Someone else" if p.message_id == 2 else "все  новости"),
        )
        for i, p in enumerate(exported, 1)
    ]  # one export's pages: one actor, not one per file
    store.ingest(exported + titled, "exports")
    seen = {(r[0], r[1]) for r in store.db.execute(f"SELECT {ACTOR}, {FORWARD} FROM posts p ORDER BY id")}
    actors = {(actor, bool(forward)) for actor, forward in map(actor_of, stored(store))}
    assert actors == {
        ("i:1858370886", False),
        ("i:1858370886", True),
        ("t:все новости", False),
        ("t:все новости", True),
    }
    assert {(a, bool(f)) for a, f in seen} == actors
    store.ingest([tme_post(9, "Polled")], "tme")  # the id meets its username
    assert {actor_of(p)[0] for p in store.posts() if p.channel_id} == {"all1app"}
    # the stored columns moved with the chat: the detector's rule applied again to the rows the username took
    seen = {(r[0], r[1]) for r in store.db.execute(f"SELECT {ACTOR}, {FORWARD} FROM posts p ORDER BY id")}
    assert {(a, bool(f)) for a, f in seen} == {
        (actor, bool(forward)) for actor, forward in map(actor_of, stored(store))
    }
