"""The report's "when your audience engages" view, read from the learned timing model.

Each channel's fitted model (:func:`dissem.timing.history.timing_for`, the same numbers
``dissem insights`` prints) becomes a grid of slots a manager can read: for each local-time
slot (weekday or weekend, by blocks of a few hours) its *lift* (how much more or less
engagement its posts get than the channel's usual post in its windows) and how many of the
channel's own measured posts that rests on, with the recommended slot marked. Where the
model recommends nothing, the view says why in plain words ("not enough data yet").

A slot without posts of the channel's own shows no lift: the model's number there is only
the group's, and a figure nobody measured reads as a fact on a chart.

With more than :data:`CHANNEL_LIMIT` channels the report shows one grid per *group* (same
platform and region, the model's own grouping) instead: a slot's lift is the average of its
channels' lifts weighted by their posts there, its count their sum, and its mark tells for
how many of the group's channels the model recommends it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dissem.reports.labels import fmt_int, fmt_pct, labels
from dissem.timing.history import LOOKBACK, timing_for
from dissem.timing.model import ChannelTiming, Params

__all__ = [
    "CHANNEL_LIMIT",
    "LOOKBACK",
    "SlotCell",
    "TimingView",
    "build_timing_views",
    "cell_text",
    "lift_text",
    "posts_text",
    "slot_text",
    "status_text",
    "timing_views",
]

#: above this many channels the report shows groups (platform and region), not channels
CHANNEL_LIMIT = 12


@dataclass(frozen=True)
class SlotCell:
    """One slot of one channel or group."""

    key: str  # "weekday-18"
    weekend: bool
    start_hour: int
    end_hour: int
    posts: int  # measured posts in this slot (a group: over its channels)
    lift: float | None  # 0.24 = +24 %; None: no posts of its own here
    low: float | None  # the model's 90 % interval on the lift (a channel only)
    high: float | None
    in_windows: bool  # the (a group: some) channel's posting windows are open in this slot
    recommended: int = 0  # channels for which the model recommends it (a channel: 0 or 1)


@dataclass(frozen=True)
class TimingView:
    """One grid: a channel (``kind`` "channel") or a group of channels ("group")."""

    name: str  # the channel's name, or the group's ("mastodon/Europe")
    kind: str
    platform: str
    timezone: str  # the channel's zone; a group: its region ("Europe")
    measure: str  # "per impression" or "per post" (a group: its first channel's)
    posts: int  # measured posts behind the grid
    channels: int  # 1, or the group's channels
    cells: tuple[SlotCell, ...]
    #: "recommended", "thin" (too few measured posts), "unclear" (none clearly better) or
    #: "not_reported" (the platform gives no figures to learn from)
    status: str
    needed: int  # measured posts a channel needs before any recommendation
    lift_needed: float  # the least lift recommended (0.10)
    probability: float  # ... with at least this probability (0.8)

    @property
    def best(self) -> SlotCell | None:
        """The marked slot: the one recommended for the most channels, then the highest."""
        marked = [c for c in self.cells if c.recommended]
        if not marked:
            return None
        return max(marked, key=lambda c: (c.recommended, c.lift or 0.0, -c.start_hour))


def _channel_view(t: ChannelTiming) -> TimingView:
    best = t.best
    cells = tuple(
        SlotCell(
            key=e.slot.key,
            weekend=e.slot.weekend,
            start_hour=e.slot.start_hour,
            end_hour=e.slot.end_hour,
            posts=e.count,
            lift=e.lift if e.count else None,
            low=e.low if e.count else None,
            high=e.high if e.count else None,
            in_windows=e.in_windows,
            recommended=int(e.slot == best),
        )
        for e in t.slots
    )
    return _view(t.channel, "channel", [t], cells, t.timezone)


def _status(timings: list[ChannelTiming]) -> str:
    if any(t.best is not None for t in timings):
        return "recommended"
    if all(t.posts < t.params.min_posts for t in timings):
        return "thin"
    return "unclear"


def _view(
    name: str, kind: str, timings: list[ChannelTiming], cells: tuple[SlotCell, ...], zone: str
) -> TimingView:
    first = timings[0]
    return TimingView(
        name=name,
        kind=kind,
        platform=first.group.split("/", 1)[0],
        timezone=zone,
        measure=first.measure,
        posts=sum(t.posts for t in timings),
        channels=len(timings),
        cells=cells,
        status=_status(timings),
        needed=first.params.min_posts,
        lift_needed=first.params.lift,
        probability=first.params.probability,
    )


def _group_view(group: str, timings: list[ChannelTiming]) -> TimingView:
    """The channels of one group in one grid (see the module doc)."""
    by_slot: dict[str, list[tuple[ChannelTiming, int, float]]] = defaultdict(list)
    for t in timings:
        for e in t.slots:
            by_slot[e.slot.key].append((t, e.count, e.lift))
    cells = []
    for e in timings[0].slots:
        rows = by_slot[e.slot.key]
        posts = sum(n for _, n, _ in rows)
        lift = sum(n * lift for _, n, lift in rows) / posts if posts else None
        cells.append(
            SlotCell(
                key=e.slot.key,
                weekend=e.slot.weekend,
                start_hour=e.slot.start_hour,
                end_hour=e.slot.end_hour,
                posts=posts,
                lift=lift,
                low=None,
                high=None,
                in_windows=any(t.estimate(e.slot).in_windows for t, _, _ in rows),
                recommended=sum(t.best == e.slot for t, _, _ in rows),
            )
        )
    region = group.split("/", 1)[1] if "/" in group else group
    return _view(group, "group", timings, tuple(cells), region)


def timing_views(timings: Iterable[ChannelTiming], limit: int = CHANNEL_LIMIT) -> list[TimingView]:
    """One view per channel (by name), or per group (by name) above ``limit`` channels."""
    ordered = sorted(timings, key=lambda t: t.channel)
    if len(ordered) <= limit:
        return [_channel_view(t) for t in ordered]
    groups: dict[str, list[ChannelTiming]] = defaultdict(list)
    for t in ordered:
        groups[t.group].append(t)
    return [_group_view(g, members) for g, members in sorted(groups.items())]


def build_timing_views(
    session: Session, at: datetime, params: Params | None = None, limit: int = CHANNEL_LIMIT
) -> list[TimingView]:
    """Every stored channel's model as of ``at`` (posts of the :data:`LOOKBACK` before it)."""
    return timing_views(timing_for(session, at, params=params).values(), limit)


