"""A small feed server for the feed tests, on 127.0.0.1 and a free port: each path answers
what the test set (a feed with ETag/Last-Modified and 304s, an article page, an error, a
redirect loop, a huge or trickling body). Independent of the sandbox portal."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True  # answers 304 to a matching If-None-Match
    mode: str = "plain"  # plain | huge | trickle | redirect_loop | huge_announced


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.not_modified = 0
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                outer.hits[path] = outer.hits.get(path, 0) + 1
                route = outer.routes.get(path)
                if route is None:
                    self._send(404, b"not found", "text/plain")
                    return
                if route.mode == "redirect_loop":
                    self.send_response(302)
                    self.send_header("Location", path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.mode in ("huge", "huge_announced", "trickle"):
                    self._stream(route)
                    return
                etag = f'"{hash(route.body) & 0xFFFFFFFF:x}"'
                if route.conditional and self.headers.get("If-None-Match") == etag:
                    outer.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                extra = dict(route.headers)
                if route.conditional:
                    extra["ETag"] = etag
                    extra["Last-Modified"] = format_datetime(
                        datetime(2026, 1, 1, tzinfo=UTC), usegmt=True
                    )
                self._send(route.status, route.body, route.content_type, extra)

            def _send(
                self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, route: Route) -> None:
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                if route.mode == "huge_announced":
                    self.send_header("Content-Length", str(1 << 30))
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    if route.mode == "trickle":
                        self.wfile.write(b"<?xml version='1.0'?>")
                        while not outer.stop.is_set():
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            outer.stop.wait(0.05)
                        return
                    chunk = b"<!-- " + b"x" * 65536 + b" -->\n"
                    sent = 0
                    while sent < (1 << 30) and not outer.stop.is_set():  # a gigabyte, streamed
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except OSError:
                    return
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        time.sleep(0)


def rss(items: list[dict[str, Any]], *, title: str = "Portal") -> bytes:
    """An RSS 2.0 document; each item: title, link, guid, description, categories, pub
    (aware datetime), image (Media RSS url), alt."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel>',
        f"<title>{title}</title><link>https://portal.example/</link><description>d</description>",
    ]
    for it in items:
        out.append("<item>")
        out.append(f"<title>{_esc(it['title'])}</title>")
        out.append(f"<link>{_esc(it['link'])}</link>")
        if "guid" in it:
            out.append(f'<guid isPermaLink="false">{_esc(it["guid"])}</guid>')
        out.append(f"<description>{_esc(it.get('description', ''))}</description>")
        for c in it.get("categories", []):
            out.append(f"<category>{_esc(c)}</category>")
        if "pub" in it:
            out.append(f"<pubDate>{format_datetime(it['pub'])}</pubDate>")
        if "image" in it:
            out.append(
                f'<media:content url="{_esc(it["image"])}" medium="image" type="image/jpeg">'
            )
            if "alt" in it:
                out.append(f"<media:description>{_esc(it['alt'])}</media:description>")
            out.append("</media:content>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode()


def atom(entries: list[dict[str, Any]], *, title: str = "Portal") -> bytes:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{title}</title><id>urn:portal</id><updated>2026-01-01T00:00:00Z</updated>",
        '<link rel="hub" href="https://hub.example/"/>',
    ]
    for e in entries:
        out.append("<entry>")
        out.append(f"<title>{_esc(e['title'])}</title>")
        out.append(f'<link rel="alternate" href="{_esc(e["link"])}"/>')
        out.append(f"<id>{_esc(e.get('guid', e['link']))}</id>")
        out.append(f"<updated>{e['pub'].isoformat()}</updated>")
        out.append(f'<summary type="html">{_esc(e.get("description", ""))}</summary>')
        for c in e.get("categories", []):
            out.append(f'<category term="{_esc(c)}"/>')
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out).encode()


def article(
    *, image: str | None = None, alt: str | None = None, canonical: str | None = None
) -> bytes:
    head = ["<!doctype html><html><head><title>a</title>"]
    if image:
        head.append(f'<meta property="og:image" content="{image}">')
    if alt:
        head.append(f'<meta property="og:image:alt" content="{alt}">')
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    head.append("</head><body><p>text</p></body></html>")
    return "".join(head).encode()


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
