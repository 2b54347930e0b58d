"""Store figures: ingest throughput, search latency and bytes per post at 1,000,000 generated posts.

Each backend against its own floor, measured in the same run. SQLite: raw
sqlite3.executemany of the very rows the store writes to its posts table, into
one plain table, committing as often as the store does (every 5,000 rows).
PostgreSQL: COPY of those rows into a plain table of the same columns, one
transaction per 5,000 rows. Building those rows is not timed for the floors; the
store's time includes encoding each Post, merging, hashtag links, sources,
observations and the search index. The search floor is the bare index lookup of
the same 50 queries (ids only: no ranking, no snippet, no post read).

FEEDWATCH_BENCH_POSTS chooses N (a smaller one for a quick look).
FEEDWATCH_BENCH_POSTGRES is the server for the PostgreSQL half (default: FEEDWATCH_TEST_POSTGRES, else the one on
127.0.0.1:5432); it runs in a schema of its own, dropped after. FEEDWATCH_BENCH_BACKENDS=sqlite (or postgresql)
runs one half only.

On SQLite, ingest into the full store is compared with ingest into an empty one: the last 5 % of the posts
against the first 5 %, in the same run. Where ingest's time goes: the CPU share of SQLite's
statements in a separate ingest of 50,000 posts (timed through the connection, CPU time), and the
rate ingest would reach if the Python around those statements took no time at all, both against
the floor's CPU time for the same rows.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import Figure, size

from feedwatch.models import ForwardedFrom, Post, Source
from feedwatch.parse.text import fingerprint

N = size("FEEDWATCH_BENCH_POSTS", 1_000_000, 10_000)
CHUNK = 10_000
BATCH = 5_000  # Store.ingest's default transaction size
CHANNELS = [f"channel_{i:02d}" for i in range(50)]


def vocabulary(rng: random.Random, size: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(size)]


class Generator:
    """Seeded posts: Zipf-ish words and hashtags, 50 channels, one post every ~minute."""

    def __init__(self, seed: int = 11):
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng, 20_000)
        self.tags = [w.capitalize() + str(i) for i, w in enumerate(vocabulary(self.rng, 5_000))]
        self.start = datetime(2023, 1, 1, tzinfo=UTC)

    def zipf(self, items: list[str]) -> str:
        return items[min(int(self.rng.paretovariate(1.1)) - 1, len(items) - 1)]

    def post(self, n: int) -> Post:
        rng = self.rng
        words = [
            self.zipf(self.words) if rng.random() < 0.7 else rng.choice(self.words) for _ in range(rng.randint(20, 70))
        ]
        title = " ".join(words[:8]).capitalize()
        tags = tuple(dict.fromkeys(self.zipf(self.tags) for _ in range(rng.randint(1, 3))))
        text = title + "\n\n" + " ".join(words[8:]) + "\n\n" + " ".join("#" + t for t in tags)
        channel = CHANNELS[n % len(CHANNELS)]
        forwarded = ForwardedFrom(rng.choice(CHANNELS)) if rng.random() < 0.2 else None
        return Post(
            channel=channel,
            message_id=n // len(CHANNELS) + 1,
            url=f"https://t.me/{channel}/{n // 50 + 1}",
            date=self.start + timedelta(seconds=60 * n),
            views=rng.randint(10, 100_000),
            forwarded_from=forwarded,
            title=title,
            text=text,
            hashtags=tags,
            source=Source("tme-html", f"https://t.me/s/{channel}", n % 20),
            fingerprint=fingerprint(text),
        )

    def chunks(self, total: int) -> Iterator[list[Post]]:
        for start in range(0, total, CHUNK):
            yield [self.post(n) for n in range(start, min(total, start + CHUNK))]


def floor_table(conn: sqlite3.Connection) -> str:
    """Create the floor's plain table, as wide as a posts row the store writes; return the INSERT of one row."""
    width = len(floor_rows([Generator(seed=1).post(0)], 1)[0])
    conn.execute("CREATE TABLE posts (" + ", ".join(f"c{i}" for i in range(width)) + ")")
    return "INSERT INTO posts VALUES (" + ", ".join("?" * width) + ")"


def floor_rows(posts: list[Post], first_id: int) -> list[tuple[object, ...]]:
    """The rows the store writes to its posts table for `posts`, built outside the timing."""
    from feedwatch.store.ingest import Row
    from feedwatch.store.merge import ident
    from feedwatch.store.rows import post_values

    now = datetime.now(UTC).isoformat()
    return [post_values(Row(first_id + i, ident(p), p, now, now, now)) for i, p in enumerate(posts)]


