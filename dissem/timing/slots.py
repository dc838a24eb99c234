"""Coarse local-time slots: weekday or weekend, by blocks of a few hours.

A post's slot is read from the local clock of its channel at the moment it went out:
Monday to Friday is ``weekday``, Saturday and Sunday ``weekend``; the day is cut into
``block_hours`` blocks (2, 3, 4, 6 or 8 hours, so that blocks tile the day). Coarse on
purpose: a small account posts a few times a week, and sixteen slots already ask for
months of history before any of them says something clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from dissem.config.models import DAY_NAMES, Window

__all__ = [
    "BLOCK_HOURS",
    "DEFAULT_BLOCK_HOURS",
    "Slot",
    "all_slots",
    "slot_of",
    "window_hours_in",
    "windows_in_slot",
]

#: block sizes that tile a day
BLOCK_HOURS: tuple[int, ...] = (2, 3, 4, 6, 8)
DEFAULT_BLOCK_HOURS = 3
WEEKDAYS = frozenset(range(5))
WEEKEND = frozenset((5, 6))


@dataclass(frozen=True, order=True)
class Slot:
    """One slot: weekend or not, and the block ``[start_hour, start_hour + hours)``."""

    weekend: bool
    start_hour: int
    hours: int

    @property
    def end_hour(self) -> int:
        return self.start_hour + self.hours

    @property
    def days(self) -> frozenset[int]:
        """The weekdays (0=Monday) this slot covers."""
        return WEEKEND if self.weekend else WEEKDAYS

    @property
    def key(self) -> str:
        """Stable short name, e.g. ``weekday-09`` (used in JSON and HTML attributes)."""
        return f"{'weekend' if self.weekend else 'weekday'}-{self.start_hour:02d}"

    @property
    def label(self) -> str:
        """Plain words, e.g. ``weekdays 09:00-12:00``."""
        part = "weekends" if self.weekend else "weekdays"
        return f"{part} {self.start_hour:02d}:00-{self.end_hour:02d}:00"

    def window(self) -> Window:
        """The slot as a posting window (``mon-fri 09:00-12:00``)."""
        names = "sat,sun" if self.weekend else "mon-fri"
        return Window.parse(f"{names} {self.start_hour:02d}:00-{self.end_hour:02d}:00")


def _check(block_hours: int) -> None:
    if block_hours not in BLOCK_HOURS:
        raise ValueError(f"block_hours must be one of {BLOCK_HOURS}, got {block_hours}")


def all_slots(block_hours: int = DEFAULT_BLOCK_HOURS) -> list[Slot]:
    """Every slot, weekdays first, each part of the week in clock order."""
    _check(block_hours)
    return [
        Slot(weekend, start, block_hours)
        for weekend in (False, True)
        for start in range(0, 24, block_hours)
    ]


def slot_of(instant: datetime, zone: ZoneInfo, block_hours: int = DEFAULT_BLOCK_HOURS) -> Slot:
    """The slot of an aware ``instant`` on the local clock of ``zone``."""
    _check(block_hours)
    if instant.tzinfo is None:
        raise ValueError(f"instant must be time-zone aware, got naive {instant.isoformat()}")
    local = instant.astimezone(zone)
    start = local.hour // block_hours * block_hours
    return Slot(local.weekday() >= 5, start, block_hours)


def _seconds(t: time | None) -> int:
    return 86400 if t is None else t.hour * 3600 + t.minute * 60


def windows_in_slot(windows: list[Window], slot: Slot) -> list[Window]:
    """The parts of ``windows`` that fall inside ``slot`` (local days and hours), as windows.

    Every instant of the result lies in one of ``windows`` and in ``slot``: planning inside
    it can never leave the channel's windows.
    """
    out: list[Window] = []
    lo, hi = slot.start_hour * 3600, slot.end_hour * 3600
    for w in windows:
        days = w.days & slot.days
        start, end = max(_seconds(w.start), lo), min(_seconds(w.end), hi)
        if not days or start >= end:
            continue
        start_t = time(start // 3600, start % 3600 // 60)
        end_t = None if end == 86400 else time(end // 3600, end % 3600 // 60)
        names = ",".join(DAY_NAMES[d] for d in sorted(days))
        end_text = "24:00" if end_t is None else end_t.strftime("%H:%M")
        text = f"{names} {start_t.strftime('%H:%M')}-{end_text}"
        out.append(Window(days=frozenset(days), start=start_t, end=end_t, text=text))
    return out


def window_hours_in(windows: list[Window], slot: Slot) -> float:
    """Hours per week that ``windows`` are open inside ``slot``."""
    return sum(
        len(w.days) * (_seconds(w.end) - _seconds(w.start)) / 3600.0
        for w in windows_in_slot(windows, slot)
    )
