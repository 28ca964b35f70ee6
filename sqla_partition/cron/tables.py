"""Which managed tables a run works on, and the plan for each as the database is now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from typing import Any

import psycopg

from .. import sql
from ..catalog.snapshot import Parent, Snapshot, managed_range_parents, parse_range_bound
from ..declaration.policies import Range
from ..errors import SqlaPartitionError
from ..planning.roll import Plan, initial_window, plan, position_from_clock
from ..sql.catalog import sub_bounds_query
from ..sql.record import record_detached, recorded_names_query
from .placing import default_periods
from .session import one_line


def query_of(conn: psycopg.Connection) -> Callable[[str], list[tuple[Any, ...]]]:
    def run(q: str) -> list[tuple[Any, ...]]:
        return conn.execute(q).fetchall()  # type: ignore[arg-type]

    return run


def select_tables(snap: Snapshot, wanted: Sequence[str]) -> tuple[list[Parent], list[str]]:
    """Managed range tables to roll, and warnings; a named table that is not managed is an
    error, raised before anything changes."""
    if snap.citus_worker:
        raise SqlaPartitionError(
            "this is a Citus worker: the policies are recorded on the coordinator; point "
            "--database-url at the coordinator"
        )
    managed = managed_range_parents(snap)
    warnings = [
        f"{s}.{t}: a policy is recorded but the table does not exist"
        for (s, t) in snap.policies
        if (s, t) not in snap.parents and (s, t) not in snap.citus_tables
    ]
    for parent in managed:
        assert parent.policy is not None
        policy = parent.policy.policy
        assert isinstance(policy, Range)
        if parent.key_columns != (policy.column,):
            raise SqlaPartitionError(
                f"{parent.schema}.{parent.name}: the recorded policy partitions by "
                f"{policy.column!r} but the table is partitioned by "
                f"{', '.join(parent.key_columns)}; fix the policy with a migration"
            )
        if parent.key_type != parent.policy.key_type:
            raise SqlaPartitionError(
                f"{parent.schema}.{parent.name}: the recorded key type is "
                f"{parent.policy.key_type} but {policy.column!r} is {parent.key_type}"
            )
    if not wanted:
        return managed, warnings
    by_name = {}
    for p in managed:
        by_name[f"{p.schema}.{p.name}"] = p
        by_name.setdefault(p.name, p)
    chosen = []
    for name in wanted:
        if name not in by_name:
            known = ", ".join(sorted(f"{p.schema}.{p.name}" for p in managed)) or "none"
            raise SqlaPartitionError(
                f"{name}: not a range-partitioned table managed by sqla-partition "
                f"(managed: {known})"
            )
        chosen.append(by_name[name])
    return chosen, warnings


def _since_query(parent: Parent) -> str | None:
    """The oldest key waiting in the DEFAULT partition from the oldest partition on: rows a
    run could not move, whose period has passed (rows before the oldest partition are not
    for a plain roll: ``--place-default``)."""
    if parent.default is None:
        return None
    assert parent.policy is not None and isinstance(parent.policy.policy, Range)
    column, schema = parent.policy.policy.column, parent.schema
    lowers = [c.lower for c in parent.ranges() if c.lower is not None]
    if not lowers:
        return sql.min_key_query(parent.default.name, column, schema)
    lowest = min(lowers)  # type: ignore[type-var]
    return sql.next_key_query(parent.default.name, column, lowest, parent.policy.key_type, schema)


def waiting_since(conn: psycopg.Connection, parents: Sequence[Parent]) -> dict[Any, Any]:
    """:func:`_since_query` for many tables in a few round trips (a no-op run over a
    thousand tables must not pay one per table)."""
    out: dict[Any, Any] = {(p.schema, p.name): None for p in parents if p.default_empty}
    queries = [  # (a DEFAULT another session holds is read under its table's lock)
        (p, q)
        for p in parents
        if not p.default_empty and not p.default_locked and (q := _since_query(p)) is not None
    ]
    for i in range(0, len(queries), 200):
        chunk = queries[i : i + 200]
        union = sql.scalar_union([q for _, q in chunk])
        row = conn.execute(union).fetchone()  # type: ignore[call-overload]
        for (parent, _), value in zip(chunk, row or (), strict=True):
            out[(parent.schema, parent.name)] = value
    return out


_ASK = object()


def recorded_partitions(
    conn: psycopg.Connection, tables: Sequence[tuple[str, str]] | None = None
) -> dict[tuple[str, str], str]:
    """``(schema, name)`` of every partition in the record (of ``tables`` only, when
    given), with its state (only those ``attached`` may expire); none where the record
    does not exist."""
    if tables is not None and not tables:
        return {}
    exists = conn.execute(sql.record_exists_query()).fetchone()  # type: ignore[arg-type]
    if not exists or not exists[0]:
        return {}
    rows = conn.execute(recorded_names_query(tables)).fetchall()  # type: ignore[arg-type]
    return {(s, n): state for s, n, state in rows}


def record_detached_ones(
    conn: psycopg.Connection,
    snap: Snapshot,
    recorded: dict[tuple[str, str], str],
    warnings: list[str],
    tables: Sequence[tuple[str, str]] | None = None,
) -> dict[tuple[str, str], str]:
    """The record, with the partitions it calls attached that are no longer partitions
    (a run stopped between a DETACH and its record) recorded as detached; no write when
    every one is still attached. ``recorded`` holds the partitions of ``tables`` (of every
    table when ``None``), all of them in ``snap``."""
    children = {(c.schema, c.name) for p in snap.parents.values() for c in p.children}
    gone = [k for k, state in recorded.items() if state == "attached" and k not in children]
    if not gone:
        return recorded
    try:
        conn.execute(record_detached(gone).sql)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        warnings.append(f"could not record partitions detached earlier: {one_line(exc)}")
        return recorded
    return recorded_partitions(conn, tables)


def owned_partitions(conn: psycopg.Connection) -> frozenset[tuple[str, str]]:
    """``(schema, name)`` of every partition the record says the tool made and attached."""
    return frozenset(k for k, state in recorded_partitions(conn).items() if state == "attached")


def integer_position(conn: psycopg.Connection, parent: Parent) -> Any:
    """An integer key's "now": the largest key in the run of adjoining partitions that roll
    keeps (the one holding its highest partition not made by ``--place-default``).

    Rows in the DEFAULT never count (pg_partman does the same), nor do partitions placed
    for them far away: a stray id far ahead would otherwise create empty partitions up to
    it, and retention would then expire every partition of real rows. With no row in that
    run, its lowest partition's start (0 without partitions)."""
    assert parent.policy is not None and isinstance(parent.policy.policy, Range)
    ranges = sorted(
        (c for c in parent.ranges() if c.lower is not None and c.upper is not None),
        key=lambda c: c.lower,
    )
    if not ranges:
        return 0
    runs: list[list[Any]] = [[ranges[0]]]
    for child in ranges[1:]:
        if child.lower == runs[-1][-1].upper:
            runs[-1].append(child)
        else:
            runs.append([child])
    placed = set()
    if len(runs) > 1:
        query = sql.placed_partitions_query(parent.name, parent.schema)
        placed = {name for (name,) in conn.execute(query).fetchall()}  # type: ignore[call-overload]
    kept = [run for run in runs if any(c.name not in placed for c in run)] or runs
    run = kept[-1]
    newest_first = [c.name for c in reversed(run)]
    query = sql.max_key_query(newest_first, parent.policy.policy.column, parent.schema)
    row = conn.execute(query).fetchone()  # type: ignore[call-overload]
    return row[0] if row and row[0] is not None else run[0].lower


