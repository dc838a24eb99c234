"""A ninth platform is its declaration, its adapter and its sandbox stand-in: declared,
written and registered here in the test, with an example channel, it composes a release,
goes out through the real worker (sync, dispatch), has its metrics collected and is
counted in the weekly report. Nothing in dissem names it."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml
from sqlalchemy import select

from dissem.compose import compose
from dissem.compose.types import Part
from dissem.config.loader import load_config
from dissem.errors import LookupUnsupported
from dissem.platforms.base import MetricSample, Platform, PublishContext, RemotePost
from dissem.platforms.http import call
from dissem.platforms.registry import (
    get_platform,
    platform_names,
    register_adapter,
    unregister_adapter,
)
from dissem.reports.figures import build_week_figures
from dissem.reports.weekly import IsoWeek, generate_report
from dissem.sandbox import start_sandbox
from dissem.sandbox.core import (
    Reject,
    Request,
    Response,
    StandIn,
    json_response,
    register_stand_in,
    route,
    unregister_stand_in,
)
from dissem.sandbox.state import PostRecord
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import MetricSnapshot, Post, PostState
from dissem.traits import Counting, PlatformTraits, all_platforms, register, unregister
from dissem.worker.daemon import Worker

#: Monday 30 November 2026, 09:00 in Jakarta.
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TZ = "Asia/Jakarta"

# --- 1. the declaration ------------------------------------------------------------------
NINTH = PlatformTraits(
    name="ninth",
    display_name="Ninth",
    text_limit=240,  # small, so that the release below must be shortened to fit
    counting=Counting.GRAPHEMES,
    hashtag_cap=1,
    metrics=("likes", "views"),
    metrics_batch=10,
    credentials=(("token",),),
)

# --- 2. the stand-in: the platform's HTTP API, served by the sandbox under /ninth ---------
LIKES, VIEWS = 7, 120


class NinthStandIn(StandIn):
    name = "ninth"

    @route("POST", r"/v1/posts", write=True)
    def create(self, req: Request) -> Response:
        token = self.require_bearer(req)
        text = self.require_text(req.json().get("text"))  # the declared limit, as declared
        post = self.env.state.add_post(
            PostRecord(
                platform=self.name,
                account=token,
                remote_id=str(self.env.serial(self.name)),
                text=text,
                created_at=req.now,
            )
        )
        return json_response({"id": post.remote_id}, status=201)

    @route("GET", r"/v1/metrics")
    def metrics(self, req: Request) -> Response:
        self.require_bearer(req)
        ids = (req.arg("ids") or "").split(",")
        if len(ids) > NINTH.metrics_batch:
            raise Reject(self.error(400, "too many ids"))
        known = [i for i in ids if self.env.state.get_post(self.name, i) is not None]
        return json_response({i: {"likes": LIKES, "views": VIEWS} for i in known})


# --- 3. the adapter ----------------------------------------------------------------------
class NinthPlatform(Platform):
    name: ClassVar[str] = "ninth"
    default_api_base: ClassVar[str] = "https://api.ninth.invalid"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['token']}"}

    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        answer = call(
            self.session,
            "POST",
            f"{self.api_base}/v1/posts",
            platform=self.name,
            timeout=self.timeout,
            creates=True,
            json={"text": part.text},
            headers=self._auth(),
        )
        return RemotePost(str(answer.json()["id"]))

    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        raise LookupUnsupported("ninth: posts cannot be read back")

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        ids = list(remote_ids[: self.traits.metrics_batch])
        answer = call(
            self.session,
            "GET",
            f"{self.api_base}/v1/metrics",
            platform=self.name,
            timeout=self.timeout,
            params={"ids": ",".join(ids)},
            headers=self._auth(),
        ).json()
        return {
            rid: MetricSample({k: int(v) for k, v in values.items()}, values)
            for rid, values in answer.items()
        }


# --- 4. an example channel and a release -------------------------------------------------
CHANNEL: dict[str, Any] = {
    "name": "ninth-main",
    "platform": "ninth",
    "account": "@embassy",
    "timezone": TZ,
    "min_gap": "1m",
    "hashtags": ["diplomacy", "consular"],
    "credentials": {"token": "NINTH_TOKEN"},
}
RELEASE: dict[str, Any] = {
    "id": "visa-hours",
    "title": "New opening hours of the visa section",
    "summary": "From Monday the visa section opens two hours earlier, and appointments can "
    "be booked online for every working day of the coming month.",
    "url": "https://portal.example/news/visa-hours",
    "targets": ["ninth-main"],
    "status": "approved",
    "approved_by": "Editor",
}


@pytest.fixture
def ninth() -> Iterator[None]:
    register(NINTH)
    register_adapter(NinthPlatform)
    register_stand_in(NinthStandIn)
    try:
        yield
    finally:
        unregister_stand_in("ninth")
        unregister_adapter("ninth")
        unregister("ninth")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    (root / "releases").mkdir(parents=True)
    (root / "channels.yaml").write_text(yaml.safe_dump({"channels": [CHANNEL]}))
    (root / "releases" / "visa-hours.yaml").write_text(yaml.safe_dump(RELEASE))
    return root


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_ninth_platform_is_known_everywhere_once_declared(ninth: None) -> None:
    assert all_platforms()[-1] == "ninth" and "ninth" in platform_names()
    assert get_platform("ninth") is NinthPlatform
    assert NinthPlatform.traits is NINTH
    assert NinthPlatform.required_credentials == (("token",),)


def test_the_ninth_platform_composes_within_its_declared_rules(ninth: None, config: Path) -> None:
    cfg = load_config(config, timezone=TZ)
    assert cfg.problems == []
    composition = compose(cfg.releases[0].release, cfg.channels["ninth-main"], NOW)
    [part] = composition
    assert part.limit == 240 and part.length <= 240  # the declared limit
    assert part.text.endswith("#diplomacy")  # the declared hashtag cap: one
    assert "https://portal.example/news/visa-hours?utm_source=ninth" in part.text
    assert "appointments" not in part.text  # the summary was shortened to fit


def test_a_ninth_platform_publishes_is_measured_and_reported(
    ninth: None, config: Path, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NINTH_TOKEN", "ninth-secret-token-1f2e")
    clock = Clock(NOW)
    with start_sandbox(clock=clock) as sandbox:
        settings = Settings(
            _env_file=None,
            database_url=db_url,
            config_dir=config,
            timezone=TZ,
            report_dir=tmp_path / "reports",
            worker_id="w-ninth",
            sandbox_url=sandbox.url,
        )
        worker = Worker(settings, clock=clock)
        try:
            assert worker.sync_job()
            for _ in range(20):  # bounded: a handful of rounds publish one post
                worker.dispatch_job(horizon=0)
                with worker.session_factory() as s:
                    post = s.scalars(select(Post)).one()
                if post.state == PostState.PUBLISHED:
                    break
                clock.now += timedelta(minutes=5)
            assert post.state == PostState.PUBLISHED, post.state
            assert [r.text for r in sandbox.state.posts("ninth")] == [post.text]
            served = requests.get(f"{sandbox.url}/_sandbox/platforms", timeout=10).json()
            assert served["ninth"] == f"{sandbox.url}/ninth"
            clock.now = (post.published_at or NOW) + timedelta(hours=2)
            assert worker.metrics_job() >= 1
            with transaction(worker.session_factory) as s:
                snaps = list(s.scalars(select(MetricSnapshot)))
            assert [(x.post_id, x.likes, x.views) for x in snaps] == [(post.id, LIKES, VIEWS)]

            iso = NOW.astimezone(ZoneInfo(TZ)).isocalendar()
            week = f"{iso.year}-W{iso.week:02d}"
            start, end = IsoWeek.parse(week).bounds(TZ)
            with transaction(worker.session_factory) as s:
                figures = build_week_figures(s, week, start, end, TZ, now=clock.now)
            [platform] = figures.platforms
            assert (platform.name, platform.posts, platform.reported) == ("ninth", 1, True)
            assert platform.metrics["likes"] == LIKES and platform.engagement == LIKES
            report = generate_report(
                worker.session_factory, settings, week, now=clock.now, formats="html"
            )
            assert report.summary["posts"] == 1 and report.summary["engagement"] == LIKES
            assert ">Ninth<" in report.html  # the declared display name
        finally:
            worker.close()
