"""Echoes evaluated on the labelled synthetic set (echo_set.py) and, when given, on a real stream.

Usage: scripts/eval_echoes [--seed N] [--threshold T] [--real PATH.jsonl[.gz] [--since DATE] [--until DATE]] [--json]

Synthetic: every pair of posts the groups put together is compared with the
pairs the labels put together (precision and recall), and each edited copy is
checked against its origin by edit rate. Real: the stream is stored, and the
largest groups of a window are printed for reading.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo_set import RATES, EchoSet, generate

from feedwatch.network import echoes
from feedwatch.parse import parse_path
from feedwatch.store import Store

Key = tuple[str, int]


def _pairs(groups: list[set[Key]]) -> set[frozenset[Key]]:
    return {frozenset(pair) for group in groups for pair in itertools.combinations(sorted(group), 2)}


def _origins(data: EchoSet) -> dict[int, Key]:
    dated = {(p.channel, p.message_id): p.date for p in data.posts}
    members: dict[int, list[Key]] = {}
    for key, group in data.group_of.items():
        if group is not None:
            members.setdefault(group, []).append(key)
    return {group: min(keys, key=lambda k: dated[k]) for group, keys in members.items()}  # type: ignore[arg-type,return-value]


def score_synthetic(seed: int, threshold: float) -> dict[str, object]:
    """Store the labelled set, group its echoes, and score the groups against the labels."""
    data = generate(seed)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "echoes.db") as store:
        started = time.perf_counter()
        store.ingest(data.posts, "echo-set")
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        found = echoes.echoes_of_window(store.db.conn, None, None, min_channels=2, threshold=threshold)
        group_s = time.perf_counter() - started
        names = {row[0]: (row[1], row[2]) for row in store.db.execute("SELECT id, channel, message_id FROM posts")}
    truth: dict[int, set[Key]] = {}
    for key, group in data.group_of.items():
        if group is not None:
            truth.setdefault(group, set()).add(key)
    predicted = [{names[e.post_id] for e in g.echoes} for g in found]
    want, got = _pairs(list(truth.values())), _pairs(predicted)
    right = want & got
    origins = _origins(data)
    by_rate: dict[str, float | None] = {}
    for rate in RATES:
        pairs = {frozenset((key, origins[data.group_of[key]])) for key, r in data.rate_of.items() if r == rate}  # type: ignore[index]
        by_rate[f"{rate:.2f}"] = len(pairs & got) / len(pairs) if pairs else None
    return {
        "posts": len(data.posts),
        "talking_points": len(truth),
        "groups_found": len(predicted),
        "threshold": threshold,
        "pairs": len(want),
        "precision": round(len(right) / len(got), 4) if got else 1.0,
        "recall": round(len(right) / len(want), 4) if want else 1.0,
        "recall_by_edit_rate": by_rate,
        "ingest_s": round(ingest_s, 2),
        "grouping_s": round(group_s, 2),
    }


def real_groups(path: Path, since: datetime | None, until: datetime | None, top: int) -> dict[str, object]:
    """Store a real stream and return the largest groups of a window, for reading."""
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "real.db") as store:
        started = time.perf_counter()
        source = path
        if path.suffix == ".gz":  # feedwatch ingest reads .gz itself; this keeps the script independent of it
            source = Path(tmp) / path.stem
            with gzip.open(path, "rb") as src, source.open("wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
        store.ingest(parse_path(str(source), fmt="jsonl"), str(path))
        ingest_s = time.perf_counter() - started
        passages = store.db.execute("SELECT count(*) FROM echo_passages").fetchone()[0]
        started = time.perf_counter()
        found = echoes.echoes_of_window(store.db.conn, since, until, min_channels=2)
        group_s = time.perf_counter() - started
    return {
        "posts_indexed_passages": passages,
        "ingest_s": round(ingest_s, 1),
        "grouping_s": round(group_s, 2),
        "groups": len(found),
        "largest": [g.to_json() for g in found[:top]],
    }


def _day(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=echoes.THRESHOLD)
    parser.add_argument("--real", type=Path, help="a Post JSON Lines stream (.jsonl or .jsonl.gz)")
    parser.add_argument("--since", help="window start for the real stream (a date)")
    parser.add_argument("--until", help="window end for the real stream (a date)")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {"synthetic": score_synthetic(args.seed, args.threshold)}
    if args.real:
        result["real"] = real_groups(args.real, _day(args.since), _day(args.until), args.top)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    syn = result["synthetic"]
    assert isinstance(syn, dict)
    print(
        f"Synthetic (seed {args.seed}): {syn['posts']} posts, {syn['talking_points']} talking points "
        f"copied into 1-6 other channels, {syn['pairs']} labelled pairs"
    )
    print(f"  threshold {syn['threshold']}: precision {syn['precision']:.3f}, recall {syn['recall']:.3f}")
    for rate, recall in syn["recall_by_edit_rate"].items():
        print(f"  copies edited at rate {rate}: {recall:.3f} found with their origin")
    if "real" in result:
        real = result["real"]
        assert isinstance(real, dict)
        print(
            f"Real ({args.real.name}): {real['posts_indexed_passages']} passages indexed, "
            f"{real['groups']} groups in the window, grouped in {real['grouping_s']} s"
        )
        for group in real["largest"]:
            origin = group["origin"]
            text = " ".join(origin["text"].split())[:110]
            print(
                f"  {group['channels']:>2} channels, {group['forwards']} forwards, {group['verbatim']} verbatim, "
                f"{group['edited']} edited; from {origin['channel']} {origin['date'][:16]}: {text}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
