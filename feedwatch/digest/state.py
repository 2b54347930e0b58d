"""What each delivery target has been sent, so no alert reaches it twice.

Three tables in the feedwatch database (created by the store's migrations):
    digest_sent        (target, key, sent_at)            one row per alert delivered to a target
    digest_deliveries  (target, until, sent_at, alerts, ok, error)   every attempt, failed ones too
    digest_leases      (target, holder, expires)         who is sending to a target right now

An alert is recorded only after its target accepted the digest; a failed
delivery records the attempt (for scraper-health style reporting) but marks
nothing sent, so the next digest carries the same alerts again.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from feedwatch.store.backend import Connection, Database
from feedwatch.store.db import transaction
from feedwatch.store.schema import DIGEST_TABLES, statements

SENT, DELIVERIES, LEASES = "digest_sent", "digest_deliveries", "digest_leases"
# How long a claim on a target holds when its holder never lets go (killed mid-send).
LEASE = timedelta(minutes=15)


def ensure_tables(db: Database) -> None:
    """Create the delivery tables when missing (safe to call every time; a store has them already)."""
    for statement in statements(DIGEST_TABLES):
        db.execute(statement)


def holder_name() -> str:
    """Return a name for this sender that no other process shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(db: Database, target: str, holder: str, now: datetime | None = None, lease: timedelta = LEASE) -> bool:
    """Take the right to send to `target`; False while another sender holds an unexpired claim.

    Two `digest --send` runs (or a run and the scheduled job) must not both
    build and send the same alerts: whoever claims the target first sends, the
    other skips it. A claim left by a killed sender expires after `lease`,
    counted from `now`, the wall clock unless given. The claim is committed at
    once so other senders see it, so the connection must not be inside a
    transaction.
    """
    now = now or datetime.now(UTC)
    ensure_tables(db)
    with _own_transaction(db.conn) as conn:
        row = conn.execute(f"SELECT holder, expires FROM {LEASES} WHERE target = ?", [target]).fetchone()
        free = row is None or row[0] == holder or datetime.fromisoformat(row[1]) <= now
        if free:
            conn.execute(
                f"INSERT OR REPLACE INTO {LEASES} (target, holder, expires) VALUES (?, ?, ?)",
                [target, holder, (now + lease).isoformat()],
            )
    return free


def release(db: Database, target: str, holder: str) -> None:
    """Give up a claim taken with `claim` (a claim someone else holds is left alone)."""
    with _own_transaction(db.conn) as conn:
        conn.execute(f"DELETE FROM {LEASES} WHERE target = ? AND holder = ?", [target, holder])


@contextmanager
def _own_transaction(conn: Connection) -> Iterator[Connection]:
    """Run the block in a write transaction committed at its end; refuse to join one already open."""
    if conn.in_transaction:
        raise RuntimeError("a digest claim must be committed on its own: the connection is inside a transaction")
    with transaction(conn):
        yield conn


def sent_keys(db: Database, target: str) -> set[str]:
    """Return the alert keys already delivered to `target`."""
    ensure_tables(db)
    return {row[0] for row in db.execute(f"select key from {SENT} where target = ?", [target])}


def last_delivered(db: Database, target: str) -> datetime | None:
    """Return the end of the window of the last digest `target` accepted, or None."""
    return _until(db, f"select max(until) from {DELIVERIES} where target = ? and ok = 1", target)


def first_attempt(db: Database, target: str) -> datetime | None:
    """Return the end of the window of the first digest tried for `target`, or None."""
    return _until(db, f"select min(until) from {DELIVERIES} where target = ?", target)


def _until(db: Database, sql: str, target: str) -> datetime | None:
    ensure_tables(db)
    row = db.execute(sql, [target]).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def record(
    db: Database,
    target: str,
    until: datetime,
    keys: Iterable[str],
    error: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record one delivery attempt; mark `keys` sent only when it succeeded (`error` is None)."""
    ensure_tables(db)
    stamp = (now or datetime.now(UTC)).isoformat()
    keys = list(keys)
    # One transaction, in plain SQL: sqlite-utils' writes would commit it half-way.
    conn = db.conn
    with transaction(conn, join=True):
        conn.execute(
            f"INSERT INTO {DELIVERIES} (target, until, sent_at, alerts, ok, error) VALUES (?, ?, ?, ?, ?, ?)",
            [target, until.isoformat(), stamp, len(keys), int(error is None), error],
        )
        if error is None:
            conn.executemany(
                f"INSERT OR IGNORE INTO {SENT} (target, key, sent_at) VALUES (?, ?, ?)",
                [(target, key, stamp) for key in keys],
            )
