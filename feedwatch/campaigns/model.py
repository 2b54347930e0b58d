"""The campaign detector's records: its settings, an alert, and the state kept per tag."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

import msgspec

TIERS = {"T1": "coordinated launch", "T2": "new campaign", "T3": "known-tag burst"}
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Thresholds of the detector (CAMPAIGNS.md's starting definition; tuned by scripts/eval_campaigns)."""

    episode_gap_days: float = 30.0  # silence that ends an episode
    new_days: float = 7.0  # a tag is new while its episode is younger than this
    confirm_days: float = 14.0  # T2 can still confirm a new episode this long after its first use (a slow push)
    warmup_days: float = 60.0  # no new-tag alerts before the stream has this much history
    channel_warmup_days: float = 1.0  # a channel joining later: its first day's tags are its existing vocabulary
    launch_window_hours: float = 12.0  # T1: W, the window of the actors' first uses (a push spreads in 0-12 h)
    launch_channels: int = 3  # T1: linked actors within W
    pair_weight: float = 0.75  # T1: decayed co-launch weight that links two actors (one confirmed co-launch)
    launch_share: float = 0.5  # T1: share of the window's actors that must be linked (a crowd is news)
    pair_half_life_days: float = 180.0
    actor_half_life_days: float = 60.0  # forwarding and tag-coining habits decay with this half-life
    satellite_share: float = 0.5  # a channel whose posts are this share forwards of one origin is its satellite
    satellite_posts: float = 5.0  # ... once it has this many (decayed) posts
    twin_share: float = 0.02  # two channels that each forward the other this share of their posts are one actor
    network_forwards: float = 3.0  # a channel that forwarded this many (decayed) posts of an origin amplifies it
    co_forwards: float = 3.0  # two channels that both forwarded this many (decayed) posts within W co-forward
    habit_coined: float = 1.5  # an actor that coined this many (decayed) multi-day tags lately coins them routinely
    habit_new_tags: float = 4.0  # ... or that was the first to write this many (decayed) tags lately, kept or not
    standout: float = 3.0  # ... unless this tag's posts are this many times those of its busiest other new tag
    habit_days: float = 30.0  # ... judged only once the actor has this much history (before: its habits are unknown)
    revival_days: float = 90.0  # a tag alerted before alerts again at that tier only after this much silence
    persist_hours: float = 48.0  # T2: still used this long after first use
    taken_up_hours: float = 36.0  # T2: ... or this long, for a tag that 3 or more actors used on 2 days
    min_posts: float = 3.0  # T2: posts, a forward counting forward_weight
    min_active_days: int = 3  # T2: distinct 24 h periods of the episode on which one actor used the tag
    push_days: int = 5  # T2 (one actor's push): days of its first week it was used on (a week's series tag: 3-4)
    slow_push_days: int = 8  # ... or days of its first `confirm_days` (a slower push, still most days)
    push_posts: float = 10.0  # ... or this many posts on `min_active_days` days (several a day: a hard push)
    p_value: float = 0.001  # T2: Poisson tail against the tag's own past rate
    p_taken_up: float = 0.05  # T2: the same for a never-seen tag that other actors took up
    taken_up_writers: int = 1  # T2 (taken up): actors outside the starter's network that wrote the tag themselves
    busiest_day_share: float = 0.75  # T2 (taken up): at most this share of its uses on one day (news is one day)
    base_per_day: float = 0.1  # T2: the rate a tag is assumed to have at least (the rarest everyday words)
    burst_sigma: float = 6.0  # T3: (x - EWMA) / (EWM std + beta)
    burst_beta: float = 1.0
    ewma_half_life_hours: float = 168.0
    burst_rearm_hours: float = 48.0  # T3: a tag can burst again after this long
    forward_weight: float = 0.5  # a forward is amplification: it counts this much of a post
    family_hours: float = 48.0  # tags used together while this young form a family
    samples: int = 5  # sample posts kept per episode


DEFAULTS = Settings()


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: a tag (with its spellings and family), a tier, and the evidence for it."""

    id: int
    tag: str  # display spelling
    tag_key: str  # identity (see feedwatch.campaigns.identity)
    tags: tuple[str, ...]  # every spelling of the tag and of its family members
    tier: str  # "T1", "T2" or "T3"
    first_seen: datetime  # the episode's first use
    alerted_at: datetime  # stream time of the post at which the condition first held
    channels: tuple[str, ...]
    posts: int  # independent posts in the episode so far
    forwards: int
    score: float
    evidence: dict[str, Any] = field(hash=False, compare=False)

    @property
    def what(self) -> str:
        return TIERS[self.tier]

    @property
    def key(self) -> str:
        """A stable name of this alert (the same after a rebuild, unlike `id`): tier, tag, episode (and hour)."""
        when = self.first_seen if self.tier != "T3" else self.alerted_at.replace(minute=0, second=0, microsecond=0)
        return f"{self.tier}:{self.tag_key}:{when.isoformat()}"

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object of this alert (`feedwatch campaigns --json`)."""
        return {
            "id": self.id,
            "key": self.key,
            "tag": self.tag,
            "tag_key": self.tag_key,
            "tags": list(self.tags),
            "tier": self.tier,
            "what": self.what,
            "first_seen": self.first_seen.isoformat(),
            "alerted_at": self.alerted_at.isoformat(),
            "channels": list(self.channels),
            "posts": self.posts,
            "forwards": self.forwards,
            "score": round(self.score, 3),
            "evidence": self.evidence,
        }


