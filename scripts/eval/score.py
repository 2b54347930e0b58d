"""Scoring alerts (the JSON of `feedwatch campaigns --json`) against a stream's labels.

Independent of feedwatch: a tag is matched by its lower-cased spelling, and an
alert names a campaign when any of its `tags` (spellings and family members)
is one of the campaign's tags. T1 and T2 alerts count as detections; T3 alerts
(bursts of known tags) are reported apart.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from typing import Any

DETECTING = ("T1", "T2")
HOUR = 3600.0


def _t(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def score(labels: dict[str, Any], alerts: list[dict[str, Any]], days_scored: float) -> dict[str, Any]:
    """Return recall per kind, precision over alerted tags, false positives by kind, delays, alarms per day."""
    campaigns = [c for c in labels["campaigns"] if c["scored"]]
    owner: dict[str, int] = {}
    for i, c in enumerate(labels["campaigns"]):
        for tag in c["tags"]:
            owner[tag] = i
    first_alert: dict[int, dict[str, Any]] = {}
    alerted_tags: dict[str, str] = {}  # alerted tag -> "campaign" or the negative kind
    tiers: Counter[str] = Counter(a["tier"] for a in alerts)
    for a in alerts:
        if a["tier"] not in DETECTING:
            continue
        names = [t.lower() for t in a["tags"]] or [a["tag"].lower()]
        hits = {owner[n] for n in names if n in owner}
        alerted_tags[a["tag"].lower()] = "campaign" if hits else labels["negatives"].get(a["tag"].lower(), "unknown")
        for i in hits:
            if i not in first_alert or _t(a["alerted_at"]) < _t(first_alert[i]["alerted_at"]):
                first_alert[i] = a
    index = {id(c): i for i, c in enumerate(labels["campaigns"])}
    kinds = sorted({c["kind"] for c in campaigns})
    rows = {}
    for kind in [*kinds, "all"]:
        group = [c for c in campaigns if kind in (c["kind"], "all")]
        found = [first_alert[index[id(c)]] for c in group if index[id(c)] in first_alert]
        delays = sorted((_t(a["alerted_at"]) - c["start"]) / HOUR
                        for c in group for a in [first_alert.get(index[id(c)])] if a)
        rows[kind] = {
            "campaigns": len(group), "detected": len(found),
            "recall": len(found) / len(group) if group else float("nan"),
            "by_T1": sum(1 for a in found if a["tier"] == "T1"),
            "median_delay_h": statistics.median(delays) if delays else float("nan"),
            "p90_delay_h": delays[min(len(delays) - 1, int(0.9 * len(delays)))] if delays else float("nan"),
        }
    true = sum(1 for v in alerted_tags.values() if v == "campaign")
    false = Counter(v for v in alerted_tags.values() if v != "campaign")
    return {
        "rows": rows,
        "alerted_tags": len(alerted_tags),
        "precision": true / len(alerted_tags) if alerted_tags else float("nan"),
        "false_positives": dict(false),
        "false_alarms_per_day": sum(false.values()) / days_scored if days_scored else float("nan"),
        "alerts_by_tier": dict(tiers),
    }
