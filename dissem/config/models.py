"""Pydantic models of the config files: ``channels.yaml``, ``releases/*``, ``feeds.yaml``.

Models are strict (unknown keys are errors). Locating an error at ``path:line:column`` is the
loader's job (``dissem.config.loader``); these models only say what is valid.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from dissem.config.quote import shown
from dissem.errors import ConfigProblem
from dissem.traits import BUILTIN, all_platforms

#: the platforms dissem ships, in their declared order (a registered one is known to
#: :func:`dissem.traits.all_platforms` and accepted in ``platform:`` as well)
PLATFORMS: tuple[str, ...] = tuple(t.name for t in BUILTIN)


def _known_platform(value: Any) -> str:
    """A platform with a declaration (:mod:`dissem.traits`), read when a file is validated,
    so a platform registered later is accepted; the error is pydantic's own for a choice."""
    names = all_platforms()
    if isinstance(value, str) and value in names:
        return value
    expected = ", ".join(repr(n) for n in names[:-1]) + f" or {names[-1]!r}"
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


class _PlatformJsonSchema:
    """The JSON Schema of ``platform:``: the declared platforms, when the schema is made."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"enum": list(all_platforms()), "title": "Platform", "type": "string"}


#: a platform name (``platform: bluesky``)
Platform = Annotated[str, PlainValidator(_known_platform), _PlatformJsonSchema()]

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$")
_DURATION_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, None: 60}


#: Longest duration any setting accepts; each setting has its own, smaller, bounds.
_LONGEST = timedelta(days=36_500)


def parse_duration(value: Any) -> Any:
    """Accepts ``90s``, ``30m``, ``2h``, ``1d`` or a bare number of minutes."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 2h or 1d")
    if isinstance(value, int | float):
        return _seconds(value * 60, value)
    if isinstance(value, str) and value.strip().upper().startswith("P"):
        return value  # ISO 8601 (PT30M): how stored channels write it; pydantic parses it
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if not m:
            raise ValueError(f"{shown(value)} is not a duration; write e.g. 90s, 30m, 2h or 1d")
        return _seconds(float(m.group(1)) * _DURATION_UNITS[m.group(2)], value)
    return value


def _seconds(seconds: float, written: object) -> timedelta:
    """``seconds`` as a timedelta; refuses what no setting accepts (negative, infinite,
    longer than a century) before timedelta overflows."""
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{shown(written)} is not a duration; write e.g. 90s, 30m, 2h or 1d")
    if seconds > _LONGEST.total_seconds():
        raise ValueError(f"{shown(written)} is too long a duration; write e.g. 30m, 2h or 1d")
    return timedelta(seconds=seconds)


