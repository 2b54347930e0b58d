"""What every command shares: the command list, one-line errors, exit codes."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta, timezone, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from click.exceptions import NoArgsIsHelpError

from feedwatch.display import shown
from feedwatch.errors import FeedwatchError

OK, PARTLY_FAILED, USAGE = 0, 1, 2
T = TypeVar("T")


def error_line(exc: BaseException, what: str | None = None) -> str:
    """Return the one line that tells a person what went wrong."""
    if isinstance(exc, click.ClickException):
        return exc.format_message()
    if isinstance(exc, FeedwatchError):
        return str(exc)
    prefix = f"{what}: " if what else ""
    return f"{prefix}internal error ({type(exc).__name__}: {exc}). Please report it with the input that caused it."


def say_error(exc: BaseException, what: str | None = None) -> None:
    """Print the error's one line on stderr, control characters escaped (it may hold a file name or a snippet)."""
    click.echo(click.style("error: ", fg="red") + shown(error_line(exc, what)), err=True)


def guarded(items: Iterator[T], what: str, on_error: Callable[[BaseException], None]) -> Iterator[T]:
    """Yield from `items`, turning any failure into one call of `on_error` (never a traceback)."""
    try:
        yield from items
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        on_error(exc)


class _ShownFormatter(logging.Formatter):
    """Log lines as people read them: control characters escaped, a traceback kept on one line."""

    def format(self, record: logging.LogRecord) -> str:
        return shown(super().format(record))


def log_to_stderr(level: int, fmt: str = "%(message)s", datefmt: str | None = None) -> None:
    """Send feedwatch's log to stderr, one escaped line per record (a log quotes file names and servers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(_ShownFormatter(fmt, datefmt))
    logging.basicConfig(level=level, handlers=[handler])


def write_line(line: str) -> None:
    """Print a line to stdout; a closed pipe (e.g. `| head`) ends the command quietly, a full disk with one line."""
    _written(sys.stdout.write, line + "\n")


def utf8_line_writer() -> Callable[[bytes], None]:
    """Return `write_line` for lines already encoded as UTF-8 (JSON Lines): written as they are when stdout is UTF-8.

    Output is the same as `write_line(line.decode())`, without decoding each line and encoding it again.
    """
    stdout = sys.stdout
    buffer = getattr(stdout, "buffer", None)
    if buffer is None or (getattr(stdout, "encoding", None) or "").lower().replace("-", "") != "utf8":
        return lambda line: write_line(line.decode())
    _written(stdout.flush)
    write = buffer.write
    return lambda line: _written(write, line + b"\n")


def _written(write: Callable[..., object], *data: Any) -> None:
    """Call `write(*data)` on stdout; a closed pipe ends the command quietly, any other failure with one line."""
    try:
        write(*data)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(OK) from None
    except OSError as exc:  # e.g. ENOSPC when stdout is a file on a full disk
        say_error(FeedwatchError(f"standard output: cannot write ({exc.strerror or exc}); nothing more written"))
        raise SystemExit(PARTLY_FAILED) from None


class OneLineUsage(click.Group):
    """A command group whose usage errors are one line on stderr (exit 2), like every other error."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            done = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as exc:  # no command given: the help itself, as click shows it
            exc.show()
            raise SystemExit(USAGE) from None
        except click.UsageError as exc:
            where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            say_error(click.ClickException(exc.format_message() + where))
            raise SystemExit(USAGE) from None
        except click.ClickException as exc:
            exc.show()
            raise SystemExit(exc.exit_code) from None
        except click.Abort:
            click.echo("Aborted.", err=True)
            raise SystemExit(PARTLY_FAILED) from None
        raise SystemExit(done if isinstance(done, int) else OK)


def say_notes(notes: list[str], told: int) -> int:
    """Print the notes after the first `told` to stderr; return how many have been told."""
    for note in notes[told:]:
        click.echo(click.style("note: ", fg="yellow") + shown(note), err=True)
    return len(notes)


_OFFSET_RE = re.compile(r"(?:UTC)?([+-])(\d{1,2})(?::?(\d{2}))?")


def parse_zone(text: str) -> tzinfo:
    """Return the zone named by an IANA name ("Europe/Moscow"), "UTC" or an offset ("+05:30")."""
    match = _OFFSET_RE.fullmatch(text.strip())
    if match:
        sign, hours, minutes = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset >= timedelta(hours=24):
            raise ValueError(f"{text!r} is not an offset from UTC")
        return timezone(-offset if sign == "-" else offset)
    if text.strip().upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {text!r}") from None


def _zone_option(ctx: click.Context, param: click.Parameter, value: str) -> tzinfo:
    try:
        return parse_zone(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; use an IANA name such as Europe/Moscow, or +HH:MM") from None


tz_option = click.option(
    "--tz",
    "tz",
    default="UTC",
    show_default=True,
    callback=_zone_option,
    help="Time zone of times written without one (old HTML exports, copied Desktop text): IANA name or +HH:MM.",
)
