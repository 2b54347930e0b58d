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
NETWORK_KINDS = ("coordinated", "forwarded", "cascade")  # pushes by a fixed network of channels
HOUR = 3600.0


def _t(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _match(labels: dict[str, Any], alerts: list[dict[str, Any]]) -> tuple[dict[int, dict[str, Any]], dict[str, str]]:
    """Return {campaign index: its first detecting alert} and {alerted tag: "campaign" or its negative kind}."""
    owner = {tag: i for i, c in enumerate(labels["campaigns"]) for tag in c["tags"]}
    first_alert: dict[int, dict[str, Any]] = {}
    alerted_tags: dict[str, str] = {}
    for a in alerts:
        if a["tier"] not in DETECTING:
            continue
        names = [t.lower() for t in a["tags"]] or [a["tag"].lower()]
        hits = {owner[n] for n in names if n in owner}
        alerted_tags[a["tag"].lower()] = "campaign" if hits else labels["negatives"].get(a["tag"].lower(), "unknown")
        for i in hits:
            if i not in first_alert or _t(a["alerted_at"]) < _t(first_alert[i]["alerted_at"]):
                first_alert[i] = a
    return first_alert, alerted_tags


def _row(group: list[tuple[int, dict[str, Any]]], first_alert: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Return recall and delays of one group of (index, campaign)."""
    found = [(c, first_alert[i]) for i, c in group if i in first_alert]
    delays = sorted((_t(a["alerted_at"]) - c["start"]) / HOUR for c, a in found)
    return {
        "campaigns": len(group),
        "detected": len(found),
        "recall": len(found) / len(group) if group else float("nan"),
        "by_T1": sum(1 for _, a in found if a["tier"] == "T1"),
        "median_delay_h": statistics.median(delays) if delays else float("nan"),
        "p90_delay_h": delays[min(len(delays) - 1, int(0.9 * len(delays)))] if delays else float("nan"),
    }


def score(labels: dict[str, Any], alerts: list[dict[str, Any]], days_scored: float) -> dict[str, Any]:
    """Return recall per kind, precision over alerted tags, false positives by kind, delays, alarms per day."""
    first_alert, alerted_tags = _match(labels, alerts)
    scored = [(i, c) for i, c in enumerate(labels["campaigns"]) if c["scored"]]
    kinds = sorted({c["kind"] for _, c in scored})
    rows = {
        kind: _row([(i, c) for i, c in scored if kind in (c["kind"], "all")], first_alert) for kind in [*kinds, "all"]
    }
    network = [(i, c) for i, c in scored if c["kind"] in NETWORK_KINDS]
    rows["network, first launch"] = _row([(i, c) for i, c in network if c.get("launch", 1) <= 1], first_alert)
    rows["network, repeat launch"] = _row([(i, c) for i, c in network if c.get("launch", 1) > 1], first_alert)
    true = sum(1 for v in alerted_tags.values() if v == "campaign")
    false = Counter(v for v in alerted_tags.values() if v != "campaign")
    return {
        "rows": rows,
        "alerted_tags": len(alerted_tags),
        "precision": true / len(alerted_tags) if alerted_tags else float("nan"),
        "false_positives": dict(false),
        "false_alarms_per_day": sum(false.values()) / days_scored if days_scored else float("nan"),
        "alerts_by_tier": dict(Counter(a["tier"] for a in alerts)),
    }
