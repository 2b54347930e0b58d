"""JSON Lines in, from anyone: detection by the core keys, derived fields computed, bad lines skipped by number."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from feedwatch.cli import main
from feedwatch.models import Post, post_line
from feedwatch.parse import Options, detect, jsonl, parse_path
from feedwatch.parse.text import fingerprint
from feedwatch.store import Store

MINIMAL = '{"text": "#Test hello", "channel": "some_channel", "message_id": 1, "date": "2024-01-01T00:00:00+00:00"}'
FARRIGHT = ROOT.parent / "shared" / "realdata" / "farright_dev" / "posts_before_2023-07.jsonl.gz"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_the_minimal_line_is_stored_with_its_hashtag_and_fingerprint(tmp_path: Path) -> None:
    path = write(tmp_path / "other_tool.jsonl", MINIMAL)
    result = run("ingest", str(path), "--db", str(tmp_path / "fw.db"))
    assert result.exit_code == 0, result.output
    with Store.open(tmp_path / "fw.db") as store:
        [post] = store.posts()
    assert (post.channel, post.message_id, post.hashtags) == ("some_channel", 1, ("Test",))
    assert post.fingerprint == fingerprint("#Test hello") != ""
    assert (post.source.format, post.source.path, post.source.index) == ("jsonl", str(path), 0)


@pytest.mark.parametrize(
    "line",
    [
        MINIMAL,
        '{"text": "x", "kind": "post"}',
        '{"date": "2024-01-01T00:00:00Z", "text": "x"}',
        '{"message_id": 5, "text": "x", "views": 3}',
        '{"kind": "post", "fingerprint": ""}',  # what the contract always had first
        # A first line longer than the sniff window: judged by the keys it starts with.
        '{"kind": "post", "channel": "some_channel", "text": "' + "word " * 20_000 + '"}',
    ],
)
def test_detection_accepts_an_object_with_the_core_keys(line: str) -> None:
    assert detect((line + "\n").encode()[:65536], "x").name == "jsonl"


@pytest.mark.parametrize(
    "line",
    [
        '{"text": "x"}',  # text alone could be anything
        '{"channel": "some_channel", "message_id": 1}',  # no text
        '{"name": "Chat", "type": "public_channel", "id": 1, "messages": [{"id": 1, "type": "message",'
        ' "date": "2024-01-01T00:00:00", "text": "x"}]}',  # a Desktop export on one line
        '{"name": "Chat", "messages": [{"date": "2024", "text": "' + "word " * 20_000 + '"}]}',
    ],
)
def test_detection_refuses_objects_without_them(line: str) -> None:
    assert not jsonl.sniff(line[:65536])


def test_derived_fields_are_computed_and_a_given_fingerprint_is_not_trusted() -> None:
    line = json.dumps(
        {
            "text": "Hello @durov see https://example.org #One",
            "channel": "some_channel",
            "message_id": 2,
            "fingerprint": "forged",
            "hashtags": ["Given"],
        }
    )
    [post] = jsonl.parse(io.BytesIO(line.encode()), "in.jsonl", Options())
    assert post.fingerprint == fingerprint(post.text) != "forged"
    assert set(post.hashtags) == {"One", "Given"}
    assert post.mentions == ("durov",) and [link.url for link in post.links] == ["https://example.org"]
    assert post.title == "Hello @durov see https://example.org #One"


def test_a_line_with_every_derived_key_keeps_them_but_not_its_fingerprint() -> None:
    post = Post(channel="some_channel", message_id=3, text="Words #Tag", hashtags=("Tag",), fingerprint="forged")
    [read] = jsonl.parse(io.BytesIO(post_line(post)), "in.jsonl", Options())
    assert read.fingerprint == fingerprint("Words #Tag")
    assert read.hashtags == ("Tag",) and read.title is None  # as written (parse and export write finished posts)


def test_a_bad_line_is_named_and_the_others_are_stored(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mixed.jsonl",
        MINIMAL,
        '{"text": "a link maker", "channel": "proxy?server=1.2.3.4&port=443&secret=x", "message_id": 3}',
        '{"text": "not closed',
        MINIMAL.replace('"message_id": 1', '"message_id": 2'),
    )
    result = run("ingest", str(path), "--db", str(tmp_path / "fw.db"))
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert "mixed.jsonl: line 2: not a post ('proxy?server=" in errors[0] and "at `$.channel`" in errors[0]
    assert "mixed.jsonl: line 3: not a post (not JSON" in errors[1]
    assert result.stdout.splitlines()[1].split()[1:] == ["2", "0", "0", "2"]  # new, updated, unchanged, failed
    with Store.open(tmp_path / "fw.db") as store:
        assert [p.message_id for p in store.posts()] == [1, 2]
        assert not any("proxy" in (p.url or "") for p in store.posts())


def test_many_bad_lines_are_named_up_to_a_limit_then_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", MINIMAL, *['{"text": 1, "kind": "post"}'] * 500)
    options = Options()
    assert len(list(parse_path(str(path), options=options))) == 1
    assert len(options.problems) == jsonl.MAX_REPORTED + 1
    assert str(options.problems[0]).startswith(f"{path}: line 2: not a post (Expected `str`, got `int` - at `$.text`)")
    assert "480 more line(s) skipped, 500 in all" in str(options.problems[-1])


def test_an_input_with_no_post_in_its_first_lines_is_one_error(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", *[f"note {i}: nothing like JSON" for i in range(100)])
    result = run("ingest", "--format", "jsonl", str(path), "--db", str(tmp_path / "fw.db"))
    assert result.exit_code == 1
    [error] = result.stderr.strip().splitlines()
    assert f"notes.txt: none of the first {jsonl.MAX_REPORTED} lines is a post (line 1: not JSON" in error
    assert error.endswith("Is this Post JSON Lines? Try another --format")


def test_feedwatch_output_reads_back_as_the_same_posts() -> None:
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    posts = [p for path in seeds for p in parse_path(str(path))]
    data = b"".join(post_line(p) + b"\n" for p in posts)
    assert list(jsonl.parse(io.BytesIO(data), "posts.jsonl", Options())) == posts


def test_files_written_by_earlier_versions_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # The golden files hold JSON as earlier versions wrote it: spaced, keys sorted, dates "+00:00".
    monkeypatch.chdir(ROOT)  # the posts in them name their seeds by relative path
    goldens = sorted(Path("tests/golden/seeds").glob("*.expected.jsonl"))
    assert goldens
    for golden in goldens:
        seed = Path("seeds") / golden.name.replace(".expected.jsonl", ".txt")
        assert list(parse_path(str(golden))) == list(parse_path(str(seed)))


@pytest.mark.skipif(not FARRIGHT.is_file(), reason="../shared/realdata is not here")
def test_real_json_lines_from_another_tool_ingest_without_a_format(tmp_path: Path) -> None:
    path = tmp_path / "farright_head.jsonl"  # the first 3,000 posts, decompressed
    with gzip.open(FARRIGHT, "rt", encoding="utf-8") as source:
        path.write_text("".join(next(source) for _ in range(3000)), encoding="utf-8")
    result = run("ingest", str(path), "--db", str(tmp_path / "fw.db"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].split() == ["total", "3,000", "0", "0", "0"]
    with Store.open(tmp_path / "fw.db") as store:
        posts = list(store.posts())
    tagged = [p for p in posts if "#" in p.text]
    assert tagged and all(p.hashtags for p in tagged)
    assert all(p.fingerprint == fingerprint(p.text) for p in posts)
    assert any(p.forwarded_from and p.forwarded_from.channel for p in posts)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = st.sampled_from([*jsonl._POST_KEYS, "surprise"])


@settings(max_examples=200)
@given(st.lists(st.dictionaries(KEYS, JSON_VALUES, max_size=6), min_size=1, max_size=5))
def test_any_object_lines_give_posts_and_named_problems(objects: list[dict]) -> None:  # type: ignore[type-arg]
    data = "".join(json.dumps({"text": "words", **obj}) + "\n" for obj in objects).encode()
    options = Options()
    posts = list(jsonl.parse(io.BytesIO(data), "in.jsonl", options))
    assert len(posts) + len(options.problems) == len(objects)
    assert all(isinstance(p, Post) and p.fingerprint == fingerprint(p.text) for p in posts)
    assert all(str(problem).startswith("in.jsonl: line ") for problem in options.problems)
