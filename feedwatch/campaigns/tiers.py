"""The three tiers, each a check of one tag's state at the post that may have made it true.

Each check returns None or (score, evidence); the evidence names the statistic,
its value and its threshold, so an analyst sees why the alert was raised.
The score is the tier's own statistic: T1 the summed co-launch weight of the
pairs that qualified, T2 -log10 of the Poisson tail, T3 SigniTrend's z.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feedwatch.campaigns.model import DAY, HOUR, Settings, TagState
from feedwatch.campaigns.stats import ewm_fold, ewm_fold_zeros, poisson_tail, significance

if TYPE_CHECKING:
    from feedwatch.campaigns.detector import Detector

MAX_WINDOW = 24  # actors of a launch window compared pairwise (bounded work)
Found = tuple[float, dict[str, Any]] | None


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _by_first_use(state: TagState) -> list[str]:
    first = state.ep_first or {}
    return sorted(first, key=first.__getitem__)


def t1(detector: Detector, state: TagState, t: float) -> Found:
    """Coordinated launch: >= N actors first used the tag within W of its first use, and co-launched before."""
    s = detector.settings
    first = state.ep_first or {}
    until = state.ep_start + s.launch_window_hours * HOUR
    if t > until:
        return None  # a launch is the episode's first hour
    window = _by_first_use(state)[:MAX_WINDOW]
    if len(window) < s.launch_channels:
        return None
    partners: dict[str, set[str]] = {actor: set() for actor in window}
    pairs = []
    for i, a in enumerate(window):
        for b in window[i + 1 :]:
            weight = detector.pair_weight(a, b, t)
            if weight >= s.pair_weight:
                partners[a].add(b)
                partners[b].add(a)
                pairs.append([a, b, round(weight, 2)])
    strong = _in_triangles(partners)
    if len(strong) < s.launch_channels or len(strong) < s.launch_share * len(window):
        return None  # too few, or a crowd (a news event) in which a few regular partners happen to be
    pairs = [p for p in pairs if p[0] in strong and p[1] in strong]
    score = sum(p[2] for p in pairs)
    return score, {
        "_t": t, "_channels": _by_first_use(state),
        "statistic": "co-launch: actors first using the tag within the window, in trios of strong pairs",
        "value": len(strong), "threshold": s.launch_channels,
        "window_hours": s.launch_window_hours, "pair_weight_threshold": s.pair_weight,
        "window_actors": window, "pairs": pairs,
        "first_use_by_actor": {actor: iso(first[actor]) for actor in window},
        "score": "sum of the qualifying pair weights",
    }


def _in_triangles(partners: dict[str, set[str]]) -> set[str]:
    """Return the actors that, with two partners of theirs who are partners too, form a co-launching trio."""
    found: set[str] = set()
    for a, near in partners.items():
        for b in near:
            common = near & partners[b]
            if common:
                found.update((a, b), common)
    return found


def t2(s: Settings, state: TagState, actor: str, t: float) -> Found:
    """New campaign: persistent, enough posts, surprising against the tag's own past rate, not a rubric."""
    active = sum(1 for w in state.ep_days if w)
    if state.ep_weight < s.min_posts or state.ep_sustain < s.min_active_days:
        return None  # a campaign is pushed: some actor keeps using the tag day after day
    busiest = max(state.ep_days) / max(sum(state.ep_days), 1e-9)
    if state.ep_channels <= 1 and not state.ep_novel and state.hist_chans == [actor] and not state.hist_many:
        return None  # one actor reviving a tag only it used before: its routine rubric
    hours = max(1.0, (t - state.ep_start) / HOUR)
    history = max(1.0, (state.ep_start - state.first_ever) / HOUR)
    rate = max(s.base_per_day / 24, state.past_weight / history if not state.ep_novel else 0.0)
    expected = rate * hours
    observed = int(state.ep_weight)
    p = poisson_tail(observed, expected)
    if p >= s.p_value:
        return None
    return -math.log10(max(p, 1e-300)), {
        "_t": t, "_channels": _by_first_use(state) or list(state.ep_chans),
        "statistic": "Poisson tail P(X >= observed | past rate x hours)",
        "value": p, "threshold": s.p_value,
        "observed": observed, "expected": round(expected, 4), "past_rate_per_day": round(rate * 24, 4),
        "hours_since_first_use": round(hours, 1), "active_days": active, "actor_days": state.ep_sustain,
        "busiest_day_share": round(busiest, 3),
        "persist_hours": s.persist_hours, "min_posts": s.min_posts, "min_active_days": s.min_active_days,
        "score": "-log10 p",
    }


def fold_hours(state: TagState, hour: int, alpha: float) -> tuple[float, float]:
    """Return the EWMA and EWM variance after folding the tag's last hour and the empty hours since."""
    mean, var = ewm_fold(state.mean, state.var, state.hour_count, alpha)
    return ewm_fold_zeros(mean, var, hour - state.hour - 1, alpha)


def burst_threshold(s: Settings, state: TagState) -> float:
    """Return the hour count at which T3's z reaches its threshold (computed once per hour)."""
    return state.mean + s.burst_sigma * (math.sqrt(max(state.var, 0.0)) + s.burst_beta)


def t3(s: Settings, state: TagState, t: float) -> Found:
    """Known-tag burst: this hour's count is >= sigma above the EWMA (SigniTrend, with beta)."""
    if state.hour - state.t3_hour < s.burst_rearm_hours:
        return None
    z = significance(state.hour_count, state.mean, state.var, s.burst_beta)
    if z < s.burst_sigma:
        return None
    state.t3_hour = state.hour
    return z, {
        "_t": t, "_channels": list(state.hour_chans),
        "statistic": "SigniTrend z = (hour count - EWMA) / (EWM std + beta)",
        "value": round(z, 2), "threshold": s.burst_sigma,
        "hour_count": state.hour_count, "ewma": round(state.mean, 3), "ewm_std": round(math.sqrt(state.var), 3),
        "beta": s.burst_beta, "hour": iso(state.hour * HOUR),
        "score": "z",
    }


def confirm_launch(detector: Detector, state: TagState, t: float) -> None:
    """Once an episode has persisted, its launchers (first uses within W of the start) co-launched it."""
    s = detector.settings
    if state.ep_sustain < s.min_active_days:
        return  # not (yet) pushed day after day by any of its actors
    state.ep_confirmed = True
    if detector.start is not None and state.ep_start < detector.start + s.new_days * DAY:
        return  # the stream's first days: every tag in use looks launched, none was
    first = state.ep_first or {}
    until = state.ep_start + s.launch_window_hours * HOUR
    launchers = [actor for actor in _by_first_use(state) if first[actor] <= until][:MAX_WINDOW]
    for i, a in enumerate(launchers):
        for b in launchers[i + 1 :]:
            detector.add_co_launch(a, b, t)

