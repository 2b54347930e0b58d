"""Saved t.me/s pages: golden fixtures, the two real captures, drift, and bad input."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, SHARED_FORMATS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedwatch.cli import main as cli_main
from feedwatch.errors import ParseError
from feedwatch.models import ForwardedFrom, Link, Media, Post
from feedwatch.parse import Options, detect, expand, parse_path
from feedwatch.parse.dump import parse_text
from feedwatch.parse.tme_html import parse, parse_page, sniff
from feedwatch.parse.tme_markup import count

TME = FIXTURES / "tme"
CASES = sorted(TME.glob("*.html"))


def file_posts(path: Path) -> list[Post]:
    return list(parse(io.BytesIO(path.read_bytes()), path.name, Options()))


def real_page(name: str):  # type: ignore[no-untyped-def]
    path = SHARED_FORMATS / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return parse_page(path.read_text(encoding="utf-8"), name)


def by_id(posts: tuple[Post, ...]) -> dict[int, Post]:
    return {p.message_id: p for p in posts if p.message_id is not None}


# Golden files: each fixture page beside what the page API and the file parser make of it.


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_fixture_matches_golden(case: Path, golden) -> None:  # type: ignore[no-untyped-def]
    page = parse_page(case.read_text(encoding="utf-8"), case.name)
    try:
        outcome: dict[str, object] = {"posts": len(file_posts(case)), "error": None}
    except ParseError as exc:
        outcome = {"posts": None, "error": str(exc)}
    actual = {
        "page": {
            "channel": page.channel,
            "title": page.title,
            "before": page.before,
            "has_preview": page.has_preview,
            "drift": page.drift,
        },
        "posts": [p.to_json() for p in page.posts],
        "file_parser": outcome,
    }
    golden(case.with_suffix(".golden.json"), actual)


def test_fixture_set_covers_every_case() -> None:
    assert {c.stem for c in CASES} >= {
        "media_kinds",
        "poll_service",
        "forwards_entities",
        "mfa_read_in_full",
        "landing_no_preview",
        "drifted",
        "empty_channel",
    }


# The two real captures.


def test_tginfouk_real_page() -> None:
    page = real_page("tme_s_tginfouk.html")
    assert (page.channel, page.title, page.before, page.has_preview, page.drift) == (
        "tginfouk",
        "Telegram Info Україна",
        1148,
        True,
        False,
    )
    assert [p.message_id for p in page.posts] == list(range(1148, 1168))
    posts = by_id(page.posts)
    assert posts[1148].date == datetime(2026, 2, 24, 8, 40, 1, tzinfo=UTC)
    assert posts[1167].date == datetime(2026, 5, 4, 8, 30, 15, tzinfo=UTC)
    assert posts[1149].hashtags == ("блокування", "росія")
    assert posts[1156].hashtags == ("Україна",)
    assert posts[1156].media == (Media("video", "too big"),)
    assert posts[1166].forwarded_from == ForwardedFrom(
        "Beta Info Україна", "betainfouk", 1340, "https://t.me/betainfouk/1340"
    )
    assert posts[1166].text.startswith("Telegram відкриває бізнес-ботів усім користувачам\n\nУ бета-версії")
    assert {p.author for p in page.posts} == {"Mister Igor"}
    assert [p.message_id for p in page.posts if p.edited] == [1148]
    assert posts[1149].reply_to == 1148 and posts[1162].reply_to == 1157
    # The reply preview quotes 1148; none of its words are 1149's text.
    assert "Радіо Свобода" not in posts[1149].text
    assert posts[1149].links == (Link("заявив", "https://t.me/durov/473"),)
    assert posts[1154].views == 2060 and posts[1154].approximate == ("views",)
    assert posts[1148].views == 577 and posts[1148].approximate == ()
    assert posts[1156].reactions[0].emoji == "😁" and posts[1156].reactions[0].count == 23
    assert posts[1160].mentions == ("durov",)
    assert all(p.url == f"https://t.me/tginfouk/{p.message_id}" for p in page.posts)
    assert all(p.channel_id == 1320314529 and p.channel_title == "Telegram Info Україна" for p in page.posts)


def test_durov_real_page() -> None:
    page = real_page("tme_s_durov.html")
    assert (page.channel, page.title, page.before, page.drift) == ("durov", "Pavel Durov", 481, False)
    ids = [p.message_id for p in page.posts]
    assert ids == [481, 482, 483, *range(485, 492), *range(493, 503)]
    posts = by_id(page.posts)
    first = posts[481]
    assert first.date == datetime(2026, 4, 8, 22, 36, 42, tzinfo=UTC)
    assert first.text.startswith("🇪🇺 The EU is trying to justify its push for more surveillance")
    assert first.text.endswith("what's left of our freedoms. 🗽")
    assert first.views == 2190000 and "views" in first.approximate
    assert first.author == "Pavel Durov" and first.edited is True
    assert first.reactions[0].emoji == "paid" and first.reactions[0].count == 26700
    assert first.reactions[1].emoji == "custom:5265077361648368841" and first.reactions[1].count == 44200
    assert [p.message_id for p in page.posts if p.edited] == [481, 495, 496, 497, 499]
    assert posts[493].media[0].type == "animation" and posts[489].media[0].type == "video"
    assert posts[488].media[0].type == "link_preview"
    assert posts[488].media[0].note.startswith("www.libertyprize.org\nYouth Liberty Prize 2026")
    # The preview of durov/482 inside 499 carries 482's words; they are not 499's text.
    assert "TON blockchain just got upgraded" not in posts[499].text
    for post in page.posts:
        assert "Please open Telegram" not in post.text and "VIEW IN TELEGRAM" not in post.text
        assert post.channel_id == 1006503122


def test_two_real_pages_pasted_together_give_both() -> None:
    durov, tginfouk = (SHARED_FORMATS / n for n in ("tme_s_durov.html", "tme_s_tginfouk.html"))
    if not durov.exists():
        pytest.skip("real samples not present")
    page = parse_page(durov.read_text(encoding="utf-8") + tginfouk.read_text(encoding="utf-8"), "both.html")
    assert len(page.posts) == 40
    assert {p.channel for p in page.posts} == {"durov", "tginfouk"}


# What the fixtures show, spelled out.


def test_album_is_one_post_with_the_single_ids() -> None:
    page = parse_page((TME / "media_kinds.html").read_text(encoding="utf-8"), "m.html")
    album = by_id(page.posts)[84]
    assert album.album == (84, 85, 86, 87)
    assert [m.type for m in album.media] == ["video", "photo", "video", "photo"]
    assert album.text == "Multiple videos and pictures #album"  # the inner copy of the doubled div, once
    assert [p.message_id for p in page.posts] == [84, *range(88, 95)]


def test_media_kinds() -> None:
    posts = by_id(parse_page((TME / "media_kinds.html").read_text(encoding="utf-8"), "m.html").posts)
    kinds = {mid: tuple(m.type for m in p.media) for mid, p in posts.items()}
    assert kinds == {
        84: ("video", "photo", "video", "photo"),
        88: ("sticker",),
        89: ("round_video",),
        90: ("audio",),
        91: ("document",),
        92: ("voice",),
        93: ("animation",),
        94: ("video",),
    }
    assert posts[88].media[0].url == "https://cdn4.example.invalid/file/sticker-88.webp?token=s88"
    assert posts[91].media[0].note == "report.pdf — 120.5 KB"
    assert posts[94].media[0] == Media("video", "too big")
    assert posts[91].edited is True and posts[91].author == "Jane Roe"


def test_poll_and_service_messages() -> None:
    posts = by_id(parse_page((TME / "poll_service.html").read_text(encoding="utf-8"), "p.html").posts)
    assert posts[1].kind == "service" and posts[1].service == "Channel created" and posts[1].views is None
    assert posts[2].service == "Feedwatch Test pinned «Going to pin this message»"
    poll = posts[11].poll
    assert poll is not None and poll.question == "Let's do a quick poll 🗳" and poll.total_voters == 1500
    assert [(a.text, a.percent) for a in poll.answers] == [("Opt1", 0.0), ("Opt2", 67.0), ("Opt3 & more", 33.0)]
    assert Media("poll", "Anonymous Quiz") in posts[11].media
    reply = posts[12]
    assert reply.reply_to == 11 and reply.text == "The results #poll are here"
    assert reply.hashtags == ("poll",)  # not the reply preview's, not the link preview's
    assert reply.links == (Link("here", "https://example.org/results"),)  # the preview adds no second copy
    assert posts[13].links == (Link("Poll results are in 📊", "https://example.org/other"),)


def test_forwards_and_entities() -> None:
    posts = by_id(parse_page((TME / "forwards_entities.html").read_text(encoding="utf-8"), "f.html").posts)
    assert posts[200].forwarded_from == ForwardedFrom("Hidden Sender")
    assert posts[201].forwarded_from == ForwardedFrom("Some User", "some_user", None, "https://t.me/some_user")
    rich = posts[202]
    assert rich.forwarded_from == ForwardedFrom(
        "Beta Info 🇺🇦", "betainfouk", 1340, "https://t.me/betainfouk/1340", author="Mister Igor"
    )
    assert rich.date == datetime(2024, 5, 1, 10, 10, tzinfo=UTC)  # +02:00 on the page
    assert rich.text.startswith("🇪🇺 Entities of every kind\n\nMention @durov, a text link,")
    assert "\nA quote with style & an ampersand\n" in rich.text
    assert "u\u00a0Telegram" in rich.text and "\nline one\nline two\n" in rich.text
    assert "🤐 zipped" in rich.text  # an emoji image without its <b> glyph, read from the PNG name
    assert rich.hashtags == ("Україна", "Beta", "C_sharp") and rich.mentions == ("durov",)
    assert rich.links == (
        Link("text link", "https://9to5mac.com/x"),
        Link("https://www.libertyprize.org/", "https://www.libertyprize.org/"),
        Link("telegram.org/blog/x", "http://telegram.org/blog/x"),
    )


def test_group_member_is_the_author_where_there_is_no_signature() -> None:
    owner = '<span dir="auto">Feedwatch Test</span></a></div>'
    page = (TME / "forwards_entities.html").read_text(encoding="utf-8")
    html = page.replace(owner, owner.replace("Feedwatch Test", "Ann Member"))  # every widget's owner
    posts = by_id(parse_page(html, "group.html").posts)
    assert (posts[200].author, posts[201].author) == ("Ann Member", "Jane Roe")
    page_posts = by_id(parse_page((TME / "forwards_entities.html").read_text(encoding="utf-8"), "f.html").posts)
    assert page_posts[200].author is None  # a channel's own name is not an author


def test_read_in_full_and_key_talking_points() -> None:
    posts = parse_page((TME / "mfa_read_in_full.html").read_text(encoding="utf-8"), "mfa.html").posts
    first = posts[0]
    assert "Read in full" in first.text.split("\n")  # the post's own link text: only markup tells chrome apart
    assert first.links == (Link("Read in full", "https://mid.ru/en/foreign_policy/news/1865000/"),)
    assert first.key_points[1] == (
        "We live in a world where the media and communications have started playing not just a key role "
        "but sometimes a decisive role."
    )
    assert len(first.key_points) == 4 and first.hashtags == ("UNCharterIsOurRules",)
    assert first.media == (Media("video", "too big"),)


def test_same_post_from_a_page_and_from_a_paste() -> None:
    """The MFA posts give the same title, key points and datelines from t.me/s as from a pasted dump."""
    seed = Path(__file__).resolve().parents[1] / "seeds" / "004_01d4050f5de082cc.txt"
    lines = seed.read_text(encoding="utf-8").split("\n")
    pasted = list(parse_text("\n".join(lines[24:64]), "paste.txt"))
    page = parse_page((TME / "mfa_read_in_full.html").read_text(encoding="utf-8"), "mfa.html").posts
    assert len(pasted) == len(page) == 2
    for from_paste, from_page in zip(pasted, page, strict=True):
        assert from_page.title == from_paste.title
        assert from_page.key_points == from_paste.key_points and from_page.key_points
        assert from_page.datelines == from_paste.datelines and from_page.datelines
        assert from_page.hashtags == from_paste.hashtags
        assert from_page.forwarded_from is not None and from_paste.forwarded_from is not None
        assert from_page.forwarded_from.name == from_paste.forwarded_from.name == "Russian MFA 🇷🇺"


# Pages that are not previews, and drift.


def test_landing_page_is_no_preview() -> None:
    html = (TME / "landing_no_preview.html").read_text(encoding="utf-8")
    page = parse_page(html, "l.html")
    assert (page.has_preview, page.posts, page.drift, page.before) == (False, (), False, None)
    with pytest.raises(ParseError, match="landing page of a channel without a public web preview"):
        file_posts(TME / "landing_no_preview.html")


def test_empty_channel_has_a_preview_and_no_posts() -> None:
    page = parse_page((TME / "empty_channel.html").read_text(encoding="utf-8"), "e.html")
    assert (page.has_preview, page.channel, page.posts, page.drift) == (True, "fwempty", (), False)
    assert file_posts(TME / "empty_channel.html") == []


def test_drifted_widgets_set_drift_and_name_the_widget() -> None:
    page = parse_page((TME / "drifted.html").read_text(encoding="utf-8"), "d.html")
    assert page.drift is True
    assert [p.message_id for p in page.posts] == [300]
    with pytest.raises(ParseError) as caught:
        file_posts(TME / "drifted.html")
    assert caught.value.path == "drifted.html"
    assert caught.value.place is not None and caught.value.place.startswith("widget 2 (line ")
    assert "without an id" in caught.value.message


@pytest.mark.parametrize("name", ["forwards_entities.html", "drifted.html", "media_kinds.html"])
def test_bubble_tails_cut_before_parsing_change_neither_posts_nor_line_numbers(name: str) -> None:
    data = (TME / name).read_bytes()
    # Spelled with a second space, the same tails are not cut: what lxml then builds is the page as it is.
    kept = data.replace(b'class="tgme_widget_message_bubble_tail"', b'class="tgme_widget_message_bubble_tail "')
    assert kept.count(b"bubble_tail ") == data.count(b"bubble_tail") > 0

    def read(page: bytes) -> list[Post] | str:
        try:
            return list(parse(io.BytesIO(page), name, Options()))
        except ParseError as error:
            return str(error)  # names the widget and its line

    assert read(data) == read(kept)
    assert parse_page(data.decode(), name) == parse_page(kept.decode(), name)


def test_dates_off_the_calendar_and_odd_data_view_are_drift_not_crashes() -> None:
    html = (
        '<div class="tgme_widget_message" data-post="c/5" data-view="eyJjIjpJbmZpbml0eX0">'
        '<time datetime="0001-01-01T00:00:00+01:00"></time></div>'
    )
    page = parse_page(html, "odd.html")
    assert (page.drift, page.posts) == (True, ())
    with pytest.raises(ParseError, match="without a date"):
        list(parse(io.BytesIO(html.encode()), "odd.html", Options()))


def test_page_without_dates_is_drift() -> None:
    html = (TME / "poll_service.html").read_text(encoding="utf-8").replace("<time datetime=", "<time data-t=")
    page = parse_page(html, "p.html")
    assert page.drift is True and page.posts == ()


# Detection, folders and the command line.


def test_sniff_and_detect() -> None:
    head = (TME / "media_kinds.html").read_bytes()[:65536]
    assert detect(head, "x.html").name == "tme-html"
    assert sniff((TME / "landing_no_preview.html").read_text(encoding="utf-8"))
    assert not sniff("Forwarded from Russian MFA\nsome tgme_widget_message text")
    assert not sniff('{"kind": "post", "text": "<b>tgme_widget_message</b>", "fingerprint": ""}')


def test_folder_of_pages_parses_file_by_file() -> None:
    paths = [p for p in expand([str(TME)]) if p.endswith(".html")]
    assert [Path(p).name for p in paths] == [c.name for c in CASES]
    assert len(list(parse_path(str(TME / "media_kinds.html")))) == 8


def test_cli_reports_bad_pages_in_one_line_and_parses_the_rest(tmp_path: Path) -> None:
    for name in ("media_kinds.html", "landing_no_preview.html", "drifted.html"):
        (tmp_path / name).write_bytes((TME / name).read_bytes())
    result = CliRunner().invoke(cli_main, ["parse", str(tmp_path)])
    assert result.exit_code == 1
    # The drifted page's good first widget comes out before its error, then media_kinds' eight posts.
    assert result.stdout.count('"fingerprint"') == 9
    errors = [line for line in result.stderr.splitlines() if line]
    assert len(errors) == 2 and all("Traceback" not in e for e in errors)
    assert "drifted.html: widget 2" in errors[0] and "landing page" in errors[1]


def test_a_page_file_reads_the_same_with_a_bom_crlf_or_another_encoding(tmp_path: Path) -> None:
    page = (TME / "forwards_entities.html").read_text(encoding="utf-8")
    expected = [p.to_json() for p in file_posts(TME / "forwards_entities.html")]
    variants = {
        "bom.html": ("\ufeff" + page).encode("utf-8"),
        "crlf.html": page.replace("\n", "\r\n").encode("utf-8"),
        "cr.html": page.replace("\n", "\r").encode("utf-8"),
    }
    for name, data in variants.items():
        got = [p.to_json() for p in parse(io.BytesIO(data), "forwards_entities.html", Options())]
        assert got == expected, name
    utf16 = parse(io.BytesIO(page.encode("utf-16")), "forwards_entities.html", Options(encoding="utf-16"))
    assert [p.to_json() for p in utf16] == expected


def test_a_page_file_that_is_not_utf8_or_is_binary_is_one_error_naming_the_byte() -> None:
    page = (TME / "forwards_entities.html").read_bytes()
    bad = page[:500] + b"\xcf" + page[500:]
    with pytest.raises(ParseError, match=r"not UTF-8 \(byte 0xcf at offset 500\).*--encoding cp1251"):
        list(parse(io.BytesIO(bad), "x.html", Options()))
    with pytest.raises(ParseError, match="binary data, not text"):
        list(parse(io.BytesIO(page[:100] + b"\x00" + page[100:]), "x.html", Options()))


# Counts as Telegram abbreviates them.


def test_search_anchors_other_than_hashtags_are_not_links() -> None:
    page = (TME / "poll_service.html").read_text(encoding="utf-8")
    html = page.replace("The results ", 'The <a href="?q=%24TON">$TON</a> results ')
    post = by_id(parse_page(html, "c.html").posts)[12]
    assert post.text == "The $TON results #poll are here"
    assert post.links == (Link("here", "https://example.org/results"),)


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        ("2.19M", (2190000, True)),
        ("2M", (2000000, True)),
        ("715K", (715000, True)),
        ("436.6K", (436600, True)),
        ("577", (577, False)),
        ("1,234", (1234, False)),
        ("3.86K", (3860, True)),
        ("4.35K", (4350, True)),  # exact: 4.35 * 1000 in floating point is 4349.999...
        ("1.2345K", (1234, True)),  # cut toward zero, as shown
        ("0.5B", (500000000, True)),
        ("12\u00a0345", (12345, False)),
        ("", (None, False)),
        ("many", (None, False)),
        ("1.2.3K", (None, False)),
    ],
)
def test_count(shown: str, expected: tuple[int | None, bool]) -> None:
    assert count(shown) == expected


# Property tests: whatever the input, Posts or ParseError.

_TOKENS = st.sampled_from(
    [
        '<div class="tgme_widget_message js-widget_message" data-post="c/1">',
        '<div class="tgme_widget_message_wrap">',
        '<div class="tgme_widget_message_text js-message_text">',
        '<a class="tgme_widget_message_date" href="https://t.me/c/2">',
        '<time datetime="2024-01-01T00:00:00+00:00">',
        '<time datetime="not a date">',
        "</time>",
        "</a>",
        "</div>",
        '<a class="tgme_widget_message_reply" href="https://t.me/c/9x">',
        '<span class="tgme_reaction">',
        "9.9K",
        "</span>",
        '<i class="emoji" style="background-image:url(\'//x/F09F.png\')">',
        "</i>",
        '<tg-emoji emoji-id="">',
        "<br/>",
        '<a class="tgme_widget_message_photo_wrap" href="https://t.me/c/3?single">',
        '<div class="tgme_widget_message_poll">',
        '<div class="tgme_widget_message_poll_option_percent">%</div>',
        '<span class="tgme_widget_message_views">',
        '<div class="tgme_channel_info_header_title">',
        '<div class="tgme_widget_message_forwarded_from">',
        '<a class="tgme_widget_message_forwarded_from_name" href="https://t.me/">',
        "&nbsp;",
        "&#0;",
        "<!-- c -->",
        '<a href="?q=%23">#</a>',
        '<video src="" loop>',
        '<link rel="prev" href="/s/c?before=x">',
        "text",
        "\x00",
        "<",
        '<time datetime="0001-01-01T00:00:00+01:00">',
        '<div class="tgme_widget_message" data-view="eyJjIjpJbmZpbml0eX0">',
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TOKENS | st.text(max_size=8), max_size=60))
def test_random_markup_gives_posts_or_parse_error(parts: list[str]) -> None:
    html = "".join(parts)
    page = parse_page(html, "random.html")
    assert all(isinstance(p, Post) for p in page.posts)
    try:
        posts = list(parse(io.BytesIO(html.encode("utf-8", errors="surrogatepass")), "random.html", Options()))
    except ParseError as exc:
        assert str(exc).startswith("random.html")
    else:
        assert all(isinstance(p, Post) and p.message_id is not None and p.date is not None for p in posts)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=22000), st.binary(max_size=40))
def test_truncated_page_gives_posts_or_parse_error(cut: int, junk: bytes) -> None:
    data = (TME / "media_kinds.html").read_bytes()[:cut] + junk
    try:
        posts = list(parse(io.BytesIO(data), "cut.html", Options()))
    except ParseError as exc:
        assert exc.path == "cut.html"
    else:
        assert all(p.channel == "fwtest" for p in posts)
