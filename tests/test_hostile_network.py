"""Hostile servers on 127.0.0.1: every poll and every webhook delivery ends, in bounded memory, with one line.

Each poll runs `feedwatch poll` in a child process that records its own peak memory (VmHWM) and is
held to an address-space limit, so a regression fails the test rather than the machine. The hostile
answer comes on the second page, so the first page's posts must be stored and a resume point kept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from digest_servers import Receiver, http_receiver
from digest_support import digest
from monitor_helpers import FakeClock, poll, web_source
from tme_server import TmeServer, gzip_bomb, make_posts

from feedwatch.digest.deliver import WebhookTarget, post_webhook
from feedwatch.errors import DeliveryError
from feedwatch.net import TooLarge, parse_retry_after
from feedwatch.store import Store

pytestmark = pytest.mark.slow

PEAK_MB = 200  # a poll's peak resident memory, whatever the server sends
CHILD_LIMIT = 2 << 30  # address space of the child: a runaway read fails there, not on the machine
DEADLINE = 3.0  # web.deadline in these tests, so that a dripping server is given up quickly

CHILD = textwrap.dedent("""
    import atexit, json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    out, args = sys.argv[1], sys.argv[2:]
    started = time.monotonic()

    def measure():
        # VmHWM is this process's own peak: ru_maxrss can carry the parent's peak over fork and exec.
        status = open("/proc/self/status").read()
        peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
        with open(out, "w") as f:
            json.dump({{"peak_mb": peak, "seconds": time.monotonic() - started}}, f)

    atexit.register(measure)
    from feedwatch.cli import main
    main(args, prog_name="feedwatch")
""")


def run_poll(
    tmp_path: Path, base_url: str, channel: str, **web: object
) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run `feedwatch poll CHANNEL` against `base_url` in a child; return it and what it measured."""
    values = {
        "base_url": base_url,
        "min_delay": 0.0,
        "jitter": 0.0,
        "timeout": 10.0,
        "connect_timeout": 2.0,
        "deadline": DEADLINE,
        "max_retries": 2,
        "backoff": 0.1,
        **web,
    }
    config = tmp_path / "feedwatch.toml"
    config.write_text("[web]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()), encoding="utf-8")
    measured = tmp_path / "measured.json"
    env = {**os.environ, "FEEDWATCH_TME_BASE_URL": base_url}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD.format(limit=CHILD_LIMIT),
            str(measured),
            "poll",
            channel,
            "--db",
            str(tmp_path / "fw.db"),
            "--config",
            str(config),
            "--backfill",
            "all",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    return done, json.loads(measured.read_text()) if measured.exists() else {}


def lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return (done.stdout + done.stderr).splitlines()


def stored(tmp_path: Path, channel: str) -> tuple[list[int], object]:
    with Store.open(tmp_path / "fw.db") as store:
        ids = [
            r[0]
            for r in store.db.conn.execute(
                "SELECT message_id FROM posts WHERE lower(channel) = lower(?) ORDER BY 1", [channel]
            )
        ]
        return ids, store.channel(channel)


@pytest.fixture
def tme():
    with TmeServer(drip_seconds=0.3) as server:
        yield server


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("bomb", "the answer is larger than 5 MB (web.max_bytes)"),
        ("endless", "the answer is larger than 5 MB (web.max_bytes)"),
        ("huge", "the answer is larger than 5 MB (web.max_bytes)"),
        ("drip", f"no complete answer within {DEADLINE:g} s (web.deadline)"),
    ],
)
def test_a_hostile_page_ends_the_poll_in_bounded_memory_with_one_line(tmp_path, tme, kind, says):
    tme.add_channel("MFARussia", make_posts(60))
    tme.fault("MFARussia", kind, times=10, path_has="before=")
    gzip_bomb()  # made before the poll starts, so that making it does not count against the deadline
    done, measured = run_poll(tmp_path, tme.base_url, "MFARussia")
    out = lines(done)
    assert len(out) == 1 and says in out[0] and out[0].startswith("error: 127.0.0.1"), out
    assert "Traceback" not in done.stderr and done.returncode == 1
    assert measured["peak_mb"] < PEAK_MB, measured
    assert tme.count("MFARussia") == 2  # the hostile page is not asked for again in this poll
    ids, state = stored(tmp_path, "MFARussia")
    assert ids == list(range(41, 61))  # the first page's posts are stored ...
    assert (state.resume_before, state.resume_top, state.high_water) == (41, 60, None)  # ... and the walk resumes


