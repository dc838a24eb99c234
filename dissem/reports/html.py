"""The weekly report as ONE self-contained HTML file.

No external request is possible: charts are inline SVG, styles are inline, there is no
script, no font and no image to fetch, and a Content-Security-Policy meta tag blocks any load
a future edit might add (``default-src 'none'``). Links to live posts are plain anchors
(navigation, not loads). Every figure carries ``data-value`` so tests can read it back.

Written for a manager: platforms by their proper names, top posts as release title, channel
and a short link (never the whole text with its tracking links), the previous week's value
named as such, a partial week marked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dissem.feeds import Decision
from dissem.reports.aggregate import ON_TIME_TOLERANCE
from dissem.reports.charts import HeatCell, bar_chart, column_chart, heat_map
from dissem.reports.figures import GroupFigures, WeekFigures
from dissem.reports.labels import (
    WEEKDAY_KEYS,
    fmt_change,
    fmt_compare,
    fmt_int,
    fmt_pct,
    labels,
    platform_name,
)
from dissem.reports.timing import (
    LOOKBACK,
    SlotCell,
    TimingView,
    cell_text,
    lift_text,
    posts_text,
    status_text,
)

__all__ = ["CHANNEL_CHART_LIMIT", "CSP", "TEMPLATES", "render_html", "short_link"]

#: no load of any kind: only the inline <style> and data: images are allowed
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
#: the channel bar chart shows the most engaged channels only; the table lists them all
CHANNEL_CHART_LIMIT = 25
#: the most characters a link's visible text takes (the full address stays in ``href``)
SHORT_LINK_CHARS = 48
_TEMPLATES = Path(__file__).with_name("templates")
#: the report's templates (also the status page's, which shares their styles)
TEMPLATES = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links reach the page (never ``javascript:`` or a local file)."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def short_link(url: str) -> str:
    """A link as a person reads it: host and path, without scheme, ``www.``, query (UTM
    tags) or fragment, at most :data:`SHORT_LINK_CHARS` characters."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    host = host[4:] if host.lower().startswith("www.") else host
    text = host + parts.path.rstrip("/")
    if len(text) > SHORT_LINK_CHARS:
        text = text[: SHORT_LINK_CHARS - 1] + "…"
    return text


