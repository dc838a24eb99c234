"""The sandbox news portal: RSS 2.0 and Atom feeds read by feedparser, article pages with
``og:`` tags, conditional GET, items added at run time, faults, the WebSub hub and the CMS
ping, all over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.sandbox.uploads import sniff_image
from tests.sandbox.sandbox_fixtures import START, Clock

FEEDS = [(lang, kind) for lang in ("id", "en") for kind in ("rss", "atom")]


def feed(sb: RunningSandbox, lang: str = "en", kind: str = "rss", **kw: Any) -> Any:
    answer = requests.get(f"{sb.url}/portal/{lang}/{kind}.xml", timeout=5, **kw)
    answer.raise_for_status()
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def add(sb: RunningSandbox, **item: Any) -> dict[str, Any]:
    answer = requests.post(f"{sb.url}/_sandbox/portal/items", json=item, timeout=5)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def set_faults(sb: RunningSandbox, **faults: Any) -> None:
    answer = requests.post(f"{sb.url}/_sandbox/portal/faults", json=faults, timeout=5)
    assert answer.status_code == 200, answer.text


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a baseline JPEG's SOF0 segment."""
    at = data.index(b"\xff\xc0")
    height, width = struct.unpack(">HH", data[at + 5 : at + 9])
    return width, height


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.og: dict[str, str] = {}
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and a.get("property"):
            self.og[str(a["property"])] = str(a.get("content"))
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical = a.get("href")


def page_meta(url: str) -> _Meta:
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200
    meta = _Meta()
    meta.feed(answer.text)
    return meta


# --- feeds ------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "kind"), FEEDS)
def test_feeds_are_real_rss_and_atom_in_two_languages(
    sb: RunningSandbox, lang: str, kind: str
) -> None:
    parsed = feed(sb, lang, kind)
    assert parsed.version == ("rss20" if kind == "rss" else "atom10")
    assert parsed.feed.get("language", lang) == lang
    assert len(parsed.entries) == 3
    # newest first; every entry has a guid, a link to its page, a time and a category
    times = [e.published_parsed for e in parsed.entries]
    assert times == sorted(times, reverse=True)
    for e in parsed.entries:
        assert e.id and e.link.startswith(f"{sb.url}/portal/{lang}/articles/")
        assert e.tags and e.summary
    rels = {link["rel"]: link["href"] for link in parsed.feed.links}
    assert rels["hub"] == f"{sb.url}/portal/hub"
    assert rels["self"] == f"{sb.url}/portal/{lang}/{kind}.xml"


def test_rss_dates_carry_their_offset_and_atom_dates_are_rfc3339(
    sb: RunningSandbox, clock: Clock
) -> None:
    when = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    add(sb, title="Offsets", lang="id", published=when.isoformat())
    raw = requests.get(f"{sb.url}/portal/id/rss.xml", timeout=5).text
    assert "Mon, 30 Nov 2026 15:30:00 +0700" in raw  # Jakarta time in the id feed
    entry = next(e for e in feed(sb, "id").entries if e.title == "Offsets")
    assert datetime(*entry.published_parsed[:6], tzinfo=UTC) == when
    atom = requests.get(f"{sb.url}/portal/id/atom.xml", timeout=5).text
    assert "<published>2026-11-30T15:30:00+07:00</published>" in atom
    en = requests.get(f"{sb.url}/portal/en/rss.xml", timeout=5)
    assert format_datetime(clock.now, usegmt=True) in en.text  # GMT in the en feed


def test_media_tags_on_some_items_and_og_image_on_the_page_of_the_others(
    sb: RunningSandbox,
) -> None:
    entries = {e.title: e for e in feed(sb, "id").entries}
    content = entries["Kementerian membuka portal data anggaran untuk publik"]
    assert content.media_content[0]["url"].endswith(".jpg")
    # the alt text rides in media:description inside media:content
    assert content.content[0]["value"] == "Grafik anggaran di layar komputer"
    enclosure = entries["Beasiswa riset dibuka untuk 500 mahasiswa"]
    assert "media_content" not in enclosure and enclosure.enclosures[0]["type"] == "image/jpeg"
    assert page_meta(enclosure.link).og["og:image:alt"] == "Mahasiswa di perpustakaan"
    bare = entries["Layanan vaksinasi keliling menjangkau 12 desa"]
    assert "media_content" not in bare and not bare.enclosures
    og = page_meta(bare.link).og
    assert og["og:image"].startswith(f"{sb.url}/portal/images/")
    assert og["og:image:alt"] == "Petugas kesehatan menyiapkan vaksin"
    image = requests.get(og["og:image"], timeout=5)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
    assert sniff_image(image.content) == "image/jpeg" and image.content.endswith(b"\xff\xd9")
    assert jpeg_size(image.content) == (640, 360 + 8 * (int(og["og:image"][-5]) % 8))
    # an item without any image: none in the feed, none on the page
    plain = next(e for e in feed(sb, "en").entries if e.title.startswith("Mobile"))
    assert "og:image" not in page_meta(plain.link).og


