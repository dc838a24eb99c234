"""Secrets never reach log output or error texts."""

from __future__ import annotations

import logging

import pytest
import requests

from dissem.errors import TransientError
from dissem.platforms.http import call
from dissem.redact import MASK, RedactingFilter, redact, register_secret


def test_redact_replaces_every_registered_secret_longest_first() -> None:
    register_secret("abcd-secret-1")
    register_secret("abcd-secret-1-longer")
    text = "a abcd-secret-1-longer b abcd-secret-1 c"
    assert redact(text) == f"a {MASK} b {MASK} c"


def test_short_or_empty_values_are_not_secrets() -> None:
    register_secret("")
    register_secret("ab")
    assert redact("ab cd") == "ab cd"


def test_log_records_are_redacted_in_message_args_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "log-secret-98f1a7"
    register_secret(secret)  # installs the record factory: caplog's handler is covered too
    log = logging.getLogger("dissem.test.redaction")
    with caplog.at_level(logging.DEBUG):
        log.info("token is %s", secret)
        log.warning(f"inline {secret}")
        try:
            raise ValueError(f"bad token {secret}")
        except ValueError:
            log.exception("failed")
    assert secret not in caplog.text
    assert caplog.text.count(MASK) >= 3
    assert "ValueError" in caplog.text


def test_redacting_filter_works_on_a_plain_record() -> None:
    secret = "filter-secret-5521"
    register_secret(secret)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s b", (secret,), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == f"a {MASK} b"


def test_connection_errors_do_not_carry_the_url(caplog: pytest.LogCaptureFixture) -> None:
    token = "999:connection-refused-token"
    register_secret(token)
    with requests.Session() as session, pytest.raises(TransientError) as caught:
        # port 9 (discard) is closed on test machines: refused before anything is sent
        call(session, "POST", f"http://127.0.0.1:9/bot{token}/sendMessage",
             platform="telegram", timeout=2, creates=True)  # fmt: skip
    error = caught.value
    assert token not in f"{error} {error!r}"
    assert error.__cause__ is None and error.__context__ is None
