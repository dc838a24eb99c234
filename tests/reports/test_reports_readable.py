"""The weekly report as a manager reads it (issue 12): every finding, on a seeded week.

- a channel whose posts have no snapshot yet says so, not "not reported by the platform";
- top posts are there while posts went out without figures, and show the release title, the
  channel and a short link, never the whole text with its UTM links; a thread counts once;
- a week not over yet is marked partial and compared with the same span of the week before;
- "Previous week: 1 (+400.0%)", never "vs previous week: 0";
- platform names as their owners write them (X, Bluesky, LinkedIn);
- the reason for a retry comes from the failed attempt, not "(no reason recorded)";
- each language has its own files.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from dissem.reports.html import SHORT_LINK_CHARS, short_link
from dissem.reports.weekly import ReportResult, generate_report
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import Attempt
from tests.reports.report_seed import (
    END,
    START,
    TZ,
    WEEK,
    _channel,
    _post,
    _release,
    _snap,
    seed_week,
)

NOW = END + timedelta(days=1, hours=10)  # the week is over
SVG = "{http://www.w3.org/2000/svg}"
H = timedelta(hours=1)
UTM = "https://portal.example.go.id/r1?utm_source=x&utm_medium=social&utm_campaign=minister"


def _generate(
    factory: sessionmaker[Session], tmp_path: Path, *, now: datetime = NOW, lang: str = "en"
) -> ReportResult:
    settings = Settings(timezone=TZ, report_dir=tmp_path / "reports")
    return generate_report(factory, settings, WEEK, now=now, lang=lang)


def _seed(factory: sessionmaker[Session], *, snapshots: bool = True) -> dict[str, int]:
    """A thread of three parts on X, a Bluesky post not measured yet, a Telegram post (no
    metrics on that platform) and a Mastodon post published at its second attempt."""
    with transaction(factory) as s:
        s.add_all(
            [
                _channel("kemlu-x", "x"),
                _channel("kemlu-bsky", "bluesky"),
                _channel("kemlu-tg", "telegram"),
                _channel("embassy-masto", "mastodon"),
            ]
        )
        s.add_all([_release("r1", "Minister visits Jakarta"), _release("r2", "Visa rules")])
        s.flush()
        thread = [
            _post(
                "kemlu-x",
                "r1",
                START + 3 * H + i * timedelta(minutes=1),
                seq=1,
                part_index=i + 1,
                part_total=3,
                text=f"Part {i + 1} of the minister's visit, read more {UTM}",
                remote_url=f"https://social.example/kemlu-x/thread-{i + 1}",
            )
            for i in range(3)
        ]
        posts = {
            "x1": thread[0],
            "x2": thread[1],
            "x3": thread[2],
            "b1": _post("kemlu-bsky", "r2", START + 24 * H),
            "t1": _post("kemlu-tg", "r1", START + 48 * H),
            "m1": _post("embassy-masto", "r2", START + 50 * H, attempts=2, last_error=None),
        }
        s.add_all(posts.values())
        s.flush()
        m1 = posts["m1"]
        s.add_all(
            [
                Attempt(post_id=m1.id, worker="w1", started_at=START + 49 * H,
                        finished_at=START + 49 * H, outcome="transient",
                        error="TransientError: HTTP 503 from mastodon.example"),
                Attempt(post_id=m1.id, worker="w1", started_at=START + 50 * H,
                        finished_at=START + 50 * H, outcome="published"),
            ]
        )  # fmt: skip
        if snapshots:
            s.add_all(
                [
                    _snap(posts["x1"], START + 30 * H, likes=10, reposts=2, views=500),
                    _snap(posts["x2"], START + 30 * H, likes=2, views=120),
                    _snap(posts["x3"], START + 30 * H, likes=1, views=80),
                    _snap(m1, START + 60 * H, likes=3, reposts=1),
                ]
            )
        return {k: v.id for k, v in posts.items()}


def _section(html: str, name: str) -> str:
    m = re.search(rf'<section id="{name}">(.*?)</section>', html, re.S)
    assert m, name
    return m.group(1)


def _row(html: str, kind: str, key: str) -> str:
    m = re.search(rf'<tr data-{kind}="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert m, (kind, key)
    return m.group(1)


def _text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _chart_texts(html: str, chart_id: str) -> list[str]:
    m = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', html, re.S)
    assert m, chart_id
    return [t.text or "" for t in ET.fromstring(m.group(0)).iter(f"{SVG}text")]


def _csv(result: ReportResult) -> list[dict[str, str]]:
    with result.files["csv"].open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_no_snapshot_yet_is_not_not_reported(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _seed(session_factory)
    result = _generate(session_factory, tmp_path)
    html = result.html
    bsky = _text(_row(html, "channel", "kemlu-bsky"))
    assert "no snapshot yet" in bsky and "not reported" not in bsky
    assert "not reported by the platform" in _text(_row(html, "channel", "kemlu-tg"))
    texts = _chart_texts(html, "chart-channels")
    assert texts[texts.index("kemlu-bsky") + 1] == "no snapshot yet"
    assert texts[texts.index("kemlu-tg") + 1] == "not reported by the platform"
    wb = openpyxl.load_workbook(result.files["xlsx"])
    notes = {r[0]: r[-1] for r in wb["Channels"].iter_rows(min_row=2, values_only=True)}
    assert notes["kemlu-bsky"] == "no snapshot yet"
    assert notes["kemlu-tg"] == "not reported by the platform"
    assert notes["kemlu-x"] in ("", None)


def test_a_thread_counts_once_and_top_posts_are_short(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = _seed(session_factory)
    result = _generate(session_factory, tmp_path)
    assert result.summary["posts"] == 4  # the thread, Bluesky, Telegram, Mastodon
    top = _section(result.html, "top-posts")
    rows = re.findall(r'<tr data-post="(\d+)">(.*?)</tr>', top, re.S)
    assert [int(pid) for pid, _ in rows] == [ids["x1"], ids["m1"]]  # ranked; once each
    thread = rows[0][1]
    assert 'data-value="15"' in thread  # likes 10 + 2 + 1 and 2 reposts over its parts
    text = _text(thread)
    assert "Minister visits Jakarta" in text and "kemlu-x" in text and "X" in text
    assert "3 parts" in text
    assert "utm_" not in top and "read more" not in top  # not the whole text
    link = re.search(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', thread)
    assert link and link.group(1) == "https://social.example/kemlu-x/thread-1"
    assert link.group(2) == "social.example/kemlu-x/thread-1"
    # CSV and XLSX: one row per post, the thread's figures summed (views: its best part)
    rows_csv = _csv(result)
    assert len(rows_csv) == 4
    x = next(r for r in rows_csv if r["channel"] == "kemlu-x")
    assert (x["parts"], x["engagement"], x["likes"], x["views"]) == ("3", "15", "13", "500")
    wb = openpyxl.load_workbook(result.files["xlsx"])
    assert len(list(wb["Posts"].iter_rows(min_row=2))) == 4
    assert 'data-metric="posts" data-value="1"' in _row(result.html, "channel", "kemlu-x")


def test_top_posts_when_posts_have_no_figures_yet(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _seed(session_factory, snapshots=False)
    result = _generate(session_factory, tmp_path)
    top = _text(_section(result.html, "top-posts"))
    assert "Nothing this week." not in top
    assert "4 posts went out this week; none has engagement figures yet" in top
    card = re.search(r'data-figure="engagement".*?</div>\s*</div>', result.html, re.S)
    assert card and "no snapshot yet" in _text(card.group(0))


@settings(max_examples=200, deadline=None)
@given(
    host=st.from_regex(r"(www\.)?[a-z][a-z0-9-]{0,20}\.[a-z]{2,6}", fullmatch=True),
    path=st.lists(st.text("abcxyz0123456789-_@", min_size=1, max_size=30), max_size=6),
    query=st.dictionaries(st.sampled_from(["utm_source", "utm_campaign", "s", "t"]),
                          st.text("abc123", min_size=1, max_size=40)),
)  # fmt: skip
def test_short_link_is_host_and_path_only(
    host: str, path: list[str], query: dict[str, str]
) -> None:
    url = f"https://{host}/" + "/".join(path) + ("?" + urlencode(query) if query else "")
    short = short_link(url)
    assert len(short) <= SHORT_LINK_CHARS
    assert "?" not in short and "utm_" not in short and "://" not in short
    assert short.startswith(host.removeprefix("www.")[: SHORT_LINK_CHARS - 1])
    full = (host.removeprefix("www.") + "/" + "/".join(path)).rstrip("/")
    assert short == full or (short.endswith("…") and full.startswith(short[:-1]))


def test_partial_week_is_marked_and_compared_over_the_same_span(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_week(session_factory)  # one post in the previous week, on its Friday
    wednesday = START + timedelta(days=2, hours=1)  # 01:00 Wednesday in Jakarta
    result = _generate(session_factory, tmp_path, now=wednesday)
    assert result.summary["partial"] is True
    assert result.summary["as_of"] == wednesday.isoformat()
    header = _text(re.search(r"<header>(.*?)</header>", result.html, re.S).group(1))  # type: ignore[union-attr]
    assert "Partial week: figures up to 2026-11-25 01:00; the week is not over." in header
    assert result.summary["posts"] == 5
    assert result.summary["previous"]["posts"] == 0  # Mon 00:00 to Wed 01:00 a week before
    assert "Previous week up to the same time: 0" in result.html
    wb = openpyxl.load_workbook(result.files["xlsx"])
    summary = {r[0]: r[1:] for r in wb["Summary"].iter_rows(values_only=True)}
    assert summary["Figure"][1] == "Previous week up to the same time"
    assert summary["Partial week"][0] == "2026-11-25 01:00"

    done = _generate(session_factory, tmp_path / "done")
    assert done.summary["partial"] is False and done.summary["as_of"] is None
    assert "Partial week" not in done.html and done.summary["previous"]["posts"] == 1


def _change_line(html: str, key: str) -> str:
    m = re.search(rf'data-figure="{key}".*?<div class="change">(.*?)</div>', html, re.S)
    assert m, key
    return _text(m.group(1))


def test_the_previous_week_line_says_what_it_is(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_week(session_factory)
    html = _generate(session_factory, tmp_path).html
    assert _change_line(html, "posts") == "Previous week: 1 (+400.0%)"
    assert _change_line(html, "channels_active") == "Previous week: 1 (+300.0%)"
    assert "vs previous week" not in html
    html_empty = generate_report(
        session_factory,
        Settings(timezone=TZ, report_dir=tmp_path / "e"),
        "2026-W40",
        now=NOW,
    ).html
    assert _change_line(html_empty, "posts") == "Previous week: 0 (no change)"
    assert _change_line(html_empty, "engagement") == "Previous week: –"
    id_html = _generate(session_factory, tmp_path / "id", lang="id").html
    assert _change_line(id_html, "posts") == "Minggu lalu: 1 (+400,0%)"


def test_platform_names_as_written_by_their_owners(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_week(session_factory)
    result = _generate(session_factory, tmp_path)
    html = result.html
    names = {_text(_row(html, "platform", p)).split()[0] for p in ("x", "bluesky", "telegram")}
    assert names == {"X", "Bluesky", "Telegram"}
    assert _text(_row(html, "channel", "kemlu-bsky")).split()[:2] == ["kemlu-bsky", "Bluesky"]
    assert set(_chart_texts(html, "chart-platforms")) >= {"X", "Bluesky", "Mastodon"}
    wb = openpyxl.load_workbook(result.files["xlsx"])
    assert {r[1] for r in wb["Channels"].iter_rows(min_row=2, values_only=True)} == {
        "X",
        "Bluesky",
        "Telegram",
        "Mastodon",
    }
    assert {r["platform"] for r in _csv(result)} == {"x", "bluesky", "telegram", "mastodon"}


def test_a_retry_names_its_reason(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    _seed(session_factory)
    result = _generate(session_factory, tmp_path)
    reliability = _section(result.html, "reliability")
    assert 'data-metric="retried" data-value="1"' in reliability
    reasons = re.findall(r'<tr data-reason-category="retried">(.*?)</tr>', reliability, re.S)
    assert [_text(r) for r in reasons] == [
        "Retried TransientError: HTTP 503 from mastodon.example 1"
    ]
    assert "no reason recorded" not in reliability


def test_each_language_writes_its_own_files(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_week(session_factory)
    en = _generate(session_factory, tmp_path, lang="en")
    id_ = _generate(session_factory, tmp_path, lang="id")
    assert en.out_dir == id_.out_dir
    assert {p.name for p in en.files.values()} == {
        f"dissem-report-{WEEK}-en.{s}" for s in ("html", "csv", "xlsx")
    }
    assert {p.name for p in id_.files.values()} == {
        f"dissem-report-{WEEK}-id.{s}" for s in ("html", "csv", "xlsx")
    }
    assert "Weekly report" in en.files["html"].read_text(encoding="utf-8")
    assert "Laporan mingguan" in id_.files["html"].read_text(encoding="utf-8")
    wb = openpyxl.load_workbook(en.files["xlsx"])
    assert wb["Summary"].cell(row=1, column=1).value == "Figure"
