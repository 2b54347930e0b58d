"""Printing rows of a query for people: an aligned table (machine output is feedwatch.cli.options.write_json)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feedwatch import display


def when(value: Any) -> str:
    """Return a stored ISO time as 'YYYY-MM-DD HH:MM' UTC; other values as they are."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%Y-%m-%d %H:%M")


def shown(value: Any, width: int = 0) -> str:
    """Return a cell for the terminal: one line, control characters escaped, cut to `width`."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else f"{value:,}" if isinstance(value, int) else str(value)
    text = display.shown(text)
    return text[: width - 1] + "…" if width and len(text) > width else text


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, int]]) -> list[str]:
    """Return aligned lines for `rows`: columns are (key, heading, max width); numbers align right."""
    cells = [[shown(row.get(key), width) for key, _, width in columns] for row in rows]
    widths = [max([len(head), *(len(r[i]) for r in cells)]) for i, (_, head, _) in enumerate(columns)]
    numeric = [all(isinstance(row.get(key), int | float | None) for row in rows) for key, _, _ in columns]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return [line([head for _, head, _ in columns]), *(line(r) for r in cells)]
