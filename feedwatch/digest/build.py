"""Filling a Digest from the store and the campaign detector.

The window is about what feedwatch *stored* between `since` and `until`
(posts.first_seen): a digest tells the analyst what came in since the last one,
whatever the posts' own dates. Alerts are selected by the detector's stream
time (`alerted_at`); when sending, unsent alerts up to LOOKBACK before the
window are carried too, so an alert detected late (after a backfill) or kept
after a failed delivery is not lost.

A post's actor and forward status are the store's columns, the detector's rule
(feedwatch.store.actor): the channel, else the forwarded origin, else the file;
a forward is a channel's post of another's. A channel row names its actor as
the posts write it (@username, the chat's title, the forwarded name). Chart
days are the post's date, else its first dateline; posts with neither are
counted apart, never placed on a made-up day.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from feedwatch.digest.chart import build_chart
from feedwatch.digest.model import (
    AlertEntry,
    ChannelRow,
    Digest,
    EchoLink,
    Evidence,
    HealthRow,
    PostLink,
    Spread,
    TagRow,
    clean_text,
    safe_url,
    scalar,
)
from feedwatch.digest.sql import Window, ensure_indexes
from feedwatch.models import Post
from feedwatch.parse.text import tag_key
from feedwatch.store.actor import channel_label
from feedwatch.store.backend import Connection, Database
from feedwatch.store.queries import link
from feedwatch.store.rows import chunks, post_from_row

LOOKBACK = timedelta(days=7)
TOP_TAGS, TOP_CHANNELS, MAX_SOURCES, MAX_CAMPAIGNS, MAX_SPIKING = 15, 20, 20, 20, 10
MAX_SPREADING, SPREAD_CHANNELS, SPREAD_ECHOES = 8, 3, 12  # groups shown, channels each reached, echoes listed
SPREAD_SEEDS = 5_000  # the window's latest passages looked at: a first digest after a big backfill stays quick


def posts_count(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM temp.digest_window").fetchone()[0])


def top_tags(conn: Connection, limit: int = TOP_TAGS) -> list[TagRow]:
    """Return the most used hashtags of the window, spellings merged, most used spelling first."""
    rows = conn.execute(
        "SELECT h.id, h.key, count(*) AS n, sum(w.fwd), count(DISTINCT w.actor) FROM temp.digest_window w"
        " JOIN post_hashtags ph ON ph.post = w.id JOIN hashtags h ON h.id = ph.hashtag"
        " GROUP BY h.id ORDER BY n DESC, h.key LIMIT ?",
        [limit],
    ).fetchall()
    spelled = _spellings(conn, {hid: key for hid, key, *_ in rows})
    return [TagRow(key, spelled[hid], n, fwd or 0, actors) for hid, key, n, fwd, actors in rows]


def _spellings(conn: Connection, keys: dict[int, str]) -> dict[int, tuple[str, ...]]:
    """Return each hashtag's raw spellings in the window's posts, most used first."""
    counts: dict[int, Counter[str]] = {hid: Counter() for hid in keys}
    marks = ",".join("?" * len(keys))
    rows: Iterable[Any] = (
        conn.execute(
            "SELECT ph.hashtag, j.value FROM temp.digest_window w JOIN post_hashtags ph ON ph.post = w.id"
            f" JOIN posts p ON p.id = w.id, json_each(p.json, '$.hashtags') j WHERE ph.hashtag IN ({marks})",
            list(keys),
        )
        if keys
        else []
    )
    for hid, raw in rows:
        if tag_key(raw) == keys[hid]:
            counts[hid][raw] += 1
    return {hid: tuple(sorted(c, key=lambda raw: (-c[raw], raw))) or (keys[hid],) for hid, c in counts.items()}


def channel_rows(conn: Connection, limit: int = TOP_CHANNELS) -> list[ChannelRow]:
    rows = conn.execute(
        "SELECT w.actor, min(p.actor_name), count(*) AS n, sum(w.fwd), min(p.date), max(p.date)"
        " FROM temp.digest_window w JOIN posts p ON p.id = w.id GROUP BY w.actor ORDER BY n DESC, w.actor LIMIT ?",
        [limit],
    ).fetchall()
    return [
        ChannelRow(name or actor or "unknown", n, fwd or 0, _when(lo), _when(hi))
        for actor, name, n, fwd, lo, hi in rows
    ]


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def health_rows(conn: Connection, window: Window, limit: int = MAX_SOURCES) -> list[HealthRow]:
    """Return how each source fared in the window's ingest runs: problems first, then the rest."""
    runs: dict[str, list[tuple[str, str, int, str | None]]] = defaultdict(list)
    where = ("finished_at >= ? AND " if window.since else "") + "finished_at <= ?"
    for source, kind, finished, new, errors in conn.execute(
        f"SELECT source, kind, finished_at, new, errors FROM ingest_runs WHERE {where} ORDER BY id", window.args
    ):
        runs[source].append((kind, finished, new or 0, errors))
    rows = [_health(source, items) for source, items in runs.items()]
    rows.sort(key=lambda r: (r.status == "ok", -r.failed_runs, r.source))
    if len(rows) > limit:
        rest = rows[limit - 1 :]
        more = HealthRow(
            f"{len(rest)} more sources",
            sum(r.runs for r in rest),
            sum(r.failed_runs for r in rest),
            sum(r.posts for r in rest),
            _merge_errors(rest),
            None,
            max(_last_runs(rest), default=None),
        )
        rows = [*rows[: limit - 1], more]
    return rows


