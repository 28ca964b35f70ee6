"""Changing list partitions on a live table."""

from __future__ import annotations

from alembic.operations import Operations

from ... import sql
from ...declaration.policies import TablePolicy
from ...planning.lists import checks_before, list_change, locked_steps, sub_policy_rows
from ...sql.roll_lock import create_keys_table
from ..ops import AlterListPartitionsOp
from .common import (
    DEFAULT_LOCK_TIMEOUT_MS,
    back_to_session,
    bounded,
    checkpoint,
    implements,
    options_of,
    outside_transaction,
    reporting,
    run_statements,
    spend_locks,
)


@implements(AlterListPartitionsOp)
def alter_list_partitions(operations: Operations, op: AlterListPartitionsOp) -> None:
    policy = TablePolicy(op.table_name, op.partitioning, op.key_type, op.schema)
    change = list_change(op.table_name, op.old, op.partitioning)
    ctx = operations.migration_context
    checks = checks_before(policy, change)
    if change.added and not checks:  # (the checks' own block commits first as well)
        checkpoint(operations)
    if checks:
        # each statement commits on its own: the validating scan holds no lock that
        # writes wait for, and the migration's own transaction is not holding one yet
        lock = int(options_of(ctx).get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
        with outside_transaction(ctx), reporting(ctx):
            run_statements(operations, sql.timeouts(lock, 0, local=False))
            run_statements(operations, checks)
            run_statements(operations, back_to_session(ctx))
    steps = locked_steps(policy, change, op.old, op.start, op.until, removed_rows=op.removed_rows)
    spend_locks(operations, 4 * (len(steps) + 1))
    with bounded(operations):
        run_statements(
            operations,
            [
                *sql.merge_rows(steps),
                sql.create_policy_table(),
                create_keys_table(),
                sql.upsert_policy(op.table_name, op.schema, op.partitioning.to_json(), op.key_type),
                *sub_policy_rows(policy, list(change.added)),
            ],
        )
