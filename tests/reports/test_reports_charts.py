"""Hand-drawn SVG charts: proportional bars, missing values, escaping, valid XML."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.reports.charts import bar_chart, column_chart

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg: str) -> dict[str, float]:
    root = ET.fromstring(svg)
    return {
        r.attrib["data-label"]: float(r.attrib["width"])
        for r in root.iter(f"{SVG}rect")
        if "data-label" in r.attrib
    }


def test_bar_chart_is_proportional_and_marks_missing() -> None:
    svg = bar_chart(
        [("x", 100), ("bluesky", 50), ("telegram", None), ("zero", 0)],
        title="Engagement <per> platform",
        fmt=str,
        missing="not reported by the platform",
        chart_id="c1",
    )
    root = ET.fromstring(svg)  # well-formed XML
    assert root.attrib["viewBox"].startswith("0 0 640 ")
    assert root.find(f"{SVG}title").text == "Engagement <per> platform"  # type: ignore[union-attr]
    widths = _bars(svg)
    assert set(widths) == {"x", "bluesky", "zero"}  # no bar for a missing value
    assert widths["x"] == 2 * widths["bluesky"] and widths["zero"] == 0
    assert "not reported by the platform" in svg
    assert "&lt;per&gt;" in svg


def test_column_chart_values_and_labels() -> None:
    rows = [("Mon 23", 75), ("Tue 24", 10), ("Wed 25", None), ("Thu 26", 0)]
    svg = column_chart(rows, title="By day", fmt=lambda v: f"{v:,}", chart_id="days")
    root = ET.fromstring(svg)
    rects = [r for r in root.iter(f"{SVG}rect") if "data-value" in r.attrib]
    values = {r.attrib["data-label"]: int(r.attrib["data-value"]) for r in rects}
    assert values == {"Mon 23": 75, "Tue 24": 10, "Thu 26": 0}
    heights = {r.attrib["data-label"]: float(r.attrib["height"]) for r in rects}
    assert heights["Mon 23"] > heights["Tue 24"] > heights["Thu 26"] == 0
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Wed 25" in texts and "100" in texts  # the axis rounds 75 up to 100


def test_empty_chart_is_still_valid() -> None:
    svg = bar_chart([], title="nothing", fmt=str, missing="-", chart_id="e")
    assert ET.fromstring(svg).attrib["id"] == "e"


def _ticks(svg: str) -> list[int]:
    """The value axis of a column chart, bottom to top (the only right-aligned texts)."""
    root = ET.fromstring(svg)
    ticks = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    return [int(t.replace(",", "")) for t in ticks]


def test_empty_column_chart_has_no_repeated_axis_values() -> None:
    # issue 12: an empty week's chart read "1, 1, 0, 0, 0" up its axis
    for values in ([None] * 7, [0] * 7):
        rows = [(f"d{i}", v) for i, v in enumerate(values)]
        svg = column_chart(rows, title="By day", fmt=str, chart_id="d", empty="nothing yet")
        ticks = _ticks(svg)
        assert ticks == sorted(set(ticks)), ticks
        if values[0] is None:
            assert ticks == [0]  # no scale at all without a single figure
            assert "nothing yet" in svg


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 10**9)), min_size=1, max_size=7))
def test_column_chart_axis_is_evenly_spaced_whole_numbers(values: list[int | None]) -> None:
    rows = [(f"d{i}", v) for i, v in enumerate(values)]
    ticks = _ticks(column_chart(rows, title="t", fmt=str, chart_id="c"))
    assert ticks[0] == 0 and ticks == sorted(set(ticks))
    steps = {b - a for a, b in itertools.pairwise(ticks)}
    assert len(steps) <= 1  # even spacing, every label a whole number
    top = max((v for v in values if v is not None), default=None)
    if top:
        assert ticks[-1] >= top and len(ticks) >= 2
