"""``dissem feeds``, ``feeds poll``, ``feeds items``, ``feeds export`` and ``approve``."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from dissem.cli import cli
from dissem.config.models import Release
from dissem.settings import get_settings
from tests.feeds.conftest import Desk
from tests.feeds.feed_server import FeedServer, Route, rss


def test_feed_commands(desk: Desk, server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISSEM_DATABASE_URL", desk.settings.database_url)
    monkeypatch.setenv("DISSEM_CONFIG_DIR", str(desk.root))
    monkeypatch.setenv("DISSEM_FEED_TRUSTED_NETWORKS", "127.0.0.0/8")
    get_settings.cache_clear()
    try:
        server.routes["/rss"] = Route(rss([]))
        desk.feeds(
            {"name": "news", "url": server.url("/rss"), "status": "draft", "approved_by": None}
        )
        run = CliRunner().invoke
        first = run(cli, ["feeds", "poll", "news"])
        assert first.exit_code == 0, first.output
        assert "first run" not in first.output  # nothing in the feed yet
        server.routes["/rss"] = Route(
            rss([{"title": "Hello", "link": "https://portal.example/1", "guid": "g1"}])
        )
        polled = run(cli, ["feeds", "poll", "news"])
        assert polled.exit_code == 0 and "1 new" in polled.output
        table = run(cli, ["feeds"])
        assert table.exit_code == 0 and "news" in table.output and "200" in table.output
        items = run(cli, ["feeds", "items", "news", "--json"])
        (item,) = yaml.safe_load(items.output)
        assert item["decision"] == "new" and item["release_status"] == "draft"
        exported = run(cli, ["feeds", "export", item["release"]])
        assert Release.model_validate(yaml.safe_load(exported.output)).title == "Hello"
        approved = run(cli, ["approve", item["release"], "--by", "Budi"])
        assert approved.exit_code == 0 and "approved by Budi; 1 posts planned" in approved.output
        again = run(cli, ["approve", item["release"], "--by", "Budi"])
        assert again.exit_code == 1 and "already approved" in again.output
        unknown = run(cli, ["feeds", "poll", "nope"])
        assert unknown.exit_code == 2
    finally:
        get_settings.cache_clear()
