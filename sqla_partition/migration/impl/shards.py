"""Splitting hash partitions online; distributing tables with Citus."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

from alembic.operations import Operations

from ... import sql
from ...declaration.policies import TablePolicy
from ...errors import SqlaPartitionError
from ...planning.hash_split import hash_rebuild, hash_split
from ...sql.citus import SPLIT_READINESS_QUERY, split_lock_holder, split_unlock, try_split_lock
from ...sql.roll_lock import create_keys_table
from ..ops import (
    DistributeTableOp,
    SplitHashPartitionsOp,
    SplitShardsOp,
    UndistributeTableOp,
)
from .common import (
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_RETRIES,
    DEFAULT_SPLIT_BATCH_BLOCKS,
    back_to_session,
    bounded,
    implements,
    in_caller_transaction,
    options_of,
    reporting,
    run_statements,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


@implements(SplitHashPartitionsOp)
def split_hash_partitions(operations: Operations, op: SplitHashPartitionsOp) -> None:
    ctx = operations.migration_context
    opts = options_of(ctx)
    old = dataclasses.replace(op.partitioning, partitions=op.old_partitions)
    merging = op.partitioning.partitions < op.old_partitions  # a split's downgrade
    if merging or in_caller_transaction(ctx):  # no commits between steps: held, at once
        merge = hash_rebuild(
            TablePolicy(op.table_name, old, "hash", op.schema),
            TablePolicy(op.table_name, op.partitioning, "hash", op.schema),
        )
        with bounded(operations):
            run_statements(
                operations,
                [
                    *merge,
                    sql.create_policy_table(),
                    create_keys_table(),
                    sql.upsert_policy(op.table_name, op.schema, op.partitioning.to_json(), "hash"),
                ],
            )
        return
    splits = hash_split(
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
    with ctx.autocommit_block(), reporting(ctx):
        run_statements(operations, sql.timeouts(lock, limit, local=False))
        for split in splits:
            run_statements(
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
        run_statements(
            operations,
            [
                sql.split_finished(op.table_name, op.schema, op.partitioning.partitions),
                sql.create_policy_table(),
                create_keys_table(),
                sql.create_record_table(),
                sql.upsert_policy(op.table_name, op.schema, op.partitioning.to_json(), "hash"),
                *back_to_session(operations.get_context()),
            ],
        )


@implements(DistributeTableOp)
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
    with bounded(operations):
        run_statements(operations, [stmt])


@implements(UndistributeTableOp)
def undistribute_table(operations: Operations, op: UndistributeTableOp) -> None:
    with bounded(operations):
        run_statements(operations, [sql.undistribute_table(op.table_name, op.schema)])


@implements(SplitShardsOp)
def split_shards(operations: Operations, op: SplitShardsOp) -> None:
    new, old = op.partitioning.partitions, op.old_shard_count
    ctx = operations.migration_context
    if new <= old:
        log.warning(
            "%s keeps its %d shards: Citus cannot merge shards (its policy still says %d)",
            op.table_name,
            old,
            old,
        )
        return
    lock = int(options_of(ctx).get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    with ctx.autocommit_block(), reporting(ctx):
        if not ctx.as_sql:
            _ready_to_split(ctx, op.table_name)
            _wait_for_a_running_split(ctx, op.table_name, op.schema)
        try:
            # each shard in a transaction of its own: writes wait only for its switch
            run_statements(operations, sql.timeouts(lock, 0, local=False))
            for index in range(old):
                split = sql.split_shard(op.table_name, op.schema, index, old, new)
                run_statements(operations, [split])
            run_statements(
                operations,
                [
                    sql.upsert_policy(op.table_name, op.schema, op.partitioning.to_json(), "hash"),
                    *back_to_session(operations.get_context()),
                ],
            )
        finally:
            if not ctx.as_sql:
                with contextlib.suppress(Exception):
                    ctx.connection.exec_driver_sql(split_unlock(op.table_name, op.schema).sql)


def _ready_to_split(ctx: Any, table: str) -> None:
    """Every node can copy rows by logical replication through Citus's output plugin:
    said in one line before the first shard, not as a traceback from it."""
    rows = ctx.connection.exec_driver_sql(SPLIT_READINESS_QUERY).fetchall()
    down = [node for node, ok, _, _ in rows if not ok]
    wal = [node for node, ok, level, _ in rows if ok and level != "logical"]
    plugin = [
        node
        for node, ok, _, plugins in rows
        if ok and plugins is not None and "citus" not in [p.strip() for p in plugins.split(",")]
    ]
    problems = [f"{', '.join(down)} does not answer"] if down else []
    if wal:
        problems.append(
            f"wal_level is not logical on {', '.join(wal)} (ALTER SYSTEM SET wal_level = "
            "logical, then restart the node)"
        )
    if plugin:
        problems.append(
            f"citus is not in output_plugin_libraries on {', '.join(plugin)} (ALTER SYSTEM "
            "SET output_plugin_libraries = pgoutput, citus; SELECT pg_reload_conf())"
        )
    if problems:
        raise SqlaPartitionError(
            f"split_shards of {table} copies rows with Citus's logical replication: "
            + "; ".join(problems)
        )


#: How long a run waits for a split of the same table still running from an earlier run.
SPLIT_WAIT_S = 3600.0


def _wait_for_a_running_split(ctx: Any, table: str, schema: str | None) -> None:
    """Take the table's split lock. A run whose client was killed goes on splitting on the
    server, holding it: this run waits for it to end (and then skips the shards it split)."""
    conn = ctx.connection
    waited = 0.0
    while not conn.exec_driver_sql(try_split_lock(table, schema)).scalar():
        if waited == 0.0 or waited % 30 < 1:
            holder = conn.exec_driver_sql(split_lock_holder(table, schema)).first()
            what = f" (pid {holder[0]}: {holder[1]})" if holder else ""
            log.warning("waiting for a split of %s still running%s", table, what)
        if waited >= SPLIT_WAIT_S:
            raise SqlaPartitionError(
                f"a split of {table} has been running for over {SPLIT_WAIT_S / 60:.0f} "
                "minutes in another session; run the migration again once it ends"
            )
        time.sleep(1.0)
        waited += 1.0
