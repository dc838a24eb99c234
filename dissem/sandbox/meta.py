"""The Meta stand-ins (Facebook Pages, Instagram, Threads), as the sandbox core loads them.

Each lives in its own module; what they share (Graph auth, error shapes, throttling by
error code, media containers) is in :mod:`dissem.sandbox.graph`.
"""

from __future__ import annotations

from dissem.sandbox.facebook import FacebookStandIn
from dissem.sandbox.instagram import InstagramStandIn
from dissem.sandbox.threads import ThreadsStandIn

__all__ = ["STAND_INS", "FacebookStandIn", "InstagramStandIn", "ThreadsStandIn"]

STAND_INS = (FacebookStandIn, InstagramStandIn, ThreadsStandIn)
