"""``dissem insights [CHANNEL]``: when each channel's audience engages, in numbers and words.

Reads the metric history (no config folder needed: channels as last synced) and prints,
per channel, each slot's estimate, count and interval, and the recommendation
(:mod:`dissem.timing`). The explanation is written for a manager, not a statistician.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from dissem.clock import utcnow
from dissem.settings import get_settings
from dissem.store.open import open_store

if TYPE_CHECKING:
    from dissem.timing import ChannelTiming


@click.command()
@click.argument("channel", required=False)
@click.option("--all-slots", is_flag=True, help="also list slots with no posts outside the windows")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
def insights(channel: str | None, all_slots: bool, as_json: bool) -> None:
    """Show when CHANNEL's audience engages (every channel without CHANNEL).

    Each slot (weekdays or weekends, three-hour blocks of local time) shows how posts there
    did against posting anywhere in the windows: the estimated lift, its 90 % interval, how
    many posts it rests on, and the chance the lift is at least +10 %. A channel with
    `timing: learned` posts in the recommended slot; without a recommendation its windows
    stand. Exit 1 when CHANNEL is unknown.
    """
    from dissem.timing.history import timing_for

    settings = get_settings()
    engine, factory = open_store(settings, read_only=True)
    try:
        with factory() as session:
            fitted = timing_for(session, utcnow(), None if channel is None else [channel])
    finally:
        engine.dispose()
    if channel is not None and channel not in fitted:
        raise click.ClickException(f"no channel {channel!r} in the database; run `dissem sync`")
    if as_json:
        click.echo(json.dumps([_as_json(t) for t in fitted.values()], indent=2))
        return
    if not fitted:
        click.echo("no channels yet; run `dissem sync`")
    for timing in fitted.values():
        _show(timing, all_slots)


def _pct(x: float) -> str:
    return f"{x * 100:+.0f}%"


def _show(timing: ChannelTiming, all_slots: bool) -> None:
    p = timing.params
    click.echo(
        f"{timing.channel} ({timing.group}, {timing.timezone}): {timing.posts} measured posts, "
        f"engagement {timing.measure} at {int(p.age.total_seconds() // 3600)} h"
    )
    click.echo(f"  {'slot':<26}{'posts':>6}{'lift':>8}  {'90% interval':<16}{'P(>=+10%)':>10}")
    for e in timing.slots:
        if not (e.in_windows or e.count or all_slots):
            continue
        mark = (
            " <- recommended"
            if timing.best == e.slot
            else (" (also clear)" if e.recommended else "")
        )
        where = "" if e.in_windows else " [outside windows]"
        click.echo(
            f"  {e.slot.label:<26}{e.count:>6}{_pct(e.lift):>8}  "
            f"{_pct(e.low) + ' to ' + _pct(e.high):<16}{e.p_clear:>10.0%}{mark}{where}"
        )
    click.echo(f"  In plain words: {timing.reason}.")
    click.echo(
        "  (Each slot is compared with posting anywhere in the windows; slots with few posts "
        "lean on channels of the same platform and region.)"
    )
    click.echo("")


def _as_json(timing: ChannelTiming) -> dict[str, Any]:
    return {
        "channel": timing.channel,
        "group": timing.group,
        "timezone": timing.timezone,
        "measure": timing.measure,
        "posts": timing.posts,
        "recommended": [s.key for s in timing.recommended],
        "reason": timing.reason,
        "slots": [
            {
                "slot": e.slot.key,
                "label": e.slot.label,
                "posts": e.count,
                "lift": round(e.lift, 4),
                "low": round(e.low, 4),
                "high": round(e.high, 4),
                "p_clear": round(e.p_clear, 4),
                "p_best": round(e.p_top, 4),
                "own_weight": round(e.own_weight, 4),
                "in_windows": e.in_windows,
                "recommended": e.recommended,
            }
            for e in timing.slots
        ],
    }
