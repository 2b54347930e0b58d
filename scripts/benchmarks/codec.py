"""The Post codec and `feedwatch ingest` of JSON Lines.

Codec: microseconds a post to decode a JSON Lines line into a checked Post and
to encode one (the contract line, the stored JSON, and reading a stored row
back), each against the hand-written codecs msgspec replaced (_old_codec.py),
on the same posts.

Ingest: `feedwatch ingest FILE` (a fresh database; merging, hashtags, sources,
FTS and campaign detection included) against what a user would do by hand,
`sqlite-utils insert --nl` then `enable-fts` of the same file, and against
raw sqlite3.executemany of the rows the store writes (as in the store area). Each is timed twice:
by CPU time (user + system of the process and its children: feedwatch's detector beside a long
ingest included; steady on a shared machine, where other work only delays a process) and by wall
time; the commands run alternately, three times each, and the best of each counts.
Generated posts (see store.py); FEEDWATCH_BENCH_INGEST_POSTS sets how many.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from common import Figure, best_of, size
from store import BATCH, Generator, floor_rows, floor_table

N_CODEC = 20_000
N_INGEST = size("FEEDWATCH_BENCH_INGEST_POSTS", 100_000, 1000)
BIN = Path(sys.executable).parent


def per_post(seconds: float, n: int) -> float:
    return seconds / n * 1e6


def codec_figures() -> list[Figure]:
    import _old_codec as old

    from feedwatch.models import post_from_line, post_line, stored_json, stored_post

    posts = next(Generator(seed=5).chunks(N_CODEC))
    lines = [post_line(p) for p in posts]
    columns = frozenset(("title", "text", "author"))
    stored = [(stored_json(p, columns), p.title, p.text, p.author) for p in posts]
    old_stored = [(old.stored_json(p), p.title, p.text, p.author) for p in posts]
    n = len(posts)
    pairs = [  # (what, ours, the hand-written codec's, doing the same)
        (
            "decode a JSON line into a checked Post",
            lambda: [post_from_line(x) for x in lines],
            lambda: [old.decode(x) for x in lines],
        ),
        (
            "encode a Post as its JSON line",
            lambda: [post_line(p) for p in posts],
            lambda: [old.encode(p) for p in posts],
        ),
        (
            "encode a Post's stored JSON",
            lambda: [stored_json(p, columns) for p in posts],
            lambda: [old.stored_json(p) for p in posts],
        ),
        (
            "decode a stored row into a Post",
            lambda: [stored_post(s, title=t, text=x, author=a) for s, t, x, a in stored],
            lambda: [old.stored_post(*row) for row in old_stored],
        ),
    ]
    figures = []
    for what, ours, theirs in pairs:
        figures.append(
            Figure(
                what,
                per_post(best_of(3, ours), n),
                "us",
                per_post(best_of(3, theirs), n),
                "the hand-written codec it replaced",
            )
        )
    loads = best_of(3, lambda: [json.loads(x) for x in lines])
    figures.append(Figure("  (json.loads of the line alone)", per_post(loads, n), "us"))
    return figures


def timed(*command: str | Path) -> tuple[float, float]:
    """Run a command; return its wall time and its CPU time (user + system), in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([str(c) for c in command], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def floor_seconds(workdir: Path, posts: list) -> tuple[float, float]:  # type: ignore[type-arg]
    """executemany of the posts table's rows into one plain table, committing every BATCH rows: (wall, CPU) s."""
    rows = floor_rows(posts, 1)
    path = workdir / "floor.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    insert = floor_table(conn)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), BATCH):
        conn.execute("BEGIN")
        conn.executemany(insert, rows[start : start + BATCH])
        conn.execute("COMMIT")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    return seconds, cpu


def ingest_figures(workdir: Path) -> list[Figure]:
    from feedwatch.models import post_line

    posts = [p for chunk in Generator(seed=7).chunks(N_INGEST) for p in chunk]
    path = workdir / "posts.jsonl"
    with path.open("wb") as out:
        for post in posts:
            out.write(post_line(post) + b"\n")
    n = len(posts)
    runs: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for _ in range(3):  # alternately, each into a fresh database; the best of three of each
        for old in [*workdir.glob("fw.db*"), *workdir.glob("su.db*")]:
            old.unlink()
        ours = timed(BIN / "feedwatch", "ingest", path, "--db", workdir / "fw.db")
        insert = timed(BIN / "sqlite-utils", "insert", workdir / "su.db", "posts", path, "--nl")
        fts = timed(BIN / "sqlite-utils", "enable-fts", workdir / "su.db", "posts", "title", "text")
        runs.append((ours, (insert[0] + fts[0], insert[1] + fts[1])))
    ours = (min(r[0][0] for r in runs), min(r[0][1] for r in runs))
    by_hand = (min(r[1][0] for r in runs), min(r[1][1] for r in runs))
    floors = []
    for _ in range(3):
        for old in workdir.glob("floor.db*"):
            old.unlink()
        floors.append(floor_seconds(workdir, posts))
    floor = (min(f[0] for f in floors), min(f[1] for f in floors))
    figures = []
    for clock, i in (("CPU time", 1), ("wall time", 0)):
        rate = n / ours[i]
        figures += [
            Figure(
                f"feedwatch ingest of JSON Lines ({n:,} posts), {clock}",
                rate,
                "posts/s",
                n / by_hand[i],
                "sqlite-utils insert --nl + enable-fts",
                ">= 2x",
                rate >= 2 * n / by_hand[i],
            ),
            Figure(
                "  the same, against the floor",
                rate,
                "posts/s",
                n / floor[i],
                "executemany floor",
                ">= 0.25x floor",
                rate >= 0.25 * n / floor[i],
            ),
        ]
    return figures


def run(workdir: Path) -> list[Figure]:
    return codec_figures() + ingest_figures(workdir)
