"""`dissem preview`: the exact parts per channel, as text and JSON; exit 2 on a broken file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dissem.cli import cli

CHANNELS = """\
channels:
  - {name: hq-x, platform: x, account: "@hq", timezone: Asia/Jakarta}
  - {name: hq-bsky, platform: bluesky, account: did:plc:abc, timezone: Asia/Jakarta}
  - {name: hq-ig, platform: instagram, account: "1789", timezone: Asia/Jakarta}
  - name: hq-tg
    platform: telegram
    account: "@hq"
    timezone: Asia/Jakarta
    language: id
  - {name: hq-li, platform: linkedin, account: "urn:li:organization:1", timezone: UTC}
groups:
  hq: [hq-x, hq-bsky, hq-ig, hq-tg]
"""

RELEASE = """\
id: vokasi
title: R&D kerja sama (vokasi)
summary: Kedua negara sepakat melatih 10.000 teknisi.
url: https://portal.go.id/berita/vokasi
tags: [kerja sama]
targets: [hq]
translations:
  id: {title: Kerja sama vokasi & riset}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "releases").mkdir()
    (tmp_path / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    (tmp_path / "releases" / "vokasi.yaml").write_text(RELEASE, encoding="utf-8")
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["preview", *args])
    return result.exit_code, result.stdout, result.stderr


def test_human_output_shows_parts_lengths_facets_and_skips(config: Path) -> None:
    code, out, err = run(str(config / "releases" / "vokasi.yaml"), "--config", str(config))
    assert code == 0, err
    for name in ("hq-x (x)", "hq-bsky (bluesky)", "hq-ig (instagram)", "hq-tg (telegram)"):
        assert f"=== {name}" in out
    assert "hq-li" not in out  # not a target
    assert "skipped: Instagram needs an image" in out
    assert "utm_source=x" in out and "/280 (ok)" in out
    assert "facet: link bytes" in out and "facet: tag bytes" in out
    assert "<b>Kerja sama vokasi &amp; riset</b>" in out
    assert "escaping: Telegram HTML" in out and "parse_mode: HTML" in out


def test_json_output(config: Path) -> None:
    code, out, _ = run(str(config / "releases" / "vokasi.yaml"), "--config", str(config), "--json")
    assert code == 0
    data = json.loads(out)
    assert [d["channel"] for d in data] == ["hq-x", "hq-bsky", "hq-ig", "hq-tg"]
    by_name = {d["channel"]: d for d in data}
    assert by_name["hq-ig"]["skipped"] == "skipped: Instagram needs an image"
    assert by_name["hq-ig"]["parts"] == []
    x_part = by_name["hq-x"]["parts"][0]
    assert {"text", "length", "limit", "facets", "options"} <= set(x_part)
    assert x_part["length"] <= x_part["limit"] == 280
    bsky = by_name["hq-bsky"]["parts"][0]
    assert bsky["embed"]["$type"] == "app.bsky.embed.external"
    assert any(f["features"][0]["$type"].endswith("#link") for f in bsky["facets"])


def test_one_channel_even_if_not_a_target(config: Path) -> None:
    code, out, _ = run(
        str(config / "releases" / "vokasi.yaml"), "--config", str(config), "--channel", "hq-li"
    )
    assert code == 0
    assert "=== hq-li (linkedin)" in out and "hq-x" not in out
    assert "R&D kerja sama \\(vokasi\\)" in out  # little-format escaping
    assert "article:" in out


def test_unknown_channel_exits_2(config: Path) -> None:
    code, _, err = run(
        str(config / "releases" / "vokasi.yaml"), "--config", str(config), "--channel", "nope"
    )
    assert code == 2 and "nope" in err


def test_broken_release_exits_2_with_file_and_line(config: Path) -> None:
    broken = config / "releases" / "broken.yaml"
    broken.write_text(RELEASE.replace("url: https://portal.go.id/berita/vokasi", "url: portal"))
    code, out, err = run(str(broken), "--config", str(config))
    assert code == 2
    assert "broken.yaml:4" in err and "url" in err
    assert out == ""


def test_broken_template_exits_2(config: Path) -> None:
    path = config / "releases" / "vokasi.yaml"
    path.write_text(RELEASE + 'overrides:\n  x: {text: "{{ title.__class__ }}"}\n')
    code, out, err = run(str(path), "--config", str(config))
    assert code == 2
    assert "template" in err
    assert "=== hq-bsky" in out  # the other channels are still shown


def test_a_url_the_composer_cannot_read_exits_2(config: Path) -> None:
    """``http://[::1.x/a`` passed validate and then crashed preview (urlsplit)."""
    path = config / "releases" / "vokasi.yaml"
    path.write_text(RELEASE.replace("https://portal.go.id/berita/vokasi", '"http://[::1.x/a"'))
    code, out, err = run(str(path), "--config", str(config))
    assert code == 2 and out == "" and "Traceback" not in err
    assert "vokasi.yaml:4:6: url:" in err and "Invalid IPv6 URL" in err


@pytest.mark.parametrize(
    "template",
    [
        "{{ lipsum(n=10**8) }}",
        "{{ title|center(2000000000) }}",
        "{{ 'a' * 10**8 }}",
        "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}"
        "{% endfor %}{{ ns.l|length }}",
    ],
)
def test_a_template_over_budget_exits_2_at_once(config: Path, template: str) -> None:
    """These hung preview or took gigabytes; now the channel's error is shown and the
    others are previewed."""
    path = config / "releases" / "vokasi.yaml"
    path.write_text(RELEASE + f"overrides:\n  x: {{text: {json.dumps(template)}}}\n")
    started = time.monotonic()
    code, out, err = run(str(path), "--config", str(config))
    assert time.monotonic() - started < 10
    assert code == 2 and "=== hq-bsky" in out
    assert "template" in err and ("over its budget" in err or "lipsum" in err)


def test_example_config_previews() -> None:
    root = Path(__file__).resolve().parents[2] / "dissem" / "example"
    release = root / "releases" / "digital-diplomacy-workshop.md"
    assert release.is_file(), f"the example release is missing: {release}"
    code, out, err = run(str(release), "--config", str(root), "--json")
    assert code == 0, err
    for entry in json.loads(out):
        for part in entry["parts"]:
            assert part["length"] <= part["limit"]
