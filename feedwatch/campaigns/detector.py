"""The streaming detector: posts in stream order in, episodes and alerts out.

Work per (post, tag) is constant: a dictionary look-up, a few counters, and at
most a bounded check of the tier that could have become true. The state of
recently used tags lives in an LRU cache; the rest is packed into
`campaign_tags` and read back when the tag is used again, so memory is bounded
by the cache size, not by the vocabulary. `flush()` writes everything the
batch changed; the caller owns the transaction (the store's ingest batch, or
`run()` below).
"""

from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from feedwatch.campaigns import tiers
from feedwatch.campaigns.actors import Actors
from feedwatch.campaigns.identity import tag_identity
from feedwatch.campaigns.model import DAY, DEFAULTS, HOUR, Settings, TagState
from feedwatch.campaigns.schema import connection, ensure_schema, transaction
from feedwatch.campaigns.stream import Use, use_of
from feedwatch.models import Post

KEEP_CHANNELS = 8  # actors kept per episode and per tag history beyond the young-episode map
CACHE_SIZE = 20_000
COINING_ACTORS = 3  # a new tag used by at most this many actors (one, and origins it forwards) can be coined
LATE_ACTOR_DAYS = 7  # actors first seen after this much stream time get a warm-up of their own


class Detector:
    """Feed it (post key, Post) pairs in stream order; call `flush()` inside the caller's transaction."""

    def __init__(self, db: Any, settings: Settings = DEFAULTS, cache_size: int = CACHE_SIZE):
        self.conn = connection(db)
        ensure_schema(self.conn)
        self.settings = settings
        self.cache_size = cache_size
        self.cache: OrderedDict[str, TagState] = OrderedDict()
        self.dirty: set[str] = set()
        self.evicted: dict[str, TagState] = {}  # changed states pushed out of the cache, written at flush
        self.actors = Actors(self.conn, settings)
        self.known = dict(self.conn.execute("SELECT actor, first_seen FROM campaign_actors"))
        self.new_actors: dict[str, float] = {}
        self.pairs = {(a, b): [w, u] for a, b, w, u in self.conn.execute("SELECT * FROM campaign_pairs")}
        self.dirty_pairs: set[tuple[str, str]] = set()
        row = self.conn.execute("SELECT value FROM campaign_meta WHERE key = 'stream_start'").fetchone()
        self.start: float | None = float(row[0]) if row else None
        row = self.conn.execute("SELECT value FROM campaign_meta WHERE key = 'stream_head'").fetchone()
        self.head = float(row[0]) if row else float("-inf")  # the latest post time seen
        self.spellings: Counter[tuple[str, str]] = Counter()
        self.days: dict[tuple[str, int], list[int]] = {}  # (tag, day number) -> [posts, forwards]
        self.links: Counter[tuple[str, str]] = Counter()
        self.raw = ""  # the spelling of the tag being counted (for the evidence's sentences)
        self.alerts: list[tuple[Any, ...]] = []
        self.raised = 0
        self.alpha = 1.0 - 0.5 ** (1.0 / settings.ewma_half_life_hours)
        # The settings in seconds, read once per use.
        self.gap = settings.episode_gap_days * DAY
        self.new = settings.new_days * DAY
        self.watch = max(settings.new_days, settings.confirm_days) * DAY  # T2 can confirm an episode this young
        self.new_day_slots = max(1, math.ceil(max(settings.new_days, settings.confirm_days)))
        self.persist = settings.persist_hours * HOUR
        self.taken_up = min(settings.taken_up_hours, settings.persist_hours) * HOUR
        self.family = settings.family_hours * HOUR

    # -- the stream ---------------------------------------------------------------------------

    def feed(self, items: Iterable[tuple[Any, Post]]) -> None:
        """Observe a batch of (post key, Post); the batch is put in stream order first.

        Every post counts, tagged or not: it starts its channel's history and shows whom it forwards.
        """
        batch = []
        for key, post in items:
            use = use_of(post)
            if use is not None:
                batch.append((use.t, key, use, post.hashtags))
            else:  # no place in time, but its spellings still say how people write the tag
                for raw in post.hashtags:
                    self.spellings[(tag_identity(raw), raw)] += 1
        batch.sort(key=lambda item: item[0])
        for _, key, use, tags in batch:
            self.observe(key, use, tags)

    def observe(self, key: Any, use: Use, raw_tags: Iterable[str]) -> None:
        """Learn one post's channel, and count its tags."""
        if self.start is None:
            self.start = use.t
        if use.t > self.head:
            self.head = use.t
        channel = use.channel
        if channel is not None:
            origin = self.actors.origin(use.origin) if use.forward else None
            self.actors.observe(channel, use.t, origin, use.title, use.channel_id, use.raw_channel)
            if origin is not None and use.origin_post is not None:
                self.actors.forwarded(channel, use.t, origin, use.origin_post)
            actor = self.actors.actor(channel, use.t)
        else:
            origin, actor = None, use.actor
        if not raw_tags:
            return
        if actor not in self.known:
            self.known[actor] = self.new_actors[actor] = use.t
        keys: dict[str, str] = {}  # identity -> the spelling this post uses
        for raw in raw_tags:
            tag = tag_identity(raw)
            if not tag:
                continue
            self.spellings[(tag, raw)] += 1
            keys.setdefault(tag, raw.lstrip("#"))
        young = []
        for tag, raw in keys.items():
            self.raw = raw
            if self.use_tag(tag, key, use, actor, origin):
                young.append(tag)
        for i, a in enumerate(young[:KEEP_CHANNELS]):
            self.links[(a, a)] += 1  # its own uses while young: the base a family link is measured against
            for b in young[i + 1 : KEEP_CHANNELS]:
                self.links[(a, b) if a < b else (b, a)] += 1

    def use_tag(self, tag: str, key: Any, use: Use, actor: str, origin: str | None) -> bool:
        """Count one use of a tag; return True when its episode is young enough to join a family.

        The hot path of detection: the hour and day counts are inlined here, and
        each tier's check runs only when its condition could have become true.
        """
        s = self.settings
        t, forward = use.t, use.forward
        home = use.channel or actor  # warm-up counts from the publishing channel's first post
        state = self.cache.get(tag)
        if state is None:
            state = self.state(tag, t, home)
            if not state.ep_weight and not forward and not state.ep_baseline and use.channel is not None:
                self.actors.first_to_write(actor, t)  # a tag never seen before, written by this actor
        else:
            self.cache.move_to_end(tag)
        if t - state.last_seen > self.gap:
            state.close_episode(KEEP_CHANNELS)
            state.open_episode(t, novel=False, baseline=self.in_warmup(t, home), days=self.new_day_slots)
        if t > state.last_seen:
            state.last_seen = t
        if forward:
            weight = s.forward_weight
            state.ep_forwards += 1
        else:
            weight = 1.0
            state.ep_posts += 1
        state.ep_weight += weight
        age = t - state.ep_start
        if age < 0.0:
            age = 0.0
        young = age < self.new
        watched = age < self.watch
        if watched:
            state.ep_days[int(age // DAY)] += weight
        if use.approximate:
            state.ep_approx = True
        if len(state.samples) < s.samples:
            state.samples.append([key, use.url])
        if actor not in state.ep_chans and len(state.ep_chans) < KEEP_CHANNELS:
            state.ep_chans.append(actor)
        first_use = False
        if state.ep_first is not None:
            if origin is not None and origin != actor and young:  # the forwarded origin posted the tag first
                self.note_origin(state, origin, t)
            first_use = self.note_actor(state, actor, t, age) and young
            wrote = state.ep_wrote
            if not forward and wrote is not None and actor not in wrote and len(wrote) < tiers.MAX_WINDOW:
                wrote.append(actor)
            if (
                young
                and state.ep_novel
                and state.ep_channels == 1
                and not forward
                and not state.ep_baseline
                and actor in state.ep_first
            ):  # how busy the tags it alone writes get (a news tag that others take up is not its habit)
                self.actors.count_new_tag_use(actor, tag, state.ep_posts, t)
        # This hour's count (see tiers.fold_hours for the hours before it).
        hour = int(t // HOUR)
        if hour > state.hour:
            state.mean, state.var = tiers.fold_hours(state, hour, self.alpha)
            state.t3_need = tiers.burst_threshold(s, state)
            state.hour = hour
            state.hour_count = 0.0
            state.hour_chans = []
            state.hour_samples = []
        if hour >= state.hour:  # a late post's hour is already folded into the average
            state.hour_count += weight
            if len(state.hour_samples) < s.samples:
                state.hour_samples.append([key, use.url])
            if actor not in state.hour_chans and len(state.hour_chans) < KEEP_CHANNELS:
                state.hour_chans.append(actor)
        if (
            young
            and state.ep_novel
            and not state.ep_alerted & tiers.COINED
            and state.ep_actor_days
            and state.ep_channels <= COINING_ACTORS
            and state.ep_weight >= self.settings.min_posts
            and bin(state.ep_actor_days.get(actor, 0)).count("1") >= 2
        ):
            state.ep_alerted |= tiers.COINED  # a new tag of one actor (and an origin it forwards), kept in use
            self.actors.coin(actor, t)
        if watched and not state.ep_baseline and self.may_alert(state):
            if first_use and not state.ep_alerted & 1:
                self.raise_alert(state, "T1", tiers.t1(self, state, t))
            if not state.ep_alerted & 2 and age >= self.taken_up:
                self.raise_alert(state, "T2", tiers.t2(self, state, actor, t))
        if not state.ep_confirmed and age >= self.persist and state.ep_first is not None:
            tiers.confirm_launch(self, state, t)
        if state.hour_count >= state.t3_need and not young and t - state.first_ever >= self.new:
            self.raise_alert(state, "T3", tiers.t3(s, state, t, self.raw))
        # Posts and forwards per tag per UTC day, for charts.
        number = int(t // DAY)
        counts = self.days.get((tag, number))
        if counts is None:
            counts = self.days[(tag, number)] = [0, 0]
        counts[forward] += 1
        self.dirty.add(tag)
        return age <= self.family and not state.ep_baseline

    def note_actor(self, state: TagState, actor: str, t: float, age: float) -> bool:
        """Record an actor's first use in a young episode; return True when it is its first."""
        if state.ep_first is None:
            return False
        if age >= self.watch:
            state.ep_first = state.ep_actor_days = state.ep_wrote = None  # matured: per-actor maps are not needed
            return False
        days = state.ep_actor_days
        if days is None:  # set with ep_first; a state read back without it is an episode past watching
            return False
        mask = days.get(actor, 0) | 1 << int(age // DAY)
        days[actor] = mask
        state.ep_sustain = max(state.ep_sustain, bin(mask).count("1"))
        if actor in state.ep_first:
            return False
        state.ep_first[actor] = t
        state.ep_channels += 1
        return True

    def may_alert(self, state: TagState) -> bool:
        """False for a tag alerted before whose silence was too short to call this episode a revival."""
        if not state.alerted_before:
            return True
        return state.ep_silence >= self.settings.revival_days * DAY

    def note_origin(self, state: TagState, origin: str, t: float) -> None:
        """Record that a forward's origin used the tag (no later than the forward)."""
        first = state.ep_first
        if first is not None and origin not in first and len(first) < 4 * KEEP_CHANNELS:
            first[origin] = t
            state.ep_channels += 1

    def in_warmup(self, t: float, actor: str) -> bool:
        """True while the stream, or a channel that joined it later, has too little history for "new".

        The stream needs `warmup_days` of history. A channel first seen later has its first
        `channel_warmup_days` (counted from its first post, tagged or not) as its own warm-up: the
        tags it uses then are its existing vocabulary. A post that arrives long after the stream has
        moved on (a channel's backfill) is history too, never a launch.
        """
        if self.start is None:
            return True
        s = self.settings
        if t < self.start + s.warmup_days * DAY or t < self.head - self.new:
            return True
        joined = self.actors.first_seen(actor, self.known.get(actor, t))
        return joined > self.start + LATE_ACTOR_DAYS * DAY and t < joined + s.channel_warmup_days * DAY

    # -- pair weights ---------------------------------------------------------------------------

    def pair_weight(self, a: str, b: str, t: float) -> float:
        """Return the decayed co-launch weight of two actors at time t."""
        entry = self.pairs.get((a, b) if a < b else (b, a))
        if entry is None:
            return 0.0
        return float(entry[0] * 0.5 ** (max(0.0, t - entry[1]) / (self.settings.pair_half_life_days * DAY)))

    def add_co_launch(self, a: str, b: str, t: float) -> None:
        pair = (a, b) if a < b else (b, a)
        self.pairs[pair] = [self.pair_weight(a, b, t) + 1.0, t]
        self.dirty_pairs.add(pair)

    # -- state ----------------------------------------------------------------------------------

    def state(self, tag: str, t: float, actor: str) -> TagState:
        """Return the state of a tag: from the cache, else from SQLite, else a new one."""
        state = self.cache.get(tag)
        if state is not None:
            self.cache.move_to_end(tag)
            return state
        state = self.evicted.pop(tag, None)
        if state is None:
            row = self.conn.execute("SELECT state FROM campaign_tags WHERE tag = ?", (tag,)).fetchone()
            if row:
                state = TagState.unpack(row[0])
            else:
                state = TagState(tag, t, self.new_day_slots)
                state.ep_baseline = self.in_warmup(t, actor)
        self.cache[tag] = state
        if len(self.cache) > self.cache_size:
            old, old_state = self.cache.popitem(last=False)
            if old in self.dirty:
                self.dirty.discard(old)
                self.evicted[old] = old_state
        return state

    def raise_alert(self, state: TagState, tier: str, found: tuple[float, dict[str, Any]] | None) -> None:
        if found is None:
            return
        score, evidence = found
        if tier == "T1":
            state.ep_alerted |= 1
        elif tier == "T2":
            state.ep_alerted |= 2
        t = float(evidence.pop("_t"))
        channels = evidence.pop("_channels")
        evidence["first_use"] = tiers.iso(state.ep_start)
        chosen = state.hour_samples if tier == "T3" else state.samples
        evidence["samples"] = [{"post": key, "url": url} for key, url in chosen]
        evidence["approximate_time"] = state.ep_approx
        evidence["episode"] = "novel" if state.ep_novel else "revived"
        self.alerts.append(
            (
                state.key,
                tier,
                state.ep_start,
                t,
                json.dumps(channels, ensure_ascii=False),
                state.ep_posts,
                state.ep_forwards,
                score,
                json.dumps(evidence, ensure_ascii=False, default=str),
            )
        )
        self.raised += 1

    def flush(self) -> int:
        """Write what changed since the last flush (no commit); return the number of alerts written."""
        written = len(self.alerts)
        self._write_state()
        self._write_counts()
        self.dirty.clear()
        self.evicted.clear()
        self.new_actors.clear()
        self.actors.flush()
        self.dirty_pairs.clear()
        self.spellings.clear()
        self.days.clear()
        self.links.clear()
        self.alerts.clear()
        return written

    def _write_state(self) -> None:
        """Changed tag states, new actors, changed pair weights, the stream's start."""
        c = self.conn
        changed = [self.cache[tag] for tag in self.dirty] + list(self.evicted.values())
        c.executemany(
            "INSERT INTO campaign_tags (tag, episode_start, last_seen, state) VALUES (?, ?, ?, ?) ON CONFLICT (tag)"
            " DO UPDATE SET episode_start = excluded.episode_start, last_seen = excluded.last_seen,"
            " state = excluded.state",
            [(st.key, st.ep_start, st.last_seen, st.pack()) for st in changed],
        )
        c.executemany("INSERT OR IGNORE INTO campaign_actors VALUES (?, ?)", list(self.new_actors.items()))
        c.executemany(
            "INSERT OR REPLACE INTO campaign_pairs VALUES (?, ?, ?, ?)",
            [(a, b, *self.pairs[(a, b)]) for a, b in self.dirty_pairs],
        )
        if self.start is not None:
            c.execute("INSERT OR REPLACE INTO campaign_meta VALUES ('stream_start', ?)", (repr(self.start),))
            c.execute("INSERT OR REPLACE INTO campaign_meta VALUES ('stream_head', ?)", (repr(self.head),))

    def _write_counts(self) -> None:
        """Alerts raised, and the batch's spellings, daily counts and family links added to the stored ones."""
        c = self.conn
        c.executemany(
            "INSERT OR IGNORE INTO campaign_alerts (tag, tier, episode_start, alerted_at, channels, posts, forwards,"
            " score, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.alerts,
        )
        c.executemany(
            "INSERT INTO campaign_spellings (tag, spelling, uses) VALUES (?, ?, ?) ON CONFLICT (tag, spelling)"
            " DO UPDATE SET uses = campaign_spellings.uses + excluded.uses",
            [(tag, raw, n) for (tag, raw), n in self.spellings.items()],
        )
        c.executemany(
            "INSERT INTO campaign_tag_days VALUES (?, ?, ?, ?) ON CONFLICT (tag, day) DO UPDATE"
            " SET posts = campaign_tag_days.posts + excluded.posts,"
            " forwards = campaign_tag_days.forwards + excluded.forwards",
            [(tag, _day_name(number), p, f) for (tag, number), (p, f) in self.days.items()],
        )
        c.executemany(
            "INSERT INTO campaign_links VALUES (?, ?, ?) ON CONFLICT (a, b)"
            " DO UPDATE SET uses = campaign_links.uses + excluded.uses",
            [(a, b, n) for (a, b), n in self.links.items()],
        )


@lru_cache(maxsize=4096)
def _day_name(number: int) -> str:
    """Return the ISO date of a UTC day number."""
    return datetime.fromtimestamp(number * DAY, UTC).date().isoformat()


def run(
    db: Any,
    items: Iterable[tuple[Any, Post]],
    *,
    batch: int = 5000,
    settings: Settings = DEFAULTS,
    cache_size: int = CACHE_SIZE,
) -> int:
    """Feed posts to a detector on `db` in batches, each committed; return the number of alerts raised."""
    conn = connection(db)
    detector = Detector(conn, settings, cache_size)
    chunk: list[tuple[Any, Post]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= batch:
            with transaction(conn):
                detector.feed(chunk)
                detector.flush()
            chunk = []
    with transaction(conn):
        detector.feed(chunk)
        detector.flush()
    return detector.raised
