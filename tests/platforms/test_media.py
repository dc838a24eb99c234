"""Release images with alt text, over real HTTP against the in-process sandbox: loading
(:mod:`dissem.platforms.media`), each uploading adapter's calls, and what publishing does
when the image cannot be attached (the text still goes out, with a warning)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from dissem.compose import compose
from dissem.compose.types import Media, Part
from dissem.config.models import Channel, Release
from dissem.errors import ImageUnavailable, RateLimited
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.media import fit_alt, load_image, peek_image_type, sniff_image_type
from dissem.platforms.safe_fetch import Destinations
from dissem.sandbox import Fault, RunningSandbox
from dissem.sandbox.uploads import png
from dissem.settings import Settings

MakeAdapter = Callable[..., Platform]
Published = Callable[[], list[dict[str, Any]]]
ALT = 'Dancers in red and gold perform on an outdoor stage <b>&</b> "quoted"'
UPLOADERS = ("x", "mastodon", "bluesky", "facebook", "linkedin")
MEDIA_LOG = "dissem.platforms.media"
#: the sandbox is on this machine: fetches from it are allowed in sandbox mode only
LOCAL = Destinations(local_only=True)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "harbour.png").write_bytes(png(40, 20))
    return folder


@pytest.fixture
def settings(sandbox: RunningSandbox, config_dir: Path) -> Settings:
    """The conftest settings, with a config folder holding images (make_adapter uses it)."""
    return Settings(sandbox_url=sandbox.url, http_timeout=5.0, config_dir=config_dir)


@pytest.fixture
def sample(sandbox: RunningSandbox) -> str:
    return f"{sandbox.url}/_sandbox/static/sample.png"


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/photo.png"  # nothing listens there any more


def part(text: str, src: str, alt: str = ALT, **fields: Any) -> Part:
    return Part(
        index=1, total=1, text=text, length=len(text), limit=500, media=(Media(src, alt),), **fields
    )


def card(text: str) -> dict[str, Any]:
    return {
        "$type": "app.bsky.embed.external",
        "external": {"uri": "https://portal.example/a", "title": text, "description": "d"},
    }


def mine(published: Published, platform: str, text: str) -> dict[str, Any]:
    [post] = [p for p in published() if p["platform"] == platform and p["text"] == text]
    return post


# --- load_image -----------------------------------------------------------------------------


def test_a_url_image_is_fetched_with_its_type(sample: str, config_dir: Path) -> None:
    image = load_image(sample, config_dir=config_dir, timeout=5, destinations=LOCAL)
    assert image.mime == "image/png" and image.filename == "sample.png"
    assert image.data.startswith(b"\x89PNG") and image.size == len(image.data)


@pytest.mark.parametrize(
    ("path", "max_bytes", "says"),
    [
        ("/_sandbox/static/missing.png", 10_000, "HTTP 404"),
        ("/_sandbox/health", 10_000, "'application/json' is not an image"),
        ("/_sandbox/static/sample.png", 50, "above the limit of 50 bytes"),
    ],
)
def test_a_url_that_is_no_usable_image_is_refused(
    sandbox: RunningSandbox, config_dir: Path, path: str, max_bytes: int, says: str
) -> None:
    with pytest.raises(ImageUnavailable) as caught:
        load_image(
            sandbox.url + path,
            config_dir=config_dir,
            timeout=5,
            max_bytes=max_bytes,
            destinations=LOCAL,
        )
    assert says in str(caught.value) and path in str(caught.value)


def test_an_unreachable_url_is_refused(config_dir: Path) -> None:
    url = closed_port_url()
    with pytest.raises(ImageUnavailable, match="cannot fetch"):
        load_image(url, config_dir=config_dir, timeout=5, destinations=LOCAL)


def test_a_path_in_the_config_folder_is_read(config_dir: Path) -> None:
    image = load_image("images/harbour.png", config_dir=config_dir, timeout=5)
    assert image == type(image)(png(40, 20), "image/png", "harbour.png")


@pytest.mark.parametrize(
    ("src", "says"),
    [
        ("../outside.png", "outside the config folder"),
        ("images/../../outside.png", "outside the config folder"),
        ("link.png", "outside the config folder"),  # a symlink pointing out
        ("OUTSIDE_ABSOLUTE", "outside the config folder"),
        ("images/missing.png", "no such file"),
        ("images/notes.txt", "not an image"),
        ("images/big.png", "above the limit of 1,000 bytes"),
        ("images/empty.png", "empty"),
        ("ftp://portal.example/a.png", "only http(s) URLs"),
    ],
)
def test_config_paths_stay_in_the_folder_and_are_checked(
    config_dir: Path, src: str, says: str
) -> None:
    outside = config_dir.parent / "outside.png"
    outside.write_bytes(png(2, 2))
    (config_dir / "link.png").symlink_to(outside)
    (config_dir / "images" / "notes.txt").write_text("not an image")
    (config_dir / "images" / "big.png").write_bytes(b"\x89PNG" + bytes(2000))
    (config_dir / "images" / "empty.png").write_bytes(b"")
    src = str(outside) if src == "OUTSIDE_ABSOLUTE" else src
    with pytest.raises(ImageUnavailable) as caught:
        load_image(src, config_dir=config_dir, timeout=5, max_bytes=1_000)
    assert says in str(caught.value)


def test_alt_text_is_cut_to_the_platform_limit() -> None:
    assert fit_alt("  short  ", 10) == "short"
    assert fit_alt("x" * 20, 10) == "x" * 9 + "…"
    assert len(fit_alt("🇮🇩" * 20, 10)) == 9 * 2 + 1  # flags stay whole


# --- the composer gives the image to the platforms that upload it ------------------------------


@pytest.mark.parametrize(
    ("platform", "gets_it"),
    [("x", True), ("mastodon", True), ("bluesky", True), ("linkedin", True),
     ("instagram", True), ("facebook", False), ("threads", False)],
)  # fmt: skip
def test_the_composer_puts_the_image_on_the_first_part(platform: str, gets_it: bool) -> None:
    from datetime import UTC, datetime

    release = Release.model_validate(
        {
            "id": "r1",
            "title": "Festival returns",
            "summary": "Batik and gamelan in the park.",
            "body": "\n\n".join(
                f"Paragraph {i}: workshops all day in the park." for i in range(20)
            ),
            "url": "https://portal.example/festival",
            "image": {"src": "https://portal.example/f.jpg", "alt": "Dancers on a stage"},
            "targets": ["c"],
            "thread": True,
        }
    )
    channel = Channel.model_validate(
        {"name": "c", "platform": platform, "account": "acct", "timezone": "UTC"}
    )
    parts = compose(release, channel, datetime(2026, 12, 1, tzinfo=UTC))
    expected = (Media("https://portal.example/f.jpg", "Dancers on a stage"),) if gets_it else ()
    assert parts[0].media == expected
    assert all(p.media == () for p in parts[1:])
    if platform in ("x", "mastodon", "bluesky"):
        assert len(parts) > 1  # a thread: the image goes on its first part only


# --- each uploading platform ----------------------------------------------------------------


@pytest.mark.parametrize("platform", ["x", "mastodon"])
def test_an_image_arrives_with_its_alt_text(
    platform: str, make_adapter: MakeAdapter, unique: Callable[[str], str],
    published: Published, sample: str,
) -> None:  # fmt: skip
    text = unique(f"{platform} photo")
    make_adapter(platform).publish(part(text, sample), MemoryContext(text))
    [image] = mine(published, platform, text)["images"]
    assert image["alt"] == ALT and image["mime"] == "image/png" and image["kind"] == "image"


def test_bluesky_puts_the_image_on_the_link_card(
    make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published, sample: str
) -> None:
    text = unique("bluesky card")
    make_adapter("bluesky").publish(part(text, sample, embed=card(text)), MemoryContext(text))
    post = mine(published, "bluesky", text)
    [image] = post["images"]
    assert image["kind"] == "thumbnail" and image["mime"] == "image/png"
    thumb = post["extra"]["record"]["embed"]["external"]["thumb"]
    assert thumb["$type"] == "blob" and thumb["ref"]["$link"] == image["ref"]


def test_bluesky_without_a_card_posts_an_images_embed_with_alt(
    make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published, sample: str
) -> None:
    text = unique("bluesky images")
    make_adapter("bluesky").publish(part(text, sample), MemoryContext(text))
    post = mine(published, "bluesky", text)
    embed = post["extra"]["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images" and embed["images"][0]["alt"] == ALT
    assert post["images"][0]["alt"] == ALT


def test_bluesky_reads_the_thumb_source_of_older_payloads(
    make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published, sample: str
) -> None:
    text = unique("bluesky thumb_src")
    old = Part(1, 1, text, len(text), 300, embed=card(text), options={"thumb_src": sample})
    make_adapter("bluesky").publish(old, MemoryContext(text))
    assert mine(published, "bluesky", text)["images"][0]["kind"] == "thumbnail"


def test_linkedin_puts_the_image_on_the_article_card(
    make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published, sample: str
) -> None:
    text = unique("linkedin card")
    article = {"source": "https://portal.example/a", "title": "T", "description": "D"}
    make_adapter("linkedin").publish(
        part(text, sample, options={"article": article}), MemoryContext(text)
    )
    post = mine(published, "linkedin", text)
    [image] = post["images"]
    assert image["kind"] == "thumbnail" and image["alt"] == ALT
    assert post["extra"]["article"]["thumbnail"] == image["ref"]
    assert post["extra"]["article"]["thumbnailAltText"] == ALT


def test_linkedin_without_a_card_posts_the_image_as_media(
    make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published, sample: str
) -> None:
    text = unique("linkedin media")
    make_adapter("linkedin").publish(part(text, sample), MemoryContext(text))
    post = mine(published, "linkedin", text)
    assert post["extra"]["media"] == {"id": post["images"][0]["ref"], "altText": ALT}


def test_facebook_photo_post_by_url_keeps_alt_text_lookup_and_metrics(
    make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published, sample: str
) -> None:
    from datetime import UTC, datetime, timedelta

    fb = make_adapter("facebook")
    text = unique("facebook photo")
    remote = fb.publish(part(text, sample), MemoryContext(text))
    post = mine(published, "facebook", text)
    assert post["remote_id"] == remote.remote_id and post["media"] == [sample]
    assert post["images"][0]["alt"] == ALT
    since = datetime.now(UTC) - timedelta(minutes=1)
    found = fb.lookup(part(text, sample), MemoryContext(text), since=since)
    assert found is not None and found.remote_id == remote.remote_id
    assert remote.remote_id in fb.fetch_metrics([remote.remote_id])


def test_facebook_uploads_a_config_file_as_source(
    make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published
) -> None:
    text = unique("facebook file")
    make_adapter("facebook").publish(part(text, "images/harbour.png"), MemoryContext(text))
    [image] = mine(published, "facebook", text)["images"]
    assert image["alt"] == ALT and image["size"] == len(png(40, 20))


def test_facebook_keeps_the_link_preview_over_the_image(
    make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published, sample: str
) -> None:
    text = unique("facebook link")
    link = "https://portal.example/article"
    make_adapter("facebook").publish(
        part(text, sample, options={"link": link}), MemoryContext(text)
    )
    post = mine(published, "facebook", text)
    assert post["extra"]["link"] == link and post["images"] == []


@pytest.mark.parametrize("platform", UPLOADERS)
def test_a_config_path_image_is_uploaded(
    platform: str, make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published
) -> None:
    text = unique(f"{platform} file")
    make_adapter(platform).publish(part(text, "images/harbour.png"), MemoryContext(text))
    [image] = mine(published, platform, text)["images"]
    assert image["alt"] == ALT


# --- without the image, the text still goes out ----------------------------------------------


@pytest.mark.parametrize("platform", UPLOADERS)
@pytest.mark.parametrize("src", ["UNREACHABLE", "../outside.png", "images/notes.png"])
def test_an_unusable_image_still_publishes_the_text(
    platform: str, src: str, make_adapter: MakeAdapter, unique: Callable[[str], str],
    published: Published, caplog: pytest.LogCaptureFixture, config_dir: Path,
) -> None:  # fmt: skip
    (config_dir.parent / "outside.png").write_bytes(png(2, 2))
    (config_dir / "images" / "notes.png").write_text("a text file named like an image")
    src = closed_port_url() if src == "UNREACHABLE" else src
    text = unique(f"{platform} without image")
    with caplog.at_level(logging.WARNING, logger=MEDIA_LOG):
        remote = make_adapter(platform).publish(part(text, src), MemoryContext(text))
    post = mine(published, platform, text)
    assert post["remote_id"] == remote.remote_id and post["images"] == []
    [warning] = [r.getMessage() for r in caplog.records if r.name == MEDIA_LOG]
    assert f"{platform}: release image {src!r} not attached" in warning


@pytest.mark.parametrize(("platform", "limit"), [("bluesky", 2_000_000), ("x", 5 * 1024 * 1024)])
@pytest.mark.parametrize("over", [0, 1])
def test_an_image_over_the_platform_cap_is_skipped(
    platform: str, limit: int, over: int, make_adapter: MakeAdapter,
    unique: Callable[[str], str], published: Published, config_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    head = png(4, 4)
    (config_dir / "images" / "large.png").write_bytes(head + bytes(limit + over - len(head)))
    text = unique(f"{platform} {limit + over} bytes")
    with caplog.at_level(logging.WARNING, logger=MEDIA_LOG):
        make_adapter(platform).publish(part(text, "images/large.png"), MemoryContext(text))
    assert len(mine(published, platform, text)["images"]) == 1 - over
    warned = [r.getMessage() for r in caplog.records if r.name == MEDIA_LOG]
    assert (f"above the limit of {limit:,} bytes" in "".join(warned)) is bool(over)


def test_mastodon_waits_for_no_media_still_processing(
    sandbox: RunningSandbox, make_adapter: MakeAdapter, unique: Callable[[str], str],
    published: Published, sample: str, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    bucket = sandbox.state.bucket("mastodon")
    adapter = make_adapter("mastodon")
    try:
        bucket["media_processing_checks"] = 1  # 202, then done at the first check
        done = unique("mastodon processed")
        adapter.publish(part(done, sample), MemoryContext(done))
        bucket["media_processing_checks"] = 2  # still processing at the first check
        busy = unique("mastodon processing")
        with caplog.at_level(logging.WARNING, logger=MEDIA_LOG):
            adapter.publish(part(busy, sample), MemoryContext(busy))
    finally:
        bucket.pop("media_processing_checks", None)
    assert mine(published, "mastodon", done)["images"][0]["alt"] == ALT
    assert mine(published, "mastodon", busy)["images"] == []
    assert any("still processing" in r.getMessage() for r in caplog.records)


def test_a_throttled_upload_is_not_hidden(
    sandbox: RunningSandbox, make_adapter: MakeAdapter, unique: Callable[[str], str],
    published: Published, sample: str,
) -> None:  # fmt: skip
    text = unique("throttled upload")
    sandbox.faults.force("mastodon", Fault.THROTTLE, writes_only=False)
    with pytest.raises(RateLimited):
        make_adapter("mastodon").publish(part(text, sample), MemoryContext(text))
    assert not [p for p in published() if p["text"] == text]


def test_the_feed_page_shows_the_alt_text(
    sandbox: RunningSandbox, make_adapter: MakeAdapter, unique: Callable[[str], str], sample: str
) -> None:
    text = unique("feed alt")
    make_adapter("x").publish(part(text, sample, alt="A <harbour> at dawn"), MemoryContext(text))
    page = requests.get(sandbox.url + "/", timeout=5).text
    assert "image: A &lt;harbour&gt; at dawn" in page


@pytest.mark.parametrize("platform", UPLOADERS)
def test_sandbox_mode_never_fetches_an_image_off_this_machine(
    platform: str, make_adapter: MakeAdapter, unique: Callable[[str], str], published: Published
) -> None:
    # an address no test can reach: were it fetched, the image would be missing
    text = unique(f"{platform} remote image")
    src = "https://images.portal.invalid/photo.jpg"
    make_adapter(platform).publish(part(text, src), MemoryContext(text))
    [image] = mine(published, platform, text)["images"]
    assert image["alt"] == ALT


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (png(2, 2), "image/png"),
        (b"GIF87a\x01\x00", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8L", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", "image/avif"),
        (b"\x00\x00\x00\x18ftypisom", None),  # an MP4
        (b"<html>", None),
        (b"", None),
    ],
)
def test_image_types_are_told_by_their_first_bytes(head: bytes, mime: str | None) -> None:
    assert sniff_image_type(head) == mime


def test_peek_reads_the_type_of_an_image_url_or_says_it_cannot(
    sandbox: RunningSandbox, sample: str
) -> None:
    assert peek_image_type(sample, timeout=5, destinations=LOCAL) == "image/png"
    missing = f"{sandbox.url}/_sandbox/static/missing.jpg"
    assert peek_image_type(missing, timeout=5, destinations=LOCAL) is None
    assert peek_image_type(closed_port_url(), timeout=5, destinations=LOCAL) is None
