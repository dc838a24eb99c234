"""The sandbox server: routing, keep-alive speed, internal endpoints, feed page, state."""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.sandbox import Fault, start_sandbox
from dissem.sandbox.core import STAND_IN_MODULES
from dissem.sandbox.server import _Handler
from dissem.sandbox.state import engagement

MASTODON = {"Authorization": "Bearer core-test-token"}


def test_handler_keeps_connections_alive_without_nagle() -> None:
    assert _Handler.protocol_version == "HTTP/1.1"
    assert _Handler.disable_nagle_algorithm is True


def test_many_requests_on_one_connection_are_fast() -> None:
    with start_sandbox() as sb:
        conn = http.client.HTTPConnection("127.0.0.1", int(sb.url.rsplit(":", 1)[1]))
        started = time.perf_counter()
        for _ in range(100):
            conn.request("GET", "/_sandbox/health")
            assert conn.getresponse().read()
        elapsed = time.perf_counter() - started
        sock = conn.sock
        conn.request("GET", "/_sandbox/health")
        conn.getresponse().read()
        assert conn.sock is sock  # the same connection served every request
        conn.close()
    assert elapsed < 2.0, f"100 keep-alive requests took {elapsed:.2f}s (Nagle?)"


def test_internal_endpoints_and_routing_errors() -> None:
    with start_sandbox() as sb, requests.Session() as s:
        platforms = s.get(f"{sb.url}/_sandbox/platforms").json()
        assert platforms == {name: f"{sb.url}/{name}" for name in STAND_IN_MODULES}
        assert len(platforms) == 8
        assert s.get(f"{sb.url}/myspace/api").status_code == 404
        missing = s.get(f"{sb.url}/mastodon/api/v1/nothing", headers=MASTODON)
        assert missing.status_code == 404 and "error" in missing.json()
        wrong = s.delete(f"{sb.url}/mastodon/api/v1/statuses", headers=MASTODON)
        assert wrong.status_code == 405
        bad_json = s.post(f"{sb.url}/x/2/tweets", data=b"{not json", headers=MASTODON)
        assert bad_json.status_code == 400 and bad_json.json()["title"] == "Invalid Request"


def test_missing_or_empty_credentials_get_the_platform_401() -> None:
    with start_sandbox() as sb, requests.Session() as s:
        m = s.post(f"{sb.url}/mastodon/api/v1/statuses", json={"status": "x"},
                   headers={"Authorization": "Bearer "})  # fmt: skip
        assert m.status_code == 401 and m.json() == {"error": "The access token is invalid"}
        # Telegram answers a missing or malformed bot token with 404 "Not Found"
        t = s.post(f"{sb.url}/telegram/bot/sendMessage", json={"chat_id": "@a", "text": "x"})
        assert t.status_code == 404 and t.json()["ok"] is False
        b = s.post(f"{sb.url}/bluesky/xrpc/com.atproto.server.createSession",
                   json={"identifier": "a.example", "password": ""})  # fmt: skip
        assert b.status_code == 401 and b.json()["error"] == "AuthenticationRequired"
        x = s.post(f"{sb.url}/x/2/tweets", json={"text": "x"})
        assert x.status_code == 401 and x.json()["title"] == "Unauthorized"


def test_feed_page_escapes_text_and_shows_newest_first() -> None:
    with start_sandbox() as sb, requests.Session() as s:
        for text in ("older <script>alert(1)</script>", "newer & shinier"):
            r = s.post(f"{sb.url}/mastodon/api/v1/statuses", json={"status": text},
                       headers=MASTODON)  # fmt: skip
            assert r.status_code == 200
        page = s.get(f"{sb.url}/").text
    assert "<script>alert" not in page
    assert "older &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.index("newer &amp; shinier") < page.index("older")
    assert "2 posts" in page


def test_drop_applies_then_closes_without_answer() -> None:
    with start_sandbox() as sb, requests.Session() as s:
        sb.faults.force("mastodon", Fault.DROP)
        with pytest.raises(requests.ConnectionError):
            s.post(f"{sb.url}/mastodon/api/v1/statuses", json={"status": "dropped"},
                   headers=MASTODON)  # fmt: skip
        assert [p.text for p in sb.state.posts("mastodon")] == ["dropped"]


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    with start_sandbox(state_path=path) as sb:
        first = requests.post(f"{sb.url}/mastodon/api/v1/statuses", json={"status": "kept"},
                              headers=MASTODON, timeout=5).json()  # fmt: skip
    assert path.exists()
    with start_sandbox(state_path=path) as sb, requests.Session() as s:
        posts = s.get(f"{sb.url}/_sandbox/posts").json()
        assert [(p["text"], p["remote_id"]) for p in posts] == [("kept", first["id"])]
        second = s.post(f"{sb.url}/mastodon/api/v1/statuses", json={"status": "new"},
                        headers=MASTODON).json()  # fmt: skip
        assert second["id"] != first["id"]
        assert s.get(f"{sb.url}/mastodon/api/v1/statuses/{first['id']}",
                     headers=MASTODON).status_code == 200  # fmt: skip


def test_posts_list_has_the_documented_fields() -> None:
    with start_sandbox() as sb, requests.Session() as s:
        s.post(f"{sb.url}/mastodon/api/v1/statuses", json={"status": "fields"},
               headers={**MASTODON, "Idempotency-Key": "idem-1"})  # fmt: skip
        (post,) = s.get(f"{sb.url}/_sandbox/posts").json()
    assert {"platform", "account", "text", "remote_id", "reply_to", "idempotency_key", "rkey",
            "created_at"} <= set(post)  # fmt: skip
    assert post["idempotency_key"] == "idem-1"


T0 = datetime(2026, 1, 1, tzinfo=UTC)


@settings(max_examples=50, deadline=None)
@given(
    remote_id=st.text(min_size=1, max_size=30),
    a=st.integers(0, 10**7),
    b=st.integers(0, 10**7),
)
def test_engagement_starts_at_zero_and_never_decreases(remote_id: str, a: int, b: int) -> None:
    assert set(engagement(remote_id, T0, T0).values()) == {0}
    early, late = sorted((a, b))
    first = engagement(remote_id, T0, T0 + timedelta(seconds=early))
    second = engagement(remote_id, T0, T0 + timedelta(seconds=late))
    assert all(second[k] >= first[k] for k in first)
    assert engagement(remote_id, T0, T0 + timedelta(hours=2))["views"] > 0