class TimedConnection:
    """A store connection that adds up the CPU time of the SQL statements run through it, by statement."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self.seconds: dict[str, float] = {}

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection timed: `is_postgres` looks through to it, so the store writes as to SQLite (search index
        included; without this, the store took the wrapper for PostgreSQL and left its FTS5 statement out)."""
        return self._conn

    def _timed(self, method: str, sql: str, *args: object) -> object:
        started = time.process_time()
        result = getattr(self._conn, method)(sql, *args)
        table = re.search(r"\b(?:INTO|UPDATE|FROM)\s+(\w+)", sql)
        key = f"{sql.split()[0]} {table.group(1) if table else ''}"
        self.seconds[key] = self.seconds.get(key, 0.0) + time.process_time() - started
        return result

    def execute(self, sql: str, *args: object) -> object:
        return self._timed("execute", sql, *args)

    def executemany(self, sql: str, *args: object) -> object:
        return self._timed("executemany", sql, *args)


def sql_share(path: Path, n: int) -> tuple[float, float, float, dict[str, float]]:
    """Ingest n posts into a fresh store, then executemany their rows into a plain table (the floor).

    Return the CPU seconds of the ingest, of SQLite's statements within it, of the floor, and by statement.
    """
    from feedwatch.store import Store

    chunks = list(Generator(seed=13).chunks(n))
    store = Store.open(path)
    timed = TimedConnection(store.db.conn)
    store.db.conn = timed  # type: ignore[assignment]
    started = time.process_time()
    for posts in chunks:
        store.ingest(posts, "bench", batch=BATCH)
    total = time.process_time() - started
    store.db.conn = timed._conn
    store.close()
    floor = sqlite3.connect(path.with_name("sql-floor.db"), isolation_level=None)
    floor.execute("PRAGMA journal_mode = WAL")
    floor.execute("PRAGMA synchronous = NORMAL")
    insert = floor_table(floor)
    rows = [row for number, posts in enumerate(chunks) for row in floor_rows(posts, number * CHUNK + 1)]
    started = time.process_time()
    for start in range(0, len(rows), BATCH):
        floor.execute("BEGIN")
        floor.executemany(insert, rows[start : start + BATCH])
        floor.execute("COMMIT")
    floor_cpu = time.process_time() - started
    floor.close()
    return total, sum(timed.seconds.values()), floor_cpu, timed.seconds


def ingest_seconds(path: Path) -> tuple[float, float, list[float]]:
    """Return (store ingest seconds, floor executemany seconds, the store's seconds per chunk) over the same N posts."""
    from feedwatch.store import Store

    store = Store.open(path)
    per_chunk = []
    floor = sqlite3.connect(path.with_name("floor.db"), isolation_level=None)
    floor.execute("PRAGMA journal_mode = WAL")
    floor.execute("PRAGMA synchronous = NORMAL")
    insert = floor_table(floor)
    store_s = floor_s = 0.0
    done = 0
    for posts in Generator().chunks(N):
        rows = floor_rows(posts, done + 1)
        started = time.perf_counter()
        store.ingest(posts, "bench", batch=BATCH)
        per_chunk.append(time.perf_counter() - started)
        store_s += per_chunk[-1]
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):  # the store's transaction size, so both commit as often
            floor.execute("BEGIN")
            floor.executemany(insert, rows[start : start + BATCH])
            floor.execute("COMMIT")
        floor_s += time.perf_counter() - started
        done += len(posts)
    store.close()
    floor.close()
    return store_s, floor_s, per_chunk


def queries(postgres: bool) -> list[str]:
    """50 searches of generated words: one, two, a phrase, a prefix, one without another (in each syntax)."""
    gen = Generator()  # the same vocabulary as the stored posts
    rng = random.Random(3)
    found = []
    for i in range(50):
        a, b = gen.zipf(gen.words), rng.choice(gen.words)
        found.append([b, f"{a} {b}", f'"{a} {b}"', f"{b[:3]}*", f"{b} -{a}" if postgres else f"{b} NOT {a}"][i % 5])
    return found


def search_latencies(path: Path | str) -> tuple[list[float], dict[str, float]]:
    """Return the wall time of 50 searches of generated words (one, two, a phrase, a prefix)."""
    from feedwatch.store import Store
    from feedwatch.store.backend import is_url

    gen = Generator()
    store = Store.open(path)
    asked = queries(is_url(path))
    store.search(asked[0])  # warm the cache, as a running service would be
    times = []
    for query in asked:
        started = time.perf_counter()
        store.search(query, limit=20)
        times.append(time.perf_counter() - started)
    common = gen.words[0]  # the Zipf head: in nearly every post
    common_times = {}
    for sort in ("relevance", "recent"):
        started = time.perf_counter()
        store.search(common, limit=20, sort=sort)
        common_times[sort] = time.perf_counter() - started
    started = time.perf_counter()  # what `search` adds to say "20 of N shown"
    store.count_matches(common)
    common_times["count"] = time.perf_counter() - started
    store.close()
    return times, common_times


