"""`feedwatch worker`: jobs from a real PostgreSQL queue, real worker processes, a real local t.me/s server.

The PostgreSQL parts (conftest's `postgres_url`: a fresh schema) skip with a visible reason when no server answers.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from campaign_support import QUICK
from click.testing import CliRunner
from test_campaign_state import scenario
from tme_server import FakePost, TmeServer, make_posts
from worker_support import Workers, query, stored_ids, wait_for, write_config

from feedwatch.campaigns import IngestHook, adopt_stream, alerts, catch_up, rebuild_stored
from feedwatch.campaigns.stored import newest_post, stream_position
from feedwatch.cli import main
from feedwatch.config import load_config
from feedwatch.errors import ConfigError
from feedwatch.sources.web import WebSettings, WebSource, make_client
from feedwatch.store import Store
from feedwatch.workers import GATE_KEY, StreamGate, resolve_queue, tick_cron

# -- the stream gate: a late commit with a lower id is never skipped ------------------------------

GATE_LOCKS = (  # the gate's advisory locks in this database (a bigint key is two 32-bit halves)
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory'"
    " AND d.datname = current_database() AND l.classid = %s AND l.objid = %s"
)
GATE_PARTS = (GATE_KEY >> 32, GATE_KEY & 0xFFFFFFFF)


def test_the_gate_waits_for_a_writer_whose_lower_id_commits_after_a_higher_one(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE posts (id bigserial PRIMARY KEY, text text)")
    gate = StreamGate(postgres_url)

    def newest() -> int:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM posts").fetchone()[0])  # type: ignore[index]

    slow = psycopg.connect(postgres_url)
    with gate.writing():  # writer A takes id 1 and has not committed
        slow.execute("INSERT INTO posts (text) VALUES ('a')")
        with gate.writing(), psycopg.connect(postgres_url) as fast:  # writer B takes id 2 and commits
            fast.execute("INSERT INTO posts (text) VALUES ('b')")
        assert newest() == 2  # without the gate a reader sees 2 while 1 is not committed: 1 would be skipped
        marks: list[int] = []
        reader = threading.Thread(target=lambda: marks.append(gate.mark(newest)))
        reader.start()
        with psycopg.connect(postgres_url, autocommit=True) as watch:
            wait_for(
                lambda: watch.execute(f"{GATE_LOCKS} AND NOT granted", GATE_PARTS).fetchone() == (1,),
                10,
                "the detector waiting at the gate",
                every=0.02,
            )
        assert not marks  # still waiting for writer A
        slow.commit()
    reader.join(10)
    slow.close()
    assert marks == [2]
    with psycopg.connect(postgres_url) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM posts WHERE id <= %s ORDER BY id", (marks[0],))] == [1, 2]
        held = conn.execute(GATE_LOCKS, GATE_PARTS).fetchone()
    assert held == (0,)  # every gate connection gave its lock back


# -- detection as one ordered stream (SQLite store, no queue needed) ---------------------------------


def _shape(store: Store) -> list[tuple[str, str, float]]:
    return sorted((a.tag, a.tier, a.first_seen.timestamp()) for a in alerts(store.db))


def _uses(store: Store) -> int:
    return int(store.db.conn.execute("SELECT coalesce(sum(uses), 0) FROM campaign_spellings").fetchone()[0])


def test_two_writers_and_the_stream_detector_raise_what_detection_while_storing_raises(tmp_path: Path) -> None:
    posts = scenario()
    chunks = [posts[i : i + 150] for i in range(0, len(posts), 150)]
    with Store.open(tmp_path / "inline.db") as inline:
        for chunk in chunks:
            inline.ingest(chunk, "scenario", on_new=IngestHook(QUICK))
        expected = _shape(inline)
    assert {tier for _, tier, _ in expected} == {"T1", "T2", "T3"}

    path = tmp_path / "stream.db"
    with Store.open(path) as first, Store.open(path) as second:
        assert adopt_stream(first.db, 0)
        assert not adopt_stream(second.db, 99)  # a second worker keeps the position the first set
        for number, chunk in enumerate(chunks):
            writer = (first, second)[number % 2]
            writer.ingest(chunk, f"writer {number % 2}", on_new=IngestHook(QUICK))  # stores, does not detect
            if number == 0:
                assert _uses(first) == 0
            if number % 3 == 2:
                catch_up(first.db, newest_post(first.db.conn), QUICK, batch=100)
        catch_up(second.db, newest_post(second.db.conn), QUICK, batch=100)
        assert _shape(first) == expected
        tags = sum(len(p.hashtags) for p in posts)
        assert _uses(first) == tags  # every post consumed once: none skipped, none twice
        assert catch_up(first.db, newest_post(first.db.conn), QUICK) == (0, 0)
        assert stream_position(first.db.conn) == len(posts)

        raised = rebuild_stored(first.db, QUICK)
        assert raised == len(expected)
        assert _shape(first) == expected
        assert stream_position(first.db.conn) == len(posts)  # the stream goes on after the rebuild
        assert _uses(first) == tags


def test_a_store_not_in_stream_mode_is_left_to_detection_while_storing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.ingest(scenario()[:300], "one", on_new=IngestHook(QUICK))
        uses = _uses(store)
        assert uses > 0
        assert catch_up(store.db, 300, QUICK) == (0, 0)  # no position: the hook did it, nothing to catch up
        assert stream_position(store.db.conn) is None and _uses(store) == uses


def test_watch_and_run_follow_the_stream_of_a_store_workers_wrote(tmp_path: Path) -> None:
    from feedwatch.poll import follow_stream

    db = tmp_path / "s.db"
    config = load_config(None)
    with Store.open(db) as store:
        assert follow_stream(config, str(db)) == 0  # not in stream mode: nothing to follow
        adopt_stream(store.db, 0)
        store.ingest(scenario(), "after the workers", on_new=IngestHook())  # stored, not detected
        assert _uses(store) == 0
    assert follow_stream(config, str(db)) >= 1  # the alerts the default settings raise on the scenario
    with Store.open(db) as store:
        assert _uses(store) == sum(len(p.hashtags) for p in scenario())
        assert stream_position(store.db.conn) == newest_post(store.db.conn)


# -- settings and one-line errors ------------------------------------------------------------------


def test_the_queue_is_a_postgresql_url_from_the_option_the_environment_or_the_config(tmp_path: Path) -> None:
    config = load_config(None)
    url = "postgresql://u@h/q"
    assert resolve_queue(url, config, "data/f.db", {}) == url
    assert resolve_queue(None, config, "data/f.db", {"FEEDWATCH_QUEUE": url}) == url
    assert resolve_queue(None, config, url, {}) == url  # a PostgreSQL store is its own queue
    with pytest.raises(ConfigError, match="needs a PostgreSQL job queue"):
        resolve_queue(None, config, "data/f.db", {})
    with pytest.raises(ConfigError, match="must be a postgresql:// URL"):
        resolve_queue("data/q.db", config, "data/f.db", {})
    assert tick_cron(10) == "* * * * * */10"
    assert tick_cron(7) == "* * * * * */10"
    assert tick_cron(120) == "*/2 * * * *"


def test_worker_without_a_queue_or_with_one_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "w.toml", ["durov"])
    runner = CliRunner()
    args = ["worker", "--config", str(config), "--db", str(tmp_path / "f.db")]
    result = runner.invoke(main, args, env={"FEEDWATCH_QUEUE": ""})
    assert result.exit_code == 2
    assert "needs a PostgreSQL job queue" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, [*args, "--queue", "postgresql://postgres@127.0.0.1:9/nowhere"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "job queue 127.0.0.1:9/nowhere: cannot use it" in lines[0]


def test_a_worker_source_address_is_where_its_requests_come_from() -> None:
    with TmeServer() as server:
        server.add_channel("durov", make_posts(3))
        settings = WebSettings(base_url=server.base_url, min_delay=0.0, jitter=0.0, source_address="127.0.0.2")
        with make_client(settings) as client:
            fetch = WebSource(client, settings).fetch("durov", None, None)
    assert len(fetch.posts) == 3
    assert set(server.clients) == {"127.0.0.2"}


# -- real worker processes ---------------------------------------------------------------------------


def _workers(
    tmp_path: Path, server: TmeServer, queue: str, channels: list[str], interval: int = 1, store: str | None = None
) -> Workers:
    config = write_config(tmp_path / "w.toml", channels, interval=interval)
    return Workers(tmp_path, config, store or tmp_path / "store.db", queue, server.base_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def worker_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store the workers write: an SQLite file, or a PostgreSQL store in a schema of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    from conftest import postgres_schema

    with postgres_schema(request.getfixturevalue("postgres_server")) as url:  # the store's own schema
        yield url


def _defer_polls(queue: str, channel: str, count: int) -> None:
    """Queue `count` extra polls of one channel, due now and never skipped as 'polled lately' (interval 0)."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=queue))
    with app.open():
        for _ in range(count):
            app.configure_task("feedwatch.poll", lock=f"poll:{channel}").defer(
                channel=channel, source="web", interval=0, backfill=None
            )


