"""Evaluate campaign detection end to end on labelled synthetic streams.

For a stream with campaigns and a null stream without: generate Post JSON
Lines, store them with `feedwatch ingest` into a fresh database (detection
runs as posts are stored), read `feedwatch campaigns --json`, and score it.
Prints one table; `--markdown` prints it as the README's table.

    scripts/eval_campaigns              # 300 channels x 120 days (a few minutes)
    scripts/eval_campaigns --quick      # a small stream
    scripts/eval_campaigns --quick --direct   # ... parsed and detected in-process, without the store (tests)
    scripts/eval_campaigns --real ../shared/realdata/farright_dev/posts_before_2023-07.jsonl.gz
                                        # ... and the real labelled stream (see scripts/eval/real.py)
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import real
from generator import DAY, Config, generate
from score import score

REAL_LABELS = Path(__file__).resolve().parent / "labels_farright_dev.csv"
REAL_TARGETS = {"precision": 0.6, "recall": 0.6, "network_delay_h": 12.0}

TARGETS = {
    "precision": 0.95,
    "recall": 0.95,
    "repeat_delay_h": 1.0,
    "first_delay_h": 48.0,
    "null_alarms_per_day": 0.1,
    "posts_per_s": 20_000,
}


def feedwatch(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "feedwatch", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"feedwatch {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def detect_directly(posts: Path, db: Path) -> list[dict[str, Any]]:
    """Parse the stream and run the detector alone (no store): the quick path for tests."""
    import sqlite3

    from feedwatch.campaigns import alerts, run
    from feedwatch.parse import parse_path

    conn = sqlite3.connect(db, isolation_level=None)
    run(conn, enumerate(parse_path(str(posts)), 1))
    found = [a.to_json() for a in alerts(conn)]
    conn.close()
    return found


def evaluate(config: Config, workdir: Path, direct: bool = False) -> dict[str, Any]:
    """Generate, ingest (timed) and score one stream; return the scores with its size and speed."""
    name = "campaigns" if config.campaigns else "null"
    posts = workdir / f"{name}.jsonl"
    db = workdir / f"{name}.db"
    labels = generate(config, posts)
    started = time.perf_counter()
    if direct:
        alerts = detect_directly(posts, db)
        seconds = time.perf_counter() - started
    else:
        feedwatch("ingest", str(posts), "--db", str(db))
        seconds = time.perf_counter() - started
        alerts = json.loads(feedwatch("campaigns", "--db", str(db), "--json", "--since", "all"))
    result = score(labels, alerts, config.days - config.warmup_days)
    result.update(posts=labels["posts"], seconds=seconds, posts_per_s=labels["posts"] / seconds)
    return result


def _f(value: float, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table(config: Config, found: dict[str, Any], null: dict[str, Any]) -> list[str]:
    """Return the results as Markdown table lines."""
    rows = found["rows"]
    lines = [
        f"Stream: {config.channels} channels x {config.days} days (seed {config.seed}), {found['posts']:,} posts; "
        f"null stream {null['posts']:,} posts; scored after the {config.warmup_days}-day warm-up.",
        "",
        "| campaign kind | injected | detected | recall | by T1 | median delay (h) | p90 delay (h) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in rows.items():
        lines.append(
            f"| {kind} | {r['campaigns']} | {r['detected']} | {_f(r['recall'])} | {r['by_T1']} | "
            f"{_f(r['median_delay_h'], 1)} | {_f(r['p90_delay_h'], 1)} |"
        )
    fps = ", ".join(f"{k} {v}" for k, v in sorted(found["false_positives"].items())) or "none"
    null_fps = ", ".join(f"{k} {v}" for k, v in sorted(null["false_positives"].items())) or "none"
    checks = [
        ("precision over alerted tags (T1+T2)", found["precision"], TARGETS["precision"], True),
        ("recall over all injected campaigns", rows["all"]["recall"], TARGETS["recall"], True),
        (
            "median delay, a network's repeat launch (h)",
            rows["network, repeat launch"]["median_delay_h"],
            TARGETS["repeat_delay_h"],
            False,
        ),
        (
            "median delay, a network's first launch (h)",
            rows["network, first launch"]["median_delay_h"],
            TARGETS["first_delay_h"],
            False,
        ),
        ("false alarms per day, null stream", null["false_alarms_per_day"], TARGETS["null_alarms_per_day"], False),
        (
            "posts/s through ingest + detection",
            min(found["posts_per_s"], null["posts_per_s"]),
            TARGETS["posts_per_s"],
            True,
        ),
    ]
    lines += ["", "| measure | value | target | met |", "|---|---:|---:|---|"]
    for label, value, target, higher in checks:
        met = not math.isnan(value) and (value >= target if higher else value <= target)
        lines.append(
            f"| {label} | {_f(value, 3) if value < 100 else f'{value:,.0f}'} | "
            f"{'>=' if higher else '<='} {target:,} | {'yes' if met else 'NO'} |"
        )
    lines += [
        "",
        f"False positives by negative kind: {fps} (of {found['alerted_tags']} alerted tags); "
        f"null stream: {null_fps}. T3 known-tag bursts (not counted above): "
        f"{found['alerts_by_tier'].get('T3', 0)} on the campaign stream, {null['alerts_by_tier'].get('T3', 0)} on "
        f"the null stream. Ingest + detection: {found['seconds']:.1f} s and {null['seconds']:.1f} s.",
    ]
    return lines


def real_table(result: dict[str, Any]) -> list[str]:
    """Return the real stream's results as Markdown table lines."""
    labels = ", ".join(f"{k} {v}" for k, v in sorted(result["labels"].items())) or "none"
    lines = [
        f"Real stream: {result['posts']:,} posts, {result['span'][0]} to {result['span'][1]}; detector fed directly "
        f"({result['posts'] / result['seconds']:,.0f} posts/s). T1/T2 alerts: {result['alerts']} ({labels}); "
        f"{result['alerts_per_week']:.2f} a week; T3 {result['t3_per_week']:.2f} a week.",
        "",
        "| documented campaign | kind | first use | first T1/T2 alert within 7 days | delay (h) |",
        "|---|---|---|---|---:|",
    ]
    for r in result["campaigns"]:
        lines.append(f"| {r['campaign']} | {r['kind']} | {r['first_use']} | {r['alert']} | {_f(r['delay_h'], 1)} |")
    network = [
        r["delay_h"] for r in result["campaigns"] if r["kind"].startswith("network") and r["delay_h"] is not None
    ]
    checks = [
        (
            "precision among T1/T2 alerts (labelled by reading them)",
            result["precision"],
            REAL_TARGETS["precision"],
            True,
        ),
        ("recall of documented campaigns within 7 days", result["recall"], REAL_TARGETS["recall"], True),
        (
            "median delay, network pushes (h)",
            statistics.median(network) if network else math.nan,
            REAL_TARGETS["network_delay_h"],
            False,
        ),
    ]
    lines += ["", "| measure | value | target | met |", "|---|---:|---:|---|"]
    for label, value, target, higher in checks:
        met = not math.isnan(value) and (value >= target if higher else value <= target)
        lines.append(f"| {label} | {_f(value, 2)} | {'>=' if higher else '<='} {target} | {'yes' if met else 'NO'} |")
    if result["unlabelled"]:
        lines += ["", f"{len(result['unlabelled'])} alert(s) not in {REAL_LABELS.name} (label them):"]
        lines += real.unlabelled_rows(result)
    return lines