def slot_text(cell: SlotCell, lang: str) -> str:
    """``Weekday 18:00-21:00`` (Indonesian: ``Hari kerja 18.00-21.00``)."""
    lab = labels(lang)
    sep = "." if lang == "id" else ":"
    end = cell.end_hour
    return (
        f"{lab['weekend' if cell.weekend else 'weekday']} "
        f"{cell.start_hour:02d}{sep}00-{end:02d}{sep}00"
    )


def lift_text(lift: float, lang: str) -> str:
    """A lift in whole percent with its sign: ``+24%``, ``-8%``, ``0%``."""
    pct = round(lift * 100)
    return ("+" if pct > 0 else "") + f"{pct}%"


def posts_text(posts: int, lang: str) -> str:
    """``12 posts``, ``1 post``, ``no posts`` (in ``lang``)."""
    lab = labels(lang)
    if posts == 0:
        return lab["no_posts"]
    return lab["one_post"] if posts == 1 else lab["n_posts"].format(n=fmt_int(posts, lang))


def cell_text(cell: SlotCell, lang: str) -> str:
    """``Weekday 18:00-21:00: +24% (12 posts)``; without posts ``... : no posts``."""
    if cell.lift is None:
        return f"{slot_text(cell, lang)}: {posts_text(0, lang)}"
    return f"{slot_text(cell, lang)}: {lift_text(cell.lift, lang)} ({posts_text(cell.posts, lang)})"


def status_text(view: TimingView, lang: str) -> str:
    """The view's verdict in one sentence: its best time, or why there is none yet."""
    lab = labels(lang)
    best = view.best
    if best is not None:
        text = f"{lab['best_time']}: {cell_text(best, lang)}"
        if view.kind == "group":
            text += " · " + lab["group_best"].format(n=best.recommended, m=view.channels)
        return text
    if view.status == "not_reported":
        return lab["not_reported"]
    if view.status == "thin" and not view.posts:
        detail = lab["timing_none"].format(needed=fmt_int(view.needed, lang))
    elif view.status == "thin" and view.kind == "group":
        detail = lab["timing_thin_group"].format(
            posts=fmt_int(view.posts, lang),
            channels=fmt_int(view.channels, lang),
            needed=fmt_int(view.needed, lang),
        )
    elif view.status == "thin":
        detail = lab["timing_thin"].format(
            posts=fmt_int(view.posts, lang), needed=fmt_int(view.needed, lang)
        )
    else:
        detail = lab["timing_unclear"].format(
            lift=lift_text(view.lift_needed, lang), probability=fmt_pct(view.probability, lang, 0)
        )
    return f"{lab['not_enough_data']}: {detail}"
