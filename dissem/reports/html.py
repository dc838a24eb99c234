"""The weekly report as ONE self-contained HTML file.

No external request is possible: charts are inline SVG, styles are inline, there is no
script, no font and no image to fetch, and a Content-Security-Policy meta tag blocks any load
a future edit might add (``default-src 'none'``). Links to live posts are plain anchors
(navigation, not loads). Every figure carries ``data-value`` so tests can read it back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dissem.reports.aggregate import ON_TIME_TOLERANCE
from dissem.reports.charts import bar_chart, column_chart
from dissem.reports.figures import GroupFigures, WeekFigures
from dissem.reports.labels import WEEKDAY_KEYS, fmt_change, fmt_int, fmt_pct, labels

__all__ = ["CHANNEL_CHART_LIMIT", "CSP", "render_html"]

#: no load of any kind: only the inline <style> and data: images are allowed
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
#: the channel bar chart shows the most engaged channels only; the table lists them all
CHANNEL_CHART_LIMIT = 25
_TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(
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
    summary_cards = [
        {
            "key": key,
            "label": lab[label],
            "value": "" if cur is None else cur,
            "text": figure(cur, key == "on_time_rate"),
            "change": fmt_change(cur, prev, lang),
            "previous": figure(prev, key == "on_time_rate"),
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
    charts = {
        "platforms": bar_chart(
            [(p.name, p.engagement) for p in _by_engagement(figures.platforms)],
            title=lab["per_platform"],
            fmt=num,
            missing=lab["not_reported"],
            chart_id="chart-platforms",
        ),
        "channels": bar_chart(
            [(c.name, c.engagement) for c in top_channels],
            title=lab["per_channel"],
            fmt=num,
            missing=lab["not_reported"],
            chart_id="chart-channels",
        ),
        "days": column_chart(
            [(weekday(d.day), d.engagement) for d in figures.days],
            title=lab["by_day"],
            fmt=num,
            chart_id="chart-days",
        ),
    }
    template = _env.get_template("weekly.html.j2")
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
        pct=lambda r: "–" if r is None else fmt_pct(r, lang),
        generated=local(generated_at),
        period=_period(figures, zone),
        on_time_minutes=int(ON_TIME_TOLERANCE.total_seconds() // 60),
        metric_columns=("likes", "reposts", "replies", "quotes", "shares", "views", "reach"),
    )


def _by_engagement(groups: list[GroupFigures]) -> list[GroupFigures]:
    """Most engaged first; groups without reported engagement last."""
    return sorted(groups, key=lambda g: (g.engagement is None, -(g.engagement or 0), g.name))


def _period(figures: WeekFigures, zone: ZoneInfo) -> str:
    first = figures.start.astimezone(zone).date()
    last = (figures.end.astimezone(zone) - timedelta(seconds=1)).date()
    return f"{first.isoformat()} – {last.isoformat()}"
