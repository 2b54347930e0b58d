"""Telegram Desktop HTML exports: fixtures with golden output, the real samples, damage, properties."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import only_posts_or_parse_error
from hypothesis import given, settings
from hypothesis import strategies as st

from feedwatch.cli import main
from feedwatch.errors import ParseError
from feedwatch.models import ForwardedFrom, Link, Media, Post, Reaction
from feedwatch.parse import Options, expand, parse_path
from feedwatch.parse.tg_html import export_files, parse

FIXTURES = Path(__file__).parent / "fixtures" / "tg_html"
CASES = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
CHANNEL = FIXTURES / "channel"


def posts_of(path: Path | str, options: Options | None = None) -> list[Post]:
    return list(parse_path(str(path), "auto", options or Options()))


def by_id(posts: list[Post]) -> dict[int | None, Post]:
    return {p.message_id: p for p in posts}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fixture_matches_its_golden_output(case: Path, regen_golden: bool) -> None:
    rows = []
    for post in posts_of(case):
        row = post.to_json()
        row["source"]["path"] = str(Path(row["source"]["path"]).relative_to(FIXTURES))
        rows.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
    got = "\n".join(rows) + "\n"
    expected = case.with_name(case.name + ".expected.jsonl")
    if regen_golden:
        expected.write_text(got, encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8")


def test_folder_reads_files_in_order_and_joined_messages_inherit_across_them() -> None:
    posts = posts_of(CHANNEL)
    assert [p.message_id for p in posts] == list(range(1, 13))
    assert [Path(p.source.path or "").name for p in posts] == ["messages.html"] * 8 + ["messages2.html"] * 4
    assert [p.source.index for p in posts[7:10]] == [7, 0, 1]
    found = by_id(posts)
    assert found[5].forwarded_from == ForwardedFrom("Wire Service")  # joined forward, same file
    assert found[9].forwarded_from == ForwardedFrom("Wire Service")  # joined forward, next file
    assert found[9].date == datetime(2024, 5, 1, 20, 59, 40, tzinfo=UTC)
    assert found[3].author == "Anna K" and found[3].forwarded_from is None
    assert found[10].author == "Guest Writer"  # the sender is not the channel
    assert found[11].author is None  # "Baltic Wire 🛰 via @clip_bot" is the channel itself
    assert {p.channel_title for p in posts} == {"Baltic Wire 🛰"}


def test_text_entities_hashtags_links_and_mentions() -> None:
    post = by_id(posts_of(CHANNEL))[2]
    assert post.text == (
        "Port of Riga reopens\n\nShips resume traffic (Riga, May 1, 2024). Read the full report or "
        "https://example.org/port.\nAsk @harbour_desk or write to desk@example.org, run /start now\n\n#Riga #Shipping"
    )
    assert post.hashtags == ("Riga", "Shipping")
    assert post.mentions == ("harbour_desk",)
    assert post.links == (
        Link("full report", "https://example.org/riga"),
        Link("https://example.org/port", "https://example.org/port"),
        Link("desk@example.org", "mailto:desk@example.org"),
    )
    assert post.date == datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
    assert post.title == "Port of Riga reopens" and post.author == "Anna K"
    assert post.source.format == "tg-html" and post.url is None and post.channel is None


def test_media_polls_replies_reactions_and_service_messages() -> None:
    found = by_id(posts_of(CHANNEL))
    assert found[3].media == (Media("photo", "not included in export"),)
    assert found[5].media == (Media("document", "too big for export"),)
    assert found[8].media == (Media("photo", None, "photos/photo_8@01-05-2024_23-59-30.jpg"),)
    assert found[11].media == (Media("round_video", "not included in export"),)
    assert found[8].reply_to == 4 and found[8].reactions == (Reaction("👍", 12), Reaction("🔥", 3))
    poll = found[7].poll
    assert poll is not None and poll.question == "Will the ferry run tomorrow?\n\nVote below"
    assert [(a.text, a.voters) for a in poll.answers] == [("Yes", 12), ("No", 3), ("Not sure", None)]
    assert poll.closed is True and poll.total_voters == 15
    services = [(p.message_id, p.service, p.reply_to) for p in found.values() if p.kind == "service"]
    assert services == [(1, "create_channel", None), (6, "pin_message", 2), (12, "unsupported", None)]
    assert found[1].text == "Channel «Baltic Wire» created"


def test_a_single_file_can_be_parsed_on_its_own() -> None:
    posts = posts_of(CHANNEL / "messages2.html")
    assert [p.message_id for p in posts] == [9, 10, 11, 12]
    assert posts[0].forwarded_from == ForwardedFrom(None)  # its source is in the file before


def test_files_are_read_in_numeric_order(tmp_path: Path) -> None:
    template = (FIXTURES / "old_no_zone" / "messages.html").read_text(encoding="utf-8")
    for number in (1, 2, 3, 10, 11):
        name = "messages.html" if number == 1 else f"messages{number}.html"
        page = template.replace('id="message25"', f'id="message{number * 100}"').replace(
            'id="message26"', f'id="message{number * 100 + 1}"'
        )
        (tmp_path / name).write_text(page, encoding="utf-8")
    assert [p.name for p in export_files(tmp_path)] == [
        "messages.html",
        "messages2.html",
        "messages3.html",
        "messages10.html",
        "messages11.html",
    ]
    ids = [p.message_id for p in posts_of(tmp_path)]
    assert ids == [100, 101, 200, 201, 300, 301, 1000, 1001, 1100, 1101]


def test_zone_less_titles_use_tz_and_say_so_once() -> None:
    options = Options(tz=timezone(timedelta(hours=-4)))
    posts = posts_of(FIXTURES / "old_no_zone", options)
    assert [p.date for p in posts] == [
        datetime(2018, 9, 5, 20, 42, 32, tzinfo=UTC),
        datetime(2018, 9, 5, 20, 50, 1, tzinfo=UTC),
    ]
    folder = FIXTURES / "old_no_zone"
    assert options.notes == [f"{folder}: date titles carry no time zone; read as UTC-04:00 (use --tz)"]
    assert posts[1].author is None and posts[0].links == (Link("📖 Read", "https://example.org/a"),)


def test_expand_treats_an_export_folder_as_one_input() -> None:
    inputs = list(expand([str(FIXTURES)]))
    assert [p for p in inputs if not p.endswith(".jsonl")] == [str(p) for p in CASES]


def test_onlineverdan_export_gives_every_message_with_its_id(formats_dir: Path) -> None:
    folder = formats_dir / "tdesktop_html_onlineverdan"
    posts = posts_of(folder)
    for name in ("messages.html", "messages2.html"):
        ids = [int(i) for i in re.findall(r'id="message(\d+)"', (folder / name).read_text(encoding="utf-8"))]
        assert [p.message_id for p in posts if Path(p.source.path or "").name == name] == ids
    assert len(posts) == 1985
    found = by_id(posts)
    assert found[2].date == datetime(2022, 3, 8, 5, 40, 2, tzinfo=UTC)  # 11:10:02 UTC+05:30
    assert found[2].forwarded_from == ForwardedFrom("Hemant Jain")
    assert found[3].forwarded_from == ForwardedFrom("Hemant Jain")  # joined forward
    assert found[2].media == (Media("document", "not included in export"),)
    assert found[500].reply_to == 499 and found[1786].reply_to == 1785
    assert found[16].kind == "service" and found[16].service == "pin_message" and found[16].reply_to == 15
    assert sum(1 for p in posts if p.kind == "service") == 25
    assert all(p.date is not None for p in posts if p.kind == "post")
    assert any(p.hashtags == ("Surveying",) for p in posts)
    polls = [p.poll for p in posts if p.poll]
    assert len(polls) == 245 and polls[0].question.startswith("Mild steel is designed by")
    assert polls[0].total_voters == 278 and polls[0].answers[0].text == "Plastic deformation"
    assert found[45].author == "Hemant Jain" and found[46].author == "OnlineVerdan"


def test_cybersec_export_without_zone(formats_dir: Path) -> None:
    options = Options()
    posts = posts_of(formats_dir / "tdesktop_html_cybersec_2018", options)
    assert len(posts) == 1000
    first = by_id(posts)[25]
    assert first.date == datetime(2018, 9, 5, 16, 42, 32, tzinfo=UTC)
    assert first.title == "Silence Group Quietly Emerges as New Threat to Banks 🕴"
    assert first.text.endswith('📖 Read\n\nvia "Dark Reading".')
    assert len(options.notes) == 1 and "carry no time zone; read as UTC (use --tz)" in options.notes[0]
    assert all(p.author is None for p in posts)  # joined or not, the sender is the channel


def test_cli_tz_shifts_zone_less_titles() -> None:
    result = CliRunner().invoke(main, ["parse", "--tz", "Europe/Moscow", str(FIXTURES / "old_no_zone")])
    assert result.exit_code == 0
    assert json.loads(result.stdout.splitlines()[0])["date"] == "2018-09-05T13:42:32+00:00"
    assert result.stderr.count("note: ") == 1 and "read as Europe/Moscow" in result.stderr


def test_cut_off_file_keeps_what_came_before_and_names_the_place(tmp_path: Path) -> None:
    data = (CHANNEL / "messages.html").read_bytes()
    path = tmp_path / "messages.html"
    path.write_bytes(data[: data.index(b'id="message7"')])
    got: list[Post] = []
    with pytest.raises(ParseError) as caught:
        got.extend(parse_path(str(path)))
    assert [p.message_id for p in got] == [1, 2, 3, 4, 5, 6]
    assert str(caught.value) == f"{path}: after message 6: ends early: the file is cut off. Give the whole file"


def test_not_utf8_names_the_byte(tmp_path: Path) -> None:
    data = (CHANNEL / "messages.html").read_bytes()
    at = data.index(b"Second picture")
    bad = tmp_path / "messages.html"
    bad.write_bytes(data[:at] + b"\xff" + data[at:])
    got: list[Post] = []
    with pytest.raises(ParseError, match=f"after message 2: not UTF-8 \\(byte 0xff at offset {at}\\)"):
        got.extend(parse_path(str(bad)))
    assert [p.message_id for p in got] == [1, 2]


def test_message_without_numeric_id_is_skipped_with_a_note_naming_it() -> None:
    page = (CHANNEL / "messages.html").read_text(encoding="utf-8").replace('id="message4"', 'id="messageX"')
    options = Options()
    posts = list(parse(io.BytesIO(page.encode()), "messages.html", options))
    assert [p.message_id for p in posts] == [1, 2, 3, 5, 6, 7, 8]
    assert options.notes == ["messages.html: the message after message 3 has no numeric id; skipped, the rest is read"]


_TOKENS = st.sampled_from(
    [
        '<div class="message default clearfix" id="message7">',
        '<div class="message service" id="message-1">',
        '<div class="message default clearfix joined" id="message8">',
        '<div class="body">',
        "</div>",
        "<br>",
        '<div class="pull_right date details" title="31.02.2024 25:61:00 UTC+05:30">',
        '<div class="from_name">',
        '<div class="forwarded body">',
        '<div class="text">',
        '<a href="" onclick="return ShowHashtag(&quot;x">',
        '<div class="media_wrap clearfix">',
        '<div class="media_poll">',
        '<div class="answer">',
        "</a>",
        '<span class="reactions"><span class="reaction"><span class="count">',
        '<div class="history">',
        '<div class="reply_to details"><a href="#go_to_message99999999999999999999">',
        "</html>",
        "&laquo;",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_TOKENS | st.text(max_size=10), max_size=40))
def test_random_html_gives_posts_or_parse_error(pieces: list[str]) -> None:
    only_posts_or_parse_error(parse, "".join(pieces).encode("utf-8", "surrogatepass"), "fuzz.html")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(FIXTURES.glob("*/*.html"))), st.floats(0, 1), st.binary(max_size=6))
def test_truncated_or_spliced_pages_give_posts_or_parse_error(page: Path, where: float, junk: bytes) -> None:
    data = page.read_bytes()
    cut = int(len(data) * where)
    only_posts_or_parse_error(parse, data[:cut], "fuzz.html")
    only_posts_or_parse_error(parse, data[:cut] + junk + data[cut:], "fuzz.html")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_for_large_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    from feedwatch.cli import progress
    from feedwatch.parse import Options

    posts = posts_of(CHANNEL)
    piped = io.StringIO()
    monkeypatch.setattr(progress.sys, "stderr", piped)
    assert list(progress.posts_of(str(CHANNEL), "auto", Options(), min_bytes=0)) == posts
    assert piped.getvalue() == ""
    terminal = _Terminal()
    monkeypatch.setattr(progress.sys, "stderr", terminal)
    assert list(progress.posts_of(str(CHANNEL), "auto", Options(), min_bytes=10**9)) == posts
    assert terminal.getvalue() == ""  # small input: no bar
    assert list(progress.posts_of(str(CHANNEL), "auto", Options(), min_bytes=0)) == posts
    assert "channel (posts)" in terminal.getvalue() and "12" in terminal.getvalue()


def test_pages_are_known_by_content_whatever_their_names(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_bytes((CHANNEL / "messages.html").read_bytes())
    (tmp_path / "a_later_page.htm").write_bytes((CHANNEL / "messages2.html").read_bytes())
    (tmp_path / "readme.md").write_text("exported by me\n", encoding="utf-8")
    (tmp_path / "css").mkdir()
    options = Options()
    assert [p.name for p in export_files(tmp_path)] == ["index.html", "a_later_page.htm"]
    assert list(expand([str(tmp_path)])) == [str(tmp_path)]
    posts = posts_of(tmp_path, options)
    assert [(p.message_id, p.text) for p in posts] == [(p.message_id, p.text) for p in posts_of(CHANNEL)]
    assert options.notes == [
        f"{tmp_path}: not read, not pages of the export: readme.md (give a file on its own to read it)"
    ]


def test_an_older_forward_header_names_the_source_apart_from_its_date() -> None:
    page = (
        (CHANNEL / "messages.html")
        .read_text(encoding="utf-8")
        .replace('<span class="date details"', '<span class="details"')
    )
    posts = list(parse(io.BytesIO(page.encode()), "messages.html", Options()))
    assert {p.forwarded_from.name for p in posts if p.forwarded_from} == {"Wire Service"}


def test_a_forward_sent_through_a_bot_names_its_source_without_the_bot() -> None:
    """Telegram Desktop writes "Source via @QuizBot" in a forward's header (onlineverdan's message 365)."""
    page = (
        (CHANNEL / "messages.html")
        .read_text(encoding="utf-8")
        .replace('Wire Service<span class="date details"', 'Wire Service via @QuizBot<span class="date details"')
    )
    posts = list(parse(io.BytesIO(page.encode()), "messages.html", Options()))
    assert {p.forwarded_from.name for p in posts if p.forwarded_from} == {"Wire Service"}


def test_text_is_laid_out_as_a_browser_shows_it_and_pre_keeps_its_spaces() -> None:
    page = (CHANNEL / "messages.html").read_text(encoding="utf-8")
    start = page.index('<div class="text">', page.index('id="message2"'))
    end = page.index("</div>", start)
    body = (
        '<div class="text">\n  Two   spaces\n     and a wrapped\n  line <br>\n   next<br><pre>  indented\n'
        "    code</pre><br>after\n       "
    )
    post = by_id(list(parse(io.BytesIO((page[:start] + body + page[end:]).encode()), "m.html", Options())))[2]
    assert post.text == "Two spaces and a wrapped line\nnext\n  indented\n    code\nafter"
