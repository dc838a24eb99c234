"""The one error tree, sorted by what the scheduler does next.

::

    DissemError
    ├── ConfigError              a file is wrong: path, line, field, hint
    ├── YamlProblem              a file is not safe, plain YAML (line, column, hint)
    ├── CredentialsMissing       a channel names an environment variable that is unset or empty
    ├── LookupUnsupported        the platform cannot be asked whether a post went out
    ├── ImageUnavailable         a release image cannot be loaded; the post goes without it
    ├── LeaseLost                this worker no longer holds the post it is publishing
    ├── ReviewError              a person's command cannot apply to the post or release
    ├── TransitionRefused        the lifecycle table does not allow that state change
    ├── DatabaseUnavailable      the database cannot be used: what is wrong and what to do
    ├── TokenKeyInvalid          DISSEM_TOKEN_KEY is not a Fernet key
    ├── TokenUnreadable          a stored token the key cannot open
    ├── FetchFailed              an image or feed URL could not be fetched (host at most)
    │   └── FetchRefused         the address may not be reached; nothing was sent
    ├── FeedFetchError           a feed fetch gave no answer
    ├── FeedParseError           a feed cannot be read
    ├── FeedNotFound             no enabled feed of that name in feeds.yaml
    ├── DeliveryError            a report could not be sent (e-mail, webhook)
    ├── AlertFailed              an alert could not be delivered
    └── PlatformError
        ├── RateLimited          retry_at known; pause the channel until then
        ├── TransientError       safe to retry with backoff (nothing was created)
        ├── OutcomeUnknown       the request may have been applied: reconcile first
        │   └── LookupAmbiguous  lookup found what may be the post but cannot prove it
        ├── Duplicate            the platform already has it (remote id when it says)
        ├── ContentRejected      permanent for this content: fail with the reason
        ├── AuthError            credentials bad or expired: fail, alert, pause the channel
        └── AccountBlocked       the platform bars the account from posting for a while:
                                 keep the post, pause the channel long, alert
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class DissemError(Exception):
    """Base of every error dissem raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in one config file, located to the line and column (1-based)."""

    path: str
    line: int
    column: int
    field: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        field = f" {self.field}:" if self.field else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}:{field} {self.message}{hint}"


class ConfigError(DissemError):
    """Raised when config files are wrong; carries every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class CredentialsMissing(DissemError):
    """Raised when a channel's credential environment variable is unset or empty."""

    def __init__(self, channel: str, variable: str) -> None:
        self.channel = channel
        self.variable = variable
        super().__init__(
            f"channel {channel!r}: environment variable {variable} is not set or empty; "
            f"set it (or remove the channel / set enabled: false); the channel is skipped"
        )


class PlatformError(DissemError):
    """Base of every failure a platform adapter reports."""

    def __init__(self, message: str, *, platform: str = "", status: int | None = None) -> None:
        self.platform = platform
        self.status = status
        super().__init__(message)


class RateLimited(PlatformError):
    """Raised on a throttle signal; ``retry_at`` (UTC) is when the channel may post again."""

    def __init__(
        self, message: str, *, retry_at: datetime, platform: str = "", status: int | None = None
    ) -> None:
        self.retry_at = retry_at
        super().__init__(message, platform=platform, status=status)


class TransientError(PlatformError):
    """Raised when nothing was created and retrying with backoff is safe."""


class OutcomeUnknown(PlatformError):
    """Raised when the request may have been applied (timeout after sending, 5xx on create)."""


class Duplicate(PlatformError):
    """Raised when the platform already holds this post; ``remote_id`` when it names it."""

    def __init__(
        self,
        message: str,
        *,
        remote_id: str | None = None,
        url: str | None = None,
        platform: str = "",
        status: int | None = None,
    ) -> None:
        self.remote_id = remote_id
        self.url = url
        super().__init__(message, platform=platform, status=status)


class ContentRejected(PlatformError):
    """Raised when the platform refuses this content for good; the reason is the message."""