def plan_table(
    conn: psycopg.Connection,
    parent: Parent,
    now: dt.datetime,
    horizon: dt.datetime | None,
    *,
    record: bool = True,
    place: str | None = None,
    since: Any = _ASK,
    owned: Collection[tuple[str, str]] = frozenset(),
) -> Plan:
    """The table's plan as the database is now; ``since``: see :func:`waiting_since`
    (asked here unless given); ``owned``: the partitions the record says the tool made
    (:func:`owned_partitions`), the only ones retention expires."""
    assert parent.policy is not None and isinstance(parent.policy.policy, Range)
    policy = parent.policy
    if since is _ASK:
        query = _since_query(parent)
        row = conn.execute(query).fetchone() if query else None  # type: ignore[call-overload]
        since = row[0] if row else None
    if policy.by_data:
        position, limit = integer_position(conn, parent), None
    else:
        position = position_from_clock(policy, now)
        limit = position_from_clock(policy, horizon) if horizon is not None else None
    extra = default_periods(conn, parent) if place else []
    fill_from, archived = _gap_start(conn, parent)
    sub_window = _sub_window(conn, parent, now)
    return plan(
        policy,
        parent,
        position,
        horizon=limit,
        since=since,
        record=record,
        extra=extra,
        extra_expired=place == "archive",
        owned=owned,
        fill_from=fill_from,
        archived=archived,
        sub_window=sub_window,
    )


def _gap_start(conn: psycopg.Connection, parent: Parent) -> tuple[Any, frozenset[str]]:
    """Where the partitions roll keeps begin, when a period is missing among them, and the
    archives of the table (a period detached on purpose is no gap); ``(None, ())`` without
    a gap, at no cost. Partitions ``--place-default`` made for outliers do not count."""
    ranges = sorted(
        (c for c in parent.ranges() if c.lower is not None and c.upper is not None),
        key=lambda c: c.lower,
    )
    if not any(a.upper < b.lower for a, b in zip(ranges, ranges[1:], strict=False)):
        return None, frozenset()
    query = sql.placed_partitions_query(parent.name, parent.schema)
    placed = {name for (name,) in conn.execute(query).fetchall()}  # type: ignore[call-overload]
    kept = [c for c in ranges if c.name not in placed]
    archived: frozenset[str] = frozenset()
    if conn.execute(sql.record_exists_query()).fetchone()[0]:  # type: ignore[call-overload,index]
        rows = conn.execute(sql.archive_names_query()).fetchall()  # type: ignore[call-overload]
        archived = frozenset(name for schema, name in rows if schema == parent.schema)
    return (kept[0].lower if kept else None), archived


def _sub_window(conn: psycopg.Connection, parent: Parent, now: dt.datetime) -> Any:
    """The first periods of a new partition partitioned by ``Range`` in turn: from the
    clock for a time key; for an integer key (whose position is its rows, none yet), the
    span its siblings cover, so each period's partition starts with the ranges in use."""
    assert parent.policy is not None
    sub = parent.policy.range_sub_policy(parent.name)
    if sub is None:
        return None
    if not sub.by_data:
        return initial_window(sub, position_from_clock(sub, now))
    rows = conn.execute(sub_bounds_query(parent.name, parent.schema)).fetchall()  # type: ignore[call-overload]
    spans = [parse_range_bound(bound, "integer") for (bound,) in rows]
    spans = [s for s in spans if s is not None]
    if not spans:
        return initial_window(sub, 0)
    return min(lo for lo, _ in spans), max(hi for _, hi in spans)
