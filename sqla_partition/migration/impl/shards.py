"""Splitting hash partitions online; distributing tables with Citus."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from alembic.operations import Operations

from ... import sql
from ...declaration.policies import TablePolicy
from ...planning.hash_split import hash_rebuild, hash_split
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
        # each shard in a transaction of its own: writes wait only for its switch
        run_statements(operations, sql.timeouts(lock, 0, local=False))
        for index in range(old):
            run_statements(operations, [sql.split_shard(op.table_name, op.schema, index, old, new)])
        run_statements(
            operations,
            [
                sql.upsert_policy(op.table_name, op.schema, op.partitioning.to_json(), "hash"),
                *back_to_session(operations.get_context()),
            ],
        )
