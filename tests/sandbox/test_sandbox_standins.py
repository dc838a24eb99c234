"""Raw-HTTP checks of platform behaviours the stand-ins must reproduce."""

from __future__ import annotations

from datetime import timedelta

import requests

from dissem.sandbox import RunningSandbox
from tests.sandbox.sandbox_fixtures import Clock


def bsky_login(s: requests.Session, sb: RunningSandbox) -> dict[str, str]:
    r = s.post(f"{sb.url}/bluesky/xrpc/com.atproto.server.createSession",
               json={"identifier": "raw.example.org", "password": "pw-raw"})  # fmt: skip
    assert r.status_code == 200
    session: dict[str, str] = r.json()
    return session


def test_bluesky_reused_rkey_is_a_500_and_expired_tokens_say_so(
    sb: RunningSandbox, clock: Clock
) -> None:
    with requests.Session() as s:
        session = bsky_login(s, sb)
        auth = {"Authorization": f"Bearer {session['accessJwt']}"}
        record = {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-01-01T00:00:00Z"}
        body = {"repo": session["did"], "collection": "app.bsky.feed.post", "rkey": "3kabc2xyz2222",
                "record": record}  # fmt: skip
        url = f"{sb.url}/bluesky/xrpc/com.atproto.repo.createRecord"
        assert s.post(url, json=body, headers=auth).status_code == 200
        assert s.post(url, json=body, headers=auth).status_code == 500
        got = s.get(f"{sb.url}/bluesky/xrpc/com.atproto.repo.getRecord",
                    params={"repo": session["did"], "collection": "app.bsky.feed.post",
                            "rkey": "3kabc2xyz2222"})  # fmt: skip
        assert got.json()["value"]["text"] == "hi"
        clock.now += timedelta(hours=2, seconds=1)
        expired = s.post(url, json={**body, "rkey": "3kabc2xyz3333"}, headers=auth)
        assert expired.status_code == 400 and expired.json()["error"] == "ExpiredToken"
        refresh = {"Authorization": f"Bearer {session['refreshJwt']}"}
        renewed = s.post(f"{sb.url}/bluesky/xrpc/com.atproto.server.refreshSession",
                         headers=refresh)  # fmt: skip
        assert renewed.status_code == 200
        reused = s.post(f"{sb.url}/bluesky/xrpc/com.atproto.server.refreshSession",
                        headers=refresh)  # fmt: skip
        assert reused.status_code == 400, "refresh tokens rotate"
        forged = session["accessJwt"][:-4] + "AAAA"
        bad = s.post(url, json=body, headers={"Authorization": f"Bearer {forged}"})
        assert bad.status_code == 401 and bad.json()["error"] == "InvalidToken"


def test_x_duplicate_is_per_account_and_length_is_weighted(sb: RunningSandbox) -> None:
    with requests.Session() as s:

        def tweet(token: str) -> requests.Response:
            return s.post(f"{sb.url}/x/2/tweets", json={"text": "same words"},
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip

        assert tweet("account-a").status_code == 201
        dup = tweet("account-a")
        assert dup.status_code == 403 and "duplicate content" in dup.json()["detail"]
        assert tweet("account-b").status_code == 201
        assert tweet("").status_code == 401
        too_long = s.post(f"{sb.url}/x/2/tweets", json={"text": "日" * 141},
                          headers={"Authorization": "Bearer account-a"})  # fmt: skip
        assert too_long.status_code == 400


def test_telegram_throttle_carries_retry_after_in_the_body(sb: RunningSandbox) -> None:
    from dissem.sandbox import Fault

    sb.faults.force("telegram", Fault.THROTTLE)
    r = requests.post(f"{sb.url}/telegram/bot1:abc/sendMessage",
                      json={"chat_id": "@c", "text": "x"}, timeout=5)  # fmt: skip
    assert r.status_code == 429
    assert r.json()["parameters"]["retry_after"] == 7


def test_mastodon_states_and_enforces_its_limits_and_reads_statuses_in_batches(
    sb: RunningSandbox,
) -> None:
    base = f"{sb.url}/mastodon/api"
    auth = {"Authorization": "Bearer masto-raw"}
    bucket = sb.state.bucket("mastodon")
    bucket["instance"] = {"max_characters": 100, "characters_reserved_per_url": 10}
    with requests.Session() as s:
        s.headers.update(auth)
        described = s.get(f"{base}/v2/instance").json()
        assert described["version"] == "4.3.0"
        statuses = described["configuration"]["statuses"]
        assert (statuses["max_characters"], statuses["characters_reserved_per_url"]) == (100, 10)
        assert statuses["max_media_attachments"] == 4
        media = described["configuration"]["media_attachments"]
        assert (media["image_size_limit"], media["description_limit"]) == (16777216, 1500)
        link = "https://portal.go.id/" + "a" * 200  # counts 10 on this server
        fits = s.post(f"{base}/v1/statuses", data={"status": "x" * 89 + " " + link})
        assert fits.status_code == 200
        over = s.post(f"{base}/v1/statuses", data={"status": "x" * 101})
        assert over.status_code == 422 and "character limit of 100" in over.json()["error"]
        ids = [fits.json()["id"], "1", fits.json()["id"]]
        batch = s.get(f"{base}/v1/statuses", params={"id[]": ids})
        assert batch.status_code == 200 and [x["id"] for x in batch.json()] == [ids[0]]
        too_many = s.get(f"{base}/v1/statuses", params={"id[]": [str(i) for i in range(21)]})
        assert too_many.status_code == 422
        bucket["instance"] = {"version": "4.2.10"}
        old = s.get(f"{base}/v1/statuses", params={"id[]": ids})
        assert old.status_code == 404 and old.headers["Content-Type"].startswith("text/html")
        bucket["instance_v2"] = False
        assert s.get(f"{base}/v2/instance").status_code == 404
