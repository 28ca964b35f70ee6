"""Period arithmetic: no gaps, no overlaps, every instant in exactly one period."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
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
        # America/Havana: clocks go back from 01:00 to 00:00 on 2012-11-04, so midnight
        # happens twice; as PostgreSQL reads it, the day starts at the second (05:00 UTC)
        ("America/Havana", dt.date(2012, 11, 4), dt.datetime(2012, 11, 4, 5, tzinfo=UTC)),
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


# Any interval: minutes and hours are equal spans of absolute time, on the hour of the
# zone's standard time; longer steps count from 1970 (weeks from a Monday).
MORE_STEPS = [
    CalendarStep(1, "minute"),
    CalendarStep(15, "minute"),
    CalendarStep(7, "minute"),
    CalendarStep(1, "hour"),
    CalendarStep(6, "hour"),
    CalendarStep(5, "hour"),
    CalendarStep(2, "day"),
    CalendarStep(7, "day"),
    CalendarStep(2, "week"),
    CalendarStep(2, "month"),
    CalendarStep(5, "month"),
    CalendarStep(6, "month"),
    CalendarStep(2, "year"),
]


@given(
    instant=instants,
    step=st.sampled_from(MORE_STEPS),
    zone=st.sampled_from(ZONES),
    naming=st.sampled_from(NAMINGS),
    count=st.integers(min_value=2, max_value=40),
)
@settings(max_examples=500, deadline=None)
def test_any_interval_tiles_time_with_names_that_sort(instant, step, zone, naming, count):
    s = Stepper("timestamptz", step, zone, naming)
    period = s.period_of(instant)
    assert period.lower <= instant < period.upper
    assert s.following(s.following(period, 3), -3) == period
    series = s.series(period, count)
    for a, b in zip(series, series[1:], strict=False):
        assert a.upper == b.lower and a.lower < a.upper
        assert a.suffix < b.suffix
    assert len({p.suffix for p in series}) == count
    assert max(len(p.suffix) for p in series) <= s.suffix_width()
    if step.sub_day:  # equal spans of absolute time, also across DST changes
        assert {p.upper - p.lower for p in series} == {step.span()}


@given(instant=instants, step=st.sampled_from(MORE_STEPS[:6]))
@settings(max_examples=200, deadline=None)
def test_minutes_and_hours_start_on_the_clock(instant, step):
    lower = Stepper("timestamptz", step, "Europe/Berlin").period_of(instant).lower
    standard = lower.astimezone(dt.timezone(dt.timedelta(hours=1)))  # CET
    assert standard.second == 0 and standard.microsecond == 0
    if (24 * 60 * 60) % step.span().total_seconds() == 0:  # divides a day: from midnight
        minutes = standard.hour * 60 + standard.minute
        assert minutes % (step.span().total_seconds() // 60) == 0


def test_hourly_names_and_bounds_across_a_dst_change():
    s = Stepper("timestamptz", CalendarStep(1, "hour"), "Europe/Berlin")
    # 2026-10-25: clocks go back at 03:00 CEST; local 02:00-03:00 happens twice
    first = s.period_of(dt.datetime(2026, 10, 24, 23, 30, tzinfo=UTC))  # 01:30 CEST
    hours = s.series(first, 4)
    assert [p.suffix for p in hours] == [
        "p2026_10_25_0000",
        "p2026_10_25_0100",
        "p2026_10_25_0200",
        "p2026_10_25_0300",
    ]
    assert [p.lower.astimezone(UTC).hour for p in hours] == [23, 0, 1, 2]
    partman5 = Stepper("timestamptz", CalendarStep(30, "minute"), "UTC", "partman5")
    assert partman5.period_of(dt.datetime(2026, 1, 2, 3, 44, tzinfo=UTC)).suffix == (
        "p20260102_033000"
    )


def test_multiples_count_from_1970():
    day = dt.datetime(2026, 12, 6, 12, tzinfo=UTC)
    lower = {
        str(step): Stepper("timestamptz", step).period_of(day).lower.date()
        for step in MORE_STEPS[6:]
    }
    assert lower == {
        "2 days": dt.date(2026, 12, 5),  # 20,792 days after 1 January 1970: even
        "7 days": dt.date(2026, 12, 3),  # a Thursday, as 1 January 1970 was
        "2 weeks": dt.date(2026, 11, 23),  # Mondays, every other from 5 January 1970
        "2 months": dt.date(2026, 11, 1),
        "5 months": dt.date(2026, 9, 1),  # 680 months after January 1970
        "6 months": dt.date(2026, 7, 1),
        "2 years": dt.date(2026, 1, 1),
    }


def _postgres_lower(step: CalendarStep, zone: str) -> str:
    """The start of the period of ``v`` (a timestamptz), by PostgreSQL's own arithmetic."""
    local = f"(%(v)s::timestamptz AT TIME ZONE '{zone}')"
    if step.sub_day:  # equal spans from midnight, 1 January 1970, of standard time
        origin = "(timestamptz '1970-01-01 00:00+00' - %(std)s::interval)"
        span = f"interval '{step.span().total_seconds():.0f} seconds'"
        return f"date_bin({span}, %(v)s::timestamptz, {origin})"
    if step.unit in ("day", "week"):
        days = step.count * (7 if step.unit == "week" else 1)
        origin = "timestamp '1970-01-05'" if step.unit == "week" else "timestamp '1970-01-01'"
        start = f"date_bin(interval '{days} days', {local}, {origin})"
    else:
        months = step.count * (12 if step.unit == "year" else 1)
        index = f"((extract(year FROM {local}) - 1970) * 12 + extract(month FROM {local}) - 1)"
        start = (
            f"(timestamp '1970-01-01' + floor({index} / {months}) * {months} * interval '1 month')"
        )
    return f"({start} AT TIME ZONE '{zone}')"


