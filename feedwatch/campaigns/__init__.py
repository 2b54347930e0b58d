"""Hashtag campaign detection: new campaigns early, once, with evidence.

See CAMPAIGNS.md for what a campaign is. The pieces:

    identity   which spellings are one tag (NFKC, case folding, confusable skeleton)
    stream     a Post's place in the stream: time, channel, forward or not (and of whom)
    actors     channels learned from every post: first post, satellites and twins, networks, coining habits
    stored     over the store: IngestHook (Store.ingest's on_new), rebuild_stored, and the ordered
               stream many writers feed (adopt_stream, catch_up)
    detector   the streaming detector (episodes, tiers, bounded state), fed (post key, Post)
    tiers      T1 coordinated push, T2 new campaign, T3 known-tag burst; the bounded score and the sentences
    queries    alerts (families merged), spellings, daily counts for charts
    schema     the detector's own tables in the store's SQLite file

The detector owns its tables and is fed (post key, Post) pairs, so it runs as
posts are stored (`on_new_posts`, the store's ingest callback) or over a whole
stored history in one ordered scan (`rebuild`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from feedwatch.campaigns.detector import Detector, run
from feedwatch.campaigns.identity import tag_identity
from feedwatch.campaigns.model import DEFAULTS, Alert, Settings
from feedwatch.campaigns.queries import alerts, families, new_episodes, spellings, tag_daily_counts, tag_display
from feedwatch.campaigns.schema import clear, connection, ensure_schema, transaction
from feedwatch.campaigns.stored import IngestHook, adopt_stream, catch_up, rebuild_stored, stored_in_stream_order
from feedwatch.models import Post

__all__ = [
    "DEFAULTS",
    "Alert",
    "Detector",
    "IngestHook",
    "Settings",
    "adopt_stream",
    "alerts",
    "catch_up",
    "clear",
    "ensure_schema",
    "families",
    "new_episodes",
    "rebuild",
    "rebuild_stored",
    "run",
    "spellings",
    "stored_in_stream_order",
    "tag_daily_counts",
    "tag_display",
    "tag_identity",
]


def rebuild(db: Any, items: Iterable[tuple[Any, Post]], settings: Settings = DEFAULTS) -> int:
    """Forget the detector's state and run it again over `items` (in stream order); return alerts raised."""
    conn = connection(db)
    with transaction(conn):
        clear(conn)
    return run(conn, items, settings=settings)
