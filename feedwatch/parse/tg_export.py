"""What the two Telegram Desktop export formats (JSON and HTML) share.

Both name a media file that was not downloaded with one of a few fixed
placeholder sentences, both lack the channel's username (so a post's t.me URL
is known only when the caller knows the channel), both can carry times
without a zone, which the user is told about once through `Options.notes`,
and in both a message without an id is skipped with a note naming it
(`Skipped`), while the rest of the file is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from feedwatch.parse import Options

# Placeholder sentences, lower-cased fragments -> Media.note. The JSON export
# writes "(File not included. ...)", the HTML export "Not included, ...".
_PLACEHOLDERS = (
    ("not included", "not included in export"),
    ("exceeds maximum size", "too big for export"),
    ("unavailable", "unavailable in export"),
)


_VIA_RE = re.compile(r"\s+via @\w+$")


def without_via(name: str) -> str:
    """Return a sender's or forward's name without the "via @bot" Telegram Desktop writes after it."""
    return _VIA_RE.sub("", name)


def placeholder_note(text: str) -> str | None:
    """Return the Media note for an exporter's "file not downloaded" sentence, or None."""
    low = text.casefold()
    return next((note for fragment, note in _PLACEHOLDERS if fragment in low), None)


def post_url(channel: str | None, message_id: int | None) -> str | None:
    """Return the t.me link of a post when the channel's username is known."""
    if channel and message_id is not None and message_id > 0:
        return f"https://t.me/{channel}/{message_id}"
    return None


def tz_name(tz: tzinfo) -> str:
    """Return a zone's name as a person would type it for --tz."""
    name = str(tz)
    return "UTC" if name in ("UTC", "UTC+00:00") else name


def local_time(naive: datetime, options: Options, note: str) -> datetime:
    """Return a zone-less exporter time read in `options.tz`, as UTC; tell the user once."""
    add_note(options, note.format(tz=tz_name(options.tz)))
    return naive.replace(tzinfo=options.tz).astimezone(UTC)


def add_note(options: Options, note: str) -> None:
    """Add a note for the user unless it is already there."""
    if note not in options.notes:
        options.notes.append(note)


SKIPS_NAMED = 10  # messages without an id named one by one; more are counted


@dataclass
class Skipped:
    """The messages of one input skipped for want of an id, told to the user through notes."""

    path: str
    count: int = 0

    def add(self, options: Options, which: str) -> None:
        """Note that the message described by `which` was skipped."""
        self.count += 1
        if self.count <= SKIPS_NAMED:
            add_note(options, f"{self.path}: {which} has no numeric id; skipped, the rest is read")

    def close(self, options: Options) -> None:
        """Note how many more were skipped than were named."""
        if self.count > SKIPS_NAMED:
            add_note(options, f"{self.path}: {self.count - SKIPS_NAMED} more messages without a numeric id skipped")
