"""Echoes: the same passage (whole post, paragraph or key point) in several channels, verbatim or edited.

The store indexes every passage as it is stored (feedwatch.store.passages).
Here, candidates found through that index are checked against their exact
word-pair Jaccard similarity (THRESHOLD, chosen on the labelled set of
scripts/eval_echoes), joined into groups, and told apart:

- the origin: the group's earliest post (the likely source);
- a forward: amplification the platform shows (the post carries "Forwarded from");
- a verbatim copy: the same words, without attribution;
- an edited copy: words added or dropped, punctuation or emoji changed, sentences reordered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedwatch.errors import FeedwatchError
from feedwatch.models import Post, iso
from feedwatch.network.refs import post_node
from feedwatch.store import passages as px
from feedwatch.store.backend import Connection
from feedwatch.store.queries import link
from feedwatch.store.rows import chunks, post_from_row

THRESHOLD = 0.3  # word-pair Jaccard similarity at and above which two passages are the same talking point
ORIGIN, FORWARD, VERBATIM, EDITED = "origin", "forward", "verbatim", "edited"
MAX_SEEDS = 50_000  # passages of one window looked at, the latest first


@dataclass(frozen=True, slots=True)
class Echo:
    """One post in a group: where and when the passage appeared, and how it relates to the origin."""

    post_id: int
    channel: str  # node id: username, i:<id> or t:<title>
    url: str
    date: datetime | None
    how: str  # origin, forward, verbatim, edited
    similarity: float  # to the origin's passage (1.0 for the origin)
    lag_hours: float | None  # after the origin
    part: str  # post, paragraph, key_point
    text: str  # the passage as this post has it

    def to_json(self) -> dict[str, Any]:
        return {
            "post": self.post_id,
            "channel": self.channel,
            "url": self.url,
            "date": iso(self.date) if self.date else None,
            "how": self.how,
            "similarity": round(self.similarity, 3),
            "lag_hours": round(self.lag_hours, 2) if self.lag_hours is not None else None,
            "part": self.part,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Group:
    """A passage and every post it appeared in, origin first."""

    echoes: tuple[Echo, ...]

    @property
    def origin(self) -> Echo:
        return self.echoes[0]

    @property
    def channels(self) -> int:
        return len({e.channel for e in self.echoes})

    def count(self, how: str) -> int:
        return sum(1 for e in self.echoes if e.how == how)

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin.to_json(),
            "channels": self.channels,
            "posts": len(self.echoes),
            "forwards": self.count(FORWARD),
            "verbatim": self.count(VERBATIM),
            "edited": self.count(EDITED),
            "echoes": [e.to_json() for e in self.echoes[1:]],
        }


@dataclass(slots=True)
class _Passage:
    id: int
    post_id: int
    post: Post
    part: str
    text: str
    shingles: set[tuple[str, str]]


def _load(conn: Connection, ids: Iterable[int]) -> dict[int, _Passage]:
    """Read passages by id with their posts; the passage text is cut from the stored post again."""
    found: dict[int, _Passage] = {}
    wanted = sorted(set(ids))
    for part in chunks(wanted):
        marks = ", ".join("?" * len(part))
        rows = conn.execute(
            "SELECT e.id, e.post, e.part, e.idx, p.title, p.text, p.author, p.json FROM echo_passages e"
            f" JOIN posts p ON p.id = e.post WHERE e.id IN ({marks})",
            part,
        )
        for passage_id, post_id, kind, number, *columns in rows:
            post = post_from_row(columns)
            text = next((p.text for p in px.passages(post_id, post) if (p.part, p.index) == (kind, number)), None)
            if text is not None:  # None: the post was edited since; its passages are being re-indexed
                found[passage_id] = _Passage(passage_id, post_id, post, kind, text, px.shingles(text))
    return found


def _keys(conn: Connection, where: str, args: list[Any]) -> dict[int, str]:
    sql = (
        "SELECT e.id, e.keys FROM posts p JOIN echo_passages e"
        f" ON e.id BETWEEN p.id * {px.PER_POST} AND p.id * {px.PER_POST} + {px.PER_POST - 1} WHERE {where}"
    )
    return {row[0]: row[1] for row in conn.execute(sql, args)}


def _when(passage: _Passage) -> tuple[int, str, int]:
    """Sort key: dated posts first, by date, then by storage order."""
    date = passage.post.date
    return (0 if date else 1, iso(date) if date else "", passage.post_id)


def _similar(
    conn: Connection, seeds: dict[int, str], threshold: float
) -> tuple[dict[int, _Passage], dict[int, list[int]]]:
    """Load the seeds and their candidates; return them and, per seed, the passages of other channels that
    are at least `threshold` similar to it (checked on the exact word-pair Jaccard similarity)."""
    near = px.candidates(conn, seeds)
    loaded = _load(conn, set(near) | {o for others in near.values() for o in others})
    similar: dict[int, list[int]] = {}
    for mine, others in near.items():
        if mine not in loaded:
            continue
        home = post_node(loaded[mine].post)
        similar[mine] = [
            other
            for other in others
            if other in loaded
            and post_node(loaded[other].post) != home
            and px.jaccard(loaded[mine].shingles, loaded[other].shingles) >= threshold
        ]
    return loaded, similar


def _make(origin: _Passage, members: Iterable[_Passage]) -> Group:
    """Order a group by time (one passage per post) and tell each echo's relation to the origin."""
    by_post: dict[int, _Passage] = {}
    for passage in sorted(members, key=lambda p: (p.part != px.POST, p.id)):
        if passage.post_id != origin.post_id:
            by_post.setdefault(passage.post_id, passage)
    echoes = [_echo(origin, origin, ORIGIN)]
    for passage in sorted(by_post.values(), key=_when):
        if passage.post.forwarded_from is not None:
            how = FORWARD
        elif passage.shingles == origin.shingles and px.words(passage.text) == px.words(origin.text):
            how = VERBATIM
        else:
            how = EDITED
        echoes.append(_echo(origin, passage, how))
    return Group(tuple(echoes))


