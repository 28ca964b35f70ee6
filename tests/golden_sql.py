"""Offline SQL of every operation and of a roll dry run, as reviewed in golden files."""

from __future__ import annotations

import io

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

import sqla_partition
from sqla_partition import Hash, Range

sqla_partition.register()


def offline(fn) -> str:
    buf = io.StringIO()
    ctx = MigrationContext.configure(
        dialect_name="postgresql",
        dialect_opts={"paramstyle": "named"},
        opts={"as_sql": True, "output_buffer": buf, "literal_binds": True},
    )
    with ctx.begin_transaction():
        fn(Operations(ctx))
    return buf.getvalue()


def create_tables(op: Operations) -> None:
    op.create_partitioned_table(
        "events",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("id", "created_at"),
        partitioning=Range("created_at", premake=3, retention="12 months", default=True),
        start="2026-11-01",
        until="2027-03-01",
    )
    op.create_partitioned_table(
        "readings",
        sa.Column("sensor", sa.BigInteger, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("sensor", "day"),
        partitioning=Range("day", interval="1 week", premake=2, timezone="Europe/Berlin"),
        start="2026-11-23",
        until="2026-12-14",
        schema="metrics",
    )
    op.create_partitioned_table(
        "blobs",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        partitioning=Range("id", interval=1_000_000, premake=2),
        start=0,
        until=3_000_000,
    )
    op.create_partitioned_table(
        "sessions",
        sa.Column("account_id", sa.BigInteger, primary_key=True, autoincrement=False),
        partitioning=Hash("account_id", partitions=4),
    )
    op.create_partitioned_table(  # id ranges, each a table of days of its own
        "samples",
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", "at"),
        partitioning=Range(
            "id", interval=1_000_000, premake=1, subpartition=Range("at", premake=1, default=True)
        ),
        start=0,
        until=1_000_000,
        sub_start="2026-11-01",
        sub_until="2026-12-01",
    )


def partition_ops(op: Operations) -> None:
    op.create_range_partition(
        "events",
        "events_p2027_03",
        "2027-03-01",
        "2027-04-01",
        column="created_at",
        default_partition="events_default",
    )
    op.detach_partition(
        "events",
        "events_p2026_11",
        "2026-11-01",
        "2026-12-01",
        column="created_at",
        default_partition="events_default",
    )
    op.attach_partition(
        "events",
        "events_p2026_11",
        "2026-11-01",
        "2026-12-01",
        column="created_at",
        default_partition="events_default",
    )
    op.detach_partition("blobs", "blobs_p0000000000", 0, 1_000_000, column="id", key_type="integer")
    op.drop_partition("blobs", "blobs_p0000001000000", column="id", key_type="integer")
    op.set_partition_policy(
        "events",
        Range("created_at", premake=6, retention="24 months", default=True),
        old=Range("created_at", premake=3, retention="12 months", default=True),
        partitions=[("events_p2027_06", "2027-06-01T00:00:00+00:00", "2027-07-01T00:00:00+00:00")],
    )
    op.drop_partitioned_table("sessions")


def hash_split(op: Operations) -> None:
    op.split_hash_partitions(
        "sessions",
        Hash("account_id", partitions=8),
        old_partitions=4,
        columns=["account_id", "started_at", "token"],
        primary_key=["account_id"],
    )


def citus(op: Operations) -> None:
    op.create_partitioned_table(
        "accounts",
        sa.Column("tenant_id", sa.BigInteger, nullable=False),
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        partitioning=Hash("tenant_id", partitions=16, distributed=True, colocate_with="none"),
        distributed=True,
    )
    op.distribute_table("accounts", "tenant_id", colocate_with="none", shard_count=16)
    op.create_partitioned_table(
        "events",
        sa.Column("tenant_id", sa.BigInteger, nullable=False),
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", "created_at"),
        partitioning=Range(
            "created_at", retention="3 months", distributed_by="tenant_id", colocate_with="accounts"
        ),
        start="2026-11-01",
        until="2027-03-01",
    )
    op.distribute_table("events", "tenant_id", colocate_with="accounts")
    op.create_table(
        "countries",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.distribute_table("countries", reference=True)
    op.undistribute_table("countries", reference=True)


def audit(op: Operations) -> None:
    from sqla_partition import Audit
    from sqla_partition.declaration.audit_trail import trail_columns, trail_policy

    op.create_partitioned_table(
        "sqla_partition_audit_trail",
        *trail_columns(),
        partitioning=trail_policy("12 months"),
        start="2026-11-01",
        until="2027-03-01",
        schema="public",
    )
    op.enable_audit(
        "events",
        Audit(trail=True),
        primary_key=["id", "created_at"],
        columns=["id", "created_at", "body", "updated_at", "created_by", "updated_by"],
    )
    op.enable_audit(
        "events",
        Audit(actor_setting="app.actor", actor_type="uuid"),
        primary_key=["id", "created_at"],
        old=Audit(trail=True),
    )
    op.disable_audit("events", Audit(actor_setting="app.actor", actor_type="uuid"))


def partitioned_index(op: Operations) -> None:
    op.create_partitioned_index(
        "ix_events_account_id",
        "events",
        ["account_id"],
        partitions=[
            ("events_default", "events", False),
            ("events_p2026_11", "events", False),
            ("events_p2026_12", "events", False),
        ],
    )


def convert(op: Operations) -> None:
    op.partition_existing_table(
        "orders",
        Range("created_at", premake=2, default=True),
        legacy_until="2026-12-01",
        until="2027-03-01",
    )


def lists(op: Operations) -> None:
    from sqla_partition import List

    regions = List("region", partitions={"eu": ["de", "fr"], "us": ["us", "ca"]}, default=True)
    op.create_partitioned_table(
        "orders",
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", "region"),
        partitioning=regions,
    )
    op.alter_list_partitions(
        "orders",
        List(
            "region",
            partitions={"eu": ["de", "fr", "nl"], "us": ["us"], "it's": ["it"]},
            default=True,
        ),
        old=regions,
    )


MIGRATIONS = {
    "migration_lists.sql": lists,
    "migration_create_tables.sql": create_tables,
    "migration_partition_ops.sql": partition_ops,
    "migration_hash_split.sql": hash_split,
    "migration_citus.sql": citus,
    "migration_audit.sql": audit,
    "migration_partitioned_index.sql": partitioned_index,
    "migration_convert.sql": convert,
}


def render_all() -> dict[str, str]:
    return {name: offline(fn) for name, fn in MIGRATIONS.items()}
