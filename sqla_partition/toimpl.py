"""What each operation executes: statements from :mod:`sqla_partition.sql`, nothing read.

Statements go through ``DDL`` constructs so ``alembic upgrade --sql`` prints them as they
would run, each with a comment naming the lock it takes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.schema import DDL

from . import audit as audit_sql
from . import planner, sql
from .connect import relayed_notices
from .declare import key_type_of_column
from .errors import PolicyError
from .ops import (
    AttachPartitionOp,
    CreateIndexOnlineOp,
    CreatePartitionedIndexOp,
    CreatePartitionedTableOp,
    CreateRangePartitionOp,
    DetachPartitionOp,
    DisableAuditOp,
    DistributeTableOp,
    DropPartitionedTableOp,
    DropPartitionOp,
    EnableAuditOp,
    PartitionExistingTableOp,
    RecommendedOp,
    ReindexOp,
    SetPartitionPolicyOp,
    SplitHashPartitionsOp,
    UndistributeTableOp,
)
from .specs import Hash, TablePolicy

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

#: Lock-table entries one transaction may take before a create operation commits and
#: starts a new transaction. PostgreSQL shares max_locks_per_transaction (64) x
#: max_connections (100) entries between all sessions; a first migration that creates
#: hundreds of partitioned tables would otherwise fail with "out of shared memory".
DEFAULT_LOCK_BUDGET = 2000
DEFAULT_LOCK_TIMEOUT_MS = 5000
DEFAULT_STATEMENT_TIMEOUT_MS = 600_000
DEFAULT_RETRIES = 5
#: Blocks of the old partition copied per transaction while splitting (2 MB at 8 kB).
DEFAULT_SPLIT_BATCH_BLOCKS = 256

log = logging.getLogger("sqla_partition")


def _opts(ctx: MigrationContext) -> dict[str, Any]:
    return ctx.opts


def _run(operations: Operations, statements: Iterable[sql.Statement]) -> None:
    for stmt in statements:
        operations.execute(DDL(stmt.annotated().replace("%", "%%")))


@contextlib.contextmanager
def _bounded(operations: Operations, *, local: bool = True) -> Iterator[None]:
    """Timeouts for this operation's statements only, restored afterwards."""
    opts = _opts(operations.migration_context)
    lock = int(opts.get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    limit = int(opts.get("sqla_partition_statement_timeout", DEFAULT_STATEMENT_TIMEOUT_MS))
    _run(operations, sql.timeouts(lock, limit, local=local))
    yield
    _run(operations, sql.reset_timeouts(local=local))


def _can_checkpoint(ctx: MigrationContext) -> bool:
    """Only a transaction Alembic began may be committed early; a caller's is left alone."""
    if ctx.as_sql:
        return bool(ctx.impl.transactional_ddl)
    return not ctx._in_external_transaction and ctx._transaction is not None


def _spend_locks(operations: Operations, entries: int) -> None:
    """Commit between tables once a transaction has taken ``budget`` lock entries."""
    ctx = operations.migration_context
    budget = int(_opts(ctx).get("sqla_partition_lock_budget", DEFAULT_LOCK_BUDGET))
    used = getattr(ctx, "_sqla_partition_locks", 0)
    if used and used + entries > budget and _can_checkpoint(ctx):
        with ctx.autocommit_block():
            pass
        used = 0
    ctx._sqla_partition_locks = used + entries  # type: ignore[attr-defined]


def _key_type(op: CreatePartitionedTableOp, table: sa.Table) -> str:
    if isinstance(op.partitioning, Hash):
        return "hash"
    if op.key_type:
        return op.key_type
    column = table.c.get(op.partitioning.column)
    if column is None:
        raise PolicyError(
            f"{op.table_name}: partition key {op.partitioning.column!r} is not a column"
        )
    return key_type_of_column(table, column)


@Operations.implementation_for(CreatePartitionedTableOp)
def create_partitioned_table(operations: Operations, op: CreatePartitionedTableOp) -> sa.Table:
    table = op.to_table(operations.migration_context)
    policy = TablePolicy(op.table_name, op.partitioning, _key_type(op, table), op.schema)
    strategy = "hash" if isinstance(op.partitioning, Hash) else "range"
    if not (op.distributed and isinstance(op.partitioning, Hash)):
        table.dialect_kwargs["postgresql_partition_by"] = sql.partition_by(
            strategy, op.partitioning.column
        )
    if isinstance(op.partitioning, Hash) and op.distributed:
        children = []  # Citus shards are its hash partitions (distribute_table follows)
    elif isinstance(op.partitioning, Hash):
        children = planner.new_table_statements(policy)
    else:
        if op.start is None or op.until is None:
            raise PolicyError(
                f"{op.table_name}: create_partitioned_table needs start= and until= for a "
                "range table (autogenerate fills them in)"
            )
        start = planner.coerce_key(policy, op.start)
        until = planner.coerce_key(policy, op.until)
        children = planner.new_table_statements(policy, start, until)
    per_table = 2 + len(table.indexes) + sum(1 for c in table.constraints if _is_index(c))
    _spend_locks(operations, per_table * (len(children) + 1))
    with _bounded(operations):
        operations.impl.create_table(table)
        _run(operations, children)
        _run(
            operations,
            [
                sql.create_policy_table(),
                sql.upsert_policy(
                    op.table_name, op.schema, op.partitioning.to_json(), policy.key_type
                ),
            ],
        )
    return table


def _is_index(constraint: Any) -> bool:
    return isinstance(constraint, (sa.PrimaryKeyConstraint, sa.UniqueConstraint))


@Operations.implementation_for(DropPartitionedTableOp)
def drop_partitioned_table(operations: Operations, op: DropPartitionedTableOp) -> None:
    with _bounded(operations):
        _run(
            operations,
            [
                sql.create_policy_table(),
                sql.delete_policy(op.table_name, op.schema),
                sql.drop_partitioned_table(op.table_name, op.schema),
            ],
        )


def _bound(value: Any, key_type: str) -> Any:
    """Bounds arrive from migration files as ISO strings or Python values."""
    if key_type == "integer":
        return int(value)
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value.strip())
    elif isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime(value.year, value.month, value.day)
    if key_type == "timestamptz":
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return parsed
    if key_type == "timestamp":
        return parsed.replace(tzinfo=None)
    return parsed.date()


