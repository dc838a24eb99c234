"""Inline SVG charts drawn by hand: no library, no fonts, no external reference.

Each chart is one ``<svg>`` with a ``viewBox`` (it scales to the page width), a ``<title>``
for screen readers and ``data-value`` on every bar so tests can read the numbers back. A
value of None is drawn as no bar with the ``missing`` text ("not reported by the platform",
or per row: "no snapshot yet"). A value axis is evenly spaced whole numbers (never
``1, 1, 0, 0, 0``); a chart without a single figure has no scale, only its ``empty`` text.

:func:`heat_map` draws a grid of squares (class ``heatmap``, cells ``rect.cell`` with
``data-slot``, ``data-lift`` and ``data-posts``): green above zero, red below, pale the
closer to zero, white without a value; a marked square has a dark frame and a word under
its numbers, a dotted one a dotted frame. The words are in the squares, so the colours are
never the only way to read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["HeatCell", "bar_chart", "column_chart", "heat_colour", "heat_map"]

BAR = "#2563eb"
MUTED = "#6b7280"
GRID = "#e5e7eb"
WIDTH = 640
INK = "#111827"
#: the heat map's colours at full strength (the squares never get darker than 70 % of it)
UP = (22, 163, 74)
DOWN = (220, 38, 38)
#: a lift of this much (either way) is full colour
HEAT_FULL = 0.5


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _axis(value: int) -> list[int]:
    """Whole-number ticks from 0 up to a round maximum >= ``value`` (1, 2 or 5 x 10^n),
    evenly spaced: ``[0, 1]``, ``[0, 1, 2]``, ``[0, 20, 40, 60, 80, 100]``."""
    top = int(_nice_max(value))
    lead = int(str(top)[0])  # 1, 2 or 5
    # below 10 by ones (0..1, 0..2, 0..5); above by 2, 5 or 10 x 10^(n-1)
    steps = top if top < 10 else {1: 5, 2: 4, 5: 5}[lead]
    return [top * k // steps for k in range(steps + 1)]


def _nice_max(value: float) -> float:
    """A round axis maximum >= value (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    rows: Sequence[tuple[str, int | None]],
    *,
    title: str,
    fmt: Callable[[int], str],
    missing: str,
    chart_id: str,
    missing_for: Mapping[str, str] | None = None,
) -> str:
    """Horizontal bars, one row per (label, value), longest value first as given. A None
    value reads ``missing_for[label]`` when given, else ``missing``."""
    label_w, value_w, row_h, top = 200, 90, 28, 8  # 24 characters of 13 px text fit in 200
    plot_w = WIDTH - label_w - value_w
    height = top * 2 + row_h * max(1, len(rows))
    peak = _nice_max(max((v for _, v in rows if v is not None), default=0))
    parts = [
        f'<svg class="chart" id="{_attr(chart_id)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="{_attr(chart_id)}-t" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{_attr(chart_id)}-t">{escape(title)}</title>',
    ]
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" font-size="13" '
            f'fill="#111827">{escape(short)}</text>'
        )
        if value is None:
            parts.append(
                f'<text x="{label_w + 4}" y="{y + 18}" font-size="12" font-style="italic" '
                f'fill="{MUTED}">{escape((missing_for or {}).get(label, missing))}</text>'
            )
            continue
        w = max(1.0, plot_w * value / peak) if value > 0 else 0.0
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}" '
            f'rx="2" fill="{BAR}" data-label="{_attr(label)}" data-value="{value}"/>'
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 18}" font-size="12" '
            f'fill="#111827">{escape(fmt(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(
    rows: Sequence[tuple[str, int | None]],
    *,
    title: str,
    fmt: Callable[[int], str],
    chart_id: str,
    empty: str = "",
) -> str:
    """Vertical columns, one per (label, value) in the given order (days of the week).

    Without any value (all None) there is no scale: the baseline, ``0`` and ``empty``.
    """
    height, left, bottom, top = 240, 56, 28, 20
    plot_h = height - top - bottom
    plot_w = WIDTH - left - 8
    n = max(1, len(rows))
    slot = plot_w / n
    values = [v for _, v in rows if v is not None]
    ticks = _axis(max(values)) if values else [0]
    peak = ticks[-1] or 1
    parts = [
        f'<svg class="chart" id="{_attr(chart_id)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="{_attr(chart_id)}-t" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{_attr(chart_id)}-t">{escape(title)}</title>',
    ]
    for tick in ticks:  # horizontal grid lines with their values
        y = top + plot_h - plot_h * tick / peak
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{escape(fmt(tick))}</text>'
        )
    if not values and empty:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
            f'font-size="13" font-style="italic" fill="{MUTED}">{escape(empty)}</text>'
        )
    for i, (label, value) in enumerate(rows):
        x = left + i * slot
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="12" '
            f'fill="#111827">{escape(label)}</text>'
        )
        if value is None:
            continue
        h = max(1.0, plot_h * value / peak) if value > 0 else 0.0
        parts.append(
            f'<rect class="bar" x="{x + slot * 0.18:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{slot * 0.64:.1f}" height="{h:.1f}" rx="2" fill="{BAR}" '
            f'data-label="{_attr(label)}" data-value="{value}"/>'
        )
        if value > 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h - h - 4:.1f}" '
                f'text-anchor="middle" font-size="11" fill="#111827">{escape(fmt(value))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class HeatCell:
    """One square: ``value`` sets the colour (None: white), ``text`` and ``sub`` are its two
    lines, ``title`` its tooltip (and what a screen reader says)."""

    key: str
    value: float | None
    text: str
    sub: str
    title: str
    posts: int
    marked: bool = False
    dotted: bool = False


