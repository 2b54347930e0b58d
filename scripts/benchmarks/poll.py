"""Polling 200 channels x 5 pages from a local t.me/s server with a fixed latency per request.

The server runs in a child process, so that its work does not share the
poller's interpreter lock. Figures: the wall time of a full backfill against
its floor (the sum of the simulated latencies divided by the per-host
concurrency limit), the same without the store, and the requests per new post
of the incremental poll that follows.
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
    return [
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
