"""The report's "when your audience engages" section: the learned model's slots as a heat
map per channel (or per group), the best slot marked, "not enough data yet" where the model
recommends nothing, the same numbers in the XLSX Timing sheet, in English and Indonesian."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from dissem.reports.charts import heat_colour
from dissem.reports.figures import WeekFigures, build_week_figures
from dissem.reports.html import render_html
from dissem.reports.tables import TIMING_SHEET
from dissem.reports.timing import build_timing_views, lift_text
from dissem.reports.weekly import IsoWeek, ReportResult, generate_report
from dissem.settings import Settings
from tests.reports.report_seed import END, TZ, WEEK, seed_week
from tests.reports.timing_seed import (
    BEST,
    CLEAR,
    THIN,
    THIN_POSTS,
    clear_posts_in_best,
    seed_timing,
)

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


class _Timing(HTMLParser):
    """Each timing block's attributes and text, and each heat-map cell by (block, slot)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: dict[str, dict[str, str]] = {}
        self.text: dict[str, list[str]] = {}
        self.cells: dict[tuple[str, str], dict[str, str]] = {}
        self.heatmaps = 0
        self._block = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "data-timing" in a:
            self._block = a["data-timing"]
            self.blocks[self._block] = a
            self.text[self._block] = []
        if tag == "section":
            self._block = ""
        if tag == "svg" and "heatmap" in a.get("class", ""):
            self.heatmaps += 1
        if tag == "rect" and "data-slot" in a:
            self.cells[(self._block, a["data-slot"])] = a

    def handle_data(self, data: str) -> None:
        if self._block:
            self.text[self._block].append(data)

    def said(self, block: str) -> str:
        return " ".join(" ".join(self.text[block]).split())


def _report(factory: sessionmaker[Session], tmp: Path, lang: str = "en") -> ReportResult:
    settings = Settings(timezone=TZ, report_dir=tmp / "reports")
    return generate_report(factory, settings, WEEK, now=NOW, lang=lang)


def _page(result: ReportResult) -> _Timing:
    page = _Timing()
    page.feed(result.files["html"].read_text(encoding="utf-8"))
    return page