class AuthError(PlatformError):
    """Raised when credentials are missing, wrong, expired or lack a permission."""


class AccountBlocked(PlatformError):
    """Raised when the platform refuses to let the account post for a while, for its own
    reasons and without saying until when (Facebook's code 368, "temporarily blocked for
    policy violations"). Nothing was created; trying again soon only prolongs the block, and
    a person should look at the account."""


class LeaseLost(DissemError):
    """Raised when a publishing worker no longer holds its post (the lease expired and the
    post moved on); the adapter must stop before its next step."""


class ReviewError(DissemError):
    """Raised when a review operation (``dissem retry``, ``cancel``, ``mark-published``,
    ``resume``, ``feeds approve`` ...) cannot apply to the post or release as it stands;
    the message says why."""


class TransitionRefused(DissemError):
    """Raised when the post lifecycle table (:mod:`dissem.lifecycle`) does not allow an
    event from a post's state."""


class LookupUnsupported(DissemError):
    """Raised by an adapter's ``lookup`` when the platform offers no way to check whether a
    post went out (Telegram: a bot cannot read a channel back); a person decides."""


class ImageUnavailable(DissemError):
    """Raised when a release image cannot be loaded: unreachable, not an image, too large,
    missing, or outside the config folder. ``reason`` is the message without the source;
    neither ever holds a secret."""

    def __init__(self, src: str, reason: str) -> None:
        from dissem.redact import redact  # standard library only; imported when raised

        self.src = src
        self.reason = redact(reason)
        super().__init__(redact(f"image {src!r}: {reason}"))


class LookupAmbiguous(OutcomeUnknown):
    """Raised by an adapter's ``lookup`` when the platform holds something that may be this
    post but lookup cannot prove it is (two posts fit; the platform does not say what a
    post replies to; a container went out but its post cannot be singled out). Taking one
    could record another post's remote id, and sending again could duplicate it: a person
    decides. The message says what was seen. An :class:`OutcomeUnknown`, so that a publish
    meeting it (a container found already published) leaves the post to reconcile."""


class DatabaseProblem(Protocol):
    """What :class:`DatabaseUnavailable` carries (``dissem.store.db.DatabaseProblem``)."""

    @property
    def kind(self) -> str: ...

    @property
    def line(self) -> str: ...

    @property
    def exit_code(self) -> int: ...


class DatabaseUnavailable(DissemError):
    """Raised when the database cannot be used; the message is the problem's ``line``."""

    def __init__(self, problem: DatabaseProblem) -> None:
        self.problem = problem
        super().__init__(problem.line)


class TokenKeyInvalid(DissemError):
    """``DISSEM_TOKEN_KEY`` is not a Fernet key (32 url-safe base64-encoded bytes)."""


class TokenUnreadable(DissemError):
    """A stored ciphertext the key cannot open (another key, or damaged)."""


class FetchFailed(DissemError):
    """The URL could not be fetched; the message says why and never holds the URL."""


class FetchRefused(FetchFailed):
    """The URL (or a redirect) names an address that may not be reached; nothing was sent."""


class FeedFetchError(DissemError):
    """A fetch that gave no answer: refused, timed out, too big, too many redirects, or a
    connection failure. ``where`` is the host."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


class FeedParseError(DissemError):
    """A feed that cannot be read: not a feed, malformed beyond repair, or declaring
    entities."""


class FeedNotFound(DissemError):
    """No feed of that name in feeds.yaml (or it is disabled)."""


class DeliveryError(DissemError):
    """A report could not be sent; the message names the channel (e-mail, webhook) and why."""


class AlertFailed(DissemError):
    """An alert could not be delivered; the message never holds the webhook URL."""


class YamlProblem(DissemError):
    """Raised when a file cannot be read as safe, plain YAML; located at a 1-based mark
    (config turns it into a :class:`ConfigProblem` of the file)."""

    def __init__(self, message: str, *, line: int = 1, column: int = 1, hint: str = "") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(f"{line}:{column}: {message}")