def test_article_page_has_og_tags_and_canonical(sb: RunningSandbox) -> None:
    item = add(
        sb,
        title="Budget <approved> & signed",
        summary="<p>The <b>budget</b> passed.</p>",
        image="https://cdn.example.org/budget.jpg",
        image_alt="The minister signs",
        media="none",
    )
    meta = page_meta(item["url"])
    assert meta.canonical == item["url"]
    assert meta.og["og:title"] == "Budget <approved> & signed"
    assert meta.og["og:description"] == "The budget passed."
    assert meta.og["og:image"] == "https://cdn.example.org/budget.jpg"
    assert meta.og["og:image:alt"] == "The minister signs"
    assert meta.og["og:url"] == item["url"]


def test_a_headline_edit_renames_the_page_and_the_old_slug_names_the_new_canonical(
    sb: RunningSandbox,
) -> None:
    item = add(sb, title="Flood warning for three districts")
    old = item["url"]
    edited = add(sb, id=item["id"], title="Flood warning for four districts", slug="four")
    assert edited["guid"] == item["guid"] and edited["url"] != old
    assert page_meta(old).canonical == edited["url"]
    entry = next(e for e in feed(sb).entries if e.id == item["guid"])
    assert entry.title == "Flood warning for four districts"
    assert entry.link == edited["url"]


# --- conditional GET ----------------------------------------------------------------------


def test_unchanged_feed_is_answered_304_and_a_new_item_changes_it(
    sb: RunningSandbox, clock: Clock
) -> None:
    url = f"{sb.url}/portal/en/atom.xml"
    first = requests.get(url, timeout=5)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = requests.get(url, headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag
    by_date = requests.get(url, headers={"If-Modified-Since": modified}, timeout=5)
    assert by_date.status_code == 304
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3)
    mismatch = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert requests.get(url, headers=mismatch, timeout=5).status_code == 200
    clock.now += timedelta(minutes=1)
    add(sb, title="Something new")
    changed = requests.get(url, headers={"If-None-Match": etag}, timeout=5)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    late = requests.get(url, headers={"If-Modified-Since": modified}, timeout=5)
    assert late.status_code == 200
    stats = requests.get(f"{sb.url}/_sandbox/portal/stats", timeout=5).json()
    assert stats["feed_requests"] == 6 and stats["not_modified"] == 2
    assert stats["by_feed"] == {"/en/atom.xml": [6, 2]}


# --- items at run time ----------------------------------------------------------------------


def test_posted_items_appear_with_everything_given(sb: RunningSandbox) -> None:
    published = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    item = add(
        sb,
        title="Gempa M5,2 di lepas pantai",
        summary="<p>Tidak berpotensi <i>tsunami</i>.</p>",
        lang="id",
        categories=["Bencana", "Breaking"],
        image=True,
        image_alt="Peta lokasi gempa",
        guid="tag:portal.example,2026:quake-1",
        published=published.isoformat(),
    )
    entry = next(e for e in feed(sb, "id", "atom").entries if e.id == item["guid"])
    assert entry.title == "Gempa M5,2 di lepas pantai"
    assert [t.term for t in entry.tags] == ["Bencana", "Breaking"]
    assert "tsunami" in entry.summary
    assert entry.media_content[0]["url"] == item["image"]
    assert datetime(*entry.published_parsed[:6], tzinfo=UTC) == published
    # a section feed holds only that category's items
    breaking = feed(sb, "id").entries  # noqa: F841 (the whole feed, for contrast)
    section = requests.get(f"{sb.url}/portal/id/breaking/rss.xml", timeout=5)
    assert [e.id for e in feedparser.parse(section.content).entries] == [item["guid"]]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x", "published": "2026-11-30T08:00:00"}, "offset"),
        ({"title": "x", "published": "yesterday"}, "ISO 8601"),
        ({"title": "x", "media": "video"}, "media"),
        ({"title": "x", "categories": "one"}, "categories"),
        ({"title": "x", "lang": "english"}, "lang"),
        ({"id": 999, "title": "x"}, "no item"),
    ],
)
def test_bad_items_are_refused_with_the_reason(
    sb: RunningSandbox, body: dict[str, Any], why: str
) -> None:
    answer = requests.post(f"{sb.url}/_sandbox/portal/items", json=body, timeout=5)
    assert answer.status_code == 400 and why in answer.json()["error"]
    assert len(feed(sb).entries) == 3  # nothing half-added


