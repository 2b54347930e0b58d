"""Campaign detection in a second process beside a long ingest (feedwatch.campaigns.beside).

Real processes and a real SQLite file throughout. The child must reach exactly the detector state the inline
hook reaches on the same stream; a child that dies, a parent that dies, and posts another writer stores meanwhile
must all end with every post detected once and detection handed back to the ingest hooks.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedwatch.campaigns import IngestHook
from feedwatch.campaigns.beside import DetectBeside
from feedwatch.campaigns.stored import LEASE, POSITION, release_stale, stale_lease
from feedwatch.cli import main
from feedwatch.models import Post
from feedwatch.parse import parse_path
from feedwatch.store import Store

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "eval"))

from generator import Config, generate  # noqa: E402

STATE = (
    "campaign_alerts",
    "campaign_tags",
    "campaign_spellings",
    "campaign_tag_days",
    "campaign_links",
    "campaign_actors",
    "campaign_channels",
    "campaign_pairs",
)
BATCH = 2000


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> list[Post]:
    """A labelled synthetic stream of about 20,000 posts, with campaigns that alert."""
    path = tmp_path_factory.mktemp("beside") / "stream.jsonl"
    generate(Config(channels=100, days=20, seed=3), path)
    return list(parse_path(str(path)))


@pytest.fixture(scope="module")
def inline(stream: list[Post], tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The detector's tables after an inline ingest of the stream (the reference)."""
    path = tmp_path_factory.mktemp("inline") / "inline.db"
    with Store.open(path) as store:
        store.ingest(stream, "stream", batch=BATCH, on_new=IngestHook())
    return state(path)


def state(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in STATE}
        tables["campaign_meta"] = sorted(
            map(repr, conn.execute("SELECT * FROM campaign_meta WHERE key <> 'generation'"))
        )
    finally:
        conn.close()
    return tables


def uses(path: Path) -> int:
    """Every tag use the detector counted (spellings count each post's tags, dated or not)."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT coalesce(sum(uses), 0) FROM campaign_spellings").fetchone()[0])
    finally:
        conn.close()


def test_the_child_reaches_the_inline_state(stream: list[Post], inline: dict[str, list[str]], tmp_path: Path) -> None:
    path = tmp_path / "beside.db"
    with Store.open(path) as store, DetectBeside(store) as beside:
        assert beside.active and beside.child is not None
        store.ingest(stream, "stream", batch=BATCH, on_new=beside.hook, committed=beside.committed)
    assert not beside.active  # detection handed back to the hooks
    assert beside.alerts == len(inline["campaign_alerts"]) > 0
    assert state(path) == inline  # alerts, tag states, counts, actors: all as the inline hook left them


def test_a_child_that_dies_is_taken_over(stream: list[Post], inline: dict[str, list[str]], tmp_path: Path) -> None:
    path = tmp_path / "beside.db"
    batches = 0
    with Store.open(path) as store, DetectBeside(store) as beside:

        def committed() -> None:
            nonlocal batches
            batches += 1
            if batches == 2:
                assert beside.child is not None
                os.kill(beside.child.pid, signal.SIGKILL)
                beside.child.wait()
            beside.committed()

        # Batches of 5,000: the parent's catch-up feeds the same batches the child would have.
        store.ingest(stream, "stream", batch=5000, on_new=beside.hook, committed=committed)
        assert not beside.active  # the parent fed what the child had not, and detected the rest inline
    reference = tmp_path / "reference.db"
    with Store.open(reference) as store:
        store.ingest(stream, "stream", batch=5000, on_new=IngestHook())
    assert state(path) == state(reference)


def test_posts_another_writer_stores_meanwhile_are_detected(stream: list[Post], tmp_path: Path) -> None:
    """A poll storing beside the ingest skips detection (the store is a stream); the child feeds its posts too."""
    path = tmp_path / "beside.db"
    ours, theirs = stream[: len(stream) // 2], stream[len(stream) // 2 :]
    with Store.open(path) as store, Store.open(path) as other, DetectBeside(store) as beside:
        hook = IngestHook()

        def committed() -> None:
            other.ingest(theirs[:500], "poll", on_new=hook)  # commits between two of the ingest's batches
            del theirs[:500]
            beside.committed()

        store.ingest(ours, "stream", batch=BATCH, on_new=beside.hook, committed=committed)
        other.ingest(theirs, "poll", on_new=hook)  # after the ingest's last batch: the hand-back feeds these
        assert hook.raised == 0 and hook.detector is None  # the hook stored without detecting
    everything = tmp_path / "reference.db"
    with Store.open(everything) as store:
        store.ingest(stream, "stream", batch=BATCH, on_new=IngestHook())
    assert uses(path) == uses(everything) > 0  # every tag use counted once
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM campaign_meta WHERE key IN (?, ?)", (POSITION, LEASE)).fetchone()[0] == 0


PARENT = """
import os, sys
from feedwatch.campaigns.beside import DetectBeside
from feedwatch.parse import parse_path
from feedwatch.store import Store

store = Store.open(sys.argv[1])
batches = 0
with DetectBeside(store) as beside:
    def committed():
        global batches
        beside.committed()
        batches += 1
        if batches == 3:
            os._exit(9)  # killed: no clean-up runs
    store.ingest(parse_path(sys.argv[2]), "stream", batch=2000, on_new=beside.hook, committed=committed)
