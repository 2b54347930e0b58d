"""Configuration: one registry of settings (name, default, help) and `load_config()`.

The file is TOML (`config/feedwatch.toml` is the commented example a new user
starts from). `load_config()` deep-merges it over the defaults below and
rejects unknown keys with the list of valid ones. Secrets never sit in the
file: Telegram API credentials come from `TG_API_ID` / `TG_API_HASH`, SMTP
credentials from `FEEDWATCH_SMTP_USER` / `FEEDWATCH_SMTP_PASSWORD`.

The file is found from `--config PATH`, else `FEEDWATCH_CONFIG`, else
`config/feedwatch.toml` in the current folder when it exists; without one the
defaults apply. `FEEDWATCH_TME_BASE_URL` overrides `web.base_url` (tests, mirrors).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedwatch.errors import ConfigError
from feedwatch.models import USERNAME as USERNAME  # the rule lives with the record whose channel it checks
from feedwatch.models import telegram_username

DEFAULT_PATH = Path("config/feedwatch.toml")
SOURCES = ("web", "telethon")
SECRET_ENV = {
    "api_id": "TG_API_ID",
    "api_hash": "TG_API_HASH",
    "password": "FEEDWATCH_SMTP_PASSWORD",
    "user": "FEEDWATCH_SMTP_USER",
    "username": "FEEDWATCH_SMTP_USER",
}


@dataclass(frozen=True)
class Setting:
    name: str  # dotted: table.key
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database.path", "", "SQLite database file; empty means feedwatch's default (FEEDWATCH_DB or data/feedwatch.db)"
    ),
    Setting(
        "database.url",
        "",
        "a PostgreSQL store shared by several machines, postgresql://USER@HOST:PORT/DATABASE; used instead of path",
    ),
    Setting(
        "web.base_url", "https://t.me", "where the t.me/s web previews are read; FEEDWATCH_TME_BASE_URL overrides it"
    ),
    Setting("web.concurrency", 4, "requests in flight at once to one host"),
    Setting("web.min_delay", 1.0, "seconds between the starts of two requests to one host"),
    Setting("web.jitter", 0.5, "up to this many seconds added at random to each delay"),
    Setting("web.timeout", 20.0, "seconds to wait for a page before giving up on that request"),
    Setting("web.connect_timeout", 5.0, "seconds to wait for a connection to the host"),
    Setting("web.user_agent", "", "User-Agent header; empty means 'feedwatch/<version> (+public channel monitor)'"),
    Setting("web.max_retries", 3, "retries of a page after a 429, a 5xx, a timeout or a cut-off page"),
    Setting(
        "web.backoff",
        2.0,
        "first wait in seconds before a retry when the server gives no Retry-After; doubles each time",
    ),
    Setting(
        "web.max_wait",
        60.0,
        "longest single wait; a longer Retry-After gives up on the channel for this run (it is retried on the next)",
    ),
    Setting("web.reread_hours", 48.0, "each poll re-reads posts this recent, to record edits and view counts"),
    Setting("web.reread_pages", 1, "at most this many older pages are read for the re-read window per poll"),
    Setting(
        "web.max_pages",
        100,
        "at most this many pages are read per poll of a channel; a longer walk is "
        "stored and continues on the next poll",
    ),
    Setting(
        "web.max_bytes",
        5_000_000,
        "an answer larger than this many bytes (decoded) is not read further; a t.me/s page is about 150 KB",
    ),
    Setting(
        "web.deadline",
        60.0,
        "seconds one request may take in all (connecting, headers and body), however the server spaces its bytes",
    ),
    Setting(
        "web.source_address",
        "",
        "the local address requests leave from (one per worker, e.g. 127.0.0.2); empty: the system's choice",
    ),
    Setting("poll.backfill", 60, 'history read on a channel\'s first poll: a number of days, or "all"'),
    Setting("poll.interval", 900, "seconds between two polls of a channel (feedwatch watch)"),
    Setting("poll.jitter", 60, "up to this many seconds added at random to each scheduled poll"),
    Setting("poll.misfire_grace", 300, "a poll late by more than this many seconds is skipped, not run late"),
    Setting(
        "telethon.session",
        "data/feedwatch.session",
        "Telethon session file (created with mode 0600); API id and hash come from TG_API_ID and TG_API_HASH",
    ),
    Setting(
        "telethon.flood_wait_max",
        60,
        "a FloodWait up to this many seconds is waited out; a longer one reschedules the channel",
    ),
    Setting("telethon.reread_hours", 48.0, "each poll re-reads messages this recent, to record edits and view counts"),
    Setting(
        "worker.queue",
        "",
        "PostgreSQL URL of the job queue `feedwatch worker` uses (FEEDWATCH_QUEUE overrides it); "
        "empty: the database when it is PostgreSQL",
    ),
    Setting("worker.tick", 10, "seconds between two looks for channels with no poll queued (recovery, new channels)"),
    Setting(
        "worker.stalled_after",
        30,
        "a job whose worker sent no heartbeat for this many seconds (killed) is given up, and its channel queued again",
    ),
    Setting("folders.paths", [], "folders watched for new or changed files (any format `feedwatch parse` reads)"),
    Setting("folders.interval", 300, "seconds between two looks at the watched folders"),
    Setting("folders.settle", 1.0, "a file is read only once its size stayed the same this many seconds"),
    Setting("digest.schedule", "0 8 * * *", "when the digest is built (cron: minute hour day month weekday, UTC)"),
    Setting("digest.formats", ["markdown"], "digest renderings: markdown, html, json"),
    Setting(
        "digest.file.path", "", "write each digest to this file (a {date} in the name is filled in); empty: no file"
    ),
    Setting("digest.webhook.url", "", "POST each digest as JSON to this URL; empty: no webhook"),
    Setting(
        "digest.webhook.deadline", 30.0, "seconds one webhook request may take in all; its answer's body is not read"
    ),
    Setting("digest.smtp.host", "", "send each digest by e-mail through this SMTP server; empty: no e-mail"),
    Setting("digest.smtp.port", 587, "SMTP port"),
    Setting(
        "digest.smtp.starttls",
        True,
        "upgrade the SMTP connection with STARTTLS; credentials come from "
        "FEEDWATCH_SMTP_USER and FEEDWATCH_SMTP_PASSWORD",
    ),
    Setting("digest.smtp.from", "", "sender address of digest e-mails"),
    Setting("digest.smtp.to", [], "recipient addresses of digest e-mails"),
    Setting(
        "serve.base_url",
        "",
        "where `feedwatch serve` is reached (e.g. http://127.0.0.1:8001); when set, "
        "HTML digests link posts, channels and tags to its pages instead of t.me",
    ),
)
# Keys of each [[channels]] entry; interval and backfill default to poll.interval / poll.backfill.
CHANNEL_KEYS: dict[str, str] = {
    "name": "the channel's public username (t.me/<name>), without @",
    "source": 'how it is read: "web" (t.me/s web preview, no account) or "telethon" (Telegram API)',
    "interval": "seconds between two polls of this channel (default poll.interval)",
    "backfill": 'history read on the first poll: days, or "all" (default poll.backfill)',
}
REGISTRY = {s.name: s for s in SETTINGS}


def default(name: str) -> Any:
    """Return the default of a setting in the registry (one source for every default)."""
    return REGISTRY[name].default


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    source: str = "web"
    interval: int = 900
    backfill: int | None = 60  # days; None means all history


@dataclass(frozen=True)
class Config:
    values: dict[str, Any]
    channels: tuple[ChannelSpec, ...] = ()
    path: Path | None = None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def valid_username(name: str) -> str:
    """Return a Telegram username without a leading @; raise ConfigError when it is not one."""
    try:
        return telegram_username(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def parse_backfill(value: Any, where: str = "backfill") -> int | None:
    """Return days of backfill from a number of days or "all" (None)."""
    if isinstance(value, str) and value.strip().lower() == "all":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ConfigError(f'{where}: expected a number of days or "all", got {value!r}')


def config_path(option: str | None) -> Path | None:
    """Return the config file to read: --config, else FEEDWATCH_CONFIG, else the default if present."""
    chosen = option or os.environ.get("FEEDWATCH_CONFIG")
    if chosen:
        return Path(chosen)
    return DEFAULT_PATH if DEFAULT_PATH.is_file() else None


def load_config(path: str | Path | None = None) -> Config:
    """Return the settings of a TOML file merged over the defaults (the defaults alone without a file)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    where = str(path) if path else "defaults"
    raw_channels = data.pop("channels", [])
    values = {s.name: s.default for s in SETTINGS}
    for name, value in _flatten(data, where):
        values[name] = _check(name, value, where)
    if base := os.environ.get("FEEDWATCH_TME_BASE_URL"):
        values["web.base_url"] = base
    values["poll.backfill"] = parse_backfill(values["poll.backfill"], f"{where}: poll.backfill")
    channels = _channels(raw_channels, values, where)
    return Config(values, channels, path)