def test_an_item_drops_out_and_comes_back(sb: RunningSandbox) -> None:
    item = add(sb, title="Comes and goes")
    add(sb, id=item["id"], hidden=True)
    assert item["guid"] not in {e.id for e in feed(sb).entries}
    add(sb, id=item["id"], hidden=False)
    assert item["guid"] in {e.id for e in feed(sb).entries}


def test_only_the_newest_items_stay_in_the_feed(sb: RunningSandbox, clock: Clock) -> None:
    for n in range(25):
        add(sb, title=f"Item {n}", published=(START + timedelta(minutes=n)).isoformat())
    titles = [e.title for e in feed(sb).entries]
    assert len(titles) == 20 and titles[0] == "Item 24"
    set_faults(sb, size=30)  # a portal that lists more
    assert len(feed(sb).entries) == 28


#: what XML 1.0 cannot carry (https://www.w3.org/TR/xml/#charsets)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60
)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:  # one keep-alive connection for many examples
        yield session


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=_XML_TEXT, summary=_XML_TEXT, category=_XML_TEXT)
def test_any_text_makes_a_well_formed_feed(
    sb: RunningSandbox, http: requests.Session, title: str, summary: str, category: str
) -> None:
    """Whatever a desk types, the feed stays well-formed XML and says it back (less the
    characters XML cannot carry)."""
    answer = http.post(
        f"{sb.url}/_sandbox/portal/items",
        json={"title": title, "summary": summary, "categories": [category]},
        timeout=5,
    )
    if answer.status_code == 400:  # nothing XML can carry is left of the headline
        assert not _NOT_XML.sub("", title).strip()
        return
    assert answer.status_code == 201, answer.text
    item = answer.json()
    for kind in ("rss", "atom"):
        body = http.get(f"{sb.url}/portal/en/{kind}.xml", timeout=5).content
        root = ET.fromstring(body)  # raises on anything ill-formed
        assert not feedparser.parse(body).bozo
        ns = {"a": "http://www.w3.org/2005/Atom"}
        if kind == "rss":
            node = next(i for i in root.iter("item") if i.findtext("guid") == item["guid"])
            said = (node.findtext("title"), node.findtext("description") or "")
            cats = [c.text or "" for c in node.findall("category")]
        else:
            node = next(
                e
                for e in root.findall("a:entry", ns)
                if e.findtext("a:id", namespaces=ns) == item["guid"]
            )
            said = (
                node.findtext("a:title", namespaces=ns),
                node.findtext("a:summary", namespaces=ns) or "",
            )
            cats = [c.get("term", "") for c in node.findall("a:category", ns)]
        assert said == (item["title"], item["summary"])
        assert cats == item["categories"]


# --- faults ---------------------------------------------------------------------------------


def test_status_faults_for_a_count_then_normal(sb: RunningSandbox) -> None:
    set_faults(sb, status=500, count=2)
    url = f"{sb.url}/portal/en/rss.xml"
    assert [requests.get(url, timeout=5).status_code for _ in range(3)] == [500, 500, 200]
    set_faults(sb, status=503, retry_after=120)
    busy = requests.get(url, timeout=5)
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "120"
    set_faults(sb)
    assert requests.get(url, timeout=5).status_code == 200


def test_malformed_feed_is_reported_by_the_parser(sb: RunningSandbox) -> None:
    set_faults(sb, malformed=True)
    body = requests.get(f"{sb.url}/portal/en/rss.xml", timeout=5).content
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    assert feedparser.parse(body).bozo


def test_guid_faults_switch_scheme_or_change_every_guid(sb: RunningSandbox) -> None:
    before = [e.id for e in feed(sb).entries]
    assert all(g.startswith("http://") for g in before)
    set_faults(sb, guids="https")
    assert [e.id for e in feed(sb).entries] == [
        "https://" + g.removeprefix("http://") for g in before
    ]
    set_faults(sb, guids="changed")
    first = [e.id for e in feed(sb).entries]
    assert not set(first) & set(before) and all(g.startswith("urn:uuid:") for g in first)
    set_faults(sb, guids="changed")  # a second migration: new guids again
    assert not set(e.id for e in feed(sb).entries) & set(first)
    set_faults(sb)
    assert [e.id for e in feed(sb).entries] == before


