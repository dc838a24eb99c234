"""Turning a release into the exact posts each channel sends.

``from dissem.compose import compose`` is the entry point (see
:mod:`dissem.compose.composer`). Importing this package is cheap: the composer (and with
it Jinja and markdown-it) loads on first use of :func:`compose`, so modules that only
need the value types (:class:`Part`, :class:`Composition`) do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dissem.compose.types import Composition, Media, Part

if TYPE_CHECKING:
    from dissem.compose.composer import compose

__all__ = ["Composition", "Media", "Part", "compose"]


def __getattr__(name: str) -> Any:
    if name == "compose":
        from dissem.compose.composer import compose

        return compose
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
