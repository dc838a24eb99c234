"""Settings: where each value comes from (keywords, then the environment, then ``.env``,
then the default)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from dissem.settings import ENV_FILE, ENV_PREFIX, Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DISSEM_ variable set, and a working folder without a .env file."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("DISSEM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_without_environment(clean_env: Path) -> None:
    s = Settings()
    assert s.config_dir == Path("config")
    assert s.sandbox_url is None
    assert s.report_lang == "en"


def test_environment_is_read_by_prefix_any_case(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISSEM_CONFIG_DIR", "/srv/config")
    monkeypatch.setenv("dissem_concurrency", "7")
    monkeypatch.setenv("DISSEM_SMTP_STARTTLS", "false")
    monkeypatch.setenv("DISSEM_STATUS_TOKEN", "s3cret")
    monkeypatch.setenv("DISSEM_NOT_A_SETTING", "ignored")
    monkeypatch.setenv("CONFIG_DIR", "/not/this/one")
    s = Settings()
    assert s.config_dir == Path("/srv/config")
    assert s.concurrency == 7
    assert s.smtp_starttls is False
    assert isinstance(s.status_token, SecretStr)
    assert s.status_token.get_secret_value() == "s3cret"
    assert not hasattr(s, "not_a_setting")


def test_env_file_is_read_and_the_environment_wins(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ENV_FILE).write_text(
        "DISSEM_TIMEZONE=Europe/Berlin\nDISSEM_CLAIM_BATCH=5\nOTHER=1\n", encoding="utf-8"
    )
    assert Settings().timezone == "Europe/Berlin"
    assert Settings().claim_batch == 5
    monkeypatch.setenv("DISSEM_TIMEZONE", "Asia/Tokyo")
    assert Settings().timezone == "Asia/Tokyo"
    assert Settings(_env_file=None).claim_batch == 32  # type: ignore[call-arg]


def test_keywords_win_over_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISSEM_REPORT_LANG", "id")
    assert Settings(report_lang="en").report_lang == "en"
    assert Settings().report_lang == "id"


def test_a_bad_value_is_refused(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISSEM_METRICS_RETENTION", "weekly@7d,final")
    with pytest.raises(ValidationError, match="GRAIN@SPAN"):
        Settings()
    monkeypatch.delenv("DISSEM_METRICS_RETENTION")
    monkeypatch.setenv("DISSEM_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("environment", "env_file"),
    [
        ({}, ""),
        ({"DISSEM_CONFIG_DIR": "/srv/cfg", "dissem_timezone": "Europe/Paris"}, ""),
        ({}, "DISSEM_TIMEZONE=Asia/Tokyo\nDISSEM_SANDBOX_URL=http://127.0.0.1:9\n"),
        ({"DISSEM_TIMEZONE": "UTC"}, "DISSEM_TIMEZONE=Asia/Tokyo\nDISSEM_CONFIG_DIR=cfg\n"),
    ],
)
def test_short_commands_read_settings_as_settings_does(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], env_file: str
) -> None:
    """``validate`` and ``init`` read three settings without pydantic-settings: same values."""
    from dissem.cli import options
    from dissem.cli.config_cmds import DEFAULTS

    assert (options.ENV_PREFIX, options.ENV_FILE) == (ENV_PREFIX, ENV_FILE)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if env_file:
        (clean_env / ENV_FILE).write_text(env_file, encoding="utf-8")
    settings = Settings()
    for name, default in DEFAULTS.items():
        expected = getattr(settings, name)
        assert options.read_setting(name, default) == (
            None if expected is None else str(expected)
        ), name