def test_utm_and_order_faults(sb: RunningSandbox) -> None:
    before = feed(sb).entries
    set_faults(sb, utm=True, order="oldest")
    after = feed(sb).entries
    assert [e.id for e in after] == [e.id for e in reversed(before)]
    assert all("utm_source=rss" in e.link for e in after)


def test_slow_fault_and_the_sandbox_fault_spec(clock: Clock) -> None:
    with start_sandbox(clock=clock, faults="portal.error_rate=1") as sb:
        assert requests.get(f"{sb.url}/portal/en/rss.xml", timeout=5).status_code == 500
        # the platforms are untouched by a portal fault
        assert requests.get(f"{sb.url}/_sandbox/health", timeout=5).status_code == 200
    with start_sandbox(clock=clock) as sb:
        set_faults(sb, slow_ms=150)
        started = time.monotonic()
        assert requests.get(f"{sb.url}/portal/en/rss.xml", timeout=5).status_code == 200
        assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize(
    "faults",
    [
        {"status": 200},
        {"guids": "sometimes"},
        {"order": "random"},
        {"slow_ms": -1},
        {"size": 0},
        {"x": 1},
    ],
)
def test_bad_faults_are_refused(sb: RunningSandbox, faults: dict[str, Any]) -> None:
    answer = requests.post(f"{sb.url}/_sandbox/portal/faults", json=faults, timeout=5)
    assert answer.status_code == 400


# --- WebSub hub and CMS ping -------------------------------------------------------------------