def planted_table(result: dict[str, Any]) -> list[str]:
    """Return the planted pushes' results as Markdown lines."""
    lines = [
        "",
        f"Network pushes planted on the real stream's own forwarding structure: {len(result['rows'])}; "
        f"T1 {result['t1']}, any T1/T2 {result['detected']}; median T1 delay {_f(result['median_t1_delay_h'], 1)} h.",
        "",
        "| planted | origin | forwarders (read from the 60 days before) | alert | delay (h) |",
        "|---|---|---|---|---:|",
    ]
    for r in result["rows"]:
        day = datetime.fromtimestamp(r["start"], UTC).date()
        alert = r["tier"] or "missed"
        lines.append(f"| {day} | {r['origin']} | {', '.join(r['forwarders'])} | {alert} | {_f(r['delay_h'], 1)} |")
    return lines


def run_real(stream: Path, workdir: Path) -> list[str]:
    """Score the detector on a real stream (and on pushes planted into it), or say why it was skipped."""
    campaigns = stream.parent / "known_campaigns_dev.csv"
    if not stream.exists() or not campaigns.exists():
        return [f"Real stream skipped: {stream} (with known_campaigns_dev.csv beside it) is not here."]
    lines = real_table(real.evaluate(stream, REAL_LABELS, campaigns, workdir))
    return lines + planted_table(real.evaluate_planted(stream, workdir))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small stream (100 channels x 80 days, half as busy)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--channels", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--keep", type=Path, help="keep the streams and databases in this folder")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON instead of the table")
    parser.add_argument(
        "--launch-every",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=(14.0, 56.0),
        help="days between a network's launches (default 14 56: every 2-8 weeks)",
    )
    parser.add_argument("--direct", action="store_true", help="parse and detect in-process, without the store")
    parser.add_argument(
        "--quiet-networks",
        action="store_true",
        help="network members never forward their origin outside pushes (links come from co-launches)",
    )
    parser.add_argument("--real", type=Path, help="also score a real labelled stream (Post JSON Lines, .gz allowed)")
    parser.add_argument("--real-only", action="store_true", help="score only the real stream")
    args = parser.parse_args(argv)
    channels, days, rate = (100, 80, 4.0) if args.quick else (300, 120, 8.0)
    config = Config(
        channels=args.channels or channels,
        days=args.days or days,
        seed=args.seed,
        posts_per_day=rate,
        launch_every=tuple(args.launch_every),
        amplify=not args.quiet_networks,
    )
    null_config = Config(**{**vars(config), "campaigns": False, "seed": config.seed + 1000})
    with tempfile.TemporaryDirectory(prefix="feedwatch-eval-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.real:
            print("\n".join(run_real(args.real, workdir)) + "\n", flush=True)
        if args.real_only:
            return 0
        found = evaluate(config, workdir, args.direct)
        null = evaluate(null_config, workdir, args.direct)
    if args.json:
        print(json.dumps({"campaigns": found, "null": null}, indent=1, default=str))
    else:
        print("\n".join(table(config, found, null)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


__all__ = ["DAY", "evaluate", "main", "table"]
