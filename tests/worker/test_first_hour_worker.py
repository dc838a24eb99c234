"""The worker in the first hour (issue 12): sandbox mode needs no real credentials; a pause
for missing credentials ends as soon as they are there (a restart, or ``.env`` + SIGHUP);
``queue`` says why posts wait; one log line per published post; no empty weekly report."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from dissem.cli import cli
from dissem.config.models import Channel
from dissem.errors import CredentialsMissing
from dissem.platforms import base
from dissem.platforms.base import Platform, read_credentials, sandbox_placeholder
from dissem.platforms.registry import build_adapter, get_platform
from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.settings import Settings, get_settings
from dissem.store.models import PostState
from dissem.worker.daemon import Worker
from tests.worker.planner_seed import CHANNELS, NOW, TZ, Folder, posts

MASTODON_VAR = CHANNELS["cm"]["credentials"]["access_token"]


class Clock:
    def __init__(self) -> None:
        self.now = NOW + timedelta(hours=12)  # Monday 21:00 in Jakarta: every window open

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[RunningSandbox]:
    with start_sandbox(clock=clock) as running:
        yield running


@pytest.fixture
def env(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: RunningSandbox
) -> Iterator[Folder]:
    """Settings from the environment, as ``dissem run`` reads them; no credential set."""
    monkeypatch.chdir(tmp_path)
    for channel in CHANNELS.values():
        for var in channel["credentials"].values():
            monkeypatch.delenv(var, raising=False)
    folder = Folder(tmp_path / "config")
    for key, value in {
        "DISSEM_DATABASE_URL": db_url,
        "DISSEM_CONFIG_DIR": str(folder.root),
        "DISSEM_TIMEZONE": TZ,
        "DISSEM_REPORT_DIR": str(tmp_path / "reports"),
        "DISSEM_WORKER_ID": "w-first-hour",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DISSEM_SANDBOX_URL", raising=False)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def _channel(platform: str, credentials: dict[str, str]) -> Channel:
    return Channel.model_validate(
        {
            "name": f"s-{platform}",
            "platform": platform,
            "account": "@acct" if platform != "bluesky" else "acct.example.org",
            "timezone": "UTC",
            "credentials": credentials,
        }
    )


def test_sandbox_mode_fills_missing_credentials_with_placeholders_shaped_as_needed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    base._told_sandbox.clear()
    telegram = _channel("telegram", {"bot_token": "UNSET_TELEGRAM_TOKEN_VAR"})
    sets = get_platform("telegram").required_credentials
    with pytest.raises(CredentialsMissing):
        read_credentials(telegram, sets, {})  # outside sandbox mode nothing changes
    with caplog.at_level(logging.INFO, logger="dissem.platforms.base"):
        first = read_credentials(telegram, sets, {}, sandbox=True)
        again = read_credentials(telegram, sets, {}, sandbox=True)
    assert first == again and re.fullmatch(r"\d+:[\w-]+", first["bot_token"])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "UNSET_TELEGRAM_TOKEN_VAR not set" in lines[0]
    assert "DISSEM_SANDBOX_URL is set" in lines[0]
    # a value that is set is used as it is; each channel has its own placeholder
    x = _channel("x", {"api_key": "K", "api_secret": "S", "access_token": "T"})
    got = read_credentials(x, get_platform("x").required_credentials, {"K": "mine"}, sandbox=True)
    assert got["api_key"] == "mine" and got["access_token"] == sandbox_placeholder(
        "s-x", "access_token"
    )
    assert set(got) == {"api_key", "api_secret", "access_token", "access_token_secret"}
    sky = _channel("bluesky", {"app_password": "P"})
    assert set(
        read_credentials(sky, get_platform("bluesky").required_credentials, {}, sandbox=True)
    ) == {"app_password"}


def test_sandbox_mode_publishes_with_no_credential_set(
    env: Folder,
    sandbox: RunningSandbox,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DISSEM_SANDBOX_URL", sandbox.url)
    env.channels["ct"] = {
        "platform": "telegram",
        "account": "@newsroom",
        "timezone": TZ,
        "credentials": {"bot_token": "FIRST_HOUR_TELEGRAM_TOKEN"},
    }
    env.write_channels()
    env.release("now", targets=["cm", "ct"], priority="breaking")
    worker = Worker(Settings(), clock=clock)
    try:
        with caplog.at_level(logging.INFO):
            result = worker.run_once()
    finally:
        worker.close()
    assert result.published == 2 and result.outcomes == {"ok": 2}, result
    published = [r.getMessage() for r in caplog.records if r.getMessage().startswith("published")]
    urls = {p.channel: p.remote_url for p in posts(worker.session_factory)}
    assert sorted(published) == sorted(
        f"published post {p.id} on {p.channel}: {urls[p.channel]}"
        for p in posts(worker.session_factory)
    )
    assert all(urls.values())


def _factory(settings_url: str, environ: dict[str, str]):  # type: ignore[no-untyped-def]
    """Adapters against the sandbox, credentials from ``environ`` (no placeholders)."""
    sandboxed = Settings(_env_file=None, sandbox_url=settings_url)  # type: ignore[call-arg]

    def build(channel: Channel) -> Platform:
        read_credentials(channel, get_platform(channel.platform).required_credentials, environ)
        return build_adapter(channel, sandboxed, environ)

    return build


def test_a_credentials_pause_ends_as_soon_as_they_are_there_and_queue_says_why(
    env: Folder, sandbox: RunningSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISSEM_SANDBOX_URL", sandbox.url)
    clock.now = datetime.now(UTC)  # `dissem queue` reads the real clock; breaking: due now
    environ: dict[str, str] = {}
    env.release("now", targets=["cm"], priority="breaking")
    worker = Worker(Settings(), clock=clock, adapter_factory=_factory(sandbox.url, environ))
    try:
        first = worker.run_once()
        assert first.outcomes == {"credentials": 1}
        # queue --problems: the paused channel, the post waiting on it, the whole reason
        result = CliRunner().invoke(cli, ["queue", "--problems"])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0].startswith("channel cm paused until ")
        assert f"environment variable {MASTODON_VAR} is not set or empty" in lines[0]
        assert lines[0].endswith("the channel is skipped")
        (row,) = [line for line in lines if " scheduled " in line]
        assert row.endswith("the channel is skipped")  # not cut off
        # set now: the next round, a second later, publishes (no 5 minute wait)
        environ[MASTODON_VAR] = "now-set"
        clock.now += timedelta(seconds=1)
        second = worker.run_once()
    finally:
        worker.close()
    assert second.published == 1, second
    (post,) = posts(worker.session_factory)
    assert post.state == PostState.PUBLISHED
    assert CliRunner().invoke(cli, ["queue", "--problems"]).stdout.strip() == "no problem posts"


def test_credentials_from_dotenv_on_sighup_take_effect_and_are_named_not_shown(
    env: Folder,
    sandbox: RunningSandbox,
    clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISSEM_SANDBOX_URL", sandbox.url)
    env.release("now", targets=["cm"], priority="breaking")
    worker = Worker(Settings(), clock=clock, adapter_factory=_factory(sandbox.url, _Environ()))
    try:
        assert worker.run_once().outcomes == {"credentials": 1}
        (tmp_path / ".env").write_text(
            f"{MASTODON_VAR}=from-dotenv-secret\nDISSEM_MAX_ATTEMPTS=3\nDISSEM_CONCURRENCY=9\n"
        )
        line = worker.reload_environment()
        assert line == (
            f".env: added {MASTODON_VAR}, DISSEM_MAX_ATTEMPTS, DISSEM_CONCURRENCY; "
            "settings applied: DISSEM_MAX_ATTEMPTS; "
            "settings that need a restart: DISSEM_CONCURRENCY"
        )
        assert "from-dotenv-secret" not in line
        assert worker.settings.max_attempts == 3 and worker.settings.concurrency == 4
        clock.now += timedelta(seconds=1)
        assert worker.run_once().published == 1
        # removed from .env: removed from the environment too
        (tmp_path / ".env").write_text("")
        assert worker.reload_environment().startswith(f".env: removed {MASTODON_VAR}")
    finally:
        worker.close()
        for name in (MASTODON_VAR, "DISSEM_MAX_ATTEMPTS", "DISSEM_CONCURRENCY"):
            monkeypatch.delenv(name, raising=False)


class _Environ(dict[str, str]):
    """The process environment, read at each adapter build (as the registry reads it)."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        import os

        return os.environ.get(key, default)


