"""Echo figures: what the passage index costs, and how its signatures compare with datasketch's.

`feedwatch ingest` does no echo work: the passage index reads new posts when `feedwatch echoes` or the
digest first need them (feedwatch.store.passages.catch_up). So the figure here is the whole cost: the
ingest command of a JSON Lines file, then the index catching up on what it stored, against the ingest
alone, in the same run, on generated posts and, when ../shared is there, on real channel posts.
Signatures are compared with datasketch's MinHash (the well-kept reference) on the same passages, when
datasketch is installed. The lookup of one post's echoes at 1,000,000 posts is timed in the store area.
FEEDWATCH_BENCH_ECHO_POSTS chooses the number of posts (default 50,000).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from common import Figure, size
from store import Generator

N = size("FEEDWATCH_BENCH_ECHO_POSTS", 50_000, 1000)
REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "farright_dev" / "posts_before_2023-07.jsonl.gz"


def _ingest_then_index(jsonl: Path, db: Path) -> tuple[float, float]:
    """CPU seconds of `feedwatch ingest JSONL --db DB`, then of the passage index catching up on it."""
    from click.testing import CliRunner

    from feedwatch.cli import main
    from feedwatch.store import Store

    started = time.process_time()
    result = CliRunner().invoke(main, ["ingest", str(jsonl), "--db", str(db)], catch_exceptions=False)
    ingest = time.process_time() - started
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        started = time.process_time()
        store.catch_up_passages()
        index = time.process_time() - started
    return ingest, index


def _figure(workdir: Path, name: str, jsonl: Path, count: int) -> Figure:
    # Best of two, so a burst of load on the shared machine is less likely to decide the figure.
    ingest, index = min(_ingest_then_index(jsonl, workdir / f"{name.split()[0]}-{i}.db") for i in range(2))
    return Figure(
        f"ingest + echo index, {name} ({count:,})",
        count / (ingest + index),
        "posts/s",
        count / ingest,
        "feedwatch ingest alone",
    )


def run(workdir: Path) -> list[Figure]:
    from feedwatch.models import post_line
    from feedwatch.store import passages

    gen = Generator(seed=5)
    posts = [gen.post(n) for n in range(N)]
    generated = workdir / "generated.jsonl"
    generated.write_bytes(b"".join(post_line(p) + b"\n" for p in posts))
    figures = [_figure(workdir, "generated posts", generated, N)]
    if REAL.is_file():
        import gzip

        real = workdir / "real.jsonl"
        with gzip.open(REAL, "rt", encoding="utf-8") as src, real.open("w", encoding="utf-8") as dst:
            dst.writelines(itertools.islice(src, N))
        figures.append(_figure(workdir, "real channel posts", real, N))
    texts = [p.normal for i, post in enumerate(posts[:20_000]) for p in passages.passages(i, post)]
    started = time.process_time()
    passages.signatures(texts)
    ours = (time.process_time() - started) / len(texts) * 1e6
    try:
        from datasketch import MinHash
    except ImportError:
        figures.append(Figure("signature per passage (datasketch not installed)", ours, "us"))
        return figures
    started = time.process_time()
    for text in texts:
        words = text.split()
        hasher = MinHash(num_perm=passages.SIGNATURE)
        hasher.update_batch([f"{a} {b}".encode() for a, b in itertools.pairwise(words)])
    theirs = (time.process_time() - started) / len(texts) * 1e6
    figures.append(Figure("signature per passage, batched numpy", ours, "us", theirs, "datasketch MinHash"))
    return figures
