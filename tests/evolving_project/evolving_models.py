"""A project that uses every strategy and the plugins applications run beside the tool,
through three versions (``EVOLVING_VERSION``): an audited range table with a DEFAULT, a
list table, a hash table, an enum (alembic-postgresql-enum) and a function
(alembic_utils); then a new enum value and a list partition for that region; then the
hash table split. (An enum as the list key keeps a value a downgrade removes, which
PostgreSQL cannot take out of a partition key's type: tests/test_lists.py has that case.)"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic_utils.pg_function import PGFunction
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_partition import Audit, Hash, List, Range

VERSION = int(os.environ.get("EVOLVING_VERSION", "3"))
REGIONS = ["de", "fr", "us"] + (["jp"] if VERSION >= 2 else [])


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    region = mapped_column(sa.Enum(*REGIONS, name="region"), nullable=False)


class Event(Base):
    __tablename__ = "events"
    __partitioning__ = Range("created_at", premake=2, retention="12 months", default=True)
    __audit__ = Audit(trail=True)
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    created_at = mapped_column(
        sa.DateTime(timezone=True), primary_key=True, server_default=sa.func.now()
    )
    account_id = mapped_column(sa.ForeignKey("accounts.id"), nullable=False)


class Order(Base):
    __tablename__ = "orders"
    __partitioning__ = List(
        "region",
        partitions={"eu": ["de", "fr"], "us": ["us"], **({"asia": ["jp"]} if VERSION >= 2 else {})},
        default=True,
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    region: Mapped[str] = mapped_column(sa.Text, primary_key=True)


class Shard(Base):
    __tablename__ = "shards"
    __partitioning__ = Hash("tenant_id", partitions=8 if VERSION >= 3 else 4)
    tenant_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)


ENTITIES = [
    PGFunction(
        schema="public",
        signature="answer()",
        definition="RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 42 $$",
    )
]