def render_html(figures: WeekFigures, lang: str, generated_at: datetime) -> str:
    """The report page in ``lang`` ("en" or "id"); ``generated_at`` is aware."""
    lab = labels(lang)
    zone = ZoneInfo(figures.timezone)

    def num(value: int | None) -> str:
        return "–" if value is None else fmt_int(value, lang)

    def local(when: datetime | None, with_time: bool = True) -> str:
        if when is None:
            return ""
        return when.astimezone(zone).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")

    def weekday(d: Any) -> str:
        return f"{lab[WEEKDAY_KEYS[d.weekday()]]} {d.day}"

    def figure(value: float | None, is_rate: bool) -> str:
        if value is None:
            return "–"
        return fmt_pct(value, lang) if is_rate else num(int(value))

    s, p = figures.summary, figures.previous
    previous_label = lab["previous_same_time" if figures.partial else "previous_week"]
    summary_cards = [
        {
            "key": key,
            "label": lab[label],
            "value": "" if cur is None else cur,
            "text": figure(cur, key == "on_time_rate"),
            "compare": fmt_compare(
                previous_label,
                figure(prev, key == "on_time_rate"),
                fmt_change(cur, prev, lang),
            ),
            # posts went out but none was measured yet: say so, the dash alone reads "never"
            "note": lab["no_snapshot"]
            if cur is None and key in ("engagement", "views") and s.posts and not s.with_snapshot
            else "",
        }
        for key, label, cur, prev in (
            ("posts", "posts_published", s.posts, p.posts),
            ("engagement", "engagement_total", s.engagement, p.engagement),
            ("views", "views_reported", s.views, p.views),
            ("channels_active", "channels_active", s.channels_active, p.channels_active),
            ("on_time_rate", "on_time_rate", s.on_time_rate, p.on_time_rate),
        )
    ]
    top_channels = _by_engagement(figures.channels)[:CHANNEL_CHART_LIMIT]
    platforms = _by_engagement(figures.platforms)

    def why(g: GroupFigures) -> str:
        return lab[g.missing or "not_reported"]

    charts = {
        "platforms": bar_chart(
            [(platform_name(g.name), g.engagement) for g in platforms],
            title=lab["per_platform"],
            fmt=num,
            missing=lab["not_reported"],
            missing_for={platform_name(g.name): why(g) for g in platforms},
            chart_id="chart-platforms",
        )
        if platforms
        else "",
        "channels": bar_chart(
            [(c.name, c.engagement) for c in top_channels],
            title=lab["per_channel"],
            fmt=num,
            missing=lab["not_reported"],
            missing_for={c.name: why(c) for c in top_channels},
            chart_id="chart-channels",
        )
        if top_channels
        else "",
        "days": column_chart(
            [(weekday(d.day), d.engagement) for d in figures.days],
            title=lab["by_day"],
            fmt=num,
            chart_id="chart-days",
            empty=lab["no_figures"] if s.posts else lab["nothing"],
        ),
    }
    if figures.top_posts or not s.posts:
        top_note = ""
    elif s.posts == 1:
        top_note = lab["top_none_yet_one"]
    else:
        top_note = lab["top_none_yet"].format(posts=num(s.posts))
    timing = [_timing_block(v, i, lang) for i, v in enumerate(figures.timing, 1)]
    template = TEMPLATES.get_template("weekly.html.j2")
    return template.render(
        f=figures,
        lab=lab,
        lang=lang,
        csp=CSP,
        cards=summary_cards,
        charts=charts,
        num=num,
        local=local,
        weekday=weekday,
        safe_url=_safe_url,
        short_link=short_link,
        pname=platform_name,
        top_note=top_note,
        timing=timing,
        timing_intro=lab["timing_intro"].format(days=LOOKBACK.days),
        timing_dotted=any(b["chart"] and not c.in_windows for b in timing for c in b["view"].cells),
        timing_groups=lab["timing_groups"].format(
            channels=num(sum(v.channels for v in figures.timing))
        )
        if any(v.kind == "group" for v in figures.timing)
        else "",
        partial_note=lab["partial_week"].format(as_of=local(figures.as_of))
        if figures.partial
        else "",
        pct=lambda r: "–" if r is None else fmt_pct(r, lang),
        generated=local(generated_at),
        period=_period(figures, zone),
        on_time_minutes=int(ON_TIME_TOLERANCE.total_seconds() // 60),
        metric_columns=("likes", "reposts", "replies", "quotes", "shares", "views", "reach"),
        feed_decisions=Decision.ALL,
    )


def _by_engagement(groups: list[GroupFigures]) -> list[GroupFigures]:
    """Most engaged first; groups without reported engagement last."""
    return sorted(groups, key=lambda g: (g.engagement is None, -(g.engagement or 0), g.name))


def _period(figures: WeekFigures, zone: ZoneInfo) -> str:
    first = figures.start.astimezone(zone).date()
    last = (figures.end.astimezone(zone) - timedelta(seconds=1)).date()
    return f"{first.isoformat()} – {last.isoformat()}"


def _timing_block(view: TimingView, index: int, lang: str) -> dict[str, Any]:
    """One channel's (or group's) heading, verdict and heat map (none without posts)."""
    lab = labels(lang)
    if view.kind == "group":
        heading = f"{platform_name(view.platform)} · {view.timezone}"
        sub = lab["group"]
    else:
        heading = view.name
        sub = f"{platform_name(view.platform)} · {view.timezone}"
    best = view.best

    def heat(c: SlotCell) -> HeatCell:
        title = cell_text(c, lang)
        if c.low is not None and c.high is not None:
            title += "; " + lab["likely_between"].format(
                low=lift_text(c.low, lang), high=lift_text(c.high, lang)
            )
        return HeatCell(
            key=c.key,
            value=c.lift,
            text="–" if c.lift is None else lift_text(c.lift, lang),
            sub=posts_text(c.posts, lang) if c.posts else "",
            title=title,
            posts=c.posts,
            marked=best is not None and c.key == best.key,
            dotted=not c.in_windows,
        )

    weekdays = [c for c in view.cells if not c.weekend]
    weekend = [c for c in view.cells if c.weekend]
    chart = (
        heat_map(
            [
                (lab["weekday"], [heat(c) for c in weekdays]),
                (lab["weekend"], [heat(c) for c in weekend]),
            ],
            [f"{c.start_hour:02d}–{c.end_hour:02d}" for c in weekdays],
            title=lab["timing_chart"].format(name=heading),
            chart_id=f"heatmap-{index}",
            mark=lab["best"],
        )
        if view.posts
        else ""
    )
    return {
        "view": view,
        "heading": heading,
        "sub": sub,
        "status": status_text(view, lang),
        "posts": lab["none_measured"]
        if not view.posts
        else lab["one_measured"]
        if view.posts == 1
        else lab["n_measured"].format(n=fmt_int(view.posts, lang)),
        "chart": chart,
    }