def test_an_endless_before_chain_stops_at_the_page_cap_and_the_next_poll_continues(tmp_path, tme):
    tme.add_endless("endlesschan")
    done, measured = run_poll(tmp_path, tme.base_url, "endlesschan", max_pages=5)
    out = lines(done)
    assert len(out) == 1 and "5 pages read (web.max_pages)" in out[0], out
    assert done.returncode == 0 and measured["peak_mb"] < PEAK_MB
    top = 2_000_000_000 - 1
    ids, state = stored(tmp_path, "endlesschan")
    assert ids == list(range(top - 99, top + 1))
    assert (state.resume_before, state.resume_top, state.high_water) == (top - 99, top, None)
    tme.requests.clear()
    done, _ = run_poll(tmp_path, tme.base_url, "endlesschan", max_pages=5)
    assert tme.requests[0] == f"/s/endlesschan?before={top - 99}"  # continued, not restarted
    ids, state = stored(tmp_path, "endlesschan")
    assert ids == list(range(top - 199, top + 1)) and state.resume_before == top - 199


def test_a_resumed_walk_that_reaches_its_end_sets_the_mark_to_the_top(tmp_path, tme):
    tme.add_channel("MFARussia", make_posts(60))
    tme.fault("MFARussia", "huge", path_has="before=")
    run_poll(tmp_path, tme.base_url, "MFARussia")
    tme.add_posts("MFARussia", make_posts(5, first_id=61))
    tme.requests.clear()
    done, _ = run_poll(tmp_path, tme.base_url, "MFARussia")
    assert done.returncode == 0, lines(done)
    assert tme.requests[0] == "/s/MFARussia?before=41"
    ids, state = stored(tmp_path, "MFARussia")
    assert ids == list(range(1, 61)) and (state.resume_before, state.high_water) == (None, 60)
    run_poll(tmp_path, tme.base_url, "MFARussia")  # the posts that came meanwhile are read next
    assert stored(tmp_path, "MFARussia")[0] == list(range(1, 66))


@pytest.mark.parametrize(
    "value", ["²", "١٢", "1.5", "-3", "", "120abc", "Fri, 32 Foo 2026 25:00:00 GMT", "9" * 5000, "\u200b7"]
)
def test_a_retry_after_that_is_neither_digits_nor_a_date_is_absent(value):
    assert parse_retry_after(value, datetime(2026, 5, 1, tzinfo=UTC)) is None or value == "9" * 5000


def test_a_huge_retry_after_is_capped_at_a_day():
    assert parse_retry_after("9" * 5000, datetime(2026, 5, 1, tzinfo=UTC)) == 86_400.0


def test_a_non_ascii_retry_after_in_polling_is_a_retry_without_one(tmp_path, tme):
    tme.add_channel("MFARussia", make_posts(10))
    tme.fault("MFARussia", "429", retry_after="²")
    clock = FakeClock()
    with Store.open(tmp_path / "fw.db") as store:
        report = poll(store, web_source(tme.base_url, clock), "MFARussia")["MFARussia"]
    assert report.ok, report.errors
    assert clock.sleeps == [1.0] and report.new == 10  # the backoff, as if no Retry-After had come


def test_the_body_of_an_error_status_is_not_read(tmp_path, tme):
    tme.add_channel("MFARussia", make_posts(10))
    tme.fault("MFARussia", "huge_503")  # 200 MB behind a 503: retried, never read
    clock = FakeClock()
    with Store.open(tmp_path / "fw.db") as store:
        report = poll(store, web_source(tme.base_url, clock, max_bytes=1_000_000), "MFARussia")["MFARussia"]
    assert report.ok and report.new == 10 and clock.sleeps == [1.0]


def test_a_long_429_holds_the_host_for_every_channel_and_the_store_keeps_it(tmp_path, tme):
    for name in ("MFARussia", "mod_russia_en"):
        tme.add_channel(name, make_posts(10, salt=name))
    tme.fault("MFARussia", "429", retry_after="3600")
    clock = FakeClock()
    with Store.open(tmp_path / "fw.db") as store:
        source = web_source(tme.base_url, clock, concurrency=1)
        first = poll(store, source, "MFARussia")["MFARussia"]
        held = clock.now() + timedelta(seconds=3600)
        assert first.retry_at == held and store.channel("MFARussia").retry_at == held
        asked = len(tme.requests)
        # Another channel in a later pass (a restart: a new source, a new gate) is not asked either.
        second = poll(store, web_source(tme.base_url, clock), "mod_russia_en", "MFARussia")
        assert len(tme.requests) == asked
        assert all(r.errors[0][0] == "rate_limited" and r.retry_at == held for r in second.values())
        assert "polled again then" in second["MFARussia"].line()
        clock.wall = held + timedelta(seconds=1)
        third = poll(store, web_source(tme.base_url, clock), "mod_russia_en", "MFARussia")
        assert all(r.ok and r.new == 10 for r in third.values())
        assert store.channel("MFARussia").retry_at is None


