"""``/status``: a read-only page for the team on the worker's health port.

What goes out next on each channel (in the channel's own time zone, over the coming days),
each release's state across its channels, the problems with the exact command that resolves
each (``dissem retry 123``, ``dissem mark-published 123 URL``, ``dissem resume CHANNEL``),
the feeds as ``dissem feeds`` shows them, and links to the latest weekly reports, served
from ``DISSEM_REPORT_DIR`` (``/status/reports/<week>/<file>``: names checked against the
report's own pattern, the resolved path kept inside the folder).

Server-rendered HTML without a script, an image or a font to fetch; a
``Content-Security-Policy`` header forbids any load (only the inline ``<style>``). Reads go
through the worker's read-only engine (a deferred ``BEGIN`` on SQLite: the page never takes
the write lock).

Who may see it
--------------
On a loopback ``DISSEM_HEALTH_HOST`` (the default, 127.0.0.1) anyone on the machine. Bound
elsewhere, the page needs ``DISSEM_STATUS_TOKEN`` (``Authorization: Bearer <token>``, or
basic auth with the token as the password) or ``DISSEM_STATUS_USER`` and
``DISSEM_STATUS_PASSWORD`` (basic auth); without either it is refused (403, saying what to
set). Once set, they are asked for on any address. Secrets are compared in constant time.
``/healthz`` and ``/metrics`` stay open for probes.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.models import LoadedConfig
from dissem.reports.html import TEMPLATES
from dissem.settings import Settings
from dissem.store.models import ChannelRow, Post, PostState, ReleaseRow
from dissem.store.queue_sql import PAUSED_FOREVER

__all__ = ["CSP", "StatusPage", "is_loopback"]

log = logging.getLogger(__name__)

#: nothing may load: the inline <style> only (data: images allowed, none are used)
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: how far ahead the timeline looks, and how many posts it lists per channel
AHEAD = timedelta(days=7)
PER_CHANNEL = 12
#: channels (those going out soonest) whose next posts are listed; every other channel
#: gets one line: with 1,000 channels, 12 posts each made a 2 MB page that took seconds
DETAIL_CHANNELS = 50
#: releases shown: those with open or problem posts, or changed within this long
RECENT = timedelta(days=14)
MAX_RELEASES = 60
#: channels named per release (by state); the rest are counted
MAX_CHIPS = 30
MAX_PROBLEMS = 200
#: weekly report folders listed
REPORT_WEEKS = 4
_WEEK = re.compile(r"\d{4}-W\d{2}")
_REPORT_FILE = re.compile(r"dissem-report-\d{4}-W\d{2}(-[a-z]{2})?\.(html|csv|xlsx|pdf)")
_TYPES = {
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

Answer = tuple[int, dict[str, str], bytes]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address the server binds) is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "" (every address), a host name: not known to be loopback


@dataclass(frozen=True)
class Problem:
    post_id: int
    channel: str
    release: str
    state: str
    when: str
    error: str
    commands: tuple[str, ...]


def commands_for(post_id: int, state: str) -> tuple[str, ...]:
    """The commands that resolve a problem post, the likelier first."""
    if state == PostState.FAILED:
        return (f"dissem retry {post_id}", f"dissem cancel {post_id}")
    # unconfirmed / needs_review: it may be out; a person looks, then says which
    return (
        f"dissem mark-published {post_id} URL",
        f"dissem retry {post_id}",
        f"dissem cancel {post_id}",
    )


class StatusPage:
    """Answers ``GET /status`` and ``/status/reports/...``; None for any other request (see
    :data:`dissem.worker.health.Routes`)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        config: Callable[[], LoadedConfig | None] = lambda: None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.clock = clock
        self.config = config

    # --- HTTP ---------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Answer | None:
        path = urlsplit(target).path
        if path not in ("/", "/status", "/status/") and not path.startswith("/status/reports/"):
            return None
        if method not in ("GET", "HEAD"):
            return self._text(405, "the status page is read-only", {"Allow": "GET"})
        refusal = self._refusal(headers)
        if refusal is not None:
            return refusal
        if path == "/":
            return 303, {"Location": "/status", "Content-Type": "text/plain"}, b"see /status"
        if path.startswith("/status/reports/"):
            return self._report(path.removeprefix("/status/reports/"))
        try:
            html = self.render(self.clock())
        except Exception as exc:  # the database may be down: say so, never crash the server
            log.warning("/status: cannot read the queue (%s)", type(exc).__name__)
            return self._text(503, "the status page cannot read the database right now")
        return 200, self._headers("text/html; charset=utf-8"), html.encode("utf-8")

    def _refusal(self, headers: Mapping[str, str]) -> Answer | None:
        """None when the request may see the page; else the answer that refuses it."""
        s = self.settings
        token = s.status_token.get_secret_value() if s.status_token else ""
        password = s.status_password.get_secret_value() if s.status_password else ""
        user = s.status_user or ""
        if not token and not (user and password):
            if is_loopback(s.health_host):
                return None
            return self._text(
                403,
                "the status page is off: DISSEM_HEALTH_HOST is not a loopback address; set "
                "DISSEM_STATUS_TOKEN, or DISSEM_STATUS_USER and DISSEM_STATUS_PASSWORD",
            )
        given = headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        ok = False
        if scheme.lower() == "bearer" and token:
            ok = _same(value.strip(), token)
        elif scheme.lower() == "basic":
            try:
                pair = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                pair = ""
            name, _, secret = pair.partition(":")
            by_user = bool(user and password) and _same(name, user) & _same(secret, password)
            by_token = bool(token) and _same(secret, token)
            ok = by_user or by_token
        if ok:
            return None
        return self._text(
            401,
            "the status page needs DISSEM_STATUS_TOKEN (Bearer, or as the basic-auth password) "
            "or DISSEM_STATUS_USER and DISSEM_STATUS_PASSWORD",
            {"WWW-Authenticate": 'Basic realm="dissem status", charset="UTF-8"'},
        )

    def _report(self, rest: str) -> Answer:
        week, _, name = rest.partition("/")
        if not _WEEK.fullmatch(week) or not _REPORT_FILE.fullmatch(name):
            return self._text(404, "no such report")
        root = self.settings.report_dir.resolve()
        path = (root / week / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return self._text(404, "no such report")
        suffix = path.suffix.lstrip(".")
        headers = self._headers(_TYPES[suffix])
        if suffix != "html":
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return 200, headers, path.read_bytes()

    @staticmethod
    def _headers(content_type: str) -> dict[str, str]:
        return {
            "Content-Type": content_type,
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }

    def _text(self, code: int, text: str, extra: dict[str, str] | None = None) -> Answer:
        headers = {**self._headers("text/plain; charset=utf-8"), **(extra or {})}
        return code, headers, (text + "\n").encode("utf-8")

    # --- the page -------------------------------------------------------------------------

    def render(self, now: datetime) -> str:
        """The page as of ``now``."""
        data = self.read(now)
        return TEMPLATES.get_template("status.html.j2").render(**data)

    def read(self, now: datetime) -> dict[str, Any]:
        """What the page shows, as plain data (one read transaction)."""
        home = ZoneInfo(self.settings.timezone)
        with self.session_factory() as s:
            channels = list(
                s.scalars(
                    select(ChannelRow)
                    .where(ChannelRow.removed.is_(False))
                    .order_by(ChannelRow.name)
                )
            )
            titles = {i: t for i, t in s.execute(select(ReleaseRow.id, ReleaseRow.title))}
            week = _week(s, now)
            shown = sorted(week, key=lambda name: (week[name], name))[:DETAIL_CHANNELS]
            upcoming = list(s.execute(_upcoming(now), {"shown": shown})) if shown else []
            problems = list(
                s.scalars(
                    select(Post)
                    .where(Post.state.in_(sorted(PostState.PROBLEMS)))
                    .order_by(Post.updated_at.desc(), Post.id)
                    .limit(MAX_PROBLEMS)
                )
            )
            releases = self._releases(s, now)
        zones = {c.name: ZoneInfo(c.timezone) for c in channels}
        return {
            "now": _local(now, home),
            "zone": self.settings.timezone,
            "timeline": _timeline(channels, upcoming, week, titles, zones, now),
            "releases": releases,
            "problems": [
                Problem(
                    post_id=p.id,
                    channel=p.channel,
                    release=titles.get(p.release_id, p.release_id),
                    state=p.state,
                    when=_local(p.due_at, zones.get(p.channel, home)) if p.due_at else "",
                    error=p.last_error or "no error recorded",
                    commands=commands_for(p.id, p.state),
                )
                for p in problems
            ],
            "paused": [_paused(c, zones[c.name]) for c in channels if _is_paused(c, now)],
            "feeds": self._feeds(),
            "reports": self._reports(),
        }

    def _releases(self, s: Session, now: datetime) -> list[dict[str, Any]]:
        """Each recent release: per channel, the state of its latest share (a thread as its
        least advanced part), published first."""
        # EXISTS per release, newest first, until MAX_RELEASES: reading every open post's
        # release id took seconds with a million posts queued
        has_open = exists().where(
            Post.release_id == ReleaseRow.id,
            Post.state.in_(sorted(PostState.OPEN | PostState.PROBLEMS)),
        )
        chosen = list(
            s.scalars(
                select(ReleaseRow)
                .where(
                    ReleaseRow.deleted.is_(False),
                    or_(ReleaseRow.updated_at >= now - RECENT, has_open),
                )
                .order_by(ReleaseRow.updated_at.desc())
                .limit(MAX_RELEASES)
            )
        )
        if not chosen:
            return []
        states: dict[str, dict[str, dict[int, list[str]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list))
        )
        for rid, channel, seq, state in s.execute(
            select(Post.release_id, Post.channel, Post.seq, Post.state).where(
                Post.release_id.in_([r.id for r in chosen])
            )
        ):
            states[rid][channel][seq].append(state)
        out = []
        for r in chosen:
            per_channel = []
            for channel, shares in sorted(states[r.id].items()):
                parts = shares[max(shares)]
                per_channel.append({"channel": channel, "state": _thread_state(parts)})
            counts = Counter(c["state"] for c in per_channel)
            out.append(
                {
                    "id": r.id,
                    "title": r.title,
                    "status": r.status,
                    # the problems first, then those not yet out: 1,000 chips a release made
                    # the page megabytes; the summary counts them all
                    "channels": sorted(per_channel, key=_chip_order)[:MAX_CHIPS],
                    "more": max(0, len(per_channel) - MAX_CHIPS),
                    "summary": ", ".join(f"{n} {state}" for state, n in sorted(counts.items())),
                }
            )
        return out

    def _feeds(self) -> list[dict[str, Any]]:
        from dissem.worker.feed_review import feed_rows

        config = self.config() or LoadedConfig(root=self.settings.config_dir)
        try:
            return feed_rows(self.session_factory, config)
        except Exception as exc:  # feeds are a side panel: never take the page down
            log.warning("/status: feeds not read (%s)", type(exc).__name__)
            return []

    def _reports(self) -> list[dict[str, Any]]:
        root = self.settings.report_dir
        if not root.is_dir():
            return []
        weeks = sorted(
            (d for d in root.iterdir() if d.is_dir() and _WEEK.fullmatch(d.name)),
            key=lambda d: d.name,
            reverse=True,
        )[:REPORT_WEEKS]
        return [
            {
                "week": d.name,
                "files": [
                    {"name": f.name, "href": f"/status/reports/{quote(d.name)}/{quote(f.name)}"}
                    for f in sorted(d.iterdir())
                    if f.is_file() and _REPORT_FILE.fullmatch(f.name)
                ],
            }
            for d in weeks
        ]


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %H:%M %Z")


def _chip_order(chip: dict[str, str]) -> tuple[int, str]:
    """Problems first, then posts not yet out, then those out; by channel within each."""
    state = chip["state"]
    rank = 0 if state in PostState.PROBLEMS else 2 if state == PostState.PUBLISHED else 1
    return rank, chip["channel"]


def _thread_state(parts: list[str]) -> str:
    order = [
        PostState.FAILED,
        PostState.NEEDS_REVIEW,
        PostState.UNCONFIRMED,
        PostState.PUBLISHING,
        PostState.SCHEDULED,
        PostState.PENDING,
    ]
    for state in order:
        if state in parts:
            return state
    if PostState.PUBLISHED in parts:
        return PostState.PUBLISHED
    return sorted(parts)[0]


def _is_paused(channel: ChannelRow, now: datetime) -> bool:
    return channel.paused_until is not None and channel.paused_until > now


def _paused(channel: ChannelRow, zone: ZoneInfo) -> dict[str, str]:
    until = channel.paused_until
    return {
        "channel": channel.name,
        "reason": channel.pause_reason or "no reason recorded",
        "until": "until a person resumes it"
        if until is None or until >= PAUSED_FOREVER
        else f"resumes {_local(until, zone)}",
        "command": f"dissem resume {channel.name}",
    }


def _coming(now: datetime) -> Any:
    """First parts pending or scheduled within :data:`AHEAD` (what the timeline counts)."""
    return and_(
        Post.state.in_([PostState.PENDING, PostState.SCHEDULED]),
        Post.due_at.is_not(None),
        Post.due_at <= now + AHEAD,
        Post.part_index == 1,
    )


def _first_of(state: PostState, now: datetime) -> Any:
    """Per channel (correlated): its earliest due time in ``state`` within :data:`AHEAD`,
    one probe of the end of ix_posts_channel_state_due."""
    return (
        select(func.min(Post.due_at))
        .where(Post.channel == ChannelRow.name, Post.state == state, Post.due_at <= now + AHEAD)
        .scalar_subquery()
    )


def _week(s: Session, now: datetime) -> dict[str, datetime]:
    """Per channel with a post (pending or scheduled) due within :data:`AHEAD`: when the
    first is due. Two index probes a channel: counting each channel's posts of the week
    read tens of thousands of rows (0.3 s with a million posts queued)."""
    stmt = select(
        ChannelRow.name,
        _first_of(PostState.SCHEDULED, now),
        _first_of(PostState.PENDING, now),
    ).where(ChannelRow.removed.is_(False))
    out = {}
    for name, *firsts in s.execute(stmt):
        due = [t for t in firsts if t is not None]
        if due:
            out[name] = min(due)
    return out


def _upcoming(now: datetime) -> Select[Any]:
    """First parts due within :data:`AHEAD` of the channels ``shown`` (an expanding bind
    parameter): each channel's first :data:`PER_CHANNEL` (by due time) with ``waiting``, how
    many it has in all. Columns, not posts, and only what the page shows: with a million
    posts queued, tens of thousands fall within a week."""
    ranked = (
        select(
            Post.id,
            Post.channel,
            Post.release_id,
            Post.part_total,
            Post.state,
            Post.last_error,
            Post.due_at,
            func.row_number()
            .over(partition_by=Post.channel, order_by=(Post.due_at, Post.id))
            .label("place"),
            func.count().over(partition_by=Post.channel).label("waiting"),
        )
        .where(_coming(now), Post.channel.in_(bindparam("shown", expanding=True)))
        .subquery()
    )
    return (
        select(ranked)
        .where(and_(ranked.c.place <= PER_CHANNEL))
        .order_by(ranked.c.due_at, ranked.c.id)
    )


def _timeline(
    channels: list[ChannelRow],
    upcoming: list[Row[Any]],
    week: dict[str, datetime],
    titles: dict[str, str],
    zones: dict[str, ZoneInfo],
    now: datetime,
) -> list[dict[str, Any]]:
    """Per channel (the one going out soonest first): its next posts by local day, or for
    a channel beyond :data:`DETAIL_CHANNELS`, one line (``brief``): when its next post is
    due."""
    by_channel: dict[str, list[Row[Any]]] = defaultdict(list)
    for post in upcoming:
        by_channel[post.channel].append(post)
    out = []
    for channel in channels:
        posts = by_channel.get(channel.name, [])
        coming = week.get(channel.name)
        zone = zones[channel.name]
        days: dict[str, list[dict[str, str]]] = {}
        for post in posts[:PER_CHANNEL]:
            due = post.due_at or now
            local = due.astimezone(zone)
            day = "due now" if due <= now else local.strftime("%A %d %B")
            days.setdefault(day, []).append(
                {
                    "time": local.strftime("%H:%M %Z"),
                    "title": titles.get(post.release_id, post.release_id),
                    "parts": str(post.part_total) if post.part_total > 1 else "",
                    "state": post.state,
                    "note": post.last_error or "",
                    "id": str(post.id),
                }
            )
        out.append(
            {
                "channel": channel.name,
                "platform": channel.platform,
                "zone": channel.timezone,
                "paused": _is_paused(channel, now),
                "days": [{"day": d, "posts": p} for d, p in days.items()],
                "more": max(0, posts[0].waiting - PER_CHANNEL) if posts else 0,
                "next": posts[0].due_at if posts else coming,
                "brief": "" if posts or coming is None else f"next post {_local(coming, zone)}",
            }
        )
    far = datetime.max.replace(tzinfo=UTC)
    out.sort(key=lambda c: (c["next"] or far, c["channel"]))
    return out
