"""dissem: a self-hosted social media dissemination scheduler.

Public surface: :func:`measure` and :func:`limit` (the length of a text as a platform counts
it, and that platform's limit), :func:`compose`, and the error tree in :mod:`dissem.errors`.

Importing ``dissem`` (which every ``dissem.*`` import does first) costs nothing: the public
functions load their modules on first use, so ``dissem --version`` stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dissem.compose.counting import limit, measure

__version__ = "0.1.0"
__all__ = ["__version__", "limit", "measure"]


def __getattr__(name: str) -> Any:
    """``dissem.measure`` and ``dissem.limit``, imported when first asked for (PEP 562)."""
    if name in ("limit", "measure"):
        from dissem.compose import counting

        return getattr(counting, name)
    raise AttributeError(f"module 'dissem' has no attribute {name!r}")
