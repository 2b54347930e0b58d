"""Written-out dates: datelines such as "(Moscow, April 29, 2023)" and statement date lines."""

from __future__ import annotations

import re
from datetime import date

from feedwatch.models import Dateline

_EN = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_RU = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]
MONTHS: dict[str, int] = {}
for _i, _name in enumerate(_EN, 1):
    MONTHS[_name] = _i
    MONTHS[_name[:3]] = _i
MONTHS["sept"] = 9
for _i, _name in enumerate(_RU, 1):
    MONTHS[_name] = _i

_MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
DATE = (
    rf"(?:(?P<m1>{_MONTH})\s+(?P<d1>{_DAY}),?\s+(?P<y1>\d{{4}})"
    rf"|(?P<d2>{_DAY})\s+(?P<m2>{_MONTH}),?\s+(?P<y2>\d{{4}})(?:\s*(?:г\.|года))?"
    rf"|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}}))"
)
DATELINE_RE = re.compile(rf"\(\s*(?:(?P<place>[^()\d][^()]{{0,80}}?)\s*,\s*)?{DATE}\s*\)", re.IGNORECASE)
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
DATE_LINE_RE = re.compile(rf"^\s*{_WEEKDAY}{DATE}\s*$", re.IGNORECASE)


def _to_date(match: re.Match[str]) -> date | None:
    if match.group("iso"):
        try:
            return date.fromisoformat(match.group("iso"))
        except ValueError:
            return None
    month = match.group("m1") or match.group("m2")
    day = match.group("d1") or match.group("d2")
    year = match.group("y1") or match.group("y2")
    try:
        return date(int(year), MONTHS[month.lower().rstrip(".")], int(re.sub(r"\D", "", day)))
    except (ValueError, KeyError):
        return None


def datelines(text: str) -> tuple[Dateline, ...]:
    """Return the datelines of `text`, unique, in order; a date without a year is not one."""
    found: list[Dateline] = []
    if "(" not in text:
        return ()
    for match in DATELINE_RE.finditer(text):
        when = _to_date(match)
        if when is None:
            continue
        place = match.group("place")
        line = Dateline(place.strip() if place else None, when)
        if line not in found:
            found.append(line)
    return tuple(found)


def date_line(line: str) -> date | None:
    """Return the date if `line` is nothing but a written-out date ("14 May 2021")."""
    match = DATE_LINE_RE.match(line)
    return _to_date(match) if match else None
