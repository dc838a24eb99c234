"""Raw-HTTP checks of the LinkedIn stand-in: protocol headers and versions, x-restli-id,
DUPLICATE_POST (LinkedIn's nested shape, also for a deleted post), deleting, 429 without
headers, the author finder and share statistics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests

from dissem.sandbox import Fault, RunningSandbox
from tests.sandbox.sandbox_fixtures import Clock

ORG = "urn:li:organization:77"
HEADERS = {
    "Authorization": "Bearer li-raw-token",
    "LinkedIn-Version": "202608",
    "X-Restli-Protocol-Version": "2.0.0",
}


@pytest.fixture
def http(sb: RunningSandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


def body(commentary: str, **changes: Any) -> dict[str, Any]:
    return {
        "author": ORG,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
        **changes,
    }


def test_create_answers_201_with_the_urn_in_x_restli_id(
    sb: RunningSandbox, http: requests.Session
) -> None:
    created = http.post(f"{sb.url}/linkedin/rest/posts", json=body("Hello"))
    assert created.status_code == 201 and created.content == b""
    urn = created.headers["x-restli-id"]
    assert urn.startswith("urn:li:share:")
    got = http.get(f"{sb.url}/linkedin/rest/posts/{quote(urn, safe='')}").json()
    assert got["id"] == urn and got["commentary"] == "Hello" and got["author"] == ORG


def test_duplicate_post_names_the_existing_urn(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    url = f"{sb.url}/linkedin/rest/posts"
    urn = http.post(url, json=body("Twice")).headers["x-restli-id"]
    again = http.post(url, json=body("Twice"))
    assert again.status_code == 422
    assert again.json() == {  # as LinkedIn answers (Arisamiga/Linkedin-RSS#5)
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": "com.linkedin.content.common.exception.BadRequestResponseException: "
        f"Content is a duplicate of {urn}",
        "errorDetails": {
            "inputErrors": [
                {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
            ]
        },
        "status": 422,
    }
    clock.now += timedelta(hours=25)
    assert http.post(url, json=body("Twice")).status_code == 201


def test_a_deleted_post_answers_404_but_still_counts_as_a_duplicate(
    sb: RunningSandbox, http: requests.Session
) -> None:
    url = f"{sb.url}/linkedin/rest/posts"
    urn = http.post(url, json=body("Gone")).headers["x-restli-id"]
    one = f"{url}/{quote(urn, safe='')}"
    deleted = http.delete(one)
    assert deleted.status_code == 204 and deleted.content == b""
    assert http.get(one).status_code == 404
    assert http.delete(one).status_code == 404
    listed = http.get(url, params={"q": "author", "author": ORG}).json()["elements"]
    assert urn not in [p["id"] for p in listed]
    again = http.post(url, json=body("Gone"))
    assert again.status_code == 422 and again.json()["message"].endswith(urn)


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Authorization": ""}, 401, "INVALID_ACCESS_TOKEN"),
        ({"LinkedIn-Version": ""}, 400, "VERSION_MISSING"),
        ({"LinkedIn-Version": "202401"}, 426, "NONEXISTENT_VERSION"),
        ({"LinkedIn-Version": "2026-11"}, 426, "NONEXISTENT_VERSION"),
        ({"LinkedIn-Version": "202512"}, 426, "NONEXISTENT_VERSION"),  # a skipped month
    ],
)
def test_protocol_headers_are_checked(
    sb: RunningSandbox, headers: dict[str, str], status: int, code: str
) -> None:
    sent = {k: v for k, v in {**HEADERS, **headers}.items() if v}
    answer = requests.post(f"{sb.url}/linkedin/rest/posts", json=body("h"), headers=sent)
    assert answer.status_code == status and answer.json()["code"] == code
    assert answer.json()["status"] == status


@pytest.mark.parametrize(
    ("version", "spelled"),
    [("202512", "20251201"), ("202401", "20240101"), ("202508.02", "20250802")],
)
def test_an_inactive_version_answers_as_linkedin_does(
    sb: RunningSandbox, clock: Clock, version: str, spelled: str
) -> None:
    clock.now = clock.now.replace(year=2027, month=9)  # 202508.02 retired by then
    sent = {**HEADERS, "LinkedIn-Version": version}
    answer = requests.get(f"{sb.url}/linkedin/rest/posts/x", headers=sent)
    assert answer.status_code == 426
    assert answer.json() == {  # e.g. PipedreamHQ/pipedream#18398
        "status": 426,
        "code": "NONEXISTENT_VERSION",
        "message": f"Requested version {spelled} is not active",
    }


@pytest.mark.parametrize("version", ["202511", "202601", "202603", "202608", "202608.01"])
def test_released_versions_are_served(sb: RunningSandbox, version: str) -> None:
    sent = {**HEADERS, "LinkedIn-Version": version}
    answer = requests.post(f"{sb.url}/linkedin/rest/posts", json=body(version), headers=sent)
    assert answer.status_code == 201


@pytest.mark.parametrize(
    "changes",
    [
        {"author": "Acme Corp"},
        {"commentary": None},
        {"commentary": "x" * 3001},
        {"visibility": "EVERYONE"},
        {"distribution": {}},
        {"lifecycleState": "DRAFT"},
        {"content": {"article": {"source": "portal/a", "title": "t"}}},
    ],
)
def test_invalid_bodies_are_422(
    sb: RunningSandbox, http: requests.Session, changes: dict[str, Any]
) -> None:
    answer = http.post(f"{sb.url}/linkedin/rest/posts", json={**body("v"), **changes})
    assert answer.status_code == 422 and answer.json()["status"] == 422


def test_throttle_is_429_without_headers(sb: RunningSandbox, http: requests.Session) -> None:
    sb.faults.force("linkedin", Fault.THROTTLE)
    answer = http.post(f"{sb.url}/linkedin/rest/posts", json=body("slow"))
    assert answer.status_code == 429 and answer.json()["code"] == "TOO_MANY_REQUESTS"
    assert not {"retry-after", "x-ratelimit-reset", "ratelimit-reset"} & {
        h.lower() for h in answer.headers
    }


def test_author_finder_lists_newest_first(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    url = f"{sb.url}/linkedin/rest/posts"
    for text in ("one", "two", "three"):
        http.post(url, json=body(text))
        clock.now += timedelta(minutes=1)
    http.post(url, json=body("elsewhere", author="urn:li:organization:78"))
    listed = http.get(url, params={"q": "author", "author": ORG, "count": 2}).json()
    assert [p["commentary"] for p in listed["elements"]] == ["three", "two"]
    assert listed["paging"]["total"] == 3
    first = listed["elements"][0]
    assert first["publishedAt"] == first["createdAt"] > 0
    assert http.get(url, params={"q": "author"}).status_code == 400


def test_share_statistics_parse_restli_lists(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    url = f"{sb.url}/linkedin/rest/posts"
    urns = [http.post(url, json=body(t)).headers["x-restli-id"] for t in ("s1", "s2")]
    clock.now += timedelta(days=1)
    listed = ",".join(quote(u, safe="") for u in [*urns, "urn:li:share:1"])
    query = (
        f"q=organizationalEntity&organizationalEntity={quote(ORG, safe='')}&shares=List({listed})"
    )
    stats = http.get(f"{sb.url}/linkedin/rest/organizationalEntityShareStatistics?{query}").json()
    assert [e["share"] for e in stats["elements"]] == urns
    totals = stats["elements"][0]["totalShareStatistics"]
    assert totals["impressionCount"] >= totals["uniqueImpressionsCount"] > 0
    assert {"clickCount", "likeCount", "commentCount", "shareCount", "engagement"} <= set(totals)
    other = query.replace(quote(ORG, safe=""), quote("urn:li:organization:78", safe=""))
    answer = http.get(f"{sb.url}/linkedin/rest/organizationalEntityShareStatistics?{other}")
    assert answer.json()["elements"] == []
