"""What each delivery target has been sent, so no alert reaches it twice.

Two tables in the feedwatch database:
    digest_sent        (target, key, sent_at)            one row per alert delivered to a target
    digest_deliveries  (target, until, sent_at, alerts, ok, error)   every attempt, failed ones too

An alert is recorded only after its target accepted the digest; a failed
delivery records the attempt (for scraper-health style reporting) but marks
nothing sent, so the next digest carries the same alerts again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlite_utils import Database

SENT, DELIVERIES = "digest_sent", "digest_deliveries"


def ensure_tables(db: Database) -> None:
    """Create the delivery tables when missing (safe to call every time)."""
    db[SENT].create(  # type: ignore[union-attr]
        {"target": str, "key": str, "sent_at": str}, pk=("target", "key"), if_not_exists=True
    )
    db[DELIVERIES].create(  # type: ignore[union-attr]
        {"id": int, "target": str, "until": str, "sent_at": str, "alerts": int, "ok": int, "error": str},
        pk="id",
        if_not_exists=True,
    )
    db[DELIVERIES].create_index(["target", "ok", "until"], if_not_exists=True)  # type: ignore[union-attr]


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
    db: Database, target: str, until: datetime, keys: Iterable[str], error: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record one delivery attempt; mark `keys` sent only when it succeeded (`error` is None)."""
    ensure_tables(db)
    stamp = (now or datetime.now(UTC)).isoformat()
    keys = list(keys)
    conn = db.conn
    # One transaction, in plain SQL: sqlite-utils' writes would commit it half-way.
    outer = conn.in_transaction
    if not outer:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            f"INSERT INTO {DELIVERIES} (target, until, sent_at, alerts, ok, error) VALUES (?, ?, ?, ?, ?, ?)",
            [target, until.isoformat(), stamp, len(keys), int(error is None), error],
        )
        if error is None:
            conn.executemany(f"INSERT OR IGNORE INTO {SENT} (target, key, sent_at) VALUES (?, ?, ?)",
                             [(target, key, stamp) for key in keys])
    except BaseException:
        if not outer:
            conn.execute("ROLLBACK")
        raise
    if not outer:
        conn.execute("COMMIT")
