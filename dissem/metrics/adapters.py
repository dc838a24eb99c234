"""Adapters for one metrics round: built once per channel, lazily, closed at the end.

What a platform reports is read from its declaration (:mod:`dissem.traits`) when dissem
builds the adapters itself, so a platform without metrics (Telegram) costs no credentials
and no adapter at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dissem.platforms.base import Platform
from dissem.platforms.tokens import TokenStore
from dissem.settings import Settings
from dissem.store.channels import channel_from_row
from dissem.store.models import ChannelRow
from dissem.traits import PlatformTraits, traits_for

__all__ = ["RoundAdapters", "channel_from_row"]


class RoundAdapters:
    """Hands out one adapter per channel for the length of a round. Adapters it builds
    itself keep renewed tokens in ``tokens`` (the daemon's factory hands out adapters that
    already do)."""

    def __init__(
        self,
        channels: Mapping[str, ChannelRow],
        settings: Settings,
        factory: Callable[[str], Platform] | None = None,
        *,
        tokens: TokenStore | None = None,
    ) -> None:
        self._channels = channels
        self._settings = settings
        self._factory = factory
        self._tokens = tokens
        self._adapters: dict[str, Platform] = {}

    def traits(self, channel: str) -> PlatformTraits:
        """What the channel's platform is and reports; raises if the platform is unknown.

        When the caller's factory cannot build the adapter (credentials missing), the
        platform's declaration answers, so a platform without metrics is settled quietly.
        """
        if self._factory is not None:
            try:
                return self.adapter(channel).traits  # an adapter may narrow its traits
            except Exception:
                declared = self._declared(channel)
                if declared.metrics:
                    raise  # this adapter is needed and cannot be had
                return declared
        return self._declared(channel)

    def _declared(self, channel: str) -> PlatformTraits:
        return traits_for(self._channels[channel].platform)

    def adapter(self, channel: str) -> Platform:
        """The channel's adapter; raises ``CredentialsMissing`` and the like when unbuildable."""
        if channel not in self._adapters:
            if self._factory is not None:
                self._adapters[channel] = self._factory(channel)
            else:
                from dissem.platforms.registry import build_adapter

                row = self._channels[channel]
                adapter = build_adapter(channel_from_row(row), self._settings)
                if self._tokens is not None:
                    adapter.use_token_store(self._tokens)
                self._adapters[channel] = adapter
        return self._adapters[channel]

    def close(self) -> None:
        """Closes the adapters this pool built; a caller's factory owns its own adapters."""
        if self._factory is None:
            for adapter in self._adapters.values():
                adapter.close()
        self._adapters.clear()