def duration_text(value: timedelta) -> str:
    """A duration the way people write it: ``30m``, ``2h``, ``1d``, ``90s``."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


#: How durations and windows look in the JSON Schema (``dissem schema``): as the text people
#: write, not as the Python objects they become.
DURATION_JSON_SCHEMA: dict[str, Any] = {
    "type": ["string", "number"],
    "pattern": r"^\s*\d+(\.\d+)?\s*(s|sec|m|min|h|d)?\s*$",
    "description": "a duration: 90s, 30m, 2h, 1d, or a number of minutes",
    "examples": ["30m", "2h", "1d"],
}


def _valid_name(v: str) -> str:
    if not NAME_RE.match(v):
        raise ValueError(
            f"{shown(v)} is not a valid name; use lower-case letters, digits, '.', '_' or '-'"
        )
    return v


#: a channel's or a feed's name
Name = Annotated[str, AfterValidator(_valid_name)]


def _within(low: timedelta, high: timedelta) -> AfterValidator:
    """A duration from ``low`` to ``high`` (both allowed)."""

    def check(value: timedelta) -> timedelta:
        if not low <= value <= high:
            raise ValueError(
                f"{duration_text(value)} is out of range; "
                f"write a duration from {duration_text(low)} to {duration_text(high)}"
            )
        return value

    return AfterValidator(check)


def _duration_schema(low: timedelta, high: timedelta) -> WithJsonSchema:
    """The schema of a bounded duration: a number is minutes, so ``minimum`` and
    ``maximum`` are in minutes; the description says the bounds as written."""
    return WithJsonSchema(
        {
            **DURATION_JSON_SCHEMA,
            "description": f"a duration from {duration_text(low)} to {duration_text(high)}: "
            "90s, 30m, 2h, 1d, or a number of minutes",
            "minimum": int(low.total_seconds()) // 60,
            "maximum": int(high.total_seconds()) // 60,
        }
    )


WINDOW_JSON_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\s*([A-Za-z]{3}(\s*-\s*[A-Za-z]{3})?(\s*,\s*[A-Za-z]{3}(\s*-\s*[A-Za-z]{3})?)*"
    r"|[Dd]aily)\s+\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*$",
    "description": "DAYS HH:MM-HH:MM in the channel's time zone; days: mon..sun, ranges, "
    "commas or daily; 24:00 is midnight",
    "examples": ["mon-fri 07:00-21:00", "sat,sun 09:00-18:00", "daily 00:00-24:00"],
}

Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), WithJsonSchema(DURATION_JSON_SCHEMA)
]
_DAY, _HOUR, _MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
MinGap = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    _within(timedelta(0), 365 * _DAY),
    _duration_schema(timedelta(0), 365 * _DAY),
]
EvergreenInterval = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    _within(_HOUR, 3650 * _DAY),
    _duration_schema(_HOUR, 3650 * _DAY),
]
PollInterval = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    _within(_MINUTE, 30 * _DAY),
    _duration_schema(_MINUTE, 30 * _DAY),
]

#: Times in releases lie in this range (an embargo in year 1 or an expiry in year 9999 is a
#: typo, and would not fit the database's or Python's time types once in UTC).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)


def check_url(value: str, what: str = "URL") -> str:
    """Returns ``value`` if it is an http(s) URL with a host, read the way the composer
    reads it (``urllib.parse.urlsplit``: its host, port and query), else raises
    ValueError with a hint."""
    bad = f"{shown(value)} is not an http(s) {what}"
    hint = "write the full address, e.g. https://example.org/a"
    if any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ValueError(f"{bad}: it holds spaces or control characters; {hint}")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError as e:
        raise ValueError(f"{bad}: {e}; {hint}") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(f"{bad}; {hint}")
    return value


def check_timezone(name: str) -> str:
    """Returns ``name`` if it is an IANA zone, else raises ValueError with a suggestion."""
    try:
        if len(name) > 100:  # no zone name is that long (and a file name could not be)
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        import difflib

        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "; use an IANA name like Europe/Berlin"
        raise ValueError(f"unknown time zone {shown(name)}{hint}") from None
    return name


@dataclass(frozen=True)
class Window:
    """A posting window: on ``days`` (0=Monday), from ``start`` to ``end`` local time.

    ``end`` of 00:00 or 24:00 means midnight at the end of the day.
    """

    days: frozenset[int]
    start: time
    end: time | None  # None: until midnight
    text: str

    @classmethod
    def parse(cls, text: str) -> Window:
        if len(text) > 200:
            raise ValueError(f"window {shown(text)} is not 'DAYS HH:MM-HH:MM'")
        m = re.fullmatch(
            r"\s*([a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*|daily)"
            r"\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*",
            text.strip().lower(),
        )
        if not m:
            raise ValueError(
                f"window {shown(text)} is not 'DAYS HH:MM-HH:MM'; write e.g. 'mon-fri 07:00-21:00'"
            )
        days = _parse_days(m.group(1))
        sh, sm, eh, em = (int(m.group(i)) for i in range(2, 6))
        if sh > 23 or sm > 59 or eh > 24 or em > 59 or (eh == 24 and em):
            raise ValueError(f"window {text!r} has an impossible time")
        start = time(sh, sm)
        end = None if (eh, em) in ((0, 0), (24, 0)) else time(eh, em)
        if end is not None and end <= start:
            raise ValueError(
                f"window {text!r} ends before it starts; split a night window in two, "
                "e.g. 'mon 22:00-24:00' and 'tue 00:00-02:00'"
            )
        return cls(days=days, start=start, end=end, text=text)

    def end_seconds(self) -> int:
        return 86400 if self.end is None else self.end.hour * 3600 + self.end.minute * 60

    def start_seconds(self) -> int:
        return self.start.hour * 3600 + self.start.minute * 60


def _parse_days(spec: str) -> frozenset[int]:
    if spec == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for chunk in spec.split(","):
        ends = [c.strip() for c in chunk.split("-")]
        for name in ends:
            if name not in DAY_NAMES:
                raise ValueError(f"unknown day {name!r}; use {', '.join(DAY_NAMES)} or daily")
        a = DAY_NAMES.index(ends[0])
        b = DAY_NAMES.index(ends[-1])
        i = a
        while True:
            days.add(i)
            if i == b:
                break
            i = (i + 1) % 7
    return frozenset(days)


def _parse_window(value: Any) -> Any:
    return _window(value) if isinstance(value, str) else value


@functools.lru_cache(maxsize=4096)
def _window(text: str) -> Window:
    """``Window.parse`` once per distinct text (a Window is immutable): thousands of
    channels share a handful of window lines. A mistake is not cached, so it is raised
    (and reported) for every channel that has it."""
    return Window.parse(text)


WindowSpec = Annotated[Window, BeforeValidator(_parse_window), WithJsonSchema(WINDOW_JSON_SCHEMA)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Utm(Strict):
    """UTM tagging of the link back to the portal."""

    enabled: bool = True
    source: str | None = Field(None, description="default: the platform name")
    medium: str = "social"
    campaign: str | None = Field(None, description="default: the release id")
    content: str | None = Field(None, description="default: the channel name")


class Channel(Strict):
    """One account on one platform."""

    name: Name = Field(description="unique, lower-case: letters, digits, . _ -", max_length=64)
    platform: Platform
    account: str = Field(description="handle, page id, chat id (@channel), organization URN or DID")
    timezone: str = Field(description="IANA zone, e.g. Europe/Berlin")
    windows: list[WindowSpec] = Field(
        default_factory=lambda: [Window.parse("daily 00:00-24:00")],
        description="posting windows in local time, e.g. 'mon-fri 07:00-21:00'",
    )
    min_gap: MinGap = Field(
        timedelta(minutes=30), description="least time between two posts: 0s to 365d"
    )
    daily_cap: int | None = Field(None, ge=1, le=10_000, description="most posts per local day")
    language: str = Field("en", description="language of this channel's posts (ISO 639-1)")
    template: str | None = Field(None, description="Jinja template (sandboxed) for the text")
    hashtags: list[str] = Field(default_factory=list, description="added to every post")
    utm: Utm = Field(default_factory=Utm)
    enabled: bool = True
    thread: bool = Field(False, description="split long releases into numbered parts")
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description="credential name -> name of the environment variable that holds it",
    )
    api_base: str | None = Field(
        None, description="API root: Mastodon instance, Bluesky PDS, or a self-hosted server"
    )
    max_length: int | None = Field(None, ge=1, le=1_000_000, description="server limit (Mastodon)")
    url_length: int | None = Field(
        None, ge=1, le=1_000, description="characters one URL counts (Mastodon)"
    )
    visibility: str | None = Field(None, description="Mastodon: public, unlisted, private")
    evergreen_interval: EvergreenInterval | None = Field(
        None, description="re-share evergreen releases this often: 1h to 3650d"
    )
    timing: Literal["fixed", "learned"] = Field(
        "fixed",
        description="fixed: post as early as the windows allow; learned: in the slots where "
        "this channel's audience engages most (see `dissem insights`), inside the windows",
    )
    explore: float = Field(
        0.1,
        ge=0.0,
        le=0.5,
        description="with timing: learned, the share of ordinary posts that try other slots "
        "inside the windows so the model keeps learning: 0 to 0.5",
    )

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, v: str | None) -> str | None:
        return None if v is None else check_url(v, "API address")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)

    @field_validator("credentials")
    @classmethod
    def _creds(cls, v: dict[str, str]) -> dict[str, str]:
        for key, env in v.items():
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", env):
                raise ValueError(
                    f"credentials.{shown(key, 40)}: the value must be the NAME of an "
                    "environment variable (upper case letters, digits, _), never the secret "
                    "itself"
                )
        return v

    @model_validator(mode="after")
    def _windows_do_not_overlap(self) -> Channel:
        _check_no_overlap(tuple(self.windows))
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@functools.lru_cache(maxsize=4096)
def _check_no_overlap(windows: tuple[Window, ...]) -> None:
    """Raises ValueError when two windows overlap on a day; checked once per distinct set
    of windows (a set that passed is remembered, one that failed is checked again)."""
    for day in range(7):
        spans = sorted(
            (w.start_seconds(), w.end_seconds(), w.text) for w in windows if day in w.days
        )
        for (_, a_end, a_text), (b_start, _, b_text) in itertools.pairwise(spans):
            if b_start < a_end:
                raise ValueError(
                    f"windows {a_text!r} and {b_text!r} overlap on {DAY_NAMES[day]}; "
                    "merge them into one window"
                )


class ChannelsFile(Strict):
    """``channels.yaml``, or one file of the ``channels/`` folder (either key may be left
    out: a file may hold only groups, or only channels)."""

    channels: list[Channel] = Field(default_factory=list)
    groups: dict[str, list[str]] = Field(
        default_factory=dict, description="group name -> channel or group names"
    )


class Image(Strict):
    src: str = Field(
        description="public URL (https://...) or a path relative to config/", min_length=1
    )
    alt: str = Field("", description="alt text, read by screen readers")

    @field_validator("src")
    @classmethod
    def _src(cls, v: str) -> str:
        if v.lower().startswith(("http://", "https://")):
            return check_url(v, "image URL")
        if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in v):
            raise ValueError(
                f"image path {shown(v)} holds control characters; write a file name or a URL"
            )
        return v


class Translation(Strict):
    title: str | None = None
    summary: str | None = None
    body: str | None = None


class Override(Strict):
    """Per-platform or per-channel changes written in a release."""

    text: str | None = Field(None, description="replaces the rendered text (a template)")
    title: str | None = None
    summary: str | None = None
    hashtags: list[str] | None = None
    thread: bool | None = None
    content_warning: str | None = None
    skip: bool = Field(False, description="do not post this release there")


def _aware(value: datetime | None, info: ValidationInfo) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    tz = (info.context or {}).get("timezone", "Asia/Jakarta")
    return value.replace(tzinfo=ZoneInfo(tz))


def _in_range(value: datetime | None, name: str) -> datetime | None:
    """``value`` if it lies from EARLIEST to LATEST (in UTC), else ValueError."""
    if value is None:
        return None
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(
            f"{name} {value.isoformat()} is out of range; "
            "write a time from 2000-01-01 to 2999-12-31"
        )
    return value


class Release(Strict):
    """One release (article, statement) to disseminate."""

    id: str = Field(description="defaults to the file name without extension")
    title: str = Field(min_length=1)
    summary: str = ""
    body: str = ""
    url: str = Field(description="the article on the portal (https://...)")
    language: str = "en"
    translations: dict[str, Translation] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    image: Image | None = None
    targets: list[str] = Field(min_length=1, description="channel and group names")
    priority: Literal["normal", "breaking", "evergreen"] = "normal"
    not_before: datetime | None = Field(
        None,
        description="embargo; naive times are DISSEM_TIMEZONE; from 2000-01-01 to 2999-12-31",
    )
    expires: datetime | None = Field(None, description="from 2000-01-01 to 2999-12-31")
    status: Literal["draft", "approved", "withdrawn"] = "draft"
    approved_by: str | None = None
    thread: bool | None = Field(None, description="split into numbered parts where allowed")
    content_warning: str | None = Field(None, description="Mastodon content warning")
    overrides: dict[str, Override] = Field(
        default_factory=dict, description="platform or channel name -> changes"
    )

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", v):
            raise ValueError(f"{shown(v)} is not a valid id; use letters, digits, '.', '_' or '-'")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+\.[^\s]+$", v):
            raise ValueError(f"{shown(v)} is not an http(s) URL; write the full article address")
        return check_url(v)

    @field_validator("not_before", "expires")
    @classmethod
    def _tz_aware(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        return _in_range(_aware(v, info), info.field_name or "time")

    @model_validator(mode="after")
    def _consistent(self) -> Release:
        if self.not_before and self.expires and self.expires <= self.not_before:
            raise ValueError("expires is not after not_before (the embargo); fix one of them")
        if self.status == "approved" and not self.approved_by:
            raise ValueError("status is approved but approved_by is empty; name who approved it")
        return self


MaxAge = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    _within(_HOUR, 365 * _DAY),
    _duration_schema(_HOUR, 365 * _DAY),
]


class FeedRule(Strict):
    """Routes a feed's items: an item matches when every kind of condition given here has a
    match (any of the categories, any of the keywords, any of the URL patterns); then it
    goes to ``targets`` (instead of the feed's) and/or gets ``priority``."""

    categories: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=200, description="item categories (any; case ignored)"
    )
    keywords: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=200,
        description="words or phrases in the title or summary (any; case ignored)",
    )
    urls: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list,
        max_length=200,
        description="URL patterns with * wildcards, e.g. https://portal.example/economy/*",
    )
    targets: list[str] = Field(
        default_factory=list, max_length=1000, description="channels and groups (default: feed's)"
    )
    priority: Literal["normal", "breaking", "evergreen"] | None = None

    @model_validator(mode="after")
    def _matches_something(self) -> FeedRule:
        if not (self.categories or self.keywords or self.urls):
            raise ValueError("a rule needs categories, keywords or urls to match")
        if not self.targets and self.priority is None:
            raise ValueError("a rule needs targets or a priority")
        return self


