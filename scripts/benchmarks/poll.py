"""Polling 200 channels x 5 pages from a local t.me/s server with a fixed latency per request.

The server runs in a child process, so that its work does not share the
poller's interpreter lock. Figures: the wall time of a full backfill against
its floor (the sum of the simulated latencies divided by the per-host
concurrency limit), the same without the store, and the requests per new post
of the incremental poll that follows.

Then `feedwatch worker` processes against a server that answers each source address at most
PER_SOURCE_RATE times a second (as Telegram limits an address): 1 worker from 127.0.0.2, then
3 workers from 127.0.0.2, .3 and .4, each backfilling the same channels into a fresh store with a
fresh job queue, two polls at a time each (so one request always waits at the server). Posts per
second are counted over the polls' own records (first start to last finish), so process start-up
is not in them. The queue needs the PostgreSQL at FEEDWATCH_TEST_POSTGRES or 127.0.0.1:5432;
without one these figures are left out, saying so.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import Figure

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CHANNELS, PAGES, LATENCY, CONCURRENCY = 200, 5, 0.04, 8
NAMES = [f"bench_channel_{i:03d}" for i in range(CHANNELS)]


def _serve(conn: Any) -> None:
    """Child process: a TmeServer with the bench channels, driven by commands over a pipe."""
    from tests.tme_server import PAGE, TmeServer, make_posts

    with TmeServer(latency=LATENCY) as server:
        for name in NAMES:
            server.add_channel(name, make_posts(PAGES * PAGE, salt=f" {name}"))
        conn.send(server.base_url)
        while True:
            command, *args = conn.recv()
            if command == "stop":
                return
            if command == "take_requests":
                conn.send(len(server.requests))
                server.requests.clear()
            elif command == "add_posts":
                name, count = args
                server.add_posts(name, make_posts(count, first_id=PAGES * PAGE + 1, salt=f" {name}"))
                conn.send(True)


def run(workdir: Path) -> list[Figure]:
    from feedwatch.config import ChannelSpec
    from feedwatch.poll import poll_channels
    from feedwatch.sources.web import WebSettings, WebSource, make_client
    from feedwatch.store import Store

    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=_serve, args=(theirs,), daemon=True)
    child.start()
    base_url = ours.recv()
    settings = WebSettings(base_url=base_url, min_delay=0.0, jitter=0.0, concurrency=CONCURRENCY, timeout=30.0)
    specs = [ChannelSpec(n, "web", 900, None) for n in NAMES]

    def requests_made() -> int:
        ours.send(("take_requests",))
        return int(ours.recv())

    def one_pass(store: Store) -> tuple[float, int, int]:
        client = make_client(settings)
        started = time.perf_counter()
        reports = poll_channels(store, specs, {"web": WebSource(client, settings)}, workers=CONCURRENCY)
        wall = time.perf_counter() - started
        client.close()
        assert all(r.ok for r in reports), [r.line() for r in reports if not r.ok][:3]
        return wall, requests_made(), sum(r.new for r in reports)

    try:
        fetch_wall = fetch_only(settings)
        requests_made()
        with Store.open(workdir / "bench.db") as store:
            wall, requests, new = one_pass(store)
            changed = NAMES[::4]  # a quarter of the channels get two new posts each
            for name in changed:
                ours.send(("add_posts", name, 2))
                ours.recv()
            inc_wall, inc_requests, inc_new = one_pass(store)
        parse_cpu = parse_only(requests)
    finally:
        ours.send(("stop",))
        child.join(10)
    floor = requests * LATENCY / CONCURRENCY
    single = [
        Figure(
            f"backfill {CHANNELS}x{PAGES} pages, {LATENCY * 1000:.0f} ms/req, stored",
            wall,
            "s",
            floor,
            f"floor ({requests} req x latency / {CONCURRENCY})",
        ),
        Figure("the same pages fetched and parsed, not stored", fetch_wall, "s", floor, "floor"),
        Figure(
            "the same pages fetched and parsed, not stored",
            fetch_wall,
            "s",
            parse_cpu,
            f"parsing {requests} pages alone",
        ),
        Figure(f"backfill posts stored ({new})", new / wall, "posts/s"),
        Figure(
            f"incremental: requests per new post ({inc_new} new)",
            inc_requests / inc_new,
            "req/post",
            CHANNELS / inc_new,
            "1 req per channel polled",
        ),
        Figure(
            "incremental: requests per channel polled",
            inc_requests / CHANNELS,
            "req/chan",
            None,
            "",
            "<= 2 per channel (issue)",
            inc_requests <= 2 * CHANNELS,
        ),
        Figure("incremental poll wall time", inc_wall, "s", inc_requests * LATENCY / CONCURRENCY, "floor"),
    ]
    return single + workers_figures(workdir)


def parse_only(pages: int) -> float:
    """Return the time the page parser alone takes for `pages` pages (one thread)."""
    from feedwatch.parse.tme_html import parse_page
    from tests.tme_server import PAGE, FakeChannel, make_posts, render_page

    html = render_page(FakeChannel("bench_channel", "Bench", {p.id: p for p in make_posts(PAGE)}), {})
    started = time.perf_counter()
    for _ in range(pages):
        parse_page(html, "bench")
    return time.perf_counter() - started


def fetch_only(settings: Any) -> float:
    """Return the wall time of fetching and parsing every channel's pages, with no store."""
    from feedwatch.sources.web import WebSource, make_client

    client = make_client(settings)
    source = WebSource(client, settings)
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        fetches = list(pool.map(lambda n: source.fetch(n, None, None), NAMES))
    wall = time.perf_counter() - started
    client.close()
    assert all(f.error is None and len(f.posts) == PAGES * 20 for f in fetches)
    return wall