def test_two_workers_never_poll_one_channel_at_once(tmp_path: Path, postgres_url: str) -> None:
    with TmeServer(latency=0.05) as server, _workers(tmp_path, server, postgres_url, ["busy", "calm"]) as workers:
        server.add_channel("busy", make_posts(60, salt=" busy"))
        server.add_channel("calm", make_posts(20, salt=" calm"))
        workers.start()
        workers.start()
        wait_for(lambda: len(stored_ids(workers.db)) == 80, 60, "both channels stored")
        _defer_polls(postgres_url, "busy", 8)
        wait_for(
            lambda: len(query(workers.db, "SELECT 1 FROM ingest_runs WHERE source = 'web:busy'")) >= 10,
            90,
            "ten polls of the busy channel",
        )
        _defer_polls(postgres_url, "calm", 4)  # work for a worker that a busy machine kept out of the first polls
        wait_for(
            lambda: all("poll web:busy" in log or "poll web:calm" in log for log in workers.logs().values()),
            60,
            "both workers polling",
        )
        codes = workers.stop_all()
        logs = workers.logs()
    runs = query(workers.db, "SELECT started_at, finished_at FROM ingest_runs WHERE source = 'web:busy' ORDER BY 1")
    for (_, finished), (started, _) in itertools.pairwise(runs):
        assert started >= finished  # each poll began after the one before it ended
    assert all("poll web:busy" in log or "poll web:calm" in log for log in logs.values())  # both worked
    assert sorted(stored_ids(workers.db)) == sorted(set(stored_ids(workers.db)))
    assert codes == {"w1": 0, "w2": 0}
    assert not any("Traceback" in log for log in logs.values())