def _health(source: str, items: list[tuple[str, str, int, str | None]]) -> HealthRow:
    kinds: Counter[str] = Counter()
    last_error = None
    for _kind, _finished, _new, errors in items:
        for kind, message in json.loads(errors or "[]"):
            kinds[kind] += 1
            last_error = message
    failed = sum(1 for kind, *_ in items if kind != "ok")
    return HealthRow(
        source,
        len(items),
        failed,
        sum(new for _, _, new, _ in items),
        tuple(sorted(kinds.items())),
        last_error,
        _when(items[-1][1]),
    )


def _merge_errors(rows: list[HealthRow]) -> tuple[tuple[str, int], ...]:
    total: Counter[str] = Counter()
    for row in rows:
        total.update(dict(row.errors))
    return tuple(sorted(total.items()))


def _last_runs(rows: list[HealthRow]) -> Iterable[datetime]:
    return (r.last_run for r in rows if r.last_run is not None)


def post_link(post: Post) -> PostLink:
    """Return the pointer back to a stored post: its t.me link when known, else its source path#index."""
    where = link(post)
    url = safe_url(post.url) or (
        safe_url(f"https://t.me/{post.channel}/{post.message_id}")
        if post.channel and post.message_id is not None
        else None
    )
    label = clean_text(post.title or post.text, 140) or where
    origin = post.forwarded_from
    channel = f"@{post.channel}" if post.channel else (origin.name if origin else None)
    return PostLink(label, url, where, channel, post.date, forwarded=bool(post.channel and origin))


def load_posts(conn: Connection, ids: list[int]) -> dict[int, Post]:
    found: dict[int, Post] = {}
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT id, title, text, author, json FROM posts WHERE id IN ({marks})", chunk):
            found[row[0]] = post_from_row(row[1:])
    return found


def alert_entry(alert: Any, posts: dict[int, Post]) -> AlertEntry:
    """Return the digest's view of a feedwatch.campaigns Alert, its sample posts looked up in the store."""
    evidence = dict(alert.evidence or {})
    samples = []
    for sample in evidence.pop("samples", None) or []:
        post = posts.get(sample.get("post", -1)) if isinstance(sample, dict) else None
        if post is not None:
            samples.append(post_link(post))
        elif isinstance(sample, dict) and sample.get("url"):
            samples.append(PostLink(str(sample["url"]), safe_url(sample["url"]), str(sample["url"])))
    statistic = _statistic(evidence)
    basis = str(evidence.pop("score", "") or "")
    summary = [str(line) for line in evidence.pop("summary", None) or [] if line]
    parts = evidence.pop("score_parts", None)
    if isinstance(parts, dict) and parts:
        figures = ", ".join(f"{name} {scalar(value)}" for name, value in parts.items())
        summary.append(f"Score {scalar(alert.score)} of 100 from {figures} (each 0-1; {basis.split(': ', 1)[-1]}).")
    if isinstance(evidence.get("first_use"), str):
        del evidence["first_use"]  # the episode's first use: shown as first_seen
    return AlertEntry(
        statistic=statistic,
        score_basis=basis,
        summary=tuple(summary),
        key=alert.key,
        tier=alert.tier,
        tag=alert.tag,
        tags=tuple(alert.tags),
        first_seen=alert.first_seen,
        alerted_at=alert.alerted_at,
        channels=tuple(channel_label(c).lstrip("@") for c in alert.channels),
        posts=int(alert.posts),
        forwards=int(alert.forwards),
        score=float(alert.score),
        evidence=tuple(Evidence(str(k), scalar(v)) for k, v in evidence.items()),
        samples=tuple(samples),
    )


def _statistic(evidence: dict[str, Any]) -> str:
    """Pop the statistic, its value and threshold from `evidence`; return them as one phrase."""
    name = evidence.pop("statistic", None)
    value, threshold = evidence.pop("value", None), evidence.pop("threshold", None)
    parts = [str(name) if name else "statistic"]
    if value is not None:
        parts.append(f"= {scalar(value)}")
    if threshold is not None:
        parts.append(f"(threshold {scalar(threshold)})")
    return " ".join(parts) if name or value is not None else ""


