"""dissem: a self-hosted social media dissemination scheduler.

Public surface: :func:`measure` and :func:`limit` (the length of a text as a platform counts
it, and that platform's limit), :func:`compose`, and the error tree in :mod:`dissem.errors`.
"""

from dissem.compose.counting import limit, measure

__version__ = "0.1.0"
__all__ = ["__version__", "limit", "measure"]
