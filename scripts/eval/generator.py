"""A seeded generator of labelled synthetic hashtag streams, written as Post JSON Lines.

Independent of feedwatch (it writes the public JSON Lines contract by hand), so
the evaluation exercises the real ingest path. What a stream holds:

negatives   evergreen Zipf vocabularies shared by all channels; each channel's
            rubric tags on a daily or weekly schedule, some paused for 5-7
            weeks and then revived; one-off tags (a post, or a short run by
            one channel within hours); organic news events, a fresh (or
            long-unused) tag adopted by 5-150 channels within hours, partly by
            forwarding the first post, fading within a day with a few stragglers
            one-channel series: a channel that coins a new place or numbered
            tag every few days and uses each for about a week ("series", what
            a location rubric or a meme channel's running jokes look like)
actors      satellites that mostly forward one origin (its tags included);
            networks whose members regularly forward their origin's posts
campaigns   fixed channel networks launching a new tag within the hour and
            then pushing it for weeks ("coordinated"); the same where half the
            members forward the origin's post ("forwarded"); a network's
            origin posting a tag that its members forward over the next hours
            ("cascade"); one channel pushing a new tag day after day for weeks,
            once or twice on most days ("single"). Networks push every `launch_every` days, each at
            its own rate; every campaign is labelled with its network's launch
            number, so first and repeat launches are scored apart.

`labels` names every campaign (tag, kind, start, channels) and the kind of
every negative tag, so alerts can be scored.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DAY = 86400.0
HOUR = 3600.0
T0 = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]


@dataclass
class Config:
    channels: int = 300
    days: int = 120
    seed: int = 1
    campaigns: bool = True
    warmup_days: int = 60
    posts_per_day: float = 8.0  # mean per channel (heavy-tailed across channels)
    news_per_day: float = 4.0
    networks: int = 0  # 0: one per 30 channels
    launch_every: tuple[float, float] = (14.0, 56.0)  # days between a network's launches (2-8 weeks)
    single_every_days: float = 2.5
    satellites: int = 0  # 0: one per 25 channels
    amplify: bool = True  # network members forward their origin's everyday posts (False: they meet only in pushes)
    series_channels: int = 0  # 0: one per 25 channels


@dataclass
class Stream:
    posts: list[dict[str, Any]] = field(default_factory=list)  # Post JSON objects in time order
    labels: dict[str, Any] = field(default_factory=lambda: {"campaigns": [], "negatives": {}})


class Generator:
    def __init__(self, config: Config):
        self.c = config
        self.rng = random.Random(config.seed)
        self.used: set[str] = set()
        self.events: list[tuple[float, str, tuple[str, ...], int | None]] = []  # t, channel, tags, origin event
        self.labels: dict[str, Any] = {"campaigns": [], "negatives": {}, "config": vars(config)}
        self.channels = [f"chan_{i:03d}_{self.word(2)}" for i in range(config.channels)]
        self.activity = [0.5 + 30 * self.rng.random() ** 3 for _ in self.channels]
        scale = config.posts_per_day / (sum(self.activity) / len(self.activity))
        self.activity = [a * scale for a in self.activity]
        self.end = T0 + config.days * DAY
        self.vocab = [self.tag("evergreen") for _ in range(3000)]

    def word(self, n: int | None = None) -> str:
        while True:
            w = "".join(self.rng.choice(SYLLABLES) for _ in range(n or self.rng.randint(3, 5)))
            if w not in self.used:
                self.used.add(w)
                return w

    def tag(self, kind: str) -> str:
        name = self.word().capitalize()
        self.labels["negatives"][name.lower()] = kind
        return name

    def post(self, t: float, channel: str, tags: tuple[str, ...], origin: int | None = None) -> int:
        self.events.append((t, channel, tags, origin))
        return len(self.events) - 1

    def build(self) -> Stream:
        self.background()
        self.rubrics()
        self.series()
        self.news()
        self.networks = self.make_networks()
        if self.c.amplify:
            self.amplify()
        if self.c.campaigns:
            self.coordinated()
            self.single_source()
        self.satellites()
        return self.write()

    def series(self) -> None:
        """One-channel series: a new place or numbered tag every 3-7 days, each used 1-2 times a day for a week."""
        self.series_set = set(self.rng.sample(self.channels, self.c.series_channels or max(1, self.c.channels // 25)))
        for channel in sorted(self.series_set):
            t = T0 + self.rng.uniform(0, 5) * DAY
            numbered = self.rng.random() < 0.5
            stem = self.word(2).capitalize()
            n = 0
            while t < self.end:
                n += 1
                tag = f"{stem}{n}" if numbered else self.word().capitalize()
                self.labels["negatives"][tag.lower()] = "series"
                for d in range(self.rng.randint(4, 8)):
                    for _ in range(self.rng.choice((1, 1, 2))):
                        self.post(t + d * DAY + self.rng.uniform(0, 20) * HOUR, channel, (tag,))
                t += self.rng.uniform(3, 7) * DAY

    def make_networks(self) -> list[list[str]]:
        """Fixed networks: an origin (first) and 3-6 members."""
        own = [c for c in self.channels if c not in self.series_set]  # a series channel is no network's origin
        networks = []
        for _ in range(self.c.networks or max(2, self.c.channels // 30)):
            members = self.rng.sample(self.channels, self.rng.randint(4, 7))
            origin = self.rng.choice([c for c in own if c not in members])
            networks.append([origin, *members[1:]])
        return networks

    def amplify(self) -> None:
        """Network members forward some of their origin's untagged posts, every few days."""
        for origin, *members in self.networks:
            t = T0 + self.rng.uniform(0, 2) * DAY
            while t < self.end:
                first = self.post(t, origin, ())
                for m in members:
                    if self.rng.random() < 0.6:
                        self.post(t + self.rng.uniform(0.1, 6) * HOUR, m, (), first)
                t += self.rng.uniform(1, 4) * DAY

    def satellites(self) -> None:
        """Satellites: channels that post little of their own and forward most of one origin's posts."""
        events = list(self.events)
        for i in range(self.c.satellites or max(1, self.c.channels // 25)):
            origin = self.rng.choice(self.channels)
            name = f"sat_{i:02d}_{self.word(2)}"
            for index, (t, channel, tags, _) in enumerate(events):
                if channel == origin and self.rng.random() < 0.8:
                    self.post(t + self.rng.uniform(0.05, 2) * HOUR, name, tags, index)

    def background(self) -> None:
        """Every channel's own posts, each with 0-3 evergreen tags (and sometimes a one-off)."""
        vocab = self.vocab
        weights = [1 / (r + 1) ** 1.1 for r in range(len(vocab))]
        cum = list(_accumulate(weights))
        for channel, rate in zip(self.channels, self.activity, strict=True):
            n = _poisson(self.rng, rate * self.c.days)
            for _ in range(n):
                t = T0 + self.rng.random() * self.c.days * DAY
                k = self.rng.choice((0, 1, 1, 2, 3))
                tags = tuple(dict.fromkeys(vocab[_pick(self.rng, cum)] for _ in range(k)))
                if self.rng.random() < 0.03:
                    tags = (*tags, *self.one_off(t, channel))
                self.post(t, channel, tags)

    def one_off(self, t: float, channel: str) -> tuple[str]:
        tag = self.tag("one-off")
        for _ in range(self.rng.choice((0, 0, 0, 1, 2, 3))):
            self.post(t + self.rng.random() * 6 * HOUR, channel, (tag,))
        return (tag,)

    def rubrics(self) -> None:
        """Routine tags of one channel: daily or weekly; some paused for weeks, then revived."""
        for channel in self.channels:
            for _ in range(self.rng.choice((0, 1, 1, 2))):
                tag = self.tag("rubric")
                period = DAY if self.rng.random() < 0.5 else 7 * DAY
                t = T0 + self.rng.random() * period
                pause = None
                if self.rng.random() < 0.4:
                    begin = T0 + self.rng.uniform(10, self.c.days - 50) * DAY
                    pause = (begin, begin + self.rng.uniform(35, 50) * DAY)
                while t < self.end:
                    if not (pause and pause[0] <= t < pause[1]):
                        self.post(t + self.rng.gauss(0, 600), channel, (tag,))
                    t += period

    def news(self) -> None:
        """Organic events: many channels adopt a tag within hours; it fades within a day."""
        past: list[tuple[float, str]] = []
        n = _poisson(self.rng, self.c.news_per_day * self.c.days)
        for _ in range(n):
            start = T0 + self.rng.random() * self.c.days * DAY
            old = [tag for t, tag in past if start - t > 35 * DAY]
            tag = self.rng.choice(old) if old and self.rng.random() < 0.2 else self.tag("news")
            past.append((start, tag))
            tags = (tag, self.tag("news")) if self.rng.random() < 0.15 else (tag,)
            if self.rng.random() < 0.2:  # the event also lifts a known tag (a burst, not a new tag)
                tags = (*tags, self.vocab[self.rng.randrange(50)])
            k = min(len(self.channels), 5 + int(self.rng.paretovariate(1.2) * 4))
            adopters = _weighted_sample(self.rng, self.channels, self.activity, k)
            first = self.post(start, adopters[0], tags)
            for channel in adopters[1:]:
                t = start + self.rng.expovariate(1 / (3 * HOUR))
                for j in range(self.rng.choice((1, 1, 1, 2, 3))):
                    forward = first if j == 0 and self.rng.random() < 0.3 else None
                    self.post(t + j * self.rng.expovariate(1 / (2 * HOUR)), channel, tags, forward)
            for _ in range(self.rng.choice((0, 0, 0, 1, 2))):
                self.post(start + self.rng.uniform(24, 40) * HOUR, self.rng.choice(adopters), tags)

    def coordinated(self) -> None:
        """Each network pushes a new tag every 2-8 weeks (its own rate): co-launched, half forwarded, or a cascade."""
        for members in self.networks:
            t = T0 + self.rng.uniform(0, 10) * DAY
            every = self.rng.uniform(*self.c.launch_every)
            launch = 0
            while t < self.end - 8 * DAY:
                launch += t >= T0 + self.c.warmup_days * DAY  # launches numbered from the end of the warm-up
                kind = self.rng.choice(("coordinated", "forwarded", "cascade"))
                self.campaign(kind, t, members, launch)
                t += every * self.rng.uniform(0.7, 1.3) * DAY

    def campaign(self, kind: str, t: float, members: list[str], launch: int = 1) -> None:
        tag = self.word().capitalize()
        tags = (tag, self.word().capitalize()) if self.rng.random() < 0.3 else (tag,)
        joined = [members[0]] + [m for m in members[1:] if self.rng.random() < 0.9]
        if len(joined) < 4:
            joined = members[:4]
        origin = self.post(t, joined[0], tags)
        for m in joined[1:]:
            if kind == "cascade":
                self.post(t + self.rng.uniform(0.1, 6) * HOUR, m, tags, origin)
                continue
            forward = origin if kind == "forwarded" and self.rng.random() < 0.5 else None
            self.post(t + self.rng.uniform(2, 50) * 60, m, tags, forward)
        days = self.rng.uniform(10, 25)
        for _ in range(_poisson(self.rng, 2 * days)):
            self.post(t + self.rng.uniform(1, days) * DAY, self.rng.choice(joined), tags)
        self.label(kind, tags, t, joined, launch)

    def single_source(self) -> None:
        t = T0 + self.rng.expovariate(1 / (self.c.single_every_days * DAY))
        own = [c for c in self.channels if c not in self.series_set]
        while t < self.end - 8 * DAY:
            channel = self.rng.choice(own)
            tag = self.word().capitalize()
            days = self.rng.uniform(14, 30)
            self.post(t, channel, (tag,))
            for day in range(int(days)):  # day after day, most days once or twice
                for _ in range(self.rng.choice((0, 1, 1, 2)) if day else 0):
                    self.post(t + (day + self.rng.uniform(0.1, 0.9)) * DAY, channel, (tag,))
            self.label("single", (tag,), t, [channel])
            t += self.rng.expovariate(1 / (self.c.single_every_days * DAY))

    def label(self, kind: str, tags: tuple[str, ...], t: float, channels: list[str], launch: int = 1) -> None:
        scored = t >= T0 + self.c.warmup_days * DAY
        self.labels["campaigns"].append(
            {
                "tags": [x.lower() for x in tags],
                "kind": kind,
                "start": t,
                "channels": channels,
                "scored": scored,
                "launch": launch,
            }
        )

    def write(self) -> Stream:
        """Number each channel's posts in time order and make Post JSON objects."""
        order = sorted(range(len(self.events)), key=lambda i: self.events[i][0])
        ids: dict[str, int] = {}
        numbered: dict[int, tuple[str, int]] = {}
        stream = Stream(labels=self.labels)
        for i in order:
            t, channel, tags, origin = self.events[i]
            if t >= self.end or t < T0:
                continue
            ids[channel] = ids.get(channel, 0) + 1
            numbered[i] = (channel, ids[channel])
            fwd = numbered.get(origin) if origin is not None else None
            stream.posts.append(_post_json(t, channel, ids[channel], tags, fwd))
        return stream


def _post_json(t: float, channel: str, mid: int, tags: tuple[str, ...], fwd: tuple[str, int] | None) -> dict[str, Any]:
    text = f"Post {mid} of {channel}. " + " ".join("#" + tag for tag in tags)
    forwarded = None
    if fwd:
        forwarded = {"name": fwd[0], "channel": fwd[0], "message_id": fwd[1], "url": f"https://t.me/{fwd[0]}/{fwd[1]}"}
    return {
        "kind": "post",
        "channel": channel,
        "message_id": mid,
        "url": f"https://t.me/{channel}/{mid}",
        "date": datetime.fromtimestamp(round(t), UTC).isoformat(),
        "edited": None,
        "views": None,
        "forwarded_from": forwarded,
        "author": None,
        "title": None,
        "text": text,
        "key_points": [],
        "hashtags": list(tags),
        "mentions": [],
        "links": [],
        "media": [],
        "datelines": [],
        "source": {"format": "jsonl", "path": None, "index": None},
        "fingerprint": hashlib.sha256(f"{channel}/{mid}".encode()).hexdigest()[:32],
        "channel_id": None,
        "channel_title": None,
        "edit_date": None,
        "forwards": None,
        "replies": None,
        "reply_to": None,
        "grouped_id": None,
        "album": [],
        "reactions": [],
        "poll": None,
        "service": None,
        "approximate": [],
    }


def _accumulate(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, cum: list[float]) -> int:
    import bisect

    return min(len(cum) - 1, bisect.bisect_left(cum, rng.random() * cum[-1]))


def _poisson(rng: random.Random, mu: float) -> int:
    if mu > 50:
        return max(0, round(rng.gauss(mu, math.sqrt(mu))))
    n, p, limit = 0, 1.0, math.exp(-mu)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


def _weighted_sample(rng: random.Random, items: list[str], weights: list[float], k: int) -> list[str]:
    """Return k distinct items drawn with probability proportional to weight (Efraimidis-Spirakis keys)."""
    keyed = sorted(zip(items, weights, strict=True), key=lambda iw: -(rng.random() ** (1 / iw[1])))
    return [item for item, _ in keyed[:k]]


def generate(config: Config, out: Path) -> dict[str, Any]:
    """Write the stream to `out` (Post JSON Lines, in time order); return its labels."""
    stream = Generator(config).build()
    with out.open("w", encoding="utf-8") as f:
        for post in stream.posts:
            f.write(json.dumps(post, ensure_ascii=False) + "\n")
    stream.labels["posts"] = len(stream.posts)
    return stream.labels
