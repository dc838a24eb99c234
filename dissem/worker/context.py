"""What a publishing worker hands to adapters and to the outside world.

- :class:`DbPublishContext` is the :class:`~dissem.platforms.base.PublishContext` of one
  claimed post: ``remember`` writes to ``Post.publish_state`` in its own short transaction
  *before* the adapter takes its next network step, so a worker killed after it leaves the
  rkey / container id for reconcile to check.
- :class:`Alerter` (defined in :mod:`dissem.worker.alerts`, re-exported here) is how the
  worker tells people that something needs them (an expired token, a post only a person
  can confirm); :class:`NullAlerter` only logs them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from dissem.errors import LeaseLost
from dissem.store.db import transaction
from dissem.store.models import Post, PostState
from dissem.worker.alerts import Alerter, NullAlerter

__all__ = ["Alerter", "DbPublishContext", "NullAlerter"]


class DbPublishContext:
    """The publish context of a post claimed by ``worker_id``.

    ``remember`` persists the whole ``publish_state`` (one UPDATE guarded by the lease) and
    raises :class:`~dissem.errors.LeaseLost` when the post is no longer this worker's.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        post_id: int,
        worker_id: str,
        idempotency_key: str,
        state: Mapping[str, str] | None = None,
    ) -> None:
        self._factory = session_factory
        self._post_id = post_id
        self._worker_id = worker_id
        self._key = idempotency_key
        self._state: dict[str, str] = dict(state or {})

    @property
    def idempotency_key(self) -> str:
        return self._key

    @property
    def state(self) -> Mapping[str, str]:
        return self._state

    def remember(self, key: str, value: str) -> None:
        new_state = {**self._state, key: value}
        with transaction(self._factory) as session:
            changed = session.execute(
                update(Post)
                .where(
                    Post.id == self._post_id,
                    Post.state == PostState.PUBLISHING,
                    Post.lease_owner == self._worker_id,
                )
                .values(publish_state=new_state)
            ).rowcount  # type: ignore[attr-defined]
        if changed != 1:
            raise LeaseLost(f"post {self._post_id}: lease lost before remembering {key!r}")
        self._state = new_state
