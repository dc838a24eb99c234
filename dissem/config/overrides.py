"""A release's overrides for one channel, merged: what is set under the channel's name wins
over what is set under its platform's name. The composer writes posts with them; the config
checks read ``skip`` (a skipped channel is not checked for what it would need)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dissem.config.models import Channel, Override, Release

__all__ = ["MergedOverride", "merged_override"]

_OVERRIDE_FIELDS = ("text", "title", "summary", "hashtags", "thread", "content_warning", "skip")


@dataclass(frozen=True)
class MergedOverride:
    """The release's overrides for one channel, merged: channel beats platform."""

    text: str | None = None
    title: str | None = None
    summary: str | None = None
    hashtags: list[str] | None = None
    thread: bool | None = None
    content_warning: str | None = None
    skip: bool = False


def merged_override(release: Release, channel: Channel) -> MergedOverride:
    """The release's overrides for ``channel``: fields set under the channel's name win
    over those set under its platform's name; unset fields keep their defaults."""
    values: dict[str, Any] = {}
    for key in (channel.platform, channel.name):  # later wins
        override: Override | None = release.overrides.get(key)
        if override is not None:
            for name in _OVERRIDE_FIELDS:
                if name in override.model_fields_set:
                    values[name] = getattr(override, name)
    return MergedOverride(**values)
