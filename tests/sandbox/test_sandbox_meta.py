"""Raw-HTTP checks of the Facebook, Instagram and Threads stand-ins: Graph's shapes, auth,
throttling by error code, containers over time, validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from dissem.sandbox import Fault, RunningSandbox
from tests.sandbox.sandbox_fixtures import Clock

V = "v23.0"
AUTH = {"Authorization": "Bearer meta-raw-token"}
IMAGE = "https://example.org/i.jpg"


@pytest.fixture
def http(sb: RunningSandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(AUTH)
        yield session


def graph_error(response: requests.Response) -> dict[str, Any]:
    err: dict[str, Any] = response.json()["error"]
    assert {"message", "type", "code", "fbtrace_id"} <= set(err)
    return err


def test_tokens_are_accepted_as_header_query_or_form_and_required(sb: RunningSandbox) -> None:
    url = f"{sb.url}/facebook/{V}/42/feed"
    assert requests.post(url, data={"message": "a", "access_token": "t1"}).status_code == 200
    assert requests.post(url, params={"access_token": "t2"}, data={"message": "b"}).ok
    assert requests.post(url, data={"message": "c"}, headers=AUTH).ok
    for headers in ({}, {"Authorization": "Bearer "}):
        refused = requests.post(url, data={"message": "d"}, headers=headers)
        assert refused.status_code == 400 and graph_error(refused)["code"] == 190
        assert graph_error(refused)["type"] == "OAuthException"


def test_facebook_feed_duplicates_listing_and_engagement(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    feed = f"{sb.url}/facebook/{V}/42/feed"
    first = http.post(feed, data={"message": "Hello", "link": "https://e.org/a"}).json()["id"]
    assert first.startswith("42_")
    again = http.post(feed, data={"message": "Hello", "link": "https://e.org/a"})
    assert again.status_code == 400 and graph_error(again)["code"] == 506
    assert http.post(feed, data={}).status_code == 400
    assert graph_error(http.post(feed, data={"message": "x", "link": "e.org"}))["code"] == 100
    since = int(clock.now.timestamp())
    clock.now += timedelta(hours=25)
    assert http.post(feed, data={"message": "Hello", "link": "https://e.org/a"}).ok
    listed = http.get(f"{sb.url}/facebook/{V}/42/posts", params={"since": since + 60}).json()
    assert [p["message"] for p in listed["data"]] == ["Hello"]
    assert set(listed["data"][0]) == {"id", "message", "created_time", "permalink_url"}
    fields = "reactions.summary(total_count),comments.summary(total_count),shares"
    got = http.get(f"{sb.url}/facebook/{V}/", params={"ids": f"{first},42_404", "fields": fields})
    body = got.json()
    assert set(body) == {first}
    assert body[first]["reactions"]["summary"]["total_count"] > 0
    ids = ",".join(f"42_{i}" for i in range(51))
    assert graph_error(http.get(f"{sb.url}/facebook/{V}/", params={"ids": ids}))["code"] == 100


def test_facebook_refusals_carry_graphs_codes_subcodes_and_texts(
    sb: RunningSandbox, http: requests.Session
) -> None:
    feed = f"{sb.url}/facebook/{V}/43/feed"
    assert http.post(feed, data={"message": "Once"}).ok
    again = graph_error(http.post(feed, data={"message": "Once"}))
    assert (again["code"], again["error_subcode"], again["type"]) == (
        506,
        1455006,
        "OAuthException",
    )
    assert again["is_transient"] is False and again["error_user_title"] == "Duplicate Status Update"
    sb.state.bucket("facebook")["blocked_pages"] = ["43"]
    for edge, form in (("feed", {"message": "Blocked"}), ("photos", {"url": IMAGE})):
        answer = http.post(f"{sb.url}/facebook/{V}/43/{edge}", data=form)
        blocked = graph_error(answer)
        assert answer.status_code == 400 and (blocked["code"], blocked["error_subcode"]) == (
            368,
            1390008,
        )
        assert blocked["is_transient"] is True and "temporarily blocked" in blocked["message"]
        assert blocked["error_user_title"] and blocked["error_user_msg"]
    assert http.post(f"{sb.url}/facebook/{V}/44/feed", data={"message": "Other page"}).ok
    sb.state.bucket("facebook")["blocked_pages"] = []
    assert http.post(feed, data={"message": "Blocked"}).ok


def test_meta_throttling_is_an_error_code_with_usage_header(sb: RunningSandbox) -> None:
    cases = {
        "facebook": ("/42/feed", 32),
        "instagram": ("/1/media_publish", 80002),
        "threads": ("/1/threads_publish", 4),
    }
    for platform, (path, code) in cases.items():
        sb.faults.force(platform, Fault.THROTTLE)
        answer = requests.post(f"{sb.url}/{platform}/{V}{path}", headers=AUTH)
        assert answer.status_code == 400, platform
        assert graph_error(answer)["code"] == code
        usage = json.loads(answer.headers["X-Business-Use-Case-Usage"])
        [entry] = next(iter(usage.values()))
        assert entry["estimated_time_to_regain_access"] == 10


def test_server_error_shape(sb: RunningSandbox) -> None:
    sb.faults.force("facebook", Fault.ERROR)
    answer = requests.post(f"{sb.url}/facebook/{V}/42/feed", data={"message": "m"}, headers=AUTH)
    assert answer.status_code == 500 and graph_error(answer)["code"] == 1


def test_instagram_container_lifecycle(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    base = f"{sb.url}/instagram/{V}"
    sb.state.bucket("instagram")["processing_seconds"] = 30

    def status(container: str) -> str:
        answer = http.get(f"{base}/{container}", params={"fields": "status_code"}).json()
        value: str = answer["status_code"]
        return value

    container = http.post(f"{base}/7/media", data={"image_url": IMAGE, "caption": "c"}).json()["id"]
    assert status(container) == "IN_PROGRESS"
    early = http.post(f"{base}/7/media_publish", data={"creation_id": container})
    assert (graph_error(early)["code"], graph_error(early)["error_subcode"]) == (9007, 2207027)
    clock.now += timedelta(seconds=31)
    assert status(container) == "FINISHED"
    media = http.post(f"{base}/7/media_publish", data={"creation_id": container}).json()["id"]
    assert status(container) == "PUBLISHED"
    assert http.post(f"{base}/7/media_publish", data={"creation_id": container}).status_code == 400
    listed = http.get(f"{base}/7/media").json()["data"]
    assert [m["id"] for m in listed] == [media] and listed[0]["caption"] == "c"
    assert http.get(f"{base}/7/content_publishing_limit").json()["data"][0]["quota_usage"] == 1
    stale = http.post(f"{base}/7/media", data={"image_url": IMAGE}).json()["id"]
    clock.now += timedelta(hours=24)
    assert status(stale) == "EXPIRED"
    refused = http.post(f"{base}/7/media_publish", data={"creation_id": stale})
    assert refused.status_code == 400
    other = http.post(f"{base}/8/media_publish", data={"creation_id": container})
    assert "creation_id" in graph_error(other)["message"]


def test_threads_container_status_and_the_media_not_found_answer(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    """Threads processes text containers too; publishing one early answers code 24 /
    subcode 4279009 (and so does one younger than ``publish_lag_seconds``); a container that
    failed says why in ``error_message``."""
    base = f"{sb.url}/threads/v1.0"
    bucket = sb.state.bucket("threads")
    bucket.update(processing_seconds=10, failing_images={IMAGE: "UNKNOWN"})

    def status(container: str) -> dict[str, Any]:
        answer: dict[str, Any] = http.get(
            f"{base}/{container}", params={"fields": "status,error_message"}
        ).json()
        return answer

    text = {"media_type": "TEXT", "text": "hello"}
    container = http.post(f"{base}/5/threads", data=text).json()["id"]
    assert status(container) == {"id": container, "status": "IN_PROGRESS"}
    early = http.post(f"{base}/5/threads_publish", data={"creation_id": container})
    err = graph_error(early)
    assert early.status_code == 400 and (err["code"], err["error_subcode"]) == (24, 4279009)
    assert err["message"] == "The requested resource does not exist"
    assert err["error_user_title"] == "Media Not Found" and err["is_transient"] is False
    assert err["type"] == "OAuthException" and container in err["error_user_msg"]
    clock.now += timedelta(seconds=11)
    assert status(container)["status"] == "FINISHED"
    assert http.post(f"{base}/5/threads_publish", data={"creation_id": container}).ok
    bucket.update(processing_seconds=0, publish_lag_seconds=30)
    lagging = http.post(f"{base}/5/threads", data=text).json()["id"]
    assert status(lagging)["status"] == "FINISHED"
    refused = http.post(f"{base}/5/threads_publish", data={"creation_id": lagging})
    assert graph_error(refused)["error_subcode"] == 4279009
    image = {"media_type": "IMAGE", "image_url": IMAGE, "text": "x"}
    failed = http.post(f"{base}/5/threads", data=image).json()["id"]
    assert status(failed) == {"id": failed, "status": "ERROR", "error_message": "UNKNOWN"}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"caption": "no image"}, 100),
        ({"image_url": "local/file.jpg"}, 9004),
        ({"image_url": IMAGE, "caption": " ".join(f"#t{i}" for i in range(31))}, 100),
        ({"image_url": IMAGE, "caption": "x" * 2201}, 100),
    ],
)
def test_instagram_container_validation(
    sb: RunningSandbox, http: requests.Session, fields: dict[str, str], code: int
) -> None:
    answer = http.post(f"{sb.url}/instagram/{V}/7/media", data=fields)
    assert answer.status_code == 400 and graph_error(answer)["code"] == code


def test_insights_grow_and_refuse_retired_metrics(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    base = f"{sb.url}/instagram/{V}"
    container = http.post(f"{base}/7/media", data={"image_url": IMAGE}).json()["id"]
    media = http.post(f"{base}/7/media_publish", data={"creation_id": container}).json()["id"]
    url = f"{base}/{media}/insights"

    def views() -> int:
        data = http.get(url, params={"metric": "views,likes"}).json()["data"]
        assert [d["name"] for d in data] == ["views", "likes"]
        value: int = data[0]["values"][0]["value"]
        return value

    assert views() == 0
    clock.now += timedelta(hours=3)
    assert views() > 0
    retired = http.get(url, params={"metric": "impressions"})
    assert retired.status_code == 400 and graph_error(retired)["code"] == 100
    missing = http.get(f"{base}/123/insights", params={"metric": "views"})
    assert graph_error(missing).get("error_subcode") == 33


def test_threads_containers_links_replies_and_refresh(
    sb: RunningSandbox, http: requests.Session
) -> None:
    base = f"{sb.url}/threads/v1.0"

    def post(**fields: str) -> requests.Response:
        return http.post(f"{base}/me/threads", data=fields)

    text = post(media_type="TEXT", text="hello", link_attachment="https://e.org").json()["id"]
    status = http.get(f"{base}/{text}", params={"fields": "status"}).json()
    assert status == {"id": text, "status": "FINISHED"}  # Threads names it status
    root = http.post(f"{base}/me/threads_publish", data={"creation_id": text}).json()["id"]
    reply = post(media_type="TEXT", text="second", reply_to_id=root).json()["id"]
    http.post(f"{base}/me/threads_publish", data={"creation_id": reply})
    assert [t["text"] for t in http.get(f"{base}/me/threads").json()["data"]] == ["hello"]
    assert [t["text"] for t in http.get(f"{base}/me/replies").json()["data"]] == ["second"]
    links = " ".join(f"https://l{i}.example.org/." for i in range(6))
    refused = post(media_type="TEXT", text=links)
    assert "THREADS_API__LINK_LIMIT_EXCEEDED" in graph_error(refused)["message"]
    assert graph_error(post(media_type="IMAGE", image_url=IMAGE, link_attachment="https://e.org"))
    assert graph_error(post(media_type="TEXT", text="x", reply_to_id="999"))["code"] == 100
    assert graph_error(post(media_type="VIDEO", text="x"))["code"] == 100
    assert graph_error(post(media_type="TEXT", text="y" * 501))["code"] == 100
    limit = http.get(f"{base}/me/threads_publishing_limit").json()["data"][0]
    assert (limit["quota_usage"], limit["reply_quota_usage"]) == (1, 1)
    fresh = http.get(
        f"{sb.url}/threads/refresh_access_token",
        params={"grant_type": "th_refresh_token", "access_token": "THAA-configured-token"},
    )
    assert fresh.json()["access_token"].startswith("THAA") and fresh.json()["expires_in"] > 0
    wrong = http.get(f"{sb.url}/threads/refresh_access_token", params={"grant_type": "x"})
    assert wrong.status_code == 400
