"""Range partitions partitioned by Range in turn: id ranges by day. Each id range is a
table of its own, rolled by the clock; the id ranges roll by their rows; retention of the
days expires old days, retention of an id range takes its policy with it."""

from __future__ import annotations

import json
import sys

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sqla_partition import Hash, Range
from sqla_partition.cli import main
from sqla_partition.declaration.policies import TablePolicy
from sqla_partition.errors import PolicyError

from .test_hash import run_online
from .test_roll import partitions, roll_json

POLICY = Range(
    "id",
    interval=1000,
    premake=1,
    subpartition=Range("at", interval="1 day", premake=2, retention="2 days"),
)


def readings(db_url, policy=POLICY):
    def create(op):
        op.create_partitioned_table(
            "readings",
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", "at"),
            partitioning=policy,
            start=0,
            until=2000,
            sub_start="2026-12-05",
            sub_until="2026-12-08",
        )

    run_online(db_url, create)


def recorded(pg):
    rows = pg.execute(
        "SELECT table_name, key_type FROM sqla_partition.sqla_partition_policy ORDER BY 1"
    ).fetchall()
    return dict(rows)


def test_id_ranges_by_day_are_made_rolled_and_expired(db_url, pg):
    readings(db_url)
    assert partitions(pg, "readings") == ["readings_p0000000000", "readings_p0000001000"]
    days = ["p2026_12_05", "p2026_12_06", "p2026_12_07"]
    assert partitions(pg, "readings_p0000001000") == [f"readings_p0000001000_{d}" for d in days]
    assert recorded(pg) == {
        "readings": "integer:timestamptz",
        "readings_p0000000000": "timestamptz",
        "readings_p0000001000": "timestamptz",
    }
    pg.execute(
        "INSERT INTO readings VALUES (5, '2026-12-05 10:00+00'), (1500, '2026-12-07 10:00+00')"
    )
    code, out = roll_json(db_url, "--now", "2026-12-07T12:00:00Z")
    assert code == 0, out
    made = {t["table"]: t["created"] for t in out["tables"]}
    # the next id range, with its own first days; each id range premakes its days
    assert made["public.readings"] == ["readings_p0000002000"]
    assert made["public.readings_p0000001000"] == [
        "readings_p0000001000_p2026_12_08",
        "readings_p0000001000_p2026_12_09",
    ]
    assert partitions(pg, "readings_p0000002000") == [
        "readings_p0000002000_p2026_12_07",
        "readings_p0000002000_p2026_12_08",
        "readings_p0000002000_p2026_12_09",
    ]
    assert recorded(pg)["readings_p0000002000"] == "timestamptz"
    pg.execute("INSERT INTO readings VALUES (2500, '2026-12-08 01:00+00')")  # routed
    # four days on: the days older than two expire in every id range
    code, out = roll_json(db_url, "--now", "2026-12-11T12:00:00Z")
    assert code == 0, out
    detached = {t["table"]: t["detached"] for t in out["tables"]}
    assert "readings_p0000001000_p2026_12_05" in detached["public.readings_p0000001000"]
    # days ending two days before now or earlier are archives, with their rows
    assert pg.execute("SELECT count(*) FROM readings").fetchone() == (0,)
    assert pg.execute("SELECT count(*) FROM readings_p0000002000_p2026_12_08").fetchone() == (1,)
    assert "readings_p0000002000_p2026_12_10" in partitions(pg, "readings_p0000002000")
    status = CliRunner().invoke(
        main, ["status", "--database-url", db_url, "--now", "2026-12-11T12:00:00Z", "--json"]
    )
    assert status.exit_code == 0, status.output
    shown = {s["table"] for s in json.loads(status.output)}
    assert {"public.readings", "public.readings_p0000002000"} <= shown


