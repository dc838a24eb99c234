"""Everything one weekly report shows, assembled from the SQL aggregates of
:mod:`dissem.reports.aggregate`. HTML, CSV and XLSX all render this one value, so their
numbers agree by construction.

A week that is not over at ``now`` is *partial*: it says so, and its previous-week figures
cover the same span of the week before (Monday 00:00 to the same weekday and time), so the
comparison is like for like.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dissem.feeds import Decision, decision_counts
from dissem.redact import redact
from dissem.reports.aggregate import (
    ChannelTotals,
    PostRow,
    ProblemCount,
    engagement_of,
    query_channel_totals,
    query_post_rows,
    query_problems,
    sum_optional,
)
from dissem.reports.timing import TimingView, build_timing_views
from dissem.store.models import METRIC_COLUMNS, FeedState, PostState
from dissem.traits import find_traits

__all__ = [
    "DayFigures",
    "FeedFigures",
    "GroupFigures",
    "Reason",
    "ReleaseFigures",
    "Reliability",
    "Summary",
    "WeekFigures",
    "build_week_figures",
    "platform_reports_metrics",
    "summary_dict",
]

TOP_POSTS = 10
MAX_REASONS = 20


def platform_reports_metrics(platform: str) -> bool | None:
    """Whether the platform reports any metric (its declaration, :mod:`dissem.traits`);
    None for a platform without one (then the data decides: a NULL figure reads "not
    reported")."""
    traits = find_traits(platform)
    return None if traits is None else bool(traits.metrics)


@dataclass(frozen=True)
class Summary:
    """The headline figures of one week."""

    posts: int
    engagement: int | None
    views: int | None
    channels_active: int
    on_time_rate: float | None  # 0..1; None without posts
    with_snapshot: int = 0  # posts with at least one snapshot

    @classmethod
    def from_totals(cls, totals: list[ChannelTotals]) -> Summary:
        posts = sum(t.posts for t in totals)
        return cls(
            posts=posts,
            engagement=sum_optional(t.engagement for t in totals),
            views=sum_optional(t.metrics["views"] for t in totals),
            channels_active=len({t.channel for t in totals}),
            on_time_rate=(sum(t.on_time for t in totals) / posts) if posts else None,
            with_snapshot=sum(t.with_snapshot for t in totals),
        )


@dataclass(frozen=True)
class GroupFigures:
    """Sums for one channel or one platform; ``reported`` False: the platform has no metrics;
    ``with_snapshot``: how many of its posts have been measured at least once."""

    name: str
    platform: str
    posts: int
    metrics: Mapping[str, int | None]
    reported: bool
    with_snapshot: int = 0

    @property
    def engagement(self) -> int | None:
        return engagement_of(self.metrics) if self.reported else None

    @property
    def missing(self) -> str | None:
        """Why the figures are missing, as a label key: ``not_reported`` (the platform gives
        none), ``no_snapshot`` (none of its posts measured yet); None when there are some."""
        if not self.reported:
            return "not_reported"
        if self.with_snapshot == 0:
            return "no_snapshot"
        return None


@dataclass(frozen=True)
class DayFigures:
    """Posts published on one local day and their engagement."""

    day: date
    posts: int
    engagement: int | None


@dataclass(frozen=True)
class ReleaseFigures:
    """One release's reach across the channels it went out on this week."""

    release_id: str
    title: str
    url: str
    channels: int
    posts: int
    engagement: int | None
    views: int | None
    reach: int | None


@dataclass(frozen=True)
class Reason:
    """A ``last_error`` (redacted, first line) and how many posts it hit, per category."""

    category: str  # failed, needs_review, retried
    text: str | None
    count: int


@dataclass(frozen=True)
class Reliability:
    published: int
    on_time: int
    late: int
    retried: int
    failed: int
    needs_review: int
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class FeedFigures:
    """What became of one feed's items in the week: decisions by name (every name of
    :data:`dissem.feeds.Decision.ALL`, zero when none was taken)."""

    name: str
    decisions: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.decisions.values())


