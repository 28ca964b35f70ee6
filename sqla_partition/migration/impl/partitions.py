"""Creating, attaching, detaching and dropping partitions; recording a table's policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic.operations import Operations

from ... import sql
from ...declaration.policies import Range
from ...errors import PolicyError
from ...sql.policy import upsert_partition_policies
from ...sql.record import record_detached
from ...sql.roll_lock import create_keys_table
from ..ops import (
    AttachPartitionOp,
    CreateRangePartitionOp,
    DetachPartitionOp,
    DropPartitionOp,
    SetPartitionPolicyOp,
)
from .common import bound_value, bounded, implements, require_args, run_statements

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext


def _attach(operations: Operations, op: CreateRangePartitionOp | AttachPartitionOp) -> None:
    require_args(op, "lower", "upper", "column")
    with bounded(operations):
        run_statements(
            operations,
            [
                sql.create_record_table(),
                *_attach_statements(op, isinstance(op, CreateRangePartitionOp)),
            ],
        )


def _attach_statements(op: Any, new: bool) -> list[sql.Statement]:
    """Create (``new``) or take an existing table, and attach it; beside a DEFAULT partition
    its rows of the range move out first, with the parent held."""
    lower, upper = bound_value(op.lower, op.key_type), bound_value(op.upper, op.key_type)
    t, p, s, k = op.table_name, op.partition_name, op.schema, op.key_type
    stmts = []
    if new:
        stmts.append(sql.create_detached_child(t, p, s))
    else:  # an existing table: the CHECK of an earlier attachment goes, one for these bounds
        stmts.append(sql.drop_bound_check(p, s))  # comes before writers are held
        stmts.append(sql.add_bound_check(p, op.column, lower, upper, k, s, existing=True))  # type: ignore[arg-type]
    if op.default_partition:  # queries wait at the parent; rows of the range move out first
        stmts += [
            sql.lock_parent_for_attach(t, op.default_partition, s, moving=True),
            sql.lock_default(op.default_partition, s),
            sql.move_rows(op.default_partition, p, op.column, lower, upper, k, s, by_name=True),  # type: ignore[arg-type]
        ]
    stmts.append(sql.attach_range_partition(t, p, lower, upper, k, s, op.default_partition))
    if not new:
        stmts.append(sql.drop_attached_bound_check(p, s))
    stmts.append(sql.record_partition("attached", t, p, lower, upper, s))
    return stmts


@implements(CreateRangePartitionOp)
def create_range_partition(operations: Operations, op: CreateRangePartitionOp) -> None:
    _attach(operations, op)


@implements(AttachPartitionOp)
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
    lower = bound_value(op.lower, op.key_type) if op.lower is not None else None
    upper = bound_value(op.upper, op.key_type) if op.upper is not None else None
    note = [
        sql.create_record_table(),
        sql.record_partition("detached", op.table_name, op.partition_name, lower, upper, op.schema),
    ]
    if not concurrently:
        with bounded(operations):
            run_statements(operations, [stmt, *note])
        return
    ctx = operations.migration_context
    with ctx.autocommit_block():
        state = None if ctx.as_sql else _partition_state(ctx, op)
        if state == "pending":
            stmt = sql.detach_finalize(op.table_name, op.partition_name, op.schema)
        with bounded(operations, local=False):
            if state == "detached":  # a rerun after the DETACH committed: record it, if it
                # is the tool's and no longer a partition (never a name of another table's)
                rerun = [
                    sql.create_record_table(),
                    record_detached([(op.schema, op.partition_name)]),
                ]
                run_statements(operations, rerun)
            else:
                run_statements(operations, [stmt, *note])  # recorded once detached


def _partition_state(ctx: MigrationContext, op: Any) -> str:
    """Online only: whether an earlier, interrupted run already (half) detached it."""
    assert ctx.connection is not None
    row = ctx.connection.exec_driver_sql(
        sql.partition_state_query(op.table_name, op.partition_name, op.schema)
    ).first()
    if row is None:
        return "detached"
    return "pending" if row[0] else "attached"


@implements(DetachPartitionOp)
def detach_partition(operations: Operations, op: DetachPartitionOp) -> None:
    _detach(operations, op)


@implements(DropPartitionOp)
def drop_partition(operations: Operations, op: DropPartitionOp) -> None:
    _detach(operations, op)
    with bounded(operations):
        run_statements(
            operations,
            [
                sql.drop_table(op.partition_name, op.schema),
                sql.record_dropped(op.partition_name, op.schema),
            ],
        )


@implements(SetPartitionPolicyOp)
def set_partition_policy(operations: Operations, op: SetPartitionPolicyOp) -> None:
    stmts = [sql.create_policy_table(), create_keys_table(), sql.create_record_table()]
    bound = op.bound()
    if bound is None:
        stmts.append(sql.delete_policy(op.table_name, op.schema))
    else:
        stmts += [
            sql.record_existing_partitions(op.table_name, op.schema),  # before the policy
            sql.upsert_policy(
                op.table_name, op.schema, bound.policy.to_json(), bound.recorded_key_type
            ),
        ]
        ranged = bound.range_sub_policy(op.table_name)
        if ranged is not None:  # each partition's own policy follows
            stmts.append(
                upsert_partition_policies(
                    op.table_name, op.schema, ranged.policy.to_json(), ranged.key_type
                )
            )
    policy = bound.policy if bound is not None else None
    for name, lower, upper in op.partitions if isinstance(policy, Range) else ():
        create = CreateRangePartitionOp(
            op.table_name,
            name,
            lower,
            upper,
            column=policy.column,
            key_type=op.key_type,
            schema=op.schema,
            default_partition=bound.default_name if policy.default else None,  # type: ignore[union-attr]
        )
        stmts.append(
            sql.unless_attached(
                op.table_name, name, op.schema, _attach_statements(create, new=True)
            )
        )
    with bounded(operations):  # the row may be locked by a roll recording its run
        run_statements(operations, stmts)
