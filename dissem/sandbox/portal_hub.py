"""What the sandbox portal sends out: a WebSub hub for its feeds, and the CMS's signed ping.

The hub follows the W3C WebSub Recommendation (https://www.w3.org/TR/websub/, read in
w3c/websub:staged/rec/index.html):

- a subscriber POSTs ``application/x-www-form-urlencoded`` ``hub.mode`` (``subscribe`` or
  ``unsubscribe``), ``hub.topic``, ``hub.callback``, optional ``hub.lease_seconds`` and
  ``hub.secret`` (under 200 bytes) (section 5.1); the hub answers 202, or a 4xx with a
  plain-text reason for a bad request (5.1.2);
- then, asynchronously, it verifies intent: GET the callback with ``hub.mode``,
  ``hub.topic``, ``hub.challenge`` and (on subscribe) ``hub.lease_seconds`` appended to its
  query; only a 2xx whose body is the challenge verifies (5.3, 5.3.1). A failed verification
  leaves the state as it was;
- content distribution: POST the full feed to each active callback, with the topic's
  ``Content-Type``, a ``Link`` header naming the hub (``rel="hub"``) and the topic
  (``rel="self"``), and, when the subscription has a secret, ``X-Hub-Signature:
  sha256=<hex HMAC of the body>`` (7, 7.1). Leases end (10 days unless asked shorter; 8.2).

The ping is what a CMS does when it publishes (dissem's ``POST /feeds/<name>/ping``): a JSON
body signed ``X-Dissem-Signature: sha256=<hex HMAC-SHA256 of the body>`` with a shared
secret. Secrets live in memory only, never in the state file or a log line.

Outbound calls run each on a short-lived thread of their own (no loop is left running);
:meth:`Outbox.wait_idle` lets tests and benchmarks wait for them without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

__all__ = ["Hub", "Outbox", "PingTarget", "Pinger", "sign"]

log = logging.getLogger(__name__)

#: lease when the subscriber asks none, and the longest granted (WebSub 8.2: "10 days is a
#: good default"); the shortest granted
DEFAULT_LEASE = 864000
MIN_LEASE = 60
#: WebSub 5.1: "hub.secret ... MUST be less than 200 bytes"
MAX_SECRET = 199
TIMEOUT = 5.0


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``body`` keyed by ``secret``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class Outbox:
    """Runs outbound calls each on its own daemon thread and counts those in flight."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending = 0

    def submit(self, fn: Callable[[], None]) -> None:
        with self._cond:
            self._pending += 1

        def run() -> None:
            try:
                fn()
            except Exception:  # an outbound call failing never takes the sandbox down
                log.exception("sandbox portal: an outbound call failed")
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

        threading.Thread(target=run, name="portal-out", daemon=True).start()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Waits until no call is in flight; False when ``timeout`` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)


@dataclass
class Subscription:
    topic: str
    callback: str
    secret: str | None
    expires: datetime
    last_etag: str | None = None


@dataclass
class PingTarget:
    """Where the portal's CMS pings on publishing in one language."""

    lang: str
    url: str
    secret: str


#: renders a topic URL's current feed: (body, content type, etag), or None when the URL is
#: no feed of the portal
Render = Callable[[str], tuple[bytes, str, str] | None]


