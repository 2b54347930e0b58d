"""The three tiers, each a check of one tag's state at the post that may have made it true.

Each check returns None or (score, evidence); the evidence holds sentences an
analyst reads (`summary`: who, how they are linked, why a single source is not
its routine) and the figures behind them (the statistic, its value and
threshold). The score is bounded and the same for T1 and T2 (`score_of`: spread,
persistence, coordination, novelty, 0-100); T3 scores at most T3_MAX_SCORE, below
every T1/T2, so a known tag's burst never outranks a campaign.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feedwatch.campaigns.model import DAY, HOUR, Settings, TagState
from feedwatch.campaigns.stats import ewm_fold, ewm_fold_zeros, poisson_tail, significance

if TYPE_CHECKING:
    from feedwatch.campaigns.detector import Detector

MAX_WINDOW = 24  # actors of a launch window compared pairwise (bounded work)
MAX_LAUNCHERS = 10  # a persistent tag launched by more actors than this is a crowd: no co-launch pairs
T3_MAX_SCORE = 30.0  # every T1/T2 scores more (T2 at least 31.5, T1 at least 44), so a burst never outranks them
COINED = 4  # TagState.ep_alerted bit: the episode was counted in its first actor's tag-coining habit
Found = tuple[float, dict[str, Any]] | None


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _by_first_use(state: TagState) -> list[str]:
    first = state.ep_first or {}
    return sorted(first, key=first.__getitem__)


def _hours(seconds: float) -> str:
    hours = seconds / HOUR
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _names(detector: Detector, actors: list[str], limit: int = 6) -> str:
    shown = ", ".join(detector.actors.label(a) for a in actors[:limit])
    return shown + (f" and {len(actors) - limit} more" if len(actors) > limit else "")


def score_of(*, actors: int, active_days: int, coordination: float, novel: bool) -> tuple[float, dict[str, float]]:
    """Return the bounded score (0-100) of a T1/T2 alert and its parts, each in [0, 1].

    spread: actors that used the tag (satellites counted with their origin), 5 or more is full;
    persistence: days of the first week on which it was used, 5 or more is full;
    coordination: share of the launch window's actors linked by forwarding or earlier co-launches;
    novelty: never seen before (1) or revived after a silence (0.5).
    """
    parts = {
        "spread": min(actors, 5) / 5,
        "persistence": min(active_days, 5) / 5,
        "coordination": max(0.0, min(coordination, 1.0)),
        "novelty": 1.0 if novel else 0.5,
    }
    score = 100 * (
        0.3 * parts["spread"] + 0.3 * parts["persistence"] + 0.25 * parts["coordination"] + 0.15 * parts["novelty"]
    )
    return round(score, 1), {k: round(v, 2) for k, v in parts.items()}


def linked(detector: Detector, a: str, b: str, t: float, forwarders: frozenset[str] = frozenset()) -> str | None:
    """Return how two actors are linked, or None: one forwards the other, they co-launched tags before, or (two
    of the `forwarders` that passed this tag on) they keep forwarding the same posts within hours."""
    s = detector.settings
    actors = detector.actors
    if actors.amplifies(a, b) >= s.network_forwards:
        return "forwards"
    if actors.amplifies(b, a) >= s.network_forwards:
        return "forwarded by"
    if detector.pair_weight(a, b, t) >= s.pair_weight:
        return "co-launched with"
    if a in forwarders and b in forwarders and actors.co_forwards(a, b, t) >= s.co_forwards:
        return "co-forwards with"
    return None


def _links(
    detector: Detector, window: list[str], t: float, forwarders: frozenset[str] = frozenset()
) -> list[list[str]]:
    """Return [a, how, b] for every linked pair of window actors (a before b in the window)."""
    links = []
    for i, a in enumerate(window):
        for b in window[i + 1 :]:
            how = linked(detector, a, b, t, forwarders)
            if how is not None:
                links.append([a, how, b])
    return links


def _group(window: list[str], links: list[list[str]], around: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Return the largest set of window actors connected by `links` (or the set `around` is in), and its links."""
    parent = {a: a for a in window}

    def root(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, _, b in links:
        if a in parent and b in parent:
            parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for a in window:
        groups.setdefault(root(a), []).append(a)
    if around is not None and around in parent:
        best = groups[root(around)]
    else:
        best = max(groups.values(), key=len) if groups else []
    members = set(best)
    return best, [link for link in links if link[0] in members and link[2] in members]


def _component(
    detector: Detector, window: list[str], t: float, around: str | None = None
) -> tuple[list[str], list[list[str]]]:
    """Return the largest set of window actors connected by links (or the set `around` is in), and the links."""
    return _group(window, _links(detector, window, t), around)


def _tight_forwarders(window: list[str], links: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Return the window's origin and the forwarders that co-forward with at least two of the others, and links."""
    links = [link for link in links if link[1] == "co-forwards with" and window[0] not in (link[0], link[2])]
    while True:  # peel off members with fewer than two co-forwarding partners left
        degree = Counter(x for link in links for x in (link[0], link[2]))
        kept = [link for link in links if degree[link[0]] >= 2 and degree[link[2]] >= 2]
        if len(kept) == len(links):
            break
        links = kept
    members = {x for link in links for x in (link[0], link[2])}
    return [window[0], *(a for a in window[1:] if a in members)], links


def t1(detector: Detector, state: TagState, t: float) -> Found:
    """Coordinated push: >= N actors took the tag up within W of its first use, linked by forwarding or co-launches."""
    s = detector.settings
    first = state.ep_first or {}
    until = state.ep_start + s.launch_window_hours * HOUR
    if t > until:
        return None  # a launch is the episode's first hours
    window = [a for a in _by_first_use(state) if first[a] <= until][:MAX_WINDOW]
    if len(window) < s.launch_channels:
        return None
    wrote = state.ep_wrote or []
    passed_on = frozenset(a for a in state.ep_actor_days or {} if a not in wrote)  # forwarded it, did not write it
    every = _links(detector, window, t, passed_on)
    group, links = _group(window, [link for link in every if link[1] != "co-forwards with"])
    if all(link[1] != "co-launched with" for link in links):  # co-forwarding alone only joins a cascade
        # No co-launches: a forward cascade, which is the first user's network passing its post on.
        group, links = _group(window, every, around=window[0])
        amplified = [a for a in group[1:] if detector.actors.amplifies(a, window[0]) >= s.network_forwards]
        if len(group) < s.launch_channels + 1 or not amplified:
            # ... else a tight set of channels that keep forwarding the same posts, each with two of the others
            group, links = _tight_forwarders(window, every)
            if len(group) < s.launch_channels + 1:
                return None  # the origin and at least `launch_channels` channels, who forward it or each other
        habit = detector.actors.habit(window[0], t) - (1.0 if state.ep_alerted & COINED else 0.0)
        if habit >= s.habit_coined:
            return None  # an origin that coins series tags routinely, passed on by its usual forwarders
    if len(group) < s.launch_channels or len(group) < s.launch_share * len(window):
        return None  # too few, or a crowd (a news event) in which a few allies happen to be
    brand = [a for a in group if detector.actors.brand(state.key, a)]
    if brand:
        return None  # a network passing on one member's own brand tag
    origin = group[0]
    others = group[1:]
    spread = t - first[origin]
    forwarding = [a for a in others if detector.actors.amplifies(a, origin) >= s.network_forwards]
    sharing = {x for link in links if link[1] == "co-forwards with" for x in (link[0], link[2])}
    launching = {x for link in links if link[1] == "co-launched with" for x in (link[0], link[2])}
    co_forwarding = [a for a in others if a not in forwarding and a in sharing]
    co = [a for a in others if a not in forwarding and a not in sharing and a in launching]
    allied = [a for a in others if a not in forwarding and a not in sharing and a not in launching]
    sentence = f"{detector.actors.label(origin)} posted #{detector.raw}"
    if forwarding:
        sentence += f"; {len(forwarding)} channel(s) that regularly forward it ({_names(detector, forwarding)})"
    if co_forwarding:
        sentence += (
            f"; {len(co_forwarding)} channel(s) that repeatedly forward the same posts within hours of each other "
            f"({_names(detector, co_forwarding)})"
        )
    if co:
        sentence += f"; {len(co)} actor(s) that co-launched tags with them before ({_names(detector, co)})"
    if allied:
        sentence += (
            f"; {len(allied)} actor(s) that forward one of these or are forwarded by one ({_names(detector, allied)})"
        )
    sentence += f" took it up within {_hours(spread)}."
    summary = [sentence]
    if not state.ep_novel:
        summary.append(f"A revival: #{detector.raw} had been silent for {_hours(state.ep_silence)}.")
    if len(window) > len(group):
        summary.append(f"{len(window) - len(group)} other actor(s) used it in the same window without such links.")
    score, parts = score_of(
        actors=len(group), active_days=1, coordination=len(group) / len(window), novel=state.ep_novel
    )
    return score, {
        "_t": t,
        "_channels": _by_first_use(state),
        "summary": summary,
        "statistic": "linked actors taking the tag up within the window (forwarding or earlier co-launches)",
        "value": len(group),
        "threshold": s.launch_channels,
        "window_hours": s.launch_window_hours,
        "origin": origin,
        "window_actors": window,
        "links": links,
        "first_use_by_actor": {actor: iso(first[actor]) for actor in window},
        "score_parts": parts,
        "score": "0-100: 30 spread + 30 persistence + 25 coordination + 15 novelty",
    }


def _busiest_day_of_adoption(firsts: list[float]) -> int:
    """Return the most actors whose first uses fall within one 24 h window (a news crowd adopts within a day)."""
    most, start = 0, 0
    for end, t in enumerate(firsts):
        while t - firsts[start] >= DAY:
            start += 1
        most = max(most, end - start + 1)
    return most


def routine(detector: Detector, state: TagState, actor: str, t: float) -> tuple[bool, str]:
    """Return (is routine, why) for a tag pushed by one actor: its own brand, or one more of its coined series."""
    s = detector.settings
    if detector.actors.brand(state.key, actor):
        return True, f"#{detector.raw} is {detector.actors.label(actor)}'s own name (a brand or sign-off tag)"
    if not state.ep_novel and state.hist_chans == [actor] and not state.hist_many:
        return True, f"{detector.actors.label(actor)} revived a tag only it used before (its rubric)"
    habit = detector.actors.habit(actor, t) - (1.0 if state.ep_alerted & COINED else 0.0)
    if habit >= s.habit_coined:
        return True, (
            f"{detector.actors.label(actor)} coins tags it uses for a few days routinely "
            f"(~{habit:.0f} lately): one more of its series"
        )
    coined = detector.actors.coining(actor, t) - (1.0 if state.ep_novel else 0.0)  # this tag is not its habit
    if coined >= s.habit_new_tags:
        busiest = detector.actors.busiest_other(actor, state.key, t)
        known = t - detector.actors.first_seen(actor, t)
        if known < s.habit_days * DAY:
            return True, (
                f"{detector.actors.label(actor)} writes new tags often (~{coined:.0f} since its first post "
                f"{_hours(known)} ago): too new to tell a push from its habits"
            )
        if state.ep_posts < s.standout * max(busiest, 1.0):
            return True, (
                f"{detector.actors.label(actor)} writes new tags routinely (~{coined:.0f} in recent months): "
                f"one more of them"
            )
        return False, (
            f"{detector.actors.label(actor)} writes new tags routinely (~{coined:.0f} in recent months), but none "
            f"of them lately had more than {busiest:.0f} posts in its first week: this one, with "
            f"{state.ep_posts}, stands out"
        )
    return False, (
        f"{detector.actors.label(actor)} rarely writes new tags ({max(coined, 0):.1f} lately, decayed; "
        f"{s.habit_new_tags:g} would be its habit): this one breaks its habit"
    )


def t2(detector: Detector, state: TagState, actor: str, t: float) -> Found:
    """New campaign: persistent, enough posts, surprising against the tag's own past, and not routine."""
    s = detector.settings
    active = sum(1 for w in state.ep_days if w)
    first = state.ep_first or {}
    actors = _by_first_use(state) or list(state.ep_chans)
    if state.ep_weight < s.min_posts:
        return None
    origin = actors[0] if actors else actor
    group, _ = _component(detector, actors[:MAX_WINDOW], t, around=origin)
    posted = state.ep_actor_days or {}  # actors that posted or forwarded it (not only origins of forwards)
    wrote = state.ep_wrote
    outside = [a for a in actors[:MAX_WINDOW] if a not in group and a in posted]
    # an actor that only forwarded posts carrying the tag passed on another's post; it did not take the tag up
    independent = [a for a in outside if wrote is None or a in wrote or len(wrote) >= MAX_WINDOW]
    forwarded_only = [a for a in outside if a not in independent]
    pusher = max(posted, key=lambda a: (bin(posted[a]).count("1"), a == origin)) if posted else origin
    age = t - state.ep_start
    pushed = age >= s.persist_hours * HOUR and (  # used on most days of its first week (or two), or hard
        state.ep_sustain >= (s.push_days if age < s.new_days * DAY else s.slow_push_days)
        or (state.ep_sustain >= s.min_active_days and state.ep_posts >= s.push_posts)
    )
    # a starter that wrote the tag itself on two days pushes it; one seen only through forwards passed news on
    started = origin in posted and bin(posted[origin]).count("1") >= 2 and (wrote is None or origin in wrote)
    busiest = max(state.ep_days) / max(sum(state.ep_days), 1e-9)
    crowd = _busiest_day_of_adoption(sorted(first.values()))
    early = t - state.ep_start < s.persist_hours * HOUR  # before 48 h: 2 days will do when 3 or more actors used it
    spread_days = active >= s.min_active_days or (
        early and active >= 2 and s.launch_channels <= len(actors) <= MAX_LAUNCHERS
    )
    taken_up = (
        len(independent) >= s.taken_up_writers
        and started
        and spread_days
        and state.ep_sustain >= 2
        and busiest <= s.busiest_day_share
        and crowd <= MAX_LAUNCHERS
        and t - state.ep_start < s.new_days * DAY
    )  # after that, only a push by one actor confirms
    # ... used again, taken up by others, and not a crowd on one day (a news event)
    if not pushed and not taken_up:
        return None  # a campaign is pushed day after day by an actor, or used again and taken up by others
    hours = max(1.0, (t - state.ep_start) / HOUR)
    history = max(1.0, (state.ep_start - state.first_ever) / HOUR)
    rate = max(s.base_per_day / 24, state.past_weight / history if not state.ep_novel else 0.0)
    expected = rate * hours
    observed = int(state.ep_weight)
    p = poisson_tail(observed, expected)
    if p >= (s.p_taken_up if taken_up and state.ep_novel else s.p_value):
        return None  # a never-seen tag taken up by other actors needs less surprise than one actor's
    summary = []
    if independent:
        summary.append(
            f"{detector.actors.label(origin)} started #{detector.raw}; taken up by "
            f"{_names(detector, independent)}, not in its forwarding network."
        )
    else:
        if forwarded_only:
            summary.append(
                f"{_names(detector, forwarded_only)} only forwarded posts carrying #{detector.raw}: "
                f"passing a post on is not taking the tag up."
            )
        for who in dict.fromkeys((origin, pusher)):
            is_routine, why = routine(detector, state, who, t)
            if is_routine:
                return None
        summary.append(
            f"One actor ({detector.actors.label(pusher)}) pushed #{detector.raw} on {state.ep_sustain} days; {why}."
        )
    if state.ep_novel:
        summary.append(
            f"Never used before; {observed} posts in {_hours(t - state.ep_start)} (p = {p:.2g} at a "
            f"base rate of {rate * 24:.2g} a day)."
        )
    else:
        summary.append(
            f"Revived after {_hours(state.ep_silence)} of silence; {observed} posts in {_hours(t - state.ep_start)}."
        )
    score, parts = score_of(
        actors=len(actors),
        active_days=active,
        coordination=len(independent) / max(1, len(actors) - 1) if len(actors) > 1 else 0.0,
        novel=state.ep_novel,
    )
    return score, {
        "_t": t,
        "_channels": actors,
        "summary": summary,
        "statistic": "Poisson tail P(X >= observed | past rate x hours)",
        "value": p,
        "threshold": s.p_value,
        "observed": observed,
        "expected": round(expected, 4),
        "past_rate_per_day": round(rate * 24, 4),
        "hours_since_first_use": round(hours, 1),
        "active_days": active,
        "actor_days": state.ep_sustain,
        "independent_actors": independent,
        "busiest_day_share": round(busiest, 3),
        "first_use_by_actor": {a: iso(first[a]) for a in actors[:MAX_WINDOW] if a in first},
        "score_parts": parts,
        "score": "0-100: 30 spread + 30 persistence + 25 coordination + 15 novelty",
    }


def fold_hours(state: TagState, hour: int, alpha: float) -> tuple[float, float]:
    """Return the EWMA and EWM variance after folding the tag's last hour and the empty hours since."""
    mean, var = ewm_fold(state.mean, state.var, state.hour_count, alpha)
    return ewm_fold_zeros(mean, var, hour - state.hour - 1, alpha)


def burst_threshold(s: Settings, state: TagState) -> float:
    """Return the hour count at which T3's z reaches its threshold (computed once per hour)."""
    return state.mean + s.burst_sigma * (math.sqrt(max(state.var, 0.0)) + s.burst_beta)


def t3(s: Settings, state: TagState, t: float, raw: str = "") -> Found:
    """Known-tag burst: this hour's count is >= sigma above the EWMA (SigniTrend, with beta)."""
    if state.hour - state.t3_hour < s.burst_rearm_hours:
        return None
    z = significance(state.hour_count, state.mean, state.var, s.burst_beta)
    if z < s.burst_sigma:
        return None
    raw = raw or state.key
    state.t3_hour = state.hour
    score = round(T3_MAX_SCORE * min(z / (4 * s.burst_sigma), 1.0), 1)  # a known tag's burst ranks below campaigns
    return score, {
        "_t": t,
        "_channels": list(state.hour_chans),
        "summary": [
            f"#{raw} was used {state.hour_count:g} times in the hour from {iso(state.hour * HOUR)}, "
            f"against {state.mean:.2g} an hour usually (z = {z:.1f}, threshold {s.burst_sigma:g})."
        ],
        "statistic": "SigniTrend z = (hour count - EWMA) / (EWM std + beta)",
        "value": round(z, 2),
        "threshold": s.burst_sigma,
        "hour_count": state.hour_count,
        "ewma": round(state.mean, 3),
        "ewm_std": round(math.sqrt(state.var), 3),
        "beta": s.burst_beta,
        "hour": iso(state.hour * HOUR),
        "score": f"0-{T3_MAX_SCORE:g}: z / (4 x threshold), capped below every T1/T2 score",
    }


def confirm_launch(detector: Detector, state: TagState, t: float) -> None:
    """Once an episode has persisted, its launchers (first uses within W of the start) co-launched it."""
    s = detector.settings
    if not state.ep_alerted & 3:
        return  # not (yet) judged a campaign
    state.ep_confirmed = True
    if detector.start is not None and state.ep_start < detector.start + s.new_days * DAY:
        return  # the stream's first days: every tag in use looks launched, none was
    first = state.ep_first or {}
    until = state.ep_start + s.launch_window_hours * HOUR
    launchers = [actor for actor in _by_first_use(state) if first[actor] <= until]
    if len(launchers) > MAX_LAUNCHERS:
        return  # a crowd, not a network
    for i, a in enumerate(launchers):
        for b in launchers[i + 1 :]:
            detector.add_co_launch(a, b, t)
