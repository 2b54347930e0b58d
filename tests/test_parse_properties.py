"""Properties that hold on any input: parsers give Posts or ParseError; extraction is stable."""

from __future__ import annotations

import io
import re
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedwatch.errors import ParseError
from feedwatch.models import Post
from feedwatch.parse import Options, parse_path, structure
from feedwatch.parse import read_lines as _read_lines
from feedwatch.parse.dump import parse_text as parse_dump
from feedwatch.parse.statement import parse_text as parse_statement
from feedwatch.parse.structure import finish, key_points
from feedwatch.parse.text import MENTION_RE, URL_RE, _url_matches, hashtags, tag_key, urls

# Text built from the pieces that matter to the parsers, plus anything at all.
PIECES = st.sampled_from(
    [
        "Forwarded from Russian MFA 🇷🇺",
        "Read in full",
        "Key talking points:",
        "Key talking points",
        "• point",
        "🔸 point",
        "#UNCharterIsOurRules",
        "#ООН #Kazan2024",
        "(Moscow, April 29, 2023)",
        "14 May 2021",
        "Media is too big",
        "VIEW IN TELEGRAM",
        "Watch on Youtube",
        "",
        "\r",
        "\ufeff",
        "(February 30, 2023)",
        "@durov",
        "https://t.me/x/1",
        "#",
        "##",
        "1️⃣",
        "\u200d\ufe0f",
    ]
)
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=40)), max_size=30).map("\n".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_dump_parser_gives_posts_or_parse_error(text: str) -> None:
    try:
        posts = list(parse_dump(text, "x.txt"))
    except ParseError:
        return
    assert all(isinstance(p, Post) for p in posts)


@settings(max_examples=300)
@given(TEXTS)
def test_statement_parser_gives_posts_or_parse_error(text: str) -> None:
    try:
        posts = list(parse_statement(text, "x.txt"))
    except ParseError as exc:
        assert exc.path == "x.txt"
        return
    assert len(posts) == 1 and posts[0].kind == "statement"


@settings(max_examples=200)
@given(data=st.binary(max_size=2000))
def test_any_bytes_through_detection_give_posts_or_parse_error(data: bytes, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("in") / "input.txt"
    path.write_bytes(data)
    try:
        posts = list(parse_path(str(path)))
    except ParseError as exc:
        assert str(exc).startswith(str(path))
        return
    assert all(isinstance(p, Post) for p in posts)


@given(TEXTS)
def test_hashtag_extraction_is_idempotent(text: str) -> None:
    tags = hashtags(text)
    again = hashtags(" ".join("#" + t for t in tags))
    assert again == tags
    assert len({tag_key(t) for t in tags}) == len(tags)


@given(TEXTS)
def test_structure_pass_is_idempotent(text: str) -> None:
    once = finish(Post(text=text))
    assert finish(once) == once


@given(TEXTS)
def test_posts_survive_to_json_from_json(text: str) -> None:
    for post in parse_dump(text, "x.txt"):
        assert Post.from_json(post.to_json()) == post


@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30), max_size=20
    ),
    st.integers(1, 7),
)
def test_chunked_reader_gives_the_same_lines_as_splitlines(lines: list[str], chunk: int) -> None:
    import feedwatch.parse as parse_module

    data = "\r\n".join(lines).encode("utf-8")
    old = parse_module._CHUNK
    parse_module._CHUNK = chunk
    try:
        got = list(_read_lines(io.BytesIO(data), "x", None))
    finally:
        parse_module._CHUNK = old
    text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    want = text.split("\n") if text else []
    if want and want[-1] == "":
        want.pop()
    assert got == want
    assert Options().encoding is None


_WORDS = ["http://", "https://", "www.", "t.me/", "HTTPS://", "Www.", "://", "T.ME/", "httpſ://", "xhttps://"]
_WORDS += ["wwww.", "ht.me/", "@user_name", "x@user", "main points", "ТЕЗИСЫ"]
_PIECES = st.sampled_from([*"@.a_Bx1 \n#hHtTpPsS:/wW.mMeEſıİé«»<()\"'\u00a0", *_WORDS])


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_the_quick_scans_find_what_the_regexes_do(text: str) -> None:
    """URLs are looked for only near their anchors, mentions from '@' to '@', key points after a heading word."""
    assert [m.span() for m in _url_matches(text)] == [m.span() for m in URL_RE.finditer(text)]
    assert bool(urls(text)) == bool(URL_RE.search(text))  # its quick exit too, whatever the anchors' case
    slow_mentions = re.compile(r"(?<![\w@.])@([A-Za-z][A-Za-z0-9_]{3,31})\b")
    assert [m.span() for m in MENTION_RE.finditer(text)] == [m.span() for m in slow_mentions.finditer(text)]
    lines = ["Key talking points:", text, "• one", "ГЛАВНОЕ", text, "- two", "Main pointſ", "1) three"]
    for heading in lines:
        assert key_points(heading + "\n" + text) == _key_points_by_regex(heading + "\n" + text)


def _key_points_by_regex(text: str) -> tuple[str, ...]:
    """key_points without its quick check: the regex tried on every text."""
    with patch.object(structure, "_HEADING_WORDS", ("",)):
        return key_points(text)
