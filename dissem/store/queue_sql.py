"""The queue's SQL, built once (SQLAlchemy Core with bind parameters).

Building statements from ORM attributes on every call cost more than running them: a
profile of dispatch spent three quarters of its time there. These are built at import and
executed with parameters; SQLAlchemy caches their compiled form.

Bind parameters: ``now``, ``limit``, ``worker``, ``lease_expires``, ``ids`` (a list), and
the ``b_*`` ones of :data:`WRITE_OUTCOME` (one set per post, executemany). Statements that
take lists differ per dialect (:func:`by_ids`).

Statements that change ``posts.state`` take the states they start from and the state they
set from the lifecycle table (:mod:`dissem.lifecycle`), never from names of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    JSON,
    Connection,
    Integer,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    column,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from dissem import lifecycle
from dissem.lifecycle import Event
from dissem.store.models import Attempt, ChannelRow, Post, PostState, UtcDateTime

posts = cast(Table, Post.__table__)
channels = cast(Table, ChannelRow.__table__)
attempts = cast(Table, Attempt.__table__)

SCHEDULED = PostState.SCHEDULED
PUBLISHING = PostState.PUBLISHING
PUBLISHED = PostState.PUBLISHED
UNCONFIRMED = PostState.UNCONFIRMED


def _from(column: ColumnElement[Any], event: Event) -> ColumnElement[bool]:
    """``column`` (a post's state) is one ``event`` may move a post from, as the lifecycle
    table says (``=`` for one state: the same SQL as a literal comparison)."""
    states = [s.value for s in lifecycle.sources(event)]
    return column == states[0] if len(states) == 1 else column.in_(states)


def _to(event: Event) -> str:
    """The state ``event`` sets, as the lifecycle table says."""
    return lifecycle.target(event).value


#: the events a publishing worker's outcome may be (settled by :data:`SETTLE_HELD` and
#: ``held``); reconcile's decisions go through :data:`UNDECIDED`
SETTLE_EVENTS: tuple[Event, ...] = tuple(
    row.event
    for row in lifecycle.TABLE
    if row.by == "dispatch" and row.label is not None and row.event != Event.LEASE_EXPIRED
)
#: the events of reconcile's decisions
RECONCILE_EVENTS: tuple[Event, ...] = tuple(
    row.event for row in lifecycle.TABLE if row.by == "reconcile"
)


def _source_states(events: tuple[Event, ...]) -> list[str]:
    """Every state one of ``events`` may start from, in lifecycle order."""
    found = {s for e in events for s in lifecycle.sources(e)}
    return [s.value for s in PostState if s in found]


def _now() -> BindParameter[object]:
    return bindparam("now", type_=UtcDateTime())


def _unindexed(column: ColumnElement[str]) -> ColumnElement[str]:
    """``column || ''``: the same value, but no index on ``column`` can serve a comparison.

    For statements that pick rows by id and only check their state: without statistics,
    SQLite guesses ``state = ?`` on ix_posts_state_due narrower than ``id IN (...)`` and
    walks every scheduled post (thousands) instead of looking up a dozen ids.
    """
    return column.concat("")


#: a pause with no known end (expired credentials): lifted by a person or a config change
PAUSED_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


#: the earliest due time of any scheduled post (one probe of ix_posts_state_due)
EARLIEST_DUE = select(func.min(posts.c.due_at)).where(posts.c.state == SCHEDULED)

_busy = select(posts.c.channel).where(posts.c.state == PUBLISHING, posts.c.lease_expires > _now())


def _first_claimable_of(channel: ColumnElement[str]) -> Any:
    """The earliest due post of ``channel`` whose thread predecessor is out (a SELECT of
    its id, correlated on ``channel``, not yet made a subquery)."""
    p = posts.alias("p")
    prev = posts.alias("prev")
    predecessor_out = exists().where(
        prev.c.release_id == p.c.release_id,
        prev.c.channel == p.c.channel,
        prev.c.seq == p.c.seq,
        prev.c.part_index == p.c.part_index - 1,
        prev.c.state == PUBLISHED,
    )
    return (
        select(p.c.id)
        .where(
            p.c.channel == channel,
            p.c.state == SCHEDULED,
            p.c.due_at <= _now(),
            or_(p.c.part_index <= 1, predecessor_out),
        )
        .order_by(p.c.due_at, p.c.id)
        .limit(1)
    )


_first_due = (
    select(func.min(posts.c.due_at))
    .where(posts.c.channel == channels.c.name, posts.c.state == SCHEDULED)
    .scalar_subquery()
)
# "Has a due post" as "its first due time has come": one probe of the end of
# ix_posts_channel_state_due per channel. As EXISTS (state = scheduled AND due_at <= now),
# PostgreSQL chose ix_posts_channel_state and read every scheduled post of every channel:
# 500 ms a claim with 300,000 posts scheduled over 1,000 channels.
_has_due = _first_due <= _now()

#: channels that may post now, each with its first claimable post (NULL when its due posts
#: all wait for an earlier thread part), oldest due first
CLAIMABLE = (
    select(
        channels.c.name,
        channels.c.config,
        channels.c.config_hash,
        _first_claimable_of(channels.c.name).scalar_subquery().label("post_id"),
    )
    .where(
        channels.c.enabled.is_(True),
        channels.c.removed.is_(False),
        or_(channels.c.paused_until.is_(None), channels.c.paused_until <= _now()),
        _has_due,
        channels.c.name.not_in(_busy),
    )
    .order_by(_first_due, channels.c.name)
    .limit(bindparam("limit", type_=Integer()))
)
#: PostgreSQL: the same, locking the channel rows; a channel another worker is claiming
#: from is skipped
CLAIMABLE_LOCKED = CLAIMABLE.with_for_update(skip_locked=True, of=channels)


# --- claiming from the head of the due index ---------------------------------------------
#
# CLAIMABLE looks at every channel (its first due time: one index probe each), so a claim
# round costs as much with 1,000 channels due as the channels are many: 28-57 ms on
# PostgreSQL with a million posts. A round needs a few channels, and the ones it wants are
# those whose first due post is oldest: the channels of the first due posts in
# ix_posts_state_due. DUE_HEAD reads that head (``window`` posts of open channels that are
# not busy), CLAIM_CHANNELS turns its channels into claims. Only when the window holds
# fewer claimable channels than wanted and was full (one channel's backlog can fill it) is
# CLAIMABLE asked instead.

_open = and_(
    channels.c.enabled.is_(True),
    channels.c.removed.is_(False),
    or_(channels.c.paused_until.is_(None), channels.c.paused_until <= _now()),
)
_busy_posts = posts.alias("busy")
_busy_channels = select(_busy_posts.c.channel).where(
    _busy_posts.c.state == PUBLISHING, _busy_posts.c.lease_expires > _now()
)
_head = (
    select(posts.c.channel, posts.c.due_at)
    .where(
        posts.c.state == SCHEDULED,
        posts.c.due_at <= _now(),
        # per post, one probe of the channel's primary key (PostgreSQL memoizes it)
        exists().where(channels.c.name == posts.c.channel, _open),
        posts.c.channel.not_in(_busy_channels),
    )
    .order_by(posts.c.due_at)
    .limit(bindparam("window", type_=Integer()))
    .subquery("head")
)
#: the channels of the first ``window`` due posts of open channels that are not busy, each
#: with its first due time and how many of the window's posts are its
DUE_HEAD = select(
    _head.c.channel,
    func.min(_head.c.due_at).label("first_due"),
    func.count().label("posts"),
).group_by(_head.c.channel)


#: SQLite: of channels ``names``, the open ones with their first claimable post (NULL when
#: their due posts all wait for an earlier thread part); the caller keeps the order
CLAIM_CHANNELS = select(
    channels.c.name,
    channels.c.config,
    channels.c.config_hash,
    _first_claimable_of(channels.c.name).scalar_subquery().label("post_id"),
).where(
    channels.c.name.in_(bindparam("names", expanding=True)),
    _open,
    channels.c.name.not_in(_busy_channels),
)

_names = (
    func.unnest(bindparam("names", type_=ARRAY(String())))
    .table_valued("name", with_ordinality="ord")
    .render_derived()
)
_first = _first_claimable_of(channels.c.name).lateral("first_post")
#: PostgreSQL: the first ``limit`` of channels ``names`` (in that order) that are open and
#: have a claimable post, with that post; their rows locked, a channel another worker is
#: claiming from skipped
CLAIM_CHANNELS_LOCKED = (
    select(channels.c.name, channels.c.config, channels.c.config_hash, _first.c.id.label("post_id"))
    .select_from(channels)
    .join(_names, _names.c.name == channels.c.name)
    .join(_first, true())
    # busy again, in this statement's snapshot: a channel another worker claimed (and
    # committed) since the head was read is passed over here, not taken, locked and then
    # refused by the claim (with eight workers reading the same head, often the first)
    .where(_open, channels.c.name.not_in(_busy_channels))
    .order_by(_names.c.ord)
    .limit(bindparam("limit", type_=Integer()))
    .with_for_update(skip_locked=True, of=channels)
)

_claimed_columns = (
    posts.c.id,
    posts.c.release_id,
    posts.c.channel,
    posts.c.platform,
    posts.c.seq,
    posts.c.part_index,
    posts.c.part_total,
    posts.c.idempotency_key,
    posts.c.text,
    posts.c.payload,
    posts.c.publish_state,
    posts.c.attempts,
    posts.c.due_at,
    posts.c.lease_owner,
    posts.c.lease_expires,
)
#: the published parts 1 and ``prev`` of one thread
THREAD_ANCHORS = select(
    posts.c.part_index, posts.c.remote_id, posts.c.remote_url, posts.c.remote_data
).where(
    posts.c.release_id == bindparam("release", type_=String()),
    posts.c.channel == bindparam("channel", type_=String()),
    posts.c.seq == bindparam("seq", type_=Integer()),
    posts.c.part_index.in_((1, bindparam("prev", type_=Integer()))),
    posts.c.state == PUBLISHED,
)

_held_columns = (
    posts.c.id,
    posts.c.channel,
    posts.c.release_id,
    posts.c.seq,
    posts.c.part_index,
    posts.c.state,
)
#: post ``id`` if reconcile may decide about it (unconfirmed) and it is unchanged since
#: ``seen`` (reconcile's guard)
UNDECIDED = select(*_held_columns).where(
    posts.c.id == bindparam("id", type_=Integer()),
    posts.c.state.in_(_source_states(RECONCILE_EVENTS)),
    posts.c.updated_at == bindparam("seen", type_=UtcDateTime()),
)


def _keep_unless(name: str, column: object, type_: object) -> object:
    """``COALESCE(:name, column)``: a NULL parameter leaves the column as it is."""
    return func.coalesce(bindparam(name, type_=type_), column)  # type: ignore[arg-type]


#: one outcome; executemany with one parameter set per post (rows already checked held)
WRITE_OUTCOME = (
    update(posts)
    .where(posts.c.id == bindparam("b_id", type_=Integer()))
    .values(
        state=bindparam("b_state", type_=String()),
        lease_owner=bindparam("b_owner", type_=String()),
        lease_expires=None,
        updated_at=bindparam("b_at", type_=UtcDateTime()),
        last_error=bindparam("b_error", type_=Text()),
        attempts=posts.c.attempts - bindparam("b_refund", type_=Integer()),
        due_at=_keep_unless("b_due", posts.c.due_at, UtcDateTime()),
        remote_id=_keep_unless("b_remote_id", posts.c.remote_id, String()),
        remote_url=_keep_unless("b_remote_url", posts.c.remote_url, Text()),
        remote_data=_keep_unless("b_remote_data", posts.c.remote_data, JSON(none_as_null=True)),
        published_at=_keep_unless("b_published_at", posts.c.published_at, UtcDateTime()),
        next_metrics_at=_keep_unless("b_metrics_at", posts.c.next_metrics_at, UtcDateTime()),
    )
)

INSERT_ATTEMPT = insert(attempts)


# --- settling in bulk (PostgreSQL) -----------------------------------------------------
#
# On PostgreSQL an executemany is a pipeline of one statement per row, each with its own
# parameters to adapt and result to read, and the held check was one statement more. Here
# each column is one array parameter, unnested into rows: one UPDATE checks and writes
# every outcome (returning the posts it wrote), one INSERT adds their attempts. The UPDATE
# locks each row and re-checks its WHERE on the row's latest version, as HELD FOR UPDATE
# followed by WRITE_OUTCOME did.

#: the columns of :data:`SETTLE_HELD`: parameter ``b_<name>`` is the list of one column
#: (:data:`WRITE_OUTCOME`'s parameters; ``remote_data`` as JSON text)
OUTCOME_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("id", Integer()),
    ("state", String()),
    ("event", String()),
    ("owner", String()),
    ("at", UtcDateTime()),
    ("error", Text()),
    ("refund", Integer()),
    ("due", UtcDateTime()),
    ("remote_id", String()),
    ("remote_url", Text()),
    ("remote_data", Text()),
    ("published_at", UtcDateTime()),
    ("metrics_at", UtcDateTime()),
)
#: the columns of :data:`INSERT_ATTEMPTS`: parameter ``a_<name>`` is the list of one column
ATTEMPT_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("post_id", Integer()),
    ("worker", String()),
    ("kind", String()),
    ("started_at", UtcDateTime()),
    ("finished_at", UtcDateTime()),
    ("outcome", String()),
    ("error", Text()),
    ("http_status", Integer()),
)


def _unnested(prefix: str, columns: tuple[tuple[str, Any], ...]) -> Any:
    """The rows of the array parameters ``<prefix>_<name>`` (``unnest(...) AS (names)``)."""
    arrays = [bindparam(f"{prefix}_{name}", type_=ARRAY(type_)) for name, type_ in columns]
    return (
        func.unnest(*arrays)
        .table_valued(*(column(name, type_) for name, type_ in columns))
        .render_derived()
    )


_v = _unnested("b", OUTCOME_COLUMNS)


def _event_allowed(state: ColumnElement[Any], event: ColumnElement[Any]) -> ColumnElement[bool]:
    """The outcome's ``event`` may leave the post's ``state``, per the lifecycle table:
    ``(state = s AND event IN (events from s)) OR ...`` over the states outcomes start
    from (publishing; unconfirmed for a late ``published``)."""
    return or_(
        *(
            and_(
                state == s,
                event.in_([e.value for e in SETTLE_EVENTS if lifecycle.allows(s, e)]),
            )
            for s in _source_states(SETTLE_EVENTS)
        )
    )


#: writes the outcomes of the posts ``worker`` still holds (as ``held`` defines it) whose
#: event the lifecycle table allows from the post's state, returning those posts
SETTLE_HELD = (
    update(posts)
    .where(
        posts.c.id == _v.c.id,
        posts.c.lease_owner == bindparam("worker", type_=String()),
        _event_allowed(posts.c.state, _v.c.event),
    )
    .values(
        state=_v.c.state,
        lease_owner=_v.c.owner,
        lease_expires=None,
        updated_at=_v.c.at,
        last_error=_v.c.error,
        attempts=posts.c.attempts - _v.c.refund,
        due_at=func.coalesce(_v.c.due, posts.c.due_at),
        remote_id=func.coalesce(_v.c.remote_id, posts.c.remote_id),
        remote_url=func.coalesce(_v.c.remote_url, posts.c.remote_url),
        remote_data=func.coalesce(sql_cast(_v.c.remote_data, JSON), posts.c.remote_data),
        published_at=func.coalesce(_v.c.published_at, posts.c.published_at),
        next_metrics_at=func.coalesce(_v.c.metrics_at, posts.c.next_metrics_at),
    )
    .returning(*_held_columns)
)
_a = _unnested("a", ATTEMPT_COLUMNS)
#: one attempt row per index of the ``a_*`` lists
INSERT_ATTEMPTS = insert(attempts).from_select(
    [name for name, _ in ATTEMPT_COLUMNS], select(*(_a.c[name] for name, _ in ATTEMPT_COLUMNS))
)

#: publishing posts whose lease ran out before ``now`` (with their claim time)
EXPIRED = select(posts.c.id, posts.c.lease_owner, posts.c.updated_at).where(
    _from(posts.c.state, Event.LEASE_EXPIRED), posts.c.lease_expires < _now()
)


# --- statements that take lists of ids, per dialect -------------------------------------


def _one_of(column: ColumnElement[Any], name: str, type_: Any, postgres: bool) -> Any:
    """``column`` is in the list parameter ``name``.

    PostgreSQL: ``= ANY(:name)``, one array parameter, so the statement's text is the same
    for every length and psycopg prepares it once; an expanding IN is re-rendered per call
    and never prepared. SQLite has no arrays: an expanding IN.
    """
    if postgres:
        return column == any_(bindparam(name, type_=ARRAY(type_)))
    return column.in_(bindparam(name, expanding=True))


@dataclass(frozen=True)
class ByIds:
    """The statements that take lists of ids (``ids``), for one dialect.

    ``owned``: of ``ids``, those ``worker`` holds the lease of, with their state (to log an
    outcome the lifecycle table refused). On PostgreSQL, ``held`` and ``undecided`` lock
    their rows (FOR UPDATE; SQLite's one
    writer holds the whole database). ``claim`` checks again that no other post of the
    channel is publishing: on PostgreSQL the channel rows were locked after the claimable
    query's snapshot, so a post another worker claimed and committed just before is
    visible only to a later statement.
    """

    claim: Any
    held: Any
    undecided: Any
    expire: Any
    owned: Any


def _by_ids(postgres: bool) -> ByIds:
    ids = _one_of(posts.c.id, "ids", Integer(), postgres)
    other = posts.alias("other")
    #: claims posts ``ids`` that are still scheduled and whose channel has no post
    #: publishing under a live lease, returning what a publish needs
    claim = (
        update(posts)
        .where(
            ids,
            _from(_unindexed(posts.c.state), Event.CLAIM),
            ~exists().where(
                other.c.channel == posts.c.channel,
                other.c.state == PUBLISHING,
                other.c.lease_expires > _now(),
            ),
        )
        .values(
            state=_to(Event.CLAIM),
            lease_owner=bindparam("worker", type_=String()),
            lease_expires=bindparam("lease_expires", type_=UtcDateTime()),
            attempts=posts.c.attempts + 1,
            updated_at=_now(),
        )
        .returning(*_claimed_columns)
    )
    owner = posts.c.lease_owner == bindparam("worker", type_=String())
    #: of ``ids``, the posts ``worker`` still holds in a state an outcome may leave
    #: (publishing; or unconfirmed after its lease ran out but not yet decided by
    #: reconcile, which only a ``published`` outcome may leave: checked per outcome)
    held = select(*_held_columns).where(
        ids, owner, posts.c.state.in_(_source_states(SETTLE_EVENTS))
    )
    owned = select(posts.c.id, posts.c.state).where(ids, owner)
    #: publishing posts ``ids`` whose lease ran out before ``now``
    expire = (
        update(posts)
        .where(ids, _from(posts.c.state, Event.LEASE_EXPIRED), posts.c.lease_expires < _now())
        .values(
            state=_to(Event.LEASE_EXPIRED),
            lease_expires=None,
            last_error="lease expired mid-publish (worker died or hung); look it up",
            updated_at=_now(),
        )
        .returning(posts.c.id)
    )
    if postgres:
        return ByIds(claim, held.with_for_update(), UNDECIDED.with_for_update(), expire, owned)
    return ByIds(claim, held, UNDECIDED, expire, owned)


_SQLITE = _by_ids(postgres=False)
_POSTGRES = _by_ids(postgres=True)


def by_ids(conn: Connection) -> ByIds:
    """The statements of ``conn``'s dialect."""
    return _POSTGRES if conn.dialect.name == "postgresql" else _SQLITE


# --- when to look again (next_due_at) ---------------------------------------------------

_open_channel = and_(
    ChannelRow.enabled.is_(True),
    ChannelRow.removed.is_(False),
    or_(ChannelRow.paused_until.is_(None), ChannelRow.paused_until <= _now()),
)
_earlier = posts.alias("earlier")
#: the previous part of a thread part is out or on its way out (another worker publishing
#: it); a part behind an unconfirmed, failed or not yet due part waits for reconcile, a
#: person or that part's own due time (NEXT_FUTURE), not for a busy channel
_predecessor_moving = exists().where(
    _earlier.c.release_id == posts.c.release_id,
    _earlier.c.channel == posts.c.channel,
    _earlier.c.seq == posts.c.seq,
    _earlier.c.part_index == posts.c.part_index - 1,
    _earlier.c.state.in_((PUBLISHED, PUBLISHING)),
)
#: a due post left after a dispatch round: it waits for a channel another worker is
#: publishing on (or for its thread's previous part, being published right now)
#: (the first such in due order: a walk of ix_posts_state_due from its start, each post's
#: channel looked up by key; as a join, SQLite with statistics scanned every channel and
#: probed its posts, 14 ms a round with nothing due at a million posts)
DUE_WAITING = (
    select(posts.c.id)
    .where(
        posts.c.state == SCHEDULED,
        posts.c.due_at <= _now(),
        exists().where(channels.c.name == posts.c.channel, _open),
        or_(posts.c.part_index <= 1, _predecessor_moving),
    )
    .order_by(posts.c.due_at)
    .limit(1)
)
# ORDER BY ... LIMIT 1 walks ix_posts_state_due in order and stops at the first post of an
# open channel (MIN() over a join would read them all).
NEXT_FUTURE = (
    select(Post.due_at)
    .join(ChannelRow, ChannelRow.name == Post.channel)
    .where(Post.state == PostState.SCHEDULED, Post.due_at > _now(), _open_channel)
    .order_by(Post.due_at)
    .limit(1)
)
NEXT_PAUSE_END = select(func.min(ChannelRow.paused_until)).where(
    ChannelRow.enabled.is_(True),
    ChannelRow.removed.is_(False),
    ChannelRow.paused_until > _now(),
    ChannelRow.paused_until < PAUSED_FOREVER,
    exists().where(Post.channel == ChannelRow.name, Post.state == PostState.SCHEDULED),
)
