"""Campaign detection judged on a real, labelled stream (Post JSON Lines, optionally gzipped).

The stream is fed to the detector directly, in stream order (no store: the
real files lack the derived `fingerprint` and `source`, which the detector does
not read). Every T1/T2 alert is looked up in a labels file kept in the
repository (one row per alert read by hand: campaign / news event / rubric /
evergreen / other, with a reason); recall is scored on a file of documented
campaigns (a campaign counts when any of its spellings is alerted within
7 days of its first use).
"""

from __future__ import annotations

import csv
import gzip
import json
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HOUR = 3600.0
DAY = 86400.0
DETECTING = ("T1", "T2")
RECALL_DAYS = 7.0


def read_posts(path: Path) -> Iterator[Any]:
    """Yield the Posts of a JSON Lines file (gzip when its name ends in .gz)."""
    from feedwatch.models import Post

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield Post.from_json(json.loads(line))


def detect(path: Path, db: Path) -> tuple[list[dict[str, Any]], int, float, tuple[float, float]]:
    """Run the detector over the stream; return (alerts as JSON, posts, seconds, stream span)."""
    from feedwatch.campaigns import alerts, run

    db.unlink(missing_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    posts = list(enumerate(read_posts(path), 1))
    dated = [p.date.timestamp() for _, p in posts if p.date]
    started = time.perf_counter()
    run(conn, posts)
    seconds = time.perf_counter() - started
    found = [a.to_json() for a in alerts(conn)]
    conn.close()
    return found, len(posts), seconds, (min(dated), max(dated))


def _day(iso: str) -> str:
    return iso[:10]


def load_labels(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """Return {(tag casefolded, first-use day): label row}."""
    with path.open(encoding="utf-8") as f:
        return {(row["tag"].casefold(), _day(row["first_seen"])): row for row in csv.DictReader(f)}


def load_campaigns(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["names"] = {s.casefold() for s in row["spellings"].split("|")} | {row["campaign"].casefold()}
        row["start"] = datetime.fromisoformat(row["first_use"]).replace(tzinfo=UTC).timestamp()
    return rows


def score(
    found: list[dict[str, Any]],
    labels: dict[tuple[str, str], dict[str, str]],
    campaigns: list[dict[str, Any]],
    span: tuple[float, float],
) -> dict[str, Any]:
    """Return precision (labelled alerts), recall within 7 days, delays, alerts per week, unlabelled alerts."""
    detecting = [a for a in found if a["tier"] in DETECTING]
    kinds: Counter[str] = Counter()
    unlabelled = []
    for a in detecting:
        row = labels.get((a["tag"].casefold(), _day(a["first_seen"])))
        if row is None:
            unlabelled.append(a)
            kinds["unlabelled"] += 1
        else:
            kinds[row["label"]] += 1
    rows = []
    for c in campaigns:
        hits = [
            a
            for a in detecting
            if {t.casefold() for t in a["tags"]} & c["names"]
            and c["start"] - DAY
            <= datetime.fromisoformat(a["alerted_at"]).timestamp()
            <= c["start"] + RECALL_DAYS * DAY
        ]
        first = min(hits, key=lambda a: a["alerted_at"]) if hits else None
        delay = (datetime.fromisoformat(first["alerted_at"]).timestamp() - c["start"]) / HOUR if first else None
        rows.append(
            {
                "campaign": c["campaign"],
                "kind": c["kind"],
                "first_use": c["first_use"],
                "alert": f"{first['tier']} #{first['tag']}" if first else "missed",
                "delay_h": delay,
            }
        )
    delays = [r["delay_h"] for r in rows if r["delay_h"] is not None]
    weeks = max((span[1] - span[0]) / (7 * DAY), 1e-9)
    return {
        "alerts": len(detecting),
        "labels": dict(kinds),
        "precision": kinds["campaign"] / len(detecting) if detecting else float("nan"),
        "recall": len(delays) / len(rows) if rows else float("nan"),
        "median_delay_h": statistics.median(delays) if delays else float("nan"),
        "alerts_per_week": len(detecting) / weeks,
        "t3_per_week": sum(a["tier"] == "T3" for a in found) / weeks,
        "campaigns": rows,
        "unlabelled": unlabelled,
    }


def unlabelled_rows(result: dict[str, Any]) -> list[str]:
    """Return CSV lines (label left empty) for the alerts the labels file lacks."""
    out = []
    for a in result["unlabelled"]:
        out.append(
            ",".join(
                [
                    "farright_ecosystem",
                    a["tier"],
                    a["tag"],
                    a["first_seen"][:16],
                    a["alerted_at"][:16],
                    str(len(a["channels"])),
                    str(a["posts"]),
                    str(a["forwards"]),
                    "",
                    "",
                ]
            )
        )
    return out


def evaluate(stream: Path, labels: Path, campaigns: Path, workdir: Path) -> dict[str, Any]:
    found, posts, seconds, span = detect(stream, workdir / "real.db")
    result = score(found, load_labels(labels), load_campaigns(campaigns), span)
    result.update(
        posts=posts,
        seconds=seconds,
        found=found,
        span=(datetime.fromtimestamp(span[0], UTC).date(), datetime.fromtimestamp(span[1], UTC).date()),
    )
    return result
