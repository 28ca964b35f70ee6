"""Epoch columns: an integer of seconds, milliseconds, microseconds or nanoseconds since
1970, partitioned on the calendar in the policy's timezone, named by date, with integer
bounds; retention and premake count calendar time; status shows instants."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sqla_partition import Range
from sqla_partition.cli import main
from sqla_partition.declaration.periods import EPOCH_UNITS, CalendarStep, Stepper
from sqla_partition.declaration.policies import TablePolicy
from sqla_partition.errors import PolicyError
from sqla_partition.planning.positions import coerce_key

from .test_hash import run_online
from .test_roll import partitions, roll_json

UTC = dt.timezone.utc


@given(
    instant=st.datetimes(
        min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    unit=st.sampled_from(sorted(EPOCH_UNITS)),
    step=st.sampled_from(
        [
            CalendarStep(1, "hour"),
            CalendarStep(1, "day"),
            CalendarStep(1, "week"),
            CalendarStep(1, "month"),
        ]
    ),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata"]),
)
@settings(max_examples=300, deadline=None)
def test_epoch_periods_are_the_calendars_in_integers(instant, unit, step, zone):
    per_second = EPOCH_UNITS[unit]
    keys = Stepper("integer", step, zone, epoch=per_second)
    times = Stepper("timestamptz", step, zone)
    key = keys.key_of(instant)
    assert keys.key_of(keys.instant_of(key)) == key  # exact: no float on the way
    assert abs(keys.instant_of(key) - instant) < dt.timedelta(seconds=1)
    period, reference = keys.period_of(key), times.period_of(instant)
    assert period.suffix == reference.suffix
    assert period.lower == keys.key_of(reference.lower) <= key < period.upper
    assert keys.following(period) == keys.period_of(period.upper)


def test_epoch_keys_agree_with_postgresql(pg):
    keys = Stepper("integer", CalendarStep(1, "day"), "Europe/Berlin", epoch=1000)
    period = keys.period_of(1_796_000_000_123)
    theirs = pg.execute(
        "SELECT (extract(epoch FROM date_trunc('day', to_timestamp(1796000000.123), "
        "'Europe/Berlin')) * 1000)::bigint"
    ).fetchone()[0]
    assert period.lower == theirs


def test_epoch_declarations_that_cannot_work_are_refused():
    with pytest.raises(PolicyError, match="epoch='fortnights'"):
        Range("ts", epoch="fortnights")
    with pytest.raises(PolicyError, match="give a calendar interval"):
        Range("ts", interval=86400, epoch="seconds")
    with pytest.raises(PolicyError, match="needs an integer column"):
        TablePolicy("events", Range("ts", interval="1 day", epoch="seconds"), "timestamptz")
    with pytest.raises(PolicyError, match="epoch='seconds'"):
        TablePolicy("events", Range("ts", interval="1 day"), "integer")


def test_an_epoch_table_with_sub_ranges_takes_iso_bounds():
    """``start``/``until`` of an epoch table partitioned by time in turn: ISO text is read
    as the instant, in the column's unit."""
    policy = TablePolicy(
        "events",
        Range(
            "ts", interval="1 month", epoch="seconds", subpartition=Range("at", interval="1 day")
        ),
        "integer:timestamptz",
    )
    first = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert coerce_key(policy, "2026-11-01") == int(first.timestamp())
    assert coerce_key(policy, "2026-11-01T06:00:00+00:00") == int(first.timestamp()) + 6 * 3600


def _events(db_url, policy, start, until):
    def create(op):
        op.create_partitioned_table(
            "events",
            sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
            sa.Column("ts_ms", sa.BigInteger, nullable=False),
            sa.PrimaryKeyConstraint("id", "ts_ms"),
            partitioning=policy,
            start=start,
            until=until,
        )

    run_online(db_url, create)


def test_a_milliseconds_column_rolls_by_the_calendar(db_url, pg):
    policy = Range(
        "ts_ms", interval="1 day", premake=2, retention="3 days", epoch="milliseconds", default=True
    )
    _events(db_url, policy, "2026-12-01", "2026-12-03")
    bound = pg.execute(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'events_p2026_12_01'"
    ).fetchone()[0]
    # 1 December 2026, 00:00 UTC, is 1,796,083,200 seconds after 1970
    assert bound == "FOR VALUES FROM ('1796083200000') TO ('1796169600000')"
    ms = lambda text: int(dt.datetime.fromisoformat(text).timestamp() * 1000)  # noqa: E731
    pg.execute(
        "INSERT INTO events (ts_ms) VALUES (%s), (%s)",
        (ms("2026-12-05T10:00:00+00:00"), ms("2026-12-02T23:59:59.999+00:00")),
    )
    code, out = roll_json(db_url, "--now", "2026-12-05T12:00:00Z")
    assert code == 0, out
    table = out["tables"][0]
    assert table["created"] == [
        "events_p2026_12_03",
        "events_p2026_12_04",
        "events_p2026_12_05",
        "events_p2026_12_06",
        "events_p2026_12_07",
    ]
    assert table["detached"] == ["events_p2026_12_01"]  # ended 4 days before now
    assert pg.execute("SELECT count(*) FROM events_default").fetchone() == (0,)
    assert pg.execute("SELECT count(*) FROM events_p2026_12_05").fetchone() == (1,)
    assert "events_p2026_12_02" in partitions(pg)
    status = CliRunner().invoke(
        main, ["status", "--database-url", db_url, "--now", "2026-12-05T12:00:00Z", "--json"]
    )
    assert status.exit_code == 0, status.output
    (shown,) = json.loads(status.output)
    assert shown["coverage_until"].startswith("2026-12-08T00:00:00")
    assert shown["next_expiry"].startswith("2026-12-06")
    check = CliRunner().invoke(
        main, ["check", "--database-url", db_url, "--now", "2026-12-05T12:00:00Z"]
    )
    assert check.exit_code == 0, check.output


MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_partition import Range


class Base(DeclarativeBase):
    pass


class Reading(Base):
    __tablename__ = "readings"
    __partitioning__ = Range("ts_ns", interval="6 hours", premake=2, epoch="nanoseconds")
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    ts_ns: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
"""


def test_autogenerate_makes_an_epoch_table_and_then_nothing(tmp_path, db_url, pg, monkeypatch):
    from .alembic_project import models_project

    now = "2026-12-06T10:30:00+00:00"
    with models_project(tmp_path, db_url, monkeypatch, "epoch_models", MODELS, now) as project:
        text = project.revision("readings")
        assert "epoch='nanoseconds'" in text
        project.upgrade()
        names = partitions(pg, "readings")
        assert names == [
            "readings_p2026_12_06_0600",
            "readings_p2026_12_06_1200",
            "readings_p2026_12_06_1800",
        ]
        project.check()  # nothing more to generate
        project.downgrade("base")
