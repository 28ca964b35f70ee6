"""Building indexes per partition without blocking writes, and rebuilding them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from alembic.operations import Operations

from ... import sql
from ...errors import SqlaPartitionError
from ..ops import (
    CreateIndexOnlineOp,
    CreatePartitionedIndexOp,
    RecommendedOp,
    ReindexOp,
)
from .common import (
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_WAIT_MS,
    back_to_session,
    bounded,
    implements,
    options_of,
    run_statements,
)

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext


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


def _wait_for_other_builds(
    ctx: MigrationContext, op: CreatePartitionedIndexOp, tables: list[str]
) -> None:
    """Online, in autocommit: wait (bounded) while another session builds an index on these
    tables, such as the server process of a killed run of this migration. Building beside
    it, or dropping the invalid index it is filling, ends in a deadlock."""
    if ctx.as_sql or ctx.connection is None:
        return
    wait_ms = int(options_of(ctx).get("sqla_partition_wait_for_other_run", DEFAULT_WAIT_MS))
    names = [sql.qualified(t, op.schema) for t in tables]
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        rows = ctx.connection.exec_driver_sql(sql.INDEX_BUILDS_QUERY, {"tables": names}).all()
        if not rows:
            return
        if time.monotonic() >= deadline:
            who = ", ".join(f"{table} (process {pid})" for pid, table in rows)
            raise SqlaPartitionError(
                f"another session is still building an index on {who} after {wait_ms} ms; "
                "if it is a killed run of this migration, let it finish or stop it "
                "(pg_cancel_backend), then run the migration again"
            )
        time.sleep(0.5)


def _create_index_online(operations: Operations, op: CreatePartitionedIndexOp) -> None:
    """A table that is not partitioned: one ``CREATE INDEX CONCURRENTLY``."""
    ctx = operations.migration_context
    opts = {"unique": op.unique, "using": op.postgresql_using}
    invalid = _invalid_indexes(ctx, op, [op.index_name])
    lock = int(options_of(ctx).get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    limit = int(options_of(ctx).get("sqla_partition_index_statement_timeout", 0))
    with ctx.autocommit_block():
        _wait_for_other_builds(ctx, op, [op.table_name])
        stmts = [*sql.timeouts(lock, limit, local=False)]
        if invalid:
            stmts.append(sql.drop_invalid_index(op.index_name, op.schema))
        stmts += [
            sql.create_index_concurrently(
                op.index_name, op.table_name, op.columns, op.schema, **opts
            ),
            sql.index_valid_check(op.index_name, op.schema),
            *back_to_session(operations.migration_context),
        ]
        run_statements(operations, stmts)


@implements(CreateIndexOnlineOp)
def create_index_online(operations: Operations, op: CreateIndexOnlineOp) -> None:
    _create_index_online(operations, op)


@implements(ReindexOp)
def reindex_index(operations: Operations, op: ReindexOp) -> None:
    ctx = operations.migration_context
    lock = int(options_of(ctx).get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    limit = int(options_of(ctx).get("sqla_partition_index_statement_timeout", 0))
    with ctx.autocommit_block():
        run_statements(
            operations,
            [
                *sql.timeouts(lock, limit, local=False),
                sql.reindex_concurrently(op.index_name, op.schema),
                *back_to_session(operations.migration_context),
            ],
        )


@implements(RecommendedOp)
def recommended(operations: Operations, op: RecommendedOp) -> None:
    operations.invoke(op.op)


@implements(CreatePartitionedIndexOp)
def create_partitioned_index(operations: Operations, op: CreatePartitionedIndexOp) -> None:
    ctx = operations.migration_context
    s, cols = op.schema, op.columns
    opts = {"unique": op.unique, "using": op.postgresql_using}
    with bounded(operations):
        run_statements(
            operations, [sql.create_index_on_only(op.index_name, op.table_name, cols, s, **opts)]
        )

    def index_of(table: str) -> str:
        if table == op.table_name:
            return op.index_name
        return sql.partition_index_name(op.index_name, table, cols)

    tree = _partition_tree(ctx, op)
    invalid = _invalid_indexes(ctx, op, [index_of(n) for n, _, p in tree if not p])
    lock = int(options_of(ctx).get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    limit = int(options_of(ctx).get("sqla_partition_index_statement_timeout", 0))
    with ctx.autocommit_block():
        _wait_for_other_builds(ctx, op, [n for n, _, p in tree if not p])
        run_statements(operations, sql.timeouts(lock, limit, local=False))
        for name, _parent, partitioned in tree:  # parents before their partitions
            if partitioned:
                run_statements(
                    operations, [sql.create_index_on_only(index_of(name), name, cols, s, **opts)]
                )
        for name, parent, partitioned in reversed(tree):  # partitions before their parents
            stmts = []
            if not partitioned:
                if index_of(name) in invalid:
                    stmts.append(sql.drop_invalid_index(index_of(name), s))
                stmts.append(sql.create_index_concurrently(index_of(name), name, cols, s, **opts))
            stmts.append(sql.attach_index(index_of(parent), index_of(name), s, (parent, name)))
            run_statements(operations, stmts)
        run_statements(
            operations,
            [
                sql.index_valid_check(op.index_name, s),
                *back_to_session(operations.migration_context),
            ],
        )
