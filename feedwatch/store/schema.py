"""The store's schema as an ordered list of migrations.

Each migration is a function of a `sqlite_utils.Database`; `migrate()` applies
the ones not yet recorded in the `migrations` table, in order, in one
transaction, so a database is always at a known version. Never edit a
migration that has shipped: add a new one at the end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from feedwatch.errors import StoreError
from feedwatch.store.backend import Connection

# PRAGMA application_id of a feedwatch database: "FDWT".
APPLICATION_ID = 0x46445754


def _run(db: sqlite_utils.Database, script: str) -> None:
    """Execute each statement of `script` (executescript would commit the open transaction)."""
    statement = ""
    for line in script.strip().splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete statement in migration: {statement[:60]!r}")


def m001_posts(db: sqlite_utils.Database) -> None:
    """Channels and their rename history; posts keyed by channel+id or fingerprint; every route in."""
    db.table("channels").create(
        {
            "id": int,
            "username": str,
            "title": str,
            "channel_id": int,
            "access_hash": int,
            "high_water": int,
            "last_polled_at": str,
            "first_seen": str,
        },
        pk="id",
        not_null={"username", "first_seen"},
    )
    _run(
        db,
        """
        CREATE UNIQUE INDEX channels_username ON channels(username COLLATE NOCASE);
        CREATE INDEX channels_channel_id ON channels(channel_id);
        CREATE TABLE channel_names (
            channel INTEGER NOT NULL REFERENCES channels(id),
            username TEXT NOT NULL,
            title TEXT,
            first_seen TEXT NOT NULL
        );
        CREATE UNIQUE INDEX channel_names_unique ON channel_names(channel, username, ifnull(title, ''));
        -- ident: 'c:<channel, lower case>/<message id>' for posts with an id, 'f:<fingerprint>' without.
        -- json: the Post JSON without title, text and author, which are the columns beside it.
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            ident TEXT NOT NULL,
            channel TEXT,
            message_id INTEGER,
            fingerprint TEXT NOT NULL,
            kind TEXT NOT NULL,
            date TEXT,
            title TEXT,
            text TEXT NOT NULL,
            author TEXT,
            key_points TEXT,
            views INTEGER,
            forwards INTEGER,
            json TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            text_since TEXT NOT NULL
        );
        CREATE UNIQUE INDEX posts_ident ON posts(ident);
        CREATE INDEX posts_fingerprint ON posts(fingerprint);
        CREATE INDEX posts_date ON posts(date);
        CREATE TABLE post_sources (
            post INTEGER NOT NULL REFERENCES posts(id),
            format TEXT NOT NULL,
            path TEXT,
            idx INTEGER,
            input TEXT,
            first_seen TEXT NOT NULL
        );
        CREATE UNIQUE INDEX post_sources_route ON post_sources(post, format, ifnull(path, ''), ifnull(idx, -1));
    """,
    )


def m002_history(db: sqlite_utils.Database) -> None:
    """Old texts of edited posts, and the counters seen at each sighting."""
    _run(
        db,
        """
        CREATE TABLE post_versions (
            id INTEGER PRIMARY KEY,
            post INTEGER NOT NULL REFERENCES posts(id),
            title TEXT,
            text TEXT NOT NULL,
            since TEXT,
            until TEXT,
            format TEXT
        );
        CREATE INDEX post_versions_post ON post_versions(post);
        CREATE TABLE observations (
            id INTEGER PRIMARY KEY,
            post INTEGER NOT NULL REFERENCES posts(id),
            observed_at TEXT NOT NULL,
            views INTEGER,
            forwards INTEGER,
            replies INTEGER,
            reactions TEXT,
            format TEXT,
            path TEXT
        );
        -- One sighting per post, time and route: an older capture ingested again adds nothing.
        CREATE UNIQUE INDEX observations_post ON observations(post, observed_at, ifnull(format, ''), ifnull(path, ''));
    """,
    )


def m003_hashtags(db: sqlite_utils.Database) -> None:
    """Hashtags by normalised key (feedwatch.parse.text.tag_key), every raw spelling, links to posts."""
    _run(
        db,
        """
        CREATE TABLE hashtags (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
        CREATE TABLE hashtag_spellings (
            hashtag INTEGER NOT NULL REFERENCES hashtags(id),
            spelling TEXT NOT NULL,
            PRIMARY KEY (hashtag, spelling)
        ) WITHOUT ROWID;
        CREATE TABLE post_hashtags (
            post INTEGER NOT NULL REFERENCES posts(id),
            hashtag INTEGER NOT NULL REFERENCES hashtags(id),
            PRIMARY KEY (post, hashtag)
        ) WITHOUT ROWID;
        CREATE INDEX post_hashtags_hashtag ON post_hashtags(hashtag, post);
    """,
    )


def m004_search(db: sqlite_utils.Database) -> None:
    """FTS5 over title, text, key points and author, kept in step with posts by triggers."""
    _run(
        db,
        """
        CREATE VIRTUAL TABLE posts_fts USING fts5(
            title, text, key_points, author,
            content='posts', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
            INSERT INTO posts_fts(rowid, title, text, key_points, author)
            VALUES (new.id, new.title, new.text, new.key_points, new.author);
        END;
        CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
            INSERT INTO posts_fts(posts_fts, rowid, title, text, key_points, author)
            VALUES ('delete', old.id, old.title, old.text, old.key_points, old.author);
        END;
        CREATE TRIGGER posts_fts_update AFTER UPDATE OF title, text, key_points, author ON posts BEGIN
            INSERT INTO posts_fts(posts_fts, rowid, title, text, key_points, author)
            VALUES ('delete', old.id, old.title, old.text, old.key_points, old.author);
            INSERT INTO posts_fts(rowid, title, text, key_points, author)
            VALUES (new.id, new.title, new.text, new.key_points, new.author);
        END;
    """,
    )


def m005_runs(db: sqlite_utils.Database) -> None:
    """What each ingest or poll read, its counts, and its errors; kind is 'ok' or the first error's kind."""
    db.table("ingest_runs").create(
        {
            "id": int,
            "source": str,
            "kind": str,
            "started_at": str,
            "finished_at": str,
            "new": int,
            "updated": int,
            "unchanged": int,
            "failed": int,
            "errors": str,
        },
        pk="id",
        not_null={"source", "kind", "started_at", "finished_at"},
    )
    db.execute("CREATE INDEX ingest_runs_source ON ingest_runs(source, finished_at)")


def m006_index_by_batch(db: sqlite_utils.Database) -> None:
    """New posts are indexed for search by the ingest batch, in one statement, not by a trigger per row.

    A trigger fires a statement per row, and FTS5 writes its pending index to
    disk at each one: indexing a batch in one INSERT ... SELECT is about five
    times cheaper. Edits and deletes still re-index through their triggers.
    """
    db.execute("DROP TRIGGER posts_fts_insert")


# The detector's and the digests' tables as migrations 007 and 008 made them. Like every migration, never
# edit these: a later change is a new migration. feedwatch.campaigns.schema and feedwatch.digest.state
# run the same statements on a bare connection (no store), so the two can never drift apart.
CAMPAIGN_TABLES = """
CREATE TABLE IF NOT EXISTS campaign_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaign_tags (
    tag TEXT PRIMARY KEY, episode_start REAL NOT NULL, last_seen REAL NOT NULL, state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS campaign_tags_episode_start ON campaign_tags (episode_start);
CREATE TABLE IF NOT EXISTS campaign_actors (actor TEXT PRIMARY KEY, first_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS campaign_pairs (
    a TEXT NOT NULL, b TEXT NOT NULL, weight REAL NOT NULL, updated REAL NOT NULL, PRIMARY KEY (a, b)
);
CREATE TABLE IF NOT EXISTS campaign_alerts (
    id INTEGER PRIMARY KEY,
    tag TEXT NOT NULL,
    tier TEXT NOT NULL,
    episode_start REAL NOT NULL,
    alerted_at REAL NOT NULL,
    channels TEXT NOT NULL,
    posts INTEGER NOT NULL,
    forwards INTEGER NOT NULL,
    score REAL NOT NULL,
    evidence TEXT NOT NULL,
    UNIQUE (tag, tier, episode_start, alerted_at)
);
CREATE INDEX IF NOT EXISTS campaign_alerts_alerted_at ON campaign_alerts (alerted_at);
CREATE TABLE IF NOT EXISTS campaign_spellings (
    tag TEXT NOT NULL, spelling TEXT NOT NULL, uses INTEGER NOT NULL, PRIMARY KEY (tag, spelling)
);
CREATE TABLE IF NOT EXISTS campaign_tag_days (
    tag TEXT NOT NULL, day TEXT NOT NULL, posts INTEGER NOT NULL, forwards INTEGER NOT NULL,
    PRIMARY KEY (tag, day)
);
CREATE TABLE IF NOT EXISTS campaign_links (
    a TEXT NOT NULL, b TEXT NOT NULL, uses INTEGER NOT NULL, PRIMARY KEY (a, b)
);
"""
# Migration 011: what the detector learns about each channel from all its posts (first post, whom it
# forwards, its tag-coining habit), packed per channel; see feedwatch.campaigns.actors.
CAMPAIGN_ACTOR_TABLES = """
CREATE TABLE IF NOT EXISTS campaign_channels (channel TEXT PRIMARY KEY, state TEXT NOT NULL);
"""
DIGEST_TABLES = """
CREATE TABLE IF NOT EXISTS digest_sent (target TEXT, key TEXT, sent_at TEXT, PRIMARY KEY (target, key));
CREATE TABLE IF NOT EXISTS digest_deliveries (
    id INTEGER PRIMARY KEY, target TEXT, until TEXT, sent_at TEXT, alerts INTEGER, ok INTEGER, error TEXT
);
CREATE INDEX IF NOT EXISTS idx_digest_deliveries_target_ok_until ON digest_deliveries (target, ok, until);
CREATE TABLE IF NOT EXISTS digest_leases (target TEXT PRIMARY KEY, holder TEXT NOT NULL, expires TEXT NOT NULL);
"""


def statements(script: str) -> list[str]:
    """Return the statements of a script of CREATE statements, one string each."""
    return [part.strip() for part in script.split(";") if part.strip()]


def m007_campaigns(db: sqlite_utils.Database) -> None:
    """The campaign detector's tables (see feedwatch.campaigns.schema): part of the versioned schema.

    Databases made before this migration may have them already (the detector
    created them on first use), hence IF NOT EXISTS.
    """
    _run(db, CAMPAIGN_TABLES + "INSERT OR IGNORE INTO campaign_meta (key, value) VALUES ('schema_version', '1');")


def m008_digests(db: sqlite_utils.Database) -> None:
    """What each digest target was sent, every delivery attempt, and who is sending to a target now.

    As with the campaign tables, older databases may have the first two already.
    """
    _run(db, DIGEST_TABLES)


def m009_identity(db: sqlite_utils.Database) -> None:
    """Posts with a message id are identified by their chat and that id, never by their text.

    Identities of posts with an id are now `c:<username>/<id>`, `i:<channel id>/<id>`,
    `t:<export title>/<id>` or `m:<id>/<fingerprint>` (see feedwatch.store.merge).
    A channel row may now lack a username: a chat read only from a Telegram
    Desktop export is recorded by its numeric id or its title. Rows that
    earlier versions stored under their text fingerprint although they had a
    message id are re-keyed (feedwatch.store.repair.rekey); what those versions
    merged comes back when the export is ingested again.
    """
    _drop_not_null(db, "channels", "username")
    from feedwatch.store.repair import rekey

    rekey(db.conn)


def _drop_not_null(db: sqlite_utils.Database, table: str, column: str) -> None:
    """Rebuild `table` with `column` nullable, keeping every other column, its rows and its indexes.

    SQLite cannot alter a column's constraint in place; the table is copied
    into a new one of the same columns, as SQLite's documentation advises.
    """
    columns = db.execute(f"PRAGMA table_info({table})").fetchall()  # cid, name, type, notnull, default, pk
    indexes = [
        r[0]
        for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table]
        )
    ]
    parts = [
        f"{name} {kind}"
        + (" PRIMARY KEY" if pk else "")
        + (" NOT NULL" if notnull and name != column else "")
        + (f" DEFAULT {default}" if default is not None else "")
        for _, name, kind, notnull, default, pk in columns
    ]
    names = ", ".join(name for _, name, *_ in columns)
    db.execute(f"CREATE TABLE {table}_rebuilt ({', '.join(parts)})")
    db.execute(f"INSERT INTO {table}_rebuilt ({names}) SELECT {names} FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")
    for index in indexes:
        db.execute(index)


