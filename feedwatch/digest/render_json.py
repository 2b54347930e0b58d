"""The JSON digest: what the webhook posts and what other tools read.

Shape (every key always present):
    {"format": "feedwatch-digest", "version": 1, "generated_at", "since", "until", "seen", "posts",
     "new_campaigns": [alert], "spiking": [alert], "spreading": [spread], "top_tags": [tag], "channels": [channel],
     "health": [source], "chart": {...} | null, "notes": [str]}
with alert = {"key", "tier", "title", "tag", "tags", "first_seen", "alerted_at", "channels", "posts",
"forwards", "score", "score_basis", "statistic", "summary": [sentence], "evidence": {name: value},
"samples": [link]}, link = {"label", "url", "where", "channel", "date", "forwarded"} and
spread = {"text", "origin": link, "channels", "forwards", "verbatim", "edited",
"echoes": [link + {"how", "similarity", "lag_hours"}]}.
"""

from __future__ import annotations

import json
from typing import Any

from feedwatch.digest.model import AlertEntry, Digest, PostLink
from feedwatch.models import iso

FORMAT, VERSION = "feedwatch-digest", 1


def _link(link: PostLink) -> dict[str, Any]:
    return {
        "label": link.label,
        "url": link.url,
        "where": link.where,
        "channel": link.channel,
        "date": iso(link.date),
        "forwarded": link.forwarded,
    }


def _alert(alert: AlertEntry) -> dict[str, Any]:
    return {
        "key": alert.key,
        "tier": alert.tier,
        "title": alert.title,
        "tag": alert.tag,
        "tags": list(alert.tags),
        "first_seen": iso(alert.first_seen),
        "alerted_at": iso(alert.alerted_at),
        "channels": list(alert.channels),
        "posts": alert.posts,
        "forwards": alert.forwards,
        "score": alert.score,
        "score_basis": alert.score_basis,
        "statistic": alert.statistic,
        "summary": list(alert.summary),
        "evidence": {e.name: e.value for e in alert.evidence},
        "samples": [_link(s) for s in alert.samples],
    }


def digest_json(digest: Digest) -> dict[str, Any]:
    """Return the JSON object of `digest`."""
    chart = digest.chart
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": iso(digest.generated_at),
        "since": iso(digest.since),
        "until": iso(digest.until),
        "seen": digest.seen,
        "posts": digest.posts,
        "new_campaigns": [_alert(a) for a in digest.new_campaigns],
        "spiking": [_alert(a) for a in digest.spiking],
        "spreading": [
            {
                "text": x.text,
                "origin": _link(x.origin),
                "channels": x.channels,
                "forwards": x.forwards,
                "verbatim": x.verbatim,
                "edited": x.edited,
                "echoes": [
                    {
                        **_link(e.post),
                        "how": e.how,
                        "similarity": round(e.similarity, 3),
                        "lag_hours": None if e.lag_hours is None else round(e.lag_hours, 2),
                    }
                    for e in x.echoes
                ],
            }
            for x in digest.spreading
        ],
        "top_tags": [
            {
                "key": t.key,
                "tag": t.tag,
                "spellings": list(t.spellings),
                "posts": t.posts,
                "forwards": t.forwards,
                "channels": t.channels,
            }
            for t in digest.top_tags
        ],
        "channels": [
            {"channel": c.channel, "posts": c.posts, "forwards": c.forwards, "first": iso(c.first), "last": iso(c.last)}
            for c in digest.channels
        ],
        "health": [
            {
                "source": h.source,
                "status": h.status,
                "runs": h.runs,
                "failed_runs": h.failed_runs,
                "posts": h.posts,
                "errors": dict(h.errors),
                "last_error": h.last_error,
                "last_run": iso(h.last_run),
            }
            for h in digest.health
        ],
        "chart": None
        if chart is None
        else {
            "start": iso(chart.start),
            "bucket_days": chart.days,
            "buckets": chart.buckets,
            "series": {s.tag: list(s.counts) for s in chart.series},
        },
        "notes": list(digest.notes),
    }


def render_json(digest: Digest) -> str:
    """Return the digest as indented JSON text."""
    return json.dumps(digest_json(digest), ensure_ascii=False, indent=2) + "\n"
