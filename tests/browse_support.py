"""A store to browse: a real campaign alert, one post seen three times (edited once), a word to search.

Built through the real ingest with the real campaign detector (a short warm-up so a small stream alerts),
and served by the real `feedwatch serve` in its own process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from store_support import post

from feedwatch.campaigns import IngestHook, Settings
from feedwatch.models import Post
from feedwatch.store import Store

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CHANNELS = ["alpha_news", "bravo_news", "charlie_news", "delta_news"]
WORD = "wolframite"  # only in the edited post's current text
EDITED = ("delta_news", 900)
VIEWS = (120, 250, 400)


def _channel_post(channel: str, mid: int, hours: float, text: str, views: int | None = None) -> Post:
    return post(
        text,
        "tme-html",
        f"https://t.me/s/{channel}",
        mid,
        channel=channel,
        message_id=mid,
        url=f"https://t.me/{channel}/{mid}",
        date=T0 + timedelta(hours=hours),
        views=views,
    )


def stream() -> list[Post]:
    """Forty days of a quiet #news rubric on four channels, then delta_news pushing #Sustained for ten days."""
    posts, mid = [], 1
    for hour in range(0, 40 * 24, 6):
        for i, channel in enumerate(CHANNELS):
            posts.append(_channel_post(channel, mid, hour + i * 0.1, f"Bulletin {mid} of {channel}\n\n#news"))
            mid += 1
    for k in range(20):
        posts.append(_channel_post("delta_news", 700 + k, 5 * 24 + k * 14, f"Push {k} of the week\n\n#Sustained"))
    return sorted(posts, key=lambda p: p.date or T0)


def make_store(path: Path) -> Path:
    """Store the stream (alerts raised as it is stored) and one post seen three times, edited at the third."""
    with Store.open(path) as store:
        store.ingest(stream(), "generated", on_new=IngestHook(Settings(warmup_days=2)))
        channel, mid = EDITED
        texts = (
            "Statement on the harbour works\n\n#Sustained",
            "Statement on the harbour works\n\n#Sustained",
            f"Statement on the harbour works and the {WORD} shipment\n\n#Sustained",
        )
        for n, (text, views) in enumerate(zip(texts, VIEWS, strict=True)):
            seen = T0 + timedelta(days=12, hours=n)
            store.ingest(
                [_channel_post(channel, mid, 11 * 24, text, views)], f"https://t.me/s/{channel}", observed_at=seen
            )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT
    process: subprocess.Popen  # type: ignore[type-arg]

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


@contextmanager
def serving(db: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Run `feedwatch serve --db DB` as its own process until it answers; stop it after the block."""
    port = free_port()
    command = [sys.executable, "-m", "feedwatch", "serve", "--db", str(db), "--port", str(port), *args]
    log = db.parent / f"serve-{port}.log"  # a file, not a pipe: a full pipe would stall the server
    with log.open("wb") as err:
        process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=err)
    served = Served(f"http://127.0.0.1:{port}", process)
    try:
        for _ in range(600):  # up to a minute on a loaded machine: waiting for start-up, not timing it
            if process.poll() is not None:
                raise AssertionError(f"feedwatch serve ended: {log.read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("feedwatch serve did not start listening")
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