def test_an_id_range_that_expires_takes_its_policy_with_it(db_url, pg):
    policy = Range(
        "id",
        interval=1000,
        premake=1,
        retention=1000,
        subpartition=Range("at", interval="1 day", premake=1),
    )
    readings(db_url, policy)
    pg.execute("INSERT INTO readings VALUES (1999, '2026-12-06 10:00+00')")
    code, out = roll_json(db_url, "--now", "2026-12-06T12:00:00Z")
    assert code == 0, out
    pg.execute("INSERT INTO readings VALUES (2999, '2026-12-06 11:00+00')")
    code, out = roll_json(db_url, "--now", "2026-12-06T12:00:00Z")
    assert code == 0, out
    (top,) = [t for t in out["tables"] if t["table"] == "public.readings"]
    assert "readings_p0000000000" in top["detached"]
    assert "readings_p0000000000" not in recorded(pg)  # the archive is not rolled
    code, out = roll_json(db_url, "--now", "2026-12-07T12:00:00Z")
    assert code == 0 and "public.readings_p0000000000" not in {t["table"] for t in out["tables"]}


def test_range_subpartitions_that_cannot_work_are_refused():
    with pytest.raises(PolicyError, match="partitions by the range key itself"):
        Range("at", subpartition=Range("at"))
    with pytest.raises(PolicyError, match="partitioned no further"):
        Range("id", interval=10, subpartition=Range("at", subpartition=Hash("t", 4)))
    with pytest.raises(PolicyError, match="needs the type of its key"):
        TablePolicy("readings", POLICY, "integer")
    too_long = "r" * 40
    with pytest.raises(PolicyError, match="63"):
        TablePolicy(too_long, POLICY, "integer:timestamptz")


MODELS = """
import os

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_partition import Range


class Base(DeclarativeBase):
    pass


class Reading(Base):
    __tablename__ = "readings"
    __partitioning__ = Range(
        "id", interval=1000, premake=1,
        subpartition=Range(
            "at", interval="1 day", premake=int(os.environ.get("DAYS", 1)), default=True
        ),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    at = mapped_column(sa.DateTime(timezone=True), primary_key=True)
"""


def test_autogenerate_makes_them_then_nothing_and_downgrades_them(
    tmp_path, db_url, pg, monkeypatch
):
    from .alembic_project import models_project

    now = "2026-12-06T10:30:00+00:00"
    with models_project(tmp_path, db_url, monkeypatch, "sub_models", MODELS, now) as project:
        text = project.revision("readings")
        assert "sub_start='2026-12-06'" in text and "sub_until='2026-12-08'" in text
        project.upgrade()
        assert partitions(pg, "readings_p0000001000") == [
            "readings_p0000001000_p2026_12_06",
            "readings_p0000001000_p2026_12_07",
        ]
        default = pg.execute("SELECT to_regclass('readings_p0000001000_default') IS NOT NULL")
        assert default.fetchone() == (True,)
        pg.execute("INSERT INTO readings VALUES (7, '2030-01-01 00:00+00')")  # its DEFAULT
        project.check()  # nothing more to generate
        # the days' premake changes: every id range's own policy follows
        monkeypatch.setenv("DAYS", "3")
        sys.modules.pop("sub_models", None)
        text = project.revision("more days")
        assert "key_type='integer:timestamptz'" in text
        project.upgrade()
        premakes = pg.execute(
            "SELECT DISTINCT (policy ->> 'premake')::int FROM sqla_partition.sqla_partition_policy "
            "WHERE table_name LIKE 'readings_p%'"
        ).fetchall()
        assert premakes == [(3,)]
        project.check()
        project.downgrade("base")
        assert pg.execute("SELECT to_regclass('readings')").fetchone() == (None,)
        gone = pg.execute("SELECT to_regclass('sqla_partition.sqla_partition_policy')")
        assert gone.fetchone() == (None,)  # no table left, no policy: nothing stays behind


def test_rows_waiting_in_the_default_move_into_a_new_id_range(db_url, pg):
    policy = Range(
        "id",
        interval=1000,
        premake=1,
        default=True,
        subpartition=Range("at", interval="1 day", premake=1),
    )
    readings(db_url, policy)
    pg.execute(
        "INSERT INTO readings VALUES (1999, '2026-12-06 09:00+00'), (2500, '2026-12-06 10:00+00')"
    )
    assert pg.execute("SELECT count(*) FROM readings_default").fetchone() == (1,)
    code, out = roll_json(db_url, "--now", "2026-12-06T12:00:00Z")
    assert code == 0, out
    assert pg.execute("SELECT count(*) FROM readings_default").fetchone() == (0,)
    where = pg.execute("SELECT tableoid::regclass::text FROM readings WHERE id = 2500")
    assert where.fetchone() == ("readings_p0000002000_p2026_12_06",)


