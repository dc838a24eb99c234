"""Raw-HTTP checks of the Telegram stand-in's sendPhoto: a file_id, an http(s) URL or a
multipart upload, refused with Telegram's own words otherwise; tokens of the wrong shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from dissem.sandbox import RunningSandbox
from dissem.sandbox.telegram import PHOTO_LIMIT, file_id_problem
from dissem.sandbox.uploads import png

BOT = "123:secret-token"
PNG = png(16, 9)


def send_photo(sb: RunningSandbox, **kwargs: Any) -> requests.Response:
    return requests.post(f"{sb.url}/telegram/bot{BOT}/sendPhoto", timeout=10, **kwargs)


@pytest.mark.parametrize(
    ("photo", "reason"),
    [
        ("images/cover.png", "Wrong character in the string"),  # a config-folder path
        ("config/img.jpg", "Wrong character in the string"),
        ("abcde", "Wrong string length"),
        ("AB", "Wrong padding in the string"),
        ("AAAAAAAAAAAAAAAAAAAAAAAA", "can't unserialize it"),
    ],
)
def test_a_string_that_is_no_file_id_nor_url_is_refused(
    sb: RunningSandbox, photo: str, reason: str
) -> None:
    answer = send_photo(sb, json={"chat_id": "@c", "photo": photo, "caption": "x"})
    assert answer.status_code == 400
    assert answer.json() == {
        "ok": False,
        "error_code": 400,
        "description": f"Bad Request: wrong remote file identifier specified: {reason}",
    }
    assert file_id_problem(photo) == reason


def test_an_upload_gets_a_file_id_that_can_be_sent_again(sb: RunningSandbox) -> None:
    reply = {"message_id": 1}
    first = send_photo(
        sb,
        data={"chat_id": "@c", "caption": "<b>hi</b>", "parse_mode": "HTML"},
        files={"photo": ("cover.png", PNG, "image/png")},
    )
    assert first.status_code == 200, first.text
    result = first.json()["result"]
    [size] = result["photo"]
    assert (size["width"], size["height"], size["file_size"]) == (16, 9, len(PNG))
    assert result["caption"] == "hi"
    again = send_photo(
        sb,
        data={"chat_id": "@c", "photo": size["file_id"], "reply_parameters": json.dumps(reply)},
    )
    assert again.status_code == 200, again.text
    assert again.json()["result"]["photo"][0]["file_id"] == size["file_id"]
    by_attach = send_photo(
        sb,
        data={"chat_id": "@c", "photo": "attach://pic"},
        files={"pic": ("p.png", PNG, "image/png")},
    )
    assert by_attach.status_code == 200


def test_a_url_is_taken_as_is(sb: RunningSandbox) -> None:
    answer = send_photo(sb, json={"chat_id": "@c", "photo": "https://portal.example/p.jpg"})
    assert answer.status_code == 200 and answer.json()["result"]["photo"][0]["file_id"]


@pytest.mark.parametrize(
    ("data", "description"),
    [
        (b"not an image", "Bad Request: IMAGE_PROCESS_FAILED"),
        (PNG + bytes(PHOTO_LIMIT), "Bad Request: PHOTO_SAVE_FILE_INVALID"),
    ],
)
def test_an_upload_that_is_no_photo_is_refused(
    sb: RunningSandbox, data: bytes, description: str
) -> None:
    answer = send_photo(sb, data={"chat_id": "@c"}, files={"photo": ("x.png", data, "image/png")})
    assert answer.status_code == 400 and answer.json()["description"] == description


def test_a_request_without_a_photo_is_refused(sb: RunningSandbox) -> None:
    answer = send_photo(sb, json={"chat_id": "@c", "caption": "x"})
    assert answer.json()["description"] == "Bad Request: there is no photo in the request"


@pytest.mark.parametrize("token", ["", "no-colon", "abc:def"])
def test_a_token_of_the_wrong_shape_is_not_found(sb: RunningSandbox, token: str) -> None:
    answer = requests.post(
        f"{sb.url}/telegram/bot{token}/sendMessage", json={"chat_id": "@c", "text": "x"}, timeout=5
    )
    assert answer.status_code == 404
    assert answer.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
