"""``sqla-partition split-legacy``: the legacy partition of a converted table, split into
the table's own periods while the application works.

The same steps as splitting a hash partition: the period tables are filled from the
legacy partition in batches while a trigger logs the keys written meanwhile, checked, and
swapped in for it in one short transaction. The oldest one also takes everything before
its period (``FROM (MINVALUE)``), as the legacy partition did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import sql
from ..catalog.connect import relayed_notices
from ..catalog.snapshot import Child, read_snapshot
from ..cron.messages import refuse_superuser
from ..declaration.periods import KeyValue
from ..declaration.policies import Range, TablePolicy
from ..errors import SqlaPartitionError
from ..sql import check_identifier


def _columns(conn: Any, table: str, schema: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    rows = conn.execute(sql.TABLE_KEYS_QUERY, {"table": sql.qualified(table, schema)}).fetchall()
    columns = tuple(r[0] for r in rows if not r[2])
    key = tuple(r[0] for r in rows if r[1])
    return columns, key


def plan_split(conn: Any, table: str, schema: str, **limits: int) -> sql.HashSplit:
    """The split of ``schema.table``'s legacy partition into the table's periods."""
    snap = read_snapshot(lambda q: conn.execute(q).fetchall(), table=(schema, table))
    parent = snap.parents.get((schema, table))
    if parent is None or parent.policy is None or not isinstance(parent.policy.policy, Range):
        raise SqlaPartitionError(
            f"{schema}.{table} is not a range-partitioned table with a recorded policy"
        )
    refuse_superuser(conn, snap.superuser, parent)  # its copies run the owner's code
    legacy = _legacy(parent.children, table)
    bound: TablePolicy = parent.policy
    if bound.schema != schema:
        bound = TablePolicy(table, bound.policy, bound.key_type, schema)
    column = bound.policy.column  # type: ignore[union-attr]
    oldest = conn.execute(sql.min_key_query(legacy.name, column, schema)).fetchone()[0]
    if oldest is None:
        raise SqlaPartitionError(
            f"{schema}.{legacy.name} holds no rows; detach and drop it instead of splitting it"
        )
    stepper = bound.stepper()
    upper: KeyValue = legacy.upper  # type: ignore[assignment]
    targets: list[sql.SplitTarget] = []
    records: list[str] = []
    period = stepper.period_of(oldest)
    while period.lower < upper:  # type: ignore[operator]
        end = min(period.upper, upper)  # type: ignore[type-var]
        name = bound.partition_name(period.suffix)
        first = not targets
        lower_sql = "MINVALUE" if first else sql.key_literal(period.lower, bound.key_type)
        where = sql.range_condition(column, None if first else period.lower, end, bound.key_type)
        targets.append(
            sql.SplitTarget(
                len(targets),
                name,
                name,
                where=where,
                bound=f"FOR VALUES FROM ({lower_sql}) TO ({sql.key_literal(end, bound.key_type)})",
            )
        )
        lower = None if first else period.lower
        records.append(sql.record_partition("attached", table, name, lower, end, schema).sql)
        period = stepper.following(period)
    records.append(sql.record_dropped(legacy.name, schema).sql)
    columns, key = _columns(conn, table, schema)
    if not key:
        raise SqlaPartitionError(
            f"{schema}.{table} has no primary key: the split keeps its copies current by it"
        )
    return sql.HashSplit(
        parent=table,
        schema=schema,
        column=column,
        columns=columns,
        primary_key=key,
        child=legacy.name,
        modulus=0,
        remainder=0,
        new_modulus=0,
        targets=tuple(targets),
        retired=check_identifier(f"{legacy.name}_old", "retired partition"),
        strategy="r",
        records=tuple(records),
        **limits,
    )


def _legacy(children: tuple[Child, ...], table: str) -> Child:
    found = [c for c in children if c.name == f"{table}{sql.LEGACY_SUFFIX}"]
    if not found or found[0].lower is not None or found[0].upper is None:
        raise SqlaPartitionError(
            f"{table} has no legacy partition ({table}{sql.LEGACY_SUFFIX}, FROM (MINVALUE)) "
            "to split: it was not converted by partition_existing_table, or it is split already"
        )
    return found[0]


def finish_done_split(conn: Any, table: str, schema: str) -> list[str] | None:
    """If ``schema.table`` was split already (no legacy partition, its oldest period taking
    everything before it, ``FROM (MINVALUE)``), drop what a run stopped right after its swap
    left behind and name it; ``None`` when the table was not split."""
    snap = read_snapshot(lambda q: conn.execute(q).fetchall(), table=(schema, table))
    parent = snap.parents.get((schema, table))
    if parent is None or parent.policy is None or not isinstance(parent.policy.policy, Range):
        return None
    ranges = parent.ranges()
    legacy = f"{table}{sql.LEGACY_SUFFIX}"
    if any(c.name == legacy for c in parent.children) or not ranges or ranges[0].lower is not None:
        return None
    leftover = sql.HashSplit(
        parent=table,
        schema=schema,
        column=parent.policy.policy.column,
        columns=(),
        primary_key=(),
        child=legacy,
        modulus=0,
        remainder=0,
        new_modulus=0,
        targets=(),
        retired=check_identifier(f"{legacy}_old", "retired partition"),
        strategy="r",
    )
    query = sql.split_leftovers_query(leftover.retired, leftover.log, schema)
    names = [leftover.retired, f"{leftover.log} (key log)", f"{leftover.log}() (trigger function)"]
    before = conn.execute(query).fetchone()
    for stmt in sql.split_cleanup(leftover):  # drops the old table only if the swap marked it
        conn.execute(stmt.sql)
    after = conn.execute(query).fetchone()
    if after[0]:
        raise SqlaPartitionError(
            f"{schema}.{table} is split, but {leftover.retired} is not the table its swap "
            "detached and marked; it was left alone: look at it, then drop or rename it"
        )
    return [name for name, was in zip(names, before, strict=True) if was]


def split_legacy(conn: Any, split: sql.HashSplit, log: Callable[[str], None]) -> None:
    """Run the split (psycopg 3, autocommit); each step checks where the split stands."""
    with relayed_notices(conn, log):
        for stmt in [
            *sql.timeouts(split.lock_timeout_ms, 0, local=False),
            sql.split_trigger_function(split),
            sql.split_prepare(split),
            sql.split_copy(split),
            sql.split_catch_up(split),
            sql.split_swap(split),
            *sql.split_cleanup(split),
            *sql.reset_timeouts(local=False),
        ]:
            conn.execute(stmt.sql)
