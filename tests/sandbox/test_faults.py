"""Fault specs, reproducible decisions, forced faults, and faults as the server applies them."""

from __future__ import annotations

import time

import pytest
import requests

from dissem.sandbox import Fault, FaultPlan, parse_faults, start_sandbox
from dissem.sandbox.faults import FaultRates


def test_spec_with_defaults_and_a_platform_override() -> None:
    plan = parse_faults("latency_ms=50, error_rate=0.1,throttle_rate=0.05,drop_rate=0.02,seed=7,"
                        "x.throttle_rate=0.2")  # fmt: skip
    assert plan.seed == 7
    assert plan.rates("mastodon") == FaultRates(50, 0.1, 0.05, 0.02)
    assert plan.rates("x") == FaultRates(50, 0.1, 0.2, 0.02)  # inherits the rest
    assert parse_faults("").rates("x") == FaultRates()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("foo=1", "unknown fault"),
        ("error_rate", "not key=value"),
        ("error_rate=abc", "not a number"),
        ("error_rate=1.5", "between 0 and 1"),
        ("error_rate=0.6,throttle_rate=0.6", "more than 1"),
        ("latency_ms=-5", "negative"),
        ("x.seed=3", "unknown fault"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_faults(spec)


def decisions(plan: FaultPlan, platform: str, n: int) -> list[Fault | None]:
    return [plan.decide(platform, write=True) for _ in range(n)]


def test_same_seed_same_faults_whatever_other_platforms_do() -> None:
    spec = "error_rate=0.2,throttle_rate=0.2,drop_rate=0.2,seed=11"
    alone = decisions(parse_faults(spec), "x", 200)
    mixed_plan = parse_faults(spec)
    mixed = []
    for _ in range(200):
        mixed_plan.decide("mastodon", write=True)  # interleaved traffic elsewhere
        mixed.append(mixed_plan.decide("x", write=True))
    assert mixed == alone
    assert decisions(parse_faults(spec.replace("11", "12")), "x", 200) != alone


def test_rates_are_respected_over_many_requests() -> None:
    plan = parse_faults("error_rate=0.1,throttle_rate=0.2,drop_rate=0.05,seed=3")
    got = decisions(plan, "bluesky", 10_000)
    assert abs(got.count(Fault.ERROR) / 10_000 - 0.10) < 0.02
    assert abs(got.count(Fault.THROTTLE) / 10_000 - 0.20) < 0.02
    assert abs(got.count(Fault.DROP) / 10_000 - 0.05) < 0.02


def test_forced_faults_hit_writes_unless_told_otherwise() -> None:
    plan = FaultPlan()
    plan.force("x", Fault.DROP, count=2)
    assert plan.decide("x", write=False) is None
    assert plan.decide("mastodon", write=True) is None
    assert decisions(plan, "x", 3) == [Fault.DROP, Fault.DROP, None]
    plan.force("x", Fault.ERROR, writes_only=False)
    assert plan.decide("x", write=False) is Fault.ERROR
    plan.force("x", Fault.ERROR)
    plan.clear()
    assert plan.decide("x", write=True) is None


def test_server_applies_platform_faults_in_the_platform_shape() -> None:
    spec = "x.error_rate=1,mastodon.throttle_rate=1,telegram.latency_ms=60"
    with start_sandbox(faults=spec) as sb, requests.Session() as s:
        x = s.post(
            f"{sb.url}/x/2/tweets", json={"text": "hi"}, headers={"Authorization": "Bearer t"}
        )
        assert x.status_code == 503 and x.json()["title"] == "Service Unavailable"
        m = s.get(f"{sb.url}/mastodon/api/v1/accounts/verify_credentials")
        assert m.status_code == 429 and m.headers["X-RateLimit-Reset"].endswith("Z")
        b = s.get(f"{sb.url}/bluesky/xrpc/com.atproto.repo.getRecord")
        assert b.status_code == 400  # no faults there: its own validation answers
        started = time.perf_counter()
        s.get(f"{sb.url}/telegram/bot1:t/getMe")
        assert time.perf_counter() - started >= 0.06
        assert sb.state.posts() == []  # errors and throttles apply nothing