class Hub:
    """The portal's WebSub hub (see the module doc). Thread-safe."""

    def __init__(
        self,
        hub_url: Callable[[], str],
        render: Render,
        clock: Callable[[], datetime],
        outbox: Outbox,
    ) -> None:
        self._hub_url = hub_url
        self._render = render
        self._clock = clock
        self._lock = threading.Lock()
        self._subs: dict[tuple[str, str], Subscription] = {}
        self.outbox = outbox
        self.stats: dict[str, int] = {
            "verified": 0,
            "verify_failed": 0,
            "delivered": 0,
            "delivery_failed": 0,
        }

    def request(self, body: bytes) -> tuple[int, str]:
        """A subscriber's (un)subscription request: (status, plain-text answer)."""
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        mode = fields.get("hub.mode", "")
        topic = fields.get("hub.topic", "")
        callback = fields.get("hub.callback", "")
        if mode not in ("subscribe", "unsubscribe"):
            return 400, "hub.mode must be subscribe or unsubscribe"
        if not topic or self._render(topic) is None:
            return 400, "hub.topic is not a feed of this portal"
        if urlsplit(callback).scheme not in ("http", "https") or not urlsplit(callback).netloc:
            return 400, "hub.callback must be an http(s) URL"
        secret = fields.get("hub.secret") or None
        if secret is not None and len(secret.encode("utf-8")) > MAX_SECRET:
            return 400, "hub.secret must be less than 200 bytes"
        try:
            asked = int(fields.get("hub.lease_seconds") or DEFAULT_LEASE)
        except ValueError:
            return 400, "hub.lease_seconds must be a positive integer"
        lease = min(max(asked, MIN_LEASE), DEFAULT_LEASE)
        self.outbox.submit(lambda: self._verify(mode, topic, callback, secret, lease))
        return 202, "accepted: the callback will be verified"

    def _verify(self, mode: str, topic: str, callback: str, secret: str | None, lease: int) -> None:
        challenge = secrets.token_urlsafe(24)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        joiner = "&" if urlsplit(callback).query else "?"
        try:
            answer = requests.get(
                callback + joiner + urlencode(params), timeout=TIMEOUT, allow_redirects=False
            )
            ok = 200 <= answer.status_code < 300 and answer.text == challenge
        except requests.RequestException:
            ok = False
        with self._lock:
            self.stats["verified" if ok else "verify_failed"] += 1
            if not ok:
                return  # WebSub 5.1: a failed verification leaves the state unchanged
            if mode == "unsubscribe":
                self._subs.pop((topic, callback), None)
                return
            old = self._subs.get((topic, callback))
            rendered = self._render(topic)
            self._subs[(topic, callback)] = Subscription(
                topic=topic,
                callback=callback,
                secret=secret,
                expires=self._clock() + timedelta(seconds=lease),
                # what the subscriber has seen: the feed as it was when it subscribed
                last_etag=old.last_etag if old else (rendered[2] if rendered else None),
            )

    def subscriptions(self) -> list[dict[str, object]]:
        """Active subscriptions, without their secrets."""
        now = self._clock()
        with self._lock:
            return [
                {
                    "topic": s.topic,
                    "callback": s.callback,
                    "signed": s.secret is not None,
                    "expires": s.expires.isoformat(),
                }
                for s in self._subs.values()
                if s.expires > now
            ]

    def publish(self) -> int:
        """Sends every active subscription whose topic changed since its last delivery the
        topic's full content; returns how many deliveries were started."""
        now = self._clock()
        started = 0
        with self._lock:
            for key, sub in list(self._subs.items()):
                if sub.expires <= now:  # WebSub 5.3.1: leases are enforced
                    del self._subs[key]
                    continue
                rendered = self._render(sub.topic)
                if rendered is None or rendered[2] == sub.last_etag:
                    continue
                sub.last_etag = rendered[2]
                body, content_type, _ = rendered
                self.outbox.submit(partial(self._deliver, sub, body, content_type))
                started += 1
        return started

    def _deliver(self, sub: Subscription, body: bytes, content_type: str) -> None:
        headers = {
            "Content-Type": content_type,
            "Link": f'<{self._hub_url()}>; rel="hub", <{sub.topic}>; rel="self"',
        }
        if sub.secret is not None:
            headers["X-Hub-Signature"] = sign(sub.secret, body)
        try:
            answer = requests.post(
                sub.callback, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
            ok = 200 <= answer.status_code < 300
        except requests.RequestException:
            ok = False
        with self._lock:
            self.stats["delivered" if ok else "delivery_failed"] += 1


class Pinger:
    """The CMS's publish ping (see the module doc)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._lock = threading.Lock()
        self.targets: list[PingTarget] = []
        self.sent: list[dict[str, object]] = []  # url, guid, status (no secret)

    def configure(self, targets: list[PingTarget]) -> None:
        with self._lock:
            self.targets = list(targets)

    def ping(self, lang: str, payload: dict[str, object]) -> int:
        """Pings every target of ``lang`` with ``payload``; returns how many were started."""
        with self._lock:
            targets = [t for t in self.targets if t.lang == lang]
        for target in targets:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.outbox.submit(partial(self._send, target, body, payload))
        return len(targets)

    def _send(self, target: PingTarget, body: bytes, payload: dict[str, object]) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Dissem-Signature": sign(target.secret, body),
        }
        try:
            status: int | str = requests.post(
                target.url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
            ).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        with self._lock:
            self.sent.append({"url": target.url, "guid": payload.get("guid"), "status": status})