class Feed(Strict):
    """One RSS/Atom feed of the portal: its items become releases (:mod:`dissem.feeds`)."""

    name: Name = Field(description="unique, lower-case: letters, digits, . _ -", max_length=64)
    url: str = Field(description="the RSS or Atom feed (http or https; checked by validate)")
    targets: list[str] = Field(min_length=1)
    language: str = "en"
    priority: Literal["normal", "breaking", "evergreen"] = "normal"
    status: Literal["draft", "approved"] = Field(
        "draft", description="draft: items wait for `dissem approve`; approved: they go out"
    )
    approved_by: str | None = Field(None, description="who approved posting without review")
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    poll_interval: PollInterval = Field(
        timedelta(minutes=10), description="how often the feed is read: 1m to 30d"
    )
    rules: list[FeedRule] = Field(
        default_factory=list, max_length=200, description="routing by category, keyword, URL"
    )
    breaking_keywords: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=200,
        description="words in the title or summary that make an item breaking",
    )
    cap_per_hour: int | None = Field(
        20, ge=1, le=10_000, description="most items posted per hour; null: no cap"
    )
    max_age: MaxAge = Field(
        timedelta(hours=48), description="older items are held, not posted: 1h to 365d"
    )
    fetch_article: bool = Field(
        True, description="read each new article's page for og:image and its canonical link"
    )


