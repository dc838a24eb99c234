"""dissem's Bluesky adapter against Bluesky's own server (issue 9).

The sandbox's Bluesky is dissem's reading of the API; here the reference implementation
judges what the adapter sends: ``@atproto/pds`` (started by ``@atproto/dev-env`` with an
in-memory PLC, on 127.0.0.1; see ``tests/pds/server.py``) validates every record against
the lexicons and stores it, and the tests read it back over XRPC, as any AT Protocol client
would (``com.atproto.repo.getRecord``, ``listRecords``, ``com.atproto.sync.getBlob``). No
AppView runs, so ``app.bsky.*`` reads are out of reach and not used.

Without Node/npm, or when the install fails, the tests skip with a message naming the
Bluesky PDS; under ``CI=true`` or ``DISSEM_TEST_PDS=1`` they fail instead (CI must run
them), and ``DISSEM_TEST_PDS=0`` skips them without trying.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from dissem.compose import compose
from dissem.compose.bluesky import LINK_FEATURE, TAG_FEATURE, external_embed, facets
from dissem.compose.types import Media, Part
from dissem.config.models import Channel, Release
from dissem.errors import OutcomeUnknown
from dissem.platforms.base import MemoryContext, Platform, RemotePost
from dissem.platforms.registry import build_adapter
from dissem.settings import Settings
from tests.pds.server import PdsAccount, PdsUnavailable, install, running

PASSWORD_ENV = "DISSEM_TEST_PDS_APP_PASSWORD"
POST = "app.bsky.feed.post"
CREATE_RECORD = "/xrpc/com.atproto.repo.createRecord"

MakeAdapter = Callable[..., Platform]


def _required() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true") or (
        os.environ.get("DISSEM_TEST_PDS") == "1"
    )


@pytest.fixture(scope="session")
def pds() -> Iterator[PdsAccount]:
    """One PDS for the session (installed into the cache on first use), stopped at the end."""
    if os.environ.get("DISSEM_TEST_PDS") == "0" and not _required():
        pytest.skip("Bluesky PDS tests skipped: DISSEM_TEST_PDS=0")
    with ExitStack() as stack:
        try:
            account = stack.enter_context(running(install()))
        except PdsUnavailable as exc:
            if _required():
                pytest.fail(f"{exc}\n(CI=true or DISSEM_TEST_PDS=1: the PDS tests must run)")
            pytest.skip(f"{exc}\n(set DISSEM_TEST_PDS=1 to make this an error)")
        yield account


@pytest.fixture
def make_adapter(pds: PdsAccount, tmp_path: Path) -> Iterator[MakeAdapter]:
    """Builds the real adapter for a channel whose ``api_base`` is the PDS (or a proxy in
    front of it); the app password comes from the environment mapping, as in production.
    Images are files in ``tmp_path`` (the config folder)."""
    settings = Settings(sandbox_url=None, config_dir=tmp_path, http_timeout=10.0)
    built: list[Platform] = []

    def make(api_base: str | None = None, **changes: Any) -> Platform:
        fields: dict[str, Any] = {
            "name": "bluesky-pds",
            "platform": "bluesky",
            "account": pds.handle,
            "timezone": "UTC",
            "language": "en",
            "api_base": api_base or pds.url,
            "credentials": {"app_password": PASSWORD_ENV},
            **changes,
        }
        adapter = build_adapter(Channel(**fields), settings, {PASSWORD_ENV: pds.app_password})
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        adapter.close()


def tiny_jpeg(at_least: int = 0) -> bytes:
    """A valid baseline JPEG: one 8x8 block of mid grey (DC and AC each have a one-symbol
    Huffman table: category 0, then end of block), JFIF header, quantisation table of ones;
    comment segments make it ``at_least`` bytes long."""

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    one_code = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1 for symbol 0x00
    comments = [segment(0xFE, b"dissem " * 9000) for _ in range(at_least // 63_004 + 1)]
    return b"".join(
        (
            b"\xff\xd8",
            segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            *(comments if at_least else ()),
            segment(0xDB, b"\x00" + b"\x01" * 64),
            segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"),
            segment(0xC4, b"\x00" + one_code),
            segment(0xC4, b"\x10" + one_code),
            segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            b"\x3f",  # bits 0 (DC diff 0) and 0 (EOB), padded with ones
            b"\xff\xd9",
        )
    )


def xrpc(pds: PdsAccount, nsid: str, **params: Any) -> requests.Response:
    response = requests.get(f"{pds.url}/xrpc/{nsid}", params=params, timeout=10)
    response.raise_for_status()
    return response


def stored(pds: PdsAccount, post: RemotePost) -> dict[str, Any]:
    """The record under ``post``'s URI as the PDS serves it (``uri``, ``cid``, ``value``)."""
    rkey = post.remote_id.rsplit("/", 1)[-1]
    found: dict[str, Any] = xrpc(
        pds, "com.atproto.repo.getRecord", repo=pds.did, collection=POST, rkey=rkey
    ).json()
    assert found["uri"] == post.remote_id and found["cid"] == post.data["cid"]
    return found


