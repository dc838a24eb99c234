"""Hostile and failing feeds end in a located error and a backed-off feed; others go on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dissem.feeds.fetch import retry_after
from dissem.store.models import FeedState, ReleaseRow
from dissem.worker.feed_poll import Politeness, poll_due, poll_feed
from tests.feeds.conftest import NOW, Desk
from tests.feeds.feed_server import FeedServer, Route, rss

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "xxxxxxxxxxxxxxxxxxxxxxxx"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<rss version="2.0"><channel><title>&d;</title>
<item><title>&d;</title><link>https://p.example/1</link></item></channel></rss>"""


class Alerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, kind: str, message: str, **fields: Any) -> None:
        self.sent.append((kind, message))


def _state(desk: Desk, name: str) -> FeedState:
    with desk.factory() as s:
        state = s.get(FeedState, name)
        assert state is not None
        return state


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (Route(mode="huge"), "over the limit"),
        (Route(mode="huge_announced"), "over the limit"),
        (Route(mode="redirect_loop"), "more than 5 redirects"),
        (Route(BOMB), "declares XML entities"),
        (Route(mode="trickle"), "no complete answer within 2 s"),
        (Route(b"<html><body>not a feed</body></html>", content_type="text/html"), "not"),
        (Route(b"oops", status=500), "HTTP 500"),
    ],
    ids=[
        "gigabyte",
        "gigabyte-announced",
        "redirect-loop",
        "entities",
        "one-byte-a-second",
        "html",
        "500",
    ],
)
def test_hostile_feed_is_a_located_error_and_backs_off(
    desk: Desk, server: FeedServer, route: Route, expected: str
) -> None:
    server.routes["/bad"] = route
    server.routes["/good"] = Route(rss([]))
    config = desk.feeds(
        {"name": "bad", "url": server.url("/bad")},
        {"name": "good", "url": server.url("/good"), "fetch_article": False},
    )
    results = {
        r.feed: r
        for r in poll_due(desk.factory, desk.settings, config, now=NOW, politeness=Politeness())
    }
    bad, good = results["bad"], results["good"]
    assert bad.error is not None and expected in bad.error and "127.0.0.1" in bad.error
    assert good.error is None and good.polled  # the other feed went on
    state = _state(desk, "bad")
    assert state.failures == 1 and state.last_error == bad.error
    assert state.next_poll_at == NOW + timedelta(minutes=20)  # interval * 2
    assert not state.initialized
    with desk.factory() as s:
        assert s.scalars(select(ReleaseRow)).all() == []


def test_backoff_grows_to_24_hours_and_alerts_once_a_day(desk: Desk, server: FeedServer) -> None:
    server.routes["/bad"] = Route(b"down", status=500)
    config = desk.feeds({"name": "bad", "url": server.url("/bad")})
    alerts = Alerts()
    now = NOW
    waits = []
    for _ in range(10):
        result = desk.poll(config, "bad", now, alerter=alerts)
        assert result.next_poll_at is not None
        waits.append(result.next_poll_at - now)
        now = result.next_poll_at
    assert waits[:3] == [timedelta(minutes=20), timedelta(minutes=40), timedelta(minutes=80)]
    assert max(waits) == timedelta(hours=24) and waits[-1] == timedelta(hours=24)
    assert alerts.sent[0][0] == "feed_failing" and "bad failed 3 times" in alerts.sent[0][1]
    assert len(alerts.sent) == 4  # at the 3rd failure, then once per day of 24 h waits
    server.routes["/bad"] = Route(rss([]))
    assert desk.poll(config, "bad", now).error is None
    state = _state(desk, "bad")
    assert state.failures == 0 and state.next_poll_at == now + timedelta(minutes=10)
    assert state.errors == 10


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(desk: Desk, server: FeedServer, status: int) -> None:
    server.routes["/busy"] = Route(b"busy", status=status, headers={"Retry-After": "7200"})
    config = desk.feeds({"name": "busy", "url": server.url("/busy")})
    result = desk.poll(config, "busy")
    assert result.error == f"127.0.0.1: HTTP {status}"
    assert result.next_poll_at == NOW + timedelta(hours=2)
    server.routes["/busy"] = Route(b"busy", status=status, headers={"Retry-After": str(86400 * 9)})
    result = desk.poll(config, "busy", NOW + timedelta(hours=2))
    assert result.next_poll_at == NOW + timedelta(hours=26)  # at most 24 h


def test_retry_after_as_http_date() -> None:
    assert retry_after("Tue, 01 Dec 2026 09:00:00 GMT", NOW) == timedelta(hours=1)
    assert retry_after("soon", NOW) is None


def test_due_feeds_only_and_politeness_per_host(desk: Desk, server: FeedServer) -> None:
    server.routes["/a"] = Route(rss([]))
    server.routes["/b"] = Route(rss([]))
    config = desk.feeds(
        {"name": "a", "url": server.url("/a"), "poll_interval": "5m"},
        {"name": "b", "url": server.url("/b"), "poll_interval": "5m"},
    )
    settings = desk.settings.model_copy(update={"feed_host_interval": 30.0})
    polite = Politeness()
    first = poll_due(desk.factory, settings, config, now=NOW, politeness=polite)
    assert [(r.feed, r.polled) for r in first] == [("a", True), ("b", False)]  # same host
    second = poll_due(
        desk.factory, settings, config, now=NOW + timedelta(seconds=31), politeness=polite
    )
    assert [(r.feed, r.polled) for r in second] == [("b", True)]
    assert (
        poll_due(desk.factory, settings, config, now=NOW + timedelta(minutes=2), politeness=polite)
        == []
    )
    later = poll_due(
        desk.factory, settings, config, now=NOW + timedelta(minutes=6), politeness=polite
    )
    assert [(r.feed, r.polled) for r in later] == [("a", True), ("b", False)]


def test_internal_addresses_are_refused_before_connecting(desk: Desk, server: FeedServer) -> None:
    """Without trusting it, a feed on this machine (or redirecting to it, or to the cloud
    metadata address) is refused: the safe_fetch address check, on every hop."""
    server.routes["/rss"] = Route(rss([]))
    config = desk.feeds({"name": "local", "url": server.url("/rss")})
    strict = desk.settings.model_copy(update={"feed_trusted_networks": ""})
    result = poll_feed(desk.factory, strict, config, "local", now=NOW, force=True)
    assert result.error is not None and "refused: 127.0.0.1 is a loopback address" in result.error
    assert server.hits.get("/rss") is None  # never connected
    server.routes["/hop"] = Route(b"", status=302, headers={"Location": "http://169.254.169.254/x"})
    config = desk.feeds({"name": "hop", "url": server.url("/hop")})
    result = poll_feed(desk.factory, desk.settings, config, "hop", now=NOW, force=True)
    assert result.error is not None and "169.254.169.254" in result.error
    assert "refused" in result.error