class FeedsFile(Strict):
    """``feeds.yaml``."""

    feeds: list[Feed] = Field(default_factory=list)


@dataclass
class LoadedRelease:
    release: Release
    path: Path
    content_hash: str


@dataclass
class LoadedConfig:
    """Everything read from a config folder, plus every problem found on the way."""

    root: Path
    channels: dict[str, Channel] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)  # expanded to channel names
    releases: list[LoadedRelease] = field(default_factory=list)
    feeds: list[Feed] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    broken_release_ids: set[str] = field(default_factory=set)  # files present but invalid
    # channels written in channels.yaml or channels/ but invalid (left out of ``channels``);
    # sync should leave what it stored for them untouched rather than treat them as removed
    broken_channel_names: set[str] = field(default_factory=set)
    # the releases folder could not be read: every stored release is to be kept as it is
    # (a missing folder is never "all releases deleted")
    releases_unreadable: bool = False
    # a channel file (or the channels/ folder) could not be read at all: the channels it
    # holds are unknown, so no stored channel is taken as removed until it can be read
    channels_incomplete: bool = False

    def targets_of(self, release: Release) -> list[str]:
        """Channel names a release targets (groups expanded, order kept, no duplicates)."""
        out: list[str] = []
        for t in release.targets:
            for name in self.groups.get(t, [t]):
                if name in self.channels and name not in out:
                    out.append(name)
        return out
