"""The passage index: MinHash signatures of every post's passages, banded for locality-sensitive lookup.

A passage is a paragraph of a post (or the whole post when it has one), or a
key point, of at least MIN_WORDS words. Its words (lower case, no punctuation,
emoji or links) make a set of word pairs (shingles), and the Jaccard
similarity of two such sets is what "the same passage, edited" means here:
words added or dropped, emoji and punctuation changed and sentences reordered
each cost only the pairs at the edit.

Each passage gets SIGNATURE MinHash values, cut into BANDS bands of ROWS
values; two passages sharing a band are candidates (with Jaccard s, the chance
of sharing one band is 1 - (1 - s^ROWS)^BANDS: 0.98 at s = 0.5, 0.13 at 0.15).
Candidates are then checked against their exact Jaccard similarity, so the
bands decide only recall and cost, never what is called an echo.

New posts are indexed when the index is first read after they were stored
(`catch_up()`: by `feedwatch echoes` and the digest), a batch of posts at a
time, so ingest never waits for it; a post whose text is edited after it was
indexed is indexed again in the ingest batch that edits it. `echo_state`
holds how far the index has read; `rebuild()` recomputes it all. Signatures are computed for a whole batch at once with
numpy: a universal hash family (a*x + b) mod p over 32-bit shingle hashes,
which is the MinHash datasketch implements, batched (measured in scripts/bench).
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from feedwatch.models import Post
from feedwatch.store.backend import Connection, is_postgres, streamed

MIN_WORDS = 8
ROWS = 2
BANDS = 12
SIGNATURE = ROWS * BANDS
_rng = np.random.default_rng(20240301)  # fixed: stored signatures must match future ones
_A = _rng.integers(0, 2**63, SIGNATURE, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd multipliers
_B = _rng.integers(0, 2**63, SIGNATURE, dtype=np.uint64)
_SHIFT = np.uint64(32)
_CHUNK = 8192  # shingles hashed at once (memory: _CHUNK x SIGNATURE x 8 bytes)

_URL = re.compile(r"(?:https?://|www\.|t\.me/)\S+", re.IGNORECASE)
_NOT_WORD = re.compile(r"[\W_]+")
_PARAGRAPH = re.compile(r"\n\s*\n|\n(?=\s*[-•*–—▪🔹🔸✅❗]|\s*\d+[.)]\s)")
_POSITIONS = 32  # characters of a word that its hash reads (longer words share their first 32)
_WEIGHTS = np.random.default_rng(20240302).integers(1, 2**32, _POSITIONS, dtype=np.uint64)

POST, PARAGRAPH, KEY_POINT = "post", "paragraph", "key_point"


@dataclass(frozen=True, slots=True)
class Passage:
    post: int  # the stored post's id
    part: str  # post, paragraph, key_point
    index: int  # its number within the post
    text: str
    normal: str  # its words, lower case, one space apart (see `normal`)

    @property
    def words(self) -> int:
        return self.normal.count(" ") + 1


def normal(text: str) -> str:
    """The words of a text as the index sees them: lower case, one space apart, no links, punctuation or emoji."""
    if "://" in text or "www." in text or "t.me/" in text:
        text = _URL.sub(" ", text)
    return _NOT_WORD.sub(" ", text.lower()).strip()


def words(text: str) -> list[str]:
    return normal(text).split()


def shingles(text: str) -> set[tuple[str, str]]:
    """The word pairs of a text (its consecutive words, two at a time)."""
    found = words(text)
    return set(itertools.pairwise(found))


def jaccard(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def passages(post_id: int, post: Post) -> list[Passage]:
    """Return the passages of a stored post worth indexing: paragraphs (or the post) and key points."""
    if post.kind == "service" or not post.text:
        return []
    pieces = _PARAGRAPH.split(post.text) if "\n" in post.text else [post.text]
    normals = [normal(piece) for piece in pieces]  # each character is normalised once
    whole = " ".join(n for n in normals if n)
    if whole.count(" ") + 1 < MIN_WORDS:
        return []
    found: list[Passage] = []
    parts = [(text, n) for text, n in zip(pieces, normals, strict=True) if n.count(" ") + 1 >= MIN_WORDS]
    if not parts or (len(parts) == 1 and parts[0][1] == whole):
        found.append(Passage(post_id, POST, 0, post.text.strip(), whole))  # the post is one passage
    else:  # its paragraphs of MIN_WORDS words or more; short lines (a sign-off, a link line) are left out
        found += [Passage(post_id, PARAGRAPH, i, text.strip(), n) for i, (text, n) in enumerate(parts)]
    seen = {p.normal for p in found}
    for i, point in enumerate(post.key_points):
        n = normal(point)
        if n not in seen and n.count(" ") + 1 >= MIN_WORDS:
            found.append(Passage(post_id, KEY_POINT, i, point, n))
    return found


def signatures(normals: Sequence[str]) -> np.ndarray:
    """Return the MinHash signatures of normalised texts, shape (len(normals), SIGNATURE), uint32.

    All texts are hashed at once: each word's hash is a weighted sum of its characters, each word pair's
    a mix of its two words' hashes, and each signature value the minimum over the pairs of one
    multiply-shift hash (a*x + b) >> 32 (a odd, arithmetic modulo 2**64): a universal family, like
    MinHash's (a*x + b) mod p, without the division.
    """
    out = np.full((len(normals), SIGNATURE), np.iinfo(np.uint32).max, dtype=np.uint64)
    if not normals:
        return out.astype(np.uint32)
    joined = "\n".join(normals)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    index = np.arange(len(codes), dtype=np.int64)
    gap = (codes == 32) | (codes == 10)
    start = np.maximum.accumulate(np.where(gap, index + 1, 0))
    weights = _WEIGHTS[np.minimum(index - start, _POSITIONS - 1)]
    values = np.where(gap, np.uint64(0), codes * weights)
    word_starts = np.flatnonzero(np.concatenate(([True], gap[:-1])) & ~gap)
    word_hash = np.add.reduceat(values, word_starts) >> _SHIFT
    owner = np.searchsorted(np.flatnonzero(codes == 10), word_starts)  # which text each word is in
    same = owner[1:] == owner[:-1]
    pairs = ((word_hash[:-1] * np.uint64(1_000_003) + word_hash[1:]) & np.uint64(0xFFFFFFFF))[same]
    who = owner[:-1][same]
    for begin in range(0, len(pairs), _CHUNK):
        chunk = pairs[begin : begin + _CHUNK]
        mins = (chunk[:, None] * _A[None, :] + _B[None, :]) >> _SHIFT
        chunk_owner = who[begin : begin + _CHUNK]
        cuts = np.concatenate(([0], np.flatnonzero(np.diff(chunk_owner)) + 1))
        reduced = np.minimum.reduceat(mins, cuts, axis=0)
        targets = chunk_owner[cuts]
        out[targets] = np.minimum(out[targets], reduced)
    return out.astype(np.uint32)


def _keys_of(sigs: np.ndarray) -> np.ndarray:
    """Return the band keys of signatures, shape (n, BANDS): each band's values hashed, the band number on top."""
    rows = sigs.astype(np.uint64).reshape(len(sigs), BANDS, ROWS)
    mixed = np.zeros((len(sigs), BANDS), dtype=np.uint64)
    for column in range(ROWS):
        mixed = mixed * np.uint64(0x9E3779B97F4A7C15) + rows[:, :, column]
    keys = (mixed >> np.uint64(8)) & np.uint64((1 << 55) - 1)
    bands = np.arange(BANDS, dtype=np.uint64) << np.uint64(55)
    return (keys | bands[None, :]).astype(np.int64)


