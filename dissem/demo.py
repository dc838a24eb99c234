"""``dissem demo``: the whole pipeline on the embedded default, a week in well under a minute.

SQLite in a folder, the sandbox in-process, the example config, and a simulated clock that
steps through one ISO week: sync, dispatch, reconcile and metrics run exactly as in the
daemon, only the clock is simulated (the sandbox reads the same clock, so engagement grows
with simulated time). At the end it prints what was published where and writes the weekly
report for that week. The sandbox's audiences are on (:mod:`dissem.sandbox.audience`: each
account engages more at some local hours), so the report's "when your audience engages"
and ``dissem insights`` have something real, if thin, to read.

The sandbox's news portal is the demo's feed (``feeds.yaml`` is rewritten to point at it):
the first read records the portal's items as seen and posts none; on the Tuesday morning the
desk publishes a breaking article, the portal's CMS pings, and the worker reads the feed at
once: the article goes out on every channel, image and alt text taken from the feed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, select

from dissem.clock import utcnow
from dissem.config.loader import load_config
from dissem.config.quote import printable
from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.sandbox.audience import Audiences
from dissem.sandbox.feed_page import post_anchor, render_feed
from dissem.sandbox.state import PostRecord
from dissem.settings import Settings
from dissem.store.models import ChannelRow, Post, PostState
from dissem.store.models import FeedItem as FeedItemRow
from dissem.worker.daemon import Worker
from dissem.worker.terminal import cells, html_to_text, pad, shorten

log = logging.getLogger(__name__)

EXAMPLE = Path(__file__).resolve().parent / "example"
DEMO_FAULTS = "error_rate=0.03,throttle_rate=0.02,seed=7"
#: the demo's feed: the sandbox portal's Indonesian RSS, to every channel, without review
DEMO_FEED = "portal-berita"
#: when (after the week's start) the desk publishes the breaking article: Tuesday morning
BREAKING_AT = timedelta(days=1, hours=9)
BREAKING = {
    "title": "Darurat: evakuasi WNI dari zona banjir dimulai hari ini",
    "summary": "<p>Tim KBRI membuka posko evakuasi dan <b>hotline 24 jam</b>.</p>",
    "lang": "id",
    "categories": ["Konsuler"],
    "image": True,
    "image_alt": "Petugas KBRI mendampingi warga di posko evakuasi",
    "media": "content",
}
#: simulated time between syncs and between metrics rounds
SYNC_EVERY = timedelta(hours=6)
METRICS_EVERY = timedelta(hours=12)


class SimClock:
    """A clock the demo moves by hand; the worker and the sandbox both read it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class DemoPost:
    """One published post (a thread counted once) as the demo prints it."""

    channel: str
    #: when it went out, in the channel's time zone and in UTC
    local: str
    utc: str
    #: its first line as a reader sees it (Telegram's HTML markup removed)
    title: str
    #: its card on the saved sandbox page (``sandbox.html#...``), or "" when not found
    page: str
    #: the platform's address; "" while the platform has not given it yet
    url: str
    parts: int = 1


@dataclass
class DemoResult:
    directory: Path
    week: str
    published: list[DemoPost] = field(default_factory=list)
    #: posts (threads counted once) by state, and the number of parts
    states: Counter[str] = field(default_factory=Counter)
    parts: int = 0
    #: for each state but published: why, grouped ("Instagram needs an image": 4)
    why: dict[str, Counter[str]] = field(default_factory=dict)
    #: problem posts: the post, its channel, what is wrong, and the command that resolves it
    problems: list[str] = field(default_factory=list)
    #: the portal's breaking article: its title and the channels it went out on
    feed_item: str = ""
    feed_channels: list[str] = field(default_factory=list)
    report_files: list[Path] = field(default_factory=list)
    #: the sandbox's feed page, saved: what every channel published, readable after the demo
    feed_page: Path | None = None


def demo_week_start(config_dir: Path, timezone: str, today: datetime) -> datetime:
    """Monday 00:00 (in ``timezone``) of the week holding the earliest embargo of the
    example releases, or of ``today``'s week when none has one."""
    config = load_config(config_dir, timezone=timezone)
    embargoes = [lr.release.not_before for lr in config.releases if lr.release.not_before]
    anchor = min(embargoes) if embargoes else today
    local = anchor.astimezone(ZoneInfo(timezone))
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday.astimezone(UTC)


