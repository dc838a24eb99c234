"""Loading a config folder: located problems, partial loading, time zones, content hashes."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

import dissem
from dissem.config.loader import content_hash, load_config, load_release_file
from dissem.config.models import LoadedConfig
from tests.config.config_folder import load_folder, write

EXAMPLE = Path(dissem.__file__).parent / "example"

CHANNELS = """\
channels:
  - name: hq-x
    platform: x
    account: "@hq"
    timezone: Asia/Jakarta
  - name: hq-mastodon
    platform: mastodon
    account: "@hq@social.example"
    timezone: Asia/Jakarta
groups:
  hq: [hq-x, hq-mastodon]
"""

RELEASE = """\
title: A release
url: https://www.kemlu.example/a
targets: [hq]
"""


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **files: str) -> LoadedConfig:
    """Loads ``tmp_path/config`` from the working folder ``tmp_path``; ``files`` are paths
    with ``__`` for ``/`` (``releases__a.yaml``); channels.yaml is CHANNELS unless given."""
    return load_folder(
        tmp_path,
        monkeypatch,
        {"channels.yaml": CHANNELS, **{k.replace("__", "/"): v for k, v in files.items()}},
    )


def messages(cfg: LoadedConfig) -> list[str]:
    return [str(p) for p in cfg.problems]


def test_example_config_has_no_problems() -> None:
    cfg = load_config(EXAMPLE)
    assert messages(cfg) == []
    assert len(cfg.channels) >= 15
    platforms = {c.platform for c in cfg.channels.values() if c.name.startswith("hq-")}
    assert len(platforms) == 8
    assert len(cfg.releases) >= 5
    statuses = [r.release.status for r in cfg.releases]
    assert statuses.count("draft") == 1
    assert all(r.release.approved_by for r in cfg.releases if r.release.status == "approved")
    assert any(r.path.suffix == ".md" for r in cfg.releases)
    assert any(r.release.image and r.release.image.src.startswith("https://") for r in cfg.releases)
    assert len(cfg.feeds) == 1
    assert set(cfg.groups["all"]) == set(cfg.channels)
    zones = {c.timezone for c in cfg.channels.values()}
    assert {"Asia/Jakarta", "Europe/Berlin", "Europe/London", "Asia/Tokyo"} <= zones
    for channel in cfg.channels.values():
        assert channel.api_base is None
        assert all(v.startswith("DISSEM_") for v in channel.credentials.values())


def test_top_level_config_symlink_points_to_the_example() -> None:
    repo = Path(__file__).resolve().parents[2]  # the checkout these tests live in
    link = repo / "config"
    assert link.is_symlink(), f"{link} should be a symlink to dissem/example"
    assert not Path(link.readlink()).is_absolute()
    assert link.resolve() == (repo / "dissem" / "example").resolve()


def test_unknown_key_is_located_and_other_releases_still_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = RELEASE + "language: en\nstatus: draft\npriority: normal\nsumary: oops\n"
    assert bad.splitlines()[6] == "sumary: oops"  # line 7
    cfg = load(tmp_path, monkeypatch, **{"releases__bad.yaml": bad, "releases__good.yaml": RELEASE})
    (problem,) = cfg.problems
    assert "releases/bad.yaml:7" in str(problem)
    assert "sumary" in problem.message
    assert problem.hint == "did you mean 'summary'?"
    assert str(problem).startswith("config/releases/bad.yaml:7:1: sumary:")
    assert [r.release.id for r in cfg.releases] == ["good"]
    assert cfg.broken_release_ids == {"bad"}


def test_paths_outside_the_working_folder_are_shown_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(tmp_path / "cfg", {"channels.yaml": CHANNELS, "releases/r.yaml": "title: x\n"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(root)
    assert cfg.problems and all(p.path == str(root / "releases/r.yaml") for p in cfg.problems)


def test_all_errors_of_a_file_are_collected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load(
        tmp_path,
        monkeypatch,
        **{"releases__r.yaml": "title: ''\nurl: nope\ntargets: hq\npriority: urgent\n"},
    )
    fields = [p.field for p in cfg.problems]
    assert fields == ["title", "url", "targets", "priority"]
    by_field = {p.field: p for p in cfg.problems}
    assert by_field["priority"].line == 4 and "normal" in by_field["priority"].hint
    assert "list" in by_field["targets"].hint


def test_missing_required_key_points_at_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load(tmp_path, monkeypatch, **{"releases__r.yaml": "title: T\ntargets: [hq]\n"})
    (p,) = cfg.problems
    assert (p.field, p.line) == ("url", 1)
    assert "required key 'url' is missing" in p.message


def test_bad_channel_time_zone_suggests_the_right_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = CHANNELS.replace(
        'account: "@hq"\n    timezone: Asia/Jakarta', 'account: "@hq"\n    timezone: Asia/Jakata'
    )
    cfg = load(tmp_path, monkeypatch, **{"channels.yaml": channels})
    (p,) = cfg.problems
    assert (p.path, p.line, p.field) == ("config/channels.yaml", 5, "channels[0].timezone")
    assert "Asia/Jakata" in p.message and p.hint == "did you mean 'Asia/Jakarta'?"
    # the other channel still loads; the broken one is remembered, not forgotten
    assert list(cfg.channels) == ["hq-mastodon"]
    assert cfg.broken_channel_names == {"hq-x"}


def test_overlapping_windows_point_at_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = CHANNELS.replace(
        "    timezone: Asia/Jakarta\n  - name: hq-mastodon",
        "    timezone: Asia/Jakarta\n"
        "    windows: [mon-fri 08:00-12:00, mon 11:00-13:00]\n"
        "  - name: hq-mastodon",
    )
    cfg = load(tmp_path, monkeypatch, **{"channels.yaml": channels})
    (p,) = cfg.problems
    assert (p.line, p.field) == (6, "channels[0].windows")
    assert "overlap on mon" in p.message and "merge" in p.hint


def test_embargo_after_expiry_points_at_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = RELEASE + "not_before: 2026-12-05 09:00\nexpires: 2026-12-01 09:00\n"
    cfg = load(tmp_path, monkeypatch, **{"releases__r.yaml": text})
    (p,) = cfg.problems
    assert (p.line, p.field) == (5, "expires")
    assert "not after not_before" in p.message
    assert cfg.broken_release_ids == {"r"}


def test_approved_without_approved_by(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load(tmp_path, monkeypatch, **{"releases__r.yaml": RELEASE + "status: approved\n"})
    (p,) = cfg.problems
    assert (p.line, p.field) == (4, "status")
    assert "approved_by" in p.message


def test_unquoted_number_gets_a_quoting_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = CHANNELS.replace('account: "@hq"', "account: 100000000000001")
    cfg = load(tmp_path, monkeypatch, **{"channels.yaml": channels})
    (p,) = cfg.problems
    assert p.field == "channels[0].account" and "quotes" in p.hint


def test_naive_times_are_read_in_the_given_zone(tmp_path: Path) -> None:
    write(tmp_path, {"channels.yaml": CHANNELS})
    path = tmp_path / "releases" / "r.yaml"
    write(
        tmp_path,
        {
            "releases/r.yaml": RELEASE + "not_before: 2026-12-01 09:00:00\n"
            "expires: 2026-12-31T09:00:00+07:00\n"
        },
    )
    loaded, problems = load_release_file(path, root=tmp_path, timezone="Europe/Berlin")
    assert problems == [] and loaded is not None
    nb = loaded.release.not_before
    assert nb is not None and nb.utcoffset() == timedelta(hours=1)
    assert nb.hour == 9
    exp = loaded.release.expires
    assert exp is not None and exp.utcoffset() == timedelta(hours=7)  # explicit offset kept
    jakarta, _ = load_release_file(path, root=tmp_path, timezone="Asia/Jakarta")
    assert jakarta is not None and jakarta.release.not_before is not None
    assert jakarta.release.not_before.utcoffset() == timedelta(hours=7)
    assert jakarta.content_hash != loaded.content_hash  # another instant


def test_bad_default_time_zone_keeps_stored_releases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = write(tmp_path / "c", {"channels.yaml": CHANNELS, "releases/r.yaml": RELEASE})
    cfg = load_config(root, timezone="Asia/Jakata")
    (p,) = cfg.problems
    assert p.path == "DISSEM_TIMEZONE" and "Asia/Jakarta" in p.hint
    assert cfg.releases == [] and cfg.broken_release_ids == {"r"}


def test_content_hash_ignores_formatting_and_offsets(tmp_path: Path) -> None:
    write(tmp_path, {"channels.yaml": CHANNELS})
    one = """\
    title: Kerja sama
    url: https://www.kemlu.example/a
    targets: [hq, hq-x]
    not_before: 2026-12-01 09:00:00
    tags: [a, b]
    """
    two = """\
    # the same release, written differently
    tags:
      - a
      - "b"
    not_before: 2026-12-01T03:00:00+01:00   # the same instant, another offset
    targets:
      - hq
      - hq-x
    url: 'https://www.kemlu.example/a'
    title: >-
      Kerja sama
    """
    write(tmp_path, {"releases/r.yaml": one, "releases2/r.yaml": two})
    a, pa = load_release_file(tmp_path / "releases/r.yaml", root=tmp_path, timezone="Asia/Jakarta")
    b, pb = load_release_file(tmp_path / "releases2/r.yaml", root=tmp_path, timezone="Asia/Jakarta")
    assert pa == pb == [] and a is not None and b is not None
    assert a.content_hash == b.content_hash
    assert len(a.content_hash) == 64
    changed = a.release.model_copy(update={"title": "Kerja sama baru"})
    assert content_hash(changed) != a.content_hash


def test_markdown_release_front_matter_lines_and_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front = "---\ntitle: Workshop\nurl: https://www.kemlu.example/w\ntargets: [hq]\n"
    good = front + "---\n\n# Hi\n\nText.\n"
    bad = front + "sumary: x\n---\nBody\n"
    cfg = load(tmp_path, monkeypatch, **{"releases__good.md": good, "releases__bad.md": bad})
    (p,) = cfg.problems
    assert (p.path, p.line, p.column) == ("config/releases/bad.md", 5, 1)
    (r,) = cfg.releases
    assert r.release.id == "good" and r.release.body == "# Hi\n\nText."


def test_markdown_body_given_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "---\ntitle: T\nurl: https://www.kemlu.example/w\ntargets: [hq]\nbody: b\n---\nBody\n"
    cfg = load(tmp_path, monkeypatch, **{"releases__r.md": text})
    (p,) = cfg.problems
    assert p.line == 5 and "twice" in p.message


def test_markdown_without_front_matter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load(tmp_path, monkeypatch, **{"releases__r.md": "# Title\n\nBody\n"})
    (p,) = cfg.problems
    assert p.line == 1 and "front matter" in p.message and cfg.broken_release_ids == {"r"}


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (RELEASE + "body: !!python/object/apply:os.system ['id']\n", 4, "not allowed"),
        ("title: a\ntitle: b\n", 2, "duplicate key 'title'"),
        ("title: [unclosed\n", 2, ""),
        ("- a\n- b\n", 1, "must be a mapping"),
    ],
)
def test_unreadable_release_files_are_located(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int, needle: str
) -> None:
    cfg = load(tmp_path, monkeypatch, **{"releases__bad.yaml": text, "releases__ok.yaml": RELEASE})
    (p,) = cfg.problems
    assert p.path == "config/releases/bad.yaml" and p.line == line and needle in p.message
    assert [r.release.id for r in cfg.releases] == ["ok"]
    assert cfg.broken_release_ids == {"bad"}


def test_oversized_release_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = RELEASE + "body: '" + "x" * 300_000 + "'\n"
    cfg = load(tmp_path, monkeypatch, **{"releases__big.yaml": big})
    (p,) = cfg.problems
    assert "300,0" in p.message and "limited to 262,144 bytes" in p.message
    assert cfg.broken_release_ids == {"big"}


def test_release_id_defaults_to_file_name_or_is_explicit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load(
        tmp_path,
        monkeypatch,
        **{"releases__a.yml": RELEASE, "releases__b.yaml": RELEASE + "id: custom-id\n"},
    )
    assert cfg.problems == []
    assert sorted(r.release.id for r in cfg.releases) == ["a", "custom-id"]


def test_broken_release_keeps_its_declared_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load(tmp_path, monkeypatch, **{"releases__f.yaml": RELEASE + "id: real\nbogus: 1\n"})
    assert cfg.broken_release_ids == {"real"}


def test_local_image_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = RELEASE + "image:\n  src: media/photo.jpg\n  alt: A photo\n"
    cfg = load(tmp_path, monkeypatch, **{"releases__r.yaml": text})
    (p,) = cfg.problems
    assert (p.line, p.field) == (5, "image.src") and "not found" in p.message
    (tmp_path / "config/media").mkdir()
    (tmp_path / "config/media/photo.jpg").write_bytes(b"\xff\xd8")
    assert load_config(tmp_path / "config").problems == []


def test_missing_folder_and_missing_channels(tmp_path: Path) -> None:
    assert "not found" in load_config(tmp_path / "nope").problems[0].message
    (tmp_path / "empty").mkdir()
    channels, releases = load_config(tmp_path / "empty").problems
    assert "channels.yaml not found" in channels.message
    assert "releases folder not found" in releases.message


def test_x_keys_hold_anchors_and_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = """\
    x-base: &base
      platform: telegram
      timezone: Europe/London
      daily_cap: 3
    channels:
      - <<: *base
        name: a
        account: "@a"
      - <<: *base
        name: b
        account: "@b"
        daily_cap: 5
    """
    cfg = load(tmp_path, monkeypatch, **{"channels.yaml": channels})
    assert cfg.problems == []
    assert cfg.channels["a"].daily_cap == 3 and cfg.channels["b"].daily_cap == 5


def test_merged_default_error_points_at_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = """\
    x-base: &base
      platform: telegram
      timezone: Europe/Londn
    channels:
      - <<: *base
        name: a
        account: "@a"
    """
    cfg = load(tmp_path, monkeypatch, **{"channels.yaml": channels})
    (p,) = cfg.problems
    assert (p.line, p.field) == (3, "channels[0].timezone")


def test_copied_example_with_one_bad_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "config"
    shutil.copytree(EXAMPLE, root)
    monkeypatch.chdir(tmp_path)
    good = load_config(root)
    (root / "releases" / "zz-broken.yaml").write_text("title: x\n")
    cfg = load_config(root)
    assert {p.path for p in cfg.problems} == {"config/releases/zz-broken.yaml"}
    assert [r.content_hash for r in cfg.releases] == [r.content_hash for r in good.releases]
