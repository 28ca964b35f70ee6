"""Period arithmetic: no gaps, no overlaps, every instant in exactly one period."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqla_partition.declaration.periods import (
    NAMINGS,
    CalendarStep,
    Stepper,
    floor_date,
    local_midnight,
    parse_step,
    shift_date,
    subtract,
)
from sqla_partition.errors import PolicyError

UTC = dt.timezone.utc
STEPS = [
    CalendarStep(1, "day"),
    CalendarStep(1, "week"),
    CalendarStep(1, "month"),
    CalendarStep(3, "month"),
    CalendarStep(1, "year"),
]
# Zones with DST, half-hour offsets, a midnight DST switch (Havana, Santiago) and no DST.
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Havana",
    "America/Santiago",
    "Pacific/Chatham",
]

instants = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(instant=instants, step=st.sampled_from(STEPS), zone=st.sampled_from(ZONES))
@settings(max_examples=400, deadline=None)
def test_every_instant_falls_in_its_period(instant, step, zone):
    s = Stepper("timestamptz", step, zone)
    period = s.period_of(instant)
    assert period.lower <= instant < period.upper
    # the neighbours do not contain it: exactly one period holds each instant
    assert not s.following(period).contains(instant)
    assert not s.following(period, -1).contains(instant)


@given(
    instant=instants,
    step=st.sampled_from(STEPS),
    zone=st.sampled_from(ZONES),
    count=st.integers(min_value=2, max_value=30),
)
@settings(max_examples=300, deadline=None)
def test_consecutive_periods_leave_no_gap_and_no_overlap(instant, step, zone, count):
    s = Stepper("timestamptz", step, zone)
    series = s.series(s.period_of(instant), count)
    for a, b in zip(series, series[1:], strict=False):
        assert a.upper == b.lower
        assert a.lower < a.upper
        assert a.suffix < b.suffix  # names sort in time order
    assert len({p.suffix for p in series}) == count


@given(instant=instants, step=st.sampled_from(STEPS), zone=st.sampled_from(ZONES))
@settings(max_examples=300, deadline=None)
def test_boundaries_are_local_midnights(instant, step, zone):
    s = Stepper("timestamptz", step, zone)
    period = s.period_of(instant)
    local = period.lower.astimezone(ZoneInfo(zone))
    day = local.date()
    assert period.lower == local_midnight(day, ZoneInfo(zone))
    assert floor_date(day, step) == day


@given(
    value=st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    step=st.sampled_from(STEPS),
)
@settings(max_examples=200, deadline=None)
def test_naive_timestamps_and_dates(value, step):
    ts = Stepper("timestamp", step)
    p = ts.period_of(value)
    assert p.lower <= value < p.upper and p.lower.tzinfo is None
    ds = Stepper("date", step)
    q = ds.period_of(value.date())
    assert q.lower <= value.date() < q.upper
    assert ds.following(q).lower == q.upper


@given(
    value=st.integers(min_value=-(2**62), max_value=2**62),
    width=st.integers(min_value=1, max_value=10**12),
)
def test_integer_ranges(value, width):
    s = Stepper("integer", width)
    p = s.period_of(value)
    assert p.lower <= value < p.upper
    assert s.following(p).lower == p.upper
    assert p.upper - p.lower == width


def test_integer_names_sort_for_non_negative_keys():
    s = Stepper("integer", 1_000_000)
    names = [p.suffix for p in s.series(s.period_of(0), 50)]
    assert names == sorted(names)
    assert names[1] == "p0001000000"


@pytest.mark.parametrize(
    ("zone", "day", "expected_utc"),
    [
        # Europe/Berlin: DST ends 2026-10-25, so November starts at UTC+1
        ("Europe/Berlin", dt.date(2026, 11, 1), dt.datetime(2026, 10, 31, 23, tzinfo=UTC)),
        ("Europe/Berlin", dt.date(2026, 4, 1), dt.datetime(2026, 3, 31, 22, tzinfo=UTC)),
        # America/Santiago: clocks jump from 00:00 to 01:00 on 2026-09-06; the day starts at
        # the end of the gap, 01:00 local (04:00 UTC)
        ("America/Santiago", dt.date(2026, 9, 6), dt.datetime(2026, 9, 6, 4, tzinfo=UTC)),
    ],
)
def test_dst_midnights(zone, day, expected_utc):
    assert local_midnight(day, ZoneInfo(zone)) == expected_utc


def test_month_ends_leap_days_and_2038():
    s = Stepper("timestamptz", CalendarStep(1, "month"))
    feb = s.period_of(dt.datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC))
    assert (feb.lower.day, feb.upper.month, feb.suffix) == (1, 3, "p2028_02")
    after = s.period_of(dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC))
    assert after.suffix == "p2038_01" and after.upper == dt.datetime(2038, 2, 1, tzinfo=UTC)
    q = Stepper("timestamptz", CalendarStep(3, "month")).period_of(
        dt.datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    )
    assert q.suffix == "p2026_q4" and q.upper == dt.datetime(2027, 1, 1, tzinfo=UTC)
    w = Stepper("date", CalendarStep(1, "week")).period_of(dt.date(2026, 11, 27))
    assert w.lower == dt.date(2026, 11, 23) and w.lower.weekday() == 0


def test_shift_clamps_to_month_end():
    assert shift_date(dt.date(2026, 3, 31), CalendarStep(1, "month"), -1) == dt.date(2026, 2, 28)
    assert shift_date(dt.date(2024, 2, 29), CalendarStep(1, "year"), 1) == dt.date(2025, 2, 28)


def test_retention_cutoff_in_calendar_terms():
    now = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert subtract(now, CalendarStep(12, "month")) == dt.datetime(2025, 11, 27, 12, tzinfo=UTC)
    assert subtract(dt.date(2026, 3, 31), CalendarStep(1, "month")) == dt.date(2026, 2, 28)
    assert subtract(5_000, 1_000) == 4_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 month", (1, "month")),
        ("3 months", (3, "month")),
        ("monthly", (1, "month")),
        ("1 quarter", (3, "month")),
        ("7 Days", (7, "day")),
        ("yearly", (1, "year")),
    ],
)
def test_parse_step(text, expected):
    step = parse_step(text)
    assert (step.count, step.unit) == expected


@pytest.mark.parametrize("text", ["1 fortnight", "month", "0 days", "", "-1 month"])
def test_parse_step_refuses_nonsense(text):
    with pytest.raises(PolicyError, match="interval"):
        parse_step(text)


@given(
    day=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 1, 1)),
    step=st.sampled_from(STEPS),
    naming=st.sampled_from(NAMINGS),
    count=st.integers(2, 60),
)
@settings(max_examples=200)
def test_every_naming_gives_distinct_names_that_sort_in_time_order(day, step, naming, count):
    stepper = Stepper("date", step, "UTC", naming)
    names = [p.suffix for p in stepper.series(stepper.period_of(day), count)]
    assert len(set(names)) == len(names)
    assert names == sorted(names)  # ISO weeks too: (ISO year, week) only grows
