"""Any interval: minutes and hours as equal spans of absolute time, multiples of days,
weeks, months and years from 1970, rolled with the clock walked through a DST change."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main
from sqla_partition.declaration.policies import TablePolicy
from sqla_partition.errors import PolicyError

from .test_roll import make_table, roll_json

UTC = dt.timezone.utc


def bounds(pg, table="events"):
    """``(name, lower, upper)`` of each range partition, oldest first."""
    rows = pg.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        (table,),
    ).fetchall()
    out = []
    for name, bound in rows:
        if bound == "DEFAULT":
            continue
        lower, upper = (
            pg.execute(f"SELECT {v}::timestamptz", ()).fetchone()[0]
            for v in bound.removeprefix("FOR VALUES FROM (").removesuffix(")").split(") TO (")
        )
        out.append((name, lower, upper))
    return sorted(out, key=lambda r: r[1])


def test_hourly_partitions_roll_hour_by_hour_through_the_end_of_dst(db_url, pg):
    policy = Range(
        "created_at",
        interval="1 hour",
        premake=3,
        retention="6 hours",
        timezone="Europe/Berlin",
        default=True,
    )
    start = dt.datetime(2026, 10, 24, 20, tzinfo=UTC)
    until = start + dt.timedelta(hours=4)
    make_table(db_url, policy, start=start.isoformat(), until=until.isoformat())
    # Berlin leaves summer time at 01:00 UTC on 25 October 2026: local 02:00-03:00 twice;
    # names carry standard time (CET), so they never repeat
    for hour in range(14):
        now = start + dt.timedelta(hours=hour, minutes=20)
        code, out = roll_json(db_url, "--now", now.isoformat())
        assert code == 0, out
        pg.execute("INSERT INTO events (created_at, note) VALUES (%s, 'w')", (now,))
        if hour == 6:  # 02:20 UTC: the hours around the change, all there
            names = [n for n, *_ in bounds(pg)]
            night = [n for n in names if n.startswith("events_p2026_10_25_")]
            assert night[:7] == [f"events_p2026_10_25_{h:02d}00" for h in range(0, 7)]
    rows = bounds(pg)
    assert all(upper - lower == dt.timedelta(hours=1) for _, lower, upper in rows)
    assert all(a[2] == b[1] for a, b in zip(rows, rows[1:], strict=False))  # no gap
    # kept: the six hours before now (09:20 UTC), now's, and three ahead
    assert [n for n, *_ in rows] == [f"events_p2026_10_25_{h:02d}00" for h in range(4, 14)]
    assert (rows[0][1], rows[-1][2]) == (
        dt.datetime(2026, 10, 25, 3, tzinfo=UTC),
        dt.datetime(2026, 10, 25, 13, tzinfo=UTC),
    )
    assert pg.execute("SELECT count(*) FROM events_default").fetchone() == (0,)
    assert pg.execute("SELECT count(*) FROM events").fetchone() == (7,)  # 03:20 to 09:20
    last = start + dt.timedelta(hours=13, minutes=20)
    status = CliRunner().invoke(
        main, ["status", "--database-url", db_url, "--now", last.isoformat(), "--json"]
    )
    assert status.exit_code == 0, status.output


def test_fifteen_minutes_named_by_the_clock(db_url, pg):
    policy = Range("created_at", interval="15 minutes", premake=4)
    make_table(db_url, policy, start="2026-12-06T10:00:00+00:00", until="2026-12-06T10:15Z")
    code, out = roll_json(db_url, "--now", "2026-12-06T10:07:00+00:00")
    assert code == 0
    assert out["tables"][0]["created"] == [
        "events_p2026_12_06_1015",
        "events_p2026_12_06_1030",
        "events_p2026_12_06_1045",
        "events_p2026_12_06_1100",
    ]
    rows = bounds(pg)
    assert {upper - lower for _, lower, upper in rows} == {dt.timedelta(minutes=15)}


@pytest.mark.parametrize(
    ("interval", "first", "names"),
    [
        ("2 weeks", "2026-11-23", ["events_p2026_11_23", "events_p2026_12_07"]),
        ("6 months", "2026-07-01", ["events_p2026_07", "events_p2027_01"]),
        ("2 years", "2026-01-01", ["events_p2026", "events_p2028"]),
    ],
)
def test_multiples_of_a_unit(db_url, pg, interval, first, names):
    make_table(
        db_url,
        Range("created_at", interval=interval, premake=1),
        start="2026-12-06",
        until="2026-12-07",
    )
    assert [n for n, *_ in bounds(pg)] == names[:1]
    assert bounds(pg)[0][1] == dt.datetime.fromisoformat(first).replace(tzinfo=UTC)
    code, out = roll_json(db_url, "--now", "2026-12-06T12:00:00Z")
    assert code == 0 and out["tables"][0]["created"] == names[1:]


def test_a_date_column_takes_no_interval_shorter_than_a_day():
    with pytest.raises(PolicyError, match="a date column, which holds no time of day"):
        TablePolicy("events", Range("day", interval="6 hours"), "date")
    TablePolicy("events", Range("day", interval="2 days"), "date")  # whole days are fine


@pytest.mark.parametrize("interval", ["10000 years", "9999999 days", "100000000000 minutes"])
def test_an_interval_past_the_calendar_is_refused_where_it_is_declared(interval):
    """Not an overflow deep in planning: the declaration says what is wrong."""
    with pytest.raises(PolicyError, match="longer than 100 years"):
        Range("ts", interval=interval)
    with pytest.raises(PolicyError, match="longer than 100 years"):
        Range("ts", retention=interval)
    Range("ts", interval="100 years", retention="100 years")  # the longest allowed