PER_POST = 64  # a passage's id is its post's id * PER_POST + its number, so a post's passages are one id range


def key_text(keys: Sequence[int]) -> str:
    """Return band keys as the tokens the full-text table indexes (hex words)."""
    return " ".join(map(hex, keys))


def index(conn: Connection, posts: Sequence[tuple[int, Post]]) -> int:
    """Index the passages of stored posts given as (id, post); return how many passages were indexed."""
    found = [p for post_id, post in posts for p in passages(post_id, post)[: PER_POST - 1]]
    if not found:
        return 0
    sigs = signatures([p.normal for p in found])
    keys = _keys_of(sigs).tolist()
    ids, number, last = [], 0, None
    for passage in found:
        number = number + 1 if passage.post == last else 0
        last = passage.post
        ids.append(passage.post * PER_POST + number)
    texts = [key_text(row) for row in keys]
    conn.executemany(
        "INSERT INTO echo_passages (id, post, part, idx, words, keys) VALUES (?, ?, ?, ?, ?, ?)",
        [(i, p.post, p.part, p.index, p.words, text) for i, p, text in zip(ids, found, texts, strict=True)],
    )
    if not is_postgres(conn):  # PostgreSQL keeps the bands under a GIN index of echo_passages (feedwatch.store.pg)
        conn.executemany("INSERT INTO echo_bands (rowid, keys) VALUES (?, ?)", zip(ids, texts, strict=True))
    return len(found)


