"""Raw-HTTP checks of the token endpoints as documented: Threads' ``refresh_access_token``
(token as a query parameter, 24 hours old at least, 60 days of life, expired tokens
refused) and X's ``POST /2/oauth2/token`` (2-hour access tokens, single-use refresh
tokens, public and confidential clients)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import requests

from dissem.sandbox import RunningSandbox
from tests.sandbox.sandbox_fixtures import Clock


def graph_error(response: requests.Response) -> dict[str, Any]:
    err: dict[str, Any] = response.json()["error"]
    return err


def test_threads_refresh_takes_the_token_as_a_query_parameter(sb: RunningSandbox) -> None:
    url = f"{sb.url}/threads/refresh_access_token"
    header_only = requests.get(
        url,
        params={"grant_type": "th_refresh_token"},
        headers={"Authorization": "Bearer threads-configured-1a"},
        timeout=5,
    )
    assert header_only.status_code == 400 and graph_error(header_only)["code"] == 190
    fresh = requests.get(
        url,
        params={"grant_type": "th_refresh_token", "access_token": "threads-configured-1a"},
        timeout=5,
    ).json()
    assert set(fresh) == {"access_token", "token_type", "expires_in"}
    assert fresh["token_type"] == "bearer" and fresh["expires_in"] == 60 * 86400


def test_threads_tokens_refresh_once_a_day_old_and_expire_after_60_days(
    sb: RunningSandbox, clock: Clock
) -> None:
    url = f"{sb.url}/threads/refresh_access_token"

    def refresh(token: str) -> requests.Response:
        params = {"grant_type": "th_refresh_token", "access_token": token}
        return requests.get(url, params=params, timeout=5)

    minted = refresh("threads-configured-2b").json()["access_token"]
    too_young = refresh(minted)
    assert too_young.status_code == 400 and graph_error(too_young)["code"] == 100
    clock.now += timedelta(hours=24)
    assert refresh(minted).ok
    clock.now += timedelta(days=60)
    expired = refresh(minted)
    assert graph_error(expired)["code"] == 190 and graph_error(expired)["error_subcode"] == 463
    listing = requests.get(
        f"{sb.url}/threads/v1.0/me/threads",
        headers={"Authorization": f"Bearer {minted}"},
        timeout=5,
    )
    assert listing.status_code == 400 and graph_error(listing)["code"] == 190


def test_x_refresh_tokens_are_single_use_and_access_tokens_last_two_hours(
    sb: RunningSandbox, clock: Clock
) -> None:
    token_url = f"{sb.url}/x/2/oauth2/token"
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "x-configured-refresh-3c",
        "client_id": "client-a",
    }
    first = requests.post(token_url, data=form, timeout=5).json()
    assert first["token_type"] == "bearer" and first["expires_in"] == 7200
    assert "offline.access" in first["scope"]
    assert first["refresh_token"] != form["refresh_token"]
    spent = requests.post(token_url, data=form, timeout=5)
    assert spent.status_code == 400 and spent.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }
    me = f"{sb.url}/x/2/users/me"
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    configured = {"Authorization": f"Bearer {form['refresh_token']}"}
    # minted tokens act for the account the authorization stands for
    acting = requests.get(me, headers=bearer, timeout=5).json()["data"]["id"]
    assert acting == requests.get(me, headers=configured, timeout=5).json()["data"]["id"]
    clock.now += timedelta(hours=2)
    assert requests.get(me, headers=bearer, timeout=5).status_code == 401
    # a confidential client authenticates with HTTP Basic; another client may not use it
    basic = base64.b64encode(b"client-a:secret-a").decode()
    rotated = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    other = requests.post(token_url, data={**rotated, "client_id": "client-b"}, timeout=5)
    assert other.status_code == 400
    renewed = requests.post(
        token_url, data=rotated, headers={"Authorization": f"Basic {basic}"}, timeout=5
    )
    assert renewed.ok and renewed.json()["access_token"] != first["access_token"]
    anonymous = requests.post(token_url, data={"grant_type": "refresh_token"}, timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized_client"
