"""Each Alembic operation, online against PostgreSQL and offline as SQL text."""

from __future__ import annotations

import io

import pglast
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

import sqla_partition
from sqla_partition import Hash, Range
from sqla_partition.catalog.snapshot import read_snapshot
from sqla_partition.migration.ops import (
    CreatePartitionedTableOp,
    CreateRangePartitionOp,
    DetachPartitionOp,
    DropPartitionOp,
    SetPartitionPolicyOp,
)

sqla_partition.register()


def columns(key: str = "created_at") -> list[sa.SchemaItem]:
    return [
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column(key, sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("id", key),
    ]


@pytest.fixture
def engine(db_url):
    eng = sa.create_engine(db_url)
    yield eng
    eng.dispose()


def run_online(engine, fn, **opts):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts=opts)
        with ctx.begin_transaction():
            fn(Operations(ctx))
        conn.commit()


def run_offline(fn, **opts) -> str:
    buf = io.StringIO()
    ctx = MigrationContext.configure(
        dialect_name="postgresql",
        dialect_opts={"paramstyle": "named"},  # as the env.py made by `init` does
        opts={"as_sql": True, "output_buffer": buf, "literal_binds": True, **opts},
    )
    with ctx.begin_transaction():
        fn(Operations(ctx))
    return buf.getvalue()


def snap(engine):
    with engine.connect() as conn:
        return read_snapshot(lambda q: list(conn.exec_driver_sql(q)))


def create_events(op, name="events", default=True, schema=None):
    op.create_partitioned_table(
        name,
        *columns(),
        partitioning=Range("created_at", default=default),
        start="2026-11-01",
        until="2027-01-01",
        schema=schema,
    )


def test_create_range_partition_on_a_live_table_uses_check_and_attach(engine):
    run_online(engine, create_events)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO events VALUES (1, '2026-11-05', 'a')")
        conn.exec_driver_sql("INSERT INTO events VALUES (2, '2027-01-05', 'early')")

    def add(op):
        op.create_range_partition(
            "events",
            "events_p2027_01",
            "2027-01-01",
            "2027-02-01",
            column="created_at",
            default_partition="events_default",
        )

    run_online(engine, add)
    offline = run_offline(add)
    parent = snap(engine).parents[("public", "events")]
    assert "events_p2027_01" in [c.name for c in parent.ranges()]
    assert "SET LOCAL lock_timeout = 5000" in offline
    assert "WITH moved AS (DELETE FROM events_default" in offline
    assert (
        "-- SHARE UPDATE EXCLUSIVE on events, ACCESS EXCLUSIVE on events_p2027_01 and "
        "events_default" in offline
    )
    assert "SET LOCAL lock_timeout TO DEFAULT" in offline  # scoped to this operation
    assert pglast.parse_sql(offline)
    with engine.connect() as conn:  # the row of the new range moved out of the DEFAULT
        where = (
            conn.exec_driver_sql(
                "SELECT tableoid::regclass::text FROM events WHERE created_at >= '2027-01-01'"
            )
            .scalars()
            .all()
        )
    assert where == ["events_p2027_01"]


def test_detach_concurrently_runs_outside_the_transaction_and_is_rerunnable(engine):
    run_online(engine, lambda op: create_events(op, default=False))

    def detach(op):
        op.detach_partition("events", "events_p2026_11")

    offline = run_offline(detach)
    assert "COMMIT;" in offline and "CONCURRENTLY" in offline
    assert offline.index("COMMIT;") < offline.index("CONCURRENTLY")
    run_online(engine, detach)
    run_online(engine, detach)  # a rerun finds it detached and does nothing
    names = [c.name for c in snap(engine).parents[("public", "events")].children]
    assert "events_p2026_11" not in names
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT to_regclass('events_p2026_11')").scalar()


def test_detach_with_a_default_partition_is_plain_and_refuses_concurrently(engine):
    run_online(engine, create_events)
    offline = run_offline(
        lambda op: op.detach_partition(
            "events", "events_p2026_11", default_partition="events_default"
        )
    )
    assert "DETACH PARTITION events_p2026_11 CONCURRENTLY" not in offline
    assert "DETACH PARTITION events_p2026_11;" in offline
    with pytest.raises(sqla_partition.PolicyError, match="CONCURRENTLY is refused"):
        run_offline(
            lambda op: op.detach_partition(
                "events",
                "events_p2026_11",
                default_partition="events_default",
                concurrently=True,
            )
        )


