"""A real PostgreSQL for the tests that need one: a fresh database per test, dropped after.

The server is FEEDWATCH_TEST_POSTGRES (a URL of a database this user may create databases
from), else postgresql://postgres@127.0.0.1:5432/postgres. When none answers, these tests
skip with the reason in the summary; with FEEDWATCH_REQUIRE_POSTGRES=1 (CI) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("FEEDWATCH_TEST_POSTGRES") or DEFAULT


def _unavailable(reason: str) -> None:
    if os.environ.get("FEEDWATCH_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"FEEDWATCH_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(f"{reason}; set FEEDWATCH_TEST_POSTGRES to a PostgreSQL URL to run these tests")


def database_url(name: str) -> str:
    """Return the server's URL (postgresql://...) with the database `name`."""
    parts = urlsplit(server_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def fresh_database() -> Iterator[str]:
    """Yield the URL of a new, empty database on the test server; drop it afterwards (a fixture's body)."""
    try:
        admin = psycopg.connect(server_url(), autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        _unavailable(f"no PostgreSQL answers at {server_url().split('@')[-1]} ({str(exc).strip()[:120]})")
    name = f"fw_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield database_url(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