def m010_retry_at(db: sqlite_utils.Database) -> None:
    """Polling progress that must survive a restart: when a rate-limited channel may be asked again
    (`retry_at`, ISO 8601 UTC), and where an unfinished walk of its pages resumes (`resume_before`,
    `resume_top`: the posts between them are stored, the next poll reads below `resume_before`)."""
    _run(
        db,
        """
        ALTER TABLE channels ADD COLUMN retry_at TEXT;
        ALTER TABLE channels ADD COLUMN resume_before INTEGER;
        ALTER TABLE channels ADD COLUMN resume_top INTEGER;
    """,
    )


def m013_echoes(db: sqlite_utils.Database) -> None:
    """The passage index for echoes (feedwatch.store.passages): each passage's LSH band keys, indexed by a
    full-text table over them (FTS5 writes a batch's keys far cheaper than a B-tree row per key). A passage's
    id is its post's id * 64 + its number. `echo_state` says how far the index has read the posts: those
    stored before this migration, like every new one, are indexed when the index is first read
    (feedwatch.store.passages.catch_up), so opening a large store stays quick.
    """
    _run(
        db,
        """
        CREATE TABLE echo_passages (
            id INTEGER PRIMARY KEY,
            post INTEGER NOT NULL REFERENCES posts(id),
            part TEXT NOT NULL,
            idx INTEGER NOT NULL,
            words INTEGER NOT NULL,
            keys TEXT NOT NULL
        );
        CREATE VIRTUAL TABLE echo_bands USING fts5(
            keys, content='echo_passages', content_rowid='id', columnsize=0, detail=none
        );
        CREATE TABLE echo_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    """,
    )