def test_no_empty_weekly_report_on_the_first_start_only_a_week_with_posts(
    env: Folder,
    sandbox: RunningSandbox,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DISSEM_SANDBOX_URL", sandbox.url)
    clock.now = NOW  # Monday 09:00 in Jakarta: last week's report is due
    worker = Worker(Settings(), clock=clock)
    try:
        with caplog.at_level(logging.INFO, logger="dissem.worker.daemon"):
            assert worker.run_once().report is None
            assert worker.run_once().report is None
        said = [r.getMessage() for r in caplog.records if "weekly report" in r.getMessage()]
        assert said == ["weekly report 2026-W48 not written: nothing went out that week"]
        assert not (Path.cwd() / "reports").exists()
        env.release("now", targets=["cm"], priority="breaking")
        clock.now = NOW + timedelta(hours=12)
        assert worker.run_once().published == 1
        clock.now = NOW + timedelta(days=7)  # the next Monday: W49 had a post
        assert worker.run_once().report == "2026-W49"
    finally:
        worker.close()


def test_missing_credentials_name_the_variable_the_channel_maps() -> None:
    sky = _channel("bluesky", {"app_password": "FIRST_HOUR_SKY_PASSWORD"})
    with pytest.raises(CredentialsMissing) as caught:
        read_credentials(sky, get_platform("bluesky").required_credentials, {})
    assert caught.value.variable == "FIRST_HOUR_SKY_PASSWORD"
    bare = _channel("telegram", {})
    with pytest.raises(CredentialsMissing) as caught:
        read_credentials(bare, get_platform("telegram").required_credentials, {})
    assert caught.value.variable == "<credentials.bot_token not mapped>"
