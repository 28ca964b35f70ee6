"""The sample project's models: every kind of partitioned table, and a plain one."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_partition import Hash, Range, partition_table


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)


class Event(Base):
    __tablename__ = "events"
    __partitioning__ = Range(
        "created_at", interval="1 month", premake=3, retention="12 months", default=True
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), primary_key=True, server_default=sa.func.now()
    )
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(50))


class Reading(Base):
    __tablename__ = "readings"
    __partitioning__ = Range("taken_at", interval="1 day", premake=7, timezone="Europe/Berlin")

    sensor: Mapped[int] = mapped_column(primary_key=True)
    taken_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    value: Mapped[float]


class Session(Base):
    __tablename__ = "sessions"
    __partitioning__ = Hash("account_id", partitions=4)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(primary_key=True)


ledger = partition_table(
    sa.Table(
        "ledger",
        Base.metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("booked_on", sa.Date, primary_key=True),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
    ),
    Range("booked_on", interval="1 year", premake=1),
)

blobs = partition_table(
    sa.Table(
        "blobs",
        Base.metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("data", sa.LargeBinary),
    ),
    Range("id", interval=1_000_000, premake=2),
)
