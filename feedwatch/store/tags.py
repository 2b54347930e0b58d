"""Hashtag ids by normalised key, every raw spelling, and post-hashtag links, written per batch."""

from __future__ import annotations

from collections.abc import Iterable

from feedwatch.parse.text import tag_key
from feedwatch.store.backend import Connection
from feedwatch.store.rows import chunks

_CACHE_LIMIT = 200_000


class TagIds:
    """Hashtag ids known to be committed, so most batches need no lookup; forget() after a rollback."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.keys: dict[str, str] = {}  # raw spelling -> key
        self.spellings: set[tuple[int, str]] = set()
        self._pending: dict[str, int] = {}

    def key(self, spelling: str) -> str:
        key = self.keys.get(spelling)
        if key is None:
            key = self.keys[spelling] = tag_key(spelling)
        return key

    def link(self, conn: Connection, posts: Iterable[tuple[int, tuple[str, ...]]]) -> None:
        """Link each post id to its hashtags, creating hashtags and spellings not seen before."""
        pairs = [(post_id, spelling, self.key(spelling)) for post_id, tags in posts for spelling in tags]
        ids = self._ids(conn, {key for _, _, key in pairs})
        spellings = {(ids[key], spelling) for _, spelling, key in pairs} - self.spellings
        conn.executemany("INSERT OR IGNORE INTO hashtag_spellings (hashtag, spelling) VALUES (?, ?)", sorted(spellings))
        conn.executemany(
            "INSERT OR IGNORE INTO post_hashtags (post, hashtag) VALUES (?, ?)",
            [(post_id, ids[key]) for post_id, _, key in pairs],
        )
        self.spellings |= spellings

    def _ids(self, conn: Connection, keys: set[str]) -> dict[str, int]:
        ids = {k: self.ids[k] for k in keys if k in self.ids}
        missing = sorted(keys - ids.keys())
        for part in chunks(missing):
            marks = ", ".join("?" * len(part))
            ids.update(conn.execute(f"SELECT key, id FROM hashtags WHERE key IN ({marks})", part).fetchall())
        create = [k for k in missing if k not in ids]
        if create:
            first = (conn.execute("SELECT max(id) FROM hashtags").fetchone()[0] or 0) + 1
            fresh = {k: first + n for n, k in enumerate(create)}
            conn.executemany("INSERT INTO hashtags (id, key) VALUES (?, ?)", [(i, k) for k, i in fresh.items()])
            ids.update(fresh)
        self._pending.update(ids)
        return ids

    def committed(self) -> None:
        """The batch committed: what it looked up or created is now safe to remember."""
        if len(self.ids) + len(self._pending) > _CACHE_LIMIT:
            self.forget()
        self.ids.update(self._pending)
        self._pending.clear()

    def forget(self) -> None:
        """Drop everything remembered (after a rollback, or when the cache grows too big)."""
        self.ids.clear()
        self.keys.clear()
        self.spellings.clear()
        self._pending.clear()
