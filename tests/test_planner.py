"""The planner: pure, given a policy, a snapshot and a position in time."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqla_partition.catalog.snapshot import Child, Parent
from sqla_partition.declaration.policies import Hash, Range, TablePolicy
from sqla_partition.errors import PolicyError
from sqla_partition.planning.hash_split import hash_split
from sqla_partition.planning.new_tables import new_table_statements, periods_between
from sqla_partition.planning.roll import (
    coerce_key,
    initial_window,
    plan,
    position_from_clock,
)

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


def ts(y, m, d=1):
    return dt.datetime(y, m, d, tzinfo=UTC)


def parent_with(months: list[tuple[int, int]], default: bool = False) -> Parent:
    children = []
    for y, m in months:
        lo = ts(y, m)
        hi = ts(y + (m == 12), m % 12 + 1)
        children.append(
            Child(f"events_p{y}_{m:02d}", "public", "FOR VALUES FROM", lower=lo, upper=hi)
        )
    if default:
        children.append(Child("events_default", "public", "DEFAULT", is_default=True))
    return Parent("public", "events", "range", ("created_at",), "timestamptz", tuple(children))


def policy(**kw) -> TablePolicy:
    return TablePolicy("events", Range("created_at", **kw), "timestamptz")


def test_new_table_window_is_current_period_through_premake():
    p = policy(premake=3)
    start, until = initial_window(p, position_from_clock(p, NOW))
    assert (start, until) == (ts(2026, 11), ts(2027, 3))
    names = [s.sql.split()[5] for s in new_table_statements(p, start, until)]
    assert names == ["events_p2026_11", "events_p2026_12", "events_p2027_01", "events_p2027_02"]


def test_new_table_with_default_and_hash():
    p = policy(default=True)
    stmts = new_table_statements(p, ts(2026, 11), ts(2026, 12))
    assert stmts[-1].sql.endswith("PARTITION OF events DEFAULT")
    h = TablePolicy("tenants", Hash("tenant_id", partitions=4), "hash")
    sqls = [s.sql for s in new_table_statements(h)]
    assert sqls[3].endswith("FOR VALUES WITH (MODULUS 4, REMAINDER 3)")
    assert "tenants_h3" in sqls[3]


def test_roll_creates_only_missing_periods_with_check_and_attach():
    result = plan(policy(premake=3), parent_with([(2026, 11), (2026, 12)]), NOW)
    created = [s.partition for s in result.of_kind("create")]
    assert created == ["events_p2027_01", "events_p2027_02"]
    sqls = [st.sql for st in result.of_kind("create")[0].statements]
    assert sqls[0].startswith("CREATE TABLE public.events_p2027_01 (LIKE public.events")
    assert "ATTACH PARTITION public.events_p2027_01" in sqls[1]
    # new and empty: ATTACH's scan of it costs nothing, no CHECK needed; the record of
    # partitions says, in the same transaction, that the tool made it
    assert len(sqls) == 3
    assert sqls[2].startswith("INSERT INTO sqla_partition.sqla_partition_partitions")
    assert "'events_p2027_01'" in sqls[2] and "'attached'" in sqls[2]


def test_in_sync_table_gives_an_empty_plan():
    months = [(2026, 11), (2026, 12), (2027, 1), (2027, 2)]
    assert plan(policy(premake=3), parent_with(months), NOW).steps == ()


def test_catch_up_after_missed_runs_fills_the_gap():
    result = plan(policy(premake=1), parent_with([(2026, 5), (2026, 6)]), NOW)
    created = [s.partition for s in result.of_kind("create")]
    assert created[0] == "events_p2026_07" and created[-1] == "events_p2026_12"
    assert len(created) == 6


def test_retention_detaches_whole_expired_partitions_only():
    months = [(2025, m) for m in range(9, 13)] + [(2026, m) for m in range(1, 13)]
    result = plan(policy(retention="12 months"), parent_with(months), NOW)
    # cutoff 2025-11-27: September and October 2025 end before it, November does not
    assert [s.partition for s in result.of_kind("detach")] == ["events_p2025_09", "events_p2025_10"]
    for step in result.of_kind("detach"):
        # recorded as an archive once detached: the record says only what happened
        detach, then = (st.sql for st in step.statements)
        assert "CONCURRENTLY" in detach and "'detached'" in then
    assert result.of_kind("drop") == []


def test_default_partition_rules_out_concurrent_detach_and_drop_is_explicit():
    months = [(2025, 1), (2026, 11), (2026, 12), (2027, 1), (2027, 2)]
    result = plan(
        policy(retention="3 months", on_expire="drop", default=True),
        parent_with(months, default=True),
        NOW,
    )
    detach = result.of_kind("detach")
    assert len(detach) == 1 and "CONCURRENTLY" not in detach[0].statements[0].sql
    assert [s.partition for s in result.of_kind("drop")] == ["events_p2025_01"]
    create = plan(policy(premake=4, default=True), parent_with(months, default=True), NOW)
    step = create.of_kind("create")[0]
    rescue = step.statements
    # queries are held at the parent before the DEFAULT's lock: no insert is routed to the
    # DEFAULT, and no query planned with the old partitions reads the DEFAULT the rows left
    assert rescue[1].sql == "LOCK TABLE ONLY public.events IN ACCESS EXCLUSIVE MODE"
    assert rescue[1].holds_writers
    assert rescue[2].sql.startswith("LOCK TABLE public.events_default IN ACCESS EXCLUSIVE")
    assert rescue[3].sql.startswith("WITH moved AS (DELETE FROM public.events_default")
    assert "events_default" in rescue[4].lock
    # with the DEFAULT empty nothing moves: only writers wait
    quiet = [stmt.sql.split(" (")[0] for stmt in step.quiet]
    assert quiet == [
        "CREATE TABLE public.events_p2027_03",
        "LOCK TABLE ONLY public.events IN SHARE ROW EXCLUSIVE MODE;"[:-1],
        "LOCK TABLE public.events_default IN ACCESS EXCLUSIVE MODE",
        "ALTER TABLE public.events ATTACH PARTITION public.events_p2027_03 FOR VALUES FROM",
        "INSERT INTO sqla_partition.sqla_partition_partitions",
    ]


def test_interrupted_detach_is_finalized():
    base = parent_with([(2026, 11)])
    pending = Child(
        "events_p2025_01",
        "public",
        "FOR VALUES FROM",
        lower=ts(2025, 1),
        upper=ts(2025, 2),
        detach_pending=True,
    )
    parent = Parent(
        base.schema,
        base.name,
        base.strategy,
        base.key_columns,
        base.key_type,
        (*base.children, pending),
    )
    result = plan(policy(retention="12 months"), parent, NOW)
    assert [s.partition for s in result.of_kind("finalize_detach")] == ["events_p2025_01"]
    assert result.of_kind("detach") == []


def test_misaligned_existing_partition_is_left_alone_with_a_note():
    odd = Child(
        "events_legacy", "public", "FOR VALUES FROM", lower=ts(2026, 11, 15), upper=ts(2026, 12, 15)
    )
    parent = Parent("public", "events", "range", ("created_at",), "timestamptz", (odd,))
    result = plan(policy(premake=2), parent, NOW)
    assert "events_p2026_11" not in [s.partition for s in result.of_kind("create")]
    assert any("events_legacy" in n for n in result.notes)


@given(
    now=st.datetimes(
        min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    interval=st.sampled_from(["1 day", "1 week", "1 month", "3 months", "1 year"]),
    premake=st.integers(1, 12),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/Santiago", "Asia/Kolkata"]),
)
@settings(max_examples=150, deadline=None)
def test_roll_after_create_covers_now_through_premake(now, interval, premake, zone):
    p = TablePolicy(
        "events",
        Range("created_at", interval=interval, premake=premake, timezone=zone),
        "timestamptz",
    )
    start, until = initial_window(p, position_from_clock(p, now))
    periods = periods_between(p, start, until)
    assert len(periods) == premake + 1
    assert periods[0].lower <= now < periods[0].upper
    children = tuple(
        Child(p.partition_name(x.suffix), "public", "FOR VALUES FROM", lower=x.lower, upper=x.upper)
        for x in periods
    )
    parent = Parent("public", "events", "range", ("created_at",), "timestamptz", children)
    assert plan(p, parent, now).steps == ()  # the same planner agrees with itself


def test_coerce_key_reads_migration_strings_in_the_policy_timezone():
    berlin = TablePolicy("e", Range("at", timezone="Europe/Berlin"), "timestamptz")
    assert coerce_key(berlin, "2026-11-01") == dt.datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert coerce_key(TablePolicy("e", Range("at"), "date"), "2026-11-01") == dt.date(2026, 11, 1)
    assert coerce_key(TablePolicy("e", Range("id", interval=10), "integer"), "30") == 30


def test_schedule_horizon_stretches_premake_until_the_next_run():
    months = [(2026, 11), (2026, 12), (2027, 1), (2027, 2)]
    p = policy(premake=3)
    assert plan(p, parent_with(months), NOW).steps == ()
    # the next run is in three months: partitions must last three periods beyond it
    stretched = plan(p, parent_with(months), NOW, horizon=ts(2027, 2, 20))
    assert [s.partition for s in stretched.of_kind("create")] == [
        "events_p2027_03",
        "events_p2027_04",
        "events_p2027_05",
    ]


def test_too_sparse_schedule_is_reported():
    from sqla_partition.declaration.schedule import next_run, too_sparse

    assert next_run("15 3 * * *", NOW) == dt.datetime(2026, 11, 28, 3, 15, tzinfo=UTC)
    assert too_sparse("15 3 * * *", Range("created_at", premake=3), NOW) is None
    reason = too_sparse("0 0 1 1 *", Range("created_at", interval="1 day", premake=7), NOW)
    assert reason is not None and "premake=7" in reason


def hashed(partitions: int, prefix: str | None = None) -> TablePolicy:
    return TablePolicy("accounts", Hash("tenant_id", partitions, prefix), "hash")


@given(old=st.integers(2, 64), factor=st.integers(2, 5))
def test_hash_split_covers_every_new_remainder_exactly_once(old, factor):
    splits = hash_split(hashed(old), hashed(old * factor), ("tenant_id", "id"), ("tenant_id", "id"))
    assert [s.remainder for s in splits] == list(range(old))
    remainders = [t.remainder for s in splits for t in s.targets]
    assert sorted(remainders) == list(range(old * factor))
    for s in splits:
        # a row of old remainder r lands in a new remainder congruent to r (modulo old)
        assert all(t.remainder % old == s.remainder for t in s.targets)
        assert s.child == hashed(old).hash_name(s.remainder)
        finals = {t.final for t in s.targets}
        assert finals == {hashed(old * factor).hash_name(t.remainder) for t in s.targets}
        # a split table is never built under a name some partition still has
        live = {hashed(old).hash_name(r) for r in range(old)}
        assert not {t.build for t in s.targets} & live


def test_hash_split_names_and_refusals():
    (first, *_) = hash_split(hashed(16), hashed(32), ("tenant_id", "id"), ("tenant_id", "id"))
    assert (first.child, first.retired) == ("accounts_h00", "accounts_h00_old")
    assert [(t.remainder, t.build, t.final) for t in first.targets] == [
        (0, "accounts_h00_new", "accounts_h00"),
        (16, "accounts_h16", "accounts_h16"),
    ]
    (first, *_) = hash_split(hashed(8), hashed(16), ("tenant_id",), ("tenant_id",))
    assert [t.build for t in first.targets] == ["accounts_h00", "accounts_h08"]
    with pytest.raises(PolicyError, match="cannot shrink from 16 to 8"):
        hash_split(hashed(16), hashed(8), ("tenant_id",), ("tenant_id",))
    with pytest.raises(PolicyError, match="multiple of 16 such as 32"):
        hash_split(hashed(16), hashed(24), ("tenant_id",), ("tenant_id",))
    with pytest.raises(PolicyError, match="needs a primary key"):
        hash_split(hashed(2), hashed(4), ("tenant_id",), ())
    with pytest.raises(PolicyError, match="63 bytes"):
        hash_split(hashed(2, "x" * 57), hashed(4, "x" * 57), ("tenant_id",), ("tenant_id",))


def test_periods_behind_now_with_rows_in_the_default_are_planned_again():
    """A period a run could not fill (its backlog was too large) must come back once the
    clock has passed it; rows older than every partition are left to the operator."""
    months = [(2026, 8), (2026, 9), (2026, 11), (2026, 12), (2027, 1), (2027, 2)]
    parent = parent_with(months, default=True)
    plain = plan(policy(premake=3, default=True), parent, NOW)
    assert [s.partition for s in plain.of_kind("create")] == []
    behind = plan(policy(premake=3, default=True), parent, NOW, since=ts(2026, 10, 7))
    assert [s.partition for s in behind.of_kind("create")] == ["events_p2026_10"]
    far = plan(policy(premake=3, default=True), parent, NOW, since=ts(2019, 1, 1))
    assert [s.partition for s in far.of_kind("create")] == ["events_p2026_10"]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=900))
def test_since_only_fills_gaps_between_the_oldest_partition_and_the_premake(days):
    months = [(2026, 6), (2026, 11), (2026, 12), (2027, 1), (2027, 2)]
    since = ts(2024, 1, 1) + dt.timedelta(days=days)
    result = plan(policy(premake=3, default=True), parent_with(months, True), NOW, since=since)
    created = [(s.lower, s.upper) for s in result.of_kind("create")]
    for lower, upper in created:
        assert ts(2026, 6) <= lower and upper <= ts(2027, 3)  # inside the covered span
        assert not any(ts(y, m) == lower for y, m in months)  # never an existing period
    expected = {ts(2026, m) for m in range(7, 11) if ts(2026, m + 1) > since}
    assert {lower for lower, _ in created} == expected


def test_a_detached_partition_has_its_foreign_keys_dropped_unless_kept():
    months = [(2025, 1), (2026, 11), (2026, 12), (2027, 1), (2027, 2)]
    steps = plan(policy(retention="3 months"), parent_with(months), NOW).steps
    kinds = [(s.kind, s.partition) for s in steps if s.kind in ("detach", "unlink")]
    assert kinds == [("detach", "events_p2025_01"), ("unlink", "events_p2025_01")]
    unlink = next(s for s in steps if s.kind == "unlink").statements[0]
    assert (
        "DROP CONSTRAINT" in unlink.sql
        and "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits" in unlink.sql
    )
    kept = plan(policy(retention="3 months", keep_foreign_keys=True), parent_with(months), NOW)
    assert kept.of_kind("unlink") == [] and len(kept.of_kind("detach")) == 1
    dropped = plan(policy(retention="3 months", on_expire="drop"), parent_with(months), NOW)
    assert dropped.of_kind("unlink") == []  # the table goes anyway
    no_fks = dataclasses.replace(parent_with(months), has_foreign_keys=False)
    assert plan(policy(retention="3 months"), no_fks, NOW).of_kind("unlink") == []