def m011_campaign_actors(db: sqlite_utils.Database) -> None:
    """Channels as the campaign detector learns them; the detector's packed tag state changed shape.

    The detector's tables are a cache of what the stored posts say: the old tag states are dropped
    (their format changed) and `feedwatch campaigns --rebuild` recomputes them; alerts already
    raised are kept.
    """
    _run(db, CAMPAIGN_ACTOR_TABLES)
    if "campaign_tags" in db.table_names():
        for table in ("campaign_tags", "campaign_pairs", "campaign_actors"):
            db.execute(f"DELETE FROM {table}")
        db.execute("DELETE FROM campaign_meta WHERE key != 'schema_version'")


def m014_folder_files(db: sqlite_utils.Database) -> None:
    """The inputs of watched folders already read (feedwatch.folders): path, content SHA-256, size, outcome.

    status is 'ingested' or 'failed'. Earlier versions created this table on
    first use, outside the migrations; IF NOT EXISTS keeps their rows, so those
    inputs are not read again.
    """
    _run(
        db,
        """
        CREATE TABLE IF NOT EXISTS folder_files (
            path TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            status TEXT NOT NULL,
            posts INTEGER NOT NULL,
            seen_at TEXT NOT NULL
        );
    """,
    )


ACTOR_COLUMNS = """
ALTER TABLE posts ADD COLUMN actor TEXT;
ALTER TABLE posts ADD COLUMN origin TEXT;
ALTER TABLE posts ADD COLUMN actor_name TEXT;
"""


