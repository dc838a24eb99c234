"""The ``tokens`` job: renews the tokens that are due, channel by channel, and alerts well
before a token that was not renewed expires.

Every worker runs it for its own adapters (the dispatch pool's, so the renewed token is the
one that publishes): the store's lock makes one of them call the platform while the others
take up the token it kept. A channel idle for weeks still has its Threads token renewed.

An alert (kind ``token_expiring``) goes out when a token's known expiry is within
``DISSEM_TOKEN_ALERT_DAYS`` and its renewal failed, once per token: the store records it
(in the database, so a restart or another worker does not repeat it), and a renewed token
can be alerted again. A refused renewal is otherwise only logged: publishing with the old
token goes on while it lasts, and an expired one is the dispatcher's auth alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.errors import CredentialsMissing
from dissem.platforms.tokens import TokenStatus, TokenStore
from dissem.redact import redact
from dissem.settings import Settings
from dissem.store.models import ChannelRow
from dissem.worker.alerts import Alerter
from dissem.worker.dispatch import AdapterPool

__all__ = ["TOKEN_INTERVAL", "TokenRound", "maintain_tokens"]

log = logging.getLogger(__name__)

#: seconds between two rounds (an X access token lives 2 hours and is renewed 5 minutes
#: ahead on use anyway; a Threads token is renewed weeks ahead)
TOKEN_INTERVAL = 300.0


@dataclass
class TokenRound:
    """What one round did: channels looked at, tokens seen, alerts sent."""

    channels: int = 0
    tokens: list[tuple[str, TokenStatus]] = field(default_factory=list)
    alerted: list[tuple[str, str]] = field(default_factory=list)


def maintain_tokens(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    *,
    adapters: AdapterPool,
    store: TokenStore,
    alerter: Alerter,
) -> TokenRound:
    """One round at ``now``: each enabled channel's adapter renews what is due, then the
    tokens about to expire unrenewed are alerted (once each)."""
    result = TokenRound()
    with session_factory() as session:
        rows = session.scalars(
            select(ChannelRow)
            .where(ChannelRow.enabled.is_(True), ChannelRow.removed.is_(False))
            .order_by(ChannelRow.name)
        ).all()
    window = timedelta(days=settings.token_alert_days)
    for row in rows:
        try:
            adapter = adapters.get(row.name, row.config, row.config_hash)
            statuses = adapter.maintain_credentials(now)
        except CredentialsMissing:
            continue  # the dispatcher alerts about those
        except Exception as exc:  # one channel failing must not stop the others
            log.warning("tokens: channel %r: %s", row.name, redact(f"{type(exc).__name__}: {exc}"))
            continue
        result.channels += 1
        for status in statuses:
            result.tokens.append((row.name, status))
            expires = status.expires_at
            if expires is None or status.problem is None or expires - now > window:
                continue
            if not store.first_alert(row.name, status.name, now):
                continue
            result.alerted.append((row.name, status.name))
            alerter.send(
                "token_expiring",
                f"channel {row.name!r}: its {row.platform} token ({status.name}) expires at "
                f"{expires.isoformat(timespec='minutes')} and could not be renewed "
                f"({status.problem}); renew it by hand and update the channel's credentials "
                "before then, or the channel stops",
                channel=row.name,
                platform=row.platform,
            )
    return result