def _require(op: Any, *names: str) -> None:
    missing = [n for n in names if getattr(op, n) is None]
    if missing:
        raise PolicyError(
            f"{op.table_name}.{op.partition_name}: {', '.join(missing)} must be given"
        )


def _attach(operations: Operations, op: CreateRangePartitionOp | AttachPartitionOp) -> None:
    _require(op, "lower", "upper", "column")
    lower, upper = _bound(op.lower, op.key_type), _bound(op.upper, op.key_type)
    t, p, s, k = op.table_name, op.partition_name, op.schema, op.key_type
    stmts = []
    new = isinstance(op, CreateRangePartitionOp)
    if new:
        stmts.append(sql.create_detached_child(t, p, s))
    else:  # an existing table may carry the CHECK of an earlier attachment
        stmts.append(sql.drop_bound_check(p, s))
    if op.default_partition:  # rows of the range move out of the DEFAULT first
        stmts += [
            sql.lock_default(op.default_partition, s),
            sql.move_rows(op.default_partition, p, op.column, lower, upper, k, s),  # type: ignore[arg-type]
        ]
    if not new:  # a table new in this transaction holds only rows just moved in: no CHECK
        stmts.append(sql.add_bound_check(p, op.column, lower, upper, k, s, existing=True))  # type: ignore[arg-type]
    stmts.append(sql.attach_range_partition(t, p, lower, upper, k, s, op.default_partition))
    with _bounded(operations):
        _run(operations, stmts)


@Operations.implementation_for(CreateRangePartitionOp)
def create_range_partition(operations: Operations, op: CreateRangePartitionOp) -> None:
    _attach(operations, op)


@Operations.implementation_for(AttachPartitionOp)
def attach_partition(operations: Operations, op: AttachPartitionOp) -> None:
    _attach(operations, op)


