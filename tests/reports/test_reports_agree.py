"""The report's numbers: right for a known week, and the same in HTML, CSV and XLSX."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy.orm import Session, sessionmaker

from dissem.reports.weekly import ReportResult, generate_report
from dissem.settings import Settings
from tests.reports.report_seed import EXPECTED, FEED_EXPECTED, TZ, WEEK, seed_feeds, seed_week

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


class _DataParser(HTMLParser):
    """Collects figure cards, table cells with data-metric, SVG bars and every URL."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.cells: dict[tuple[str, str, str], str] = {}  # (kind, row key, metric) -> value
        self.bars: dict[str, dict[str, int]] = defaultdict(dict)  # chart id -> label -> value
        self.urls: list[str] = []
        self.csp = ""
        self._row: tuple[str, str] | None = None
        self._svg = ""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("href", "src", "xlink:href", "action", "poster"):
            if key in a:
                self.urls.append(a[key])
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a["content"]
        if "data-figure" in a:
            self.figures[a["data-figure"]] = a["data-value"]
        if tag == "tr":
            self._row = None
            for kind in ("platform", "channel", "day", "release", "post", "reliability", "feed"):
                if f"data-{kind}" in a:
                    self._row = (kind, a[f"data-{kind}"])
        if "data-metric" in a:
            key = self._row or ("", "")
            self.cells[(key[0], key[1], a["data-metric"])] = a["data-value"]
        if tag == "svg":
            self._svg = a.get("id", "")
        if tag == "rect" and "data-value" in a:
            self.bars[self._svg][a["data-label"]] = int(a["data-value"])

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _num(text: str) -> int | None:
    return None if text == "" else int(text)


def _generate(factory: sessionmaker[Session], tmp_path: Path, lang: str = "en") -> ReportResult:
    settings = Settings(timezone=TZ, report_dir=tmp_path / "reports")
    return generate_report(factory, settings, WEEK, now=NOW, lang=lang)


