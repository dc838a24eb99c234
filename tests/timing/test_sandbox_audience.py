"""Sandbox audiences: engagement per impression follows the local hour, seeded; flat when
off, so every earlier sandbox number stands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dissem.sandbox.audience import Audience, Audiences, parse_audiences
from dissem.sandbox.state import PostRecord, SandboxState, engagement

PEAK = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin
NIGHT = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # Tuesday 03:00 in Berlin


def rate(counts: dict[str, int]) -> float:
    return counts["likes"] / counts["views"]


def test_engagement_per_impression_depends_on_the_local_hour() -> None:
    audience = Audience(timezone="Europe/Berlin", peaks=((10.0, 1.0),), noise=0.0)
    state = SandboxState()
    state.audiences = Audiences({"mastodon:@e": audience})
    posts = [
        state.add_post(PostRecord("mastodon", "@e", f"id{h}", "t", at))
        for h, at in ((1, PEAK), (2, NIGHT))
    ]
    assert posts[0].audience > 1.5 > 0.7 > posts[1].audience
    later = timedelta(days=1)
    day = [engagement(p.remote_id, p.created_at, p.created_at + later, p.audience) for p in posts]
    assert rate(day[0]) > 2 * rate(day[1])
    assert day[0]["views"] > 0 and day[1]["views"] > 0  # views are not the audience's


def test_off_keeps_engagement_as_it_was() -> None:
    state = SandboxState()
    post = state.add_post(PostRecord("x", "@a", "42", "t", PEAK))
    assert post.audience == 1.0
    assert parse_audiences("") is None and parse_audiences("off") is None
    assert engagement("42", PEAK, PEAK + timedelta(hours=5)) == engagement(
        "42", PEAK, PEAK + timedelta(hours=5), 1.0
    )


def test_seeded_audiences_are_stable_and_differ_by_account(tmp_path: Path) -> None:
    a, b = parse_audiences("seed=3,timezone=Asia/Jakarta"), parse_audiences("seed=3")
    assert a is not None and b is not None
    one = a.for_account("x", "@one")
    assert one == a.for_account("x", "@one") and one.timezone == "Asia/Jakarta"
    assert one.peaks != a.for_account("x", "@two").peaks
    assert a.lift("x", "@one", "p1", PEAK) == a.lift("x", "@one", "p1", PEAK)
    levels = [one.level(PEAK + timedelta(minutes=15 * k)) for k in range(7 * 96)]
    assert sum(levels) / len(levels) == pytest.approx(1.0, rel=0.02)  # mean 1 over a week
    path = tmp_path / "aud.json"
    path.write_text(json.dumps({"seed": 2, "accounts": {"x:@e": {"peaks": [[20, 1.0]]}}}))
    loaded = parse_audiences(str(path))
    assert loaded is not None and loaded.for_account("x", "@e").peaks == ((20.0, 1.0),)
    with pytest.raises(ValueError, match="unknown option"):
        parse_audiences("sed=1")
    path.write_text(json.dumps({"accounts": {"x:@e": {"peak": [[20, 1.0]]}}}))
    with pytest.raises(ValueError, match="unknown key"):
        parse_audiences(str(path))


def test_the_sandbox_command_refuses_a_bad_audience_spec() -> None:
    from click.testing import CliRunner

    from dissem.cli import cli

    result = CliRunner().invoke(cli, ["sandbox", "--port", "0", "--audiences", "sed=1"])
    assert result.exit_code == 2 and "unknown option 'sed'" in result.output
