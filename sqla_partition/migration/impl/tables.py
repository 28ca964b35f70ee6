"""Creating and dropping partitioned tables, and partitioning a live table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic.operations import Operations

from ... import sql
from ...declaration.lists import List
from ...declaration.policies import Hash, TablePolicy
from ...errors import PolicyError
from ...planning import new_tables
from ...planning import roll as planner
from ...planning.lists import (
    new_list_table_records,
    new_list_table_statements,
    sub_policy_rows,
)
from ...sql.roll_lock import create_keys_table
from ..ops import (
    CreatePartitionedTableOp,
    DropPartitionedTableOp,
    PartitionExistingTableOp,
    UnpartitionTableOp,
)
from .common import (
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_RETRIES,
    back_to_session,
    bounded,
    implements,
    key_type_of,
    options_of,
    reporting,
    run_statements,
    spend_locks,
)

if TYPE_CHECKING:
    pass


def _no_implicit_spatial_indexes(table: sa.Table) -> None:
    """geoalchemy2 creates a spatial index after CREATE TABLE for each column declared with
    ``spatial_index=True``, while autogenerate (its writer or not) writes that index as an
    operation of its own: as its ``create_geospatial_table`` does, the table is made without
    it, so the migration's own operation makes it once."""
    for column in table.columns:
        if getattr(column.type, "spatial_index", False) is not True:
            continue
        column.type.spatial_index = False  # type: ignore[attr-defined]
        implicit = f"idx_{table.name}_{column.name}"  # the Index geoalchemy2 attached
        for index in list(table.indexes):
            if index.name == implicit and column in index.columns.values():
                table.indexes.remove(index)


@implements(CreatePartitionedTableOp)
def create_partitioned_table(operations: Operations, op: CreatePartitionedTableOp) -> sa.Table:
    table = op.to_table(operations.migration_context)
    _no_implicit_spatial_indexes(table)
    policy = TablePolicy(op.table_name, op.partitioning, key_type_of(op, table), op.schema)
    strategy = op.partitioning.kind
    if not (op.distributed and isinstance(op.partitioning, Hash)):
        by = sql.partition_by(strategy, op.partitioning.column)
        ctx = operations.migration_context
        if not ctx.as_sql and ctx.dialect.paramstyle in ("format", "pyformat"):
            by = by.replace("%", "%%")  # as the column's own name in the same statement is
        table.dialect_kwargs["postgresql_partition_by"] = by
    records: list[sql.Statement] = []
    ranged: list[str] = []  # partitions partitioned by Range in turn
    if isinstance(op.partitioning, Hash) and op.distributed:
        children = []  # Citus shards are its hash partitions (distribute_table follows)
    elif isinstance(op.partitioning, Hash):
        children = new_tables.new_table_statements(policy)
        records = new_tables.new_table_records(policy)
    elif isinstance(op.partitioning, List):
        children = new_list_table_statements(policy, op.start, op.until)
        records = new_list_table_records(policy, op.start, op.until)
    else:
        if op.start is None or op.until is None:
            raise PolicyError(
                f"{op.table_name}: create_partitioned_table needs start= and until= for a "
                "range table (autogenerate fills them in)"
            )
        start = planner.coerce_key(policy, op.start)
        until = planner.coerce_key(policy, op.until)
        window = _sub_window(policy, op)
        children = new_tables.new_table_statements(policy, start, until, window)
        records = new_tables.new_table_records(policy, start, until, sub_window=window)
        if window is not None:
            periods = new_tables.periods_between(policy, start, until)
            ranged = [policy.partition_name(p.suffix) for p in periods]
    per_table = 2 + len(table.indexes) + sum(1 for c in table.constraints if _is_index(c))
    spend_locks(operations, per_table * (len(children) + 1))
    with bounded(operations):
        if op.schema and op.schema == sql.tool_schema() != sql.POLICY_SCHEMA:
            run_statements(operations, [sql.create_tool_schema()])  # the trail's, say
        operations.impl.create_table(table)
        run_statements(operations, children)
        run_statements(
            operations,
            [
                sql.create_policy_table(),
                create_keys_table(),
                sql.create_record_table(),
                *sql.merge_rows(records),  # the partitions just made are the tool's
                sql.upsert_policy(
                    op.table_name, op.schema, op.partitioning.to_json(), policy.recorded_key_type
                ),
                *(
                    sub_policy_rows(policy, list(op.partitioning.partitions))
                    if isinstance(op.partitioning, List)
                    else ()
                ),
                *new_tables.range_sub_policy_rows(policy, ranged),
            ],
        )
    return table