def test_numbers_agree_in_html_csv_and_xlsx(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = seed_week(session_factory)
    result = _generate(session_factory, tmp_path)
    assert set(result.files) == {"html", "csv", "xlsx"}
    assert result.out_dir == tmp_path / "reports" / WEEK

    # --- HTML
    page = _DataParser()
    page.feed(result.files["html"].read_text(encoding="utf-8"))
    assert _num(page.figures["posts"]) == EXPECTED["posts"]
    assert _num(page.figures["engagement"]) == EXPECTED["engagement"]
    assert _num(page.figures["views"]) == EXPECTED["views"]
    assert _num(page.figures["channels_active"]) == EXPECTED["channels_active"]
    assert float(page.figures["on_time_rate"]) == pytest.approx(0.8)
    html_channels = {
        name: _num(v)
        for (kind, name, m), v in page.cells.items()
        if kind == "channel" and m == "engagement"
    }
    assert html_channels == EXPECTED["channel_engagement"]
    for key in ("on_time", "late", "retried", "failed", "needs_review"):
        assert _num(page.cells[("reliability", "week", key)]) == EXPECTED[key], key
    # charts carry the same numbers; Telegram is no bar but "not reported"
    assert page.bars["chart-channels"] == {
        k: v for k, v in EXPECTED["channel_engagement"].items() if v is not None
    }
    assert sum(page.bars["chart-days"].values()) == EXPECTED["engagement"]
    text = " ".join(page.text)
    assert "not reported by the platform" in text
    assert "Weekly report" in text and "Previous week: 1 (+400.0%)" in text  # posts: 5 vs 1
    assert "at most 15 minutes after the planned time" in text  # the footer's definitions

    # --- CSV
    with result.files["csv"].open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == EXPECTED["posts"]
    assert {int(r["post_id"]) for r in rows} == {ids[k] for k in ("x1", "x2", "b1", "t1", "m1")}
    csv_channels: dict[str, Any] = defaultdict(lambda: None)
    for r in rows:
        if r["engagement"]:
            csv_channels[r["channel"]] = (csv_channels[r["channel"]] or 0) + int(r["engagement"])
    assert {c: csv_channels[c] for c in html_channels} == html_channels
    assert sum(int(r["views"]) for r in rows if r["views"]) == EXPECTED["views"]
    tg = next(r for r in rows if r["platform"] == "telegram")
    assert all(tg[m] == "" for m in ("likes", "views", "engagement"))  # never zero
    x1 = next(r for r in rows if int(r["post_id"]) == ids["x1"])
    assert x1["likes"] == "40"  # the snapshot after the week end is ignored
    assert x1["text"].startswith("'=")  # no formula injection
    assert x1["published_at"].endswith("+07:00")

    # --- XLSX
    wb = openpyxl.load_workbook(result.files["xlsx"])
    assert wb.sheetnames == ["Summary", "Channels", "Posts", "Timing"]
    summary = {r[0]: r[1:] for r in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Posts published"] == (EXPECTED["posts"], EXPECTED["previous_posts"])
    assert summary["Engagement"] == (EXPECTED["engagement"], EXPECTED["previous_engagement"])
    assert summary["Views (where reported)"][0] == EXPECTED["views"]
    assert summary["Failed"][0] == EXPECTED["failed"]
    channel_rows = list(wb["Channels"].iter_rows(min_row=2, values_only=True))
    assert {r[0]: r[3] for r in channel_rows} == html_channels
    tg_row = next(r for r in channel_rows if r[1] == "Telegram")
    assert tg_row[-1] == "not reported by the platform"
    post_rows = list(wb["Posts"].iter_rows(min_row=2, values_only=True))
    assert len(post_rows) == len(rows)
    header = [c.value for c in next(wb["Posts"].iter_rows(max_row=1))]
    eng = header.index("Engagement")
    assert sum(r[eng] or 0 for r in post_rows) == EXPECTED["engagement"]
    text_col = header.index("Text")
    assert any(r[text_col] == "=SUM(A1) formula-looking text" for r in post_rows)
    assert wb["Posts"].cell(row=2, column=text_col + 1).data_type == "s"
    # no feed was ever polled: no Feeds section and no Feeds sheet
    assert 'id="feeds"' not in result.files["html"].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("lang", "heading", "seen"),
    [("en", "Feeds: what became of each item", "Seen on first run"),
     ("id", "Umpan: nasib setiap butir", "Tercatat pada pembacaan pertama")],
)  # fmt: skip
def test_feed_decisions_agree_in_html_and_xlsx(
    session_factory: sessionmaker[Session], tmp_path: Path, lang: str, heading: str, seen: str
) -> None:
    seed_week(session_factory)
    seed_feeds(session_factory)
    result = _generate(session_factory, tmp_path, lang=lang)

    page = _DataParser()
    html = result.files["html"].read_text(encoding="utf-8")
    page.feed(html)
    html_feeds: dict[str, dict[str, int]] = defaultdict(dict)
    for (kind, name, metric), value in page.cells.items():
        if kind == "feed":
            html_feeds[name][metric] = int(value)
    assert html_feeds == FEED_EXPECTED
    assert heading in html and seen in html

    wb = openpyxl.load_workbook(result.files["xlsx"])
    assert wb.sheetnames == ["Summary", "Channels", "Posts", "Timing", "Feeds"]
    rows = list(wb["Feeds"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[0] == ("Feed" if lang == "en" else "Umpan") and seen in header
    keys = ["new", "backfill", "seen", "updated", "duplicate", "too_old", "over_cap", "invalid"]
    xlsx_feeds = {r[0]: dict(zip([*keys, "total"], r[1:], strict=True)) for r in body}
    assert xlsx_feeds == html_feeds


def test_indonesian_html_is_self_contained(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_week(session_factory)
    result = _generate(session_factory, tmp_path, lang="id")
    html = result.files["html"].read_text(encoding="utf-8")
    page = _DataParser()
    page.feed(html)
    assert "default-src 'none'" in page.csp
    assert "<script" not in html and "@import" not in html and "url(" not in html
    # the only URLs are links to live posts and articles
    assert page.urls and all(u.startswith("https://") for u in page.urls)
    assert "<b>rules</b>" not in html and "&lt;b&gt;rules&lt;/b&gt; &amp; fees" in html
    assert "<b>news</b>" not in html and "news" not in html  # top posts: titles, not texts
    assert "@media print" in html and 'name="viewport"' in html
    # Indonesian throughout
    assert '<html lang="id">' in html
    for phrase in ("Laporan mingguan", "tidak dilaporkan oleh platform", "Keandalan penerbitan"):
        assert phrase in html
    assert "Weekly report" not in html
    assert "2.300" in html  # views, written the Indonesian way
    wb = openpyxl.load_workbook(result.files["xlsx"])
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Unggahan terbit"] == EXPECTED["posts"]


def test_empty_week(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    result = _generate(session_factory, tmp_path)
    assert result.summary["posts"] == 0 and result.summary["engagement"] is None
    html = result.files["html"].read_text(encoding="utf-8")
    assert "Nothing this week." in html
    with result.files["csv"].open(encoding="utf-8-sig") as fh:
        assert len(list(csv.reader(fh))) == 1  # the header only
