"""A synced channel read back: the :class:`~dissem.config.models.Channel` a ``ChannelRow``
was made from. The worker's dispatch and the metrics rounds both build adapters from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dissem.config.models import Channel
from dissem.store.models import ChannelRow

__all__ = ["channel_from_row", "stored_channel"]


def stored_channel(config: Mapping[str, Any]) -> Channel:
    """The :class:`Channel` of a stored ``ChannelRow.config`` (``model_dump(mode="json")``;
    durations there are ISO 8601, which the config models accept too)."""
    return Channel.model_validate(dict(config))


def channel_from_row(row: ChannelRow) -> Channel:
    """The :class:`Channel` a synced row was made from."""
    return stored_channel(row.config)