def test_a_worker_killed_mid_poll_loses_nothing(tmp_path: Path, postgres_url: str, worker_store: str) -> None:
    with (
        TmeServer(latency=0.25) as server,
        _workers(tmp_path, server, postgres_url, ["long"], interval=600, store=worker_store) as workers,
    ):
        server.add_channel("long", make_posts(200, salt=" long"))
        first = workers.start()
        wait_for(lambda: server.count("long") >= 3, 60, "the first worker halfway through the channel")
        workers.kill(first)  # SIGKILL in the middle of its walk
        assert len(stored_ids(workers.db)) < 200
        workers.start()
        wait_for(lambda: len(stored_ids(workers.db)) >= 200, 90, "the second worker storing the channel")
        codes = workers.stop_all()
        logs = workers.logs()
    ids = stored_ids(workers.db)
    assert sorted(ids) == sorted({("long", p) for p in range(1, 201)})  # every post, each once
    assert "gave up feedwatch.poll" in logs["w2"]  # the killed worker's job, given up after its heartbeats stopped
    assert codes == {"w2": 0}
    assert "Traceback" not in logs["w2"]


def test_a_rate_limited_channel_is_queued_at_its_retry_time(tmp_path: Path, postgres_url: str) -> None:
    with TmeServer() as server, _workers(tmp_path, server, postgres_url, ["limited"]) as workers:
        server.add_channel("limited", make_posts(5))
        server.fault("limited", "429", times=1, retry_after="120")
        workers.start()
        wait_for(
            lambda: bool(query(workers.db, "SELECT retry_at FROM channels WHERE retry_at IS NOT NULL")), 60, "429 kept"
        )

        def queued() -> list[tuple[datetime]]:
            with psycopg.connect(postgres_url) as conn:
                return conn.execute(
                    "SELECT scheduled_at FROM procrastinate_jobs WHERE queueing_lock = 'poll:limited'"
                    " AND status = 'todo'"
                ).fetchall()

        wait_for(lambda: bool(queued()), 30, "the next poll queued")
        workers.stop_all()
    listed = CliRunner().invoke(main, ["queue", "--queue", postgres_url, "--db", str(workers.db)])
    assert listed.exit_code == 0
    assert listed.output.startswith("0 running, ")  # the workers stopped; what they queued waits
    assert any(
        line.startswith("todo") and "limited" in line and "due 20" in line for line in listed.output.splitlines()
    )
    retry_at = datetime.fromisoformat(str(query(workers.db, "SELECT retry_at FROM channels")[0][0]))
    (scheduled,) = queued()[0]
    assert scheduled >= retry_at - timedelta(seconds=1)
    assert scheduled > datetime.now(UTC) + timedelta(seconds=60)  # not at the 1 s interval
    assert server.count("limited") == 1