def test_drop_partition_detaches_then_drops(engine):
    run_online(engine, lambda op: create_events(op, default=False))
    run_online(engine, lambda op: op.drop_partition("events", "events_p2026_11"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT to_regclass('events_p2026_11')").scalar() is None
    assert len(snap(engine).parents[("public", "events")].children) == 1


def test_reverse_operations():
    create = CreatePartitionedTableOp(
        "events",
        columns(),
        partitioning=Range("created_at"),
        start="2026-11-01",
        until="2026-12-01",
    )
    assert create.reverse().reverse() is create
    part = CreateRangePartitionOp(
        "events", "events_p1", "2026-11-01", "2026-12-01", column="created_at"
    )
    assert isinstance(part.reverse(), DropPartitionOp)
    assert part.reverse().reverse().to_diff_tuple() == part.to_diff_tuple()
    detach = DetachPartitionOp(
        "events", "events_p1", "2026-11-01", "2026-12-01", column="created_at"
    )
    assert detach.reverse().reverse().to_diff_tuple() == detach.to_diff_tuple()
    with pytest.raises(ValueError, match="reversible"):
        DetachPartitionOp("events", "events_p1").reverse()
    policy = SetPartitionPolicyOp("events", Range("created_at", premake=4), old=Range("created_at"))
    assert policy.reverse().partitioning == Range("created_at")
    assert policy.to_diff_tuple()[0] == "set_partition_policy"


def test_odd_names_and_schemas_are_quoted_online_and_offline(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE SCHEMA "Sales Data"')

    def create(op):
        op.create_partitioned_table(
            "Orders 50%",
            sa.Column("Order Id", sa.Integer, nullable=False),
            sa.Column("day", sa.Date, nullable=False),
            sa.PrimaryKeyConstraint("Order Id", "day"),
            partitioning=Range("day", interval="1 year", premake=1, partition_prefix="orders"),
            start="2026-01-01",
            until="2028-01-01",
            schema="Sales Data",
        )
        op.create_partitioned_table(
            "user",
            sa.Column("tenant", sa.Integer, primary_key=True),
            partitioning=Hash("tenant", partitions=3),
        )

    run_online(engine, create)
    offline = run_offline(create)
    assert 'PARTITION OF "Sales Data"."Orders 50%"' in offline
    assert 'CREATE TABLE IF NOT EXISTS "user_h2" PARTITION OF "user"' not in offline
    assert 'CREATE TABLE IF NOT EXISTS user_h2 PARTITION OF "user"' in offline
    assert pglast.parse_sql(offline)
    s = snap(engine)
    assert [c.name for c in s.parents[("Sales Data", "Orders 50%")].ranges()] == [
        "orders_p2026",
        "orders_p2027",
    ]
    assert s.policies[("Sales Data", "Orders 50%")].policy.partition_prefix == "orders"
    assert len(s.parents[("public", "user")].children) == 3


def test_lock_budget_commits_between_tables_offline():
    def many(op):
        for i in range(6):
            create_events(op, name=f"t{i}")

    offline = run_offline(many, sqla_partition_lock_budget=20)
    assert offline.count("COMMIT;") >= 3
    assert pglast.parse_sql(offline)
    unlimited = run_offline(many)
    assert unlimited.count("COMMIT;") == 1


def test_a_hostile_name_never_leaves_its_comment(db_url, pg):
    """Names go into the lock comments of every statement; one with a line break would
    end the comment and run the rest of the line, online and in `--sql` output."""
    import pglast

    engine = sa.create_engine(db_url)
    run_online(engine, create_events)
    hostile = "evil\nCREATE TABLE pwned (x int); --"

    def attach(op):
        op.create_range_partition(
            "events",
            "events_p2027_01",
            "2027-01-01",
            "2027-02-01",
            column="created_at",
            key_type="timestamptz",
            default_partition=hostile,
        )

    with pytest.raises(sa.exc.DBAPIError, match="does not exist"):
        run_online(engine, attach)
    engine.dispose()
    assert pg.execute("SELECT to_regclass('pwned')").fetchone() == (None,)
    text = run_offline(attach)
    created = [
        s.stmt.relation.relname
        for s in pglast.parse_sql(text)
        if isinstance(s.stmt, pglast.ast.CreateStmt)
    ]
    # the name stays a quoted identifier, nothing runs (the record's table is made in a DO
    # block with its schema)
    assert [name for name in created if not name.startswith("sqla_partition")] == [
        "events_p2027_01"
    ]