def floor_search_latencies(path: Path | str) -> list[float]:
    """Return the wall time of the bare index lookups of the same 50 queries: the first 20 ids that match."""
    from feedwatch.store import Store
    from feedwatch.store.backend import is_url
    from feedwatch.store.queries import _pg_tsquery

    postgres = is_url(path)
    store = Store.open(path)
    conn = store.db.conn
    sql = (
        "SELECT id FROM posts WHERE fts @@ ?::tsquery LIMIT 20"
        if postgres
        else "SELECT rowid FROM posts_fts WHERE posts_fts MATCH ? LIMIT 20"
    )
    times = []
    for query in queries(postgres):
        started = time.perf_counter()
        conn.execute(sql, [_pg_tsquery(conn, query) if postgres else query]).fetchall()
        times.append(time.perf_counter() - started)
    store.close()
    return times


def echo_latencies(path: Path) -> list[float]:
    """Return the wall time of looking up the echoes of 50 random stored posts."""
    from feedwatch.network.echoes import echoes_of_post
    from feedwatch.store import Store

    store = Store.open(path)
    rng = random.Random(4)
    ids = [rng.randint(1, N) for _ in range(51)]
    echoes_of_post(store.db.conn, ids[0])  # warm the cache, as a running service would be
    times = []
    for post_id in ids[1:]:
        started = time.perf_counter()
        echoes_of_post(store.db.conn, post_id)
        times.append(time.perf_counter() - started)
    store.close()
    return times


PG_FLOOR_COLUMNS = (
    "id, ident, channel, message_id, fingerprint, kind, date, title, text, author, key_points, views, forwards,"
    " json, first_seen, last_seen, text_since, actor, origin, actor_name"
)


def postgres_server() -> str | None:
    """The server for the PostgreSQL half, or None (said on stderr) when none answers."""
    import sys

    url = (
        os.environ.get("FEEDWATCH_BENCH_POSTGRES")
        or os.environ.get("FEEDWATCH_TEST_POSTGRES")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:
        print(f"[store] no PostgreSQL at {url} ({exc}); PostgreSQL figures left out", file=sys.stderr)
        return None
    return url


def pg_ingest_seconds(url: str) -> tuple[float, float]:
    """Return (store ingest seconds, COPY floor seconds) over the same N posts, into PostgreSQL."""
    import psycopg

    from feedwatch.store import Store

    store = Store.open(url)
    floor = psycopg.connect(url, autocommit=True)
    floor.execute("CREATE TABLE floor_posts (LIKE posts)")  # the same columns, no index, no generated column
    store_s = floor_s = 0.0
    done = 0
    for posts in Generator().chunks(N):
        rows = floor_rows(posts, done + 1)
        started = time.perf_counter()
        store.ingest(posts, "bench", batch=BATCH)
        store_s += time.perf_counter() - started
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):  # one transaction per 5,000 rows, as the store commits
            with (
                floor.transaction(),
                floor.cursor() as cursor,
                cursor.copy(f"COPY floor_posts ({PG_FLOOR_COLUMNS}) FROM STDIN") as copy,
            ):
                for row in rows[start : start + BATCH]:
                    copy.write_row(row)
        floor_s += time.perf_counter() - started
        done += len(posts)
    store.close()
    floor.close()
    return store_s, floor_s