def _sub_window(policy: TablePolicy, op: CreatePartitionedTableOp) -> tuple[Any, Any] | None:
    """The periods each partition partitioned by ``Range`` in turn starts with."""
    sub = policy.range_sub_policy(policy.table)
    if sub is None or op.sub_start is None or op.sub_until is None:
        return None
    return planner.coerce_key(sub, op.sub_start), planner.coerce_key(sub, op.sub_until)


def _is_index(constraint: Any) -> bool:
    return isinstance(constraint, (sa.PrimaryKeyConstraint, sa.UniqueConstraint))


@implements(DropPartitionedTableOp)
def drop_partitioned_table(operations: Operations, op: DropPartitionedTableOp) -> None:
    t, s = op.table_name, op.schema
    archives = {
        "refuse": [sql.refuse_archives(t, s)],
        "drop": [sql.drop_archives(t, s)],
        "keep": [],
    }[op.archives]
    with bounded(operations):
        run_statements(
            operations,
            [
                *archives,  # first: a refusal changes nothing
                sql.create_policy_table(),
                sql.delete_policy(t, s),
                sql.delete_partition_policies(t, s),
                sql.forget_partitions(t, s),  # while its partitions still name theirs
                sql.drop_partitioned_table(t, s),
                sql.drop_audit_functions_if_unused(),
                sql.drop_own_tables_if_unused(),
            ],
        )


@implements(PartitionExistingTableOp)
def partition_existing_table(operations: Operations, op: PartitionExistingTableOp) -> None:
    policy = TablePolicy(op.table_name, op.partitioning, op.key_type, op.schema)
    if op.key_type == "integer":
        raise PolicyError(
            f"{op.table_name}: converting a table with an integer key is not supported; "
            "declare a time key, or partition a new table and move the rows"
        )
    lower = planner.coerce_key(policy, op.legacy_until)
    upper = planner.coerce_key(policy, op.until)
    children = new_tables.new_table_statements(policy, lower, upper)
    ctx = operations.migration_context
    opts = options_of(ctx)
    lock = int(opts.get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    retries = int(opts.get("sqla_partition_retries", DEFAULT_RETRIES))
    col, s, t = op.partitioning.column, op.schema, op.table_name
    leftover, add, validate = sql.legacy_bound_check(t, s, col, lower, op.key_type)
    swap = sql.convert_to_partitioned(
        t, s, col, lower, op.key_type, children, lock_timeout_ms=lock, retries=retries
    )
    cleanup = sql.legacy_bound_cleanup(t, s)
    with ctx.autocommit_block(), reporting(ctx):
        run_statements(
            operations, sql.timeouts(lock, 0, local=False)
        )  # the validation scans the table
        run_statements(operations, [leftover, add])  # separate statements: autocommit
        try:
            run_statements(operations, [validate, swap])
        except Exception:
            if not ctx.as_sql:  # never leave the bound CHECK on a table still plain
                run_statements(operations, cleanup[:1])
            raise
        run_statements(operations, cleanup)
        run_statements(
            operations,
            [
                sql.create_policy_table(),
                create_keys_table(),
                sql.create_record_table(),
                *sql.merge_rows(
                    new_tables.new_table_records(
                        policy, lower, upper, legacy=(t + sql.LEGACY_SUFFIX, lower)
                    )
                ),
                sql.upsert_policy(t, s, op.partitioning.to_json(), op.key_type),
                *back_to_session(operations.migration_context),
            ],
        )


@implements(UnpartitionTableOp)
def unpartition_table(operations: Operations, op: UnpartitionTableOp) -> None:
    t, s = op.table_name, op.schema
    with bounded(operations):
        run_statements(
            operations,
            [
                sql.create_policy_table(),
                sql.create_record_table(),
                sql.forget_partitions(t, s),  # while its partitions still name theirs
                sql.unpartition(t, s),
                sql.delete_policy(t, s),
                sql.drop_own_tables_if_unused(),
            ],
        )
