"""Platform declarations: one frozen :class:`PlatformTraits` per platform, and the
registry that compose, config, planning, the adapters, the sandbox and the docs read.

Imports the standard library only (no HTTP, no adapters), so any layer may import it::

    from dissem.traits import traits_for
    traits_for("bluesky").text_limit  # 300
"""

from dissem.traits.base import (
    LINK_POST,
    METRIC_NAMES,
    Counting,
    Idempotency,
    ImageHandling,
    LinkHandling,
    Markup,
    PlatformTraits,
)
from dissem.traits.registry import (
    BUILTIN,
    all_platforms,
    find_traits,
    register,
    traits_for,
    unregister,
)

__all__ = [
    "BUILTIN",
    "LINK_POST",
    "METRIC_NAMES",
    "Counting",
    "Idempotency",
    "ImageHandling",
    "LinkHandling",
    "Markup",
    "PlatformTraits",
    "all_platforms",
    "find_traits",
    "register",
    "traits_for",
    "unregister",
]
