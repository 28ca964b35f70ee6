"""The Citus path. Citus cannot be installed here: autogenerate runs against PostgreSQL with
the snapshot saying Citus is present, and the SQL it renders is checked offline (the golden
file migration_citus.sql is parsed, linted and squawk-checked in test_review)."""

from __future__ import annotations

import sys
import textwrap

import pglast
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.util import CommandError

from sqla_partition import Hash, PolicyError, Range, partition_table
from sqla_partition.declaration.policies import TablePolicy
from sqla_partition.migration.compare import schema as compare_module
from sqla_partition.migration.ops import DistributeTableOp
from sqla_partition.planning.roll import plan

from .alembic_project import models_project
from .test_planner import NOW, parent_with

MODELS = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Audit, Hash, Range, Reference


    class Base(DeclarativeBase):
        pass


    class Country(Base):
        __tablename__ = "countries"
        __distribution__ = Reference()
        code: Mapped[str] = mapped_column(sa.Text, primary_key=True)


    class Account(Base):
        __tablename__ = "accounts"
        __partitioning__ = Hash("tenant_id", partitions=int(os.environ.get("SHARDS", "16")))
        if os.environ.get("AUDIT"):
            __audit__ = Audit()
        tenant_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)


    class Login(Base):
        __tablename__ = "logins"
        __partitioning__ = Hash(
            "tenant_id", partitions=int(os.environ.get("LOGIN_SHARDS", "16")),
            colocate_with="accounts",
        )
        tenant_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range(
            "created_at", distributed_by="tenant_id", colocate_with="accounts"
        )
        tenant_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        created_at = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    """
)


@pytest.fixture
def project(tmp_path, db_url, monkeypatch):
    with models_project(tmp_path, db_url, monkeypatch, "citus_models", MODELS) as project:
        yield project


@pytest.fixture
def citus_database(monkeypatch):
    """The catalog snapshot reports the citus extension, as on a Citus coordinator."""
    real = compare_module._snapshot

    def with_citus(ctx):
        snap = real(ctx)
        snap.has_citus = True
        return snap

    monkeypatch.setattr(compare_module, "_snapshot", with_citus)


def test_on_citus_hash_tables_become_distributed_tables(project, citus_database):
    text = project.revision("citus")
    upgrade = text.split("def downgrade")[0]
    assert "distributed=True" in upgrade
    assert "op.distribute_table('accounts', 'tenant_id', shard_count=16)" in upgrade
    assert "op.distribute_table('events', 'tenant_id', colocate_with='accounts')" in upgrade
    assert "op.create_table('countries'" in upgrade
    assert "op.distribute_table('countries', reference=True)" in upgrade
    downgrade = text.split("def downgrade")[1]
    assert "undistribute_table" not in downgrade  # the drop takes the shards with it
    assert "op.drop_table('countries')" in downgrade
    sql_text = project.offline_sql()
    assert "SELECT create_distributed_table('accounts', 'tenant_id', shard_count => 16)" in sql_text
    assert "PARTITION BY HASH" not in sql_text  # the shards are the hash partitions
    assert "accounts_h00" not in sql_text
    assert (
        "SELECT create_distributed_table('events', 'tenant_id', colocate_with => 'accounts')"
        in sql_text
    )
    assert "SELECT create_reference_table('countries')" in sql_text
    assert pglast.parse_sql(sql_text)


def test_without_citus_hash_tables_stay_local_hash_partitions(project):
    text = project.revision("plain")
    assert "accounts', 'tenant_id'" not in text
    assert "op.distribute_table('events'" in text  # asked for explicitly by distributed_by
    assert "distributed=True" not in text


def test_growing_a_distributed_tables_shard_count_splits_its_shards(
    project, pg, citus_database, monkeypatch
):
    project.revision("citus")
    # this database cannot run the Citus calls: leave what the migration would leave
    pg.execute("CREATE TABLE accounts (tenant_id bigint, id bigint, PRIMARY KEY (tenant_id, id))")
    command.stamp(project.config, "head")
    monkeypatch.setattr(
        compare_module,
        "_snapshot",
        _snapshot_with_recorded(compare_module._snapshot, Hash("tenant_id", 16)),
    )
    sys.modules.pop("citus_models", None)
    in_sync = project.revision("in sync").split("def downgrade")[0]
    assert "('accounts'" not in in_sync  # a plain table on record as distributed: no drift
    command.stamp(project.config, "head")
    for shards, refusal in (("24", "to a multiple of 16"), ("8", "cannot merge shards")):
        monkeypatch.setenv("SHARDS", shards)
        monkeypatch.setenv("LOGIN_SHARDS", shards)
        sys.modules.pop("citus_models", None)
        with pytest.raises(CommandError, match=refusal):
            project.revision("reshard")
    monkeypatch.setenv("SHARDS", "32")
    monkeypatch.setenv("LOGIN_SHARDS", "32")
    sys.modules.pop("citus_models", None)
    text = project.revision("reshard")
    upgrade, downgrade = text.split("def downgrade")
    assert (
        "op.split_shards('accounts', sqla_partition.Hash('tenant_id', partitions=32), "
        "old_shard_count=16)" in upgrade
    )
    assert "old_shard_count=32)" in downgrade  # Citus cannot merge: it keeps the shards
    sql_text = project.offline_sql()
    assert sql_text.count("citus_split_shard_by_split_points") == 16  # one per shard
    assert "shardminvalue = '-2147483648' AND s.shardmaxvalue = '-1879048193'" in sql_text


def _snapshot_with_recorded(real, policy):
    def snapshot(ctx):
        snap = real(ctx)
        snap.has_citus = True
        # a distributed table is no partitioned table; only its recorded policy is seen
        snap.policies[("public", "accounts")] = TablePolicy("accounts", policy, "hash", "public")
        return snap

    return snapshot


def test_citus_rules_are_checked_up_front():
    with pytest.raises(PolicyError, match="refuses shard_count together with"):
        DistributeTableOp("events", "tenant_id", colocate_with="accounts", shard_count=16)
    with pytest.raises(PolicyError, match="takes no column"):
        DistributeTableOp("countries", "code", reference=True)
    with pytest.raises(PolicyError, match="name the column"):
        DistributeTableOp("events")
    assert Hash("tenant_id", 16, colocate_with="accounts").shard_count is None
    with pytest.raises(PolicyError, match="applies to distributed tables"):
        Hash("tenant_id", 16, distributed=False, colocate_with="accounts")
    with pytest.raises(PolicyError, match="multi-level"):
        Range("created_at", distributed_by="tenant_id", subpartition=Hash("tenant_id", 4))
    table = sa.Table(
        "events",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("tenant_id", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", "created_at"),
    )
    with pytest.raises(PolicyError, match="must include the distribution column"):
        partition_table(table, Range("created_at", distributed_by="tenant_id"))


def test_roll_never_detaches_concurrently_on_a_distributed_table():
    policy = TablePolicy(
        "events", Range("created_at", retention="3 months", distributed_by="tenant_id")
    )
    parent = parent_with([(2026, m) for m in range(1, 12)])
    steps = plan(policy, parent, NOW).of_kind("detach")
    assert [s.partition for s in steps][:2] == ["events_p2026_01", "events_p2026_02"]
    for step in steps:
        assert all("CONCURRENTLY" not in s.sql for s in step.statements)
        assert all(s.transactional for s in step.statements)
    local = TablePolicy("events", Range("created_at", retention="3 months"))
    detach = plan(local, parent, NOW).of_kind("detach")[0]
    assert any("CONCURRENTLY" in s.sql for s in detach.statements)


def test_what_citus_cannot_honour_stops_autogenerate(project, citus_database, monkeypatch):
    monkeypatch.setenv("AUDIT", "1")
    with pytest.raises(CommandError, match="Audit\\(\\) on a Citus distributed table"):
        project.revision("audited")
    monkeypatch.delenv("AUDIT")
    monkeypatch.setenv("LOGIN_SHARDS", "4")
    sys.modules.pop("citus_models", None)
    with pytest.raises(CommandError, match="gets its 16 shards, not partitions=4"):
        project.revision("colocated")


def test_tables_come_after_the_tables_they_are_colocated_with():
    from alembic.operations import ops as alembic_ops

    from sqla_partition.migration.compare.citus import in_dependency_order

    def create(name):
        return alembic_ops.CreateTableOp(name, [])

    ops = [
        create("a_metrics"),
        DistributeTableOp("a_metrics", "tenant_id", colocate_with="tenants"),
        alembic_ops.CreateIndexOp("ix", "a_metrics", ["at"]),
        create("events"),
        create("tenants"),
        DistributeTableOp("tenants", "tenant_id", shard_count=4),
    ]
    deps = {("public", "a_metrics"): {("public", "tenants")}}
    names = [(type(op).__name__, op.table_name) for op in in_dependency_order(ops, deps, "public")]
    assert names == [
        ("CreateTableOp", "events"),
        ("CreateTableOp", "tenants"),
        ("DistributeTableOp", "tenants"),
        ("CreateTableOp", "a_metrics"),
        ("DistributeTableOp", "a_metrics"),
        ("CreateIndexOp", "a_metrics"),
    ]