def _detach(operations: Operations, op: DetachPartitionOp | DropPartitionOp) -> None:
    concurrently = op.concurrently
    if concurrently is None:
        concurrently = op.default_partition is None
    if concurrently and op.default_partition:
        raise PolicyError(
            f"{op.table_name}: DETACH ... CONCURRENTLY is refused while a DEFAULT partition "
            f"({op.default_partition}) exists; pass concurrently=False"
        )
    stmt = sql.detach_partition(
        op.table_name,
        op.partition_name,
        op.schema,
        concurrently=concurrently,
        default=op.default_partition,
    )
    if not concurrently:
        with _bounded(operations):
            _run(operations, [stmt])
        return
    ctx = operations.migration_context
    with ctx.autocommit_block():
        state = None if ctx.as_sql else _partition_state(ctx, op)
        if state == "detached":
            return  # a rerun after the block was applied: nothing left to do
        if state == "pending":
            stmt = sql.detach_finalize(op.table_name, op.partition_name, op.schema)
        with _bounded(operations, local=False):
            _run(operations, [stmt])


def _partition_state(ctx: MigrationContext, op: Any) -> str:
    """Online only: whether an earlier, interrupted run already (half) detached it."""
    assert ctx.connection is not None
    row = ctx.connection.exec_driver_sql(
        sql.partition_state_query(op.table_name, op.partition_name, op.schema)
    ).first()
    if row is None:
        return "detached"
    return "pending" if row[0] else "attached"


@Operations.implementation_for(DetachPartitionOp)
def detach_partition(operations: Operations, op: DetachPartitionOp) -> None:
    _detach(operations, op)


@Operations.implementation_for(DropPartitionOp)
def drop_partition(operations: Operations, op: DropPartitionOp) -> None:
    _detach(operations, op)
    with _bounded(operations):
        _run(operations, [sql.drop_table(op.partition_name, op.schema)])


@Operations.implementation_for(SetPartitionPolicyOp)
def set_partition_policy(operations: Operations, op: SetPartitionPolicyOp) -> None:
    stmts = [sql.create_policy_table()]
    bound = op.bound()
    if bound is None:
        stmts.append(sql.delete_policy(op.table_name, op.schema))
    else:
        stmts.append(
            sql.upsert_policy(op.table_name, op.schema, bound.policy.to_json(), bound.key_type)
        )
    with _bounded(operations):  # the row may be locked by a roll recording its run
        _run(operations, stmts)


def _reporting(ctx: MigrationContext) -> contextlib.AbstractContextManager[None]:
    """Log the progress notices of long statements (online, psycopg 3 connections)."""
    conn = None if ctx.as_sql else ctx.connection
    raw = getattr(getattr(conn, "connection", None), "driver_connection", None)
    return relayed_notices(raw, lambda text: log.info("%s", text))


