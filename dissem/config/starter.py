"""The starter config folder written by ``dissem init``: small, commented, valid as is.

Its releases are drafts, so a daemon pointed at a fresh folder posts nothing until someone
approves a release on purpose.
"""

from __future__ import annotations

from pathlib import Path

from dissem.config.schema import KINDS, schema_file_name, schema_json

__all__ = ["STARTER_FILES", "create_starter"]

_CHANNELS = """\
# yaml-language-server: $schema=./schemas/channels.schema.json
#
# channels.yaml: one entry per account on one platform (more may go in channels/*.yaml).
# Platforms: x, mastodon, bluesky, facebook, instagram, threads, linkedin, telegram.
#
# Secrets never go in this file. `credentials` maps each credential to the NAME of the
# environment variable holding it; set those variables where the daemon runs.
# Set DISSEM_SANDBOX_URL to a running `dissem sandbox` to try everything without posting.

# Keys starting with x- are ignored by dissem; use them for shared settings (YAML anchors)
# and pull them into channels with `<<: *defaults`.
x-defaults: &defaults
  timezone: Asia/Jakarta           # IANA time zone of the posting windows
  language: id                     # language of this channel's posts (ISO 639-1)
  windows:                         # local posting windows: DAYS HH:MM-HH:MM
    - mon-fri 07:00-21:00
    - sat,sun 09:00-18:00
  min_gap: 30m                     # least time between two posts (90s, 30m, 2h, 1d)
  daily_cap: 10                    # most posts per local day

channels:
  - <<: *defaults
    name: main-mastodon            # unique, lower-case; used in targets and overrides
    platform: mastodon
    account: "@newsroom@mastodon.example"
    api_base: https://mastodon.example  # your instance
    hashtags: [Berita]
    credentials:
      access_token: DISSEM_MASTODON_MAIN_ACCESS_TOKEN

  - <<: *defaults
    name: main-telegram
    platform: telegram
    account: "@newsroom_channel"   # the bot must be an admin of the channel
    daily_cap: 20
    credentials:
      bot_token: DISSEM_TELEGRAM_MAIN_BOT_TOKEN

# Groups name several channels (or other groups) for release targets. A group may name
# channels and groups of the files in channels/ as well.
groups:
  main: [main-mastodon, main-telegram]
"""

_CHANNELS_PART = """\
# yaml-language-server: $schema=../schemas/channels.schema.json
#
# channels/: more channel files, read as well as channels.yaml, with the same keys
# (channels and groups). Use one file per office or team, so each edits only its own,
# and when channels.yaml nears the 256 KB limit of a config file. Every .yaml or .yml
# file here (and in folders under it) is read; names are unique across all the files,
# and groups may name channels and groups of any of them.
channels: []
# channels:
#   - name: office-berlin-mastodon
#     platform: mastodon
#     account: "@berlin@mastodon.example"
#     api_base: https://mastodon.example
#     timezone: Europe/Berlin
#     language: de
#     windows: [mon-fri 08:00-18:00]
#     credentials:
#       access_token: DISSEM_MASTODON_BERLIN_ACCESS_TOKEN
# groups:
#   office-berlin: [office-berlin-mastodon]
"""

_FEEDS = """\
# yaml-language-server: $schema=./schemas/feeds.schema.json
#
# feeds.yaml (optional): RSS/Atom feeds of your portal. The worker (`dissem run`) reads
# each feed every poll_interval and each new item becomes a release: a draft waiting for
# `dissem approve RELEASE --by NAME`, or sent at once when the feed is approved. Items
# already in a feed when it is first read are only recorded (`dissem feeds poll NAME
# --backfill N` posts the newest N). `dissem feeds` shows each feed's state,
# `dissem feeds items` its items.
feeds: []
# feeds:
#   - name: portal-news
#     url: https://www.portal.example/rss.xml
#     targets: [main]
#     language: id
#     status: draft          # draft: items wait for review; approved needs approved_by
#     poll_interval: 10m
"""

_RELEASE_YAML = """\
# yaml-language-server: $schema=../schemas/release.schema.json
#
# One release per file; its id is the file name without extension (here: welcome).
title: Selamat datang di kanal resmi kami
summary: >-
  Ikuti kanal ini untuk berita terbaru, siaran pers, dan layanan informasi publik.
url: https://www.portal.example/berita/selamat-datang
language: id
translations:                      # optional, per language code
  en:
    title: Welcome to our official channel
    summary: >-                    # a translation without a summary mixes languages
      Follow this channel for news, press releases and public information services.
targets: [main]                    # channel or group names
priority: normal                   # normal, breaking or evergreen
# not_before: 2026-12-01 09:00     # embargo; without an offset: DISSEM_TIMEZONE
# expires: 2026-12-31 23:59
status: draft                      # draft, approved or withdrawn
# approved_by: Editor on duty      # required once status is approved
overrides:                         # per platform or per channel
  telegram:
    summary: Berita, siaran pers, dan layanan informasi publik, setiap hari.
"""

_RELEASE_MD = """\
---
# A Markdown release: YAML front matter between the --- lines, the body below them.
title: How we publish on social media
summary: Where to find us, and how we choose what to share.
url: https://www.portal.example/en/about/social-media
language: en
targets: [main-mastodon]
status: draft
---

We share every press release on our official accounts, adapted to each platform.

- **Mastodon** for the full summary and a link.
- **Telegram** for breaking news.
"""

#: Files of the starter folder (schemas are added from the models when it is written).
STARTER_FILES: dict[str, str] = {
    "channels.yaml": _CHANNELS,
    "channels/office-example.yaml": _CHANNELS_PART,
    "feeds.yaml": _FEEDS,
    "releases/welcome.yaml": _RELEASE_YAML,
    "releases/how-we-publish.md": _RELEASE_MD,
}


def create_starter(root: Path) -> list[Path]:
    """Writes the starter folder into ``root`` (created if needed) and returns the files.

    Raises FileExistsError naming every file that already exists; nothing is written then.
    """
    files = dict(STARTER_FILES)
    for kind in KINDS:
        files[f"schemas/{schema_file_name(kind)}"] = schema_json(kind)
    existing = [root / rel for rel in files if (root / rel).exists()]
    if existing:
        raise FileExistsError(", ".join(str(p) for p in existing))
    written: list[Path] = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
