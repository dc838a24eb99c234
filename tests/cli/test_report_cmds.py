"""``dissem report`` and ``dissem metrics POST``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from dissem.cli import cli
from dissem.settings import get_settings
from tests.reports.report_seed import EXPECTED, TZ, WEEK, seed_week


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    values = {
        "DISSEM_DATABASE_URL": db_url,
        "DISSEM_TIMEZONE": TZ,
        "DISSEM_REPORT_DIR": str(tmp_path / "reports"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("DISSEM_REPORT_EMAIL_TO", "DISSEM_REPORT_WEBHOOK_URL"):
        monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


def test_report_writes_the_chosen_formats(
    env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_week(session_factory)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["report", "--week", WEEK, "--out", str(out), "--format", "html,csv", "--lang", "id"]
    )
    assert result.exit_code == 0, result.output
    html = out / f"dissem-report-{WEEK}-id.html"
    assert f"html: {html}" in result.output
    assert html.exists() and (out / f"dissem-report-{WEEK}-id.csv").exists()
    assert not (out / f"dissem-report-{WEEK}-id.xlsx").exists()
    assert "Laporan mingguan" in html.read_text(encoding="utf-8")
    # the English report goes next to it; it does not overwrite the Indonesian one
    english = CliRunner().invoke(cli, ["report", "--week", WEEK, "--out", str(out)])
    assert english.exit_code == 0, english.output
    assert f"html: {out / f'dissem-report-{WEEK}-en.html'}" in english.output
    assert "Laporan mingguan" in html.read_text(encoding="utf-8")
    assert len(list(out.iterdir())) == 5  # html and csv in Indonesian, all three in English


def test_report_default_folder_and_bad_input(
    env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    result = CliRunner().invoke(cli, ["report", "--week", WEEK])
    assert result.exit_code == 0, result.output
    folder = Path(env["DISSEM_REPORT_DIR"]) / WEEK
    assert sorted(p.suffix for p in folder.iterdir()) == [".csv", ".html", ".xlsx"]
    bad = CliRunner().invoke(cli, ["report", "--week", "2026-48"])
    assert bad.exit_code == 2 and "not an ISO week" in bad.output
    bad = CliRunner().invoke(cli, ["report", "--format", "pdf"])
    assert bad.exit_code == 2 and "'pdf' is not a report format" in bad.output
    unsendable = CliRunner().invoke(cli, ["report", "--week", WEEK, "--send"])
    assert unsendable.exit_code == 2 and "DISSEM_REPORT_WEBHOOK_URL" in unsendable.output


def test_report_send_failure_exits_1(
    env: dict[str, str], session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing listens on port 9 of the loopback: the webhook cannot be reached
    monkeypatch.setenv("DISSEM_REPORT_WEBHOOK_URL", "http://127.0.0.1:9/hook?token=tok-12345678")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["report", "--week", WEEK, "--send"])
    assert result.exit_code == 1
    assert "not sent: webhook" in result.output and "tok-12345678" not in result.output


def test_metrics_history(env: dict[str, str], session_factory: sessionmaker[Session]) -> None:
    ids = seed_week(session_factory)
    runner = CliRunner()
    table = runner.invoke(cli, ["metrics", str(ids["x1"])])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert "post" in lines[0] and "kemlu-x" in lines[0]
    header = next(line for line in lines if line.startswith("taken at"))
    assert header.split()[3:] == ["likes", "reposts", "replies", "quotes", "bookmarks", "views"]
    rows = lines[lines.index(header) + 2 :]
    assert len(rows) == 3  # the whole history, after the week too
    assert rows[0].startswith("2026-11-23 04:00") and "1h" in rows[0]
    assert rows[-1].split()[-1] == "99999" and rows[-1].split()[-3] == "–"  # not reported

    as_json = runner.invoke(cli, ["metrics", str(ids["x1"]), "--json"])
    data = json.loads(as_json.output)
    assert [s["likes"] for s in data["snapshots"]] == [5, 40, 999]
    assert data["snapshots"][0]["shares"] is None and data["platform"] == "x"

    tg = runner.invoke(cli, ["metrics", str(ids["t1"])])
    assert tg.exit_code == 0 and "not reported by the platform" in tg.output
    missing = runner.invoke(cli, ["metrics", "999999"])
    assert missing.exit_code == 1 and "no post with id 999999" in missing.output
    assert EXPECTED["posts"] == 5  # the seed this test reads is the reports' one