def all_posts(pds: PdsAccount) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"repo": pds.did, "collection": POST, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = xrpc(pds, "com.atproto.repo.listRecords", **params).json()
        records += page["records"]
        cursor = page.get("cursor")
        if not cursor or not page["records"]:
            return records


def spans(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each facet as (the exact UTF-8 bytes it covers, decoded; its feature)."""
    raw = record["text"].encode("utf-8")
    return [
        (raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8"), f["features"][0])
        for f in record.get("facets", [])
    ]


def release(token: str) -> Release:
    body = "\n\n".join(
        (
            "Paragraf 1: pelatihan teknisi di Bandung, Surabaya dan Medan berlanjut tahun ini.",
            "Paragraf 2: jadwal lengkap di vokasi.kemdikbud.go.id untuk semua peserta #Vokasi2026",
            "Paragraf 3: pendaftaran dibuka bulan depan bagi lulusan SMK di seluruh Indonesia.",
            "Paragraf 4: kurikulum disusun bersama industri Jerman dan Indonesia, kata menteri.",
        )
    )
    return Release.model_validate(
        {
            "id": f"r-pds-{token}",
            "title": f"Kerja sama vokasi 🇮🇩🇩🇪 diperluas {token}",
            "summary": "Kedua negara melatih 10.000 teknisi sampai 2030.",
            "body": body,
            "url": "https://portal.go.id/berita/vokasi?ref=home",
            "language": "id",
            "tags": ["kerja sama", "vokasi"],
            "targets": ["all"],
            "image": {"src": "img/vokasi.jpg", "alt": "Para menteri di Jakarta"},
        }
    )


def test_a_composed_thread_is_stored_with_its_replies_facets_langs_and_card(
    pds: PdsAccount, make_adapter: MakeAdapter, tmp_path: Path
) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "vokasi.jpg").write_bytes(tiny_jpeg())
    token = uuid.uuid4().hex[:8]
    adapter = make_adapter(thread=True)
    parts = compose(release(token), adapter.channel, datetime.now(UTC))
    assert 2 <= len(parts) <= 3, [p.text for p in parts]

    sent: list[RemotePost] = []
    for part in parts:
        previous = sent[-1] if sent else None
        root = sent[0] if sent else None
        sent.append(
            adapter.publish(
                part, MemoryContext(f"{token}-{part.index}"), reply_to=previous, root=root
            )
        )
    records = [stored(pds, post) for post in sent]

    root_ref = {"uri": sent[0].remote_id, "cid": sent[0].data["cid"]}
    for i, (part, found) in enumerate(zip(parts, records, strict=True)):
        value = found["value"]
        assert value["$type"] == POST and value["text"] == part.text
        assert value["langs"] == ["id"]  # the release's language: no English translation
        if i == 0:
            assert "reply" not in value
        else:
            parent_ref = {"uri": sent[i - 1].remote_id, "cid": sent[i - 1].data["cid"]}
            assert value["reply"] == {"root": root_ref, "parent": parent_ref}
        assert value.get("facets", []) == list(part.facets)

    first, second = spans(records[0]["value"]), spans(records[1]["value"])
    link = parts[0].link
    assert link and (link, {"$type": LINK_FEATURE, "uri": link}) in first
    assert ("#KerjaSama", {"$type": TAG_FEATURE, "tag": "KerjaSama"}) in first
    assert ("#vokasi", {"$type": TAG_FEATURE, "tag": "vokasi"}) in first
    assert (
        "vokasi.kemdikbud.go.id",
        {"$type": LINK_FEATURE, "uri": "https://vokasi.kemdikbud.go.id"},
    ) in second
    assert ("#Vokasi2026", {"$type": TAG_FEATURE, "tag": "Vokasi2026"}) in second

    card = records[0]["value"]["embed"]
    assert card["$type"] == "app.bsky.embed.external"
    assert card["external"]["uri"] == link
    thumb = card["external"]["thumb"]
    assert thumb["mimeType"] == "image/jpeg" and thumb["size"] == len(tiny_jpeg())
    blob = xrpc(pds, "com.atproto.sync.getBlob", did=pds.did, cid=thumb["ref"]["$link"])
    assert blob.content == tiny_jpeg()


def test_a_post_with_an_image_is_stored_with_an_images_embed_its_alt_and_blob(
    pds: PdsAccount, make_adapter: MakeAdapter, tmp_path: Path
) -> None:
    (tmp_path / "photo.jpg").write_bytes(tiny_jpeg())
    text = f"Foto hari ini dari Jakarta #Vokasi {uuid.uuid4().hex[:8]} portal.go.id"
    part = Part(
        index=1,
        total=1,
        text=text,
        length=len(text),
        limit=300,
        media=(Media("photo.jpg", "Para menteri berfoto bersama di Jakarta"),),
        facets=facets(text),
        options={"langs": ["id"]},
    )
    post = make_adapter().publish(part, MemoryContext(uuid.uuid4().hex))

    value = stored(pds, post)["value"]
    assert value["text"] == text and value["langs"] == ["id"]
    assert [s for s, _ in spans(value)] == ["#Vokasi", "portal.go.id"]
    embed = value["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    [image] = embed["images"]
    assert image["alt"] == "Para menteri berfoto bersama di Jakarta"
    blob = image["image"]
    assert blob["$type"] == "blob" and blob["mimeType"] == "image/jpeg"
    assert blob["size"] == len(tiny_jpeg())
    fetched = xrpc(pds, "com.atproto.sync.getBlob", did=pds.did, cid=blob["ref"]["$link"])
    assert fetched.content == tiny_jpeg()


class DroppingProxy:
    """A TCP proxy on 127.0.0.1 in front of the PDS, one HTTP/1.1 request per connection
    (it asks the PDS for ``Connection: close``). When armed, it forwards the next request
    whose request line holds ``drop`` and waits for the PDS's whole answer, so the request
    was applied, then closes the client's connection without sending a byte of it."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.drop: str | None = None
        self.forwarded: list[str] = []
        self.dropped: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            request = _read_request(client)
            if request is None:
                return
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            with socket.create_connection(self.upstream, timeout=10) as upstream:
                upstream.sendall(request)
                answer = _read_to_end(upstream)
            self.forwarded.append(line)
            if self.drop is not None and self.drop in line:
                self.drop = None
                self.dropped.append(line)
                return  # applied, answered, and the answer never reaches the adapter
            client.sendall(answer)


def _read_request(sock: socket.socket) -> bytes | None:
    """One request (head and ``Content-Length`` body) with ``Connection: close``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = 0
    kept = [lines[0]]
    for header in lines[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() != b"connection":
            kept.append(header)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n" + body


def _read_to_end(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def proxy(pds: PdsAccount) -> Iterator[DroppingProxy]:
    running_proxy = DroppingProxy(pds.url)
    yield running_proxy
    running_proxy.close()


def test_a_create_applied_but_unanswered_is_found_by_lookup_and_not_posted_twice(
    pds: PdsAccount, make_adapter: MakeAdapter, proxy: DroppingProxy
) -> None:
    adapter = make_adapter(api_base=proxy.url)
    text = f"Dropped after the PDS applied it #Vokasi {uuid.uuid4().hex[:8]}"
    part = Part(index=1, total=1, text=text, length=len(text), limit=300, facets=facets(text))
    ctx = MemoryContext(uuid.uuid4().hex)
    since = datetime.now(UTC)

    proxy.drop = CREATE_RECORD
    with pytest.raises(OutcomeUnknown):
        adapter.publish(part, ctx)
    assert len(proxy.dropped) == 1
    [applied] = [r for r in all_posts(pds) if r["value"]["text"] == text]  # it went out

    found = adapter.lookup(part, ctx, since=since)  # a single post: replies to nothing
    assert found is not None
    assert found.remote_id == applied["uri"] and found.data["cid"] == applied["cid"]
    assert found.remote_id.endswith(f"/{POST}/{ctx.state['rkey']}")

    again = adapter.publish(part, ctx)  # what a retry of the post would do
    assert again.remote_id == found.remote_id
    assert [r["uri"] for r in all_posts(pds) if r["value"]["text"] == text] == [applied["uri"]]
    assert sum(CREATE_RECORD in line for line in proxy.forwarded) == 1


def test_the_image_caps_are_the_pds_own(
    pds: PdsAccount, make_adapter: MakeAdapter, tmp_path: Path
) -> None:
    """1.5 MB: within an images embed's 2 MB (app.bsky.embed.images), over a card thumb's
    1 MB (app.bsky.embed.external): the PDS refuses it as a thumb, so the adapter sends the
    card without it and the post still goes out."""
    big = tiny_jpeg(1_500_000)
    (tmp_path / "big.jpg").write_bytes(big)
    adapter = make_adapter()

    def part(text: str, embed: dict[str, Any] | None = None) -> Part:
        text = f"{text} {uuid.uuid4().hex[:8]}"
        media = (Media("big.jpg", "Foto besar"),)
        return Part(1, 1, text, len(text), 300, media=media, embed=embed)

    as_image = stored(pds, adapter.publish(part("Foto besar"), MemoryContext("img")))
    blob = as_image["value"]["embed"]["images"][0]["image"]
    assert blob["size"] == len(big)

    login = {"identifier": pds.handle, "password": pds.password}
    session = requests.post(
        f"{pds.url}/xrpc/com.atproto.server.createSession", json=login, timeout=10
    ).json()
    card = external_embed("https://portal.go.id/berita", "Judul", "Ringkasan")
    record = {
        "$type": POST,
        "text": "card with a 1.5 MB thumb",
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "embed": {**card, "external": {**card["external"], "thumb": blob}},
    }
    refused = requests.post(
        f"{pds.url}{CREATE_RECORD}",
        json={"repo": pds.did, "collection": POST, "record": record},
        headers={"Authorization": f"Bearer {session['accessJwt']}"},
        timeout=10,
    )
    assert refused.status_code == 400, refused.text
    assert "blob too big (maximum 1000000" in refused.json()["message"], refused.text

    as_card = stored(pds, adapter.publish(part("Kartu", card), MemoryContext("card")))
    assert as_card["value"]["embed"] == card  # the card without its thumb


def test_a_renewed_session_is_used_without_logging_in_again(
    pds: PdsAccount, make_adapter: MakeAdapter, proxy: DroppingProxy
) -> None:
    """refreshSession on the real PDS rotates the refresh token: renewing twice works only
    when the adapter keeps the new one (a stale one would fall back to a new login)."""
    adapter = make_adapter(api_base=proxy.url)

    def part(text: str) -> Part:
        text = f"{text} {uuid.uuid4().hex[:8]}"
        return Part(1, 1, text, len(text), 300)

    adapter.publish(part("before renewal"), MemoryContext(uuid.uuid4().hex))
    adapter.refresh_credentials()
    adapter.refresh_credentials()
    after = adapter.publish(part("after renewal"), MemoryContext(uuid.uuid4().hex))
    assert stored(pds, after)["value"]["text"].startswith("after renewal")
    calls = [line.split()[1].removeprefix("/xrpc/").split("?")[0] for line in proxy.forwarded]
    assert calls.count("com.atproto.server.createSession") == 1
    assert calls.count("com.atproto.server.refreshSession") == 2
