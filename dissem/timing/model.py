"""When each channel's audience engages: a small, explainable model per channel.

Outcome
    For each published post, its engagement (likes, reposts, replies, quotes, bookmarks,
    shares, link clicks: the report's sum) at a fixed age (:attr:`Params.age`, one day),
    per impression (views, else reach). A platform that gives no impressions has its
    engagement per post instead: dissem keeps no follower counts, and a follower count
    changes slowly enough to cancel out of the next step anyway. The outcome is then taken
    relative to the channel's rolling median (the posts within :attr:`Params.rolling` on
    either side), on a log scale: ``z = log(rate / rolling median)``. Account size and
    growth drop out; what is left is "better or worse than this channel's usual post".

Slots
    Coarse local-time slots in the channel's time zone (:mod:`dissem.timing.slots`).

Estimate (empirical Bayes, a normal-normal model with closed-form posteriors)
    Within a slot, ``z ~ N(theta_slot, sigma^2)``; across the channels of one *group*
    (the same platform and region, the region being the first part of the time zone, e.g.
    ``mastodon/Europe``), ``theta_slot ~ N(mu_group_slot, tau^2)``. ``mu`` is the group's
    mean for the slot leaving the channel itself out, ``tau^2`` the spread of channels
    around it (method of moments), ``sigma^2`` the channel's own scatter pooled with its
    group's. A slot with few posts is pulled toward its group; with none it *is* its group.

Lift and recommendation
    A slot's lift is ``exp(theta_slot - baseline) - 1`` where ``baseline`` is what posting
    anywhere in the configured windows gets (slots weighted by their window hours). A slot
    is recommended only when the channel has at least :attr:`Params.min_posts` measured
    posts, the slot at least :attr:`Params.min_slot_posts`, the slot lies in the windows,
    and the posterior probability of a lift of at least :attr:`Params.lift` (10 %) is at
    least :attr:`Params.probability` (0.8). Otherwise the configured windows stand.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist, median
from zoneinfo import ZoneInfo

from dissem.config.models import Window
from dissem.timing.slots import DEFAULT_BLOCK_HOURS, Slot, all_slots, slot_of, window_hours_in

__all__ = [
    "ChannelHistory",
    "ChannelTiming",
    "Observation",
    "Params",
    "SlotEstimate",
    "fit",
    "group_of",
    "outcomes",
]

_NORMAL = NormalDist()


@dataclass(frozen=True)
class Params:
    """The model's few knobs; the defaults are what planning and ``dissem insights`` use."""

    block_hours: int = DEFAULT_BLOCK_HOURS
    age: timedelta = timedelta(days=1)  # the post age the outcome is read at
    rolling: timedelta = timedelta(days=14)  # half-width of the rolling median
    min_posts: int = 20  # measured posts a channel needs before any recommendation
    min_slot_posts: int = 3  # posts a slot needs before it can be recommended
    min_own_weight: float = 0.5  # ... and its own posts must weigh at least this against
    # its group's: a channel is never moved on its group's habits alone
    lift: float = 0.10  # the least lift worth moving posts for
    probability: float = 0.8  # how sure the model must be of that lift
    near: float = 0.05  # a slot within this much of the best one counts as "the best"
    top_probability: float = 0.5  # how sure the model must be that the best slot is the best
    interval: float = 0.9  # the interval shown for each slot
    prior_sd: float = 0.35  # tau when a group has too few channels to measure its spread
    min_prior_sd: float = 0.05
    prior_df: float = 8.0  # weight (in posts) of the group's scatter in a channel's sigma
    prior_posts: float = 5.0  # weight (in posts) of "no effect" in a group's slot mean


@dataclass(frozen=True)
class Observation:
    """One published post: engagement and impressions (None: not given) at ``Params.age``."""

    published_at: datetime
    engagement: int
    exposure: int | None = None

    def order(self) -> tuple[datetime, int, int]:
        """Sort key: by time, then engagement, then impressions (none before any). The
        generated ``order=True`` compared ``None`` with an int and raised ``TypeError``
        when two posts shared a time and engagement."""
        return (self.published_at, self.engagement, -1 if self.exposure is None else self.exposure)


def group_of(platform: str, timezone: str) -> str:
    """The channel's group: platform and region (``mastodon/Europe``, ``x/UTC``)."""
    return f"{platform}/{timezone.split('/', 1)[0]}"


