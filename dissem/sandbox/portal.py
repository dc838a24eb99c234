"""A stand-in news portal: where releases come from when a desk publishes through its CMS.

Served by the sandbox under ``/portal`` (the sandbox's own ``/`` shows what went *out*):

- ``/portal/<lang>/rss.xml`` and ``/portal/<lang>/atom.xml``: RSS 2.0 and Atom 1.0 feeds of
  the newest :data:`FEED_SIZE` items in that language (``id`` and ``en`` are seeded);
  ``/portal/<lang>/<section>/rss.xml`` (and ``atom.xml``) only the items of one category.
  Each answer has an ``ETag`` (a hash of the body) and a ``Last-Modified``, and a conditional
  GET that matches is answered ``304 Not Modified`` with no body (RFC 9110 13.1.2 and 13.1.3:
  ``If-None-Match`` first; ``If-Modified-Since`` only without it). Feeds advertise the
  portal's WebSub hub (``/portal/hub``, :mod:`dissem.sandbox.portal_hub`) with
  ``atom:link rel="hub"`` and a ``Link`` header, unless turned off.
- ``/portal/<lang>/articles/<slug>``: the article page, with ``og:title``,
  ``og:description``, ``og:image``, ``og:image:alt`` and ``<link rel="canonical">``. A slug
  an item had before a headline edit still serves it, its canonical naming the new slug.
- ``/portal/images/<n>.jpg``: images the items show (JPEG, as news sites serve, and
  the only format Instagram takes).

Feed XML is written with :mod:`xml.etree.ElementTree` (escaping is the library's); RSS dates
are RFC 822 (:func:`email.utils.format_datetime`), the ``id`` feed in Jakarta time (+0700)
and the ``en`` feed in GMT, so a reader must honour offsets; Atom dates are RFC 3339. Items
carry their image as ``media:content`` (with the alt text as ``media:description``), as an
``enclosure`` (no alt text: the page's ``og:image:alt`` has it), or not at all (only the
page's ``og:image``), so readers meet every fallback.

Control (JSON, for tests, the demo and benchmarks):

- ``POST /_sandbox/portal/items``: adds an item (``title``; optional ``summary`` HTML,
  ``lang`` (default ``en``), ``categories``, ``image`` (a URL, or ``true`` for one of the
  portal's own), ``image_alt``, ``media`` (``content``, ``enclosure`` or ``none``), ``guid``,
  ``published`` (ISO 8601 with an offset), ``link`` and ``canonical`` (other addresses of the
  story)); with the ``id`` of an existing item it updates the fields given (``slug``
  renames the page, ``hidden`` takes the item out of the feeds or back). Answers the item.
  The hub delivers the changed feeds and the CMS pings (``/_sandbox/portal/pings``).
- ``GET /_sandbox/portal/items``: every item.
- ``POST /_sandbox/portal/faults``: replaces the portal's faults: ``slow_ms`` (wait before
  answering), ``status`` with optional ``count`` and ``retry_after`` (answer feeds that
  status, e.g. 500, 503 or 429), ``malformed`` (a truncated, broken document), ``guids``
  (``stable``, ``https``: every guid's ``http://`` becomes ``https://``, ``changed``: every
  guid replaced by a new one, as after a CMS migration), ``utm`` (links gain ``utm_*``
  parameters), ``order`` (``newest`` or ``oldest`` first), ``size`` (items per feed,
  default :data:`FEED_SIZE`), ``hub`` (advertise the hub, default true). ``{}`` clears
  them. The sandbox's fault spec applies too (``portal.error_rate=0.2,portal.latency_ms=300``).
- ``POST /_sandbox/portal/pings``: ``[{"lang", "url", "secret"}]``: where the CMS pings on
  publishing (secrets kept in memory only).
- ``GET /_sandbox/portal/stats``: feed requests and ``304`` answers (in all and per feed,
  ``by_feed``), hub subscriptions and deliveries, pings sent.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from dissem.sandbox.core import Response, SandboxEnv, html_response, json_response
from dissem.sandbox.faults import Fault
from dissem.sandbox.portal_hub import Hub, Outbox, Pinger, PingTarget

__all__ = ["FEED_SIZE", "Portal"]

ATOM = "http://www.w3.org/2005/Atom"
MEDIA = "http://search.yahoo.com/mrss/"  # Media RSS, https://www.rssboard.org/media-rss
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("atom", ATOM)
ET.register_namespace("media", MEDIA)

#: items in one feed (the newest; older ones drop out, as on a real portal)
FEED_SIZE = 20
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
#: the time zone each language's RSS dates are written in
ZONES = {"id": ZoneInfo("Asia/Jakarta")}
TITLES = {"id": "Portal Berita Sandbox", "en": "Sandbox News Portal"}
MEDIA_KINDS = ("content", "enclosure", "none")
_FEED = re.compile(r"/(?P<lang>[a-z]{2})(?:/(?P<section>[a-z0-9-]{1,40}))?/(?P<kind>rss|atom)\.xml")
_ARTICLE = re.compile(r"/(?P<lang>[a-z]{2})/articles/(?P<slug>[a-z0-9-]{1,120})")
_IMAGE = re.compile(r"/images/(?P<n>\d{1,4})\.jpg")
#: characters XML 1.0 cannot carry (https://www.w3.org/TR/xml/#charsets): a CMS drops them
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FAULT_KEYS = {
    "slow_ms", "status", "count", "retry_after", "malformed", "guids", "utm", "order", "size",
}  # fmt: skip

_SEED: list[dict[str, Any]] = [
    {"lang": "id", "hours": 30, "media": "content", "categories": ["Ekonomi"],
     "title": "Kementerian membuka portal data anggaran untuk publik",
     "summary": "<p>Data anggaran kini dapat diunduh <b>gratis</b> oleh siapa saja.</p>",
     "image_alt": "Grafik anggaran di layar komputer"},
    {"lang": "id", "hours": 5, "media": "enclosure", "categories": ["Pendidikan"],
     "title": "Beasiswa riset dibuka untuk 500 mahasiswa",
     "summary": "<p>Pendaftaran dibuka hingga akhir bulan.</p>",
     "image_alt": "Mahasiswa di perpustakaan"},
    {"lang": "id", "hours": 2, "media": "none", "categories": ["Kesehatan"],
     "title": "Layanan vaksinasi keliling menjangkau 12 desa",
     "summary": "<p>Tim kesehatan berkeliling selama dua pekan.</p>",
     "image_alt": "Petugas kesehatan menyiapkan vaksin"},
    {"lang": "en", "hours": 30, "media": "content", "categories": ["Economy"],
     "title": "Ministry opens its budget data portal to the public",
     "summary": "<p>Budget data can now be downloaded <b>free</b> by anyone.</p>",
     "image_alt": "Budget chart on a computer screen"},
    {"lang": "en", "hours": 5, "media": "enclosure", "categories": ["Education"],
     "title": "Research scholarships open for 500 students",
     "summary": "<p>Applications are open until the end of the month.</p>",
     "image_alt": "Students in a library"},
    {"lang": "en", "hours": 2, "media": "none", "categories": ["Health"],
     "title": "Mobile vaccination service reaches 12 villages",
     "summary": "<p>Health teams travel for two weeks.</p>", "image_alt": ""},
]  # fmt: skip


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text of an HTML fragment, whitespace folded (for ``og:description``)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


def slugify(title: str) -> str:
    """A URL slug of a headline: lowercase ASCII words joined by ``-`` (at most 80 chars)."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    return "-".join(words)[:80].strip("-") or "item"


