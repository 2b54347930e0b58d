"""A labelled synthetic set for echoes: talking points copied across channels with edits, among unrelated posts.

Texts are built from topic vocabularies with Zipf-distributed word frequencies
and a shared set of function words, so unrelated posts on the same topic share
many words (the hard negatives). A talking point is posted by an origin
channel, then forwarded as is or copied into 1-6 other channels over the next
hours, each copy edited at its own rate: words dropped or added, emoji and
punctuation changed, sentences reordered. Every post carries its group (None
for unrelated posts), which the scorer compares with the groups found.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from feedwatch.models import ForwardedFrom, Post, Source
from feedwatch.parse.structure import finish

_FUNCTION = """the of and to in a is that for on with as by at from it this be are was has have not will but
they their which its were been an or also all more than after said about"""
FUNCTION_WORDS = _FUNCTION.split()
EMOJI = ("❗️", "🔥", "⚡️", "👉", "📌", "🇷🇺", "‼️", "✅")
RATES = (0.0, 0.05, 0.1, 0.2, 0.3)


@dataclass
class EchoSet:
    posts: list[Post] = field(default_factory=list)
    group_of: dict[tuple[str, int], int | None] = field(default_factory=dict)  # (channel, message id) -> group
    rate_of: dict[tuple[str, int], float] = field(default_factory=dict)  # copies: their edit rate


def _word(rng: random.Random) -> str:
    syllables = ["ka", "ro", "mi", "ten", "sol", "var", "de", "lin", "po", "gra", "stu", "nek", "bel", "or", "an"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))


def _vocabulary(rng: random.Random, size: int) -> tuple[list[str], list[float]]:
    words = list(dict.fromkeys(_word(rng) for _ in range(size * 2)))[:size]
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return words, weights


def _sentence(rng: random.Random, topic: tuple[list[str], list[float]]) -> list[str]:
    words, weights = topic
    out = []
    for _ in range(rng.randint(8, 18)):
        out.append(rng.choice(FUNCTION_WORDS) if rng.random() < 0.45 else rng.choices(words, weights)[0])
    return out


def _render(sentences: list[list[str]], rng: random.Random) -> str:
    text = " ".join(" ".join(s).capitalize() + rng.choice([".", ".", "!", "…"]) for s in sentences)
    return (rng.choice(EMOJI) + " " if rng.random() < 0.5 else "") + text


def _edit(
    sentences: list[list[str]], rate: float, rng: random.Random, topic: tuple[list[str], list[float]]
) -> list[list[str]]:
    out = []
    for sentence in sentences:
        words: list[str] = []
        for word in sentence:
            roll = rng.random()
            if roll < rate / 2:
                continue  # dropped
            words.append(word)
            if roll > 1 - rate / 2:
                words.append(rng.choices(*topic)[0])  # one added
        out.append(words or sentence[:1])
    if rate and len(out) > 1 and rng.random() < 0.5:
        rng.shuffle(out)  # sentences reordered
    return out


def generate(seed: int = 1, groups: int = 200, unrelated: int = 3000, channels: int = 40, topics: int = 5) -> EchoSet:
    rng = random.Random(seed)
    vocab = [_vocabulary(rng, 300) for _ in range(topics)]
    names = [f"channel_{n:03d}" for n in range(channels)]
    numbers = dict.fromkeys(names, 0)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    out = EchoSet()

    def add(
        channel: str,
        text: str,
        when: datetime,
        group: int | None,
        origin: tuple[str, int] | None = None,
        rate: float | None = None,
    ) -> tuple[str, int]:
        numbers[channel] += 1
        number = numbers[channel]
        forwarded = ForwardedFrom(name=origin[0], channel=origin[0], message_id=origin[1]) if origin else None
        out.posts.append(
            finish(
                Post(
                    channel=channel,
                    message_id=number,
                    date=when,
                    text=text,
                    forwarded_from=forwarded,
                    source=Source("jsonl", "echo-set", len(out.posts)),
                )
            )
        )
        out.group_of[(channel, number)] = group
        if rate is not None:
            out.rate_of[(channel, number)] = rate
        return channel, number

    for _ in range(unrelated):
        topic = vocab[rng.randrange(topics)]
        sentences = [_sentence(rng, topic) for _ in range(rng.randint(2, 5))]
        add(rng.choice(names), _render(sentences, rng), start + timedelta(minutes=rng.randrange(60 * 24 * 60)), None)
    for group in range(groups):
        topic = vocab[rng.randrange(topics)]
        sentences = [_sentence(rng, topic) for _ in range(rng.randint(2, 5))]
        when = start + timedelta(minutes=rng.randrange(60 * 24 * 60))
        origin_channel, *others = rng.sample(names, rng.randint(2, 7))
        origin_text = _render(sentences, rng)
        origin = add(origin_channel, origin_text, when, group)
        for channel in others:
            later = when + timedelta(minutes=rng.randrange(1, 60 * 48))
            if rng.random() < 0.25:
                add(channel, origin_text, later, group, origin=origin)
                continue
            rate = rng.choice(RATES)
            add(channel, _render(_edit(sentences, rate, rng, topic), rng), later, group, rate=rate)
    out.posts.sort(key=lambda p: p.date or start)
    return out
