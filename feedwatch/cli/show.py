"""Human-readable renderings of posts for the terminal."""

from __future__ import annotations

from feedwatch.display import shown
from feedwatch.models import Post


def post_summary(post: Post, number: int) -> str:
    """Return a few aligned lines that let a person see what a post is (control characters escaped)."""
    return "\n".join(shown(line) for line in _summary(post, number))


def _summary(post: Post, number: int) -> list[str]:
    origin = post.channel and f"@{post.channel}" + (f"/{post.message_id}" if post.message_id else "")
    if post.forwarded_from:
        origin = f"{origin + ' · ' if origin else ''}forwarded from {post.forwarded_from.name}"
    where = f"{post.source.path}#{post.source.index}" if post.source.path else post.source.format
    when = post.date.strftime("%Y-%m-%d %H:%M UTC") if post.date else "no date"
    if "date" in post.approximate and post.date:
        when = post.date.strftime("%Y-%m-%d") + " (day only)"
    facts = [when]
    facts += [f"dateline {d.place + ' ' if d.place else ''}{d.date.isoformat()}" for d in post.datelines[:2]]
    if post.views is not None:
        facts.append(f"{'~' if 'views' in post.approximate else ''}{post.views:,} views")
    if post.key_points:
        facts.append(f"{len(post.key_points)} key points")
    facts += [f"{m.type}{' (' + m.note + ')' if m.note else ''}" for m in post.media]
    lines = [
        f"[{number}] {post.kind} · {origin or post.author or 'unknown origin'} · {where}",
        f"    {post.title or '(no title)'}",
        f"    {' · '.join(facts)}",
    ]
    if post.hashtags:
        lines.append("    " + " ".join("#" + t for t in post.hashtags))
    return lines