def _echo(origin: _Passage, passage: _Passage, how: str) -> Echo:
    lag = None
    if passage.post.date and origin.post.date:
        lag = (passage.post.date - origin.post.date).total_seconds() / 3600
    similarity = 1.0 if passage is origin else px.jaccard(origin.shingles, passage.shingles)
    return Echo(
        passage.post_id,
        post_node(passage.post) or "?",
        link(passage.post),
        passage.post.date,
        how,
        similarity,
        lag,
        passage.part,
        passage.text,
    )


def _ranked(groups: Iterable[Group], min_channels: int) -> list[Group]:
    kept = [g for g in groups if len(g.echoes) > 1 and g.channels >= min_channels]
    kept.sort(key=lambda g: (-g.channels, -len(g.echoes), iso(g.origin.date) if g.origin.date else "~"))
    return kept


def echoes_of_window(
    conn: Connection,
    since: datetime | None,
    until: datetime | None = None,
    *,
    min_channels: int = 2,
    threshold: float = THRESHOLD,
    stored: bool = False,
    limit: int = MAX_SEEDS,
) -> list[Group]:
    """Return the passages posted in [since, until) that reached at least `min_channels` channels.

    Each passage of the window is put with its origin: the earliest passage of another channel that it is
    similar to (or itself, when it is the first). A group is an origin and the window's passages put with
    it, so similarity is always to the origin and groups never chain one edit onto the next. With `stored`,
    the window is when posts were first stored (the digest's window) rather than published. At most the
    latest `limit` passages of the window are looked at, so a window over a whole large store stays bounded.
    """
    px.catch_up(conn)
    column = "p.first_seen" if stored else "p.date"
    where, args = ["1 = 1"], []
    if since is not None:
        where.append(f"{column} >= ?")
        args.append(iso(since))
    if until is not None:
        where.append(f"{column} {'<=' if stored else '<'} ?")  # the digest's window includes its end
        args.append(iso(until))
    where.append(f"1 = 1 ORDER BY e.id DESC LIMIT {int(limit)}")
    loaded, similar = _similar(conn, _keys(conn, " AND ".join(where), args), threshold)
    groups: dict[int, list[_Passage]] = {}
    for seed, others in similar.items():
        origin = min([loaded[seed], *(loaded[o] for o in others)], key=_when)
        groups.setdefault(origin.id, []).append(loaded[seed])
    return _ranked((_make(loaded[origin], members) for origin, members in groups.items()), min_channels)


def echoes_of_post(
    conn: Connection, post_id: int, *, min_channels: int = 1, threshold: float = THRESHOLD
) -> list[Group]:
    """Return, for each passage of one stored post, the posts of other channels that carry it, earliest first."""
    px.catch_up(conn)
    loaded, similar = _similar(conn, _keys(conn, "p.id = ?", [post_id]), threshold)
    groups = []
    for seed, others in similar.items():
        members = [loaded[seed], *(loaded[o] for o in others)]
        origin = min(members, key=_when)
        groups.append(_make(origin, members))
    return _ranked(groups, min_channels)


def find_post(conn: Connection, ref: str) -> int:
    """Return the stored id of a post named as CHANNEL/ID, @CHANNEL/ID or a t.me link; FeedwatchError if none."""
    text = ref.strip()
    for prefix in ("https://", "http://", "t.me/", "telegram.me/", "s/"):
        text = text.removeprefix(prefix)
    text = text.lstrip("@")
    channel, _, number = text.rpartition("/")
    if not channel or not number.isdigit():
        raise FeedwatchError(f"{ref!r} does not name a post; use CHANNEL/ID (e.g. MFARussia/1234) or its t.me link")
    row = conn.execute(
        "SELECT id FROM posts WHERE channel = ? COLLATE NOCASE AND message_id = ?",
        [channel.split("/")[-1], int(number)],
    ).fetchone()
    if row is None:
        raise FeedwatchError(f"{ref}: no such post in the store. Find one with: feedwatch search WORDS")
    return int(row[0])
