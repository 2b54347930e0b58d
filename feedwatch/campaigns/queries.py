"""Reading what the detector stored: alerts (families merged), spellings, daily counts."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from feedwatch.campaigns.identity import display_spelling, tag_identity
from feedwatch.campaigns.model import DAY, Alert
from feedwatch.campaigns.schema import connection, has_tables

FAMILY_LINK_USES = 2  # posts two young tags must share to be one family
FAMILY_SHARE = 0.5  # ... and at least this share of the young uses of the less used of the two
FAMILY_SPAN_DAYS = 7.0  # alerts of one tier on family members this close are one alert


def _time(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def spellings(db: Any, tag_keys: list[str]) -> dict[str, dict[str, int]]:
    """Return {tag identity: {raw spelling: uses}} for the given identities."""
    conn = connection(db)
    found: dict[str, dict[str, int]] = {key: {} for key in tag_keys}
    if not has_tables(conn):
        return found
    for chunk in _chunks(tag_keys):
        marks = ",".join("?" * len(chunk))
        for tag, raw, uses in conn.execute(
            f"SELECT tag, spelling, uses FROM campaign_spellings WHERE tag IN ({marks}) ORDER BY rowid", chunk
        ):
            found[tag][raw] = uses
    return found


def tag_display(db: Any, tag: str) -> str:
    """Return the spelling to show for a tag (identity or any raw spelling): the most used one."""
    key = tag_identity(tag)
    return display_spelling(spellings(db, [key])[key]) or tag.lstrip("#")


def tag_daily_counts(db: Any, tag_keys: list[str], since: date | None = None) -> dict[str, list[tuple[date, int, int]]]:
    """Return {tag identity: [(UTC day, posts, forwards), ...]} oldest first, from `since` (a date or time) on.

    `tag_keys` may be identities or raw spellings; days without a use are left out.
    """
    if isinstance(since, datetime):
        since = since.astimezone(UTC).date()
    conn = connection(db)
    keys = [tag_identity(k) for k in tag_keys]
    out: dict[str, list[tuple[date, int, int]]] = {key: [] for key in keys}
    if not has_tables(conn):
        return out
    first = since.isoformat() if since else ""
    for chunk in _chunks(keys):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT tag, day, posts, forwards FROM campaign_tag_days WHERE tag IN ({marks}) AND day >= ? ORDER BY day",
            [*chunk, first],
        )
        for tag, day, posts, forwards in rows:
            out[tag].append((date.fromisoformat(day), posts, forwards))
    return out


def families(db: Any, tag_keys: list[str]) -> dict[str, str]:
    """Return {tag identity: family root} over the tags' links (tags used together while young).

    Two tags are one family when they share at least FAMILY_LINK_USES posts while young and those
    posts are at least FAMILY_SHARE of the less used tag's young uses (strong co-occurrence: the
    translations of one campaign, not two place tags that met in a few posts).
    """
    conn = connection(db)
    parent: dict[str, str] = {key: key for key in tag_keys}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for chunk in _chunks(tag_keys):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT l.a, l.b FROM campaign_links l LEFT JOIN campaign_links x ON x.a = l.a AND x.b = l.a"
            f" LEFT JOIN campaign_links y ON y.a = l.b AND y.b = l.b"
            f" WHERE l.a != l.b AND l.uses >= ? AND l.uses >= ? * min(coalesce(x.uses, 0), coalesce(y.uses, 0))"
            f" AND (l.a IN ({marks}) OR l.b IN ({marks}))",
            [FAMILY_LINK_USES, FAMILY_SHARE, *chunk, *chunk],
        )
        for a, b in rows:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {key: root(key) for key in parent}


def alerts(db: Any, since: datetime | None = None, tiers: tuple[str, ...] = ("T1", "T2", "T3")) -> list[Alert]:
    """Return the alerts raised (alerted at or after `since`), oldest first, family members merged."""
    conn = connection(db)
    if not has_tables(conn):
        return []  # nothing detected yet (and a read-only reader must not create tables)
    start = since.timestamp() if since else float("-inf")
    rows = conn.execute(
        "SELECT id, tag, tier, episode_start, alerted_at, channels, posts, forwards, score, evidence"
        " FROM campaign_alerts WHERE alerted_at >= ? ORDER BY alerted_at, id",
        (start,),
    ).fetchall()
    rows = [r for r in rows if r[2] in tiers]
    keys = sorted({r[1] for r in rows})
    family = families(conn, keys)
    members: dict[str, list[str]] = defaultdict(list)
    for key, root in family.items():
        members[root].append(key)
    spelled = spellings(conn, sorted(family))
    merged: list[Alert] = []
    open_: dict[tuple[str, str], int] = {}  # (family root, tier) -> index in merged
    for row in rows:
        alert = _alert(row, family, members, spelled)
        slot = (family.get(row[1], row[1]), row[2])
        index = open_.get(slot)
        close = index is not None and row[3] - merged[index].first_seen.timestamp() < FAMILY_SPAN_DAYS * DAY
        if index is not None and close and row[2] != "T3":
            merged[index] = _absorb(merged[index], alert)
            continue
        open_[slot] = len(merged)
        merged.append(alert)
    return merged


def _alert(
    row: tuple[Any, ...], family: dict[str, str], members: dict[str, list[str]], spelled: dict[str, dict[str, int]]
) -> Alert:
    id_, key, tier, start, at, channels, posts, forwards, score, evidence = row
    own = spelled.get(key, {})
    tags = list(own)
    for other in sorted(members.get(family.get(key, key), [])):
        tags += [raw for raw in spelled.get(other, {}) if raw not in tags]
    return Alert(
        id=id_,
        tag=display_spelling(own) or key,
        tag_key=key,
        tags=tuple(tags),
        tier=tier,
        first_seen=_time(start),
        alerted_at=_time(at),
        channels=tuple(json.loads(channels)),
        posts=posts,
        forwards=forwards,
        score=score,
        evidence=json.loads(evidence),
    )


def _absorb(first: Alert, other: Alert) -> Alert:
    """Return `first` with a family member's alert of the same tier folded into its evidence."""
    evidence = dict(first.evidence)
    evidence.setdefault("family_alerts", []).append(
        {"tag": other.tag, "alerted_at": other.alerted_at.isoformat(), "score": other.score}
    )
    channels = tuple(dict.fromkeys(first.channels + other.channels))
    tags = tuple(dict.fromkeys(first.tags + other.tags))
    return Alert(
        id=first.id,
        tag=first.tag,
        tag_key=first.tag_key,
        tags=tags,
        tier=first.tier,
        first_seen=first.first_seen,
        alerted_at=first.alerted_at,
        channels=channels,
        posts=first.posts,
        forwards=first.forwards,
        score=first.score,
        evidence=evidence,
    )


def new_episodes(db: Any, since: datetime, limit: int = 20) -> list[tuple[str, datetime]]:
    """Return (tag identity, episode start) of the episodes opened since `since`, newest first."""
    conn = connection(db)
    if not has_tables(conn):
        return []
    rows = conn.execute(
        "SELECT tag, episode_start FROM campaign_tags WHERE episode_start >= ? ORDER BY episode_start DESC LIMIT ?",
        (since.timestamp(), limit),
    )
    return [(tag, _time(start)) for tag, start in rows]


def _chunks(items: list[str], size: int = 400) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