def _campaign_channels(server: TmeServer) -> int:
    """Put the campaign scenario on the server, one channel per scenario channel; return the hashtag uses."""
    posts: dict[str, list[FakePost]] = {}
    for post in scenario():
        channel = f"camp_{post.channel}"
        text = f"Post {post.message_id} of {channel}. " + " ".join("#" + t for t in post.hashtags)
        assert post.date is not None and post.message_id is not None
        posts.setdefault(channel, []).append(FakePost(post.message_id, post.date, text, 10))
    for channel, items in posts.items():
        server.add_channel(channel, items)
    return sum(len(p.hashtags) for p in scenario())


def test_the_stream_detector_consumes_two_writers_posts_once(
    tmp_path: Path, postgres_url: str, worker_store: str
) -> None:
    with TmeServer() as server:
        uses = _campaign_channels(server)
        names = sorted(server.channels)
        with _workers(tmp_path, server, postgres_url, names, interval=3600, store=worker_store) as workers:
            workers.start()
            workers.start()
            total = sum(len(c.posts) for c in server.channels.values())
            wait_for(lambda: len(stored_ids(workers.db)) >= total, 120, "every post stored")
            wait_for(
                lambda: (
                    query(workers.db, "SELECT value FROM campaign_meta WHERE key = 'stream_position'")
                    == [(str(total),)]
                ),
                60,
                "the detector caught up",
            )
            codes = workers.stop_all()
            logs = workers.logs()
    assert query(workers.db, "SELECT sum(uses) FROM campaign_spellings") == [(uses,)]  # each post consumed once
    rows = query(workers.db, "SELECT tag, tier, episode_start FROM campaign_alerts")
    assert rows and len(rows) == len(set(rows))  # alerts raised, each once
    assert sum(log.count("detect:") for log in logs.values()) >= 1
    assert codes == {"w1": 0, "w2": 0}
    with Store.open(workers.db) as store:  # `campaigns --rebuild` on a stream-mode store keeps the stream going
        rebuild_stored(store.db)
        assert stream_position(store.db.conn) == total
        assert _uses(store) == uses


def test_worker_is_listed_with_an_example() -> None:
    result = CliRunner().invoke(main, ["worker", "--help"])
    assert result.exit_code == 0 and "Example" in result.output and "--source-address" in result.output
