"""Raw-HTTP checks of the Instagram stand-in's image formats: JPEG only, refused otherwise
with Graph's code 36001 / subcode 2207005 (the sandbox's own files judged by their bytes,
other URLs by their extension)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from dissem.sandbox import RunningSandbox

V = "v23.0"


@pytest.fixture
def http(sb: RunningSandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update({"Authorization": "Bearer ig-raw-token"})
        yield session


@pytest.mark.parametrize(
    "image",
    [
        "https://example.org/poster.png",
        "https://example.org/poster.WEBP",
        "https://example.org/anim.gif?v=2",
        "https://example.org/phone.heic",
        "{sandbox}/_sandbox/static/sample.png",
    ],
)
def test_an_image_that_is_not_jpeg_is_refused(
    sb: RunningSandbox, http: requests.Session, image: str
) -> None:
    url = image.format(sandbox=sb.url)
    answer = http.post(f"{sb.url}/instagram/{V}/7/media", data={"image_url": url})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (
        36001,
        2207005,
        "OAuthException",
    )
    assert error["message"] == "The image format is not supported."
    assert error["is_transient"] is False and "JPEG" in error["error_user_msg"]
    assert error["fbtrace_id"]


@pytest.mark.parametrize(
    "image", ["https://example.org/poster.jpg", "https://example.org/p.JPEG", "https://e.org/i"]
)
def test_a_jpeg_or_an_image_of_unknown_name_makes_a_container(
    sb: RunningSandbox, http: requests.Session, image: str
) -> None:
    answer = http.post(f"{sb.url}/instagram/{V}/7/media", data={"image_url": image})
    assert answer.status_code == 200 and answer.json()["id"]
