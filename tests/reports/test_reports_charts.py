"""Hand-drawn SVG charts: proportional bars, missing values, escaping, valid XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

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