def heat_colour(value: float | None) -> str:
    """White for None, a pale tint near zero, up to 70 % green (above) or red (below)."""
    if value is None:
        return "#ffffff"
    strength = min(abs(value), HEAT_FULL) / HEAT_FULL * 0.7
    base = UP if value >= 0 else DOWN
    r, g, b = (round(255 + (c - 255) * strength) for c in base)
    return f"#{r:02x}{g:02x}{b:02x}"


def heat_map(
    rows: Sequence[tuple[str, Sequence[HeatCell]]],
    columns: Sequence[str],
    *,
    title: str,
    chart_id: str,
    mark: str,
) -> str:
    """A grid: one row per (label, cells), one column per ``columns`` label; a marked cell
    reads ``mark`` under its numbers."""
    label_w, head_h, row_h = 86, 22, 66
    n = max(1, len(columns))
    col_w = (WIDTH - label_w - 4) / n
    height = head_h + row_h * max(1, len(rows)) + 4
    parts = [
        f'<svg class="heatmap" id="{_attr(chart_id)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="{_attr(chart_id)}-t" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{_attr(chart_id)}-t">{escape(title)}</title>',
    ]
    for i, name in enumerate(columns):
        x = label_w + i * col_w + col_w / 2
        parts.append(
            f'<text x="{x:.1f}" y="15" text-anchor="middle" font-size="11" '
            f'fill="{MUTED}">{escape(name)}</text>'
        )
    for r, (label, cells) in enumerate(rows):
        y = head_h + r * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" '
            f'font-size="12" fill="{INK}">{escape(label)}</text>'
        )
        for i, cell in enumerate(cells):
            x = label_w + i * col_w
            if cell.marked:
                stroke = f'stroke="{INK}" stroke-width="3"'
            elif cell.dotted:
                stroke = f'stroke="{MUTED}" stroke-width="1.5" stroke-dasharray="3 3"'
            else:
                stroke = f'stroke="{GRID}" stroke-width="1"'
            lift = "" if cell.value is None else f"{cell.value:.4f}"
            parts.append(
                f"<g><title>{escape(cell.title)}</title>"
                f'<rect class="cell" x="{x + 2:.1f}" y="{y + 2}" width="{col_w - 4:.1f}" '
                f'height="{row_h - 4}" rx="4" fill="{heat_colour(cell.value)}" {stroke} '
                f'data-slot="{_attr(cell.key)}" data-lift="{lift}" data-posts="{cell.posts}" '
                f'data-marked="{1 if cell.marked else 0}"/>'
                f'<text x="{x + col_w / 2:.1f}" y="{y + 27}" text-anchor="middle" '
                f'font-size="15" font-weight="600" fill="{INK}">{escape(cell.text)}</text>'
                f'<text x="{x + col_w / 2:.1f}" y="{y + 43}" text-anchor="middle" '
                f'font-size="10" fill="{INK}">{escape(cell.sub)}</text>'
            )
            if cell.marked:
                parts.append(
                    f'<text x="{x + col_w / 2:.1f}" y="{y + 57}" text-anchor="middle" '
                    f'font-size="10" font-weight="700" fill="{INK}">{escape(mark)}</text>'
                )
            parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
