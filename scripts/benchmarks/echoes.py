"""Echo figures: what the passage index costs ingest, and how its signatures compare with datasketch's.

The issue's figure is `feedwatch ingest` of a JSON Lines file (parse, store, campaign detection) with the
passage index against the same command with the index switched off at its one seam (feedwatch.store.ingest
calls passages.index and passages.reindex), in the same run, on generated posts and on real ones. The
store's ingest alone (posts already parsed) is measured the same way, as the harder ratio. Signatures are
compared with datasketch's MinHash (the well-kept reference) on the same
passages, when datasketch is installed. The lookup of one post's echoes at
1,000,000 posts is timed in the store area, on its store.
FEEDWATCH_BENCH_ECHO_POSTS chooses the number of posts (default 50,000).
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from common import Figure
from store import BATCH, Generator

N = int(os.environ.get("FEEDWATCH_BENCH_ECHO_POSTS", "50000"))


def _ingest_seconds(path: Path, posts: list, indexed: bool) -> float:  # type: ignore[type-arg]
    import feedwatch.store.ingest as ingest
    from feedwatch.store import Store, passages

    saved = ingest.passages
    if not indexed:
        ingest.passages = _Off  # type: ignore[assignment]
    try:
        with Store.open(path) as store:
            started = time.process_time()
            store.ingest(posts, "bench", batch=BATCH)
            return time.process_time() - started
    finally:
        ingest.passages = saved
        assert ingest.passages is passages


REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "farright_dev" / "posts_before_2023-07.jsonl.gz"


class _Off:
    """The seam: the ingest's view of the passage index, switched off."""

    index = staticmethod(lambda conn, posts: 0)
    reindex = staticmethod(lambda conn, posts: 0)


def _command_seconds(jsonl: Path, db: Path, indexed: bool) -> float:
    """CPU seconds of `feedwatch ingest JSONL --db DB`, run in this process (so the seam can be set)."""
    from click.testing import CliRunner

    import feedwatch.store.ingest as ingest
    from feedwatch.cli import main

    saved = ingest.passages
    if not indexed:
        ingest.passages = _Off  # type: ignore[assignment]
    try:
        started = time.process_time()
        result = CliRunner().invoke(main, ["ingest", str(jsonl), "--db", str(db)], catch_exceptions=False)
        spent = time.process_time() - started
    finally:
        ingest.passages = saved
    assert result.exit_code == 0, result.output
    return spent


def _command_figure(workdir: Path, name: str, jsonl: Path, count: int) -> Figure:
    with_index = min(_command_seconds(jsonl, workdir / f"cmd-{name}-on{i}.db", True) for i in range(2))
    without = min(_command_seconds(jsonl, workdir / f"cmd-{name}-off{i}.db", False) for i in range(2))
    return Figure(f"feedwatch ingest with the index, {name} ({count:,})", count / with_index, "posts/s",
                  count / without, "without it", ">= 0.7x", without / with_index >= 0.7)


def _ratio_figure(workdir: Path, name: str, posts: list) -> Figure:  # type: ignore[type-arg]
    # Best of two each, so a burst of load on the shared machine is less likely to decide the figure.
    with_index = min(_ingest_seconds(workdir / f"{name}-on{i}.db", posts, True) for i in range(2))
    without = min(_ingest_seconds(workdir / f"{name}-off{i}.db", posts, False) for i in range(2))
    return Figure(f"store ingest alone with the index, {name} ({len(posts):,})", len(posts) / with_index,
                  "posts/s", len(posts) / without, "without it")


def _real_sample(workdir: Path) -> Path:
    """The first N posts of the real stream, as a JSON Lines file."""
    import gzip

    sample = workdir / "real.jsonl"
    with gzip.open(REAL, "rt", encoding="utf-8") as src, sample.open("w", encoding="utf-8") as dst:
        dst.writelines(itertools.islice(src, N))
    return sample


def run(workdir: Path) -> list[Figure]:
    from feedwatch.models import post_line
    from feedwatch.parse import parse_path
    from feedwatch.store import passages

    gen = Generator(seed=5)
    posts = [gen.post(n) for n in range(N)]
    generated = workdir / "generated.jsonl"
    generated.write_bytes(b"".join(post_line(p) + b"\n" for p in posts))
    figures = [_command_figure(workdir, "generated posts", generated, N)]
    if REAL.is_file():
        real = _real_sample(workdir)
        figures.append(_command_figure(workdir, "real channel posts", real, N))
    figures.append(_ratio_figure(workdir, "generated posts", posts))
    if REAL.is_file():
        figures.append(_ratio_figure(workdir, "real channel posts", list(parse_path(str(real)))))
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
