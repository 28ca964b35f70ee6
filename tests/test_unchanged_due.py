"""The moment a table's empty plan may change: before it, every plan of the table is empty
too, whatever the key's type, the step, the retention and the zone (DST included)."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sqla_partition.catalog.snapshot import Child, Parent
from sqla_partition.cron.unchanged import MARGIN, due_at
from sqla_partition.declaration.policies import Range, TablePolicy
from sqla_partition.errors import PolicyError
from sqla_partition.planning.positions import position_from_clock, retention_cutoff
from sqla_partition.planning.roll import plan

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
INTERVALS = ["1 hour", "6 hours", "1 day", "1 week", "1 month", "3 months"]
RETENTIONS = [None, "30 hours", "10 days", "40 days", "3 months", "1 year"]
#: (the key's type, the policy's epoch): a time column of each kind, and milliseconds
KEYS = [("timestamptz", None), ("timestamp", None), ("date", None), ("integer", "milliseconds")]

instants = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=dt.timezone.utc)
)


def _earlier(value):
    if isinstance(value, dt.datetime):
        return value - dt.timedelta(microseconds=1)
    if isinstance(value, dt.date):
        return value - dt.timedelta(days=1)
    return value - 1


def _table(policy: TablePolicy, now: dt.datetime, behind: int) -> Parent:
    """The partitions a roll at ``now`` leaves: from ``behind`` periods back (those still
    inside retention) to premake ahead."""
    stepper = policy.stepper()
    position = position_from_clock(policy, now)
    current = stepper.period_of(position)
    periods = [current]
    for _ in range(behind):
        periods.insert(0, stepper.period_of(_earlier(periods[0].lower)))
    assert isinstance(policy.policy, Range)
    for _ in range(policy.policy.premake):
        periods.append(stepper.following(periods[-1]))
    cutoff = retention_cutoff(policy, position)
    kept = [p for p in periods if cutoff is None or not p.upper <= cutoff]
    children = tuple(
        Child(f"t_{p.suffix}", "public", f"FOR VALUES FROM ({p.lower}) TO ({p.upper})", False,
              p.lower, p.upper)
        for p in kept
    )  # fmt: skip
    return Parent(
        "public", "t", "range", (policy.policy.column,), policy.key_type, children, policy
    )


@given(
    now=instants,
    later=st.floats(min_value=0, max_value=1, exclude_max=True),
    interval=st.sampled_from(INTERVALS),
    retention=st.sampled_from(RETENTIONS),
    zone=st.sampled_from(ZONES),
    key=st.sampled_from(KEYS),
    premake=st.integers(1, 3),
    behind=st.integers(0, 4),
)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_plan_before_the_due_moment_is_as_empty_as_the_first(
    now, later, interval, retention, zone, key, premake, behind
):
    key_type, epoch = key
    assume(key_type != "date" or "hour" not in interval)
    try:
        declared = Range(
            "at", interval=interval, premake=premake, retention=retention, timezone=zone,
            epoch=epoch,
        )  # fmt: skip
    except PolicyError:  # a combination the declaration refuses
        assume(False)
    policy = TablePolicy("t", declared, key_type)
    parent = _table(policy, now, behind)
    at_now = plan(policy, parent, position_from_clock(policy, now), owned=None)
    assume(not at_now.steps and not at_now.notes)
    due = due_at(parent, now)
    if due is None:
        return
    assert now < due
    for moment in (now + (due - now) * later, due - dt.timedelta(microseconds=1)):
        then = plan(policy, parent, position_from_clock(policy, moment), owned=None)
        assert not then.steps, (moment, [s.kind + " " + s.partition for s in then.steps])
        assert not then.notes, (moment, then.notes)


@given(now=instants, zone=st.sampled_from(ZONES))
@settings(max_examples=200, deadline=None)
def test_a_monthly_table_is_left_alone_until_hours_before_its_month_ends(now, zone):
    """Not a moment that merely stays safe by being near: for a month with no retention,
    the due moment is the month's end less the margin (what makes skipping worth it)."""
    policy = TablePolicy("t", Range("at", premake=2, timezone=zone), "timestamptz")
    parent = _table(policy, now, 1)
    current = policy.stepper().period_of(position_from_clock(policy, now))
    due = due_at(parent, now)
    if current.upper - MARGIN <= now:
        assert due is None
    else:
        assert due == current.upper - MARGIN