def test_heat_map_marks_the_clear_slot_and_says_when_data_is_thin(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_week(session_factory)
    seed_timing(session_factory)
    result = _report(session_factory, tmp_path)
    page = _page(result)
    html = result.files["html"].read_text(encoding="utf-8")
    assert '<section id="timing">' in html and "When your audience engages" in html

    clear = page.blocks[CLEAR]
    assert clear["data-status"] == "recommended" and clear["data-best"] == BEST
    marked = [
        slot
        for (block, slot), a in page.cells.items()
        if block == CLEAR and a["data-marked"] == "1"
    ]
    assert marked == [BEST]
    best = page.cells[(CLEAR, BEST)]
    posts = clear_posts_in_best()
    assert int(best["data-posts"]) == posts
    lift = float(best["data-lift"])
    assert lift > 0.5  # 40 instead of 20 per 1,000 views: far above the usual post
    # every other slot of the channel is below it, and a slot without posts shows no lift
    others = [a for (b, s), a in page.cells.items() if b == CLEAR and s != BEST]
    assert all(a["data-lift"] == "" or float(a["data-lift"]) < lift for a in others)
    assert page.cells[(CLEAR, "weekday-00")]["data-lift"] == ""
    said = page.said(CLEAR)
    assert f"Best time: Weekday 18:00-21:00: {lift_text(lift, 'en')} ({posts} posts)" in said
    assert "55 posts measured" in said

    thin = page.blocks[THIN]
    assert thin["data-status"] == "thin" and thin["data-best"] == ""
    assert not [a for (b, _), a in page.cells.items() if b == THIN and a["data-marked"] == "1"]
    assert (
        f"Not enough data yet: {THIN_POSTS} measured posts so far, 20 are needed before a time "
        "is recommended" in page.said(THIN)
    )
    # a channel with nothing measured has no grid; a platform without figures says so
    assert page.blocks["embassy-masto"]["data-status"] == "thin"
    assert "no post measured yet" in page.said("embassy-masto")
    assert page.blocks["kemlu-tg"]["data-status"] == "not_reported"
    assert "not reported by the platform" in page.said("kemlu-tg")
    assert not [c for (b, _), c in page.cells.items() if b in ("kemlu-tg", "embassy-masto")]

    # the XLSX Timing sheet holds the very numbers of the heat maps
    wb = openpyxl.load_workbook(result.files["xlsx"])
    assert wb.sheetnames == ["Summary", "Channels", "Posts", TIMING_SHEET]
    sheet = list(wb[TIMING_SHEET].iter_rows(values_only=True))
    assert sheet[0][:4] == ("Channel", "Time", "Posts", "Change")
    rows = {(r[0], r[1]): r for r in sheet[1:]}
    best_row = rows[(CLEAR, "Weekday 18:00-21:00")]
    assert best_row[2] == posts and best_row[3] == pytest.approx(lift, abs=1e-4)
    assert best_row[4] < best_row[3] < best_row[5] and best_row[6] == "best"
    row = 2 + list(rows).index((CLEAR, "Weekday 18:00-21:00"))
    assert wb[TIMING_SHEET].cell(row=row, column=4).number_format == "+0%;-0%;0%"
    shown = {
        (b, s): (int(a["data-posts"]), float(a["data-lift"]))
        for (b, s), a in page.cells.items()
        if a["data-posts"] != "0"
    }
    in_sheet = {(r[0], _slot_key(r[1])): (r[2], r[3]) for r in sheet[1:] if r[1] is not None}
    assert set(in_sheet) == set(shown)
    for key, (n, value) in shown.items():
        assert in_sheet[key][0] == n and in_sheet[key][1] == pytest.approx(value, abs=1e-4)
    assert rows[("kemlu-tg", None)][-1] == "not reported by the platform"
    assert rows[(THIN, "Weekday 09:00-12:00")][-1].startswith("Not enough data yet")


def _slot_key(text: str) -> str:
    part, hours = text.split(" ", 1) if text.startswith("Week") else ("", text)
    return f"{part.lower()}-{hours[:2]}"


def test_indonesian_section(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    seed_week(session_factory)
    seed_timing(session_factory)
    page = _page(_report(session_factory, tmp_path, lang="id"))
    lift = float(page.cells[(CLEAR, BEST)]["data-lift"])
    posts = clear_posts_in_best()
    said = page.said(CLEAR)
    assert f"Waktu terbaik: Hari kerja 18.00-21.00: {lift_text(lift, 'id')} ({posts} unggahan)" in (
        said
    )
    assert f"Belum cukup data: baru {THIN_POSTS} unggahan terukur" in page.said(THIN)
    assert "tidak dilaporkan oleh platform" in page.said("kemlu-tg")
    html = _report(session_factory, tmp_path / "again", lang="id").html
    assert "Kapan audiens Anda berinteraksi" in html and "Akhir pekan" in html
    assert "When your audience engages" not in html and "Best time" not in html


def test_many_channels_are_shown_by_group(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_week(session_factory)
    seed_timing(session_factory)
    result = _report(session_factory, tmp_path)
    with session_factory() as s:
        views = build_timing_views(s, END, limit=2)
    by_name = {v.name: v for v in views}
    assert set(by_name) == {"mastodon/Asia", "bluesky/Asia", "x/Asia", "telegram/Asia"}
    group = by_name["mastodon/Asia"]  # kbri-masto and embassy-masto
    assert group.kind == "group" and group.channels == 2 and group.posts == 55
    assert group.best is not None and group.best.key == BEST and group.best.recommended == 1
    assert by_name["bluesky/Asia"].best is None and by_name["bluesky/Asia"].status == "thin"
    page = _Timing()
    figures = replace(_figures(session_factory), timing=views)
    page.feed(render_html(figures, "en", NOW))
    assert page.blocks["mastodon/Asia"]["data-best"] == BEST
    assert "best for 1 of 2 channels" in page.said("mastodon/Asia")
    assert (
        f"Not enough data yet: {THIN_POSTS} measured posts over 2 channels so far, each channel "
        "needs 20" in page.said("bluesky/Asia")
    )
    assert "6 channels: shown by platform and region" in render_html(figures, "en", NOW)
    assert result.files["html"].is_file()


def _figures(factory: sessionmaker[Session]) -> WeekFigures:
    start, end = IsoWeek.parse(WEEK).bounds(TZ)
    with factory() as s:
        return build_week_figures(s, WEEK, start, end, TZ, now=NOW)


@given(st.floats(min_value=-5, max_value=5, allow_nan=False))
def test_lift_text_and_colour(lift: float) -> None:
    text = lift_text(lift, "en")
    pct = round(lift * 100)
    assert text == (f"+{pct}%" if pct > 0 else f"{pct}%")
    colour = heat_colour(lift)
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    # green above zero, red below, never darker than the text needs (dark ink stays legible)
    assert (g >= r) if lift >= 0 else (r >= g)
    assert min(r, g, b) >= 90
    assert heat_colour(None) == "#ffffff"