@dataclass(frozen=True)
class ChannelHistory:
    """What the model reads of one channel."""

    name: str
    platform: str
    timezone: str
    windows: tuple[Window, ...]
    observations: tuple[Observation, ...]

    @property
    def group(self) -> str:
        return group_of(self.platform, self.timezone)


@dataclass(frozen=True)
class SlotEstimate:
    """One slot of one channel: its count, estimate and interval, in plain numbers."""

    slot: Slot
    count: int  # measured posts of the channel in this slot
    own_mean: float | None  # the channel's own mean log-outcome here (None: no posts)
    own_weight: float  # share of the estimate that is the channel's own posts (0..1)
    group_mean: float  # the prior: the group's mean for this slot (log scale)
    mean: float  # posterior mean (log scale, relative to the rolling median)
    sd: float  # posterior standard deviation
    lift: float  # estimated lift over posting anywhere in the windows (0.24 = +24 %)
    low: float  # interval on the lift
    high: float
    p_clear: float  # probability that the lift is at least Params.lift
    p_top: float  # probability (a lower bound) that no in-window slot beats it by Params.near
    window_hours: float  # hours per week the windows are open in this slot
    recommended: bool = False

    @property
    def in_windows(self) -> bool:
        return self.window_hours > 0


@dataclass(frozen=True)
class ChannelTiming:
    """The fitted model of one channel, and its recommendation (best clear slots first)."""

    channel: str
    group: str
    timezone: str
    measure: str  # "per impression" or "per post"
    posts: int  # measured posts used
    slots: tuple[SlotEstimate, ...]
    recommended: tuple[Slot, ...]
    reason: str  # why there is (or is not) a recommendation, in plain words
    params: Params = field(default_factory=Params)

    @property
    def best(self) -> Slot | None:
        return self.recommended[0] if self.recommended else None

    def estimate(self, slot: Slot) -> SlotEstimate:
        for s in self.slots:
            if s.slot == slot:
                return s
        raise KeyError(slot)


def outcomes(history: ChannelHistory, params: Params) -> tuple[str, list[tuple[Slot, float]]]:
    """The measure used and each measured post's ``(slot, z)``, ``z`` on the log scale
    relative to the channel's rolling median."""
    obs = sorted(history.observations, key=Observation.order)
    exposed = [o for o in obs if o.exposure]
    per_impression = bool(exposed) and 2 * len(exposed) >= len(obs)
    use = exposed if per_impression else obs
    if not use:
        return ("per impression" if per_impression else "per post"), []
    # +0.5: a post with no engagement at all still has a finite logarithm
    rates = [
        (o.engagement + 0.5) / o.exposure if per_impression and o.exposure else o.engagement + 0.5
        for o in use
    ]
    times = [o.published_at for o in use]
    zone = ZoneInfo(history.timezone)
    whole = median(rates)
    out: list[tuple[Slot, float]] = []
    # The rolling median of ``rates[lo:hi]`` (the posts within ``rolling`` of each post), kept
    # as a sorted window that slides forward with the posts (times are sorted, so ``lo`` and
    # ``hi`` only grow): each post adds and drops a value instead of sorting its whole window
    # again, the same numbers as ``median(rates[lo:hi])``.
    window: list[float] = []
    lo = hi = 0
    slots: dict[tuple[int, int], Slot] = {}
    for i, (t, rate) in enumerate(zip(times, rates, strict=True)):
        new_lo, new_hi = (
            bisect_left(times, t - params.rolling),
            bisect_right(times, t + params.rolling),
        )
        for value in rates[hi:new_hi]:
            insort(window, value)
        for value in rates[lo:new_lo]:
            del window[bisect_left(window, value)]
        lo, hi = new_lo, new_hi
        base = _sorted_median(window) if hi - lo >= 5 else whole
        # slot_of's answer for each local (weekday, hour), looked up: a slot a post is most of
        # the fit's time otherwise
        at = use[i].published_at
        if at.tzinfo is None:
            slot_of(at, zone, params.block_hours)  # raises: an instant must be aware
        local = at.astimezone(zone)
        slot = slots.get((local.weekday(), local.hour))
        if slot is None:
            slot = slots[local.weekday(), local.hour] = slot_of(at, zone, params.block_hours)
        out.append((slot, math.log(rate / base)))
    return ("per impression" if per_impression else "per post"), out


