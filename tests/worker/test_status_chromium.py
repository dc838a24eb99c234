"""The status page in a real headless Chromium (the DevTools client of the report's test):
no console error or exception, no request but the page itself, readable on a phone (no
sideways scrolling), every problem's command on screen. Screenshots go to ``artifacts/``
(git-ignored). Without Chromium the test skips, except under CI."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.worker.health import HealthServer, WorkerMetrics
from dissem.worker.status_page import StatusPage
from tests.reports.test_reports_chromium import ARTIFACTS, DevTools, browser
from tests.worker.status_seed import NOW, seed_status

__all__ = ["browser"]  # the fixture, used by name


@pytest.fixture
def page_url(session_factory: sessionmaker[Session], db_url: str, tmp_path: Path) -> Iterator[str]:
    seed_status(session_factory, tmp_path / "reports")
    reader = make_engine(db_url, read_only=True)
    settings = Settings(report_dir=tmp_path / "reports", timezone="Asia/Jakarta")
    page = StatusPage(make_session_factory(reader), settings, clock=lambda: NOW)
    server = HealthServer(
        "127.0.0.1", 0, WorkerMetrics(session_factory), lambda: {"status": "ok"}, page=page.handle
    )
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}/status"
    finally:
        server.stop()
        reader.dispose()


def _shot(browser: DevTools, width: int, name: str, db_url: str) -> None:
    height = browser.evaluate("document.documentElement.scrollHeight")
    shot = browser.call(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
    )
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and len(png) > 20_000  # a blank page is a few KB
    ARTIFACTS.mkdir(exist_ok=True)
    backend = "postgres" if db_url.startswith("postgresql") else "sqlite"
    (ARTIFACTS / f"status-{name}-{backend}.png").write_bytes(png)


def test_status_page_renders_in_chromium(page_url: str, browser: DevTools, db_url: str) -> None:
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.call(f"{domain}.enable")
    browser.call("Emulation.setDeviceMetricsOverride", width=1200, height=900,
                 deviceScaleFactor=1, mobile=False)  # fmt: skip
    browser.call("Page.navigate", url=page_url)
    browser.wait_for("Page.loadEventFired")
    assert browser.evaluate("document.readyState") == "complete"
    # the sections are there, problems first with their commands on screen
    ids = browser.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
    assert ids == ["problems", "next", "releases", "feeds", "reports"]
    commands = browser.evaluate(
        "Array.from(document.querySelectorAll('#problems code')).map(c => c.innerText)"
    )
    assert "dissem resume hq-bluesky" in commands
    assert sum(c.startswith("dissem retry ") for c in commands) == 3
    assert browser.evaluate("document.querySelectorAll('#next .card').length") == 4
    # the hostile title is text, not markup: no script ran, no image was asked for
    assert browser.evaluate("document.querySelectorAll('script, img').length") == 0
    _shot(browser, 1200, "desktop", db_url)

    # a phone: no sideways scrolling, commands wrap inside the screen
    browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844,
                 deviceScaleFactor=2, mobile=True)  # fmt: skip
    browser.evaluate("window.scrollTo(0, 0)")
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    widest = browser.evaluate(
        "Math.max(...Array.from(document.querySelectorAll('#problems code, .card'))"
        ".map(e => e.getBoundingClientRect().right))"
    )
    assert widest <= 390
    _shot(browser, 390, "phone", db_url)

    assert browser.requested() == [page_url]
    assert browser.problems() == []
