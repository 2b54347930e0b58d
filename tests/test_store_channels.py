"""Channel state for the poller, rename history, and run records."""

from __future__ import annotations

from datetime import UTC, datetime

from feedwatch.store import ChannelState, Store


def test_channel_state_round_trips_and_high_water_only_moves_forward(store_target: str) -> None:
    polled = datetime(2024, 5, 1, 10, tzinfo=UTC)
    with Store.open(store_target) as store:
        assert store.channel("durov") is None
        store.save_channel(ChannelState("durov", "Pavel Durov", 1006503122, 555, 481, polled))
        assert store.channel("@Durov") == ChannelState("durov", "Pavel Durov", 1006503122, 555, 481, polled)
        store.save_channel(ChannelState("durov", high_water=400, last_polled_at=datetime(2024, 5, 2, tzinfo=UTC)))
        state = store.channel("durov")
        assert state is not None
        assert (state.high_water, state.title, state.access_hash) == (481, "Pavel Durov", 555)
        assert state.last_polled_at == datetime(2024, 5, 2, tzinfo=UTC)
        store.save_channel(ChannelState("durov", high_water=502))
        assert store.channel("durov").high_water == 502  # type: ignore[union-attr]


def test_renames_are_kept_as_history(store_target: str) -> None:
    with Store.open(store_target) as store:
        store.save_channel(ChannelState("old_name", "Old title", channel_id=77))
        store.save_channel(ChannelState("new_name", "New title", channel_id=77))
        assert store.channel("old_name") is None
        assert store.channel("new_name").channel_id == 77  # type: ignore[union-attr]
        history = store.db.execute("SELECT username, title FROM channel_names ORDER BY first_seen").fetchall()
        assert history == [("old_name", "Old title"), ("new_name", "New title")]
        assert store.db.execute("SELECT count(*) FROM channels").fetchone()[0] == 1


def test_a_batch_that_renames_a_channel_then_names_the_old_name_again(store_target: str) -> None:
    """Posts of one batch: the channel under its new name (same id), then a post naming the old one."""
    from feedwatch.store import channels

    with Store.open(store_target) as store:
        store.save_channel(ChannelState("oldname", "Old", channel_id=5))
        conn = store.db.conn
        channels.note_seen(conn, [("newname", 5, "New"), ("oldname", None, None)], datetime(2024, 5, 3, tzinfo=UTC))
        rows = conn.execute("SELECT username, title, channel_id FROM channels ORDER BY username").fetchall()
        assert rows == [("newname", "New", 5), ("oldname", None, None)]


def test_runs_are_recorded_with_their_kind_and_errors(store_target: str) -> None:
    start, end = datetime(2024, 5, 1, 10, tzinfo=UTC), datetime(2024, 5, 1, 10, 1, tzinfo=UTC)
    with Store.open(store_target) as store:
        store.record_run(
            "t.me/s/durov", new=3, updated=1, unchanged=16, failed=0, errors=[], started_at=start, finished_at=end
        )
        store.record_run(
            "t.me/s/durov",
            new=0,
            updated=0,
            unchanged=0,
            failed=0,
            errors=[("rate_limited", "429, retry after 30 s")],
            started_at=start,
            finished_at=end,
        )
        latest, first = store.runs("t.me/s/durov")
        assert (first.kind, first.new, first.unchanged, first.errors) == ("ok", 3, 16, ())
        assert (latest.kind, latest.errors) == ("rate_limited", (("rate_limited", "429, retry after 30 s"),))
        assert latest.started_at == start and latest.finished_at == end
        assert store.runs("elsewhere") == []


def test_polling_progress_is_kept_across_reopening_and_not_erased_by_stored_posts(store_target: str) -> None:
    from dataclasses import replace

    from feedwatch.models import Post, Source

    retry = datetime(2026, 5, 1, 13, tzinfo=UTC)
    with Store.open(store_target) as store:
        store.save_channel(ChannelState("durov", "Old", retry_at=retry, resume_before=41, resume_top=60))
    post = Post(
        text="hello",
        date=datetime(2026, 5, 1, tzinfo=UTC),
        channel="durov",
        channel_title="New title",
        message_id=7,
        source=Source("jsonl", "x.jsonl", None),
    )
    with Store.open(store_target) as store:
        store.ingest([post], "x.jsonl")  # renames the channel: its polling progress stays
        state = store.channel("durov")
        assert state is not None and state.title == "New title"
        assert (state.retry_at, state.resume_before, state.resume_top) == (retry, 41, 60)
        store.save_channel(replace(state, retry_at=None, resume_before=None, resume_top=None))
        state = store.channel("durov")
        assert state is not None and (state.retry_at, state.resume_before, state.resume_top) == (None, None, None)
