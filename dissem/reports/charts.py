"""Inline SVG charts drawn by hand: no library, no fonts, no external reference.

Each chart is one ``<svg>`` with a ``viewBox`` (it scales to the page width), a ``<title>``
for screen readers and ``data-value`` on every bar so tests can read the numbers back. A
value of None is drawn as no bar with the ``missing`` text ("not reported by the platform",
or per row: "no snapshot yet"). A value axis is evenly spaced whole numbers (never
``1, 1, 0, 0, 0``); a chart without a single figure has no scale, only its ``empty`` text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

__all__ = ["bar_chart", "column_chart"]

BAR = "#2563eb"
MUTED = "#6b7280"
GRID = "#e5e7eb"
WIDTH = 640


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
