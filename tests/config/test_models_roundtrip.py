"""A channel stored as JSON (how sync keeps it) reads back as the same channel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dissem.config.models import Channel, parse_duration
from dissem.worker.records import _channel_json


def test_stored_channel_reads_back_equal() -> None:
    channel = Channel.model_validate(
        {
            "name": "embassy-x",
            "platform": "x",
            "account": "@e",
            "timezone": "Europe/Berlin",
            "windows": ["mon-fri 08:00-18:00", "sat 10:00-12:00"],
            "min_gap": "45m",
            "evergreen_interval": "14d",
        }
    )
    stored = _channel_json(channel)
    assert stored["min_gap"] == "PT45M"  # ISO 8601 in the database
    again = Channel.model_validate(stored)
    assert again == channel
    assert again.min_gap == timedelta(minutes=45)
    assert again.evergreen_interval == timedelta(days=14)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", timedelta(seconds=90)), ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2))],
)
def test_config_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_a_bad_duration_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="30m"):
        parse_duration("half an hour")
