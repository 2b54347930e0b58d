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


# -- planted pushes: the detector's T1 on the real stream's own forwarding structure ------------------------------

PLANTS = 12  # pushes planted, evenly over the stream's last two years
PLANT_SPAN_DAYS = 730.0
LEARN_DAYS = 60.0  # forwarding looked at before each planted push


def _networks_before(posts: list[Any], t: float) -> list[tuple[str, list[str]]]:
    """Return (origin, the channels that forwarded 3+ of its posts) in the 60 days before t, biggest first."""
    counts: dict[str, Counter[str]] = {}
    for p in posts:
        when = p.date.timestamp() if p.date else None
        if when is None or not t - LEARN_DAYS * DAY <= when < t or not p.forwarded_from or not p.channel:
            continue
        origin = p.forwarded_from.channel
        if origin and origin != p.channel:
            counts.setdefault(origin, Counter())[p.channel] += 1
    found = [(o, [ch for ch, n in c.most_common() if n >= 3]) for o, c in counts.items()]
    return sorted((x for x in found if len(x[1]) >= 3), key=lambda x: (-len(x[1]), x[0]))


def plant(posts: list[Any], seed: int = 1) -> tuple[list[Any], list[dict[str, Any]]]:
    """Return the stream with PLANTS network pushes added, and what was planted.

    Each push copies what the real data shows a network push to be: at time T an origin's post carries a tag
    never seen before, and 3-6 of the channels that forwarded that origin most in the 60 days before forward it
    over the next 0.2-6 hours. The origin and its forwarders are read from the stream, not chosen by hand.
    """
    import random
    from dataclasses import replace

    from feedwatch.models import ForwardedFrom

    rng = random.Random(seed)
    dated = [p.date.timestamp() for p in posts if p.date]
    end = max(dated)
    planted: list[dict[str, Any]] = []
    extra = []
    for k in range(PLANTS):
        t = end - PLANT_SPAN_DAYS * DAY + (k + 0.5) * PLANT_SPAN_DAYS * DAY / PLANTS
        networks = _networks_before(posts, t)
        if not networks:
            continue
        origin, forwarders = networks[rng.randrange(min(3, len(networks)))]
        forwarders = forwarders[: rng.randint(3, 6)]
        tag = "Planted" + "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(4))
        mid = 10_000_000 + k
        fwd = ForwardedFrom(origin, origin, mid, f"https://t.me/{origin}/{mid}")
        template = posts[0]
        for i, ch in enumerate(forwarders):
            when = datetime.fromtimestamp(t + rng.uniform(0.2, 6.0) * HOUR, UTC)
            extra.append(
                replace(
                    template,
                    channel=ch,
                    channel_id=None,
                    channel_title=None,
                    message_id=mid + 1000 * (i + 1),
                    url=f"https://t.me/{ch}/{mid + 1000 * (i + 1)}",
                    date=when,
                    text=f"#{tag}",
                    hashtags=(tag,),
                    forwarded_from=fwd,
                )
            )
        planted.append({"tag": tag, "start": t, "origin": origin, "forwarders": forwarders})
    merged = sorted(posts + extra, key=lambda p: p.date.timestamp() if p.date else 0.0)
    return merged, planted


def evaluate_planted(stream: Path, workdir: Path) -> dict[str, Any]:
    """Plant network pushes into the real stream, run the detector, and report which fired T1 and how fast."""
    from feedwatch.campaigns import alerts, run

    posts, planted = plant(list(read_posts(stream)))
    db = workdir / "planted.db"
    db.unlink(missing_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    run(conn, enumerate(posts, 1))
    found = [a.to_json() for a in alerts(conn) if a.tier in DETECTING]
    conn.close()
    rows = []
    for p in planted:
        hits = [a for a in found if p["tag"].casefold() in {t.casefold() for t in a["tags"]}]
        first = min(hits, key=lambda a: a["alerted_at"]) if hits else None
        delay = (datetime.fromisoformat(first["alerted_at"]).timestamp() - p["start"]) / HOUR if first else None
        rows.append({**p, "tier": first["tier"] if first else None, "delay_h": delay})
    delays = [r["delay_h"] for r in rows if r["tier"] == "T1"]
    return {
        "rows": rows,
        "t1": len(delays),
        "detected": sum(1 for r in rows if r["tier"]),
        "median_t1_delay_h": statistics.median(delays) if delays else float("nan"),
    }