def run_demo(
    directory: Path | None = None,
    *,
    step: timedelta = timedelta(hours=1),
    echo: Callable[[str], None] = print,
    today: datetime | None = None,
) -> DemoResult:
    """Runs the demo in ``directory`` (kept: database, config, reports) or a temp folder."""
    keep = directory is not None
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="dissem-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    config_dir = root / "config"
    if not config_dir.exists():
        shutil.copytree(EXAMPLE, config_dir)
    timezone = os.environ.get("DISSEM_TIMEZONE", "Asia/Jakarta")
    start = demo_week_start(config_dir, timezone, today or utcnow())
    clock = SimClock(start)
    _demo_credentials(config_dir, timezone)
    with start_sandbox(faults=DEMO_FAULTS, clock=clock) as sandbox:
        # each account's audience engages more at some local hours: what `dissem insights`
        # and the report's "when your audience engages" learn from
        sandbox.state.audiences = Audiences(timezone=timezone)
        settings = Settings(
            database_url=f"sqlite:///{root / 'dissem.db'}",
            config_dir=config_dir,
            timezone=timezone,
            sandbox_url=sandbox.url,
            report_dir=root / "reports",
            backoff_base=60.0,
            worker_id="demo",
            # reconcile runs once a simulated step: each round covers the step, so the
            # addresses Threads and Instagram give only on asking are filled in
            reconcile_interval=step.total_seconds(),
        )
        echo(f"dissem demo in {root}{'' if keep else ' (temporary)'}; sandbox at {sandbox.url}")
        echo(f"simulating {start.astimezone(ZoneInfo(timezone)):%A %d %B %Y} + 7 days ...")
        _demo_feed(config_dir, sandbox.url)
        worker = Worker(settings, clock=clock)
        try:
            result = _simulate(worker, clock, start, step, root, sandbox)
        finally:
            worker.close()
    _print(result, echo)
    return result


def _simulate(
    worker: Worker,
    clock: SimClock,
    start: datetime,
    step: timedelta,
    root: Path,
    sandbox: RunningSandbox,
) -> DemoResult:
    """Moves the clock from event to event (the next due post, or the next tick of sync,
    metrics, reconcile and feeds (every ``step``)) instead of second by second. A real
    worker runs these jobs far more often; here that would cost only time (metrics calls
    dominate), and the week would take minutes instead of seconds."""
    end = start + timedelta(days=7)
    next_sync = next_metrics = next_feeds = start
    next_reconcile = start + step
    breaking_at: datetime | None = start + BREAKING_AT
    guid = ""
    while clock.now < end:
        if clock.now >= next_sync:
            worker.sync_job()
            next_sync += SYNC_EVERY
        if breaking_at is not None and clock.now >= breaking_at:
            # the desk publishes; the portal's CMS pings dissem, which reads the feed at once
            guid = sandbox.portal.upsert(BREAKING)["guid"]
            worker.poll_now.request(DEMO_FEED)
            breaking_at = None
        if clock.now >= next_feeds or len(worker.poll_now):
            worker.feeds_job()
            next_feeds = clock.now + step
        progressed = worker.dispatch_job(horizon=0)
        if clock.now >= next_reconcile:
            worker.reconcile_job()
            next_reconcile += step
        if clock.now >= next_metrics:
            worker.metrics_job()
            next_metrics += METRICS_EVERY
        events = [next_sync, next_reconcile, next_metrics, next_feeds, end]
        if breaking_at is not None:
            events.append(breaking_at)
        due = worker.next_due
        if due is not None and not progressed and due <= clock.now + timedelta(seconds=1):
            # "look again soon": due posts wait, e.g. thread parts behind an unconfirmed
            # part that only reconcile settles. Simulated time stands still meanwhile, so
            # stepping a second at a time would cost thousands of rounds: skip ahead.
            due = _next_future_due(worker, clock.now)
        if due is not None:
            events.append(due)
        clock.now = max(clock.now + timedelta(seconds=1), min(events))
    worker.reconcile_job()  # the last round: addresses still missing are asked for once more
    worker.metrics_job()
    iso = start.astimezone(ZoneInfo(worker.settings.timezone)).isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    result = DemoResult(directory=root, week=week, feed_item=str(BREAKING["title"]))
    result.feed_page = root / FEED_PAGE
    result.feed_page.write_text(render_feed(sandbox.state.posts(), clock.now), encoding="utf-8")
    cards = _cards(sandbox.state.posts())
    with worker.session_factory() as s:
        feed_releases = set(
            s.scalars(select(FeedItemRow.release_id).where(FeedItemRow.guid == guid))
        )
        zones = {n: tz for n, tz in s.execute(select(ChannelRow.name, ChannelRow.timezone))}
        posts = list(s.scalars(select(Post).order_by(Post.published_at, Post.id)))
    result.parts = len(posts)
    for group in _threads(posts):
        first = group[0]
        state = _thread_state(group)
        result.states[state] += 1
        if first.release_id in feed_releases and state == PostState.PUBLISHED:
            result.feed_channels.append(first.channel)
        if state == PostState.PUBLISHED:
            result.published.append(
                _published(group, ZoneInfo(zones.get(first.channel, "UTC")), cards, FEED_PAGE)
            )
        elif state != PostState.PUBLISHING:
            _explain(result, state, group, end)
    result.report_files = _write_report(worker, week, end)
    return result