def _flatten(table: dict[str, Any], where: str, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = prefix + key
        if isinstance(value, dict) and any(s.startswith(name + ".") for s in REGISTRY):
            out += _flatten(value, where, name + ".")
        elif name in REGISTRY:
            out.append((name, value))
        else:
            raise ConfigError(_unknown(name, where))
    return out


def _unknown(name: str, where: str) -> str:
    leaf = name.rsplit(".", 1)[-1]
    if leaf in SECRET_ENV:
        return (
            f"{where}: {name}: secrets are never read from the config file; "
            f"set the environment variable {SECRET_ENV[leaf]} instead"
        )
    valid = ", ".join([*REGISTRY, "channels"])
    return f"{where}: unknown setting {name!r}. Valid settings: {valid}"


def _check(name: str, value: Any, where: str) -> Any:
    default = REGISTRY[name].default
    if name == "poll.backfill":
        return value
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, int | float) and not isinstance(value, bool),
        str: isinstance(value, str),
        list: isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[type(default)]
    if not ok:
        kind = {
            bool: "true or false",
            int: "a whole number",
            float: "a number",
            str: "a string",
            list: "a list of strings",
        }[type(default)]
        raise ConfigError(f"{where}: {name} must be {kind}, got {value!r}")
    if isinstance(default, int | float) and not isinstance(default, bool) and value < 0:
        raise ConfigError(f"{where}: {name} must not be negative, got {value!r}")
    texts = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    if any(_CONTROL.search(text) for text in texts):
        # A line break in an address or a header value would let the file forge e-mail or HTTP headers.
        raise ConfigError(f"{where}: {name} must not contain line breaks or other control characters, got {value!r}")
    return float(value) if isinstance(default, float) else value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _channels(raw: Any, values: dict[str, Any], where: str) -> tuple[ChannelSpec, ...]:
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        raise ConfigError(f"{where}: channels must be a list of [[channels]] tables")
    specs: list[ChannelSpec] = []
    for number, entry in enumerate(raw, 1):
        place = f"{where}: channels entry {number}"
        unknown = set(entry) - set(CHANNEL_KEYS)
        if unknown:
            raise ConfigError(
                f"{place}: unknown key(s) {', '.join(sorted(unknown))}. Valid keys: {', '.join(CHANNEL_KEYS)}"
            )
        if "name" not in entry:
            raise ConfigError(f"{place}: needs a name")
        try:
            name = valid_username(str(entry["name"]))
        except ConfigError as exc:
            raise ConfigError(f"{place}: {exc}") from None
        source = entry.get("source", "web")
        if source not in SOURCES:
            raise ConfigError(f"{place}: source must be one of {', '.join(SOURCES)}, got {source!r}")
        interval = entry.get("interval", values["poll.interval"])
        if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
            raise ConfigError(f"{place}: interval must be a positive number of seconds, got {interval!r}")
        backfill = parse_backfill(entry["backfill"], place) if "backfill" in entry else values["poll.backfill"]
        specs.append(ChannelSpec(name, source, interval, backfill))
    names = [s.name.lower() for s in specs]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise ConfigError(f"{where}: channel(s) listed twice: {', '.join(dupes)}")
    return tuple(specs)