WORKER_CHANNELS, WORKER_PAGES, PER_SOURCE_RATE = 30, 5, 5.0


def _serve_limited(conn: Any) -> None:
    """Child process: the worker bench's channels behind a per-source-address limit."""
    from tests.tme_server import PAGE, TmeServer, make_posts

    with TmeServer(per_source=1 / PER_SOURCE_RATE) as server:
        for i in range(WORKER_CHANNELS):
            name = f"bench_worker_{i:02d}"
            server.add_channel(name, make_posts(WORKER_PAGES * PAGE, salt=f" {name}"))
        conn.send(server.base_url)
        conn.recv()


def workers_figures(workdir: Path) -> list[Figure]:
    """Posts per second of 1 and of 3 workers, each from its own loopback address, against a per-address limit."""
    sys.path.insert(0, str(ROOT / "tests"))
    import psycopg
    from postgres_support import fresh_database

    try:
        psycopg.connect(_server_url(), connect_timeout=3).close()
    except psycopg.Error as exc:
        print(f"[poll] workers: skipped, no PostgreSQL for the queue ({str(exc).strip()[:100]})", file=sys.stderr)
        return []
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=_serve_limited, args=(theirs,), daemon=True)
    child.start()
    base_url = ours.recv()
    try:
        rates = {}
        for count in (1, 3):
            queue = fresh_database()
            url = next(queue)
            try:
                rates[count] = _workers_rate(workdir / f"workers{count}", base_url, url, count)
            finally:
                next(queue, None)  # drops the database
    finally:
        ours.send("stop")
        child.join(10)
    (posts1, rate1), (posts3, rate3) = rates[1], rates[3]
    return [
        Figure(f"1 worker, one address ({posts1} posts)", rate1, "posts/s"),
        Figure(
            f"3 workers, 3 addresses ({posts3} posts)",
            rate3,
            "posts/s",
            rate1,
            "1 worker",
            ">= 2.5x",
            rate3 >= 2.5 * rate1,
        ),
    ]


def _server_url() -> str:
    from postgres_support import server_url

    return server_url()


def _workers_rate(folder: Path, base_url: str, queue: str, count: int) -> tuple[int, float]:
    """Run `count` workers until every channel is stored; return (posts, posts per second of polling)."""
    from datetime import datetime

    from worker_support import Workers, query, stored_ids, wait_for, write_config

    folder.mkdir()
    names = [f"bench_worker_{i:02d}" for i in range(WORKER_CHANNELS)]
    config = write_config(folder / "w.toml", names, interval=3600)
    total = WORKER_CHANNELS * WORKER_PAGES * 20
    with Workers(folder, config, folder / "store.db", queue, base_url) as workers:
        for number in range(count):
            workers.start(source_address=f"127.0.0.{2 + number}", concurrency=2)  # a request always waiting
        wait_for(lambda: len(stored_ids(workers.db)) >= total, 600, "every bench channel stored", every=0.5)
        workers.stop_all()
    first, last = query(workers.db, "SELECT min(started_at), max(finished_at) FROM ingest_runs")[0]
    seconds = (datetime.fromisoformat(str(last)) - datetime.fromisoformat(str(first))).total_seconds()
    return total, total / seconds