#: the saved sandbox page, in the demo folder
FEED_PAGE = "sandbox.html"
#: how wide the title column is, in terminal cells
TITLE_CELLS = 48


def _threads(posts: list[Post]) -> list[list[Post]]:
    """Posts grouped into what a reader sees as one post: the parts of one thread (one
    release, channel and share), in part order, groups in the order of their first part."""
    groups: dict[tuple[str, str, int], list[Post]] = {}
    for post in posts:
        groups.setdefault((post.release_id, post.channel, post.seq), []).append(post)
    for parts in groups.values():
        parts.sort(key=lambda p: p.part_index)
    return sorted(groups.values(), key=lambda g: (_first_out(g), g[0].id))


def _first_out(group: list[Post]) -> datetime:
    times = [p.published_at for p in group if p.published_at] or [
        p.due_at for p in group if p.due_at
    ]
    return min(times) if times else datetime.max.replace(tzinfo=UTC)


def _thread_state(group: list[Post]) -> str:
    """A thread is published when all its parts are; else the state of its first part that
    is not published (a problem part says what is wrong with the whole)."""
    for post in group:
        if post.state != PostState.PUBLISHED:
            return post.state
    return PostState.PUBLISHED


def _cards(records: list[PostRecord]) -> dict[tuple[str, str], str]:
    """Each sandbox post's anchor on the saved page, by (platform, id) and (platform, url):
    Telegram's stand-in keeps ``chat/message`` as the id where dissem keeps the message's
    number, but both know the same address."""
    out: dict[tuple[str, str], str] = {}
    for record in records:
        anchor = post_anchor(record.platform, record.remote_id)
        out[(record.platform, record.remote_id)] = anchor
        if record.url:
            out.setdefault((record.platform, record.url), anchor)
    return out


def _published(
    group: list[Post], zone: ZoneInfo, cards: dict[tuple[str, str], str], page: str
) -> DemoPost:
    first = group[0]
    when = first.published_at or utcnow()
    anchor = cards.get((first.platform, first.remote_id or "")) or cards.get(
        (first.platform, first.remote_url or "")
    )
    return DemoPost(
        channel=first.channel,
        local=when.astimezone(zone).strftime("%a %d %b %H:%M %Z"),
        utc=when.astimezone(UTC).strftime("%H:%M UTC"),
        title=shorten(first_line(first.text, first.payload), TITLE_CELLS),
        page=f"{page}#{anchor}" if anchor else "",
        url=first.remote_url or "",
        parts=len(group),
    )


def first_line(text: str, payload: dict[str, Any] | None = None) -> str:
    """The first non-empty line of a post as its reader sees it: Telegram's HTML markup
    (``parse_mode`` HTML: ``<b>``, ``&amp;``) read as text, not shown."""
    options = (payload or {}).get("options") or {}
    if isinstance(options, dict) and options.get("parse_mode") == "HTML":
        text = html_to_text(text)
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def _explain(result: DemoResult, state: str, group: list[Post], end: datetime) -> None:
    """Why a post is not published, grouped by reason; problems get their command."""
    first = group[0]
    reasons = result.why.setdefault(state, Counter())
    if state == PostState.SKIPPED:
        reason = (first.skip_reason or "no reason recorded").removeprefix("skipped: ")
        reasons[reason] += 1
    elif state in (PostState.SCHEDULED, PostState.PENDING):
        if first.due_at is not None and first.due_at >= end:
            what = "re-shares" if first.seq else "posts"
            reasons[f"evergreen {what} due after the simulated week"] += 1
        else:
            reasons[(first.last_error or "waiting for their time")[:80]] += 1
    elif state in PostState.PROBLEMS:
        post = next(p for p in group if p.state == state)
        error = shorten(post.last_error or "no reason recorded", 100)
        reasons[error] += 1
        result.problems.append(
            f"post {post.id} on {post.channel}: {state}: {error}; resolve with "
            f"`dissem mark-published {post.id} URL` (it went out) or `dissem retry {post.id}`"
        )
    else:  # cancelled, expired
        reasons[(first.last_error or "no reason recorded")[:80]] += 1


