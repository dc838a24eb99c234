"""Push for feeds: the portal tells the worker it published, and the feed is read at once.

Two ways in, both on the worker's HTTP port (``DISSEM_HEALTH_PORT``, next to ``/healthz``);
neither polls anything on the HTTP thread: the feed's name goes into :class:`PollNow`, a
thread-safe queue the worker's ``feeds`` job drains (the worker wakes that job at once).

The CMS ping, ``POST /feeds/<name>/ping``
    The body (any bytes, up to the server's limit) is signed like GitHub's webhooks:
    ``X-Dissem-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` keyed by
    ``DISSEM_FEED_PING_SECRET``. The signature is compared in constant time
    (:func:`hmac.compare_digest`). No secret configured, no signature, or a wrong one: 401
    and nothing is done (checked before the name, so a stranger learns no feed names); a
    feed not in ``feeds.yaml`` (or disabled): 404; else 202.

WebSub (W3C Recommendation, https://www.w3.org/TR/websub/, read in
w3c/websub:staged/rec/index.html), when ``DISSEM_PUBLIC_URL`` is set
    :meth:`WebSub.maintain` (run by the ``feeds`` job) discovers each enabled feed's hub and
    topic: ``Link`` headers (``rel="hub"``, ``rel="self"``) first, then the feed's own
    ``atom:link`` elements (section 4), and subscribes: a form POST of ``hub.mode=subscribe``,
    ``hub.topic`` (the self URL), ``hub.callback`` (an unguessable URL per subscription,
    ``<public url>/feeds/<name>/websub/<token>``, 5.1.1), ``hub.secret`` (random, 64 hex
    characters: under the 200 bytes allowed) and ``hub.lease_seconds``. A 202 leaves the
    subscription pending; a 307/308 is followed once (5.1.2). The hub's verification ``GET``
    is answered with ``hub.challenge`` only for a pending (un)subscription of that topic,
    else 404 (5.3.1); ``hub.mode=denied`` ends it (5.2). Leases are renewed before they end
    (a day early, or halfway through a shorter one). A content distribution ``POST`` must
    carry ``X-Hub-Signature: <method>=<hex>`` (sha1, sha256, sha384 or sha512, 7.1.1) that
    matches the body under that subscription's secret: then it counts as a ping (202);
    unsigned or wrong: 401, ignored (7.1.2); to an unknown callback: 410, so the hub drops
    it (7). A feed without a hub is looked at again a day later.

Subscriptions live in this worker's memory (a restart subscribes anew; the old callback
answers 410): with several workers, give ``DISSEM_PUBLIC_URL`` to the one the public
address reaches. Secrets are registered for redaction and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from requests.utils import parse_header_links

from dissem.redact import register_secret

__all__ = [
    "PING_HEADER",
    "FeedPush",
    "PollNow",
    "WebSub",
    "signature_ok",
]

log = logging.getLogger(__name__)

PING_HEADER = "X-Dissem-Signature"
HUB_HEADER = "X-Hub-Signature"
#: X-Hub-Signature methods (WebSub 7.1.1); the CMS ping is sha256 only
HUB_METHODS = ("sha1", "sha256", "sha384", "sha512")
#: the lease asked of a hub (WebSub 8.2: "10 days is a good default")
LEASE = timedelta(days=10)
#: a feed without a hub, or a subscription that failed, is looked at again after this
RETRY = timedelta(hours=1)
NO_HUB_RETRY = timedelta(days=1)
TIMEOUT = 10.0
_PATH = re.compile(
    r"/feeds/(?P<name>[a-z0-9._-]{1,64})/(?P<rest>ping|websub/(?P<token>[\w-]{16,64}))"
)

#: (status, headers, body) of an answer
Answer = tuple[int, dict[str, str], bytes]


def signature_ok(
    secret: str, body: bytes, header: str | None, methods: Iterable[str] = ("sha256",)
) -> bool:
    """Whether ``header`` (``<method>=<hex>``) is the HMAC of ``body`` under ``secret`` with
    one of ``methods``; compared in constant time."""
    if not header or not secret:
        return False
    method, sep, given = header.strip().partition("=")
    method = method.strip().lower()
    if not sep or method not in set(methods):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, getattr(hashlib, method)).hexdigest()
    return hmac.compare_digest(
        expected.encode("ascii"), given.strip().lower().encode("ascii", "replace")
    )


class PollNow:
    """Feed names to poll at once, in the order asked, each once; thread-safe. ``wake`` is
    called (from the asking thread) after each request: the worker uses it to run its
    ``feeds`` job now."""

    def __init__(self, wake: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, None] = {}
        self.wake = wake

    def request(self, name: str) -> None:
        with self._lock:
            self._names[name] = None
        if self.wake is not None:
            self.wake()

    def take(self) -> list[str]:
        """The names asked since the last take (and forgets them)."""
        with self._lock:
            names = list(self._names)
            self._names.clear()
        return names

    def __len__(self) -> int:
        with self._lock:
            return len(self._names)


@dataclass
class _Subscription:
    feed: str
    hub: str
    topic: str
    token: str
    secret: str
    mode: str = "subscribe"  # what is pending: subscribe or unsubscribe
    pending: bool = True
    requested_at: datetime | None = None
    expires: datetime | None = None
    renew_at: datetime | None = None


#: ``(url) -> (status, lower-case headers, body)``: how discovery reads a feed (the worker
#: passes the feeds' bounded fetch)
Getter = Callable[[str], tuple[int, Mapping[str, str], bytes]]
#: ``(hub url, form fields) -> (status, lower-case headers)``
Poster = Callable[[str, dict[str, str]], tuple[int, Mapping[str, str]]]


def _post_form(url: str, fields: dict[str, str]) -> tuple[int, Mapping[str, str]]:
    answer = requests.post(url, data=fields, timeout=TIMEOUT, allow_redirects=False)
    return answer.status_code, {k.lower(): v for k, v in answer.headers.items()}


class WebSub:
    """This worker's WebSub subscriptions (see the module doc). Thread-safe."""

    def __init__(
        self,
        public_url: str,
        get: Getter,
        post: Poster = _post_form,
        parse: Callable[[bytes, str | None, str], tuple[str | None, str | None]] | None = None,
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self._get = get
        self._post = post
        self._parse = parse or _feed_links
        self._lock = threading.Lock()
        self._subs: dict[str, _Subscription] = {}  # by token
        self._next_look: dict[str, datetime] = {}  # feed -> when to discover again

    # --- the feeds job's side -------------------------------------------------------------
    def maintain(self, feeds: Mapping[str, str], now: datetime) -> list[str]:
        """Subscribes each feed (name -> URL) that needs it, renews leases that end soon and
        unsubscribes feeds no longer listed; returns what was done, one line each."""
        done: list[str] = []
        with self._lock:
            subs = list(self._subs.values())
        for sub in subs:
            if sub.feed not in feeds and not (sub.mode == "unsubscribe" and sub.pending):
                self._request(sub, "unsubscribe", now)
                done.append(f"{sub.feed}: unsubscribing from {sub.hub}")
        for name, url in feeds.items():
            current = self._current(name)
            if current is not None and not self._due(current, now):
                continue
            if now < self._next_look.get(name, now):
                continue
            line = self._subscribe(name, url, now)
            if line:
                done.append(line)
        return done

    def _current(self, name: str) -> _Subscription | None:
        with self._lock:
            found = [s for s in self._subs.values() if s.feed == name and s.mode == "subscribe"]
        active = [s for s in found if not s.pending]
        chosen = active or found
        return chosen[-1] if chosen else None

    @staticmethod
    def _due(sub: _Subscription, now: datetime) -> bool:
        if sub.pending:  # asked and never verified: ask again after a while
            return sub.requested_at is None or now - sub.requested_at >= RETRY
        return sub.renew_at is None or now >= sub.renew_at

    def _subscribe(self, name: str, url: str, now: datetime) -> str | None:
        try:
            status, headers, body = self._get(url)
        except Exception as exc:  # a feed that cannot be read: the poll reports it
            self._next_look[name] = now + RETRY
            return f"{name}: WebSub discovery failed ({type(exc).__name__})"
        hub, topic = _header_links(headers.get("link"))
        if not hub or not topic:
            if status != 200:
                self._next_look[name] = now + RETRY
                return None
            in_hub, in_topic = self._parse(body, headers.get("content-type"), url)
            hub, topic = hub or in_hub, topic or in_topic or url
        if not hub:
            self._next_look[name] = now + NO_HUB_RETRY
            return None
        hub = urljoin(url, hub)
        topic = urljoin(url, topic or url)
        sub = _Subscription(
            feed=name,
            hub=hub,
            topic=topic,
            token=secrets.token_urlsafe(24),
            secret=secrets.token_hex(32),
        )
        register_secret(sub.secret)
        register_secret(sub.token)
        with self._lock:
            self._subs[sub.token] = sub
        ok = self._request(sub, "subscribe", now)
        if not ok:
            with self._lock:
                self._subs.pop(sub.token, None)
            self._next_look[name] = now + RETRY
            return f"{name}: the hub {hub} refused the subscription"
        return f"{name}: subscribing at {hub}"

    def callback(self, sub: _Subscription) -> str:
        return f"{self.public_url}/feeds/{sub.feed}/websub/{sub.token}"

    def _request(self, sub: _Subscription, mode: str, now: datetime) -> bool:
        fields = {"hub.mode": mode, "hub.topic": sub.topic, "hub.callback": self.callback(sub)}
        if mode == "subscribe":
            fields["hub.secret"] = sub.secret
            fields["hub.lease_seconds"] = str(int(LEASE.total_seconds()))
        sub.mode, sub.pending, sub.requested_at = mode, True, now
        hub = sub.hub
        for _ in range(2):  # WebSub 5.1.2: a hub may send us on once (307/308)
            try:
                status, headers = self._post(hub, fields)
            except requests.RequestException as exc:
                log.warning("feeds: %s: WebSub hub %s: %s", sub.feed, hub, type(exc).__name__)
                return False
            if status in (307, 308) and headers.get("location"):
                hub = urljoin(hub, headers["location"])
                continue
            if 200 <= status < 300:
                sub.hub = hub
                return True
            log.warning("feeds: %s: WebSub hub %s answered %s to %s", sub.feed, hub, status, mode)
            return False
        return False

    # --- the HTTP side ----------------------------------------------------------------------
    def verify(self, name: str, token: str, query: Mapping[str, str], now: datetime) -> Answer:
        """The hub's verification of intent (or denial) for callback ``token``."""
        mode = query.get("hub.mode", "")
        with self._lock:
            sub = self._subs.get(token)
            if sub is None or sub.feed != name or query.get("hub.topic") != sub.topic:
                return 404, {}, b"no such subscription"
            if mode == "denied":  # WebSub 5.2: the hub refused; look again later
                del self._subs[token]
                self._next_look[name] = now + NO_HUB_RETRY
                log.warning("feeds: %s: WebSub hub %s denied the subscription", name, sub.hub)
                return 200, {}, b""
            challenge = query.get("hub.challenge", "")
            if not sub.pending or mode != sub.mode or not challenge:
                return 404, {}, b"not pending"
            if mode == "unsubscribe":
                del self._subs[token]
            else:
                try:
                    lease = timedelta(seconds=max(int(query.get("hub.lease_seconds", "")), 0))
                except ValueError:
                    return 404, {}, b"hub.lease_seconds is required"
                sub.pending, sub.expires = False, now + lease
                sub.renew_at = sub.expires - min(lease / 2, timedelta(days=1))
                # an older subscription of the same feed is replaced by this one
                for other in [s for s in self._subs.values() if s.feed == name and s is not sub]:
                    if other.mode == "subscribe" and not other.pending:
                        del self._subs[other.token]
        log.info("feeds: %s: WebSub %s verified (hub %s)", name, mode, sub.hub)
        return 200, {"Content-Type": "text/plain"}, challenge.encode("utf-8")

    def deliver(self, name: str, token: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """A content distribution request: 202 when signed right (then the feed is due)."""
        with self._lock:
            sub = self._subs.get(token)
        if sub is None or sub.feed != name or sub.mode != "subscribe":
            return 410, {}, b"no such subscription"
        if not signature_ok(sub.secret, body, headers.get(HUB_HEADER.lower()), HUB_METHODS):
            log.warning("feeds: %s: WebSub delivery with a missing or wrong signature", name)
            return 401, {}, b"bad signature"
        return 202, {}, b""

    def subscriptions(self) -> list[dict[str, Any]]:
        """What ``/healthz`` may show: feed, hub, topic, state and expiry (no secrets)."""
        with self._lock:
            return [
                {
                    "feed": s.feed,
                    "hub": s.hub,
                    "topic": s.topic,
                    "state": f"{s.mode} pending" if s.pending else "active",
                    "expires": s.expires.isoformat() if s.expires else None,
                }
                for s in self._subs.values()
            ]


def _header_links(value: str | None) -> tuple[str | None, str | None]:
    """The ``rel="hub"`` and ``rel="self"`` URLs of a ``Link`` header (WebSub 4)."""
    hub = topic = None
    for link in parse_header_links(value) if value else []:
        rels = str(link.get("rel", "")).lower().split()
        if "hub" in rels and hub is None:
            hub = link.get("url")
        if "self" in rels and topic is None:
            topic = link.get("url")
    return hub, topic


def _feed_links(body: bytes, content_type: str | None, base: str) -> tuple[str | None, str | None]:
    """The hub and self links a feed document embeds (parsed by :mod:`dissem.feeds.parse`)."""
    from dissem.errors import FeedParseError
    from dissem.feeds.parse import parse_feed

    try:
        parsed = parse_feed(body, content_type, base)
    except FeedParseError:
        return None, None
    return parsed.hub, parsed.self_url


class FeedPush:
    """The ``/feeds/...`` routes of the worker's HTTP port (see the module doc).

    ``feeds`` answers the enabled feeds' names now; ``secret`` the ping secret (None: not
    configured); ``websub`` is None without ``DISSEM_PUBLIC_URL``.
    """

    def __init__(
        self,
        poll_now: PollNow,
        feeds: Callable[[], Iterable[str]],
        secret: Callable[[], str | None],
        clock: Callable[[], datetime],
        websub: WebSub | None = None,
    ) -> None:
        self.poll_now = poll_now
        self._feeds = feeds
        self._secret = secret
        self._clock = clock
        self.websub = websub

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Answer | None:
        """The answer to a request for ``target``, or None when it is not a feeds route.
        ``headers`` have lower-case names."""
        split = urlsplit(target)
        m = _PATH.fullmatch(split.path)
        if not split.path.startswith("/feeds/"):
            return None
        if m is None:
            return 404, {}, b"not found"
        name, token = m["name"], m["token"]
        if m["rest"] == "ping":
            if method != "POST":
                return 405, {"Allow": "POST"}, b"POST a signed ping"
            return self._ping(name, headers, body)
        if self.websub is None:
            return 404, {}, b"WebSub is off (no DISSEM_PUBLIC_URL)"
        if method == "GET":
            query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            return self.websub.verify(name, token, query, self._clock())
        if method == "POST":
            answer = self.websub.deliver(name, token, headers, body)
            if answer[0] == 202 and name in set(self._feeds()):
                self.poll_now.request(name)
            return answer
        return 405, {"Allow": "GET, POST"}, b""

    def _ping(self, name: str, headers: Mapping[str, str], body: bytes) -> Answer:
        secret = self._secret()
        if not secret:
            log.warning("feeds: a ping for %s refused: DISSEM_FEED_PING_SECRET is not set", name)
            return 401, {}, b"pings are off: no DISSEM_FEED_PING_SECRET"
        if not signature_ok(secret, body, headers.get(PING_HEADER.lower())):
            log.warning("feeds: a ping for %s refused: missing or wrong signature", name)
            return 401, {}, b"missing or wrong X-Dissem-Signature"
        if name not in set(self._feeds()):
            return 404, {}, b"no such feed"
        self.poll_now.request(name)
        log.info("feeds: %s pinged: polling it now", name)
        return 202, {"Content-Type": "application/json"}, b'{"polling": true}'
