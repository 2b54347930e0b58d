"""The pasted-dump parser: the seed dump's acceptance figures and each rule on its own."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, ROOT

from feedwatch.models import Media
from feedwatch.parse import parse_path
from feedwatch.parse.dump import drop_repeat, parse_text
from feedwatch.parse.text import tag_key

SEED = ROOT / "seeds" / "004_01d4050f5de082cc.txt"


@pytest.fixture(scope="module")
def seed_posts():  # type: ignore[no-untyped-def]
    return list(parse_path(str(SEED)))


def test_seed_dump_gives_seven_forwarded_posts(seed_posts) -> None:  # type: ignore[no-untyped-def]
    assert len(seed_posts) == 7
    assert {p.forwarded_from.name for p in seed_posts} == {"Russian MFA 🇷🇺"}
    assert [p.source.index for p in seed_posts] == list(range(7))


def test_seed_dump_hashtags(seed_posts) -> None:  # type: ignore[no-untyped-def]
    expected = [
        {"UnCharterIsOurRules"},
        {"UNCharterIsOurRules"},
        {"CSTO", "EAEU", "CIS", "BRICS", "SCO", "UNCharterIsOurRules"},
        {"UNCharterIsOurRules"},
        {"UNCharterIsOurRules"},
        {"UNCharterIsOurRules"},
        {"RussiaUS", "Oreshnik", "UNCharterIsOurRules", "Ukraine", "Syria"},
    ]
    got = [{tag_key(t) for t in p.hashtags} for p in seed_posts]
    assert got == [{tag_key(t) for t in tags} for tags in expected]
    assert seed_posts[0].hashtags == ("UnCharterIsOurRules",)  # first spelling kept


def test_seed_dump_key_points_and_datelines(seed_posts) -> None:  # type: ignore[no-untyped-def]
    assert [len(p.key_points) for p in seed_posts] == [0, 4, 6, 5, 0, 0, 9]
    dates = [[d.date.isoformat() for d in p.datelines] for p in seed_posts]
    assert dates == [[], ["2023-04-29"], ["2023-04-29"], ["2023-10-10"], ["2023-10-24"], ["2023-04-24"], ["2024-12-06"]]
    assert seed_posts[1].datelines[0].place == "Moscow"
    assert seed_posts[3].datelines[0].place is None


def test_seed_dump_text_has_each_paragraph_once_and_no_chrome(seed_posts) -> None:  # type: ignore[no-untyped-def]
    for post in seed_posts:
        paragraphs = [p for p in post.text.split("\n") if p.strip()]
        assert len(paragraphs) == len(set(paragraphs)), post.title
        for chrome in ("Read in full", "VIEW IN TELEGRAM", "Media is too big", "Watch on Youtube"):
            assert chrome not in post.text


def test_seed_dump_media_and_chrome_links(seed_posts) -> None:  # type: ignore[no-untyped-def]
    too_big = [i for i, p in enumerate(seed_posts) if Media("video", "too big") in p.media]
    assert too_big == [1, 2, 6]
    assert [link.text for link in seed_posts[6].links] == ["VIEW IN TELEGRAM", "Read in full", "Watch on Youtube"]


def test_seed_dump_titles(seed_posts) -> None:  # type: ignore[no-untyped-def]
    assert seed_posts[0].title == "Foreign Minister Sergey Lavrov’s meeting with UN Secretary-General Antonio Guterres"
    assert seed_posts[3].title == "Article by FM Sergey Lavrov (October 10, 2023)"
    assert seed_posts[0].text.startswith("🇷🇺🇺🇳 Foreign Minister")  # the text keeps the emoji


def test_seed_key_points_markers_removed_and_continuations_joined(seed_posts) -> None:  # type: ignore[no-untyped-def]
    points = seed_posts[6].key_points
    assert points[0].startswith("We would like to have normal relations")
    assert points[1].endswith("We fight for our legitimate security interests.")
    assert "\n[The US and its allies]" in points[1]
    assert not any(p.startswith(("#", "•")) for p in points)
    assert (
        seed_posts[2].key_points[0]
        == "Today, the movement towards global multipolarity is a fact, a geopolitical reality."
    )


def test_a_post_without_repeated_body_keeps_every_line() -> None:
    post = next(iter(parse_path(str(FIXTURES / "text" / "no_repeat.txt"))))
    assert post.text.count("\n") == 3
    assert post.links[0].url == "https://mid.ru/en/foreign_policy/news/"


def test_lines_repeated_on_purpose_stay() -> None:
    first, second = parse_path(str(FIXTURES / "text" / "intentional_repeat.txt"))
    assert first.text.count("#UNCharterIsOurRules") == 2
    assert second.text.split("\n") == [
        "🎙 Short remarks",
        "Together we are stronger.",
        "Thank you.",
        "Together we are stronger.",
    ]


def test_crlf_and_bom() -> None:
    (post,) = parse_path(str(FIXTURES / "text" / "crlf_bom.txt"))
    assert post.forwarded_from.name == "Russian MFA 🇷🇺"
    assert "\r" not in post.text and "\ufeff" not in post.text
    assert post.text.count("The Ambassador answered") == 1
    assert post.datelines[0].place == "Geneva"


def test_cyrillic_hashtags_and_dateline() -> None:
    (post,) = parse_path(str(FIXTURES / "text" / "cyrillic.txt"))
    assert post.hashtags == ("ООН", "НашиПравилаУставООН", "UNCharterIsOurRules")
    assert post.datelines[0].date.isoformat() == "2023-04-24"
    assert post.key_points == (
        "Устав ООН — основа мирового порядка.",
        "Многосторонность должна опираться на международное право.",
    )


def test_key_points_with_section_labels_and_continuations() -> None:
    first, second = parse_path(str(FIXTURES / "text" / "key_points.txt"))
    assert first.key_points == (
        "Our partners in Eurasia see the value of cooperation.\nIt rests on equality and mutual respect.",
        "Integration projects must complement each other.",
        "We are expanding our presence on the African continent.",
        "Trade grew by a third last year.",
    )
    assert "Watch on Rutube" in [link.text for link in first.links]
    assert second.key_points == ("Monday: talks in Minsk", "Tuesday: briefing")  # no markers: one point each
    assert second.mentions == ("MFARussia",)


@pytest.mark.parametrize(
    ("lines", "kept"),
    [
        (
            [
                "h",
                "a long line of the body text, copied by capture",
                "b",
                "a long line of the body text, copied by capture",
                "b",
            ],
            3,
        ),
        (["only line"], 1),
        ([], 0),
        (["x" * 50, "x" * 50], 1),  # a whole one-line body copied once
        (["head", "#tag", "body " * 20, "#tag"], 4),  # a short closing repeat stays
    ],
)
def test_drop_repeat(lines: list[str], kept: int) -> None:
    assert len(drop_repeat(lines)) == kept


def test_text_before_the_first_forward_is_its_own_post() -> None:
    posts = list(parse_text("A note of my own\nForwarded from X\nHello world", "paste"))
    assert posts[0].forwarded_from is None
    assert posts[1].forwarded_from.name == "X"


def test_an_endless_post_is_a_clear_error_not_a_memory_hog(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from feedwatch.errors import ParseError
    from feedwatch.parse.dump import MAX_POST_CHARS

    path = tmp_path / "huge.txt"
    with path.open("w") as out:
        out.write("Forwarded from X\nheadline\n")
        out.write("y" * (MAX_POST_CHARS + 10) + "\n")  # one enormous line
    with pytest.raises(ParseError, match=r"huge.txt: line 1: the post starting here runs past 1,000,000 characters"):
        list(parse_path(str(path)))


def test_flooding_hashtags_are_capped_and_the_cap_is_reported() -> None:
    from feedwatch.models import Post
    from feedwatch.parse.structure import finish
    from feedwatch.parse.text import MAX_HASHTAGS

    post = finish(Post(text=" ".join(f"#t{i}" for i in range(20_000))))
    assert len(post.hashtags) == MAX_HASHTAGS
    assert "hashtags" in post.approximate


def test_a_huge_file_claiming_to_be_a_tme_page_is_refused_before_it_fills_memory(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from feedwatch.errors import ParseError
    from feedwatch.parse import tme_html

    monkeypatch.setattr(tme_html, "MAX_PAGE_BYTES", 4096)
    path = tmp_path / "page.html"
    path.write_text('<div class="tgme_widget_message" data-post="x/1">' + "y" * 10_000 + "</div>")
    with pytest.raises(ParseError, match=r"page\.html: larger than 4,096 bytes"):
        list(parse_path(str(path), "tme-html"))


@pytest.mark.parametrize("size", [-1, 0, 10, 65_536, 65_537, 200_000])
def test_a_sniffed_stream_reads_like_a_file(size: int) -> None:
    import io

    from feedwatch.parse import Replay

    data = bytes(range(256)) * 600
    stream = io.BytesIO(data)
    replay = Replay(stream.read(65_536), stream)
    want = data if size < 0 else data[:size]
    assert replay.read(size) == want
    assert replay.read() == data[len(want) :]


def test_a_keycap_emoji_is_not_a_hashtag() -> None:
    from feedwatch.parse.text import hashtags

    # "#️⃣" is '#', a variation selector and the combining keycap: an emoji, as in a real export's "#️⃣SYLLABUS".
    assert hashtags("#\ufe0f\u20e3SYLLABUS based on #RSSB and #दिल्ली") == ("RSSB", "दिल्ली")
