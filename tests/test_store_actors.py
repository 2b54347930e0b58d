"""One actor rule: the digest and the channel profiles count each post for the actor the campaign detector sees.

The store keeps each post's actor (feedwatch.store.actor) in columns of posts; these tests hold the digest's
window, `feedwatch channels` and the served tag timeline to the detector's rule, on both backends, for posts
of every kind: channel posts, exports naming their chat only by id or only by title, forwards (of another
chat, of the chat's own posts, of an origin known only by id), pasted forwards, and statements read from files.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from store_support import at, post

from feedwatch.campaigns.stream import actor_of, origin_of
from feedwatch.digest.sql import Window
from feedwatch.models import ForwardedFrom, Post
from feedwatch.store import Store, profiles
from feedwatch.store import actor as actor_rule
from feedwatch.store.backend import is_postgres
from feedwatch.store.rows import post_from_row


def channel_post(n: int, text: str, **fields: object) -> Post:
    return post(
        text, channel="BritainFirst", message_id=n, date=at(2), path="https://t.me/s/BritainFirst", index=n, **fields
    )


def export_post(n: int, text: str, **fields: object) -> Post:
    chat: dict[str, object] = {"channel_id": 1858370886, "channel_title": "All1App daily"}
    chat.update(fields)
    return post(text, fmt="tg-json", path="result.json", index=n, message_id=n, date=at(3), **chat)


def varied() -> list[Post]:
    """Posts of every kind the actor rule tells apart."""
    return [
        channel_post(1, "Our own words #Rally"),
        channel_post(2, "Passed on from RT #Rally", forwarded_from=ForwardedFrom("RT", channel="RT_news")),
        channel_post(3, "Our own post again", forwarded_from=ForwardedFrom("Britain First", channel="britainfirst")),
        channel_post(4, "From a chat known by id", forwarded_from=ForwardedFrom(None, channel_id=777)),
        channel_post(5, "From nobody we know", forwarded_from=ForwardedFrom(None)),
        export_post(10, "An export's own words #Rally"),
        export_post(11, "An export passing on #Rally", forwarded_from=ForwardedFrom("Someone Else")),
        export_post(12, "An export of its own chat", forwarded_from=ForwardedFrom("all1app  DAILY")),
        export_post(20, "Only a title names this chat", channel_id=None, channel_title="ВСЕ Новости"),
        export_post(
            21,
            "Only a title, forwarding",
            channel_id=None,
            channel_title="ВСЕ Новости",
            forwarded_from=ForwardedFrom("RT", channel="RT_news"),
        ),
        post(
            "Pasted from the ministry #Rally",
            fmt="dump",
            path="paste.txt",
            forwarded_from=ForwardedFrom("Russian MFA 🇷🇺"),
        ),
        post(
            "Pasted with a username",
            fmt="dump",
            path="paste.txt",
            forwarded_from=ForwardedFrom(None, channel="MFA_Russia"),
        ),
        post("Pasted from an id", fmt="dump", path="paste.txt", forwarded_from=ForwardedFrom(None, channel_id=42)),
        post("A statement read from a file #Rally", fmt="statement", path="seeds/statement.txt"),
        post("A statement read from stdin", fmt="statement", path=None, index=None),
    ]


def stored_rows(store: Store) -> Iterator[tuple[int, Post]]:
    for row in store.db.execute("SELECT id, title, text, author, json FROM posts ORDER BY id"):
        yield row[0], post_from_row(row[1:])


@pytest.fixture
def store(store_target: str) -> Iterator[Store]:
    opened = Store.open(store_target)
    yield opened
    opened.close()


def detector_view(store: Store) -> dict[int, tuple[str, bool]]:
    return {row_id: actor_of(p) for row_id, p in stored_rows(store)}


def test_the_digest_window_and_the_columns_are_the_detectors_actor(store: Store) -> None:
    posts = varied()
    store.ingest(posts, "varied")
    expected = detector_view(store)
    assert len(expected) == len(posts)
    assert set(expected.values()) >= {
        ("britainfirst", False),
        ("britainfirst", True),
        ("i:1858370886", False),
        ("i:1858370886", True),
        ("t:все новости", False),
        ("t:все новости", True),
        ("russian mfa 🇷🇺", False),
        ("mfa_russia", False),
        ("i:42", False),
        ("file:seeds/statement.txt", False),
        ("file:statement", False),
    }
    conn = store.db.conn
    Window(conn, None, datetime.now(UTC))
    window = {r[0]: (r[1], bool(r[2])) for r in conn.execute("SELECT id, actor, fwd FROM temp.digest_window")}
    assert window == expected
    columns = {r[0]: tuple(r[1:]) for r in conn.execute("SELECT id, actor, origin, actor_name FROM posts")}
    assert columns == {i: tuple(actor_rule.of(p)) for i, p in stored_rows(store)}
    for i, p in stored_rows(store):  # the origin is kept for forwards only
        assert columns[i][1] == (origin_of(p) if expected[i][1] else None)


def test_channel_profiles_count_each_post_for_the_detectors_actor(store: Store) -> None:
    store.ingest(varied(), "varied")
    detector = detector_view(store)
    posts = Counter(a for a, _ in detector.values() if not a.startswith("file:"))
    forwards = Counter(a for a, f in detector.values() if f)
    rows = profiles.channels(store.db.conn)
    names = {
        "BritainFirst": "britainfirst",
        "All1App daily": "i:1858370886",
        "ВСЕ Новости": "t:все новости",
        "Russian MFA 🇷🇺": "russian mfa 🇷🇺",
        "MFA_Russia": "mfa_russia",
        "channel 42": "i:42",
    }
    assert {r["channel"] for r in rows} == set(names)  # statements read from files belong to no channel
    for row in rows:
        key = names[row["channel"]]
        assert (row["posts"], row["forwards_out"]) == (posts[key], forwards[key]), row["channel"]
    by_name = {r["channel"]: r for r in rows}
    assert by_name["BritainFirst"]["forwards_from"] == "i:777 (1), rt_news (1)"
    assert by_name["All1App daily"]["forwards_from"] == "someone else (1)"
    for name, key in names.items():  # one channel's profile, by the name shown (or the key), agrees
        for asked in (name, key):
            found = profiles.rows(store.db.conn, profiles.CHANNEL_PROFILE, {"channel": asked})
            assert len(found) == 1, (asked, found)
            (one,) = found
            assert (one["posts"], one["forwards_out"]) == (posts[key], forwards[key]), asked


def test_a_stored_copy_claimed_by_its_channel_post_takes_the_channels_actor(store: Store) -> None:
    pasted = post("The same words, pasted first", fmt="dump", path="paste.txt", forwarded_from=ForwardedFrom("RT"))
    store.ingest([pasted], "paste")
    assert store.db.execute("SELECT actor, origin FROM posts").fetchall() == [("rt", None)]
    store.ingest([channel_post(9, pasted.text, forwarded_from=ForwardedFrom("RT"))], "poll")
    [(_, merged)] = stored_rows(store)
    assert actor_of(merged) == ("britainfirst", True)
    assert store.db.execute("SELECT actor, origin, actor_name FROM posts").fetchall() == [
        ("britainfirst", "rt", "@BritainFirst")
    ]


def test_a_store_made_before_the_columns_gets_them_from_the_same_rule(store_target: str) -> None:
    with Store.open(store_target) as store:
        store.ingest(varied(), "varied")
        expected = {i: tuple(actor_rule.of(p)) for i, p in stored_rows(store)}
        conn = store.db.conn
        conn.execute("BEGIN")
        if is_postgres(conn):
            conn.execute("ALTER TABLE posts DROP COLUMN actor, DROP COLUMN origin, DROP COLUMN actor_name")
            conn.execute("DELETE FROM migrations WHERE name = '002_actors'")
        else:
            for column in actor_rule.COLUMNS:
                conn.execute(f"ALTER TABLE posts DROP COLUMN {column}")
            conn.execute("DELETE FROM migrations WHERE name = '015_actors'")
        conn.execute("COMMIT")
    with Store.open(store_target) as store:  # migrated again: the columns filled for every stored post
        found = {r[0]: tuple(r[1:]) for r in store.db.execute("SELECT id, actor, origin, actor_name FROM posts")}
        assert found == expected
        assert store.ingest([dataclasses.replace(varied()[0], views=5)], "again").updated == 1
