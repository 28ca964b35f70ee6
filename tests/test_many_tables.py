"""A first migration that creates 200 partitioned tables of 36 partitions on a stock server."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

import sqla_partition
from sqla_partition import Range

sqla_partition.register()

TABLES, MONTHS = 200, 36


def test_two_hundred_tables_of_36_partitions_in_one_migration(db_url):
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        op = Operations(ctx)
        with ctx.begin_transaction():
            for i in range(TABLES):
                op.create_partitioned_table(
                    f"t{i:03d}",
                    sa.Column("id", sa.BigInteger, nullable=False),
                    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                    sa.Column("payload", sa.Text),
                    sa.PrimaryKeyConstraint("id", "created_at"),
                    sa.Index(f"t{i:03d}_payload_idx", "payload"),
                    partitioning=Range("created_at", premake=3),
                    start="2024-03-01",
                    until="2027-03-01",
                )
        locks_per_tx = int(conn.exec_driver_sql("SHOW max_locks_per_transaction").scalar())
        counts = conn.exec_driver_sql(
            "SELECT count(*) FILTER (WHERE c.relispartition AND c.relkind = 'r'), "
            "count(*) FILTER (WHERE c.relkind = 'p') FROM pg_class c "
            "WHERE c.relname ~ '^t[0-9]{3}'"
        ).one()
        policies = conn.exec_driver_sql(
            "SELECT count(*) FROM sqla_partition.sqla_partition_policy"
        ).scalar()
    engine.dispose()
    # the stock lock table is what this must fit in; a larger one would hide the problem
    assert locks_per_tx == 64
    assert tuple(counts) == (TABLES * MONTHS, TABLES)
    assert policies == TABLES
