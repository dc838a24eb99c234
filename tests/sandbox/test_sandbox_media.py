"""Raw-HTTP checks of the stand-ins' image uploads: they take the real calls, refuse what the
platforms refuse, and record each image with its alt text on the post."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from dissem.sandbox import RunningSandbox
from dissem.sandbox.core import Request
from dissem.sandbox.uploads import multipart_fields, png, sample_png, sniff_image
from tests.sandbox.sandbox_fixtures import Clock

PNG = png(8, 8)
OAUTH = 'OAuth oauth_consumer_key="ck-1234567890", oauth_token="tok-raw-x-1", oauth_signature="s"'
LI = {"Authorization": "Bearer li-raw", "LinkedIn-Version": "202608",
      "X-Restli-Protocol-Version": "2.0.0"}  # fmt: skip
ORG = "urn:li:organization:42"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def posts(sb: RunningSandbox, platform: str) -> list[dict[str, Any]]:
    return [p for p in requests.get(f"{sb.url}/_sandbox/posts", timeout=5).json()
            if p["platform"] == platform]  # fmt: skip


# --- helpers ------------------------------------------------------------------------------


def test_the_sample_image_is_a_valid_png(sb: RunningSandbox) -> None:
    answer = requests.get(f"{sb.url}/_sandbox/static/sample.png", timeout=5)
    data = answer.content
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/png"
    assert data == sample_png() and len(data) < 1024
    pos, chunks = 8, {}
    while pos < len(data):  # every chunk's CRC checks out
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(
            kind + body
        )
        chunks[kind] = body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, height, depth, colour) == (64, 36, 8, 2)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)
    assert list(chunks)[-1] == b"IEND"


def test_image_types_are_recognised_by_their_bytes() -> None:
    assert sniff_image(PNG) == "image/png"
    assert sniff_image(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_image(b"GIF89a....") == "image/gif"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"<html>") is None and sniff_image(b"") is None


def test_multipart_fields_keep_binary_files_whole() -> None:
    data = bytes(range(256)) * 4 + b"\r\n--boundary-lookalike\r\n"
    prepared = requests.Request(
        "POST", "http://x/", files={"file": ("a.png", data, "image/png")},
        data={"description": "Ünïcode alt"},
    ).prepare()  # fmt: skip
    req = Request("POST", "/", {}, _headers(prepared.headers), prepared.body, datetime.now(UTC))  # type: ignore[arg-type]
    fields = multipart_fields(req)
    assert fields is not None
    assert fields["file"].data == data and fields["file"].filename == "a.png"
    assert fields["file"].content_type == "image/png"
    assert fields["description"].text == "Ünïcode alt" and fields["description"].filename is None
    plain = Request("POST", "/", {}, _headers({"Content-Type": "application/json"}), b"{}",
                    datetime.now(UTC))  # fmt: skip
    assert multipart_fields(plain) is None


def _headers(values: Any) -> Any:
    from email.message import Message

    message = Message()
    for name, value in dict(values).items():
        message[name] = value
    return message


# --- Mastodon -----------------------------------------------------------------------------


def test_mastodon_media_goes_on_a_status_once(sb: RunningSandbox, http: requests.Session) -> None:
    base, auth = f"{sb.url}/mastodon", {"Authorization": "Bearer m-raw-1"}
    media = http.post(f"{base}/api/v2/media", headers=auth,
                      files={"file": ("p.png", PNG, "image/png")},
                      data={"description": "A harbour"})  # fmt: skip
    assert media.status_code == 200 and media.json()["url"].endswith(".png")
    media_id = media.json()["id"]
    status = http.post(f"{base}/api/v1/statuses", headers=auth,
                       data={"status": "with a photo", "media_ids[]": [media_id]})  # fmt: skip
    assert status.status_code == 200
    assert status.json()["media_attachments"] == [
        {"id": media_id, "type": "image", "description": "A harbour"}
    ]
    [post] = posts(sb, "mastodon")
    assert post["images"][0]["alt"] == "A harbour" and post["media"] == [media_id]
    again = http.post(f"{base}/api/v1/statuses", headers=auth,
                      json={"status": "again", "media_ids": [media_id]})  # fmt: skip
    assert again.status_code == 422  # already attached
    other = http.post(f"{base}/api/v1/statuses", headers={"Authorization": "Bearer m-raw-2"},
                      json={"status": "theirs", "media_ids": ["1"]})  # fmt: skip
    assert other.status_code == 422


@pytest.mark.parametrize(
    ("files", "data", "says"),
    [
        ({}, {}, "File can't be blank"),
        ({"file": ("p.png", b"<html>", "image/png")}, {}, "content type is invalid"),
        ({"file": ("p.png", PNG, "image/png")}, {"description": "d" * 1501}, "too long"),
    ],
)
def test_mastodon_refuses_bad_uploads(
    sb: RunningSandbox, http: requests.Session, files: Any, data: Any, says: str
) -> None:
    answer = http.post(f"{sb.url}/mastodon/api/v2/media", files=files or {"x": ("", b"", "")},
                       data=data, headers={"Authorization": "Bearer m-raw-1"})  # fmt: skip
    assert answer.status_code == 422 and says in answer.json()["error"]


def test_mastodon_processing_media_cannot_be_attached_yet(
    sb: RunningSandbox, http: requests.Session
) -> None:
    base, auth = f"{sb.url}/mastodon", {"Authorization": "Bearer m-raw-1"}
    sb.state.bucket("mastodon")["media_processing_checks"] = 2
    media = http.post(f"{base}/api/v2/media", headers=auth,
                      files={"file": ("p.png", PNG, "image/png")})  # fmt: skip
    assert media.status_code == 202 and media.json()["url"] is None
    media_id = media.json()["id"]
    body = {"status": "too soon", "media_ids": [media_id]}
    refused = http.post(f"{base}/api/v1/statuses", headers=auth, json=body)
    assert refused.status_code == 422 and "finished processing" in refused.json()["error"]
    assert http.get(f"{base}/api/v1/media/{media_id}", headers=auth).status_code == 206
    done = http.get(f"{base}/api/v1/media/{media_id}", headers=auth)
    assert done.status_code == 200 and done.json()["url"]
    assert http.post(f"{base}/api/v1/statuses", headers=auth, json=body).status_code == 200


# --- X ------------------------------------------------------------------------------------


def test_x_upload_alt_text_and_tweet(sb: RunningSandbox, http: requests.Session) -> None:
    base, auth = f"{sb.url}/x", {"Authorization": OAUTH}
    up = http.post(f"{base}/2/media/upload", headers=auth,
                   files={"media": ("p.png", PNG, "image/png")},
                   data={"media_category": "tweet_image"})  # fmt: skip
    data = up.json()["data"]
    assert up.status_code == 200 and data["media_key"] == f"3_{data['id']}"
    assert data["size"] == len(PNG) and data["image"] == {"image_type": "image/png", "w": 8, "h": 8}
    meta = {"id": data["id"], "metadata": {"alt_text": {"text": "A harbour"}}}
    assert http.post(f"{base}/2/media/metadata", headers=auth, json=meta).status_code == 200
    tweet = http.post(f"{base}/2/tweets", headers=auth,
                      json={"text": "photo", "media": {"media_ids": [data["id"]]}})  # fmt: skip
    assert tweet.status_code == 201
    [post] = posts(sb, "x")
    assert post["images"][0]["alt"] == "A harbour"


def test_x_refuses_bad_uploads_and_unknown_or_stale_media(
    sb: RunningSandbox, http: requests.Session, clock: Clock
) -> None:
    base, auth = f"{sb.url}/x", {"Authorization": OAUTH}

    def upload(data: bytes, category: str = "tweet_image") -> requests.Response:
        return http.post(f"{base}/2/media/upload", headers=auth,
                         files={"media": ("p", data, "image/png")},
                         data={"media_category": category})  # fmt: skip

    assert upload(PNG, "amplify_video").status_code == 400
    assert upload(b"not an image").status_code == 400
    assert upload(PNG + bytes(5 * 1024 * 1024)).status_code == 400
    as_json = {"media": base64.b64encode(PNG).decode(), "media_category": "tweet_image"}
    media_id = http.post(f"{base}/2/media/upload", headers=auth, json=as_json).json()["data"]["id"]
    long_alt = {"id": media_id, "metadata": {"alt_text": {"text": "a" * 1001}}}
    assert http.post(f"{base}/2/media/metadata", headers=auth, json=long_alt).status_code == 400
    unknown = http.post(f"{base}/2/tweets", headers=auth,
                        json={"text": "u", "media": {"media_ids": ["999"]}})  # fmt: skip
    assert unknown.status_code == 400
    clock.now += timedelta(hours=25)
    stale = http.post(f"{base}/2/tweets", headers=auth,
                      json={"text": "s", "media": {"media_ids": [media_id]}})  # fmt: skip
    assert stale.status_code == 400 and posts(sb, "x") == []


# --- Bluesky ------------------------------------------------------------------------------


def bsky(sb: RunningSandbox, http: requests.Session, who: str = "raw.example.org") -> Any:
    session = http.post(f"{sb.url}/bluesky/xrpc/com.atproto.server.createSession",
                        json={"identifier": who, "password": "pw"}).json()  # fmt: skip
    return session["did"], {"Authorization": f"Bearer {session['accessJwt']}"}


def upload_blob(sb: RunningSandbox, http: requests.Session, auth: Any, data: bytes) -> Any:
    answer = http.post(f"{sb.url}/bluesky/xrpc/com.atproto.repo.uploadBlob", data=data,
                       headers={**auth, "Content-Type": "image/png"})  # fmt: skip
    return answer


def create(sb: RunningSandbox, http: requests.Session, auth: Any, did: str, embed: Any) -> Any:
    record = {"$type": "app.bsky.feed.post", "text": "t", "createdAt": "2026-11-20T09:00:00Z",
              "embed": embed}  # fmt: skip
    body = {"repo": did, "collection": "app.bsky.feed.post", "record": record}
    return http.post(f"{sb.url}/bluesky/xrpc/com.atproto.repo.createRecord", headers=auth,
                     json=body)  # fmt: skip


def test_bluesky_blobs_become_images_or_card_thumbs(
    sb: RunningSandbox, http: requests.Session
) -> None:
    did, auth = bsky(sb, http)
    answer = upload_blob(sb, http, auth, PNG)
    blob = answer.json()["blob"]
    assert answer.status_code == 200 and blob["$type"] == "blob"
    assert blob["mimeType"] == "image/png" and blob["size"] == len(PNG)
    assert blob["ref"]["$link"].startswith("bafkrei")
    images = {"$type": "app.bsky.embed.images", "images": [{"image": blob, "alt": "A harbour"}]}
    assert create(sb, http, auth, did, images).status_code == 200
    big = upload_blob(sb, http, auth, PNG + bytes(1_500_000)).json()["blob"]  # up to 2 MB
    big_images = {"$type": "app.bsky.embed.images", "images": [{"image": big, "alt": "Big"}]}
    assert create(sb, http, auth, did, big_images).status_code == 200
    external = {"$type": "app.bsky.embed.external",
                "external": {"uri": "https://e.org/a", "title": "t", "description": "",
                             "thumb": blob}}  # fmt: skip
    assert create(sb, http, auth, did, external).status_code == 200
    kinds = [(p["images"][0]["kind"], p["images"][0]["alt"]) for p in posts(sb, "bluesky")]
    assert kinds == [("image", "A harbour"), ("image", "Big"), ("thumbnail", "")]


def test_bluesky_refuses_images_it_would_refuse(sb: RunningSandbox, http: requests.Session) -> None:
    did, auth = bsky(sb, http)
    blob = upload_blob(sb, http, auth, PNG).json()["blob"]
    no_alt = {"$type": "app.bsky.embed.images", "images": [{"image": blob}]}
    assert create(sb, http, auth, did, no_alt).status_code == 400
    huge = upload_blob(sb, http, auth, PNG + bytes(2_000_000)).json()["blob"]
    too_big = {"$type": "app.bsky.embed.images", "images": [{"image": huge, "alt": ""}]}
    assert "2000000" in create(sb, http, auth, did, too_big).json()["message"]
    big = upload_blob(sb, http, auth, PNG + bytes(1_000_000)).json()["blob"]
    big_thumb = {"$type": "app.bsky.embed.external",
                 "external": {"uri": "https://e.org/a", "title": "t", "description": "",
                              "thumb": big}}  # fmt: skip
    assert "1000000" in create(sb, http, auth, did, big_thumb).json()["message"]
    many_langs = {"$type": "app.bsky.feed.post", "text": "t", "createdAt": "2026-11-20T09:00:00Z",
                  "langs": ["id", "en", "de", "ja"]}  # fmt: skip
    body = {"repo": did, "collection": "app.bsky.feed.post", "record": many_langs}
    url = f"{sb.url}/bluesky/xrpc/com.atproto.repo.createRecord"
    assert http.post(url, headers=auth, json=body).status_code == 400
    other_did, other_auth = bsky(sb, http, "other.example.org")
    theirs = {"$type": "app.bsky.embed.images", "images": [{"image": blob, "alt": ""}]}
    assert create(sb, http, other_auth, other_did, theirs).status_code == 400
    five = {"$type": "app.bsky.embed.images", "images": [{"image": blob, "alt": ""}] * 5}
    assert create(sb, http, auth, did, five).status_code == 400
    assert upload_blob(sb, http, auth, b"<html>").status_code == 400  # says PNG, is not
    assert posts(sb, "bluesky") == []


# --- LinkedIn -----------------------------------------------------------------------------


def li_upload(sb: RunningSandbox, http: requests.Session, data: bytes | None = PNG) -> str:
    init = http.post(f"{sb.url}/linkedin/rest/images", params={"action": "initializeUpload"},
                     headers=LI, json={"initializeUploadRequest": {"owner": ORG}})  # fmt: skip
    value = init.json()["value"]
    assert init.status_code == 200 and value["uploadUrl"].startswith(sb.url)
    if data is not None:
        put = http.put(value["uploadUrl"], data=data, headers={"Authorization": "Bearer li-raw"})
        assert put.status_code == 201
    return str(value["image"])


def li_post(sb: RunningSandbox, http: requests.Session, content: Any, text: str) -> Any:
    body = {"author": ORG, "commentary": text, "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"}, "lifecycleState": "PUBLISHED",
            "content": content}  # fmt: skip
    return http.post(f"{sb.url}/linkedin/rest/posts", headers=LI, json=body)


def test_linkedin_images_upload_then_post_as_media_or_thumbnail(
    sb: RunningSandbox, http: requests.Session
) -> None:
    urn = li_upload(sb, http)
    got = http.get(f"{sb.url}/linkedin/rest/images/{urn}", headers=LI).json()
    assert got["status"] == "AVAILABLE" and got["owner"] == ORG
    assert li_post(sb, http, {"media": {"id": urn, "altText": "A harbour"}}, "m").status_code == 201
    thumb = li_upload(sb, http)
    article = {"source": "https://e.org/a", "title": "T", "thumbnail": thumb,
               "thumbnailAltText": "A map"}  # fmt: skip
    assert li_post(sb, http, {"article": article}, "a").status_code == 201
    found = [(p["images"][0]["kind"], p["images"][0]["alt"]) for p in posts(sb, "linkedin")]
    assert found == [("image", "A harbour"), ("thumbnail", "A map")]
    listed = http.get(f"{sb.url}/linkedin/rest/posts", headers=LI,
                      params={"q": "author", "author": ORG}).json()["elements"]  # fmt: skip
    assert listed[1]["content"] == {"media": {"id": urn, "altText": "A harbour"}}


def test_linkedin_refuses_unfinished_foreign_or_repeated_uploads(
    sb: RunningSandbox, http: requests.Session
) -> None:
    waiting = li_upload(sb, http, data=None)
    refused = li_post(sb, http, {"media": {"id": waiting}}, "w")
    assert refused.status_code == 422 and "WAITING_UPLOAD" in refused.json()["message"]
    unknown = li_post(sb, http, {"media": {"id": "urn:li:image:nope"}}, "u")
    assert unknown.status_code == 422
    both = li_post(sb, http, {"media": {"id": li_upload(sb, http)},
                              "article": {"source": "https://e.org"}}, "b")  # fmt: skip
    assert both.status_code == 422
    init = http.post(f"{sb.url}/linkedin/rest/images", params={"action": "initializeUpload"},
                     headers=LI, json={"initializeUploadRequest": {"owner": ORG}})  # fmt: skip
    url = init.json()["value"]["uploadUrl"]
    assert http.put(url, data=PNG).status_code == 401  # no token
    assert http.put(url, data=b"text", headers=LI).status_code == 400
    assert http.put(url, data=PNG, headers=LI).status_code == 201
    assert http.put(url, data=PNG, headers=LI).status_code == 400  # once only
    assert posts(sb, "linkedin") == []


# --- Facebook and the feed page -----------------------------------------------------------


def test_facebook_photo_file_and_local_url(sb: RunningSandbox, http: requests.Session) -> None:
    base, auth = f"{sb.url}/facebook/v23.0/77", {"Authorization": "Bearer fb-raw"}
    by_file = http.post(f"{base}/photos", headers=auth,
                        files={"source": ("p.png", PNG, "image/png")},
                        data={"caption": "file", "alt_text_custom": "A harbour"})  # fmt: skip
    assert by_file.status_code == 200 and by_file.json()["post_id"].startswith("77_")
    sample = f"{sb.url}/_sandbox/static/sample.png"
    by_url = http.post(f"{base}/photos", headers=auth, data={"caption": "url", "url": sample})
    assert by_url.status_code == 200
    gone = f"{sb.url}/_sandbox/static/none.png"
    missing = http.post(f"{base}/photos", headers=auth, data={"caption": "gone", "url": gone})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 100
    bad = http.post(f"{base}/photos", headers=auth, files={"source": ("p", b"<html>", "text/html")})
    assert bad.status_code == 400
    found = {p["text"]: p["images"][0] for p in posts(sb, "facebook")}
    assert found["file"]["alt"] == "A harbour" and found["file"]["size"] == len(PNG)
    assert found["url"]["ref"] == sample and found["url"]["size"] == len(sample_png())


def test_the_feed_page_shows_images_by_their_alt_text(
    sb: RunningSandbox, http: requests.Session
) -> None:
    auth = {"Authorization": "Bearer m-raw-1"}
    for alt in ("A <b>harbour</b>", ""):
        media_id = http.post(f"{sb.url}/mastodon/api/v2/media", headers=auth,
                             files={"file": ("p.png", PNG, "image/png")},
                             data={"description": alt}).json()["id"]  # fmt: skip
        http.post(f"{sb.url}/mastodon/api/v1/statuses", headers=auth,
                  json={"status": f"post {alt}", "media_ids": [media_id]})  # fmt: skip
    page = http.get(f"{sb.url}/").text
    assert "aria-label='image: A &lt;b&gt;harbour&lt;/b&gt;'" in page
    assert "image without alt text" in page and "<b>harbour" not in page
