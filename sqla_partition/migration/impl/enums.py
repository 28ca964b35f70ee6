"""What the enum-key operations execute."""

from __future__ import annotations

from alembic.operations import Operations

from ... import sql
from ..ops import AddPartitionKeyValuesOp, KeepPartitionKeyValuesOp
from .common import bounded, implements, run_statements


@implements(AddPartitionKeyValuesOp)
def add_partition_key_values(operations: Operations, op: AddPartitionKeyValuesOp) -> None:
    with bounded(operations):  # ADD VALUE takes the type's ACCESS EXCLUSIVE lock
        run_statements(
            operations, [sql.add_enum_value(op.type_name, v, op.schema) for v in op.values]
        )


@implements(KeepPartitionKeyValuesOp)
def keep_partition_key_values(operations: Operations, op: KeepPartitionKeyValuesOp) -> None:
    run_statements(operations, [sql.keep_enum_values(op.type_name, op.values, op.schema)])
