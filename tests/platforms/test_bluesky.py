"""Bluesky adapter specifics: one login, token refresh, rkeys, facets, langs, image sizes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dissem.compose import compose
from dissem.compose.types import Media, Part
from dissem.config.models import Release
from dissem.errors import ContentRejected, OutcomeUnknown
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.bluesky import _TID_CHARS, new_tid
from dissem.sandbox import Fault, RunningSandbox
from dissem.sandbox.uploads import png

MakeAdapter = Callable[..., Platform]
HANDLE = "news.example.org"


def part(text: str, facets: tuple[dict[str, Any], ...] = ()) -> Part:
    return Part(index=1, total=1, text=text, length=len(text), limit=300, facets=facets)


def logins(sandbox: RunningSandbox) -> int:
    count: int = sandbox.state.bucket("bluesky").get("logins", {}).get(HANDLE, 0)
    return count


def test_one_login_then_refresh_when_the_access_token_expires(
    make_adapter: MakeAdapter, sandbox: RunningSandbox, clock: Any, unique: Callable[[str], str]
) -> None:
    before = logins(sandbox)
    b = make_adapter("bluesky")
    for i in range(3):
        b.publish(part(unique(f"post {i}")), MemoryContext(f"k{i}"))
    assert logins(sandbox) == before + 1
    clock.advance(timedelta(hours=3))  # access token (2 h) expired: refreshSession, no login
    b.publish(part(unique("after expiry")), MemoryContext("k4"))
    assert logins(sandbox) == before + 1
    clock.advance(timedelta(days=91))  # refresh token expired too: one new login
    b.publish(part(unique("after refresh expiry")), MemoryContext("k5"))
    assert logins(sandbox) == before + 2


def test_rkey_is_remembered_before_the_first_attempt_and_reused(
    make_adapter: MakeAdapter, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    b = make_adapter("bluesky")
    ctx = MemoryContext("k")
    sandbox.faults.force("bluesky", Fault.ERROR)
    with pytest.raises(OutcomeUnknown):
        b.publish(part(unique("first try fails")), ctx)
    rkey = ctx.state["rkey"]
    assert len(rkey) == 13
    post = b.publish(part(unique("second try")), ctx)
    assert post.remote_id.endswith(f"/app.bsky.feed.post/{rkey}")
    assert post.url == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
    assert post.data["cid"].startswith("bafyrei")


def test_after_a_drop_a_retry_finds_the_record_instead_of_a_500(
    make_adapter: MakeAdapter, sandbox: RunningSandbox, unique: Callable[[str], str], published: Any
) -> None:
    b = make_adapter("bluesky")
    p, ctx = part(unique("dropped")), MemoryContext("k")
    sandbox.faults.force("bluesky", Fault.DROP)
    with pytest.raises(OutcomeUnknown):
        b.publish(p, ctx)
    retried = b.publish(p, ctx)
    assert [x["remote_id"] for x in published() if x["text"] == p.text] == [retried.remote_id]


def test_facets_are_checked_as_utf8_byte_offsets(
    make_adapter: MakeAdapter, unique: Callable[[str], str]
) -> None:
    b = make_adapter("bluesky")
    text = unique("Kabar baru 日本 #berita")
    data = text.encode()
    start = data.index(b"#berita")
    tag = {"$type": "app.bsky.richtext.facet#tag", "tag": "berita"}
    good = {"index": {"byteStart": start, "byteEnd": start + 7}, "features": [tag]}
    assert b.publish(part(text, (good,)), MemoryContext("a")).remote_id
    other = unique("Kabar 日本 #x").encode()
    inside_a_character = other.index("日".encode()) + 1
    bad = {"index": {"byteStart": inside_a_character, "byteEnd": len(other)}, "features": [tag]}
    with pytest.raises(ContentRejected, match="boundaries"):
        b.publish(part(other.decode(), (bad,)), MemoryContext("b"))
    beyond = {"index": {"byteStart": 0, "byteEnd": len(data) + 5}, "features": [tag]}
    with pytest.raises(ContentRejected):
        b.publish(part(unique("short"), (beyond,)), MemoryContext("c"))


def test_thread_replies_carry_root_and_parent_refs(
    make_adapter: MakeAdapter, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    b = make_adapter("bluesky")
    root = b.publish(part(unique("root")), MemoryContext("r"))
    mid = b.publish(part(unique("mid")), MemoryContext("m"), reply_to=root, root=root)
    leaf = b.publish(part(unique("leaf")), MemoryContext("l"), reply_to=mid, root=root)
    record = sandbox.state.get_post("bluesky", leaf.remote_id).extra["record"]  # type: ignore[union-attr]
    assert record["reply"]["root"] == {"uri": root.remote_id, "cid": root.data["cid"]}
    assert record["reply"]["parent"] == {"uri": mid.remote_id, "cid": mid.data["cid"]}


def test_tids_are_sortable_and_increasing() -> None:
    tids = [new_tid() for _ in range(200)]
    assert tids == sorted(tids) and len(set(tids)) == 200
    assert all(len(t) == 13 and set(t) <= set(_TID_CHARS) for t in tids)
    assert tids[0][0] in "234567abcdefghij"  # top bit zero


# --- langs and image sizes (issue 9) ------------------------------------------------------


def record_of(sandbox: RunningSandbox, uri: str) -> dict[str, Any]:
    post = sandbox.state.get_post("bluesky", uri)
    assert post is not None
    record: dict[str, Any] = post.extra["record"]
    return record


def test_a_release_in_another_language_than_the_channel_gets_its_own_langs(
    make_adapter: MakeAdapter,
    sandbox: RunningSandbox,
    specs: dict[str, Any],
    unique: Callable[[str], str],
) -> None:
    """An Indonesian release without an English translation, on an English channel: the
    text is Indonesian, and so must ``langs`` be (the composer writes options["langs"])."""
    release = Release.model_validate(
        {
            "id": "pengumuman",
            "title": unique("Pengumuman layanan konsuler"),
            "summary": "Layanan paspor dibuka kembali mulai Senin.",
            "url": "https://portal.example/berita/paspor",
            "language": "id",
            "targets": ["bluesky-test"],
        }
    )
    channel = specs["bluesky"].channel(language="en")
    [composed] = compose(release, channel, datetime.now(UTC))
    assert composed.options["langs"] == ["id"]
    b = make_adapter("bluesky", language="en")
    post = b.publish(composed, MemoryContext("k"))
    assert record_of(sandbox, post.remote_id)["langs"] == ["id"]
    translated = Part(1, 1, unique("In English"), 10, 300, options={"langs": ["en", "id"]})
    both = b.publish(translated, MemoryContext("k2"))
    assert record_of(sandbox, both.remote_id)["langs"] == ["en", "id"]
    legacy = b.publish(part(unique("no langs option")), MemoryContext("k3"))
    assert record_of(sandbox, legacy.remote_id)["langs"] == ["en"]


@pytest.fixture
def images(make_adapter: MakeAdapter, tmp_path: Path) -> Platform:
    """A Bluesky adapter whose config folder holds a 1.5 MB and a 2.5 MB image."""
    (tmp_path / "big.png").write_bytes(png(64, 36) + bytes(1_500_000))
    (tmp_path / "huge.png").write_bytes(png(64, 36) + bytes(2_500_000))
    adapter = make_adapter("bluesky")
    adapter.settings = adapter.settings.model_copy(update={"config_dir": tmp_path})
    return adapter


def with_image(text: str, src: str, *, card: bool = False) -> Part:
    embed = {
        "$type": "app.bsky.embed.external",
        "external": {"uri": "https://portal.example/a", "title": text, "description": "d"},
    }
    return Part(
        1, 1, text, len(text), 300, media=(Media(src, "a map"),), embed=embed if card else None
    )


def test_an_images_embed_takes_up_to_two_million_bytes_a_card_thumb_one(
    images: Platform,
    sandbox: RunningSandbox,
    unique: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    post = images.publish(with_image(unique("big image"), "big.png"), MemoryContext("a"))
    embed = record_of(sandbox, post.remote_id)["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert embed["images"][0]["image"]["size"] == len(png(64, 36)) + 1_500_000
    assert embed["images"][0]["alt"] == "a map"
    with caplog.at_level(logging.WARNING, logger="dissem.platforms.media"):
        card = images.publish(with_image(unique("card"), "big.png", card=True), MemoryContext("b"))
        huge = images.publish(with_image(unique("huge"), "huge.png"), MemoryContext("c"))
    external = record_of(sandbox, card.remote_id)["embed"]["external"]
    assert "thumb" not in external  # the card stays, without a thumb over 1,000,000 bytes
    assert "embed" not in record_of(sandbox, huge.remote_id)
    assert sum("big.png" in r.getMessage() for r in caplog.records) == 1
    assert sum("huge.png" in r.getMessage() for r in caplog.records) == 1
