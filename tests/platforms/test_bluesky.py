"""Bluesky adapter specifics: one login, token refresh, rkeys, facets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from dissem.compose.types import Part
from dissem.errors import ContentRejected, OutcomeUnknown
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.bluesky import _TID_CHARS, new_tid
from dissem.sandbox import Fault, RunningSandbox

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