def test_a_webhook_answering_a_huge_body_is_delivered_without_reading_it(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, "tests")
        from digest_servers import Receiver, http_receiver
        from digest_support import digest
        from feedwatch.digest.deliver import WebhookTarget, post_webhook
        with http_receiver(Receiver(huge=True)) as url:
            print(post_webhook(WebhookTarget(url, deadline=5.0), digest()))
        print(int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024)
    """)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    where, peak = done.stdout.splitlines()
    assert where == "webhook 127.0.0.1" and float(peak) < PEAK_MB, done.stderr


def test_a_dripping_webhook_receiver_is_given_up_at_the_deadline():
    receiver = Receiver(drip=0.3)
    with http_receiver(receiver) as url, pytest.raises(DeliveryError) as caught:
        post_webhook(WebhookTarget(url, attempts=3, deadline=1.0), digest(), sleep=lambda s: None)
    assert str(caught.value) == (
        "webhook 127.0.0.1: no complete answer within 1 s (digest.webhook.deadline); "
        "the digest is kept for the next try"
    )
    assert receiver.attempts == 1  # not retried: each try would be held as long


def test_a_non_ascii_retry_after_from_a_webhook_does_not_skip_the_targets_after_it(tmp_path):
    from sqlite_utils import Database

    from feedwatch.digest.job import send_digests

    db = Database(tmp_path / "d.db")
    with (
        http_receiver(Receiver(statuses=[429, 429], headers={"Retry-After": "²"})) as first,
        http_receiver(Receiver()) as second,
    ):
        waits: list[float] = []
        outcomes = send_digests(
            db,
            [WebhookTarget(first, attempts=2), WebhookTarget(second)],
            lambda since, until, sent: digest(),
            sleep=waits.append,
        )
    assert [o.ok for o in outcomes] == [False, True]
    assert "HTTP 429" in outcomes[0].detail and waits == [2.0]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "identity"])
def test_a_compressed_answer_is_read_as_what_it_inflates_to(encoding):
    import gzip
    import zlib

    import httpx

    from feedwatch.net import request

    page = b"<html>" + b"post " * 400_000 + b"</html>"  # 2 MB that packs into a few KB
    packed = {
        "gzip": gzip.compress(page),
        "deflate": zlib.compress(page),
        "raw-deflate": zlib.compress(page)[2:-4],
        "identity": page,
    }[encoding]
    name = "deflate" if encoding == "raw-deflate" else encoding
    answer = httpx.MockTransport(
        lambda req: httpx.Response(200, headers={"content-encoding": name}, content=iter([packed[:999], packed[999:]]))
    )
    with httpx.Client(transport=answer) as client:
        assert request(client, "GET", "http://x/", max_bytes=len(page), deadline=5).body == page
        with pytest.raises(TooLarge, match="larger than 2 MB"):
            request(client, "GET", "http://x/", max_bytes=2_000_000, deadline=5)


def test_an_encoding_feedwatch_did_not_ask_for_is_refused():
    import httpx

    from feedwatch.net import request

    answer = httpx.MockTransport(
        lambda req: httpx.Response(200, headers={"content-encoding": "br"}, content=iter([b"x"]))
    )
    with httpx.Client(transport=answer) as client, pytest.raises(httpx.DecodingError, match="unexpected Content"):
        request(client, "GET", "http://x/", max_bytes=100, deadline=5)


def test_a_long_429_is_one_line_and_a_later_poll_does_not_ask_before_the_time(tmp_path, tme):
    tme.add_channel("MFARussia", make_posts(10))
    tme.fault("MFARussia", "429", retry_after="3600")
    first, _ = run_poll(tmp_path, tme.base_url, "MFARussia")
    second, _ = run_poll(tmp_path, tme.base_url, "MFARussia")
    [line] = lines(first)
    assert "HTTP 429, the server asked to wait 3600 s" in line and "polled again then" in line
    [line] = lines(second)
    assert line.startswith("error: web:MFARussia: rate limited: not asked before ") and "UTC" in line
    assert (first.returncode, second.returncode) == (1, 1) and tme.count("MFARussia") == 1
    assert stored(tmp_path, "MFARussia")[1].retry_at is not None


def test_an_unexpected_error_in_one_target_does_not_skip_the_targets_after_it(tmp_path):
    import httpx
    from sqlite_utils import Database

    from feedwatch.digest.deliver import FileTarget
    from feedwatch.digest.job import send_digests

    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug below delivery")

    targets = [WebhookTarget("http://127.0.0.1:9/hook"), FileTarget(str(tmp_path / "digest.md"))]
    outcomes = send_digests(
        Database(tmp_path / "d.db"),
        targets,
        lambda since, until, sent: digest(),
        sleep=lambda s: None,
        transport=httpx.MockTransport(broken),
    )
    assert [o.ok for o in outcomes] == [False, True] and (tmp_path / "digest.md").exists()
    assert "internal error (RuntimeError: a bug below delivery); please report it" in outcomes[0].detail