def test_tenant_ranges_by_month_start_each_month_with_the_ranges_in_use(db_url, pg):
    """Time by id: each month holds ranges of tenant ids, which roll by their rows; a new
    month starts with the tenant ranges its siblings cover."""
    policy = Range(
        "at",
        interval="1 month",
        premake=1,
        subpartition=Range("tenant_id", interval=100, premake=1),
    )

    def create(op):
        op.create_partitioned_table(
            "bills",
            sa.Column("tenant_id", sa.BigInteger, nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("tenant_id", "at"),
            partitioning=policy,
            start="2026-12-01",
            until="2027-01-01",
            sub_start=0,
            sub_until=200,
        )

    run_online(db_url, create)
    assert recorded(pg)["bills"] == "timestamptz:integer"
    assert partitions(pg, "bills_p2026_12") == [
        "bills_p2026_12_p0000000000",
        "bills_p2026_12_p0000000100",
    ]
    pg.execute("INSERT INTO bills VALUES (150, '2026-12-06 10:00+00')")
    code, out = roll_json(db_url, "--now", "2026-12-06T12:00:00Z")
    assert code == 0, out
    made = {t["table"]: t["created"] for t in out["tables"]}
    assert made["public.bills"] == ["bills_p2027_01"]
    # the tenants reached 150: December makes the next range ahead, January starts with
    # the ranges December has
    assert made["public.bills_p2026_12"] == ["bills_p2026_12_p0000000200"]
    january = partitions(pg, "bills_p2027_01")
    assert january[:2] == ["bills_p2027_01_p0000000000", "bills_p2027_01_p0000000100"]
    code, out = roll_json(db_url, "--now", "2026-12-20T12:00:00Z")
    assert code == 0, out
    # January is rolled as a table of its own, its ranges already in place: nothing to make
    statuses = {t["table"]: (t["status"], t["created"]) for t in out["tables"]}
    assert statuses["public.bills_p2027_01"] == ("ok", []), out
    assert partitions(pg, "bills_p2027_01") == january
    pg.execute("INSERT INTO bills VALUES (150, '2027-01-02 10:00+00')")  # routed


def test_writers_run_through_new_id_ranges_made_beside_the_default(db_url, pg):
    """A writer inserts rising ids while roll, again and again, makes the next id range
    (a table of days of its own) beside the DEFAULT the writer has been filling: no write
    fails, no row is lost or left behind."""
    import threading
    import time

    import psycopg

    policy = Range(
        "id",
        interval=500,
        premake=1,
        default=True,
        subpartition=Range("at", interval="1 day", premake=1, default=True),
    )

    def create(op):
        op.create_partitioned_table(
            "readings",
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", "at"),
            partitioning=policy,
            start=0,
            until=500,
            sub_start="2026-12-05",
            sub_until="2026-12-07",
        )

    run_online(db_url, create)
    failures: list[str] = []
    written = [0]
    stop = threading.Event()

    def write() -> None:
        with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
            while not stop.is_set() and written[0] < 2400:
                try:
                    conn.execute(
                        "INSERT INTO readings VALUES (%s, '2026-12-06 10:00+00')", (written[0],)
                    )
                    written[0] += 1
                except psycopg.Error as exc:
                    failures.append(str(exc))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        for _ in range(6):
            code, out = roll_json(db_url, "--now", "2026-12-06T12:00:00Z")
            assert code in (0, 3), json.dumps(out["tables"])
            time.sleep(0.1)
    finally:
        stop.set()
        writer.join(timeout=30)
    code, out = roll_json(db_url, "--now", "2026-12-06T12:00:00Z")
    assert code == 0, out
    assert failures == []
    assert pg.execute("SELECT count(*), count(DISTINCT id) FROM readings").fetchone() == (
        written[0],
        written[0],
    )
    # the DEFAULT holds only rows past the last id range (roll moves those of its ranges)
    (top,) = pg.execute(
        "SELECT max(upper) FROM (SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), "
        "'TO \\(''?(\\d+)'))[1]::bigint AS upper FROM pg_inherits i JOIN pg_class c "
        "ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass) AS b"
    ).fetchone()
    waiting = pg.execute("SELECT count(*) FROM readings_default WHERE id < %s", (top,))
    assert waiting.fetchone() == (0,)
