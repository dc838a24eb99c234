"""Every setting of dissem, declared once: environment variables with the prefix ``DISSEM_``
(and an optional ``.env`` file in the working folder).

Credentials for platforms are *not* settings: each channel names the environment variables
that hold its secrets (see ``config/channels.yaml``).

Where a value comes from, first found wins: a keyword given to :class:`Settings`, the
environment (``DISSEM_<NAME>``, any case), the ``.env`` file, the default (pydantic-settings'
order). Commands that need no setting (``--version``, ``--help``) never import this module.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dissem.clock import check_zone
from dissem.retention import parse_retention

__all__ = ["ENV_FILE", "ENV_PREFIX", "Settings", "get_settings", "settings_problem"]

#: every setting's environment variable starts so
ENV_PREFIX = "DISSEM_"
#: the ``.env`` file settings are also read from, relative to the working folder
ENV_FILE = Path(".env")


class Settings(BaseSettings):
    """dissem's settings; each field is ``DISSEM_<NAME>`` in the environment.

    ``Settings(_env_file=None)`` reads the environment only (tests use it).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )

    # --- core -------------------------------------------------------------------------
    database_url: str = Field(
        "sqlite:///dissem.db",
        description="SQLAlchemy URL: sqlite:///path.db (one worker) or postgresql://... (many)",
    )
    config_dir: Path = Field(Path("config"), description="folder with channels.yaml, releases/")
    timezone: str = Field("Asia/Jakarta", description="IANA zone for reports and the CLI")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")
    log_format: Literal["text", "json"] = Field("text", description="text or json log lines")
    database_wait: float = Field(
        60.0,
        ge=0,
        description="seconds `dissem run` keeps retrying a database it cannot reach at start "
        "(then it exits 3); a running worker retries for as long as it runs",
    )

    # --- platforms --------------------------------------------------------------------
    sandbox_url: str | None = Field(
        None, description="base URL of a running `dissem sandbox`; points every channel at it"
    )
    http_timeout: float = Field(15.0, description="seconds for every platform HTTP call")
    # LinkedIn releases a version most months (not all: there was no 202512) and serves each
    # for about a year. 202608 is documented (the Community Management docs have a 2026-08
    # view: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/
    # community-management-overview?view=li-lms-2026-08); the migrations table
    # (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations) lists
    # the active versions and their sunset dates.
    linkedin_version: str = Field(
        "202608",
        pattern=r"^\d{6}(\.\d{2})?$",
        description="LinkedIn-Version header: a released version, YYYYMM (or YYYYMM.NN)",
    )
    graph_api_version: str = Field("v23.0", description="Meta Graph API version path segment")
    threads_api_version: str = Field(
        "v1.0", description="Threads API version path segment (graph.threads.net has its own)"
    )

    # --- renewed tokens (Threads, X OAuth 2.0, Bluesky sessions) --------------------------
    token_key: SecretStr | None = Field(
        None,
        description="Fernet key that encrypts renewed tokens kept in the database (several, "
        "comma-separated: the first encrypts, all decrypt); unset: they live in memory only. "
        'Make one: python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"',
    )
    token_refresh_days: float = Field(
        30.0, description="renew a long-lived token (Threads) this many days before it expires"
    )
    token_alert_days: float = Field(
        7.0, description="alert this many days before a token that was not renewed expires"
    )

    # --- worker -----------------------------------------------------------------------
    worker_id: str | None = Field(None, description="name of this worker (default host:pid)")
    sync_interval: float = Field(30.0, description="seconds between config syncs")
    dispatch_interval: float = Field(1.0, description="seconds between dispatch rounds")
    reconcile_interval: float = Field(60.0, description="seconds between reconcile rounds")
    metrics_interval: float = Field(300.0, description="seconds between metrics rounds")
    lease_seconds: float = Field(120.0, description="how long a claimed post stays with a worker")
    claim_batch: int = Field(32, description="posts claimed per dispatch round")
    concurrency: int = Field(4, description="publishing threads per worker")
    max_attempts: int = Field(6, description="tries before a transient failure becomes final")
    backoff_base: float = Field(30.0, description="seconds; retry n waits base * 2**(n-1)")
    backoff_max: float = Field(3600.0, description="cap on one backoff, seconds")
    blocked_pause_hours: float = Field(
        24.0,
        gt=0,
        description="hours a channel waits when the platform blocks the account from posting "
        "without saying until when (Facebook code 368); its posts wait with it",
    )
    stagger_seconds: int = Field(120, description="spread of one release over its channels")
    evergreen_interval_days: int = Field(30, description="default re-share interval")
    health_port: int | None = Field(None, description="port for /healthz and /metrics")
    health_host: str = Field("127.0.0.1", description="address the health endpoint binds")
    status_token: SecretStr | None = Field(
        None,
        description="token for the /status page (Authorization: Bearer, or the basic-auth "
        "password); required, or status_user and status_password, when health_host is not "
        "a loopback address",
    )
    status_user: str | None = Field(None, description="basic-auth user of the /status page")
    status_password: SecretStr | None = Field(
        None, description="basic-auth password of the /status page"
    )
    feed_ping_secret: SecretStr | None = Field(
        None,
        description="shared secret of POST /feeds/<name>/ping on the health port: the body's "
        "HMAC-SHA256 in X-Dissem-Signature: sha256=<hex>; unset: every ping is refused 401",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="address the world reaches the health port at (e.g. https://dissem.example"
        ".org); set: feeds that advertise a WebSub hub are subscribed to",
    )

    # --- feeds (feeds.yaml; see dissem.feeds) ------------------------------------------
    feed_check_interval: float = Field(
        5.0, gt=0, description="seconds between the worker's looks for feeds due to be read"
    )
    feed_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="largest feed answer read, bytes"
    )
    feed_timeout: float = Field(10.0, gt=0, description="seconds per connect or read of a feed")
    feed_deadline: float = Field(30.0, gt=0, description="seconds one whole feed fetch may take")
    feed_max_redirects: int = Field(5, ge=0, le=20, description="redirects a fetch follows")
    feed_host_interval: float = Field(
        2.0, ge=0, description="least seconds between two fetches from one host (politeness)"
    )
    feed_alert_failures: int = Field(
        3, ge=1, description="failed polls in a row before a feed is alerted"
    )
    feed_trusted_networks: str = Field(
        "",
        description="comma-separated networks (CIDR) feeds and article pages may be read from "
        "besides public addresses, e.g. an intranet portal's 10.1.0.0/16",
    )

    # --- alerts -----------------------------------------------------------------------
    alert_webhook_url: str | None = Field(None, description="POST JSON alerts here")
    alert_email_to: str | None = Field(None, description="comma-separated alert recipients")
    smtp_host: str | None = Field(None)
    smtp_port: int = Field(587)
    smtp_user: str | None = Field(None)
    smtp_password: SecretStr | None = Field(None)
    smtp_from: str = Field("dissem@localhost")
    smtp_starttls: bool = Field(True)

    # --- metrics and reports -------------------------------------------------------------
    metrics_schedule: str = Field(
        "1h@1d,6h@7d,1d@30d",
        description="snapshot cadence by post age: every 1h until 1 day, 6h until 7 days, ...",
    )
    metrics_retention: str = Field(
        "",
        description="snapshot retention by post age, e.g. hourly@7d,daily@90d,final "
        "(empty: keep every snapshot); see dissem/retention.py",
    )
    metrics_raw_days: int | None = Field(
        None, ge=0, description="empty snapshots' raw platform payloads after this many days"
    )
    report_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field("mon")
    report_time: str = Field("08:00", description="local time of the weekly report")
    report_timezone: str | None = Field(None, description="defaults to DISSEM_TIMEZONE")
    report_dir: Path = Field(Path("reports"), description="where weekly reports are written")
    report_formats: str = Field("html,csv,xlsx")
    report_lang: Literal["en", "id"] = Field("en")
    report_email_to: str | None = Field(None, description="comma-separated report recipients")
    report_webhook_url: str | None = Field(None, description="POST the report summary here")

    @field_validator("metrics_retention")
    @classmethod
    def _retention_rule(cls, value: str) -> str:
        parse_retention(value)
        return value

    @field_validator("timezone", "report_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            check_zone(value)
        return value


def settings_problem(exc: BaseException) -> str | None:
    """One line per bad setting when ``exc`` is :class:`Settings` refusing the environment
    (``DISSEM_HTTP_TIMEOUT: Input should be a valid number ...``), else None. The value
    itself is never shown: it may be a secret."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError) or exc.title != Settings.__name__:
        return None
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        name = ENV_PREFIX + "_".join(str(part) for part in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message} (set in the environment or .env)")
    return "\n".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
