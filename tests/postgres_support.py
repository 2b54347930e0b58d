"""A fresh PostgreSQL database for the scripts that need a whole one (the workers' bench and soak).

The server is FEEDWATCH_TEST_POSTGRES, else postgresql://postgres@127.0.0.1:5432/postgres, as for
the tests (whose `postgres_url` fixture in conftest.py gives a fresh schema instead).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg

DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("FEEDWATCH_TEST_POSTGRES") or DEFAULT


def database_url(name: str) -> str:
    """Return the server's URL (postgresql://...) with the database `name`."""
    parts = urlsplit(server_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def fresh_database() -> Iterator[str]:
    """Yield the URL of a new, empty database on the server; drop it when resumed (psycopg.Error if none answers)."""
    name = f"fw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url(), autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield database_url(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
