"""The detector's own tables, in the same SQLite file as the posts.

Everything here can be derived again from the stored posts (`rebuild`), so the
tables are a cache of detector state, not a record: `clear()` empties them.
In a feedwatch database they are part of the store's versioned schema
(migration 007_campaigns); `ensure_schema` makes the same tables on a bare
connection (the detector run on its own) and changes nothing where they exist.

    campaign_meta       key/value: the stream's start time, the schema version
    campaign_tags       one row per tag identity: episode start, last use, packed state
    campaign_actors     one row per actor (channel): when it was first seen
    campaign_pairs      decayed co-launch weight per pair of actors
    campaign_alerts     the alerts raised, once per tier per episode
    campaign_spellings  every raw spelling of a tag and how often it was used
    campaign_tag_days   posts and forwards per tag per UTC day (for charts)
    campaign_links      tags used together in one post while both were new (families)
    campaign_channels   one row per channel: first post, whom it forwards, tag-coining habit (actors.py)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from feedwatch.store.backend import Connection, has_table
from feedwatch.store.db import transaction as store_transaction
from feedwatch.store.schema import CAMPAIGN_ACTOR_TABLES, CAMPAIGN_TABLES, statements

SCHEMA_VERSION = 1


TABLES = (
    "campaign_meta",
    "campaign_tags",
    "campaign_actors",
    "campaign_pairs",
    "campaign_alerts",
    "campaign_spellings",
    "campaign_tag_days",
    "campaign_links",
    "campaign_channels",
)


def connection(db: Any) -> Connection:
    """Return the connection of a Database, or `db` itself when it is a connection."""
    inner = getattr(db, "conn", None)
    return db if inner is None else inner  # type: ignore[no-any-return]


def ensure_schema(db: Any) -> None:
    """Create the detector's tables if they are missing (idempotent)."""
    conn = connection(db)
    # One statement at a time: executescript() would commit a transaction the caller has open.
    for statement in statements(CAMPAIGN_TABLES + CAMPAIGN_ACTOR_TABLES):
        conn.execute(statement)
    # Read first: on a store that has it, this writes nothing, so it never waits for another writer's lock.
    if conn.execute("SELECT 1 FROM campaign_meta WHERE key = 'schema_version'").fetchone() is None:
        conn.execute(
            "INSERT OR IGNORE INTO campaign_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )


def has_tables(db: Any) -> bool:
    """True when the detector's tables exist (readers check this instead of creating them)."""
    return has_table(connection(db), "campaign_tags")


def clear(db: Any) -> None:
    """Empty the detector's tables (before a rebuild)."""
    conn = connection(db)
    ensure_schema(conn)
    for table in TABLES:
        conn.execute(f"DELETE FROM {table}" + (" WHERE key != 'schema_version'" if table == "campaign_meta" else ""))


@contextmanager
def transaction(conn: Connection) -> Iterator[None]:
    """Run the block in one write transaction (whatever the connection's isolation level).

    A transaction the connection's isolation level opened implicitly is committed first.
    """
    if conn.in_transaction:
        conn.execute("COMMIT")
    with store_transaction(conn):
        yield
