"""Which backups to keep: grandfather-father-son, as a pure function of the history.

For each tier (hourly, daily, weekly, monthly) the newest verified snapshot of each of the last
N periods that have one is kept; so is the newest verified snapshot, always. Unverified
snapshots are never kept: a snapshot that failed its check restores nothing. Periods are UTC
hours, UTC days, ISO weeks and calendar months.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from fichas.settings import Settings

Period = tuple[int, ...]  # comparable, so periods sort newest first


@dataclass(frozen=True)
class Policy:
    hourly: int = 24
    daily: int = 14
    weekly: int = 8
    monthly: int = 12

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            settings.backup_keep_hourly,
            settings.backup_keep_daily,
            settings.backup_keep_weekly,
            settings.backup_keep_monthly,
        )

    def tiers(self) -> list[tuple[int, Callable[[datetime], Period]]]:
        return [(self.hourly, hour), (self.daily, day), (self.weekly, week), (self.monthly, month)]


@dataclass(frozen=True)
class Snapshot:
    """What retention needs to know of a backup."""

    id: str
    taken_at: datetime
    verified: bool


def hour(at: datetime) -> Period:
    return (at.year, at.month, at.day, at.hour)


def day(at: datetime) -> Period:
    return (at.year, at.month, at.day)


def week(at: datetime) -> Period:
    return tuple(at.isocalendar())[:2]


def month(at: datetime) -> Period:
    return (at.year, at.month)


def newest_per_period(
    snapshots: Iterable[Snapshot], period: Callable[[datetime], Period]
) -> list[Snapshot]:
    """The newest snapshot of each period, newest period first."""
    chosen: dict[Period, Snapshot] = {}
    for snapshot in sorted(snapshots, key=lambda s: (s.taken_at, s.id), reverse=True):
        chosen.setdefault(period(snapshot.taken_at), snapshot)
    return list(chosen.values())  # dicts keep insertion order: newest first


def kept(snapshots: Iterable[Snapshot], policy: Policy) -> set[str]:
    """The ids to keep; every other backup may be deleted."""
    verified = [s for s in snapshots if s.verified]
    if not verified:
        return set()
    keep = {max(verified, key=lambda s: (s.taken_at, s.id)).id}
    for count, period in policy.tiers():
        keep.update(s.id for s in newest_per_period(verified, period)[:count])
    return keep
