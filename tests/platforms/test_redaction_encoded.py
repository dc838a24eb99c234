"""A secret is redacted in the forms it travels in, not only as typed: percent-encoded
(OAuth 1.0a headers, once and twice), form-encoded, JSON-escaped, inside an HTTP Basic
credential, in error texts and in log records alike."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.platforms.http import error_for_response
from dissem.redact import MASK, encoded_forms, forget_secrets, redact, register_secret

SECRET = "tok/en+with=odd&chars ü"


@pytest.fixture(autouse=True)
def _registry() -> Iterator[None]:
    """Each test registers its own secrets; the registry is emptied after."""
    yield
    forget_secrets()


@pytest.mark.parametrize(
    "form",
    [
        quote(SECRET, safe=""),  # OAuth 1.0a header parameter (RFC 5849 3.6)
        quote(SECRET),  # a path segment
        quote(quote(SECRET, safe=""), safe=""),  # the OAuth signature base string
        quote_plus(SECRET),  # application/x-www-form-urlencoded
        quote(SECRET, safe="").lower(),  # lower-case hex digits (and so the letters)
        json.dumps(SECRET)[1:-1],  # inside a JSON string (ü as \\u00fc)
    ],
)
def test_each_encoded_form_of_a_secret_is_redacted(form: str) -> None:
    register_secret(SECRET)
    assert form != SECRET
    text = f'Authorization: OAuth oauth_token="{form}", oauth_version="1.0"'
    out = redact(text)
    assert form not in out and MASK in out and 'oauth_version="1.0"' in out


def test_hex_digits_of_escapes_match_in_any_case() -> None:
    register_secret(SECRET)
    mixed = quote(SECRET, safe="").replace("%2F", "%2f").replace("%C3", "%c3")
    assert redact(f"[{mixed}]") == f"[{MASK}]"


def test_a_basic_credential_holding_a_secret_is_masked_whole() -> None:
    register_secret(SECRET)
    # RFC 6749 2.3.1: client id and secret are form-encoded, then joined and base64-encoded
    pair = f"{quote_plus('client-id')}:{quote_plus(SECRET)}"
    basic = base64.b64encode(pair.encode()).decode()
    urlsafe = base64.urlsafe_b64encode(f"user:{SECRET}".encode()).decode().rstrip("=")
    assert redact(f"Authorization: Basic {basic}") == f"Authorization: Basic {MASK}"
    assert redact(f"authorization: basic {urlsafe}!") == f"authorization: basic {MASK}!"
    unrelated = base64.b64encode(b"user:not-a-registered-one").decode()
    assert redact(f"Basic {unrelated}") == f"Basic {unrelated}"


def test_a_platform_echoing_the_encoded_header_into_an_error_leaks_nothing() -> None:
    register_secret(SECRET)
    echoed = quote(SECRET, safe="")
    response = requests.Response()
    response.status_code = 401
    response._content = json.dumps(
        {"errors": [{"message": f'Bad header: OAuth oauth_token="{echoed}"'}]}
    ).encode()
    response.headers["Content-Type"] = "application/json"
    error = error_for_response(response, platform="x", creates=True)
    assert echoed not in str(error) and SECRET not in str(error) and MASK in str(error)


def test_log_records_at_debug_carry_no_encoded_secret(caplog: pytest.LogCaptureFixture) -> None:
    register_secret(SECRET)
    log = logging.getLogger("dissem.test.encoded")
    with caplog.at_level(logging.DEBUG):
        log.debug(
            "send: b'POST /2/tweets\\r\\nAuthorization: OAuth oauth_token=\"%s\"'",
            quote(SECRET, safe=""),
        )
        log.debug("body: %s", f"access_token={quote_plus(SECRET)}&x=1")
    assert quote(SECRET, safe="") not in caplog.text
    assert quote_plus(SECRET) not in caplog.text
    assert caplog.text.count(MASK) == 2


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="*"),
        min_size=4,
        max_size=24,
    ),
    before=st.text(max_size=8),
    after=st.text(max_size=8),
)
def test_no_form_of_any_secret_survives_redaction(secret: str, before: str, after: str) -> None:
    forget_secrets()
    register_secret(secret)
    for form in encoded_forms(secret):
        out = redact(before + form + after)
        assert secret not in out and form not in out
