"""The Markdown digest (also the text part of the e-mail).

Every string that comes from posts goes through `md()`, which folds it into one
line and backslash-escapes what Markdown (CommonMark and GitHub's extensions)
could read as syntax: everywhere the characters of links, images, raw HTML,
emphasis, code, table cells, entities and math, plus what autolinks need: ':',
the '@' of an address and a dot before a letter (example.com); at the start,
block markers (heading, list, quote). The rest
stays as written, so the raw text reads well in a terminal and as e-mail text.
"""

from __future__ import annotations

import re
from datetime import datetime

from feedwatch.digest.model import AlertEntry, Digest, PostLink, Spread, clean_text, lag, plural

# '_' between two letters or digits cannot emphasise, and '@' only makes an e-mail autolink after one.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&$:]|(?<![^\W_])_|_(?![^\W_])|(?<=[^\W_])@)")
_MD_START = re.compile(r"^(?:(\d+)([.)])|([#+\-=]))")
# A dot before a letter could end a domain some renderers link without a scheme (example.com, t.me).
_DOMAIN_DOT = re.compile(r"\.(?=[^\W\d_])")
_URL_SPECIAL = re.compile(r"([\\()<> ])")

SECTIONS = (
    "New campaigns",
    "Spiking known tags",
    "Talking points spreading",
    "Top hashtags",
    "Activity per channel",
    "Scraper health",
)


def md(text: str | None, limit: int = 0, *, start: bool = False) -> str:
    """Return `text` as inert Markdown on one line; `start`: it begins a block (a line, a list item)."""
    escaped = _DOMAIN_DOT.sub(r"\\.", _MD_SPECIAL.sub(r"\\\1", clean_text(text, limit)))
    if not start:
        return escaped
    return _MD_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", escaped)


def tag(text: str) -> str:
    return "#" + md(text)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def _link(link: PostLink) -> str:
    label = md(link.label, 120, start=not link.url) or "(no text)"
    facts = [md(link.channel)] if link.channel else []
    if link.date:
        facts.append(when(link.date))
    if link.forwarded:
        facts.append("forward")
    if link.url:
        target = _URL_SPECIAL.sub(r"\\\1", link.url)
        head = f"[{label}]({target})"
    else:
        head = f"{label} ({md(link.where)})"
    return head + (f" · {' · '.join(facts)}" if facts else "")


def _alert(number: int, alert: AlertEntry) -> list[str]:
    lines = [
        f"### {number}. {tag(alert.tag)}: {alert.title} ({alert.tier}), score {alert.score:.3g}"
        + (f" ({md(alert.score_basis)})" if alert.score_basis else ""),
        "",
        f"- First use: {when(alert.first_seen)}; alerted at {when(alert.alerted_at)}",
        f"- Channels ({len(alert.channels)}): {', '.join(md(c) for c in alert.channels) or 'unknown'}",
        f"- Posts: {alert.posts} independent, {plural(alert.forwards, 'forward')}",
    ]
    if len(alert.tags) > 1:
        lines.append(f"- Spellings and family: {', '.join(tag(t) for t in alert.tags)}")
    lines += [f"- {md(sentence, 600)}" for sentence in alert.summary]
    if alert.statistic:
        lines.append(f"- Statistic: {md(alert.statistic, 300)}")
    if alert.evidence and not alert.summary:
        lines.append(
            "- Details: " + "; ".join(f"{md(e.name.replace('_', ' '))} {md(e.value, 200)}" for e in alert.evidence)
        )
    if alert.samples:
        lines.append("- Sample posts:")
        lines += [f"  - {_link(s)}" for s in alert.samples]
    return [*lines, ""]


def _alerts(title: str, alerts: tuple[AlertEntry, ...], empty: str) -> list[str]:
    lines = [f"## {title} ({len(alerts)})", ""]
    if not alerts:
        return [*lines, empty, ""]
    for number, alert in enumerate(alerts, 1):
        lines += _alert(number, alert)
    return lines


def _spread(number: int, spread: Spread) -> list[str]:
    lines = [
        f"### {number}. {spread.channels} channels: {md(spread.text, 200)}",
        "",
        f"- Origin: {_link(spread.origin)}",
        f"- Repeated by {plural(spread.forwards, 'forward')}, {plural(spread.verbatim, 'verbatim copy')} and "
        f"{plural(spread.edited, 'edited copy')} (copies carry no attribution)",
    ]
    lines += [
        f"  - {echo.how}, {lag(echo.lag_hours)}, similarity {echo.similarity:.2f}: {_link(echo.post)}"
        for echo in spread.echoes
    ]
    return [*lines, ""]


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], empty: str) -> list[str]:
    if not rows:
        return [empty, ""]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def render_md(digest: Digest) -> str:
    """Return the digest as Markdown text."""
    lines = [
        f"# {digest.title}",
        "",
        f"Window: {digest.window()} · {plural(digest.posts, 'post')} · "
        f"{plural(len(digest.new_campaigns), 'new campaign')} · {plural(len(digest.spiking), 'spiking tag')}",
        "",
    ]
    if digest.alerts:
        glance = [
            f"{title}: " + ", ".join(f"{tag(a.tag)} ({a.tier}, {len(a.channels)} ch)" for a in alerts)
            for title, alerts in (("New", digest.new_campaigns), ("Spiking", digest.spiking))
            if alerts
        ]
        lines += ["**" + " · ".join(glance) + "**", ""]
    lines += [f"> {md(note, start=True)}" for note in digest.notes] + ([""] if digest.notes else [])
    lines += _alerts(SECTIONS[0], digest.new_campaigns, "No new campaigns in this window.")
    lines += _alerts(SECTIONS[1], digest.spiking, "No known tag is spiking.")
    lines += [f"## {SECTIONS[2]} ({len(digest.spreading)})", ""]
    if not digest.spreading:
        lines += ["No passage reached three or more channels in this window.", ""]
    for number, spread in enumerate(digest.spreading, 1):
        lines += _spread(number, spread)
    lines += [f"## {SECTIONS[3]}", ""]
    lines += _table(
        ("Tag", "Posts", "Forwards", "Channels", "Spellings"),
        [
            (tag(t.tag), str(t.posts), str(t.forwards), str(t.channels), ", ".join(tag(s) for s in t.spellings))
            for t in digest.top_tags
        ],
        "No hashtags in this window.",
    )
    lines += [f"## {SECTIONS[4]}", ""]
    lines += _table(
        ("Channel", "Posts", "Forwards", "First", "Last"),
        [(md(c.channel), str(c.posts), str(c.forwards), when(c.first), when(c.last)) for c in digest.channels],
        "No posts stored in this window.",
    )
    lines += [f"## {SECTIONS[5]}", ""]
    lines += _table(
        ("Source", "Status", "Runs", "Failed", "Errors", "Last error"),
        [
            (
                md(h.source),
                h.status,
                str(h.runs),
                str(h.failed_runs),
                ", ".join(f"{md(k)} {n}" for k, n in h.errors) or "none",
                md(h.last_error, 160) or "",
            )
            for h in digest.health
        ],
        "No ingest runs in this window.",
    )
    return "\n".join(lines).rstrip() + "\n"