class TagState:
    """What the detector remembers about one tag identity (packed to JSON when idle)."""

    __slots__ = (  # noqa: RUF023 (packed in this order; a field added later goes last)
        "alerted_before",
        "ep_actor_days",
        "ep_alerted",
        "ep_approx",
        "ep_baseline",
        "ep_channels",
        "ep_chans",
        "ep_confirmed",
        "ep_days",
        "ep_first",
        "ep_forwards",
        "ep_novel",
        "ep_posts",
        "ep_silence",
        "ep_start",
        "ep_sustain",
        "ep_weight",
        "first_ever",
        "hist_chans",
        "hist_many",
        "hour",
        "hour_chans",
        "hour_count",
        "hour_samples",
        "key",
        "last_seen",
        "mean",
        "past_weight",
        "samples",
        "t3_hour",
        "t3_need",
        "var",
        "ep_wrote",  # last: a state packed before it existed reads back without it (see unpack)
    )

    def __init__(self, key: str, t: float, days: int = 7):
        self.key = key
        self.first_ever = t
        self.ep_start = t
        self.last_seen = t
        self.past_weight = 0.0  # weighted uses before the current episode
        self.hist_chans: list[str] = []  # actors of earlier episodes (a few)
        self.hist_many = False  # earlier episodes had more actors than kept
        self.hour = int(t // HOUR)
        self.hour_count = 0.0
        self.mean = 0.0
        self.var = 0.0
        self.t3_hour = -(10**9)
        self.t3_need = 0.0  # the hour count at which T3 could hold (set when an hour is folded)
        self.alerted_before = 0  # bit per tier raised in an earlier episode
        self.hour_samples: list[list[Any]] = []  # posts of the current hour (T3's samples)
        self.open_episode(t, novel=True, baseline=False, days=days)

    def open_episode(self, t: float, *, novel: bool, baseline: bool, days: int = 7) -> None:
        self.ep_start = t
        self.ep_posts = 0
        self.ep_forwards = 0
        self.ep_weight = 0.0
        self.ep_days = [0.0] * days  # weighted uses per 24 h since the first use, while the episode is new
        self.ep_first: dict[str, float] | None = {}  # actor -> first use, while the episode is young
        self.ep_actor_days: dict[str, int] | None = {}  # actor -> bit d set: it used the tag on day d
        self.ep_wrote: list[str] | None = []  # actors that wrote it in a post of their own (not only forwarded it)
        self.ep_sustain = 0  # the most days any one actor used the tag on
        self.ep_chans: list[str] = []  # the first few actors, kept for the episode's life
        self.ep_channels = 0
        self.ep_baseline = baseline  # opened during warm-up: never alerts as new
        self.ep_alerted = 0  # bit per tier already raised (T1 = 1, T2 = 2)
        self.ep_confirmed = False  # persisted: its launchers' pair weights were raised
        self.ep_novel = novel
        self.ep_silence = 0.0 if novel else t - self.last_seen  # the silence a revived episode ended
        self.ep_approx = False
        self.samples: list[list[Any]] = []
        self.hour_chans: list[str] = []

    def close_episode(self, keep: int) -> None:
        """Fold the ending episode into the tag's history."""
        self.alerted_before |= self.ep_alerted
        self.past_weight += self.ep_weight
        for actor in self.ep_chans:
            if actor not in self.hist_chans:
                self.hist_chans.append(actor)
        self.hist_many = self.hist_many or self.ep_channels > len(self.ep_chans) or len(self.hist_chans) > keep
        del self.hist_chans[keep:]

    def pack(self) -> str:
        return pack(_FIELDS(self))

    @classmethod
    def unpack(cls, text: str) -> TagState:
        state = cls.__new__(cls)
        values = unpack(text)
        if len(values) == len(cls.__slots__) - 1:
            values.append(None)  # packed before ep_wrote: who wrote the tag is unknown
        for name, value in zip(cls.__slots__, values, strict=True):
            setattr(state, name, value)
        return state


def pack(values: Any) -> str:
    """Return the compact JSON of detector state (lists, dicts, strings, numbers) as `json.dumps` reads it back.

    msgspec writes it in a fifth of the time `json` takes, floats as their shortest round-trip form, so the
    state read back is the same to the last bit. Text msgspec refuses (a lone surrogate) goes the slow way.
    """
    try:
        return _ENCODE(values).decode()
    except UnicodeEncodeError:
        return _SLOW_ENCODE(values)


def unpack(text: str) -> Any:
    """Return the values of state packed by `pack` (or by `json.dumps`, as earlier versions wrote it)."""
    try:
        return _DECODE(text)
    except msgspec.DecodeError:
        return json.loads(text)


_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder().decode
_SLOW_ENCODE = json.JSONEncoder(separators=(",", ":"), check_circular=False, ensure_ascii=False).encode
_FIELDS = attrgetter(*TagState.__slots__)
