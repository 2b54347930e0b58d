"""The Markdown, HTML and JSON renderings: order, escaping of hostile posts, JSON shape, the SVG chart."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from digest_support import HOSTILE, QUOTES, digest, hostile_digest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from feedwatch.digest.model import clean_text, safe_url
from feedwatch.digest.render_html import h, render_html
from feedwatch.digest.render_json import digest_json, render_json
from feedwatch.digest.render_md import SECTIONS, md, render_md


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer sees them."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_sections_come_in_order_in_every_format() -> None:
    d = digest()
    text = render_md(d)
    positions = [text.index(f"## {name}") for name in SECTIONS]
    assert positions == sorted(positions)
    page = render_html(d)
    names = ("new-campaigns", "spiking", "spreading", "top-hashtags", "channels", "health")
    ids = [page.index(f'id="{name}"') for name in names]
    assert ids == sorted(ids)
    assert list(digest_json(d))[7:13] == ["new_campaigns", "spiking", "spreading", "top_tags", "channels", "health"]


def test_html_of_hostile_posts_has_no_script_handler_or_unsafe_link() -> None:
    page = render_html(hostile_digest())
    parsed = Elements(page)
    names = [tag for tag, _ in parsed.tags]
    assert "script" not in names and "img" not in names and "b" not in names and "i" not in names
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        if tag == "a":
            assert attrs["href"] is not None and re.match(r"https?://", attrs["href"]), attrs
    hrefs = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    # The javascript: sample stays text; the https one is a link with its quotes and tags escaped; a channel
    # that is a username links to its t.me page, one with markup in its name stays text.
    assert hrefs == ['https://t.me/evil/2?a=1&b="><script>x</script>', "https://t.me/evil"]
    text = "".join(parsed.text)
    assert HOSTILE in text and QUOTES in text and "evil<b>chan</b>" in text
    assert "javascript:alert(5)" not in page  # an unsafe URL is not even shown
    assert "default-src 'none'" in page  # and scripts would be refused anyway


def test_html_is_self_contained_and_phone_readable() -> None:
    page = render_html(digest())
    parsed = Elements(page)
    names = [tag for tag, _ in parsed.tags]
    assert names.count("style") == 1 and "link" not in names and "script" not in names
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in parsed.tags
    external = [a for tag, a in parsed.tags if tag != "a" for k, v in a.items() if k in ("src", "href") and v]
    assert external == []
    assert "url(" not in page and "@import" not in page


def test_svg_chart_has_one_row_per_tag_with_the_right_counts() -> None:
    d = digest()
    page = render_html(d)
    svg = ET.fromstring(page[page.index("<svg") : page.index("</svg>") + 6])
    ns = "{http://www.w3.org/2000/svg}"
    rows = {g.get("data-tag"): g for g in svg.iter(f"{ns}g")}
    assert list(rows) == ["UNCharterIsOurRules", "Ukraine"]
    bars = {
        tag: {r.get("data-day"): int(r.get("data-count") or 0) for r in g.iter(f"{ns}rect")} for tag, g in rows.items()
    }
    assert bars["UNCharterIsOurRules"] == {"2026-11-20": 2, "2026-11-22": 4, "2026-11-23": 1}
    assert bars["Ukraine"] == {"2026-11-20": 1, "2026-11-21": 1, "2026-11-23": 3}
    heights = {r.get("data-day"): float(r.get("height") or 0) for r in rows["Ukraine"].iter(f"{ns}rect")}
    assert heights["2026-11-23"] == pytest.approx(3 * heights["2026-11-20"], abs=0.02)  # own peak


def test_svg_chart_escapes_tag_names() -> None:
    page = render_html(hostile_digest())
    svg = ET.fromstring(page[page.index("<svg") : page.index("</svg>") + 6])  # still well-formed XML
    assert [g.get("data-tag") for g in svg.iter("{http://www.w3.org/2000/svg}g")] == [QUOTES + HOSTILE]


def test_markdown_of_hostile_posts_renders_no_link_image_or_html() -> None:
    text = render_md(hostile_digest())
    html_out = MarkdownIt("gfm-like").render(text)
    parsed = Elements(html_out)
    names = [tag for tag, _ in parsed.tags]
    assert "script" not in names and "img" not in names and "b" not in names
    assert [a["href"] for tag, a in parsed.tags if tag == "a"] == [
        "https://t.me/evil/2?a=1&b=%22%3E%3Cscript%3Ex%3C/script%3E"
    ]
    shown = "".join(parsed.text)
    assert HOSTILE in shown and "[link](javascript:alert(4))" in shown and "![img](https://evil.example/x.png)" in shown


@pytest.mark.parametrize(
    "hostile",
    [
        "# heading",
        "- item",
        "1. item",
        "> quote",
        "a | b",
        "`code`",
        "**bold**",
        "<b>x</b>",
        "&amp;",
        "https://evil.example",
        "www.evil.example",
        "mail@evil.example",
        "line\n===",
        "$x$",
        "~~gone~~",
        "+ item",
        "1) item",
        "= x",
        "[a](https://b.example)",
        "![i](https://x.example/i.png)",
        "_em_ x_y_z",
        "<javascript:alert(1)>",
        "[x]: https://ref.example",
        "\\[not a link\\](x)",
        "a  \n  b",
        "*em*",
        "ftp://files.example",
        "12. December",
        "x <!-- c --> y",
        "&#x3C;script&#x3E;",
    ],
)
def test_md_escape_keeps_text_literal(hostile: str) -> None:
    out = MarkdownIt("gfm-like").enable("strikethrough").render("- " + md(hostile, start=True))
    assert out == f"<ul>\n<li>{_html_text(clean_text(hostile))}</li>\n</ul>\n"


MARKUP = st.lists(
    st.sampled_from([*"#*_[]()<>!`~|\\&:@.-+=$^\"' \n\tabcwx19/;é", "www.", "http", "://"]), max_size=30
).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(MARKUP, st.text(alphabet=st.characters(codec="utf-8"), max_size=60)))
def test_md_escape_keeps_any_text_literal(text: str) -> None:
    expected = clean_text(text)
    assume(expected)
    out = MarkdownIt("gfm-like").enable("strikethrough").render("- " + md(text, start=True))
    assert out == f"<ul>\n<li>{_html_text(expected)}</li>\n</ul>\n"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_html_escape_keeps_any_text_literal(text: str) -> None:
    parsed = Elements(f'<p>{h(text)}</p><a title="{h(text)}">x</a>')
    assert [tag for tag, _ in parsed.tags] == ["p", "a"]
    assert "".join(parsed.text) == clean_text(text) + "x" and parsed.tags[1][1]["title"] == clean_text(text)


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def test_clean_text_drops_bidi_overrides_and_controls() -> None:
    assert clean_text("evil\u202egnp.exe\x07\n\tnext", 0) == "evilgnp.exe next"
    assert clean_text("a" * 50, 10) == "a" * 9 + "…"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://t.me/x/1", "https://t.me/x/1"),
        ("http://a.example/p", "http://a.example/p"),
        ("t.me/x/2", "https://t.me/x/2"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>", None),
        ("https://a b", None),
        ("//evil.example", None),
        ("https://", None),
        ("vbscript:x", None),
        ("https:\\\\evil", None),
    ],
)
def test_safe_url_accepts_only_http_https_and_tme(url: str, ok: str | None) -> None:
    assert safe_url(url) == ok


def test_json_shape() -> None:
    obj = json.loads(render_json(digest()))
    assert obj["format"] == "feedwatch-digest" and obj["version"] == 1
    assert [a["tier"] for a in obj["new_campaigns"]] == ["T2", "T1"]
    first = obj["new_campaigns"][0]
    assert set(first) == {
        "key",
        "tier",
        "title",
        "tag",
        "tags",
        "first_seen",
        "alerted_at",
        "channels",
        "posts",
        "forwards",
        "score",
        "score_basis",
        "statistic",
        "summary",
        "evidence",
        "samples",
    }
    assert first["evidence"] == {"observed": "7", "expected": "0.2"}
    assert first["statistic"].endswith("= 2.1e-05 (threshold 0.001)")
    assert first["samples"][0]["url"] == "https://t.me/MFARussia/101"
    assert first["samples"][1] == {
        "label": "Pasted remarks",
        "url": None,
        "where": "seeds/004_01d4050f5de082cc.txt#3",
        "channel": None,
        "date": None,
        "forwarded": True,
    }
    assert obj["top_tags"][0] == {
        "key": "uncharterisourrules",
        "tag": "UNCharterIsOurRules",
        "spellings": ["UNCharterIsOurRules", "UnCharterIsOurRules"],
        "posts": 7,
        "forwards": 7,
        "channels": 1,
    }
    assert [h["status"] for h in obj["health"]] == ["ok", "failing", "markup drift"]
    assert obj["chart"]["series"] == {"UNCharterIsOurRules": [2, 0, 4, 1], "Ukraine": [1, 1, 0, 3]}
    assert obj["since"] == "2026-11-22T08:00:00+00:00"


def test_markdown_shows_evidence_and_links_back() -> None:
    text = render_md(digest())
    assert "- Statistic: Poisson tail P(X \\>= observed \\| past rate x hours) = 2.1e-05 (threshold 0.001)" in text
    assert "- Details: observed 7; expected 0.2" in text and "score 12.5 (-log10 p)" in text
    assert "[Lavrov at the UN](https://t.me/MFARussia/101)" in text
    assert "Pasted remarks (seeds/004_01d4050f5de082cc\\.txt#3)" in text
    assert "### 1. #UNCharterIsOurRules: new campaign (T2), score 12.5 (-log10 p)" in text
    assert "**New: #UNCharterIsOurRules (T2, 3 ch), #Coordinated (T1, 3 ch) · Spiking: #Ukraine (T3, 3 ch)**" in text
    assert "- Posts: 7 independent, 2 forwards" in text


def test_empty_digest_says_so_in_every_section() -> None:
    d = digest(new_campaigns=(), spiking=(), top_tags=(), channels=(), health=(), chart=None, posts=0)
    text = render_md(d)
    for line in (
        "No new campaigns in this window.",
        "No known tag is spiking.",
        "No hashtags in this window.",
        "No posts stored in this window.",
        "No ingest runs in this window.",
    ):
        assert line in text
    assert "<svg" not in render_html(d)


INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u202e\u2066\u200e\U000e0041\U000e007f"


def test_zero_width_tag_and_bidi_characters_never_reach_a_rendered_tag_or_label() -> None:
    from digest_support import alert

    from feedwatch.digest.deliver import EmailTarget, email_message
    from feedwatch.digest.model import PostLink, TagRow

    tag = f"UN{INVISIBLE}Charter"
    sample = PostLink(
        f"Lavrov{INVISIBLE} at the UN",
        "https://t.me/MFARussia/101",
        "t.me/MFARussia/101",
        f"MFA{INVISIBLE}Russia",
        None,
    )
    d = digest(
        new_campaigns=(alert(tag, tags=(tag, f"Устав{INVISIBLE}ООН"), samples=(sample,)),),
        top_tags=(TagRow("uncharter", (tag,), 3, 0, 1),),
    )
    message = email_message(EmailTarget("smtp.example", 587, "a@example.org", ("b@example.org",)), d)
    renderings = {
        "md": render_md(d),
        "html": render_html(d),
        "e-mail": "".join(part.get_content() for part in message.iter_parts()),
    }
    for name, text in renderings.items():
        assert not set(INVISIBLE) & set(text), name
        assert "UNCharter" in text and "Lavrov at the UN" in text, name