def jpeg(width: int, height: int) -> bytes:
    """A valid baseline JPEG (JFIF) of ``width`` x ``height`` mid-grey pixels, one component.

    Every 8x8 block of a uniform mid grey has all coefficients 0 after the level shift, so
    each is coded as DC category 0 then end-of-block; one Huffman table per class gives that
    one symbol the one-bit code ``0``: two zero bits a block (ITU T.81, annexes B and F).
    """

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    blocks = -(-width // 8) * -(-height // 8)
    bits = 2 * blocks
    data = bytearray(-(-bits // 8))
    if bits % 8:
        data[-1] = (1 << (8 - bits % 8)) - 1  # pad the last byte with ones (F.1.2.3)
    table = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1, for symbol 0x00
    return b"".join(
        (
            b"\xff\xd8",
            segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            segment(0xDB, b"\x00" + b"\x01" * 64),
            segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"),
            segment(0xC4, b"\x00" + table),
            segment(0xC4, b"\x10" + table),
            segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            bytes(data),
            b"\xff\xd9",
        )
    )


def _clean(text: str) -> str:
    """``text`` as a CMS stores it: line ends as ``\n`` (an XML reader turns a raw ``\r``
    into ``\n`` anyway) and no character XML cannot carry."""
    return _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _rfc3339(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


class Portal:
    """The portal's items, feeds, pages and control endpoints (see the module doc)."""

    def __init__(self, env: SandboxEnv) -> None:
        self.env = env
        self.outbox = Outbox()
        self.hub = Hub(lambda: f"{self._base()}/hub", self._render_topic, env.clock, self.outbox)
        self.pinger = Pinger(self.outbox)
        self._lock = threading.Lock()  # faults and counters (items live in the state)
        self._faults: dict[str, Any] = {}
        self._faults_at: datetime | None = None
        self._guid_salt = 0
        self.stats: dict[str, int] = {"feed_requests": 0, "not_modified": 0, "page_requests": 0}
        self._by_feed: dict[str, list[int]] = {}  # feed path -> [requests, 304 answers]

    # --- storage ----------------------------------------------------------------------
    def _bucket(self) -> dict[str, Any]:
        return self.env.state.bucket("portal")

    def _items(self) -> list[dict[str, Any]]:
        """The items (call with the state's lock held). Seeded on first use, when the
        server's address is known (it is part of each guid)."""
        bucket = self._bucket()
        if "items" not in bucket:
            bucket["items"] = []
            self._seed()
        items: list[dict[str, Any]] = bucket["items"]
        return items

    def _base(self) -> str:
        return f"{self.env.base_url}/portal"

    def _seed(self) -> None:
        now = self.env.clock()
        for spec in _SEED:
            self._create(
                {
                    **{k: v for k, v in spec.items() if k != "hours"},
                    "image": spec["media"] != "none" or bool(spec["image_alt"]),
                    "published": (now - timedelta(hours=spec["hours"])).isoformat(),
                },
                now,
            )

    # --- control ----------------------------------------------------------------------
    def control(self, method: str, path: str, body: bytes) -> Response:
        """``/_sandbox/portal/<path>`` (see the module doc)."""
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return json_response({"error": "the body is not JSON"}, 400)
        if path == "/items" and method == "GET":
            with self.env.state.lock:
                return json_response([self._public(i) for i in self._items()])
        if path == "/items" and method == "POST":
            if not isinstance(data, dict):
                return json_response({"error": "send a JSON object"}, 400)
            try:
                item = self.upsert(data)
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response(item, 201)
        if path == "/faults" and method == "POST":
            try:
                self.set_faults(data if isinstance(data, dict) else {})
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response(self.faults())
        if path == "/pings" and method == "POST":
            if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
                return json_response({"error": "send a list of {lang, url, secret}"}, 400)
            try:
                targets = [
                    PingTarget(str(t["lang"]), str(t["url"]), str(t["secret"])) for t in data
                ]
            except KeyError as exc:
                return json_response({"error": f"a ping target has no {exc.args[0]}"}, 400)
            self.pinger.configure(targets)
            return json_response({"targets": len(targets)})
        if path == "/stats" and method == "GET":
            return json_response(self.snapshot())
        return json_response({"error": f"no such portal endpoint: {method} {path}"}, 404)

    def snapshot(self) -> dict[str, Any]:
        """Counters: feed requests, 304 answers, hub and ping activity."""
        with self._lock:
            stats: dict[str, Any] = dict(self.stats)
            stats["by_feed"] = {path: list(counts) for path, counts in self._by_feed.items()}
        stats["hub"] = {**self.hub.stats, "subscriptions": self.hub.subscriptions()}
        stats["pings"] = list(self.pinger.sent)
        return stats

    def faults(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._faults)

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Replaces the portal's faults (see the module doc); raises ValueError on a bad one."""
        unknown = set(faults) - _FAULT_KEYS - {"hub"}
        if unknown:
            raise ValueError(f"unknown portal fault {sorted(unknown)[0]!r}")
        if faults.get("guids", "stable") not in ("stable", "https", "changed"):
            raise ValueError("guids must be stable, https or changed")
        if faults.get("order", "newest") not in ("newest", "oldest"):
            raise ValueError("order must be newest or oldest")
        status = faults.get("status")
        if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status (400-599)")
        if "size" in faults and (not isinstance(faults["size"], int) or faults["size"] < 1):
            raise ValueError("size must be a positive integer")
        for key in ("slow_ms", "count", "retry_after"):
            value = faults.get(key)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{key} must be a non-negative integer")
        with self._lock:
            if faults.get("guids") == "changed":
                self._guid_salt += 1
            self._faults = dict(faults)
            self._faults_at = self.env.clock()

    def upsert(self, data: dict[str, Any]) -> dict[str, Any]:
        """Adds an item, or updates the one ``data["id"]`` names; returns it (public form)."""
        now = self.env.clock()
        with self.env.state.lock:
            if data.get("id") is not None:
                item = self._update(data, now)
            else:
                item = self._create(data, now)
            self.env.state.changed()
            public = self._public(item)
        if not item.get("hidden"):
            self.pinger.ping(
                item["lang"],
                {"feed": f"{self._base()}/{item['lang']}/rss.xml", "guid": item["guid"]},
            )
        self.hub.publish()
        return public

    def _create(self, data: dict[str, Any], now: datetime) -> dict[str, Any]:
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            raise ValueError("an item needs a title")
        lang = str(data.get("lang") or "en")
        if not re.fullmatch(r"[a-z]{2}", lang):
            raise ValueError("lang must be two lowercase letters")
        items = self._items()
        n = len(items) + 1
        slug = slugify(title)
        if any(slug == i["slug"] or slug in i["aliases"] for i in items):
            slug = f"{slug}-{n}"
        item: dict[str, Any] = {
            "id": n,
            "lang": lang,
            "slug": slug,
            "aliases": [],
            "guid": str(data.get("guid") or f"{self.env.base_url}/?p={n}"),
            "title": "",
            "summary": "",
            "categories": [],
            "image": None,
            "image_alt": "",
            "media": "content",
            "link": None,
            "canonical": None,
            "hidden": False,
            "published": now.isoformat(),
            "updated": now.isoformat(),
        }
        items.append(item)
        try:
            self._apply(item, data, now)
        except ValueError:
            items.pop()
            raise
        return item

    def _update(self, data: dict[str, Any], now: datetime) -> dict[str, Any]:
        found = [i for i in self._items() if i["id"] == data["id"]]
        if not found:
            raise ValueError(f"no item {data['id']!r}")
        item = found[0]
        before = dict(item)
        try:
            self._apply(item, data, now)
        except ValueError:
            item.clear()
            item.update(before)
            raise
        item["updated"] = now.isoformat()
        return item

    def _apply(self, item: dict[str, Any], data: dict[str, Any], now: datetime) -> None:
        for key in ("title", "summary", "image_alt", "link", "canonical"):
            if key in data:
                value = data[key]
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"{key} must be a string")
                value = _clean(value) if value is not None else None
                item[key] = value if key in ("link", "canonical") else (value or "")
        item["title"] = item["title"].strip()
        if not item["title"]:
            raise ValueError("an item needs a title")
        if "categories" in data:
            cats = data["categories"]
            if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
                raise ValueError("categories must be a list of strings")
            item["categories"] = [_clean(c) for c in cats]
        if "image" in data:
            image = data["image"]
            if image is True:  # kept relative: the server's address may change
                image = f"/portal/images/{item['id']}.jpg"
            if image is not None and image is not False and not isinstance(image, str):
                raise ValueError("image must be a URL, true or null")
            item["image"] = image or None
        if "media" in data:
            if data["media"] not in MEDIA_KINDS:
                raise ValueError(f"media must be one of {', '.join(MEDIA_KINDS)}")
            item["media"] = data["media"]
        if "published" in data:
            try:
                published = datetime.fromisoformat(str(data["published"]))
            except ValueError:
                raise ValueError("published must be an ISO 8601 time") from None
            if published.tzinfo is None:
                raise ValueError("published needs a UTC offset")
            item["published"] = published.isoformat()
        if "slug" in data:
            slug = slugify(str(data["slug"]))
            if slug != item["slug"]:
                item["aliases"].append(item["slug"])
                item["slug"] = slug
        if "hidden" in data:
            item["hidden"] = bool(data["hidden"])

    def _public(self, item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "image": self._image(item), "url": self._link(item, canonical=True)}

    def _image(self, item: dict[str, Any]) -> str | None:
        """The item's image URL; the portal's own images are stored relative."""
        image = item.get("image")
        if not image:
            return None
        return f"{self.env.base_url}{image}" if str(image).startswith("/") else str(image)

    # --- serving ----------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        """``/portal<path>``: feeds, article pages, images and the hub."""
        if path == "/hub":
            if method != "POST":
                return Response(405, b"POST a WebSub request", {"Allow": "POST"})
            status, text = self.hub.request(body)
            return Response(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        if method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed", {"Allow": "GET, HEAD"})
        fault = self.env.faults.decide("portal", write=False)
        slow = self.env.faults.rates("portal").latency_ms + float(self.faults().get("slow_ms") or 0)
        if slow:
            time.sleep(slow / 1000.0)  # the server side waits; clients never do
        if fault is Fault.ERROR:
            return Response(500, b"internal server error", {"Content-Type": "text/plain"})
        if fault is Fault.THROTTLE:
            return Response(429, b"slow down", {"Content-Type": "text/plain", "Retry-After": "60"})
        m = _FEED.fullmatch(path)
        if m:
            return self._feed(m["lang"], m["section"], m["kind"], headers)
        m = _ARTICLE.fullmatch(path)
        if m:
            return self._article(m["lang"], m["slug"])
        m = _IMAGE.fullmatch(path)
        if m:
            n = int(m["n"])
            return Response(200, jpeg(640, 360 + 8 * (n % 8)), {"Content-Type": "image/jpeg"})
        if path in ("", "/"):
            return self._index()
        return html_response("<!doctype html><title>Not found</title><p>Not found.</p>", 404)

    def _feed(self, lang: str, section: str | None, kind: str, headers: Any) -> Response:
        faults = self.faults()
        path = f"/{lang}/{section + '/' if section else ''}{kind}.xml"
        with self._lock:
            self.stats["feed_requests"] += 1
            counts = self._by_feed.setdefault(path, [0, 0])
            counts[0] += 1
            status = faults.get("status")
            if status is not None:
                count = faults.get("count")
                if count is not None:
                    if count <= 0:
                        status = None
                    else:
                        self._faults["count"] = count - 1
        if status is not None:
            extra = {"Retry-After": str(faults["retry_after"])} if faults.get("retry_after") else {}
            return Response(
                status, b"the feed is unavailable", {"Content-Type": "text/plain", **extra}
            )
        body, content_type, etag, modified = self.render(lang, section, kind)
        link = self._link_header(
            f"{self._base()}/{lang}/{section + '/' if section else ''}{kind}.xml"
        )
        validators = {"ETag": etag, "Last-Modified": _http_date(modified), **link}
        if self._not_modified(headers, etag, modified):
            with self._lock:
                self.stats["not_modified"] += 1
                counts[1] += 1
            return Response(304, b"", validators)
        return Response(200, body, {"Content-Type": content_type, **validators})

    def _link_header(self, topic: str) -> dict[str, str]:
        if self.faults().get("hub", True) is False:
            return {}
        return {"Link": f'<{self._base()}/hub>; rel="hub", <{topic}>; rel="self"'}

    @staticmethod
    def _not_modified(headers: Any, etag: str, modified: datetime) -> bool:
        """RFC 9110 13.1.2 (weak comparison) and 13.1.3; If-None-Match wins when present."""
        inm = headers.get("If-None-Match") if headers is not None else None
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in str(inm).split(",")]
            return "*" in tags or etag.removeprefix("W/") in tags
        ims = headers.get("If-Modified-Since") if headers is not None else None
        if ims is None:
            return False
        try:
            since = parsedate_to_datetime(str(ims))
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return modified.replace(microsecond=0) <= since

    def _render_topic(self, topic: str) -> tuple[bytes, str, str] | None:
        """The hub's view of a topic URL: its current feed, or None when it is none of ours."""
        path = urlsplit(topic).path
        prefix = urlsplit(self._base()).path
        m = _FEED.fullmatch(path.removeprefix(prefix)) if path.startswith(prefix) else None
        if m is None:
            return None
        body, content_type, etag, _ = self.render(m["lang"], m["section"], m["kind"])
        return body, content_type, etag

    def render(self, lang: str, section: str | None, kind: str) -> tuple[bytes, str, str, datetime]:
        """One feed as served now: body, content type, ETag and last modification."""
        faults = self.faults()
        with self.env.state.lock:
            items = [
                dict(i)
                for i in self._items()
                if i["lang"] == lang
                and not i["hidden"]
                and (section is None or section in {slugify(c) for c in i["categories"]})
            ]
        # newest first; of two published at the same instant, the later added
        items.sort(key=lambda i: (datetime.fromisoformat(i["published"]), i["id"]), reverse=True)
        items = items[: int(faults.get("size") or FEED_SIZE)]
        if faults.get("order") == "oldest":
            items.reverse()
        stamps = [datetime.fromisoformat(i["updated"]) for i in items]
        if self._faults_at is not None:
            stamps.append(self._faults_at)
        modified = max(stamps) if stamps else datetime(2000, 1, 1, tzinfo=UTC)
        self_url = f"{self._base()}/{lang}/{section + '/' if section else ''}{kind}.xml"
        if kind == "rss":
            root = self._rss(lang, items, modified, self_url, faults)
            content_type = RSS_TYPE
            body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        else:
            root = self._atom(lang, items, modified, self_url, faults)
            content_type = ATOM_TYPE
            body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        if faults.get("malformed"):
            # cut mid-document and leave an undefined entity: a parser must report it
            body = body[: max(len(body) // 2, 60)] + b"<item><title>broken &undefined; "
        etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
        return body, content_type, etag, modified

    def _guid(self, item: dict[str, Any], faults: dict[str, Any]) -> str:
        guid = str(item["guid"])
        mode = faults.get("guids")
        if mode == "https" and guid.startswith("http://"):
            return "https://" + guid.removeprefix("http://")
        if mode == "changed":
            return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{self._guid_salt}:{guid}')}"
        return guid

    def _link(self, item: dict[str, Any], *, canonical: bool = False, utm: bool = False) -> str:
        if canonical and item.get("canonical"):
            return str(item["canonical"])
        link = item.get("link") or f"{self._base()}/{item['lang']}/articles/{item['slug']}"
        if utm:
            joiner = "&" if "?" in link else "?"
            link += f"{joiner}utm_source=rss&utm_medium=feed&utm_campaign=portal"
        return str(link)

    def _rss(
        self,
        lang: str,
        items: list[dict[str, Any]],
        modified: datetime,
        self_url: str,
        faults: dict[str, Any],
    ) -> ET.Element:
        zone = ZONES.get(lang, UTC)

        def date(value: str) -> str:
            when = datetime.fromisoformat(value).astimezone(zone)
            return format_datetime(when, usegmt=zone is UTC)

        rss = ET.Element("rss", {"version": "2.0"})
        channel = ET.SubElement(rss, "channel")
        ET.SubElement(channel, "title").text = TITLES.get(lang, f"Sandbox News ({lang})")
        ET.SubElement(channel, "link").text = f"{self._base()}/"
        ET.SubElement(channel, "description").text = "Releases of the sandbox portal"
        ET.SubElement(channel, "language").text = lang
        ET.SubElement(channel, "lastBuildDate").text = format_datetime(
            modified.astimezone(zone), usegmt=zone is UTC
        )
        ET.SubElement(channel, f"{{{ATOM}}}link", {"rel": "self", "href": self_url,
                                                    "type": "application/rss+xml"})  # fmt: skip
        if faults.get("hub", True) is not False:
            ET.SubElement(channel, f"{{{ATOM}}}link", {"rel": "hub", "href": f"{self._base()}/hub"})
        for item in items:
            entry = ET.SubElement(channel, "item")
            ET.SubElement(entry, "title").text = item["title"]
            ET.SubElement(entry, "link").text = self._link(item, utm=bool(faults.get("utm")))
            ET.SubElement(entry, "guid", {"isPermaLink": "false"}).text = self._guid(item, faults)
            ET.SubElement(entry, "pubDate").text = date(item["published"])
            ET.SubElement(entry, "description").text = item["summary"]
            for category in item["categories"]:
                ET.SubElement(entry, "category").text = category
            if self._media(entry, item) == "enclosure":
                attrs = {"url": str(self._image(item)), "length": "0", "type": "image/jpeg"}
                ET.SubElement(entry, "enclosure", attrs)
        return rss

    def _media(self, entry: ET.Element, item: dict[str, Any]) -> str | None:
        """Writes the item's ``media:content`` (alt text in ``media:description``) when it
        has one; returns how the image travels (``content``, ``enclosure``) or None."""
        image = self._image(item)
        if not image or item["media"] == "none":
            return None
        if item["media"] == "content":
            attrs = {"url": image, "medium": "image", "type": "image/jpeg"}
            media = ET.SubElement(entry, f"{{{MEDIA}}}content", attrs)
            if item["image_alt"]:
                alt = ET.SubElement(media, f"{{{MEDIA}}}description", {"type": "plain"})
                alt.text = item["image_alt"]
        return str(item["media"])

    def _atom(
        self,
        lang: str,
        items: list[dict[str, Any]],
        modified: datetime,
        self_url: str,
        faults: dict[str, Any],
    ) -> ET.Element:
        # unprefixed Atom names under a default namespace declared on the root (ElementTree's
        # default_namespace option refuses unprefixed attributes such as rel and href)
        feed = ET.Element("feed", {"xmlns": ATOM, XML_LANG: lang})
        ET.SubElement(feed, "id").text = self_url
        ET.SubElement(feed, "title").text = TITLES.get(lang, f"Sandbox News ({lang})")
        ET.SubElement(feed, "updated").text = _rfc3339(modified)
        ET.SubElement(feed, "link", {"rel": "self", "href": self_url})
        ET.SubElement(feed, "link", {"rel": "alternate", "href": f"{self._base()}/"})
        if faults.get("hub", True) is not False:
            ET.SubElement(feed, "link", {"rel": "hub", "href": f"{self._base()}/hub"})
        author = ET.SubElement(feed, "author")
        ET.SubElement(author, "name").text = "Sandbox desk"
        zone = ZONES.get(lang, UTC)
        for item in items:
            entry = ET.SubElement(feed, "entry")
            ET.SubElement(entry, "id").text = self._guid(item, faults)
            ET.SubElement(entry, "title").text = item["title"]
            link = self._link(item, utm=bool(faults.get("utm")))
            ET.SubElement(entry, "link", {"rel": "alternate", "href": link})
            ET.SubElement(entry, "published").text = _rfc3339(
                datetime.fromisoformat(item["published"]).astimezone(zone)
            )
            ET.SubElement(entry, "updated").text = _rfc3339(
                datetime.fromisoformat(item["updated"]).astimezone(zone)
            )
            ET.SubElement(entry, "summary", {"type": "html"}).text = item["summary"]
            for category in item["categories"]:
                ET.SubElement(entry, "category", {"term": category})
            if self._media(entry, item) == "enclosure":
                attrs = {"rel": "enclosure", "href": str(self._image(item)), "type": "image/jpeg"}
                ET.SubElement(entry, "link", attrs)
        return feed

    def _article(self, lang: str, slug: str) -> Response:
        with self._lock:
            self.stats["page_requests"] += 1
        with self.env.state.lock:
            found = [
                dict(i)
                for i in self._items()
                if i["lang"] == lang and (i["slug"] == slug or slug in i["aliases"])
            ]
        if not found:
            return html_response("<!doctype html><title>Not found</title><p>Not found.</p>", 404)
        item = found[0]
        canonical = self._link(item, canonical=True)
        description = html_to_text(item["summary"])
        meta = [
            ("og:type", "article"),
            ("og:title", item["title"]),
            ("og:description", description),
            ("og:url", canonical),
            ("article:published_time", item["published"]),
        ]
        image = self._image(item)
        if image:
            meta.append(("og:image", image))
            if item["image_alt"]:
                meta.append(("og:image:alt", item["image_alt"]))
        tags = "".join(
            f'<meta property="{escape(p, quote=True)}" content="{escape(v, quote=True)}">'
            for p, v in meta
        )
        alt = escape(item["image_alt"], quote=True)
        figure = f'<img src="{escape(image, quote=True)}" alt="{alt}">' if image else ""
        # the summary is the CMS's own HTML: the page shows it as the article's lead
        page = (
            f'<!doctype html><html lang="{escape(lang, quote=True)}"><head><meta charset="utf-8">'
            f"<title>{escape(item['title'])}</title>"
            f'<link rel="canonical" href="{escape(canonical, quote=True)}">{tags}</head>'
            f"<body><article><h1>{escape(item['title'])}</h1>{figure}{item['summary']}"
            "</article></body></html>"
        )
        return html_response(page)

    def _index(self) -> Response:
        with self.env.state.lock:
            langs = sorted({i["lang"] for i in self._items()} | set(TITLES))
        links = "".join(
            f'<li>{escape(lang)}: <a href="{self._base()}/{lang}/rss.xml">RSS</a> '
            f'<a href="{self._base()}/{lang}/atom.xml">Atom</a></li>'
            for lang in langs
        )
        return html_response(
            "<!doctype html><html><head><meta charset='utf-8'><title>Sandbox News Portal</title>"
            f'<link rel="alternate" type="application/rss+xml" href="{self._base()}/en/rss.xml">'
            f"</head><body><h1>Sandbox News Portal</h1><ul>{links}</ul></body></html>"
        )