@dataclass(frozen=True)
class WeekFigures:
    """A whole report's numbers; times are aware UTC, ``timezone`` names the local zone."""

    week: str
    start: datetime
    end: datetime
    timezone: str
    summary: Summary
    previous: Summary
    platforms: list[GroupFigures]
    channels: list[GroupFigures]
    days: list[DayFigures]
    top_posts: list[PostRow]
    posts: list[PostRow]
    releases: list[ReleaseFigures]
    reliability: Reliability
    #: the week was not over when the report was made (``as_of``, aware UTC)
    partial: bool = False
    as_of: datetime | None = None
    #: when each channel's (or group's) audience engages, as of the week's end
    timing: list[TimingView] = field(default_factory=list)
    #: each known feed's decisions of the week (empty: no feed was ever polled)
    feeds: list[FeedFigures] = field(default_factory=list)


def build_week_figures(
    session: Session,
    week: str,
    start: datetime,
    end: datetime,
    timezone: str,
    *,
    top: int = TOP_POSTS,
    now: datetime | None = None,
) -> WeekFigures:
    """Reads the week ``[start, end)`` and the week before it; four grouped queries, the
    learned timing of every stored channel as of the week's end (or ``now``, if earlier),
    and the week's feed decisions (two queries).

    With ``now`` before ``end`` the week is partial: the previous week is read over the same
    span only (``[start - 7 days, now - 7 days)``).
    """
    partial = now is not None and now < end
    prev_start = start - (end - start)
    prev_end = start
    if partial and now is not None:
        prev_end = prev_start + max(now - start, timedelta(0))
    totals = query_channel_totals(session, start, end)
    previous = query_channel_totals(session, prev_start, prev_end)
    posts = query_post_rows(session, start, end)
    problems = query_problems(session, start, end)
    channels = [_group(t.channel, t.platform, t.posts, t.metrics, t.with_snapshot) for t in totals]
    return WeekFigures(
        week=week,
        start=start,
        end=end,
        timezone=timezone,
        summary=Summary.from_totals(totals),
        previous=Summary.from_totals(previous),
        platforms=_platforms(channels),
        channels=channels,
        days=_days(posts, start, ZoneInfo(timezone)),
        top_posts=_top(posts, top),
        posts=posts,
        releases=_releases(posts),
        reliability=_reliability(totals, problems),
        partial=partial,
        as_of=now if partial else None,
        timing=_timing(session, min(now, end) if now is not None else end),
        feeds=_feeds(session, start, end),
    )


def _feeds(session: Session, start: datetime, end: datetime) -> list[FeedFigures]:
    """Every feed polled at least once (``feed_states``) or with a decision in the week,
    by name; a feed without decisions this week shows zeros, not nothing."""
    counts = decision_counts(session, start, end)
    names = set(session.scalars(select(FeedState.name))) | set(counts)
    return [
        FeedFigures(name, {d: counts.get(name, {}).get(d, 0) for d in Decision.ALL})
        for name in sorted(names)
    ]


def _timing(session: Session, at: datetime) -> list[TimingView]:
    """The timing views; a platform that reports no figures says so, not "too few posts"."""
    return [
        replace(v, status="not_reported")
        if v.posts == 0 and platform_reports_metrics(v.platform) is False
        else v
        for v in build_timing_views(session, at)
    ]


def _group(
    name: str, platform: str, posts: int, metrics: Mapping[str, int | None], with_snapshot: int
) -> GroupFigures:
    reported = platform_reports_metrics(platform) is not False
    return GroupFigures(name, platform, posts, dict(metrics), reported, with_snapshot)


