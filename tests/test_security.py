"""Security review, one test per point: SQL parameters, paths, secrets.

(HTML digest escaping, webhook/SMTP targets and Telethon session modes are
tested beside their code: test_digest_*, test_telethon_source.)
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from feedwatch.errors import ConfigError, FeedwatchError
from feedwatch.models import Post, Source
from feedwatch.parse import expand
from feedwatch.parse.structure import finish
from feedwatch.store import Store

HOSTILE = "zq'\"); DROP TABLE posts; --"


class _TracingCursor(sqlite3.Cursor):
    def execute(self, sql, *args):  # type: ignore[no-untyped-def, override]
        self.connection.statements.append(sql)  # type: ignore[attr-defined]
        return super().execute(sql, *args)

    def executemany(self, sql, *args):  # type: ignore[no-untyped-def, override]
        self.connection.statements.append(sql)  # type: ignore[attr-defined]
        return super().executemany(sql, *args)


class _TracingConnection(sqlite3.Connection):
    """Records the SQL text the store sends, before SQLite binds any parameter into it."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.statements: list[str] = []

    def cursor(self, factory=_TracingCursor):  # type: ignore[no-untyped-def, override]
        return super().cursor(factory)

    def execute(self, sql, *args):  # type: ignore[no-untyped-def, override]
        return self.cursor().execute(sql, *args)

    def executemany(self, sql, *args):  # type: ignore[no-untyped-def, override]
        return self.cursor().executemany(sql, *args)

    def executescript(self, script):  # type: ignore[no-untyped-def, override]
        self.statements.append(script)
        return super().executescript(script)


def test_hostile_values_reach_sqlite_only_as_parameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = sqlite3.connect
    connections: list[_TracingConnection] = []

    def connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        conn = real_connect(*args, factory=_TracingConnection, **kwargs)
        connections.append(conn)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    post = finish(
        Post(
            channel="evil_chan",
            message_id=1,
            text=f"{HOSTILE} #Tag {HOSTILE}",
            author=HOSTILE,
            source=Source("tme-html", HOSTILE, 0),
        )
    )
    with Store.open(tmp_path / "s.db") as store:
        store.ingest([post], HOSTILE)
        store.ingest([post], HOSTILE)
        for filters in ({"channel": HOSTILE}, {"hashtag": HOSTILE}, {}):
            store.search("zq", **filters)
        with contextlib.suppress(FeedwatchError):  # a malformed query is a clear error; what matters is the SQL
            store.search(HOSTILE)
        assert list(store.posts(channel=HOSTILE)) == []
        assert store.count() == 1
    statements = [s for conn in connections for s in conn.statements]
    assert len(statements) > 10
    assert not [s for s in statements if HOSTILE in s or "DROP TABLE posts" in s]  # migrations may rebuild others


def test_a_link_out_of_a_watched_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Forwarded from X\nnot yours\n", encoding="utf-8")
    watched = tmp_path / "watched"
    (watched / "sub").mkdir(parents=True)
    (watched / "own.txt").write_text("Forwarded from X\nmine\n", encoding="utf-8")
    (watched / "link.txt").symlink_to(outside / "secret.txt")
    (watched / "inside.txt").symlink_to(watched / "own.txt")
    (watched / "sub" / "up").symlink_to(outside, target_is_directory=True)
    found = list(expand([str(watched)]))
    assert found == [str(watched / "inside.txt"), str(watched / "own.txt")]


def test_a_secret_written_in_the_config_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    from feedwatch.config import load_config

    path = tmp_path / "c.toml"
    path.write_text('[telethon]\napi_hash = "s3cr3t-hash-value"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "TG_API_HASH" in str(info.value)
    assert "s3cr3t-hash-value" not in str(info.value)


def test_credentials_from_the_environment_never_reach_output_or_the_store(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    session = tmp_path / "account.session"  # not created: with no session nothing connects anywhere
    config.write_text(
        f'[telethon]\nsession = "{session}"\n[folders]\npaths = []\n'
        '[[channels]]\nname = "MFARussia"\nsource = "telethon"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "TG_API_ID": "918273", "TG_API_HASH": "hash-0f1e2d3c4b5a"}
    db = tmp_path / "s.db"
    result = subprocess.run(
        [sys.executable, "-m", "feedwatch", "run", "--config", str(config), "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert "MFARussia" in output and "no Telethon session file" in output  # tried and reported
    for secret in ("918273", "hash-0f1e2d3c4b5a", str(session)):
        assert secret not in output
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert "hash-0f1e2d3c4b5a" not in dump and "918273" not in dump