def campaign_alerts(
    db: Database, since: datetime | None, until: datetime, exclude: set[str] | None
) -> list[AlertEntry]:
    """Return the window's alerts, best score first (unsent ones from LOOKBACK earlier when `exclude` is given)."""
    from feedwatch.campaigns import alerts

    start = since - LOOKBACK if since and exclude is not None else since
    raised = [a for a in alerts(db, since=start) if a.alerted_at <= until]
    ids = [
        s["post"]
        for a in raised
        for s in a.evidence.get("samples", [])
        if isinstance(s, dict) and isinstance(s.get("post"), int)
    ]
    posts = load_posts(db.conn, ids)
    entries = [alert_entry(a, posts) for a in raised]
    entries = [e for e in entries if e.key not in (exclude or set())]
    return sorted(entries, key=lambda e: (-e.score, e.tag))


def listed_tags(alerts: Iterable[AlertEntry], tags: Iterable[TagRow]) -> list[tuple[str, set[str]]]:
    """Return the chart's (label, store tag keys): each alert (with its spellings and family), then top tags.

    A top tag used once in the window is left out: one bar says nothing a table row does not.
    """
    listed: list[tuple[str, set[str]]] = []
    for label, keys in [(a.tag, {tag_key(t) for t in (a.tag, *a.tags)}) for a in alerts] + [
        (t.tag, {t.key}) for t in tags if t.posts >= 2
    ]:
        if all(keys != seen for _, seen in listed):
            listed.append((label, keys))
    return listed


def _capped(alerts: list[AlertEntry], cap: int, what: str) -> tuple[tuple[AlertEntry, ...], list[str]]:
    """Return the `cap` best alerts, and a note on the rest (which stay unsent for the next digest)."""
    if len(alerts) <= cap:
        return tuple(alerts), []
    rest = len(alerts) - cap
    return tuple(alerts[:cap]), [
        f"{rest} more {what}{'' if rest == 1 else 's'} (lower scores) not shown: `feedwatch campaigns` lists them all."
    ]


def spreading(conn: Connection, since: datetime | None, until: datetime) -> list[Spread]:
    """Return the passages stored in the window that reached SPREAD_CHANNELS or more channels, widest first."""
    from feedwatch.network.echoes import echoes_of_window

    groups = echoes_of_window(conn, since, until, min_channels=SPREAD_CHANNELS, stored=True, limit=SPREAD_SEEDS)
    posts = load_posts(conn, [e.post_id for g in groups[:MAX_SPREADING] for e in g.echoes])
    out = []
    for group in groups[:MAX_SPREADING]:
        links = {e.post_id: post_link(posts[e.post_id]) for e in group.echoes if e.post_id in posts}
        if group.origin.post_id not in links:
            continue
        out.append(
            Spread(
                text=clean_text(group.origin.text, 300),
                origin=links[group.origin.post_id],
                channels=group.channels,
                forwards=group.count("forward"),
                verbatim=group.count("verbatim"),
                edited=group.count("edited"),
                echoes=tuple(
                    EchoLink(links[e.post_id], e.how, e.similarity, e.lag_hours)
                    for e in group.echoes[1 : SPREAD_ECHOES + 1]
                    if e.post_id in links
                ),
            )
        )
    return out


def build_digest(
    db: Database,
    since: datetime | None,
    until: datetime,
    exclude: set[str] | None = None,
    *,
    now: datetime | None = None,
    seen: bool = False,
    browse_url: str = "",
) -> Digest:
    """Return the digest of what was stored in [since, until] (since None: everything), minus `exclude`d alerts.

    With `seen`, posts seen again in the window count too (see feedwatch.digest.sql.Window).
    """
    conn = db.conn
    ensure_indexes(conn)
    window = Window(conn, since, until, seen)
    notes = []
    try:
        alerts = campaign_alerts(db, since, until, exclude)
    except ModuleNotFoundError as exc:
        if exc.name != "feedwatch.campaigns":
            raise
        alerts = []
        notes.append("Campaign detection is not installed: this digest has no alerts.")
    campaigns, more = _capped([a for a in alerts if a.tier != "T3"], MAX_CAMPAIGNS, "new campaign")
    spiking, more_spiking = _capped([a for a in alerts if a.tier == "T3"], MAX_SPIKING, "spiking tag")
    notes += more + more_spiking
    tags = tuple(top_tags(conn))
    return Digest(
        generated_at=now or datetime.now(UTC),
        since=since,
        until=until,
        posts=posts_count(conn),
        new_campaigns=campaigns,
        spiking=spiking,
        spreading=tuple(spreading(conn, since, until)),
        top_tags=tags,
        channels=tuple(channel_rows(conn)),
        health=tuple(health_rows(conn, window)),
        chart=build_chart(conn, listed_tags(alerts, tags)),
        notes=tuple(notes),
        seen=seen,
        browse_url=browse_url,
    )


def builder(db: Database, browse_url: str = "") -> Callable[[datetime | None, datetime, set[str] | None], Digest]:
    """Return build_digest bound to `db` (what feedwatch.digest.job.send_digests calls per target)."""
    return lambda since, until, exclude: build_digest(db, since, until, exclude, browse_url=browse_url)
