"""The HTML digest: one self-contained page an analyst can read on a phone.

No external resources and no JavaScript: inline CSS, an inline SVG chart, and a
Content-Security-Policy that forbids scripts even if something slipped through.
Every string from posts goes through `h()` (text and attribute escaping); only
URLs that `safe_url` accepts (http, https, t.me) become links. With a `browse_url`
(where `feedwatch serve` is reached), posts, channels and tags link to its pages.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta

from feedwatch import pages
from feedwatch.digest.model import AlertEntry, Chart, Digest, PostLink, Spread, clean_text, lag, plural, safe_url
from feedwatch.digest.render_md import SECTIONS

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#f6f6f4}
main{max-width:44rem;margin:0 auto;padding:1rem}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.6rem 0 .5rem;border-bottom:2px solid #ccc}
h3{font-size:1rem;margin:0 0 .4rem;overflow-wrap:anywhere}
.meta,.note{color:#555;font-size:.9rem}.note{background:#fff6d6;padding:.4rem .6rem}
.alert{background:#fff;border-left:5px solid #888;padding:.6rem .8rem;margin:.6rem 0;border-radius:4px}
.spread{border-color:#6b46c1}.T1{border-color:#b3261e}.T2{border-color:#c66a00}.T3{border-color:#2b6cb0}
.alert ul{padding-left:1.1rem;margin:.3rem 0}.alert li{overflow-wrap:anywhere}
.tier{font-size:.8rem;font-weight:600;color:#fff;background:#555;border-radius:3px;padding:0 .35rem}
.T1 .tier{background:#b3261e}.T2 .tier{background:#c66a00}.T3 .tier{background:#2b6cb0}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem;background:#fff}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #e2e2e2;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}.small{font-size:.8rem;color:#555}
.failing,.markup.drift{color:#b3261e;font-weight:600}.rate.limited,.errors{color:#c66a00}
svg{width:100%;height:auto;background:#fff}a{color:#1a56a8}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def h(text: str | None, limit: int = 0) -> str:
    """Return `text` escaped for HTML text and attribute values, on one clean line."""
    return html.escape(clean_text(text, limit), quote=True)


def when(value: datetime | None) -> str:
    if value is None:
        return "unknown"
    return f'<time datetime="{value.isoformat()}">{value:%Y-%m-%d %H:%M} UTC</time>'


def _anchor(url: str | None, label: str) -> str:
    """Return a link when `url` is safe, else the escaped label alone."""
    checked = safe_url(url)
    if checked is None:
        return label
    return f'<a href="{html.escape(checked, quote=True)}" rel="noopener noreferrer nofollow">{label}</a>'


def _post_link(link: PostLink, base: str = "") -> str:
    label = h(link.label, 140) or "(no text)"
    ref = pages.post_ref(link.url)
    checked = safe_url(pages.post_page(base, ref) if base and ref else link.url)
    head = _anchor(checked, label) if checked else f'{label} <span class="small">{h(link.where)}</span>'
    facts = [_channel(link.channel, base)] if link.channel else []
    if link.date:
        facts.append(when(link.date))
    if link.forwarded:
        facts.append("forward")
    return f"<li>{head}{' <span class=small>· ' + ' · '.join(facts) + '</span>' if facts else ''}</li>"


def _channel(name: str, base: str) -> str:
    return _anchor(pages.channel_link(base, name), h(name))


def _tag(tag: str, base: str) -> str:
    return _anchor(pages.tag_page(base, tag), "#" + h(tag)) if base else "#" + h(tag)


def _alert(alert: AlertEntry, base: str = "") -> str:
    spellings = " ".join("#" + h(t) for t in alert.tags)
    items = [
        f"<li>First use {when(alert.first_seen)}; alerted at {when(alert.alerted_at)}</li>",
        f"<li>Channels ({len(alert.channels)}): {', '.join(_channel(c, base) for c in alert.channels) or 'unknown'}"
        "</li>",
        f"<li>Posts: {alert.posts} independent, {plural(alert.forwards, 'forward')}</li>",
    ]
    if len(alert.tags) > 1:
        items.append(f"<li>Spellings and family: {spellings}</li>")
    items += [f"<li>{h(sentence, 600)}</li>" for sentence in alert.summary]
    if alert.statistic:
        items.append(f"<li>Statistic: {h(alert.statistic, 300)}</li>")
    if alert.evidence and not alert.summary:
        details = "; ".join(f"{h(e.name.replace('_', ' '))} {h(e.value, 200)}" for e in alert.evidence)
        items.append(f'<li class="small">Details: {details}</li>')
    samples = "".join(_post_link(s, base) for s in alert.samples)
    basis = f" ({h(alert.score_basis)})" if alert.score_basis else ""
    return (
        f'<article class="alert {h(alert.tier)}"><h3>{_tag(alert.tag, base)} <span class="tier">{h(alert.tier)}</span> '
        f"{h(alert.title)}, score {alert.score:.3g}{basis}</h3><ul>{''.join(items)}</ul>"
        + (f"<p class=small>Sample posts</p><ul>{samples}</ul>" if samples else "")
        + "</article>"
    )


def _spread(spread: Spread, base: str = "") -> str:
    echoes = "".join(
        _post_link(e.post, base).replace(
            "<li>", f"<li><strong>{h(e.how)}</strong>, {h(lag(e.lag_hours))}, similarity {e.similarity:.2f}: ", 1
        )
        for e in spread.echoes
    )
    counts = (
        f"{plural(spread.forwards, 'forward')}, {plural(spread.verbatim, 'verbatim copy')}, "
        f"{plural(spread.edited, 'edited copy')}"
    )
    return (
        f'<article class="alert spread"><h3>{spread.channels} channels: {h(spread.text, 200)}</h3>'
        f"<p class=small>Origin</p><ul>{_post_link(spread.origin, base)}</ul>"
        f"<p class=small>Repeated by {counts} (copies carry no attribution)</p><ul>{echoes}</ul></article>"
    )


def _alerts(title: str, anchor: str, alerts: tuple[AlertEntry, ...], empty: str, base: str = "") -> str:
    body = "".join(_alert(a, base) for a in alerts) or f"<p>{empty}</p>"
    return f'<section id="{anchor}"><h2>{title} ({len(alerts)})</h2>{body}</section>'


def _table(head: tuple[str, ...], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f"<p>{empty}</p>"
    numeric = {i for i, name in enumerate(head) if name in ("Posts", "Forwards", "Channels", "Runs", "Failed")}
    th = "".join(f"<th>{name}</th>" for name in head)
    trs = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table></div>'


def chart_svg(chart: Chart) -> str:
    """Return an inline SVG of small multiples: one row of bars per tag, each row scaled to its own peak."""
    width, label_h, bar_h, gap = 320, 13, 22, 8
    row_h = label_h + bar_h + gap
    height = row_h * len(chart.series) + 14
    step = width / max(chart.buckets, 1)
    unit = "day" if chart.days == 1 else f"{chart.days} days"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Posts per {unit} for each listed tag">'
    ]
    for row, series in enumerate(chart.series):
        top = row * row_h
        peak = max(series.counts, default=0)
        parts.append(f'<g data-tag="{h(series.tag)}">')
        parts.append(f'<text x="0" y="{top + 10}" font-size="10">#{h(series.tag, 40)}</text>')
        parts.append(f'<text x="{width}" y="{top + 10}" font-size="9" text-anchor="end">peak {peak}</text>')
        base = top + label_h + bar_h
        parts.append(f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#bbb" stroke-width="0.5"/>')
        for i, count in enumerate(series.counts):
            if count <= 0:
                continue
            bar = max(bar_h * count / peak, 1.5)
            day = chart.start + timedelta(days=i * chart.days)
            parts.append(
                f'<rect x="{i * step:.2f}" y="{base - bar:.2f}" width="{max(step - 0.6, 0.8):.2f}" '
                f'height="{bar:.2f}" fill="#2b6cb0" data-count="{count}" data-day="{day.isoformat()}">'
                f"<title>#{h(series.tag, 40)} {day.isoformat()}: {plural(count, 'post')}</title></rect>"
            )
        parts.append("</g>")
    end = chart.start + timedelta(days=chart.buckets * chart.days - 1)
    parts.append(f'<text x="0" y="{height - 2}" font-size="9">{chart.start.isoformat()}</text>')
    parts.append(f'<text x="{width}" y="{height - 2}" font-size="9" text-anchor="end">{end.isoformat()}</text>')
    return "".join(parts) + "</svg>"


def _sections(digest: Digest) -> list[str]:
    base = digest.browse_url
    tags = [
        [
            _tag(t.tag, base),
            str(t.posts),
            str(t.forwards),
            str(t.channels),
            '<span class="small">' + " ".join("#" + h(s) for s in t.spellings) + "</span>",
        ]
        for t in digest.top_tags
    ]
    channels = [[_channel(c.channel, base), str(c.posts), str(c.forwards), when(c.last)] for c in digest.channels]
    health = [
        [
            h(x.source),
            f'<span class="{h(x.status)}">{h(x.status)}</span>',
            str(x.runs),
            str(x.failed_runs),
            h(", ".join(f"{k} {n}" for k, n in x.errors)) or "none",
            h(x.last_error, 160),
        ]
        for x in digest.health
    ]
    chart = ""
    if digest.chart and digest.chart.series:
        unit = "day" if digest.chart.days == 1 else f"{digest.chart.days} days"
        undated = digest.chart.undated
        left_out = f"; {plural(undated, 'post')} without a date not shown" if undated else ""
        chart = (
            f'<figure>{chart_svg(digest.chart)}<figcaption class="small">Posts per {unit} by publication '
            f"date{left_out}</figcaption></figure>"
        )
    return [
        _alerts(SECTIONS[0], "new-campaigns", digest.new_campaigns, "No new campaigns in this window.", base),
        _alerts(SECTIONS[1], "spiking", digest.spiking, "No known tag is spiking.", base),
        f'<section id="spreading"><h2>{SECTIONS[2]} ({len(digest.spreading)})</h2>'
        + (
            "".join(_spread(s, base) for s in digest.spreading)
            or "<p>No passage reached three or more channels in this window.</p>"
        )
        + "</section>",
        f'<section id="top-hashtags"><h2>{SECTIONS[3]}</h2>{chart}'
        + _table(("Tag", "Posts", "Forwards", "Channels", "Spellings"), tags, "No hashtags in this window.")
        + "</section>",
        f'<section id="channels"><h2>{SECTIONS[4]}</h2>'
        + _table(("Channel", "Posts", "Forwards", "Last post"), channels, "No posts stored in this window.")
        + "</section>",
        f'<section id="health"><h2>{SECTIONS[5]}</h2>'
        + _table(("Source", "Status", "Runs", "Failed", "Errors", "Last error"), health, "No ingest runs.")
        + "</section>",
    ]


def render_html(digest: Digest) -> str:
    """Return the digest as one self-contained HTML page."""
    notes = "".join(f'<p class="note">{h(n)}</p>' for n in digest.notes)
    glance = [
        f"{title}: " + ", ".join(f"#{h(a.tag)} ({h(a.tier)}, {len(a.channels)} ch)" for a in alerts)
        for title, alerts in (("New", digest.new_campaigns), ("Spiking", digest.spiking))
        if alerts
    ]
    if glance:
        notes = f"<p><strong>{' · '.join(glance)}</strong></p>" + notes
    summary = (
        f"{h(digest.window())} · {plural(digest.posts, 'post')} · "
        f"{plural(len(digest.new_campaigns), 'new campaign')} · {plural(len(digest.spiking), 'spiking tag')}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{h(digest.title)}</title><style>{_CSS}</style></head>\n"
        f'<body><main><h1>{h(digest.title)}</h1><p class="meta">{summary}</p>{notes}\n'
        + "\n".join(_sections(digest))
        + "\n</main></body></html>\n"
    )