@given(
    values=st.lists(instants, min_size=1, max_size=60),
    step=st.sampled_from(STEPS + MORE_STEPS),
    zone=st.sampled_from(ZONES),
)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_bounds_agree_with_postgresql(pg, values, step, zone):
    """Every unit, against date_bin, interval arithmetic and AT TIME ZONE."""
    s = Stepper("timestamptz", step, zone)
    offset = dt.datetime(2001, 1, 15, 12, tzinfo=ZoneInfo(zone))
    std = offset.utcoffset() - offset.dst()
    query = f"SELECT {_postgres_lower(step, zone)}"
    for value in values:
        period = s.period_of(value)
        theirs = pg.execute(query, {"v": value, "std": std}).fetchone()[0]
        assert period.lower == theirs, (value, step, zone)


@pytest.mark.parametrize(
    ("interval", "anchor", "value", "lower", "suffix"),
    [
        ("1 year", "2026-04-01", "2027-02-10T12:00", "2026-04-01T00:00", "p2026"),  # fiscal
        ("1 week", "2026-01-04", "2026-12-09T12:00", "2026-12-06T00:00", "p2026_12_06"),
        ("3 months", "2026-02-01", "2026-12-09T12:00", "2026-11-01T00:00", "p2026_q4"),
        ("12 hours", "2026-01-01T06:00", "2026-12-09T03:00", "2026-12-08T18:00", None),
        ("10 days", "2026-12-01", "2026-11-30T23:00", "2026-11-21T00:00", "p2026_11_21"),
    ],
)
def test_an_anchor_says_where_one_period_starts(interval, anchor, value, lower, suffix):
    from sqla_partition import Range
    from sqla_partition.declaration.policies import TablePolicy

    policy = TablePolicy("events", Range("at", interval=interval, anchor=anchor), "timestamp")
    period = policy.stepper().period_of(dt.datetime.fromisoformat(value))
    assert period.lower == dt.datetime.fromisoformat(lower)
    assert suffix is None or period.suffix == suffix
    series = policy.stepper().series(period, 5)
    assert all(a.upper == b.lower for a, b in zip(series, series[1:], strict=False))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"interval": "1 month", "anchor": "2026-04-15"}, "start on the first of a month"),
        ({"interval": "1 day", "anchor": "2026-04-15T06:00"}, "start at midnight"),
        ({"interval": "1 day", "anchor": "April"}, "no ISO date"),
        ({"interval": "1 day", "anchor": "2026-04-15T00:00+02:00"}, "without an offset"),
        ({"interval": 1000, "anchor": "2026-04-15"}, "for a calendar interval"),
    ],
)
def test_an_anchor_that_cannot_work_is_refused(kwargs, pattern):
    from sqla_partition import Range

    with pytest.raises(PolicyError, match=pattern):
        Range("at", **kwargs)
