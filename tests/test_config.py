"""Configuration: the registry, the shipped file, merging, and the errors people see."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from feedwatch.config import CHANNEL_KEYS, SETTINGS, ChannelSpec, load_config, parse_backfill, valid_username
from feedwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "config" / "feedwatch.toml"


def _documented_keys(text: str) -> set[str]:
    """Return the dotted keys set in a TOML file whose line above is a comment or another documented key."""
    keys, table, previous = set(), "", ""
    for line in text.splitlines():
        stripped = line.strip()
        if m := re.fullmatch(r"\[([a-z_.]+)\]", stripped):
            table = m.group(1) + "."
        elif (m := re.fullmatch(r"([a-z_]+) = .*", stripped)) and (
            previous.startswith("#") or previous.split(" = ")[0] in {k.rsplit(".", 1)[-1] for k in keys}
        ):
            keys.add(table + m.group(1))
        previous = stripped
    return keys


def test_every_setting_has_help_and_is_documented_in_the_shipped_file():
    text = SHIPPED.read_text(encoding="utf-8")
    documented = _documented_keys(text)
    assert all(s.help for s in SETTINGS)
    missing = [s.name for s in SETTINGS if s.name not in documented]
    assert missing == []
    assert all(f"#   {key}" in text for key in CHANNEL_KEYS)


def test_shipped_file_loads_with_real_channels_and_seeds(monkeypatch):
    monkeypatch.delenv("FEEDWATCH_TME_BASE_URL", raising=False)
    config = load_config(SHIPPED)
    names = [c.name for c in config.channels]
    assert "MFARussia" in names and len(names) >= 3
    assert config["folders.paths"] == ["seeds/"]
    assert config["web.base_url"] == "https://t.me"
    assert ChannelSpec("RusEmbUSA", "web", 900, 30) in config.channels
    assert next(c for c in config.channels if c.name == "MFARussia").interval == 600


def test_defaults_without_a_file_and_deep_merge(tmp_path):
    assert load_config(None)["web.concurrency"] == 4
    path = tmp_path / "c.toml"
    path.write_text("[web]\ntimeout = 3\n[digest.smtp]\nport = 25\n", encoding="utf-8")
    config = load_config(path)
    assert config["web.timeout"] == 3.0 and isinstance(config["web.timeout"], float)
    assert config["web.min_delay"] == 1.0  # untouched sibling keeps its default
    assert config["digest.smtp.port"] == 25 and config["digest.smtp.starttls"] is True


def test_unknown_key_lists_the_valid_ones(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[web]\ntimout = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "unknown setting 'web.timout'" in message and "web.timeout" in message and str(path) in message


def test_secrets_in_the_file_point_to_the_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[telethon]\napi_hash = "abc"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="TG_API_HASH"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[web]\ntimeout = 'soon'\n", "web.timeout must be a number"),
        ("[[channels]]\nname = 'x/../../evil'\n", "not a Telegram channel username"),
        ("[[channels]]\nname = 'good_name'\nsource = 'rss'\n", "source must be one of web, telethon"),
        ("[[channels]]\nname = 'good_name'\ncolour = 1\n", "Valid keys: name, source, interval, backfill"),
        ("[[channels]]\nname = 'good_name'\n[[channels]]\nname = 'Good_Name'\n", "listed twice: good_name"),
        ("[poll]\nbackfill = 'lots'\n", 'a number of days or "all"'),
        ("web = [", "not valid TOML"),
    ],
)
def test_bad_values_are_one_clear_error(tmp_path, text, fragment):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert fragment in str(info.value)


def test_base_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("FEEDWATCH_TME_BASE_URL", "http://127.0.0.1:9")
    assert load_config(None)["web.base_url"] == "http://127.0.0.1:9"


@pytest.mark.parametrize("name", ["a/b", "t.me", "abc", "_abcde", "ab cd e", "x" * 40, "evil?x=1", "a__bcd", "@"])
def test_usernames_that_could_change_host_or_path_are_refused(name):
    with pytest.raises(ConfigError):
        valid_username(name)


def test_usernames_accepted():
    assert valid_username("@MFARussia") == "MFARussia"
    assert valid_username("mod_russia_en") == "mod_russia_en"
    assert parse_backfill("all") is None and parse_backfill("14") == 14