@Operations.implementation_for(SplitHashPartitionsOp)
def split_hash_partitions(operations: Operations, op: SplitHashPartitionsOp) -> None:
    opts = _opts(operations.migration_context)
    old = dataclasses.replace(op.partitioning, partitions=op.old_partitions)
    splits = planner.hash_split(
        TablePolicy(op.table_name, old, "hash", op.schema),
        TablePolicy(op.table_name, op.partitioning, "hash", op.schema),
        op.columns,
        op.primary_key,
        lock_timeout_ms=int(opts.get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS)),
        retries=int(opts.get("sqla_partition_retries", DEFAULT_RETRIES)),
        batch_blocks=int(opts.get("sqla_partition_split_batch_blocks", DEFAULT_SPLIT_BATCH_BLOCKS)),
    )
    # The copy is one statement per partition and may take long; its batches are bounded.
    limit = int(opts.get("sqla_partition_split_statement_timeout", 0))
    lock = int(opts.get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    ctx = operations.migration_context
    with ctx.autocommit_block(), _reporting(ctx):
        _run(operations, sql.timeouts(lock, limit, local=False))
        for split in splits:
            _run(
                operations,
                [
                    sql.split_trigger_function(split),
                    sql.split_prepare(split),
                    sql.split_copy(split),
                    sql.split_catch_up(split),
                    sql.split_swap(split),
                    *sql.split_cleanup(split),
                ],
            )
        _run(
            operations,
            [
                sql.split_finished(op.table_name, op.schema, op.partitioning.partitions),
                sql.create_policy_table(),
                sql.upsert_policy(op.table_name, op.schema, op.partitioning.to_json(), "hash"),
                *sql.reset_timeouts(local=False),
            ],
        )


@Operations.implementation_for(DistributeTableOp)
def distribute_table(operations: Operations, op: DistributeTableOp) -> None:
    if op.reference:
        stmt = sql.create_reference_table(op.table_name, op.schema)
    else:
        assert op.column is not None
        stmt = sql.create_distributed_table(
            op.table_name,
            op.column,
            op.schema,
            colocate_with=op.colocate_with,
            shard_count=op.shard_count,
        )
    with _bounded(operations):
        _run(operations, [stmt])


@Operations.implementation_for(UndistributeTableOp)
def undistribute_table(operations: Operations, op: UndistributeTableOp) -> None:
    with _bounded(operations):
        _run(operations, [sql.undistribute_table(op.table_name, op.schema)])


@Operations.implementation_for(EnableAuditOp)
def enable_audit(operations: Operations, op: EnableAuditOp) -> None:
    audit, t, s = op.audit, op.table_name, op.schema
    stmts = [*sql.create_audit_functions()]
    if op.old is not None and op.old.trail and not audit.trail:
        stmts += sql.drop_audit_triggers(t, s, trail=True)[1:]
        stmts.append(sql.drop_trail_function(t, s))
    recorded = audit_sql.recorded_settings(audit, op.columns)
    stmts += sql.create_audit_trigger(t, s, recorded, audit_sql.column_args(audit))
    if audit.trail:
        stmts += sql.create_trail_function(t, s, op.primary_key)
        stmts += sql.create_trail_triggers(t, s, audit_sql.trail_args(audit, op.primary_key))
    with _bounded(operations):
        _run(operations, stmts)


@Operations.implementation_for(DisableAuditOp)
def disable_audit(operations: Operations, op: DisableAuditOp) -> None:
    stmts = sql.drop_audit_triggers(op.table_name, op.schema, trail=op.audit.trail)
    if op.audit.trail:
        stmts.append(sql.drop_trail_function(op.table_name, op.schema))
    with _bounded(operations):
        _run(operations, stmts)


def _partition_tree(
    ctx: MigrationContext, op: CreatePartitionedIndexOp
) -> list[tuple[str, str, bool]]:
    """``(partition, parent, partitioned)`` from the database online, else as captured."""
    if ctx.as_sql or ctx.connection is None:
        return [(str(n), str(p), bool(k)) for n, p, k in op.partitions]
    table = sql.qualified(op.table_name, op.schema)
    rows = ctx.connection.exec_driver_sql(sql.PARTITION_TREE_QUERY, {"table": table})
    return [(name, parent, bool(partitioned)) for name, partitioned, parent in rows]


def _invalid_indexes(
    ctx: MigrationContext, op: CreatePartitionedIndexOp, names: list[str]
) -> set[str]:
    """Online: partition indexes an interrupted run left invalid (built again)."""
    if ctx.as_sql or ctx.connection is None or not names:
        return set()
    schema = op.schema or ctx.dialect.default_schema_name or "public"
    rows = ctx.connection.exec_driver_sql(
        sql.INDEX_STATE_QUERY, {"schema": sql.ident(schema), "names": names}
    )
    return {name for name, valid in rows if not valid}


def _create_index_online(operations: Operations, op: CreatePartitionedIndexOp) -> None:
    """A table that is not partitioned: one ``CREATE INDEX CONCURRENTLY``."""
    ctx = operations.migration_context
    opts = {"unique": op.unique, "using": op.postgresql_using}
    invalid = _invalid_indexes(ctx, op, [op.index_name])
    lock = int(_opts(ctx).get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    limit = int(_opts(ctx).get("sqla_partition_index_statement_timeout", 0))
    with ctx.autocommit_block():
        stmts = [*sql.timeouts(lock, limit, local=False)]
        if invalid:
            stmts.append(sql.drop_invalid_index(op.index_name, op.schema))
        stmts += [
            sql.create_index_concurrently(
                op.index_name, op.table_name, op.columns, op.schema, **opts
            ),
            sql.index_valid_check(op.index_name, op.schema),
            *sql.reset_timeouts(local=False),
        ]
        _run(operations, stmts)


@Operations.implementation_for(CreateIndexOnlineOp)
def create_index_online(operations: Operations, op: CreateIndexOnlineOp) -> None:
    _create_index_online(operations, op)


@Operations.implementation_for(ReindexOp)
def reindex_index(operations: Operations, op: ReindexOp) -> None:
    ctx = operations.migration_context
    lock = int(_opts(ctx).get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    limit = int(_opts(ctx).get("sqla_partition_index_statement_timeout", 0))
    with ctx.autocommit_block():
        _run(
            operations,
            [
                *sql.timeouts(lock, limit, local=False),
                sql.reindex_concurrently(op.index_name, op.schema),
                *sql.reset_timeouts(local=False),
            ],
        )


@Operations.implementation_for(RecommendedOp)
def recommended(operations: Operations, op: RecommendedOp) -> None:
    operations.invoke(op.op)


@Operations.implementation_for(CreatePartitionedIndexOp)
def create_partitioned_index(operations: Operations, op: CreatePartitionedIndexOp) -> None:
    ctx = operations.migration_context
    s, cols = op.schema, op.columns
    opts = {"unique": op.unique, "using": op.postgresql_using}
    with _bounded(operations):
        _run(operations, [sql.create_index_on_only(op.index_name, op.table_name, cols, s, **opts)])

    def index_of(table: str) -> str:
        if table == op.table_name:
            return op.index_name
        return sql.partition_index_name(op.index_name, table, cols)

    tree = _partition_tree(ctx, op)
    invalid = _invalid_indexes(ctx, op, [index_of(n) for n, _, p in tree if not p])
    lock = int(_opts(ctx).get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    limit = int(_opts(ctx).get("sqla_partition_index_statement_timeout", 0))
    with ctx.autocommit_block():
        _run(operations, sql.timeouts(lock, limit, local=False))
        for name, _parent, partitioned in tree:  # parents before their partitions
            if partitioned:
                _run(operations, [sql.create_index_on_only(index_of(name), name, cols, s, **opts)])
        for name, parent, partitioned in reversed(tree):  # partitions before their parents
            stmts = []
            if not partitioned:
                if index_of(name) in invalid:
                    stmts.append(sql.drop_invalid_index(index_of(name), s))
                stmts.append(sql.create_index_concurrently(index_of(name), name, cols, s, **opts))
            stmts.append(sql.attach_index(index_of(parent), index_of(name), s, (parent, name)))
            _run(operations, stmts)
        _run(
            operations, [sql.index_valid_check(op.index_name, s), *sql.reset_timeouts(local=False)]
        )


@Operations.implementation_for(PartitionExistingTableOp)
def partition_existing_table(operations: Operations, op: PartitionExistingTableOp) -> None:
    policy = TablePolicy(op.table_name, op.partitioning, op.key_type, op.schema)
    if op.key_type == "integer":
        raise PolicyError(
            f"{op.table_name}: converting a table with an integer key is not supported; "
            "declare a time key, or partition a new table and move the rows"
        )
    lower = planner.coerce_key(policy, op.legacy_until)
    upper = planner.coerce_key(policy, op.until)
    children = planner.new_table_statements(policy, lower, upper)
    ctx = operations.migration_context
    opts = _opts(ctx)
    lock = int(opts.get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    retries = int(opts.get("sqla_partition_retries", DEFAULT_RETRIES))
    col, s, t = op.partitioning.column, op.schema, op.table_name
    add, validate = sql.legacy_bound_check(t, s, col, lower, op.key_type)
    swap = sql.convert_to_partitioned(
        t, s, col, lower, op.key_type, children, lock_timeout_ms=lock, retries=retries
    )
    cleanup = sql.legacy_bound_cleanup(t, s)
    with ctx.autocommit_block(), _reporting(ctx):
        _run(operations, sql.timeouts(lock, 0, local=False))  # the validation scans the table
        _run(operations, [add])
        try:
            _run(operations, [validate, swap])
        except Exception:
            if not ctx.as_sql:  # never leave the bound CHECK on a table still plain
                _run(operations, cleanup[:1])
            raise
        _run(operations, cleanup)
        _run(
            operations,
            [
                sql.create_policy_table(),
                sql.upsert_policy(t, s, op.partitioning.to_json(), op.key_type),
                *sql.reset_timeouts(local=False),
            ],
        )
