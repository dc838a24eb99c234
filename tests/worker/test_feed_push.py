"""Push for feeds on the worker's HTTP port: the CMS's signed ping and WebSub, over real HTTP
on 127.0.0.1 (the WebSub hub is the sandbox portal's)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import sessionmaker

from dissem.sandbox import start_sandbox
from dissem.worker.feed_push import FeedPush, PollNow, WebSub, signature_ok
from dissem.worker.health import HealthServer, WorkerMetrics

SECRET = "ping-secret-0123456789"
FEEDS = {"news-en", "news-id"}


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    return f"{method}=" + hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    answer = requests.get(url, timeout=5)
    return answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.content


class Port:
    """A worker's HTTP port with the feeds' routes, the sandbox portal beside it."""

    def __init__(self, secret: str | None, public: bool) -> None:
        self.sb = start_sandbox()
        self.wakes = 0
        self.poll_now = PollNow(wake=self._wake)
        self.secret = secret
        self.websub: WebSub | None = None
        self.push = FeedPush(
            self.poll_now, lambda: FEEDS, lambda: self.secret, self.sb.env.clock, None
        )
        self.server = HealthServer(
            "127.0.0.1", 0, WorkerMetrics(sessionmaker()), lambda: {"status": "ok"},
            routes=self.push.handle,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.server.port}"
        if public:
            self.websub = self.push.websub = WebSub(self.url, _get)
        self.server.start()

    def _wake(self) -> None:
        self.wakes += 1

    def close(self) -> None:
        self.server.stop()
        self.sb.stop()


@pytest.fixture
def port() -> Iterator[Port]:
    p = Port(SECRET, public=True)
    yield p
    p.close()


def ping(port: Port, name: str, body: bytes, signature: str | None) -> requests.Response:
    headers = {"X-Dissem-Signature": signature} if signature is not None else {}
    return requests.post(f"{port.url}/feeds/{name}/ping", data=body, headers=headers, timeout=5)


# --- the CMS ping -------------------------------------------------------------------------------


def test_a_signed_ping_queues_the_feed_and_wakes_the_job(port: Port) -> None:
    body = b'{"guid": "http://portal/?p=9"}'
    answer = ping(port, "news-en", body, sign(SECRET, body))
    assert answer.status_code == 202
    assert port.poll_now.take() == ["news-en"] and port.wakes == 1
    assert port.poll_now.take() == []  # taken once
    # the port's own routes are untouched
    assert requests.get(f"{port.url}/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha256=" + "0" * 64,
        sign("another-secret-456", b"{}"),
        sign(SECRET, b"{}", "sha1"),  # the ping is sha256 only
        sign(SECRET, b"{} "),  # a different body
        "sha256=zz" + "0" * 62,
        "md5=abc",
    ],
)
def test_a_bad_or_missing_signature_is_401_and_nothing_is_done(
    port: Port, signature: str | None
) -> None:
    answer = ping(port, "news-en", b"{}", signature)
    assert answer.status_code == 401
    assert len(port.poll_now) == 0 and port.wakes == 0


def test_no_secret_configured_refuses_every_ping() -> None:
    p = Port(None, public=False)
    try:
        answer = ping(p, "news-en", b"{}", sign("", b"{}"))
        assert answer.status_code == 401 and b"DISSEM_FEED_PING_SECRET" in answer.content
        assert len(p.poll_now) == 0
    finally:
        p.close()


def test_unknown_feed_is_404_only_after_the_signature(port: Port) -> None:
    assert ping(port, "nope", b"{}", sign(SECRET, b"{}")).status_code == 404
    assert ping(port, "nope", b"{}", "sha256=00").status_code == 401  # no name is revealed
    assert requests.get(f"{port.url}/feeds/news-en/ping", timeout=5).status_code == 405
    assert requests.post(f"{port.url}/feeds/Bad Name/ping", timeout=5).status_code == 404
    assert requests.post(f"{port.url}/elsewhere", timeout=5).status_code == 404
    assert len(port.poll_now) == 0


def test_secrets_never_reach_the_log(port: Port, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ping(port, "news-en", b"{}", sign(SECRET, b"{}"))
    ping(port, "news-en", b"{}", "sha256=" + "1" * 64)
    assert port.websub is not None
    port.websub.maintain({"news-en": f"{port.sb.url}/portal/en/rss.xml"}, port.sb.env.clock())
    assert port.sb.portal.outbox.wait_idle(5)
    (sub,) = port.websub._subs.values()
    for secret in (SECRET, sub.secret, sub.token):
        assert secret not in caplog.text
    assert "refused" in caplog.text


@given(
    secret=st.text(min_size=1, max_size=40), body=st.binary(max_size=200), flip=st.integers(0, 63)
)
def test_signature_check_property(secret: str, body: bytes, flip: int) -> None:
    good = sign(secret, body)
    assert signature_ok(secret, body, good)
    assert signature_ok(secret, body, good.upper().replace("SHA256", "sha256"))
    digits = list(good.removeprefix("sha256="))
    digits[flip] = "0" if digits[flip] != "0" else "1"
    assert not signature_ok(secret, body, "sha256=" + "".join(digits))
    assert not signature_ok(secret, body + b"x", good)
    assert not signature_ok(secret + "x", body, good)


# --- WebSub ---------------------------------------------------------------------------------------


def test_websub_subscribes_at_the_advertised_hub_and_a_signed_delivery_is_a_ping(
    port: Port,
) -> None:
    assert port.websub is not None
    topic = f"{port.sb.url}/portal/en/rss.xml"
    done = port.websub.maintain({"news-en": topic}, port.sb.env.clock())
    assert done == [f"news-en: subscribing at {port.sb.url}/portal/hub"]
    assert port.sb.portal.outbox.wait_idle(5)  # the hub verified our intent
    (sub,) = port.websub.subscriptions()
    assert sub["state"] == "active" and sub["topic"] == topic
    (hub_side,) = port.sb.portal.snapshot()["hub"]["subscriptions"]
    assert hub_side["signed"] and hub_side["callback"].startswith(f"{port.url}/feeds/news-en/")
    # nothing more to do until the lease nears its end
    assert port.websub.maintain({"news-en": topic}, port.sb.env.clock()) == []

    requests.post(
        f"{port.sb.url}/_sandbox/portal/items", json={"title": "Breaking", "lang": "en"}, timeout=5
    )
    assert port.sb.portal.outbox.wait_idle(5)
    assert port.sb.portal.snapshot()["hub"]["delivered"] == 1
    assert port.poll_now.take() == ["news-en"]


def test_websub_deliveries_unsigned_wrong_or_to_unknown_callbacks(port: Port) -> None:
    assert port.websub is not None
    port.websub.maintain({"news-en": f"{port.sb.url}/portal/en/atom.xml"}, port.sb.env.clock())
    assert port.sb.portal.outbox.wait_idle(5)
    (sub,) = port.websub._subs.values()
    callback = port.websub.callback(sub)
    body = b"<feed/>"
    assert requests.post(callback, data=body, timeout=5).status_code == 401
    wrong = {"X-Hub-Signature": sign("not-the-secret", body)}
    assert requests.post(callback, data=body, headers=wrong, timeout=5).status_code == 401
    sha1 = {"X-Hub-Signature": sign(sub.secret, body, "sha1")}  # WebSub 7.1.1 allows sha1
    assert requests.post(callback, data=body, headers=sha1, timeout=5).status_code == 202
    assert port.poll_now.take() == ["news-en"]
    gone = callback.rsplit("/", 1)[0] + "/" + "x" * 32
    signed = {"X-Hub-Signature": sign(sub.secret, body)}
    assert requests.post(gone, data=body, headers=signed, timeout=5).status_code == 410
    assert port.poll_now.take() == []


def test_websub_verification_only_for_a_pending_subscription_of_that_topic(port: Port) -> None:
    assert port.websub is not None
    port.websub.maintain({"news-id": f"{port.sb.url}/portal/id/rss.xml"}, port.sb.env.clock())
    assert port.sb.portal.outbox.wait_idle(5)
    (sub,) = port.websub._subs.values()
    callback = port.websub.callback(sub)
    challenge = {"hub.mode": "subscribe", "hub.challenge": "abc", "hub.lease_seconds": "60"}
    other = requests.get(callback, params={**challenge, "hub.topic": "http://x/"}, timeout=5)
    assert other.status_code == 404
    # already active: a replayed verification is not pending any more
    again = requests.get(callback, params={**challenge, "hub.topic": sub.topic}, timeout=5)
    assert again.status_code == 404
    unknown = callback.rsplit("/", 1)[0] + "/" + "y" * 32
    assert (
        requests.get(unknown, params={**challenge, "hub.topic": sub.topic}, timeout=5).status_code
        == 404
    )
    # a denial ends the subscription
    denied = {"hub.mode": "denied", "hub.topic": sub.topic, "hub.reason": "no"}
    assert requests.get(callback, params=denied, timeout=5).status_code == 200
    assert port.websub.subscriptions() == []


def test_websub_renews_before_the_lease_ends_and_unsubscribes_removed_feeds(
    port: Port,
) -> None:
    assert port.websub is not None
    clock = port.sb.env
    topic = f"{port.sb.url}/portal/en/rss.xml"
    port.websub.maintain({"news-en": topic}, clock.clock())
    assert port.sb.portal.outbox.wait_idle(5)
    (first,) = port.websub.subscriptions()
    assert first["state"] == "active"
    # the portal grants 10 days; a day before they end the subscription is renewed
    later = clock.clock() + timedelta(days=9, minutes=1)
    assert port.websub.maintain({"news-en": topic}, later) == [
        f"news-en: subscribing at {port.sb.url}/portal/hub"
    ]
    assert port.sb.portal.outbox.wait_idle(5)
    (renewed,) = port.websub.subscriptions()
    assert renewed["state"] == "active"
    # the feed leaves feeds.yaml: the subscription is ended at the hub
    assert port.websub.maintain({}, later) == [
        f"news-en: unsubscribing from {port.sb.url}/portal/hub"
    ]
    assert port.sb.portal.outbox.wait_idle(5)
    assert port.websub.subscriptions() == []


def test_websub_feed_without_a_hub_is_looked_at_again_a_day_later(port: Port) -> None:
    assert port.websub is not None
    port.sb.portal.set_faults({"hub": False})
    now = port.sb.env.clock()
    topic = f"{port.sb.url}/portal/en/rss.xml"
    assert port.websub.maintain({"news-en": topic}, now) == []
    assert port.websub.maintain({"news-en": topic}, now + timedelta(hours=23)) == []
    port.sb.portal.set_faults({})
    assert port.websub.maintain({"news-en": topic}, now + timedelta(hours=25))
