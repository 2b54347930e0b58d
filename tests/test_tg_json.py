"""Telegram Desktop JSON exports: fixtures with golden output, the real samples, damage, properties."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import ijson
import pytest
from click.testing import CliRunner
from conftest import only_posts_or_parse_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedwatch.cli import main
from feedwatch.errors import ParseError
from feedwatch.models import ForwardedFrom, Link, Media, Post, Reaction
from feedwatch.parse import Options, detect, parse_path, tg_json
from feedwatch.parse.tg_json import _BLOCK_BYTES, _first_line, _message_arrays, _shape, _Unescape, parse

FIXTURES = Path(__file__).parent / "fixtures" / "tg_json"
CASES = sorted(FIXTURES.glob("*.json"))


def posts_of(path: Path | str, options: Options | None = None) -> list[Post]:
    return list(parse_path(str(path), "auto", options or Options()))


def golden_lines(posts: list[Post]) -> str:
    rows = []
    for post in posts:
        row = post.to_json()
        row["source"]["path"] = Path(row["source"]["path"]).name
        rows.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_fixture_matches_its_golden_output(case: Path, regen_golden: bool) -> None:
    expected = case.with_suffix(".expected.jsonl")
    got = golden_lines(posts_of(case))
    if regen_golden:
        expected.write_text(got, encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8")


def by_id(posts: list[Post]) -> dict[int | None, Post]:
    return {p.message_id: p for p in posts}


def test_entity_lists_give_hashtags_mentions_and_links() -> None:
    post = by_id(posts_of(FIXTURES / "channel.json"))[2]
    assert post.text.startswith("Port of Riga reopens\n\nShips resume traffic")
    assert post.hashtags == ("Riga", "Shipping")
    assert post.mentions == ("harbour_desk",)
    assert post.links == (
        Link("full report", "https://example.org/riga"),
        Link("https://example.org/port", "https://example.org/port"),
        Link("desk@example.org", "mailto:desk@example.org"),
    )
    assert post.author == "Anna K"
    assert post.date == datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
    assert post.channel_title == "Baltic Wire" and post.channel_id == 1700000001
    assert post.channel is None and post.url is None
    assert post.source.format == "tg-json" and post.source.index == 1


def test_edits_forwards_replies_reactions_and_media() -> None:
    posts = by_id(posts_of(FIXTURES / "channel.json"))
    edited = posts[8]
    assert edited.edited is True and edited.edit_date == datetime(2024, 5, 1, 21, 10, tzinfo=UTC)
    assert edited.forwarded_from == ForwardedFrom("Wire Service")
    assert edited.reply_to == 4
    assert edited.reactions == (Reaction("👍", 12), Reaction("custom:5228784522924930237", 2), Reaction("paid", 7))
    assert edited.media == (Media("photo", None, "photos/photo_8@01-05-2024_23-59-30.jpg"),)
    assert posts[2].edited is False and posts[2].edit_date is None
    assert posts[3].media == (Media("photo", "not included in export"),)
    assert posts[5].forwarded_from == ForwardedFrom(None)  # a hidden forward source
    assert posts[5].media == (Media("document", "too big for export"),)
    assert posts[10].media == (Media("round_video", None, "video_files/clip.mp4"),)
    assert posts[11].media == (Media("sticker", None, "stickers/sticker.webp"),)
    assert posts[9].author == "Guest Writer"  # a sender that is not the channel itself


def test_service_messages_are_service_posts_with_their_action() -> None:
    posts = by_id(posts_of(FIXTURES / "channel.json"))
    assert [(p.message_id, p.service) for p in posts.values() if p.kind == "service"] == [
        (1, "create_channel"),
        (6, "pin_message"),
        (12, "unsupported"),
    ]
    assert posts[6].reply_to == 2  # the pinned message
    assert posts[1].text == "Baltic Wire" and posts[1].author is None
    assert all(p.service is None for p in posts.values() if p.kind == "post")


def test_polls() -> None:
    poll = by_id(posts_of(FIXTURES / "channel.json"))[7].poll
    assert poll is not None
    assert poll.question == "Will the ferry run tomorrow?"
    assert [(a.text, a.voters) for a in poll.answers] == [("Yes", 12), ("No", 3), ("Not sure", 0)]
    assert poll.closed is True and poll.total_voters == 15


def test_full_account_export_reads_every_chat() -> None:
    posts = posts_of(FIXTURES / "account.json")
    assert [(p.channel_title, p.channel_id, p.message_id) for p in posts] == [
        ("Baltic Wire", 1700000001, 40),
        ("Ivan", 42, 1),
        ("Ivan", 42, 2),
        ("Old Harbour Chat", 1600000002, 900),
    ]
    assert [p.author for p in posts] == [None, None, "Test User", "Marta"]
    assert posts[0].hashtags == ("Riga",)
    assert [p.source.index for p in posts] == [0, 1, 2, 3]


def test_invalid_x_escapes_are_repaired_and_escaped_backslashes_kept() -> None:
    options = Options()
    posts = posts_of(FIXTURES / "escapes.json", options)
    assert [p.text for p in posts] == ["tab\x0bbell\x07 end", "path C:\\x41 stays"]
    assert any("invalid \\x escape" in note for note in options.notes)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 64])
def test_escape_filter_sees_escapes_split_across_reads(size: int) -> None:
    raw = b'["a\\x0B", "b\\\\x41", "c\\\\\\x1f", "\\\\", "d\\x7F"]'

    class Trickle(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            return super().read(size)

    stream = _Unescape(Trickle(raw))
    out = b"".join(iter(lambda: stream.read(4096), b""))
    assert json.loads(out) == ["a\x0b", "b\\x41", "c\\\x1f", "\\", "d\x7f"]
    assert stream.repaired == 3


def test_missing_unixtime_reads_local_date_in_tz_and_says_so() -> None:
    options = Options(tz=timezone(timedelta(hours=3)))
    posts = posts_of(FIXTURES / "no_unixtime.json", options)
    assert [p.date for p in posts] == [
        datetime(2018, 9, 5, 13, 42, 32, tzinfo=UTC),
        datetime(2018, 9, 5, 13, 50, 1, tzinfo=UTC),
    ]
    assert posts[1].edit_date == datetime(2018, 9, 5, 14, 0, tzinfo=UTC)
    assert len(options.notes) == 1 and "read as UTC+03:00" in options.notes[0]


def test_detection_picks_tg_json_for_each_shape(formats_dir: Path) -> None:
    for path in [
        *CASES,
        formats_dir / "tdesktop_json_all1app_messages_array.json",
        formats_dir / "tdesktop_json_langchain_result.json",
    ]:
        assert detect(path.read_bytes()[:65536], str(path)).name == "tg-json", path


def test_all1app_array_gives_all_601_messages(formats_dir: Path) -> None:
    path = formats_dir / "tdesktop_json_all1app_messages_array.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    posts = posts_of(path)
    assert [p.message_id for p in posts] == [m["id"] for m in raw]
    assert len(posts) == 601
    assert [p.date for p in posts] == [datetime.fromtimestamp(int(m["date_unixtime"]), UTC) for m in raw]
    first = posts[0]
    assert first.message_id == 2138 and first.date == datetime(2022, 11, 30, 14, 21, 8, tzinfo=UTC)
    assert first.hashtags == ("Sports",) and first.links[0] == Link(
        "https://amzn.to/3irgzXB", "https://amzn.to/3irgzXB"
    )
    assert first.media == (Media("photo", None, "photos/photo_2119@30-11-2022_19-51-08.jpg"),)
    assert first.channel_id == 1858370886 and first.channel_title == "All1App daily" and first.author is None
    for post, message in zip(posts, raw, strict=True):
        runs = [e for e in message["text"] if isinstance(e, dict)] if isinstance(message["text"], list) else []
        tags = {e["text"].lstrip("#").casefold() for e in runs if e["type"] == "hashtag"}
        mentions = {e["text"].lstrip("@").casefold() for e in runs if e["type"] == "mention"}
        assert tags <= {t.casefold() for t in post.hashtags}, post.message_id
        assert mentions <= {m.casefold() for m in post.mentions}, post.message_id
    assert sum(1 for p in posts if p.hashtags) >= 100 and sum(1 for p in posts if p.links) >= 500


def test_langchain_result_json(formats_dir: Path) -> None:
    posts = posts_of(formats_dir / "tdesktop_json_langchain_result.json")
    assert [(p.message_id, p.author, p.text) for p in posts] == [
        (1, "Jimmeny Marvelton", "i refuse to converse with you"),
        (2, "Batman & Robin", "Hi nemesis"),
        (3, "Jimmeny Marvelton", "we meet again"),
        (4, "Jimmeny Marvelton", "you will not trick me this time"),
    ]
    assert posts[0].date == datetime(2023, 8, 23, 20, 11, 23, tzinfo=UTC)  # date_unixtime, not the local date
    assert {p.channel_title for p in posts} == {"Jimmeny"} and {p.channel_id for p in posts} == {5965280513}


def test_damaged_json_names_the_file_and_the_message(tmp_path: Path) -> None:
    text = (FIXTURES / "channel.json").read_text(encoding="utf-8")
    cut = text.index('"id": 4,')
    path = tmp_path / "result.json"
    path.write_text(text[:cut] + "garbage", encoding="utf-8")
    got: list[Post] = []
    with pytest.raises(ParseError) as caught:
        got.extend(parse_path(str(path)))
    assert [p.message_id for p in got] == [1, 2, 3]  # what came before the damage is kept
    assert str(path) in str(caught.value) and "message 3" in str(caught.value)
    assert "not valid JSON" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"name": "x", "messages": [5]}', "not a JSON object"),
        ('{"messages": [{"id": 1, "date_unixtime": "soon"}]}', "date is not a time"),
        ('{"name": "x", "id": 3}', "no messages"),
        ('[{"id": 1}, {"id"', "message 1, within bytes 0-17: not valid JSON"),
    ],
)
def test_wrong_shapes_are_parse_errors(text: str, says: str) -> None:
    with pytest.raises(ParseError, match=re.escape(says)):
        list(parse(io.BytesIO(text.encode()), "bad.json", Options()))


def test_a_message_without_an_id_is_skipped_with_a_note_naming_it() -> None:
    messages = [
        {"id": 1, "type": "message", "date_unixtime": "1656141900", "text": "one"},
        {"type": "message", "date": "2022-06-25T07:26:00", "text": [{"type": "bold", "text": "no id"}, " here"]},
        {"id": 3, "type": "message", "date_unixtime": "1656142000", "text": "three"},
    ]
    options = Options()
    data = json.dumps({"name": "C", "type": "public_channel", "id": 5, "messages": messages}).encode()
    assert [p.message_id for p in parse(io.BytesIO(data), "c.json", options)] == [1, 3]
    assert options.notes == [
        "c.json: message 1 (dated 2022-06-25T07:26:00, “no id here”) has no numeric id; skipped, the rest is read"
    ]
    many = Options()
    data = json.dumps([{"type": "message", "text": f"m{n}"} for n in range(13)] + messages[:1]).encode()
    assert [p.message_id for p in parse(io.BytesIO(data), "m.json", many)] == [1]
    assert len(many.notes) == 11 and many.notes[-1] == "m.json: 3 more messages without a numeric id skipped"


def test_cli_prints_notes_once_and_fails_one_input_only(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "messages": [{"id": 1, "date_unixtime": "1"}, {', encoding="utf-8")
    old = str(FIXTURES / "no_unixtime.json")
    result = CliRunner().invoke(main, ["parse", "--tz", "+03:00", old, str(broken), old])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["message_id"] for row in lines] == [25, 26, 1, 25, 26]
    assert lines[0]["date"] == "2018-09-05T13:42:32+00:00"
    assert result.stderr.count("note: ") == 1 and "read as UTC+03:00" in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "broken.json: message 1" in errors[0]
    assert "Traceback" not in result.stderr


def test_cli_rejects_an_unknown_zone() -> None:
    result = CliRunner().invoke(main, ["parse", "--tz", "Mars/Olympus", str(CASES[0])])
    assert result.exit_code == 2 and "unknown time zone" in result.stderr


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "type",
                    "text",
                    "date",
                    "date_unixtime",
                    "messages",
                    "photo",
                    "file",
                    "poll",
                    "reactions",
                    "forwarded_from",
                    "edited_unixtime",
                    "media_type",
                    "answers",
                    "chats",
                    "list",
                    "name",
                    "from_id",
                    "author",
                    "action",
                    "emoji",
                    "count",
                    "href",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json_values)
def test_random_json_gives_posts_or_parse_error(value: object) -> None:
    only_posts_or_parse_error(parse, json.dumps({"name": "fuzz", "messages": [value]}).encode(), "fuzz.json")
    only_posts_or_parse_error(parse, json.dumps(value).encode(), "fuzz.json")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(CASES), st.floats(0, 1), st.binary(max_size=6))
def test_truncated_or_spliced_exports_give_posts_or_parse_error(case: Path, where: float, junk: bytes) -> None:
    data = case.read_bytes()
    cut = int(len(data) * where)
    only_posts_or_parse_error(parse, data[:cut], "fuzz.json")
    only_posts_or_parse_error(parse, data[:cut] + junk + data[cut:], "fuzz.json")


def test_bytes_that_are_not_utf8_are_a_parse_error() -> None:
    data = b'{"name": "x", "messages": [{"id": 1, "text": "ok"}, {"id": 2, "text": "\xed\xa0\x80"}]}'
    with pytest.raises(ParseError, match=r"bad\.json: message 1, within bytes 0-\d+: not UTF-8"):
        list(parse(io.BytesIO(data), "bad.json", Options()))


def test_cli_writes_a_lone_surrogate_as_an_escape(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"  # JSON Lines keep a lone surrogate escape (yajl turns it into "?")
    path.write_text('{"kind": "post", "author": "x\\ud800", "text": "a\\ud800b"}\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONIOENCODING"}
    done = subprocess.run([sys.executable, "-m", "feedwatch", "parse", str(path)], capture_output=True, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["author"] == "x\ud800"
    assert json.loads(done.stdout)["text"] == "a\ufffdb"  # the structure pass makes the text valid Unicode


def test_early_exports_with_numeric_sender_ids() -> None:
    data = (
        b'{"name": "Desk", "type": "public_channel", "id": 77, "messages": ['
        b'{"id": 1, "type": "message", "date": "2018-06-01T10:00:00", "from": "Desk", "from_id": 77, "text": "a"},'
        b'{"id": 2, "date": "2018-06-01T10:01:00", "from": "Guest", "from_id": 78, "text": "b"}]}'
    )
    posts = list(parse(io.BytesIO(data), "early.json", Options()))
    assert [(p.author, p.channel_id, p.date) for p in posts] == [
        (None, 77, datetime(2018, 6, 1, 10, 0, tzinfo=UTC)),
        ("Guest", 77, datetime(2018, 6, 1, 10, 1, tzinfo=UTC)),
    ]


def test_single_chats_and_arrays_take_the_direct_path_and_agree_with_the_general_one() -> None:
    channel = json.loads((FIXTURES / "channel.json").read_text(encoding="utf-8"))
    single = json.dumps(channel, ensure_ascii=False, indent=1).encode()
    account = json.dumps({"about": "x", "chats": {"about": "y", "list": [channel]}}, ensure_ascii=False).encode()
    assert _shape(single[:65536]) == (
        "messages.item",
        {"name": "Baltic Wire", "type": "public_channel", "id": 1700000001},
    )
    assert _shape(account[:65536]) is None
    assert _shape(b'[{"id": 1}, {"id"') == ("item", {})
    direct = list(parse(io.BytesIO(single), "a.json", Options()))
    general = list(parse(io.BytesIO(account), "a.json", Options()))
    assert direct == general and len(direct) == 12


def test_a_lone_low_surrogate_reads_as_a_replacement_and_loses_no_message(tmp_path: Path) -> None:
    texts = ["first", "cut \\udc00 here", "third"]
    messages = ",".join(
        f'{{"id": {n + 1}, "type": "message", "date": "2024-01-0{n + 1}T10:00:00", "text": "{t}"}}'
        for n, t in enumerate(texts)
    )
    path = tmp_path / "result.json"
    path.write_text(f'{{"name": "Chat", "type": "public_channel", "id": 5, "messages": [{messages}]}}', "utf-8")
    posts = list(parse_path(str(path)))
    assert [p.message_id for p in posts] == [1, 2, 3]
    assert posts[1].text == "cut \ufffd here"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11])
def test_a_surrogate_pair_split_across_reads_is_kept(size: int) -> None:
    raw = b'"a \\ud83d\\ude00 b \\\\udc00 c \\ud83d\\ude00"'  # an emoji, a literal backslash-u text, an emoji
    stream = _Unescape(io.BytesIO(raw))
    out = b""
    while chunk := stream.read(size):
        out += chunk
    assert json.loads(out) == "a \U0001f600 b \\udc00 c \U0001f600"


def _read_both_ways(data: bytes) -> tuple[list[object], list[object], str | None, str | None]:
    """Return the messages of a single chat read message by message and by ijson alone, and where each stopped."""
    fast: list[object] = []
    slow: list[object] = []
    fast_error = slow_error = None
    try:
        for _, messages in _message_arrays(_Unescape(io.BytesIO(data))):
            fast.extend(messages)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        fast_error = _first_line(exc)
    try:
        slow.extend(ijson.items(_Unescape(io.BytesIO(data)), "messages.item", use_float=True))
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        slow_error = _first_line(exc)
    return fast, slow, fast_error, slow_error


def _laid_out(messages: list[object], indent: int | str = 1) -> bytes:
    chat = {"name": "Layout", "type": "public_channel", "id": 1700000009, "messages": messages}
    return json.dumps(chat, ensure_ascii=False, indent=indent).encode()


_MESSAGES = json.loads((FIXTURES / "channel.json").read_text(encoding="utf-8"))["messages"] * 30


@pytest.mark.parametrize(
    "data",
    [
        _laid_out(_MESSAGES),
        _laid_out(_MESSAGES, 4),
        _laid_out(_MESSAGES, "\t"),
        _laid_out(_MESSAGES).replace(b"\n", b"\r\n"),
        json.dumps({"name": "Compact", "messages": _MESSAGES}).encode(),  # not laid out: ijson reads it all
        _laid_out(_MESSAGES).replace(b'"id": 5,', b'"weird": {\n  "a": 1\n  },\n   "id": 5,', 1),  # a cut that fails
        _laid_out([*_MESSAGES[:40], 12, "x", None, [], *_MESSAGES[:5]]),  # items that are not objects
        _laid_out(_MESSAGES).replace(b'"id": 7,', b'"id": 7, "views": 123456789012345678901', 1),  # beyond 64 bits
        _laid_out(_MESSAGES).replace(b'"id": 7,', b'"id": 7, "views": -9223372036854775808,', 1),
        _laid_out(_MESSAGES).replace(b'"id": 7,', b'"id": 7, "views": 9223372036854775807,', 1),
        _laid_out(_MESSAGES).replace(b'"id": 9,', b'"id": 9, "t": "\\ud800 \\udc00 \\x07",', 1),  # lone surrogates
        _laid_out(_MESSAGES).replace(b'"id": 9,', b'"id": 9, "t": "\xff",', 1),  # not UTF-8
        _laid_out(_MESSAGES).replace(b'"id": 9,', b'"id": 9, "t": ]', 1),  # not JSON
        _laid_out(_MESSAGES).replace(b"\n  },\n", b"\n  }\n", 1),  # a separator missing
        _laid_out(_MESSAGES).replace(b"\n  },\n", b"\n  },,\n", 1),
        _laid_out(_MESSAGES) + b"\n{trailing",
        _laid_out(_MESSAGES)[:-1] + b',\n "messages": [{"id": 99}]\n}',  # a second array: ijson reads it too
        _laid_out([]),
        b'{"name": "\\"messages\\": [", "messages": [\n  {"id": 1}\n  ]}',
    ],
)
def test_laid_out_exports_read_message_by_message_agree_with_ijson(data: bytes) -> None:
    for cut in (len(data), len(data) // 3, len(data) // 2 + 7, data.find(b"\n  }") + 4, data.rfind(b"\n  },") + 5):
        fast, slow, fast_error, slow_error = _read_both_ways(data[:cut])
        assert fast == slow
        assert fast_error == slow_error
    assert [type(v) for m in fast for v in (m.values() if isinstance(m, dict) else [m])] == [
        type(v) for m in slow for v in (m.values() if isinstance(m, dict) else [m])
    ]


def test_a_long_export_is_read_message_by_message_in_blocks(tmp_path: Path) -> None:
    data = _laid_out(_MESSAGES * 40)  # larger than a few blocks
    assert len(data) > 4 * _BLOCK_BYTES
    fast, slow, fast_error, slow_error = _read_both_ways(data)
    assert fast == slow and len(fast) == len(_MESSAGES) * 40 and fast_error is slow_error is None
    path = tmp_path / "result.json"
    path.write_bytes(data)
    compact = tmp_path / "compact.json"
    compact.write_bytes(json.dumps(json.loads(data)).encode())
    assert posts_of(path) == [replace(p, source=replace(p.source, path=str(path))) for p in posts_of(compact)]


def test_a_message_longer_than_the_cut_allows_is_read_by_ijson(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tg_json, "MAX_STRING_BYTES", 4096)  # the fast path looks this far for a message's end
    long_message = {"id": 3, "type": "message", "text": ["word"] * 2000}  # ~16 KB, short strings only
    data = _laid_out([*_MESSAGES[:2], long_message, *_MESSAGES[:3]])
    fast, slow, fast_error, slow_error = _read_both_ways(data)
    assert fast == slow and len(fast) == 6 and fast_error is slow_error is None
    data = _laid_out([*_MESSAGES[:2], {"id": 3, "text": "x" * 300_000}, *_MESSAGES[:3]])  # one string too long
    fast, slow, fast_error, slow_error = _read_both_ways(data)
    assert fast == slow and fast_error == slow_error
    assert fast_error is not None and "a value longer than 4,096 bytes" in fast_error
