"""The one grammar of a time window's ends: `--since` and `--until` in every command, and the digest's.

24h, 90m, 7d, 2w, 7days, "2 weeks"   that long before now
2023-04-29                          that day (midnight UTC; as an end, the end of that day)
2023-04-29T06:30:00+03:00           that time (UTC when no zone is written)
all                                 no bound (only where a command allows it)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from feedwatch.errors import ConfigError

HELP = "24h, 7d, 2w, a day (2023-04-29) or an ISO time (UTC unless it has a zone)"
_UNITS = {
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "mins": timedelta(minutes=1),
    "minute": timedelta(minutes=1),
    "minutes": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "hr": timedelta(hours=1),
    "hrs": timedelta(hours=1),
    "hour": timedelta(hours=1),
    "hours": timedelta(hours=1),
    "d": timedelta(days=1),
    "day": timedelta(days=1),
    "days": timedelta(days=1),
    "w": timedelta(weeks=1),
    "wk": timedelta(weeks=1),
    "wks": timedelta(weeks=1),
    "week": timedelta(weeks=1),
    "weeks": timedelta(weeks=1),
}
_RELATIVE = re.compile(r"(\d{1,7})\s*([a-z]+)")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_time(
    text: str, now: datetime, *, name: str = "--since", end: bool = False, allow_all: bool = True
) -> datetime | None:
    """Return the time `text` names (None for "all"); raise ConfigError with one line naming `name`.

    With `end`, a bare day means the end of that day (the next midnight), so
    `--until 2023-04-30` includes the 30th.
    """
    value = text.strip().lower()
    if value == "all" and allow_all:
        return None
    match = _RELATIVE.fullmatch(value)
    if match and match[2] in _UNITS:
        try:
            return now - int(match[1]) * _UNITS[match[2]]
        except OverflowError:
            raise ConfigError(f"{name} {text!r}: that is before the year 1") from None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        also = ", or all" if allow_all else ""
        raise ConfigError(f"{name} {text!r}: use {HELP}{also}") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if end and _DAY.fullmatch(text.strip()):
        when += timedelta(days=1)
    return when.astimezone(UTC)