class Receiver:
    """A subscriber's callback (and a CMS ping target) on 127.0.0.1: echoes a WebSub
    challenge when told to, records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.confirm = True
        self.received = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                outer.requests.append(("GET", self.path, dict(self.headers), b""))
                if outer.confirm:
                    body = query.get("hub.challenge", "").encode()
                    self.send_response(200)
                else:
                    body = b"no"
                    self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(("POST", self.path, dict(self.headers), data))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                outer.received.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def posts(self) -> list[tuple[str, dict[str, str], bytes]]:
        return [(p, h, b) for m, p, h, b in self.requests if m == "POST"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def subscribe(sb: RunningSandbox, topic: str, callback: str, **extra: str) -> requests.Response:
    data = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback, **extra}
    return requests.post(f"{sb.url}/portal/hub", data=data, timeout=5)


def test_websub_subscribe_verify_and_signed_delivery(
    sb: RunningSandbox, receiver: Receiver
) -> None:
    topic = f"{sb.url}/portal/en/rss.xml"
    secret = "hub-secret-for-the-test"
    answer = subscribe(
        sb, topic, f"{receiver.url}/cb/1?x=1", **{"hub.secret": secret, "hub.lease_seconds": "3600"}
    )
    assert answer.status_code == 202
    assert sb.portal.outbox.wait_idle(5)
    method, path, _, _ = receiver.requests[0]
    query = parse_qs(urlsplit(path).query)
    assert method == "GET" and query["x"] == ["1"]  # the callback's own query is kept
    assert query["hub.mode"] == ["subscribe"] and query["hub.topic"] == [topic]
    assert query["hub.lease_seconds"] == ["3600"] and query["hub.challenge"][0]
    subs = sb.portal.snapshot()["hub"]["subscriptions"]
    assert [(s["topic"], s["signed"]) for s in subs] == [(topic, True)]
    assert secret not in json.dumps(sb.portal.snapshot())

    add(sb, title="Breaking: bridge closed", lang="en")
    assert sb.portal.outbox.wait_idle(5)
    ((path, headers, body),) = receiver.posts()
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature"] == expected
    assert headers["Content-Type"].startswith("application/rss+xml")
    assert f'<{sb.url}/portal/hub>; rel="hub"' in headers["Link"]
    assert f'<{topic}>; rel="self"' in headers["Link"]
    assert "Breaking: bridge closed" in [e.title for e in feedparser.parse(body).entries]
    # an item in the other language changes nothing this subscriber follows
    add(sb, title="Jembatan ditutup", lang="id")
    assert sb.portal.outbox.wait_idle(5)
    assert len(receiver.posts()) == 1


def test_websub_refused_verification_leaves_no_subscription(
    sb: RunningSandbox, receiver: Receiver
) -> None:
    receiver.confirm = False
    assert subscribe(sb, f"{sb.url}/portal/en/atom.xml", f"{receiver.url}/cb").status_code == 202
    assert sb.portal.outbox.wait_idle(5)
    assert sb.portal.snapshot()["hub"]["subscriptions"] == []
    add(sb, title="Nobody hears this")
    assert sb.portal.outbox.wait_idle(5)
    assert receiver.posts() == []


def test_websub_unsubscribe_and_lease_end(
    sb: RunningSandbox, receiver: Receiver, clock: Clock
) -> None:
    topic = f"{sb.url}/portal/en/atom.xml"
    subscribe(sb, topic, f"{receiver.url}/a", **{"hub.lease_seconds": "120"})
    subscribe(sb, topic, f"{receiver.url}/b")
    assert sb.portal.outbox.wait_idle(5)
    data = {"hub.mode": "unsubscribe", "hub.topic": topic, "hub.callback": f"{receiver.url}/b"}
    assert requests.post(f"{sb.url}/portal/hub", data=data, timeout=5).status_code == 202
    assert sb.portal.outbox.wait_idle(5)
    assert [s["callback"] for s in sb.portal.snapshot()["hub"]["subscriptions"]] == [
        f"{receiver.url}/a"
    ]
    clock.now += timedelta(seconds=121)
    add(sb, title="After the lease")
    assert sb.portal.outbox.wait_idle(5)
    assert receiver.posts() == [] and sb.portal.snapshot()["hub"]["subscriptions"] == []


@pytest.mark.parametrize(
    "data",
    [
        {"hub.mode": "follow", "hub.topic": "{url}/portal/en/rss.xml", "hub.callback": "http://c/"},
        {"hub.mode": "subscribe", "hub.topic": "{url}/elsewhere", "hub.callback": "http://c/"},
        {"hub.mode": "subscribe", "hub.topic": "{url}/portal/en/rss.xml", "hub.callback": "ftp://c"},
        {"hub.mode": "subscribe", "hub.topic": "{url}/portal/en/rss.xml",
         "hub.callback": "http://c/", "hub.secret": "s" * 200},
    ],
)  # fmt: skip
def test_websub_bad_requests_are_400_with_a_reason(
    sb: RunningSandbox, data: dict[str, str]
) -> None:
    filled = {k: v.replace("{url}", sb.url) for k, v in data.items()}
    answer = requests.post(f"{sb.url}/portal/hub", data=filled, timeout=5)
    assert answer.status_code == 400 and answer.text
    assert requests.get(f"{sb.url}/portal/hub", timeout=5).status_code == 405


def test_cms_pings_signed_on_publishing(sb: RunningSandbox, receiver: Receiver) -> None:
    secret = "ping-secret-for-the-test"
    targets = [{"lang": "en", "url": f"{receiver.url}/feeds/news-en/ping", "secret": secret}]
    assert requests.post(f"{sb.url}/_sandbox/portal/pings", json=targets, timeout=5).ok
    item = add(sb, title="Pinged at once", lang="en")
    add(sb, title="Not this language", lang="id")
    assert sb.portal.outbox.wait_idle(5)
    ((path, headers, body),) = receiver.posts()
    assert path == "/feeds/news-en/ping"
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Dissem-Signature"] == expected
    assert json.loads(body) == {"feed": f"{sb.url}/portal/en/rss.xml", "guid": item["guid"]}
    sent = sb.portal.snapshot()["pings"]
    assert sent == [{"url": targets[0]["url"], "guid": item["guid"], "status": 202}]
    assert secret not in json.dumps(sent)
    bad = requests.post(f"{sb.url}/_sandbox/portal/pings", json=[{"lang": "en"}], timeout=5)
    assert bad.status_code == 400


def test_front_page_still_shows_what_was_published(sb: RunningSandbox) -> None:
    front = requests.get(f"{sb.url}/", timeout=5)
    assert front.status_code == 200 and "dissem sandbox" in front.text
    index = requests.get(f"{sb.url}/portal/", timeout=5)
    assert index.status_code == 200 and "/portal/en/rss.xml" in index.text


def test_items_survive_a_restart_with_a_state_file(tmp_path: Any, clock: Clock) -> None:
    path = tmp_path / "state.json"
    with start_sandbox(clock=clock, state_path=path) as sb:
        item = add(sb, title="Kept across restarts")
    with start_sandbox(clock=clock, state_path=path) as sb:
        assert item["guid"] in {e.id for e in feed(sb).entries}
        assert "secret" not in path.read_text()