def reindex(conn: Connection, posts: Sequence[tuple[int, Post]]) -> int:
    """Index edited posts again: their old passages go, their current ones come in.

    Posts the index has not read yet are left for `catch_up`, which reads their current text.
    """
    if not posts:
        return 0
    mark = indexed_to(conn)
    read = [(post_id, post) for post_id, post in posts if post_id <= mark]
    drop(conn, [post_id for post_id, _ in read])
    return index(conn, read)


def drop(conn: Connection, post_ids: Sequence[int]) -> None:
    """Remove the passages of these posts from the index."""
    for post_id in post_ids:
        bounds = (post_id * PER_POST, post_id * PER_POST + PER_POST - 1)
        if not is_postgres(conn):
            conn.execute(
                "INSERT INTO echo_bands (echo_bands, rowid, keys) SELECT 'delete', id, keys FROM echo_passages"
                " WHERE id BETWEEN ? AND ?",
                bounds,
            )
        conn.execute("DELETE FROM echo_passages WHERE id BETWEEN ? AND ?", bounds)


def indexed_to(conn: Connection) -> int:
    """Return the id of the last stored post the index has read (0: none)."""
    row = conn.execute("SELECT value FROM echo_state WHERE key = 'indexed_to'").fetchone()
    return int(row[0]) if row else 0


def _set_indexed_to(conn: Connection, post_id: int) -> None:
    conn.execute(
        "INSERT INTO echo_state (key, value) VALUES ('indexed_to', ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [post_id],
    )


def behind(conn: Connection) -> int:
    """Return how many stored posts the index has not read yet."""
    return int(conn.execute("SELECT count(*) FROM posts WHERE id > ?", [indexed_to(conn)]).fetchone()[0])


def catch_up(conn: Connection, batch: int = 5000, progress: Callable[[int], None] | None = None) -> int:
    """Index the posts stored since the index last read, `batch` posts per transaction; return how many posts.

    A database this process may not write (opened read-only) is left as it is: its index is read as it stands.
    """
    from feedwatch.store.db import transaction
    from feedwatch.store.rows import post_from_row

    done = 0
    while True:
        start = indexed_to(conn)
        rows = conn.execute(
            "SELECT id, title, text, author, json FROM posts WHERE id > ? ORDER BY id LIMIT ?", [start, batch]
        ).fetchall()
        if not rows:
            return done
        try:
            # Inside a caller's transaction (a digest being sent under its claim) the work joins it.
            with nullcontext() if conn.in_transaction else transaction(conn):
                if indexed_to(conn) != start:  # another process caught up meanwhile: read again
                    continue
                index(conn, [(row[0], post_from_row(row[1:])) for row in rows])
                _set_indexed_to(conn, rows[-1][0])
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "read-only" in str(exc):
                return done
            raise
        done += len(rows)
        if progress is not None:
            progress(len(rows))


def rebuild(conn: Connection, batch: int = 5000) -> int:
    """Recompute the whole index from the stored posts; return the number of passages indexed."""
    from feedwatch.store.rows import post_from_row

    conn.execute("DELETE FROM echo_passages")
    if not is_postgres(conn):
        conn.execute("INSERT INTO echo_bands (echo_bands) VALUES ('rebuild')")
    total, chunk, last = 0, [], 0
    for row in streamed(conn, "SELECT id, title, text, author, json FROM posts ORDER BY id"):
        chunk.append((row[0], post_from_row(row[1:])))
        last = row[0]
        if len(chunk) >= batch:
            total += index(conn, chunk)
            chunk = []
    total += index(conn, chunk)
    _set_indexed_to(conn, last)
    return total


def candidates(conn: Connection, keys_by_passage: dict[int, str], bucket_cap: int = 200) -> dict[int, set[int]]:
    """Return, for each passage, the other passages that share one of its bands.

    A band shared by more than `bucket_cap` passages is boilerplate (a sign-off every post of a channel
    carries, a slogan) and is left out of the lookup, so a lookup reads at most BANDS x bucket_cap rows.
    """
    found: dict[int, set[int]] = {}
    pg = is_postgres(conn)
    query = (
        "SELECT id FROM echo_passages WHERE string_to_array(keys, ' ') @> ARRAY[?] LIMIT ?"
        if pg
        else "SELECT rowid FROM echo_bands WHERE echo_bands MATCH ? LIMIT ?"
    )
    for passage, keys in keys_by_passage.items():
        near: set[int] = set()
        for key in keys.split():
            members = [m for (m,) in conn.execute(query, (key if pg else f'"{key}"', bucket_cap + 1))]
            if len(members) <= bucket_cap:
                near.update(members)
        near.discard(passage)
        found[passage] = near
    return found
