"""The SQL module: quoting matches SQLAlchemy's, and every statement parses with pglast."""

from __future__ import annotations

import datetime as dt

import pglast
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from sqla_partition import sql
from sqla_partition.errors import PolicyError

PREPARER = postgresql.dialect().identifier_preparer
UTC = dt.timezone.utc


@given(st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s))
def test_ident_quotes_like_sqlalchemy(name):
    if len(name.encode()) > 63:
        return
    assert sql.ident(name) == PREPARER.quote(name).replace("%%", "%")


@pytest.mark.parametrize("name", ["events", "Events", "user", "order", "my table", 'a"b', "1x"])
def test_ident_examples(name):
    assert sql.ident(name) == PREPARER.quote(name).replace("%%", "%")


def test_ident_refuses_truncated_names():
    with pytest.raises(PolicyError, match="64 bytes"):
        sql.ident("x" * 64)


def test_literals_carry_offsets_and_types():
    ts = dt.datetime(2026, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert sql.key_literal(ts, "timestamptz") == "'2026-11-01 00:00:00+01:00'"
    assert sql.key_literal(dt.datetime(2026, 11, 1), "timestamp") == "'2026-11-01 00:00:00'"
    assert sql.key_literal(dt.date(2026, 11, 1), "date") == "'2026-11-01'"
    assert sql.key_literal(10**12, "integer") == "1000000000000"
    assert sql.string_literal("it's") == "'it''s'"
    with pytest.raises(TypeError):
        sql.key_literal("1; DROP TABLE x", "integer")


def all_statements() -> list[sql.Statement]:
    lo, hi = dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC)
    return [
        sql.set_lock_timeout(5000),
        sql.reset_lock_timeout(),
        sql.create_range_partition_of("events", "events_p2026_11", lo, hi, "timestamptz", None),
        sql.create_default_partition_of("events", "events_default", "app"),
        sql.create_hash_partition_of("Tenants", "Tenants_h03", 16, 3),
        sql.create_detached_child("events", "events_p2026_11"),
        sql.add_bound_check("events_p2026_11", "created_at", lo, hi, "timestamptz"),
        sql.add_bound_check("ids_p1", "id", 0, 1000, "integer", "app"),
        sql.drop_bound_check("events_p2026_11"),
        sql.attach_range_partition(
            "events", "events_p2026_11", lo, hi, "timestamptz", None, "events_default"
        ),
        sql.attach_default_partition("events", "events_default"),
        sql.detach_partition("events", "events_p2025_01", concurrently=True),
        sql.detach_partition("events", "events_p2025_01", concurrently=False),
        sql.detach_finalize("events", "events_p2025_01"),
        sql.drop_table("events_p2025_01"),
        sql.drop_partitioned_table("events", "app"),
        sql.create_policy_table(),
        sql.upsert_policy("events", None, '{"kind": "range", "note": "it\'s"}', "timestamptz"),
        sql.delete_policy("events", "app"),
    ]


@pytest.mark.parametrize("stmt", all_statements(), ids=lambda s: s.sql[:40])
def test_every_statement_parses_and_names_its_lock(stmt):
    tree = pglast.parse_sql(stmt.annotated())
    assert len(tree) == 1
    assert stmt.lock
    assert stmt.annotated().startswith("-- ")


def test_queries_parse():
    for q in (
        sql.catalog_query(),
        sql.policy_query(),
        sql.partition_state_query("events", "events_p1", "app"),
    ):
        assert pglast.parse_sql(q)


def test_only_concurrent_detach_runs_outside_a_transaction():
    outside = [s for s in all_statements() if not s.transactional]
    assert all("CONCURRENTLY" in s.sql or "FINALIZE" in s.sql for s in outside)
    assert len(outside) == 2


def test_split_statements_survive_names_that_contain_dollar_quotes():
    from sqla_partition.declaration.policies import Hash, TablePolicy
    from sqla_partition.planning.hash_split import hash_split

    (split, *_) = hash_split(
        TablePolicy("t$do$", Hash("k$fn$", 2), "hash", "s$x"),
        TablePolicy("t$do$", Hash("k$fn$", 4), "hash", "s$x"),
        ("k$fn$", "v"),
        ("k$fn$",),
    )
    statements = [
        sql.split_trigger_function(split),
        sql.split_prepare(split),
        sql.split_copy(split),
        sql.split_catch_up(split),
        sql.split_swap(split),
        *sql.split_cleanup(split),
    ]
    for stmt in statements:
        parsed = pglast.parse_sql(stmt.sql)
        assert len(parsed) == 1  # one statement each: no quote ended early
    assert "$do1$" in statements[1].sql