def pg_sizes(url: str) -> tuple[int, int]:
    """Return (bytes of the store's tables with their indexes, bytes of the floor table)."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(format('%I', table_name))), 0) FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name <> 'floor_posts'"
        ).fetchone()
        floor = conn.execute("SELECT pg_total_relation_size('floor_posts')").fetchone()
    return int(tables[0] if tables else 0), int(floor[0] if floor else 0)


def run_postgres(server: str) -> list[Figure]:
    import uuid

    import psycopg

    schema = f"feedwatch_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = server + ("&" if "?" in server else "?") + f"options=-csearch_path%3D{schema}"
    try:
        store_s, floor_s = pg_ingest_seconds(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        times, common = search_latencies(url)
        floor_times = floor_search_latencies(url)
        size, floor_size = pg_sizes(url)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    rate, floor_rate = N / store_s, N / floor_s
    median_ms, floor_ms = statistics.median(times) * 1000, statistics.median(floor_times) * 1000
    return [
        Figure(f"PostgreSQL ingest throughput ({N:,} posts)", rate, "posts/s", floor_rate, "COPY floor"),
        Figure(
            f"PostgreSQL search median of 50 ({N:,} posts)",
            median_ms,
            "ms",
            floor_ms,
            "bare index lookup",
            "< 50 ms",
            median_ms < 50,
        ),
        Figure("PostgreSQL search slowest of 50", max(times) * 1000, "ms", max(floor_times) * 1000, "bare lookup"),
        Figure("PostgreSQL search a word in ~all posts, by relevance", common["relevance"] * 1000, "ms"),
        Figure("PostgreSQL search a word in ~all posts, recent first", common["recent"] * 1000, "ms"),
        Figure("PostgreSQL count of its matches", common["count"] * 1000, "ms"),
        Figure("PostgreSQL bytes per post", size / N, "B", floor_size / N, "plain table"),
    ]


def run(workdir: Path) -> list[Figure]:
    backends = os.environ.get("FEEDWATCH_BENCH_BACKENDS", "sqlite,postgresql").split(",")
    figures: list[Figure] = []
    if "sqlite" in backends:
        figures += run_sqlite(workdir)
    server = postgres_server() if "postgresql" in backends else None
    if server is not None:
        figures += run_postgres(server)
    return figures


def run_sqlite(workdir: Path) -> list[Figure]:
    path = workdir / "bench.db"
    store_s, floor_s, per_chunk = ingest_seconds(path)
    ends = max(1, len(per_chunk) // 20)  # the first and last 5 % of the posts
    first_rate, last_rate = ends * CHUNK / sum(per_chunk[:ends]), ends * CHUNK / sum(per_chunk[-ends:])
    sql_n = min(N, 50_000)
    sql_total, sql_s, floor_cpu, by_statement = sql_share(workdir / "sql.db", sql_n)
    times, common = search_latencies(path)
    floor_times = floor_search_latencies(path)
    echo_times = echo_latencies(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    size = sum(p.stat().st_size for p in workdir.glob("bench.db*"))
    floor_size = sum(p.stat().st_size for p in workdir.glob("floor.db*"))
    rate, floor_rate = N / store_s, N / floor_s
    median_ms = statistics.median(times) * 1000
    return [
        Figure(
            f"ingest throughput ({N:,} posts)",
            rate,
            "posts/s",
            floor_rate,
            "executemany floor",
            ">= 0.25x floor",
            rate >= 0.25 * floor_rate,
        ),
        Figure(
            f"ingest into a store of {N - ends * CHUNK:,} posts",
            last_rate,
            "posts/s",
            first_rate,
            f"into an empty one (first {ends * CHUNK:,})",
            ">= 0.8x",
            last_rate >= 0.8 * first_rate,
        ),
        Figure(
            f"  SQLite's share of ingest CPU ({sql_n:,} posts)",
            100 * sql_s / sql_total,
            "%",
        ),
        Figure(
            "  the same ingest, by CPU time",
            sql_n / sql_total,
            "posts/s",
            sql_n / floor_cpu,
            "executemany floor, by CPU time",
        ),
        Figure(
            "  ceiling: ingest's SQL alone, no Python",
            sql_n / sql_s,
            "posts/s",
            sql_n / floor_cpu,
            "executemany floor, by CPU time",
        ),
        *(
            Figure(f"    {statement[:40]}", 100 * seconds / sql_total, "% CPU")
            for statement, seconds in sorted(by_statement.items(), key=lambda kv: -kv[1])[:5]
        ),
        Figure(
            f"search median of 50 ({N:,} posts)",
            median_ms,
            "ms",
            statistics.median(floor_times) * 1000,
            "bare index lookup",
            "< 50 ms",
            median_ms < 50,
        ),
        Figure("search slowest of 50", max(times) * 1000, "ms"),
        Figure("search a word in ~all posts, by relevance", common["relevance"] * 1000, "ms"),
        Figure("search a word in ~all posts, recent first", common["recent"] * 1000, "ms"),
        Figure(
            'count of its matches ("20 of N shown")',
            common["count"] * 1000,
            "ms",
            common["recent"] * 1000,
            "its recent-first search",
        ),
        Figure("database bytes per post", size / N, "B", floor_size / N, "plain table"),
        Figure(
            f"echoes of one post, median of 50 ({N:,} posts)",
            statistics.median(echo_times) * 1000,
            "ms",
            None,
            "",
            "< 50 ms",
            statistics.median(echo_times) < 0.05,
        ),
        Figure("echoes of one post, slowest of 50", max(echo_times) * 1000, "ms"),
    ]