def _next_future_due(worker: Worker, now: datetime) -> datetime | None:
    with worker.session_factory() as s:
        return s.scalar(
            select(func.min(Post.due_at)).where(
                Post.state == PostState.SCHEDULED, Post.due_at > now
            )
        )


def _write_report(worker: Worker, week: str, now: datetime) -> list[Path]:
    from dissem.reports.weekly import generate_report

    result = generate_report(worker.session_factory, worker.settings, week, now=now)
    return list(result.files.values())


def _demo_feed(config_dir: Path, portal: str) -> None:
    """Points the demo's ``feeds.yaml`` at the sandbox portal (its port changes each run)."""
    feed = {
        "name": DEMO_FEED,
        "url": f"{portal}/portal/id/rss.xml",
        "targets": ["all"],
        "language": "id",
        "status": "approved",
        "approved_by": "dissem demo",
        "tags": ["berita"],
        "poll_interval": "10m",
        "breaking_keywords": ["darurat", "evakuasi"],
    }
    text = "# written by `dissem demo`: the sandbox's news portal\n" + yaml.safe_dump(
        {"feeds": [feed]}, allow_unicode=True, sort_keys=False
    )
    (config_dir / "feeds.yaml").write_text(text, encoding="utf-8")


def _demo_credentials(config_dir: Path, timezone: str) -> None:
    """Dummy secrets for every variable the example channels name (the sandbox accepts
    any non-empty credential; each variable its own value, so each channel its own account).
    A Telegram bot token has Telegram's shape, ``<bot id>:<secret>``: like Telegram, the
    stand-in answers 404 to any other."""
    config = load_config(config_dir, timezone=timezone)
    for channel in config.channels.values():
        for name, var in channel.credentials.items():
            value = f"demo-{var.lower()}"
            if name == "bot_token":
                value = f"{zlib.crc32(var.encode())}:{value}"
            os.environ.setdefault(var, value)


def _print(result: DemoResult, echo: Callable[[str], None]) -> None:
    echo("")
    threads = sum(p.parts for p in result.published)
    parts = f" ({threads} parts: threads count once)" if threads != len(result.published) else ""
    echo(f"published {len(result.published)} posts{parts}:")
    rows = [
        (
            p.channel,
            f"{p.local} ({p.utc})",
            p.title + (f" [{p.parts} parts]" if p.parts > 1 else ""),
            _link(result, p),
        )
        for p in result.published
    ]
    widths = [max((cells(row[i]) for row in rows), default=0) for i in range(3)]
    for row in rows:
        # release text may hold terminal control sequences: shown, never sent to the terminal
        line = "  ".join(pad(cell, w) for cell, w in zip(row[:3], widths, strict=True))
        echo(printable(f"  {line}  {row[3]}"))
    echo("")
    if result.feed_page is not None:
        echo(
            f"every post above is on {result.feed_page.resolve().as_uri()} (the sandbox's "
            "page, saved: it stays readable after the demo)"
        )
    if result.feed_item:
        echo(
            printable(
                f"from the portal's feed: {result.feed_item!r} went out on "
                f"{len(set(result.feed_channels))} channels: "
                f"{', '.join(sorted(set(result.feed_channels)))}"
            )
        )
    total = sum(result.states.values())
    echo(
        f"posts by state ({total} posts, {result.parts} parts): "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.states.items()))
    )
    for state, reasons in sorted(result.why.items()):
        why = "; ".join(f"{reason}: {n}" for reason, n in reasons.most_common())
        echo(printable(f"  {state}: {sum(reasons.values())} ({why})"))
    for problem in result.problems:
        echo(printable(f"  {problem}"))
    for f in result.report_files:
        echo(f"report: {f}")
    database = f"sqlite:///{result.directory / 'dissem.db'}"
    echo(
        "the sandbox's audiences engage by local time; after a week most channels have too "
        "few posts for a best time, see the report's 'When your audience engages' or run: "
        f"DISSEM_DATABASE_URL={database} dissem insights"
    )


def _link(result: DemoResult, post: DemoPost) -> str:
    """The post's card on the saved page (a file: link that outlives the sandbox), else its
    platform address; "address pending" when the platform has not given one yet (the
    worker keeps asking for three days)."""
    pending = "address pending (the platform has not given it yet)"
    if post.page and result.feed_page is not None:
        page = f"{result.feed_page.parent.resolve().as_uri()}/{post.page}"
        return page if post.url else f"{page}  ({pending})"
    return post.url or pending
