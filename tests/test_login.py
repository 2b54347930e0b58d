"""`feedwatch login`: Telethon's interactive login, tested at the client seam (no network)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from feedwatch.cli import main


class Client:
    """Stands in for telethon.sync.TelegramClient: start() writes the session the way SQLite would."""

    made: ClassVar[list[Client]] = []
    fail: ClassVar[Exception | None] = None

    def __init__(self, session: str, api_id: int, api_hash: str):
        self.session, self.api_id, self.api_hash = Path(session), api_id, api_hash
        self.disconnected = False
        Client.made.append(self)

    def start(self) -> Client:
        if Client.fail is not None:
            raise Client.fail
        self.session.unlink()
        self.session.write_bytes(b"SQLite format 3\x00")
        os.chmod(self.session, 0o644)
        return self

    def get_me(self) -> Any:
        return SimpleNamespace(username="analyst", first_name="A")

    def disconnect(self) -> None:
        self.disconnected = True


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    Client.made, Client.fail = [], None
    monkeypatch.setattr("feedwatch.sources.telethon.telegram_client", lambda: Client)
    path = tmp_path / "c.toml"
    path.write_text(f'[telethon]\nsession = "{tmp_path}/private/fw"\n', encoding="utf-8")
    return path


def login(config: Path, **env: str) -> Result:
    return CliRunner().invoke(
        main, ["login", "--config", str(config)], env={"TG_API_ID": None, "TG_API_HASH": None, **env}
    )


def test_login_writes_the_session_file_private(config: Path, tmp_path: Path) -> None:
    result = login(config, TG_API_ID="12345", TG_API_HASH="0123456789abcdef")
    session = tmp_path / "private" / "fw.session"
    assert result.exit_code == 0, result.output
    assert f"Logged in as analyst; session saved in {session}" in result.stdout
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    (client,) = Client.made
    assert (client.session, client.api_id, client.api_hash) == (session, 12345, "0123456789abcdef")
    assert client.disconnected


@pytest.mark.parametrize("env", [{}, {"TG_API_ID": "12345"}, {"TG_API_ID": "abc", "TG_API_HASH": "x"}])
def test_login_without_credentials_says_where_to_get_them(config: Path, env: dict[str, str]) -> None:
    result = login(config, **env)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "TG_API_ID" in result.stderr and "my.telegram.org" in result.stderr
    assert Client.made == []


def test_a_failed_login_is_one_line_and_still_disconnects(config: Path) -> None:
    Client.fail = ConnectionResetError(104, "reset")
    result = login(config, TG_API_ID="12345", TG_API_HASH="0123456789abcdef")
    assert result.exit_code == 1 and result.stderr.strip() == "error: cannot reach Telegram (ConnectionResetError)"
    assert Client.made[0].disconnected


def test_the_seam_is_telethons_own_client() -> None:
    from telethon.sync import TelegramClient

    from feedwatch.sources.telethon import telegram_client

    assert telegram_client() is TelegramClient
