"""Graph API error codes and usage headers -> the error tree (dissem.platforms.meta)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from dissem.errors import (
    AccountBlocked,
    AuthError,
    ContentRejected,
    Duplicate,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    TransientError,
)
from dissem.platforms.meta import (
    DEFAULT_THROTTLE_WAIT,
    GraphError,
    classify_graph_error,
    usage_wait,
)
from dissem.redact import register_secret

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def body(code: int | None, subcode: int | None = None, type_: str = "OAuthException") -> Any:
    err: dict[str, Any] = {"message": f"(#{code}) something", "type": type_, "fbtrace_id": "Ab1"}
    if code is not None:
        err["code"] = code
    if subcode is not None:
        err["error_subcode"] = subcode
    return {"error": err}


def classify(
    status: int, payload: Any, *, creating: bool = False, headers: dict[str, str] | None = None
) -> PlatformError:
    return classify_graph_error(
        status,
        CaseInsensitiveDict(headers or {}),
        payload,
        platform="facebook",
        creating=creating,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("status", "payload", "creating", "expected"),
    [
        (400, body(4), True, RateLimited),
        (400, body(17), False, RateLimited),
        (400, body(32), True, RateLimited),
        (400, body(613), True, RateLimited),
        (400, body(80001), True, RateLimited),
        (400, body(80002), True, RateLimited),
        (400, body(9, 2207042), True, RateLimited),  # Instagram publishing quota
        (429, None, True, RateLimited),
        (400, body(368), True, AccountBlocked),  # policy block: pause, not a duplicate
        (400, body(368, 1390008), False, AccountBlocked),
        (400, body(506), True, Duplicate),
        (400, body(190), True, AuthError),
        (400, body(190, 463), False, AuthError),  # expired token
        (400, body(102), True, AuthError),
        (403, body(10), True, AuthError),
        (400, body(200), True, AuthError),
        (400, body(None), True, AuthError),  # OAuthException without a code
        (400, body(100), True, ContentRejected),  # OAuthException type, but code 100
        (400, body(9004, 2207052), True, ContentRejected),
        (400, body(12345), True, ContentRejected),
        (400, body(9007, 2207027), True, TransientError),  # container not ready
        (500, body(1), True, OutcomeUnknown),
        (500, body(1), False, TransientError),
        (400, body(2), True, OutcomeUnknown),
        (400, body(2), False, TransientError),
        (502, "<html>bad gateway</html>", True, OutcomeUnknown),
        (503, None, False, TransientError),
        (404, None, False, ContentRejected),
    ],
)
def test_graph_errors_sort_by_what_happens_next(
    status: int, payload: Any, creating: bool, expected: type[PlatformError]
) -> None:
    error = classify(status, payload, creating=creating)
    assert type(error) is expected
    assert error.platform == "facebook" and error.status == status
    assert str(error).startswith("facebook: ")


def test_message_names_code_subcode_and_trace() -> None:
    error = classify(400, body(100, 33))
    assert "(#100) something" in str(error)
    assert "code 100/33" in str(error) and "fbtrace_id Ab1" in str(error)


def test_throttle_waits_for_the_business_use_case_estimate() -> None:
    usage = {"1234": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    error = classify(400, body(80001), headers={"X-Business-Use-Case-Usage": json.dumps(usage)})
    assert isinstance(error, RateLimited)
    assert error.retry_at == NOW + timedelta(minutes=7)


def test_throttle_without_an_estimate_waits_the_default() -> None:
    error = classify(400, body(4), headers={"X-App-Usage": '{"call_count": 100}'})
    assert isinstance(error, RateLimited)
    assert error.retry_at == NOW + DEFAULT_THROTTLE_WAIT


@pytest.mark.parametrize(
    ("headers", "minutes"),
    [
        ({}, None),
        ({"x-app-usage": '{"call_count": 95, "estimated_time_to_regain_access": 3}'}, 3),
        (
            {
                "X-Business-Use-Case-Usage": json.dumps(
                    {
                        "1": [{"type": "pages", "estimated_time_to_regain_access": 2}],
                        "2": [{"type": "instagram", "estimated_time_to_regain_access": 12}],
                    }
                ),
                "X-App-Usage": '{"estimated_time_to_regain_access": 5}',
            },
            12,
        ),
        ({"X-Business-Use-Case-Usage": "not json"}, None),
        ({"X-Business-Use-Case-Usage": '{"1": [{"estimated_time_to_regain_access": 0}]}'}, None),
    ],
)
def test_usage_wait_takes_the_longest_estimate(
    headers: dict[str, str], minutes: int | None
) -> None:
    wait = usage_wait(CaseInsensitiveDict(headers))
    assert wait == (None if minutes is None else timedelta(minutes=minutes))


def test_graph_error_parses_only_error_bodies() -> None:
    assert GraphError.from_body({"id": "1"}) is None
    assert GraphError.from_body("text") is None
    err = GraphError.from_body(
        {"error": {"message": "m", "code": "100", "error_subcode": 33, "error_user_msg": "u"}}
    )
    assert err is not None and (err.code, err.subcode, err.user_message) == (100, 33, "u")


def test_messages_are_redacted() -> None:
    register_secret("graph-secret-token-0001")
    payload = {"error": {"message": "bad token graph-secret-token-0001", "code": 190}}
    assert "graph-secret-token-0001" not in str(classify(400, payload))
