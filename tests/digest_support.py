"""Digests built by hand for the renderer and delivery tests, hostile content included."""

from __future__ import annotations

from datetime import UTC, date, datetime

from feedwatch.digest.model import (
    AlertEntry,
    ChannelRow,
    Chart,
    Digest,
    Evidence,
    HealthRow,
    PostLink,
    Series,
    TagRow,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"
QUOTES = '"><img src=x onerror=alert(2)>'


def alert(tag: str = "UNCharterIsOurRules", tier: str = "T2", **changes: object) -> AlertEntry:
    values: dict[str, object] = dict(
        key=f"{tier}:{tag.casefold()}:2026-11-20T09:00:00+00:00",
        tier=tier,
        tag=tag,
        tags=(tag, "НашиПравилаУставООН"),
        first_seen=datetime(2026, 11, 20, 9, tzinfo=UTC),
        alerted_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
        channels=("MFARussia", "MID_Russia", "RusEmbUSA"),
        posts=7,
        forwards=2,
        score=12.5,
        evidence=(Evidence("observed", "7"), Evidence("expected", "0.2")),
        statistic="Poisson tail P(X >= observed | past rate x hours) = 2.1e-05 (threshold 0.001)",
        score_basis="-log10 p",
        samples=(
            PostLink(
                "Lavrov at the UN",
                "https://t.me/MFARussia/101",
                "t.me/MFARussia/101",
                "MFARussia",
                datetime(2026, 11, 20, 9, tzinfo=UTC),
            ),
            PostLink("Pasted remarks", None, "seeds/004_01d4050f5de082cc.txt#3", None, None, forwarded=True),
        ),
    )
    values.update(changes)
    return AlertEntry(**values)  # type: ignore[arg-type]


def hostile_alert() -> AlertEntry:
    """An alert whose every post-derived string tries to break out of its format."""
    return alert(
        tag="x_[click](javascript:alert(3))",
        tags=("x_[click](javascript:alert(3))", HOSTILE),
        channels=(QUOTES, "evil<b>chan</b>"),
        evidence=(Evidence("statistic", HOSTILE),),
        samples=(
            PostLink(
                HOSTILE + " [link](javascript:alert(4)) ![img](https://evil.example/x.png)",
                "javascript:alert(5)",
                "t.me/evil/1",
                QUOTES,
                None,
            ),
            PostLink(
                "quote \" title ' <i>", 'https://t.me/evil/2?a=1&b="><script>x</script>', "t.me/evil/2", "evil", None
            ),
        ),
    )


def digest(**changes: object) -> Digest:
    values: dict[str, object] = dict(
        generated_at=NOW,
        since=datetime(2026, 11, 22, 8, tzinfo=UTC),
        until=NOW,
        posts=42,
        new_campaigns=(alert(), alert("Coordinated", "T1", key="T1:coordinated:x")),
        spiking=(alert("Ukraine", "T3", key="T3:ukraine:x", tags=("Ukraine",)),),
        top_tags=(
            TagRow("uncharterisourrules", ("UNCharterIsOurRules", "UnCharterIsOurRules"), 7, 7, 1),
            TagRow("ukraine", ("Ukraine",), 5, 1, 3),
        ),
        channels=(ChannelRow("MFARussia", 30, 2, NOW, NOW), ChannelRow("MID_Russia", 12, 0, None, None)),
        health=(
            HealthRow("web:MFARussia", 24, 0, 30, (), None, NOW),
            HealthRow("web:mod_russia", 24, 24, 0, (("unreachable", 24),), "connection refused", NOW),
            HealthRow("web:RusEmbUSA", 24, 2, 5, (("drift", 2),), "no message widgets found", NOW),
        ),
        chart=Chart(
            date(2026, 11, 20),
            1,
            4,
            (
                Series("UNCharterIsOurRules", (2, 0, 4, 1)),
                Series("Ukraine", (1, 1, 0, 3)),
            ),
        ),
    )
    values.update(changes)
    return Digest(**values)  # type: ignore[arg-type]


def hostile_digest() -> Digest:
    return digest(
        new_campaigns=(hostile_alert(),),
        spiking=(),
        top_tags=(TagRow("x", (HOSTILE, "a|b"), 1, 0, 1),),
        channels=(ChannelRow(QUOTES, 1, 0, None, None),),
        health=(HealthRow(QUOTES, 1, 1, 0, (("drift", 1),), HOSTILE, None),),
        chart=Chart(date(2026, 11, 22), 1, 2, (Series(QUOTES + HOSTILE, (1, 0)),)),
    )