"""


def test_a_parent_that_dies_leaves_detection_to_the_next_writer(
    stream: list[Post], inline: dict[str, list[str]], tmp_path: Path
) -> None:
    from feedwatch.models import post_line

    source = tmp_path / "stream.jsonl"
    source.write_bytes(b"".join(post_line(p) + b"\n" for p in stream))
    path = tmp_path / "beside.db"
    died = subprocess.run([sys.executable, "-c", textwrap.dedent(PARENT), str(path), str(source)], timeout=120)
    assert died.returncode == 9
    with Store.open(path) as store:
        assert stale_lease(store.db.conn) is not None  # its process is gone
        stored_posts = store.db.conn.execute("SELECT count(*) FROM posts").fetchone()[0]
        assert 0 < stored_posts < len(stream)
    # The next writer to open the store (here the command line, storing the rest) feeds what was not detected.
    result = CliRunner().invoke(main, ["ingest", str(source), "--db", str(path)])
    assert result.exit_code == 0, result.output
    with Store.open(path) as store:
        assert stale_lease(store.db.conn) is None
        assert release_stale(store.db) == 0
    assert uses(path) == uses_of(inline)


def uses_of(tables: dict[str, list[str]]) -> int:
    return sum(int(row.rsplit(",", 1)[1].strip(" )")) for row in tables["campaign_spellings"])


def test_the_command_line_detects_beside_a_long_ingest(
    stream: list[Post], inline: dict[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedwatch.cli import store_cmds
    from feedwatch.models import post_line

    source = tmp_path / "stream.jsonl"
    source.write_bytes(b"".join(post_line(p) + b"\n" for p in stream))
    monkeypatch.setattr(store_cmds, "_BESIDE_INPUT", source.stat().st_size)  # this input is "long"
    children: list[int] = []
    enter = DetectBeside.__enter__

    def watched(self: DetectBeside) -> DetectBeside:
        entered = enter(self)
        children.append(self.child.pid if self.child is not None else 0)
        return entered

    monkeypatch.setattr(DetectBeside, "__enter__", watched)
    path = tmp_path / "cli.db"
    result = CliRunner().invoke(main, ["ingest", str(source), "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert len(children) == 1 and children[0] > 0  # a child detected
    assert uses(path) == uses_of(inline)
    assert state(path)["campaign_alerts"] == inline["campaign_alerts"]


def test_postgresql_detects_inline(stream: list[Post], postgres_url: str) -> None:
    with Store.open(postgres_url) as store, DetectBeside(store) as beside:
        assert not beside.active and beside.child is None
        store.ingest(stream[:3000], "stream", on_new=beside.hook, committed=beside.committed)
        assert beside.inline.detector is not None  # the inline hook detected
        count = store.db.conn.execute("SELECT count(*) FROM campaign_spellings").fetchone()[0]
        assert count > 0


def test_a_rebuild_during_the_ingest_is_refused_in_one_line(stream: list[Post], tmp_path: Path) -> None:
    """`campaigns --rebuild` would clear the state the child goes on writing to: it says so and changes nothing."""
    path = tmp_path / "beside.db"
    with Store.open(path) as store, DetectBeside(store) as beside:
        store.ingest(stream[:4000], "stream", batch=BATCH, on_new=beside.hook, committed=beside.committed)
        result = CliRunner().invoke(main, ["campaigns", "--rebuild", "--db", str(path)])
        assert result.exit_code == 1
        assert "is detecting campaigns beside itself; rebuild once it ends" in result.output
        assert "Traceback" not in result.output
        store.ingest(stream[4000:], "stream", batch=BATCH, on_new=beside.hook, committed=beside.committed)
    reference = tmp_path / "reference.db"
    with Store.open(reference) as store:
        store.ingest(stream, "stream", batch=BATCH, on_new=IngestHook())
    assert uses(path) == uses(reference)
    result = CliRunner().invoke(main, ["campaigns", "--rebuild", "--db", str(path)])  # once it ended: rebuilt
    assert result.exit_code == 0, result.output


def test_a_stream_whose_newest_post_was_deleted_is_handed_back(stream: list[Post], tmp_path: Path) -> None:
    """The position is the newest post when the stream is taken; a writer may delete that post meanwhile."""
    import threading

    from feedwatch.campaigns.stored import holder, release_stream, take_stream

    path = tmp_path / "fw.db"
    with Store.open(path) as store:
        store.ingest(stream[:300], "stream", on_new=IngestHook())
        conn = store.db.conn
        assert take_stream(conn)
        newest = conn.execute("SELECT max(id) FROM posts").fetchone()[0]
        conn.execute("DELETE FROM post_sources WHERE post = ?", (newest,))
        conn.execute("DELETE FROM post_hashtags WHERE post = ?", (newest,))
        conn.execute("DELETE FROM observations WHERE post = ?", (newest,))
        conn.execute("DELETE FROM posts WHERE id = ?", (newest,))
        releasing = threading.Thread(target=release_stream, args=(conn, holder()), daemon=True)
        releasing.start()
        releasing.join(30)
        assert not releasing.is_alive()
        assert (
            conn.execute("SELECT count(*) FROM campaign_meta WHERE key IN (?, ?)", (POSITION, LEASE)).fetchone()[0] == 0
        )


def test_a_live_holder_on_this_host_is_never_stale_however_long_it_is_silent(tmp_path: Path) -> None:
    import time

    from feedwatch.campaigns.stored import BEAT, live_lease, take_stream

    with Store.open(tmp_path / "fw.db") as store:
        conn = store.db.conn
        assert take_stream(conn)
        conn.execute("UPDATE campaign_meta SET value = '0' WHERE key = ?", (BEAT,))  # silent since 1970
        assert stale_lease(conn) is None and live_lease(conn)  # this process is alive
        conn.execute("UPDATE campaign_meta SET value = 'elsewhere 1' WHERE key = ?", (LEASE,))
        assert stale_lease(conn) == "elsewhere 1"  # another host, silent: taken for gone
        conn.execute("UPDATE campaign_meta SET value = ? WHERE key = ?", (str(int(time.time())), BEAT))
        assert stale_lease(conn) is None  # another host that wrote just now
