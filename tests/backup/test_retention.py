"""Retention (grandfather-father-son) over random histories: the kept set is exactly what the
rules pick, always holds the newest verified snapshot, and pruning twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from backup.retention import Policy, Snapshot, day, hour, kept, month, newest_per_period, week

START = datetime(2025, 1, 1, tzinfo=UTC)

histories = st.lists(
    st.builds(
        lambda n, minutes, verified: Snapshot(
            f"b{n}", START + timedelta(minutes=minutes), verified
        ),
        st.integers(0, 10**9),
        st.integers(0, 60 * 24 * 800),  # two years and more
        st.booleans(),
    ),
    max_size=80,
    unique_by=lambda s: s.id,
)
policies = st.builds(
    Policy, st.integers(0, 30), st.integers(0, 20), st.integers(0, 10), st.integers(0, 15)
)


def _newest(snapshots: list[Snapshot]) -> Snapshot:
    return max(snapshots, key=lambda s: (s.taken_at, s.id))


@given(histories, policies)
def test_the_kept_set_follows_the_rules(history: list[Snapshot], policy: Policy) -> None:
    keep = kept(history, policy)
    verified = [s for s in history if s.verified]
    assert keep <= {s.id for s in verified}, "an unverified snapshot was kept"
    if verified:
        assert _newest(verified).id in keep
    justified = {_newest(verified).id} if verified else set()
    for count, period in policy.tiers():
        periods = sorted({period(s.taken_at) for s in verified}, reverse=True)[:count]
        for key in periods:
            # each of the tier's last N periods keeps its newest snapshot...
            newest = _newest([s for s in verified if period(s.taken_at) == key])
            assert newest.id in keep
            justified.add(newest.id)
    assert keep == justified, "a snapshot was kept that no rule asks for"


@given(histories, policies)
def test_pruning_again_keeps_the_same(history: list[Snapshot], policy: Policy) -> None:
    keep = kept(history, policy)
    assert kept([s for s in history if s.id in keep], policy) == keep


def test_a_year_of_hourly_backups_with_the_defaults() -> None:
    hourly = [Snapshot(f"h{n}", START + timedelta(hours=n), True) for n in range(24 * 365)]
    keep = kept(hourly, Policy())
    newest = hourly[-1].taken_at
    assert hourly[-1].id in keep
    # 24 hourly (all of Wed 31 Dec 2025) + 13 more days + 5 more weeks (this one and the
    # Sundays 21 and 28 Dec are already in) + 10 more months (December; 30 Nov is a week's end).
    assert len(keep) == 24 + 13 + 5 + 10
    oldest = min(s.taken_at for s in hourly if s.id in keep)
    assert newest - oldest > timedelta(days=300)  # the monthly tier reaches back a year


def test_period_keys() -> None:
    at = datetime(2026, 1, 1, 13, 5, tzinfo=UTC)  # a Thursday of ISO week 1
    assert hour(at) == (2026, 1, 1, 13)
    assert day(at) == (2026, 1, 1)
    assert week(at) == (2026, 1)
    assert month(at) == (2026, 1)
    same_hour = [Snapshot("a", at, True), Snapshot("b", at + timedelta(minutes=30), True)]
    assert newest_per_period(same_hour, hour) == [same_hour[1]]


def test_nothing_verified_keeps_nothing() -> None:
    assert kept([Snapshot("a", START, False)], Policy()) == set()
