"""Raw-HTTP checks of the X stand-in's answers for what X documents: a GIF refused by the
one-shot upload and taken by the chunked one (processing, STATUS), the 24-hour posting caps
and their headers, and lookups asking for non-public metrics of posts that have none."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from dissem.sandbox import RunningSandbox
from dissem.sandbox.uploads import png
from tests.sandbox.sandbox_fixtures import Clock

GIF = b"GIF89a" + bytes(range(256)) * 40  # a GIF by its signature, 10 246 bytes
PNG = png(8, 8)
INVALID = "https://api.twitter.com/2/problems/invalid-request"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers["Authorization"] = "Bearer x-raw-token-1"
        yield s


def x(sb: RunningSandbox) -> str:
    return f"{sb.url}/x/2"


def one_shot(
    sb: RunningSandbox, http: requests.Session, data: bytes, category: str
) -> requests.Response:
    return http.post(
        f"{x(sb)}/media/upload",
        files={"media": ("m", data, "image/gif")},
        data={"media_category": category},
    )


def chunked(sb: RunningSandbox, http: requests.Session, data: bytes, pieces: int = 2) -> str:
    """Uploads ``data`` as a tweet_gif in ``pieces`` APPENDs; returns the media id (not yet
    finalized)."""
    init = http.post(
        f"{x(sb)}/media/upload/initialize",
        json={"media_type": "image/gif", "total_bytes": len(data), "media_category": "tweet_gif"},
    )
    assert init.status_code == 200, init.text
    media_id: str = init.json()["data"]["id"]
    assert init.json()["data"]["media_key"] == f"16_{media_id}"
    step = -(-len(data) // pieces)
    for index in range(pieces):
        chunk = data[index * step : (index + 1) * step]
        answer = http.post(
            f"{x(sb)}/media/upload/{media_id}/append",
            data={"segment_index": str(index)},
            files={"media": ("blob", chunk, "application/octet-stream")},
        )
        assert answer.status_code == 200 and "expires_at" in answer.json()["data"]
    return media_id


def tweet(sb: RunningSandbox, http: requests.Session, text: str, media_id: str) -> Any:
    return http.post(f"{x(sb)}/tweets", json={"text": text, "media": {"media_ids": [media_id]}})


def test_the_one_shot_upload_refuses_a_gif_as_x_does(
    sb: RunningSandbox, http: requests.Session
) -> None:
    by_category = one_shot(sb, http, GIF, "tweet_gif")
    assert by_category.status_code == 400
    body = by_category.json()
    assert body["type"] == INVALID and body["title"] == "Invalid Request"
    assert body["errors"][0]["parameters"] == {"media_category": ["tweet_gif"]}
    by_bytes = one_shot(sb, http, GIF, "tweet_image")
    assert by_bytes.status_code == 400
    assert by_bytes.json()["errors"][0]["parameters"] == {"media_type": ["image/gif"]}
    assert one_shot(sb, http, PNG, "tweet_image").status_code == 200


def test_a_gif_goes_up_in_chunks_and_is_attached_once_processed(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    sb.state.bucket("x")["gif_processing_seconds"] = 3
    media_id = chunked(sb, http, GIF)
    final = http.post(f"{x(sb)}/media/upload/{media_id}/finalize").json()["data"]
    assert final["size"] == len(GIF)
    assert final["processing_info"] == {
        "state": "pending",
        "check_after_secs": 1,
        "progress_percent": 0,
    }
    assert tweet(sb, http, "too early", media_id).status_code == 400  # still processing
    clock.now += timedelta(seconds=1)
    status = http.get(f"{x(sb)}/media/upload", params={"command": "STATUS", "media_id": media_id})
    assert status.json()["data"]["processing_info"]["state"] == "in_progress"
    clock.now += timedelta(seconds=2)
    status = http.get(f"{x(sb)}/media/upload", params={"command": "STATUS", "media_id": media_id})
    assert status.json()["data"]["processing_info"] == {
        "state": "succeeded",
        "progress_percent": 100,
    }
    meta = {"id": media_id, "metadata": {"alt_text": {"text": "A waving flag"}}}
    assert http.post(f"{x(sb)}/media/metadata", json=meta).status_code == 200
    assert tweet(sb, http, "a gif", media_id).status_code == 201
    [post] = [p for p in requests.get(f"{sb.url}/_sandbox/posts").json() if p["text"] == "a gif"]
    assert post["images"][0]["mime"] == "image/gif" and post["images"][0]["alt"] == "A waving flag"
    refinalize = http.post(f"{x(sb)}/media/upload/{media_id}/finalize")
    assert refinalize.status_code == 400


def test_chunked_upload_checks_sizes_order_and_content(
    sb: RunningSandbox, http: requests.Session
) -> None:
    short = chunked(sb, http, GIF, pieces=1)
    http.post(
        f"{x(sb)}/media/upload/{short}/append",
        data={"segment_index": "1"},
        files={"media": ("blob", b"extra", "application/octet-stream")},
    )
    mismatch = http.post(f"{x(sb)}/media/upload/{short}/finalize")
    assert mismatch.status_code == 400 and "total file size" in mismatch.json()["detail"]
    too_big = http.post(
        f"{x(sb)}/media/upload/initialize",
        json={
            "media_type": "image/gif",
            "total_bytes": 15 * 1024 * 1024 + 1,
            "media_category": "tweet_gif",
        },
    )
    assert too_big.status_code == 400
    not_a_gif = chunked(sb, http, b"\x00" * 100, pieces=1)
    final = http.post(f"{x(sb)}/media/upload/{not_a_gif}/finalize").json()["data"]
    assert final["processing_info"]["state"] == "failed"
    assert final["processing_info"]["error"]["name"] == "InvalidMedia"
    assert tweet(sb, http, "broken", not_a_gif).status_code == 400
    other = requests.get(
        f"{x(sb)}/media/upload",
        params={"command": "STATUS", "media_id": not_a_gif},
        headers={"Authorization": "Bearer someone"},
    )
    assert other.status_code == 400  # not the caller's upload


def test_the_command_form_of_the_chunked_upload_works_too(
    sb: RunningSandbox, http: requests.Session
) -> None:
    form = {
        "command": "INIT",
        "media_type": "image/gif",
        "total_bytes": str(len(GIF)),
        "media_category": "tweet_gif",
    }
    init = http.post(f"{x(sb)}/media/upload", files={"x": (None, "")}, data=form)
    media_id = init.json()["data"]["id"]
    append = {"command": "APPEND", "media_id": media_id, "segment_index": "0"}
    assert http.post(
        f"{x(sb)}/media/upload",
        data=append,
        files={"media": ("blob", GIF, "application/octet-stream")},
    ).ok
    as_json = {"command": "FINALIZE", "media_id": media_id}
    assert "processing_info" not in http.post(f"{x(sb)}/media/upload", json=as_json).json()["data"]
    assert tweet(sb, http, "command form", media_id).status_code == 201
    b64 = {"media": base64.b64encode(PNG).decode(), "media_category": "tweet_image"}
    assert http.post(f"{x(sb)}/media/upload", json=b64).ok


def test_the_24_hour_caps_answer_429_with_their_own_headers(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    sb.state.bucket("x")["user_24h_limit"] = 2
    first_at = clock.now
    first = http.post(f"{x(sb)}/tweets", json={"text": "one"})
    assert first.status_code == 201
    assert first.headers["x-user-limit-24hour-limit"] == "2"
    assert first.headers["x-user-limit-24hour-remaining"] == "1"
    clock.now += timedelta(hours=1)
    assert (
        http.post(f"{x(sb)}/tweets", json={"text": "two"}).headers["x-user-limit-24hour-remaining"]
        == "0"
    )
    over = http.post(f"{x(sb)}/tweets", json={"text": "three"})
    assert over.status_code == 429
    assert over.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    assert over.headers["x-user-limit-24hour-remaining"] == "0"
    day_reset = int((first_at + timedelta(hours=24)).timestamp())
    assert over.headers["x-user-limit-24hour-reset"] == str(day_reset)
    window = int(over.headers["x-rate-limit-reset"])
    assert window < day_reset and over.headers["x-rate-limit-remaining"] != "0"
    other = requests.post(
        f"{x(sb)}/tweets", json={"text": "three"}, headers={"Authorization": "Bearer x-raw-token-2"}
    )
    assert other.status_code == 201  # the user cap is per account
    clock.now = first_at + timedelta(hours=24)
    assert http.post(f"{x(sb)}/tweets", json={"text": "three"}).status_code == 201
    sb.state.bucket("x").pop("user_24h_limit")
    sb.state.bucket("x")["app_24h_limit"] = 1
    app = requests.post(
        f"{x(sb)}/tweets", json={"text": "four"}, headers={"Authorization": "Bearer x-raw-token-3"}
    )
    assert app.status_code == 429 and app.headers["x-app-limit-24hour-remaining"] == "0"


def test_non_public_metrics_of_an_old_or_foreign_post_drop_it_with_errors(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    old = http.post(f"{x(sb)}/tweets", json={"text": "old post"}).json()["data"]["id"]
    clock.now += timedelta(days=30)
    young = http.post(f"{x(sb)}/tweets", json={"text": "young post"}).json()["data"]["id"]
    fields = "public_metrics,non_public_metrics"
    answer = http.get(f"{x(sb)}/tweets", params={"ids": f"{old},{young},7", "tweet.fields": fields})
    assert answer.status_code == 200
    body = answer.json()
    [kept] = body["data"]
    assert kept["id"] == young and set(kept["non_public_metrics"]) == {
        "impression_count",
        "url_link_clicks",
        "user_profile_clicks",
    }
    refused = [e for e in body["errors"] if e["resource_id"] == old]
    assert [e["field"] for e in refused] == [
        "non_public_metrics.impression_count",
        "non_public_metrics.url_link_clicks",
        "non_public_metrics.user_profile_clicks",
    ]
    assert {e["title"] for e in refused} == {"Field Authorization Error"}
    assert {e["type"] for e in refused} == {
        "https://api.twitter.com/2/problems/not-authorized-for-field"
    }
    assert {(e["section"], e["parameter"], e["value"]) for e in refused} == {("data", "ids", old)}
    [missing] = [e for e in body["errors"] if e["resource_id"] == "7"]
    assert missing["title"] == "Not Found Error"
    assert missing["type"] == "https://api.twitter.com/2/problems/resource-not-found"
    public = http.get(f"{x(sb)}/tweets", params={"ids": old, "tweet.fields": "public_metrics"})
    assert "errors" not in public.json() and public.json()["data"][0]["id"] == old
    foreign = requests.get(
        f"{x(sb)}/tweets",
        params={"ids": young, "tweet.fields": fields},
        headers={"Authorization": "Bearer someone-else"},
    )
    assert "data" not in foreign.json() and len(foreign.json()["errors"]) == 3