def m015_actors(db: sqlite_utils.Database) -> None:
    """Each post's actor, the origin of a forward and the actor's name, as columns of posts (the one rule of
    feedwatch.store.actor, applied when a post is written), so the digest and the channel profiles read
    them rather than deriving them again in SQL. The stored posts get theirs here, a page at a time, with a
    progress bar on a terminal.
    """
    _run(db, ACTOR_COLUMNS)
    backfill_actors(db.conn)


def _no_progress(items: Iterator[Any], label: str, total: int | None) -> Iterator[Any]:
    return items


# How a long migration step shows its progress: `progress(items, label, total)` wraps the items it works through.
# The library shows none; the command line installs its terminal bar here (feedwatch.cli.main).
progress: Callable[[Iterator[Any], str, int | None], Iterator[Any]] = _no_progress


def backfill_actors(conn: Connection) -> None:
    """Fill the actor columns of the stored posts, with `progress` around them (both backends' migrations)."""
    from feedwatch.store.actor import backfill

    backfill(conn, lambda rows, total: progress(rows, "upgrading the store: each post's actor", total))


# What FTS5 may hold in memory of a transaction's new index entries before it writes them out as a segment.
SEARCH_PENDING_BYTES = 16 * 1024 * 1024


def m016_search_segments(db: sqlite_utils.Database) -> None:
    """The search index writes each ingest batch as one segment: FTS5 keeps up to 16 MiB of a transaction's
    new entries in memory (its `hashsize`; 1 MiB by default) before writing them, so a batch of 5,000 posts
    is one segment rather than several, and FTS5 merges segments (rewriting their entries) less often.
    """
    db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('hashsize', ?)", [SEARCH_PENDING_BYTES])