def _platforms(channels: list[GroupFigures]) -> list[GroupFigures]:
    by_platform: dict[str, list[GroupFigures]] = defaultdict(list)
    for c in channels:
        by_platform[c.platform].append(c)
    out = []
    for platform, group in sorted(by_platform.items()):
        metrics = {m: sum_optional(c.metrics[m] for c in group) for m in METRIC_COLUMNS}
        posts = sum(c.posts for c in group)
        snapped = sum(c.with_snapshot for c in group)
        out.append(_group(platform, platform, posts, metrics, snapped))
    return out


def _days(posts: list[PostRow], start: datetime, zone: ZoneInfo) -> list[DayFigures]:
    first = start.astimezone(zone).date()
    buckets: dict[date, list[PostRow]] = {first + timedelta(days=i): [] for i in range(7)}
    for p in posts:
        buckets.setdefault(p.published_at.astimezone(zone).date(), []).append(p)
    return [
        DayFigures(day, len(rows), sum_optional(p.engagement for p in rows))
        for day, rows in sorted(buckets.items())
    ]


def _top(posts: list[PostRow], top: int) -> list[PostRow]:
    ranked = [p for p in posts if p.engagement is not None]
    ranked.sort(key=lambda p: (-(p.engagement or 0), p.published_at, p.post_id))
    return ranked[:top]


def _releases(posts: list[PostRow]) -> list[ReleaseFigures]:
    by_release: dict[str, list[PostRow]] = defaultdict(list)
    for p in posts:
        by_release[p.release_id].append(p)
    out = [
        ReleaseFigures(
            release_id=rid,
            title=rows[0].release_title,
            url=rows[0].release_url,
            channels=len({p.channel for p in rows}),
            posts=len(rows),
            engagement=sum_optional(p.engagement for p in rows),
            views=sum_optional(p.metrics["views"] for p in rows),
            reach=sum_optional(p.metrics["reach"] for p in rows),
        )
        for rid, rows in by_release.items()
    ]
    out.sort(key=lambda r: (-(r.engagement or 0), -r.channels, r.release_id))
    return out


def _reason_text(raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    first = redact(raw).strip().splitlines()[0]
    return first if len(first) <= 200 else first[:199] + "…"


def _reliability(totals: list[ChannelTotals], problems: list[ProblemCount]) -> Reliability:
    counts: dict[tuple[str, str | None], int] = defaultdict(int)
    failed = needs_review = 0
    for p in problems:
        category = (
            "needs_review"
            if p.state in (PostState.NEEDS_REVIEW, PostState.UNCONFIRMED)
            else p.state
        )
        if p.state == PostState.FAILED:
            failed += p.count
        elif category == "needs_review":
            needs_review += p.count
        counts[(category, _reason_text(p.reason))] += p.count
    reasons = [Reason(cat, text, n) for (cat, text), n in counts.items()]
    reasons.sort(key=lambda r: (-r.count, r.category, r.text or ""))
    published = sum(t.posts for t in totals)
    on_time = sum(t.on_time for t in totals)
    return Reliability(
        published=published,
        on_time=on_time,
        late=published - on_time,
        retried=sum(t.retried for t in totals),
        failed=failed,
        needs_review=needs_review,
        reasons=reasons[:MAX_REASONS],
    )


def summary_dict(figures: WeekFigures) -> dict[str, Any]:
    """The headline numbers as JSON-able values (webhook body, logs); no secrets, no paths."""

    def one(s: Summary) -> dict[str, Any]:
        return {
            "posts": s.posts,
            "engagement": s.engagement,
            "views": s.views,
            "channels_active": s.channels_active,
            "on_time_rate": None if s.on_time_rate is None else round(s.on_time_rate, 4),
        }

    r = figures.reliability
    return {
        "week": figures.week,
        "start": figures.start.isoformat(),
        "end": figures.end.isoformat(),
        "partial": figures.partial,
        "as_of": None if figures.as_of is None else figures.as_of.isoformat(),
        **one(figures.summary),
        "previous": one(figures.previous),
        "reliability": {
            "on_time": r.on_time,
            "late": r.late,
            "retried": r.retried,
            "failed": r.failed,
            "needs_review": r.needs_review,
        },
    }