def _sorted_median(values: list[float]) -> float:
    """:func:`statistics.median` of values already sorted (the same arithmetic)."""
    n = len(values)
    if n % 2:
        return values[n // 2]
    return (values[n // 2 - 1] + values[n // 2]) / 2


@dataclass
class _Data:
    history: ChannelHistory
    measure: str
    by_slot: dict[Slot, list[float]]
    ss: float = 0.0  # within-slot sum of squares
    df: int = 0

    @property
    def posts(self) -> int:
        return sum(len(v) for v in self.by_slot.values())


def fit(
    histories: Sequence[ChannelHistory], params: Params | None = None
) -> dict[str, ChannelTiming]:
    """Fits every channel of ``histories`` (their groups are the other channels given)."""
    params = params or Params()
    slots = all_slots(params.block_hours)
    data: dict[str, _Data] = {}
    for h in histories:
        measure, zs = outcomes(h, params)
        by_slot: dict[Slot, list[float]] = defaultdict(list)
        for slot, z in zs:
            by_slot[slot].append(z)
        d = _Data(h, measure, dict(by_slot))
        for values in d.by_slot.values():
            m = sum(values) / len(values)
            d.ss += sum((v - m) ** 2 for v in values)
            d.df += len(values) - 1
        data[h.name] = d
    members: dict[str, list[_Data]] = defaultdict(list)
    for d in data.values():
        members[d.history.group].append(d)
    groups = {name: _Group.of(group, slots, params) for name, group in members.items()}
    return {
        name: _fit_channel(d, groups[d.history.group], slots, params) for name, d in data.items()
    }


def _sigma2(d: _Data, group_var: float, params: Params) -> float:
    """The channel's within-slot variance, pooled with its group's."""
    return max(1e-4, (d.ss + params.prior_df * group_var) / (d.df + params.prior_df))


@dataclass(frozen=True)
class _Group:
    """What a channel borrows from its group: slot totals (to leave itself out of), the
    pooled scatter ``variance`` and the spread ``tau2`` of channels around the group."""

    totals: dict[Slot, tuple[float, int]]
    variance: float
    tau2: float
    prior_posts: float

    @classmethod
    def of(cls, group: list[_Data], slots: list[Slot], params: Params) -> _Group:
        df = sum(x.df for x in group)
        # 0.25 (a scatter of about 50 %) when the group cannot tell yet
        variance = sum(x.ss for x in group) / df if df >= 5 else 0.25
        totals: dict[Slot, tuple[float, int]] = {}
        for s in slots:
            lists = [x.by_slot.get(s, []) for x in group]
            totals[s] = (sum(sum(v) for v in lists), sum(len(v) for v in lists))
        made = cls(totals, variance, params.prior_sd**2, params.prior_posts)
        # method of moments: E[(own mean - group mean)^2] = tau^2 + sigma^2 / n
        pieces: list[float] = []
        channels = 0
        for x in group:
            s2 = _sigma2(x, variance, params)
            used = False
            for slot, values in x.by_slot.items():
                if len(values) >= 2:
                    own = sum(values) / len(values)
                    pieces.append((own - made.mean_without(x, slot)) ** 2 - s2 / len(values))
                    used = True
            channels += used
        if channels < 4 or not pieces:
            return made  # fewer than three others to compare with: the default spread
        tau2 = min(1.0, max(params.min_prior_sd**2, sum(pieces) / len(pieces)))
        return cls(totals, variance, tau2, params.prior_posts)

    def mean_without(self, d: _Data, slot: Slot) -> float:
        """The group's mean for ``slot`` leaving ``d`` out, pulled toward "no effect"."""
        total, n = self.totals[slot]
        values = d.by_slot.get(slot, ())
        return (total - sum(values)) / (n - len(values) + self.prior_posts)


def _fit_channel(d: _Data, group: _Group, slots: list[Slot], params: Params) -> ChannelTiming:
    h = d.history
    sigma2 = _sigma2(d, group.variance, params)
    tau2 = group.tau2
    mu = {slot: group.mean_without(d, slot) for slot in slots}
    hours = {slot: window_hours_in(list(h.windows), slot) for slot in slots}
    post: dict[Slot, tuple[float, float, int, float | None]] = {}
    for slot in slots:
        values = d.by_slot.get(slot, [])
        n = len(values)
        own = sum(values) / n if n else None
        precision = 1.0 / tau2 + n / sigma2
        mean = (mu[slot] / tau2 + (n * own / sigma2 if own is not None else 0.0)) / precision
        post[slot] = (mean, math.sqrt(1.0 / precision), n, own)
    total_hours = sum(hours.values())
    weights = {s: (hours[s] / total_hours if total_hours else 1.0 / len(slots)) for s in slots}
    baseline = sum(weights[s] * post[s][0] for s in slots)
    z = _NORMAL.inv_cdf(0.5 + params.interval / 2)
    threshold = math.log1p(params.lift)
    estimates: list[SlotEstimate] = []
    for slot in slots:
        mean, sd, n, own = post[slot]
        diff = mean - baseline
        # the baseline holds this slot too: the difference's variance counts that once
        var = (1 - weights[slot]) ** 2 * sd**2 + sum(
            weights[t] ** 2 * post[t][1] ** 2 for t in slots if t != slot
        )
        spread = math.sqrt(var)
        estimates.append(
            SlotEstimate(
                slot=slot,
                count=n,
                own_weight=(n / sigma2) / (n / sigma2 + 1.0 / tau2),
                own_mean=own,
                group_mean=mu[slot],
                mean=mean,
                sd=sd,
                lift=math.expm1(diff),
                low=math.expm1(diff - z * spread),
                high=math.expm1(diff + z * spread),
                p_clear=1.0 - _NORMAL.cdf((threshold - diff) / spread),
                p_top=_p_top(slot, post, hours, math.log1p(params.near)),
                window_hours=hours[slot],
            )
        )
    clear = sorted(
        (
            e
            for e in estimates
            if e.in_windows
            and e.count >= params.min_slot_posts
            and e.own_weight >= params.min_own_weight
            and e.p_clear >= params.probability
        ),
        key=lambda e: (-e.mean, e.slot),
    )
    if d.posts < params.min_posts:
        clear = []
        reason = (
            f"only {d.posts} measured post(s); at least {params.min_posts} are needed before "
            "any slot is recommended, so the configured windows stand"
        )
    elif not clear:
        reason = (
            f"no slot in the windows is clearly better (a lift of at least "
            f"{params.lift:.0%} with probability {params.probability:.0%}, from at least "
            f"{params.min_slot_posts} posts of this channel weighing at least as much as its "
            "group's), so the configured windows stand"
        )
    elif clear[0].p_top < params.top_probability:
        best = clear[0]
        reason = (
            f"{best.slot.label} looks better than the windows' average ({best.lift:+.0%}), "
            f"but other slots may still be as good (chance it is the best: {best.p_top:.0%}, "
            f"{params.top_probability:.0%} needed), so the configured windows stand"
        )
        clear = []
    else:
        best = clear[0]
        reason = (
            f"{best.slot.label} is clearly better: about {best.lift:+.0%} engagement "
            f"{d.measure} over posting anywhere in the windows, with probability "
            f"{best.p_clear:.0%} of at least {params.lift:+.0%} and {best.p_top:.0%} of being "
            f"the best slot, from {best.count} posts"
        )
    chosen = {e.slot for e in clear}
    estimates = [SlotEstimate(**{**e.__dict__, "recommended": e.slot in chosen}) for e in estimates]
    return ChannelTiming(
        channel=h.name,
        group=h.group,
        timezone=h.timezone,
        measure=d.measure,
        posts=d.posts,
        slots=tuple(estimates),
        recommended=tuple(e.slot for e in clear),
        reason=reason,
        params=params,
    )


def _p_top(
    slot: Slot,
    post: dict[Slot, tuple[float, float, int, float | None]],
    hours: dict[Slot, float],
    margin: float,
) -> float:
    """A lower bound on the probability that no other in-window slot beats ``slot`` by more
    than ``margin`` (log scale): the product of the pairwise probabilities (the events are
    positively associated, so the product never overstates)."""
    mean, sd = post[slot][0], post[slot][1]
    p = 1.0
    for other, (m, s, _, _) in post.items():
        if other != slot and hours[other] > 0:
            p *= _NORMAL.cdf((mean - m + margin) / math.sqrt(sd**2 + s**2))
    return p
