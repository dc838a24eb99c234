"""The HTML report in a real headless Chromium, driven over the DevTools protocol.

Checks: no console error, no exception, no request but the file itself (CSP and no external
URL), charts rendered with a size and their bars on screen, the "when your audience engages"
heat maps drawn with the best slot's square on screen, no sideways scrolling on a
phone-sized screen, printable to PDF. A screenshot is kept in ``artifacts/`` (git-ignored).

Without Chromium the test skips with a message, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dissem.reports.weekly import generate_report
from dissem.settings import Settings
from tests.reports.report_seed import TZ, WEEK, seed_feeds, seed_week
from tests.reports.timing_seed import BEST, CLEAR, seed_timing

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _need_chromium() -> None:
    missing = []
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import websocket  # noqa: F401
    except ImportError:
        missing.append("websocket-client (pip install websocket-client)")
    if missing:
        message = "headless Chromium test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class DevTools:
    """A minimal DevTools-protocol client over one browser websocket (flattened sessions)."""

    def __init__(self, url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            reply = json.loads(self.ws.recv())
            if "method" in reply:
                self.events.append(reply)
        raise TimeoutError(method)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def requested(self) -> list[str]:
        """Every URL the page asked for."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def problems(self) -> list[dict[str, Any]]:
        """Failed loads, exceptions, and console or log errors and warnings."""
        return [
            e
            for e in self.events
            if e["method"] in ("Network.loadingFailed", "Runtime.exceptionThrown")
            or (
                e["method"] == "Runtime.consoleAPICalled"
                and e["params"]["type"] in ("error", "warning")
            )
            or (
                e["method"] == "Log.entryAdded"
                and e["params"]["entry"]["level"] in ("error", "warning")
            )
        ]

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    _need_chromium()
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start (exit code {proc.poll()})")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        tools = DevTools(f"ws://127.0.0.1:{port}{path}")
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        tools.session = tools.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        yield tools
        tools.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def test_report_renders_in_chromium(
    session_factory: sessionmaker[Session], db_url: str, tmp_path: Path, browser: DevTools
) -> None:
    seed_week(session_factory)
    seed_timing(session_factory)
    seed_feeds(session_factory)
    settings = Settings(timezone=TZ, report_dir=tmp_path / "reports")
    result = generate_report(
        session_factory, settings, WEEK, now=datetime(2026, 12, 1, tzinfo=UTC), formats="html"
    )
    page_url = result.files["html"].resolve().as_uri()

    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.call(f"{domain}.enable")
    browser.call("Emulation.setDeviceMetricsOverride", width=1200, height=900,
                 deviceScaleFactor=1, mobile=False)  # fmt: skip
    browser.call("Page.navigate", url=page_url)
    browser.wait_for("Page.loadEventFired")
    assert browser.evaluate("document.readyState") == "complete"

    # charts exist, have a size, and their bars are really on screen (hit-tested)
    charts = browser.evaluate(
        """Array.from(document.querySelectorAll('svg.chart')).map(svg => {
             const r = svg.getBoundingClientRect();
             const bars = Array.from(svg.querySelectorAll('rect.bar'));
             const seen = bars.filter(bar => {
               bar.scrollIntoView({block: 'center'});
               const b = bar.getBoundingClientRect();
               if (b.width < 1 || b.height < 1) return false;
               return document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2) === bar;
             }).length;
             return {id: svg.id, width: r.width, height: r.height, bars: bars.length, seen};
           })"""
    )
    by_id = {c["id"]: c for c in charts}
    assert set(by_id) == {"chart-platforms", "chart-channels", "chart-days"}
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 50, chart
        assert chart["bars"] > 0 and chart["seen"] == chart["bars"], chart
    # heat maps: a size, and every square with posts really on screen; the best one framed
    heatmaps = browser.evaluate(
        """Array.from(document.querySelectorAll('svg.heatmap')).map(svg => {
             const r = svg.getBoundingClientRect();
             const cells = Array.from(svg.querySelectorAll('rect.cell'));
             const seen = cells.filter(cell => {
               cell.scrollIntoView({block: 'center'});
               const b = cell.getBoundingClientRect();
               const hit = document.elementFromPoint(b.x + 4, b.y + b.height / 2);
               return b.width > 20 && b.height > 20 && hit === cell;
             }).length;
             const block = svg.closest('[data-timing]');
             const marked = cells.filter(c => c.dataset.marked === '1').map(c => c.dataset.slot);
             return {name: block.dataset.timing, width: r.width, height: r.height,
                     cells: cells.length, seen, marked};
           })"""
    )
    maps = {m["name"]: m for m in heatmaps}
    assert CLEAR in maps and maps[CLEAR]["marked"] == [BEST]
    for m in heatmaps:
        assert m["width"] > 300 and m["height"] > 80, m
        assert m["cells"] == 16 and m["seen"] == 16, m
    # the Feeds section is drawn: a row per feed, its cells with a size
    feeds = browser.evaluate(
        """Array.from(document.querySelectorAll('#feeds tr[data-feed]')).map(tr => {
             const r = tr.getBoundingClientRect();
             return {feed: tr.dataset.feed, width: r.width, height: r.height,
                     cells: tr.querySelectorAll('td[data-metric]').length};
           })"""
    )
    assert [f["feed"] for f in feeds] == ["portal-en", "portal-id"]
    for f in feeds:
        assert f["width"] > 300 and f["height"] > 10 and f["cells"] == 9, f
    figures = browser.evaluate(
        "Array.from(document.querySelectorAll('[data-figure]')).map(e => e.innerText)"
    )
    assert len(figures) == 5 and "93" in " ".join(figures)

    # a phone: the page itself never scrolls sideways (wide tables scroll in their box)
    browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844,
                 deviceScaleFactor=2, mobile=True)  # fmt: skip
    browser.evaluate("window.scrollTo(0, 0)")
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    for chart in ("#chart-days", "svg.heatmap"):
        width = f"document.querySelector('{chart}').getBoundingClientRect().width"
        assert browser.evaluate(width) <= 390

    # printable
    pdf = base64.b64decode(browser.call("Page.printToPDF", printBackground=True)["data"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000

    # the screenshot, kept as an artifact
    browser.call("Emulation.setDeviceMetricsOverride", width=1100, height=900,
                 deviceScaleFactor=1, mobile=False)  # fmt: skip
    height = browser.evaluate("document.documentElement.scrollHeight")
    shot = browser.call(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": 1100, "height": height, "scale": 1},
    )
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and len(png) > 30_000  # a blank page is a few KB
    ARTIFACTS.mkdir(exist_ok=True)
    backend = "postgres" if db_url.startswith("postgresql") else "sqlite"
    (ARTIFACTS / f"report-{WEEK}-{backend}.png").write_bytes(png)
    (ARTIFACTS / f"report-{WEEK}-{backend}.pdf").write_bytes(pdf)

    # nothing but the file itself was requested; no console error, no exception
    assert browser.requested() == [page_url]
    assert browser.problems() == []