# The highest post id ever given, kept apart from the posts: a post id is never given twice, even after the newest
# posts were deleted (an input read again that no longer holds them, two rows merged), so whatever reads the
# posts past a stored id (the campaign detector, the echo index, workers) never skips a post that took an old id.
POST_IDS = "CREATE TABLE post_ids (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"


def m017_post_ids(db: sqlite_utils.Database) -> None:
    """The highest post id given so far (POST_IDS), so that ids are never given again."""
    _run(db, POST_IDS)


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_posts", m001_posts),
    ("002_history", m002_history),
    ("003_hashtags", m003_hashtags),
    ("004_search", m004_search),
    ("005_runs", m005_runs),
    ("006_index_by_batch", m006_index_by_batch),
    ("007_campaigns", m007_campaigns),
    ("008_digests", m008_digests),
    ("009_identity", m009_identity),
    ("010_retry_at", m010_retry_at),
    ("011_campaign_actors", m011_campaign_actors),
    ("013_echoes", m013_echoes),
    ("014_folder_files", m014_folder_files),
    ("015_actors", m015_actors),
    ("016_search_segments", m016_search_segments),
    ("017_post_ids", m017_post_ids),
]


def applied(db: sqlite_utils.Database) -> list[str]:
    """Return the names of the migrations recorded in `db`, in the order they were applied."""
    if "migrations" not in db.table_names():
        return []
    return [row[0] for row in db.execute("SELECT name FROM migrations ORDER BY rowid").fetchall()]


def check_current(db: sqlite_utils.Database, path: str = "database") -> None:
    """Raise StoreError unless `db` has exactly the migrations this feedwatch knows (for read-only files)."""
    known = [name for name, _ in MIGRATIONS]
    done = applied(db)
    newer = [name for name in done if name not in known]
    if newer:
        raise StoreError(f"{path}: made by a newer feedwatch (schema {newer[-1]}). Upgrade feedwatch to open it")
    if any(name not in done for name in known):
        raise StoreError(
            f"{path}: read-only, and made by an older feedwatch (schema {done[-1] if done else 'none'}); "
            "open it once with write access to upgrade it, or give a writable copy with --db"
        )


def migrate(db: sqlite_utils.Database, upto: int | None = None, path: str = "database") -> list[str]:
    """Apply the migrations `db` lacks (the first `upto` only, if given); return their names.

    The caller's connection is in autocommit mode and this opens the
    transaction; the steps run inside it and may not end it (see
    feedwatch.store.db.held).
    """
    from feedwatch.store.db import held, transaction  # feedwatch.store.db imports this module

    wanted = MIGRATIONS if upto is None else MIGRATIONS[:upto]
    known = {name for name, _ in MIGRATIONS}
    done = applied(db)
    if all(name in done for name, _ in wanted) and all(name in known for name in done):
        return []  # up to date: no write lock taken, so opening to read never waits on a writer
    with transaction(db.conn):
        done = applied(db)
        newer = [name for name in done if name not in known]
        if newer:
            raise StoreError(f"{path}: made by a newer feedwatch (schema {newer[-1]}). Upgrade feedwatch to open it")
        if "migrations" not in db.table_names():
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        ran = []
        with held(db.conn):
            for name, step in wanted:
                if name in done:
                    continue
                step(db)
                db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [name, _now()])
                ran.append(name)
    return ran


def _now() -> str:
    return datetime.now(UTC).isoformat()
