"""`dissem validate` flags a local image that is not a JPEG (by its bytes) on a release an
Instagram channel would post: Instagram takes JPEG only. The release stays loaded for its
other channels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dissem.cli import cli
from dissem.sandbox.uploads import png
from tests.config.config_folder import load_folder, write

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(24)
CHANNELS = """\
channels:
  - {name: hq-ig, platform: instagram, account: "178", timezone: UTC}
  - {name: hq-x, platform: x, account: "@hq", timezone: UTC}
  - {name: old-ig, platform: instagram, account: "179", timezone: UTC, enabled: false}
"""


def release(image: str, targets: str = "[hq-ig, hq-x]", extra: str = "") -> str:
    return (
        f"title: T\nurl: https://www.portal.example/a\ntargets: {targets}\n"
        f"image: {{src: {image}, alt: a}}\n{extra}"
    )


def folder(tmp_path: Path, image_bytes: bytes, name: str, **release_args: str) -> dict[str, str]:
    (tmp_path / "config" / "images").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "images" / name).write_bytes(image_bytes)
    return {"channels.yaml": CHANNELS, "releases/r.yaml": release(f"images/{name}", **release_args)}


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (png(4, 4), "poster.png", "PNG"),
        (WEBP, "poster.webp", "WEBP"),
        (png(4, 4), "poster.jpg", "PNG"),  # the bytes decide, not the name
        (b"GIF89a" + bytes(10), "anim.gif", "GIF"),
    ],
    ids=["png", "webp", "png-named-jpg", "gif"],
)
def test_a_local_image_that_is_not_jpeg_is_a_problem_for_instagram(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, name: str, kind: str
) -> None:
    cfg = load_folder(tmp_path, monkeypatch, folder(tmp_path, data, name))
    (problem,) = cfg.problems
    assert (problem.path, problem.line, problem.field) == ("config/releases/r.yaml", 4, "image.src")
    assert f"is {kind}, but Instagram takes JPEG only (channel 'hq-ig')" in problem.message
    assert "JPEG" in problem.hint and "skip: true" in problem.hint
    assert [r.release.id for r in cfg.releases] == ["r"] and not cfg.broken_release_ids


@pytest.mark.parametrize(
    ("data", "name", "args"),
    [
        (JPEG, "poster.png", {}),  # a JPEG with the wrong name is fine
        (png(4, 4), "poster.png", {"targets": "[hq-x]"}),  # no Instagram channel
        (png(4, 4), "poster.png", {"targets": "[old-ig, hq-x]"}),  # disabled
        (png(4, 4), "poster.png", {"extra": "overrides:\n  instagram: {skip: true}\n"}),
        (png(4, 4), "poster.png", {"extra": "overrides:\n  hq-ig: {skip: true}\n"}),
    ],
    ids=["jpeg-named-png", "no-instagram", "disabled", "platform-skip", "channel-skip"],
)
def test_no_problem_when_instagram_gets_a_jpeg_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, name: str, args: dict[str, str]
) -> None:
    cfg = load_folder(tmp_path, monkeypatch, folder(tmp_path, data, name, **args))
    assert cfg.problems == [] and [r.release.id for r in cfg.releases] == ["r"]


def test_validate_reports_it_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = write(tmp_path / "config", folder(tmp_path, png(4, 4), "poster.png"))
    result = CliRunner().invoke(cli, ["validate", "--config", str(root), "--json"])
    assert result.exit_code == 2, result.output
    (problem,) = json.loads(result.output)["problems"]
    assert "Instagram takes JPEG only" in problem["message"]
