"""Text copied out of Telegram Desktop: headers, locales' dates, forward/reply/media lines, detection."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from feedwatch.errors import ParseError
from feedwatch.models import ForwardedFrom, Media, Post
from feedwatch.parse import Options, detect, parse_bytes, parse_stream

COPIED = """\
Baltic Wire, [01.05.2024 10:00]
Morning briefing: ports reopen #shipping

Baltic Wire, [01.05.2024 10:05]
[Forwarded from Harbour Office]
Gdańsk terminal is open again.
Смотреть на карте

Anna K., [01.05.2024 10:07]
[In reply to Baltic Wire]
Is Klaipėda open too?

Baltic Wire, [01.05.2024 10:09]
[ Photo ]
Klaipėda, this morning
"""


def posts_of(text: str, options: Options | None = None, fmt: str = "auto") -> list[Post]:
    return list(parse_stream(io.BytesIO(text.encode()), "copied.txt", fmt, options or Options()))


def test_each_header_is_a_post_with_author_time_forward_and_media() -> None:
    options = Options(tz=timezone(timedelta(hours=3)))
    posts = posts_of(COPIED, options)
    assert [p.author for p in posts] == ["Baltic Wire", "Baltic Wire", "Anna K.", "Baltic Wire"]
    assert [p.date for p in posts] == [datetime(2024, 5, 1, 7, m, tzinfo=UTC) for m in (0, 5, 7, 9)]
    assert posts[0].text == "Morning briefing: ports reopen #shipping" and posts[0].hashtags == ("shipping",)
    assert posts[1].forwarded_from == ForwardedFrom("Harbour Office")
    assert posts[1].text == "Gdańsk terminal is open again.\nСмотреть на карте"  # the message's own words
    assert posts[2].text == "Is Klaipėda open too?" and posts[2].forwarded_from is None
    assert posts[3].media == (Media("photo"),) and posts[3].text == "Klaipėda, this morning"
    assert {p.source.format for p in posts} == {"desktop-paste"} and [p.source.index for p in posts] == [0, 1, 2, 3]
    assert options.notes == ["copied.txt: copied message times carry no time zone; read as UTC+03:00 (use --tz)"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("25/06/2022 07:25", datetime(2022, 6, 25, 7, 25)),  # en-GB, fr, es, id
        ("25.06.2022 07:25", datetime(2022, 6, 25, 7, 25)),  # ru, de, pl, tr
        ("25.06.22 07:25", datetime(2022, 6, 25, 7, 25)),  # de, short year
        ("25-06-2022 07:25", datetime(2022, 6, 25, 7, 25)),  # nl
        ("2022-06-25 07:25:09", datetime(2022, 6, 25, 7, 25, 9)),  # sv, ISO
        ("2022/06/25 7:25", datetime(2022, 6, 25, 7, 25)),  # ja, zh
        ("6/25/22 7:25 PM", datetime(2022, 6, 25, 19, 25)),  # en-US
        ("6/25/22, 12:05\u202fAM", datetime(2022, 6, 25, 0, 5)),  # en-US, newer CLDR
        ("25/06/22 07.25", datetime(2022, 6, 25, 7, 25)),  # id, time with a dot
    ],
)
def test_dates_of_common_locales(header: str, expected: datetime) -> None:
    posts = posts_of(f"Ann, [{header}]\nhello\n")
    assert posts[0].date == expected.replace(tzinfo=UTC)


def test_an_ambiguous_date_waits_for_a_date_that_settles_the_order() -> None:
    text = "Ann, [3/4/2022 10:00 AM]\nfirst\n\nAnn, [3/4/2022 11:00 AM]\nsecond\n\nBob, [4/25/2022 9:00 AM]\nthird\n"
    options = Options()
    assert [p.date for p in posts_of(text, options)] == [
        datetime(2022, 3, 4, 10, tzinfo=UTC),
        datetime(2022, 3, 4, 11, tzinfo=UTC),
        datetime(2022, 4, 25, 9, tzinfo=UTC),
    ]
    assert not any("either way" in note or "settles" in note for note in options.notes)
    day_first = "Ann, [03/04/2022 10:00]\nfirst\n\nBob, [25/04/2022 09:00]\nlater\n"
    assert posts_of(day_first)[0].date == datetime(2022, 4, 3, 10, tzinfo=UTC)


def test_an_order_nothing_settles_is_guessed_and_told() -> None:
    options = Options()
    posts = posts_of("Ann, [03/04/2022 10:00]\nfirst\n", options)
    assert posts[0].date == datetime(2022, 4, 3, 10, tzinfo=UTC)
    assert (
        "copied.txt: no date settles whether dates such as 03/04/2022 are day/month or month/day; "
        "read as day/month" in options.notes
    )
    us = Options()
    assert posts_of("Ann, [3/4/22 10:00 AM]\nfirst\n", us)[0].date == datetime(2022, 3, 4, 10, tzinfo=UTC)
    assert any("month/day (a 12-hour clock" in note for note in us.notes)


def test_a_header_only_begins_a_message_after_a_blank_line() -> None:
    text = "Ann, [25/06/2022 07:25]\nquoting what I copied:\nBob, [25/06/2022 07:20]\nit said so\n"
    posts = posts_of(text)
    assert len(posts) == 1 and posts[0].text.endswith("Bob, [25/06/2022 07:20]\nit said so")


def test_detection_picks_it_and_not_for_other_text() -> None:
    assert detect(COPIED.encode(), "copied.txt").name == "desktop-paste"
    assert detect(b"Forwarded from MFA\nSome post\n", "dump.txt").name == "dump"
    with pytest.raises(ParseError, match="not a format feedwatch knows"):
        detect(b"Ann, [not a date]\nhello\n", "x.txt")


def test_forced_on_text_without_headers_gives_one_post() -> None:
    posts = list(parse_bytes(b"just some words\n", "plain.txt", "desktop-paste"))
    assert len(posts) == 1 and posts[0].author is None and posts[0].date is None
