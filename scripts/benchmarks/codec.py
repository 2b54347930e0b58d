"""The Post codec and `feedwatch ingest` of JSON Lines.

Codec: microseconds a post to decode a JSON Lines line into a checked Post and
to encode one (the contract line, the stored JSON, and reading a stored row
back), each against the standard library's json doing only its part of the job
on the same posts (json.loads of the line, json.dumps of the post's dict), the
least any codec written over it must spend.

Ingest: `feedwatch ingest FILE` (a fresh database; merging, hashtags, sources,
FTS and campaign detection included) against what a user would do by hand,
`sqlite-utils insert --nl` then `enable-fts` of the same file, and against
raw sqlite3.executemany of the rows the store writes (as in the store area).
Generated posts (see store.py); FEEDWATCH_BENCH_INGEST_POSTS sets how many.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from common import Figure, best_of
from store import BATCH, Generator, floor_rows

N_CODEC = 20_000
N_INGEST = int(os.environ.get("FEEDWATCH_BENCH_INGEST_POSTS", "100000"))
BIN = Path(sys.executable).parent


def per_post(seconds: float, n: int) -> float:
    return seconds / n * 1e6


def codec_figures() -> list[Figure]:
    from feedwatch.models import post_from_line, post_line, stored_json, stored_post

    posts = next(Generator(seed=5).chunks(N_CODEC))
    lines = [post_line(p) for p in posts]
    dicts = [p.to_json() for p in posts]
    columns = frozenset(("title", "text", "author"))
    stored = [(stored_json(p, columns), p.title, p.text, p.author) for p in posts]
    n = len(posts)
    decode = best_of(3, lambda: [post_from_line(line) for line in lines])
    loads = best_of(3, lambda: [json.loads(line) for line in lines])
    encode = best_of(3, lambda: [post_line(p) for p in posts])
    dumps = best_of(3, lambda: [json.dumps(d, ensure_ascii=False) for d in dicts])
    store_encode = best_of(3, lambda: [stored_json(p, columns) for p in posts])
    store_decode = best_of(3, lambda: [stored_post(s, title=t, text=x, author=a) for s, t, x, a in stored])
    return [
        Figure(
            "decode a JSON line into a checked Post", per_post(decode, n), "us", per_post(loads, n), "json.loads alone"
        ),
        Figure(
            "encode a Post as its JSON line",
            per_post(encode, n),
            "us",
            per_post(dumps, n),
            "json.dumps of its dict alone",
        ),
        Figure(
            "encode a Post's stored JSON",
            per_post(store_encode, n),
            "us",
            per_post(dumps, n),
            "json.dumps of its dict alone",
        ),
        Figure(
            "decode a stored row into a Post",
            per_post(store_decode, n),
            "us",
            per_post(loads, n),
            "json.loads of its line alone",
        ),
    ]


def wall(*command: str | Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(c) for c in command], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def floor_seconds(workdir: Path, posts: list) -> float:  # type: ignore[type-arg]
    """executemany of the posts table's rows into one plain table, committing every BATCH rows."""
    rows = floor_rows(posts, 1)
    path = workdir / "floor.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE posts (" + ", ".join(f"c{i}" for i in range(17)) + ")")
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO posts VALUES (" + ", ".join("?" * 17) + ")", rows[start : start + BATCH])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def ingest_figures(workdir: Path) -> list[Figure]:
    from feedwatch.models import post_line

    posts = [p for chunk in Generator(seed=7).chunks(N_INGEST) for p in chunk]
    path = workdir / "posts.jsonl"
    with path.open("wb") as out:
        for post in posts:
            out.write(post_line(post) + b"\n")
    n = len(posts)
    feedwatch = wall(BIN / "feedwatch", "ingest", path, "--db", workdir / "fw.db")
    by_hand = wall(BIN / "sqlite-utils", "insert", workdir / "su.db", "posts", path, "--nl")
    by_hand += wall(BIN / "sqlite-utils", "enable-fts", workdir / "su.db", "posts", "title", "text")
    floor = floor_seconds(workdir, posts)
    rate = n / feedwatch
    return [
        Figure(
            f"feedwatch ingest of JSON Lines ({n:,} posts)",
            rate,
            "posts/s",
            n / by_hand,
            "sqlite-utils insert --nl + enable-fts",
            ">= 2x",
            rate >= 2 * n / by_hand,
        ),
        Figure(
            "  the same, against the floor",
            rate,
            "posts/s",
            n / floor,
            "executemany floor",
            ">= 0.25x floor",
            rate >= 0.25 * n / floor,
        ),
    ]


def run(workdir: Path) -> list[Figure]:
    return codec_figures() + ingest_figures(workdir)
