"""Shared test fixtures: paths, the real samples, golden files (`--regen-golden` rewrites them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
# The real samples (../shared/formats beside the project); tests that read them skip when absent.
SHARED_FORMATS = next(
    (p for p in (ROOT.parent / "shared" / "formats", ROOT.parent.parent / "shared" / "formats") if p.is_dir()),
    ROOT.parent / "shared" / "formats",
)


def only_posts_or_parse_error(parse: Any, data: bytes, name: str) -> None:
    """A streaming parser `parse(stream, name, options)` on `data` gives Posts, or a ParseError naming `name`."""
    import io

    from feedwatch.errors import ParseError
    from feedwatch.models import Post
    from feedwatch.parse import Options

    try:
        posts = list(parse(io.BytesIO(data), name, Options()))
    except ParseError as exc:
        assert name in str(exc)
        return
    assert all(isinstance(p, Post) for p in posts)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", help="rewrite golden files from the current output")


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root, so paths in outputs are repository-relative."""
    monkeypatch.chdir(ROOT)
    return ROOT


def _dump(path: Path, actual: Any) -> str:
    if path.suffix == ".jsonl":  # a list of objects, one per line
        return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in actual)
    return json.dumps(actual, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return json.loads(text)


@pytest.fixture
def golden(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Compare a JSON-able value with a golden file (.json, or .jsonl for a list), or rewrite it."""
    regen = request.config.getoption("--regen-golden")

    def check(path: Path, actual: Any) -> None:
        text = _dump(path, actual)
        if regen or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if not regen:
                pytest.fail(f"{path.name} did not exist; written, review it and run again")
        assert _load(path) == json.loads(json.dumps(actual, ensure_ascii=False))

    return check


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))


@pytest.fixture
def formats_dir() -> Path:
    """The real format samples (../shared/formats/); the test is skipped where they are not."""
    if not SHARED_FORMATS.is_dir():
        pytest.skip("the real samples in ../shared/formats/ are not here")
    return SHARED_FORMATS


# ---- the store's two backends -------------------------------------------------------------------------------------
# The store's behaviour suite runs on SQLite and on PostgreSQL: the server at $FEEDWATCH_TEST_POSTGRES, else the one
# on 127.0.0.1:5432 when it answers. Without one the PostgreSQL half is skipped, saying why; with
# FEEDWATCH_REQUIRE_POSTGRES=1 (CI) that is a failure instead. Each test gets a schema of its own, dropped after.
DEFAULT_TEST_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a PostgreSQL server tests may create schemas in (skips, or fails in CI, without one)."""
    import os

    url = os.environ.get("FEEDWATCH_TEST_POSTGRES") or DEFAULT_TEST_POSTGRES
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # no server, no driver, refused: the reason is shown
        reason = f"no PostgreSQL at {url} ({' '.join(str(exc).split())[:160]}); set FEEDWATCH_TEST_POSTGRES"
        if os.environ.get("FEEDWATCH_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"FEEDWATCH_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return url


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    """Create a fresh schema on `server`; give its URL; drop it after."""
    import os
    import uuid

    import psycopg

    schema = f"fwtest_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield url_with_schema(server, schema)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A postgresql:// URL of a fresh, empty schema on the test server; the schema is dropped after the test."""
    with postgres_schema(postgres_server) as url:
        yield url


def url_with_schema(url: str, schema: str) -> str:
    """Return `url` with its search_path set to `schema` (libpq's options parameter)."""
    return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives: an SQLite file, or a fresh PostgreSQL schema (see postgres_url)."""
    if request.param == "sqlite":
        return str(tmp_path / "fw.db")
    return str(request.getfixturevalue("postgres_url"))
