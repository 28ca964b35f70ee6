"""Declaring policies: one line on a model or a Core table, clear errors for mistakes."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_partition import Hash, PolicyError, Range, partition_table, policy_of


class Base(DeclarativeBase):
    pass


def test_model_declaration_is_registered_and_sets_partition_by():
    class Reading(Base):
        __tablename__ = "readings"
        __partitioning__ = Range("taken_at", interval="1 day", premake=7, retention="90 days")
        id: Mapped[int] = mapped_column(primary_key=True)
        taken_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)

    bound = policy_of(Reading.__table__)
    assert bound is not None and bound.key_type == "timestamptz"
    assert bound.policy.premake == 7
    assert Reading.__table__.dialect_kwargs["postgresql_partition_by"] == "RANGE (taken_at)"


def test_core_table_declaration_and_key_types():
    md = sa.MetaData()
    t = partition_table(
        sa.Table("orders", md, sa.Column("id", sa.BigInteger), sa.Column("day", sa.Date)),
        Range("day", interval="1 year"),
    )
    assert policy_of(t).key_type == "date"
    ids = partition_table(
        sa.Table("blobs", md, sa.Column("id", sa.BigInteger, primary_key=True)),
        Range("id", interval=1_000_000, premake=2),
    )
    assert policy_of(ids).key_type == "integer"
    naive = partition_table(
        sa.Table("logs", md, sa.Column("at", sa.DateTime)), Range("at", interval="1 week")
    )
    assert policy_of(naive).key_type == "timestamp"
    h = partition_table(
        sa.Table("tenants", md, sa.Column("tenant_id", sa.Integer, primary_key=True)),
        Hash("tenant_id", partitions=16),
    )
    assert h.dialect_kwargs["postgresql_partition_by"] == "HASH (tenant_id)"


def test_primary_key_without_the_partition_key_says_what_to_add():
    with pytest.raises(PolicyError) as err:

        class Bad(Base):
            __tablename__ = "bad_pk"
            __partitioning__ = Range("created_at")
            id: Mapped[int] = mapped_column(primary_key=True)
            created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    message = str(err.value)
    assert "bad_pk" in message and "PRIMARY KEY (id)" in message
    assert "add 'created_at'" in message and "(id, created_at)" in message


def test_unique_constraint_and_unique_index_need_the_key_too():
    md = sa.MetaData()
    t = sa.Table(
        "u",
        md,
        sa.Column("id", sa.Integer),
        sa.Column("email", sa.String),
        sa.Column("at", sa.Date),
        sa.UniqueConstraint("email", name="u_email"),
    )
    with pytest.raises(PolicyError, match="UNIQUE u_email"):
        partition_table(t, Range("at"))
    t2 = sa.Table("u2", md, sa.Column("email", sa.String), sa.Column("at", sa.Date))
    sa.Index("u2_email", t2.c.email, unique=True)
    with pytest.raises(PolicyError, match="unique index u2_email"):
        partition_table(t2, Range("at"))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"interval": "1 fortnight"}, "unknown interval"),
        ({"interval": "0 hours"}, "longer than zero"),
        ({"premake": 0}, "premake=0 must be at least 1"),
        ({"premake": -3}, "at least 1"),
        ({"premake": 1.5}, "whole number"),
        ({"retention": "1 week"}, "shorter than one interval"),
        ({"retention": "soon"}, "unknown retention"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"on_expire": "delete"}, "on_expire"),
    ],
)
def test_bad_policies_are_refused_with_a_reason(kwargs, pattern):
    with pytest.raises(PolicyError, match=pattern):
        Range("created_at", **kwargs)


def test_hash_needs_two_partitions():
    with pytest.raises(PolicyError, match="at least 2"):
        Hash("tenant_id", partitions=1)
    with pytest.raises(PolicyError, match="whole number"):
        Hash("tenant_id", partitions="8")


def test_key_column_mistakes():
    md = sa.MetaData()
    t = sa.Table("k", md, sa.Column("name", sa.String), sa.Column("at", sa.Date))
    with pytest.raises(PolicyError, match="'created_at' is not a column; columns are name, at"):
        partition_table(t, Range("created_at"))
    with pytest.raises(PolicyError, match="use timestamptz, timestamp, date or an integer"):
        partition_table(t, Range("name"))
    with pytest.raises(PolicyError, match="integer interval"):
        partition_table(t, Range("at", interval=100))
    ints = sa.Table("k2", md, sa.Column("id", sa.Integer))
    with pytest.raises(PolicyError, match="integer column"):
        partition_table(ints, Range("id", interval="1 month"))


def test_names_over_63_bytes_are_refused_at_declaration():
    md = sa.MetaData()
    long_name = "measurements_of_the_northern_hemisphere_weather_stations"  # 56 bytes
    t = sa.Table(long_name, md, sa.Column("at", sa.DateTime(timezone=True)))
    with pytest.raises(PolicyError, match="63 bytes"):
        partition_table(t, Range("at", interval="1 day"))
    # a shorter prefix fixes it
    partition_table(t, Range("at", interval="1 day", partition_prefix="weather"))
    # multi-byte characters count in bytes, not characters
    t2 = sa.Table("ü" * 26, md, sa.Column("at", sa.DateTime(timezone=True)))
    with pytest.raises(PolicyError, match="bytes"):
        partition_table(t2, Range("at"))


def test_policy_round_trips_through_json_and_repr():
    from sqla_partition.declaration.policies import policy_from_dict

    r = Range(
        "created_at",
        interval="3 months",
        premake=2,
        retention="2 years",
        default=True,
        timezone="Europe/Berlin",
        on_expire="drop",
    )
    import json

    assert policy_from_dict(json.loads(r.to_json())) == r
    assert eval(repr(r), {"Range": Range}) == r
    assert repr(Range("ts")) == "Range('ts', interval='1 month', premake=3)"
    assert policy_from_dict({"kind": "hash", "column": "t", "partitions": 4}) == Hash("t", 4)


def test_hash_key_must_be_hashable():
    from sqlalchemy.dialects.postgresql import JSONB

    md = sa.MetaData()
    t = sa.Table("docs", md, sa.Column("body", sa.JSON, primary_key=True))
    with pytest.raises(PolicyError, match="cannot hash 'body'"):
        partition_table(t, Hash("body", partitions=4))
    ok = sa.Table("docs2", md, sa.Column("body", JSONB, primary_key=True))
    assert policy_of(partition_table(ok, Hash("body", partitions=4))) is not None


def test_a_partition_by_in_table_args_that_disagrees_is_refused():
    md = sa.MetaData()
    table = sa.Table(
        "events",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), primary_key=True),
        postgresql_partition_by="LIST (id)",
    )
    with pytest.raises(PolicyError, match="events: __table_args__ gives postgresql_partition_by"):
        partition_table(table, Range("at"))
    same = sa.Table(
        "same",
        md,
        sa.Column("at", sa.DateTime(timezone=True), primary_key=True),
        postgresql_partition_by="RANGE (at)",
    )
    assert partition_table(same, Range("at")).dialect_kwargs["postgresql_partition_by"] == (
        "RANGE (at)"
    )
