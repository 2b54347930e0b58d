"""`feedwatch login`: Telethon's interactive login, once, for channels read with `source = "telethon"`."""

from __future__ import annotations

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, USAGE, say_error
from feedwatch.cli.options import config_option
from feedwatch.cli.poll_cmd import load
from feedwatch.errors import ConfigError, FeedwatchError


@click.command(
    "login",
    epilog="""\b
Examples:
  TG_API_ID=12345 TG_API_HASH=0123abcd feedwatch login
  feedwatch login --config my.toml          # the session file named by telethon.session there""",
)
@config_option
def login_command(config_file: str | None) -> None:
    """Log in to Telegram once, so channels with source = "telethon" can be polled.

    Needs TG_API_ID and TG_API_HASH in the environment (from my.telegram.org).
    Telethon asks for your phone number, the code Telegram sends you, and your
    two-step password if you set one. The session file (telethon.session in the
    config, data/feedwatch.session by default) is written with mode 0600: it
    is a login to your account, keep it private.
    """
    config = load(config_file)
    from feedwatch.sources.telethon import login

    try:
        session, who = login(config)
    except ConfigError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    click.echo(f"Logged in as {who}; session saved in {session} (mode 0600).")
    raise SystemExit(OK)
