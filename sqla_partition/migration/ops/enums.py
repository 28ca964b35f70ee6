"""Values of an enum that is a LIST partition key.

PostgreSQL cannot change the type of a partition key column, so a value can be added to
such an enum (``ADD VALUE``) but never removed (that needs a new type and an ``ALTER COLUMN
… TYPE``, refused on a partition key). Autogenerate writes these in place of
alembic-postgresql-enum's operations for those types: the upgrade adds the values if they
are missing, the downgrade keeps them and says why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alembic.operations import MigrateOperation, Operations


class _EnumValuesOp(MigrateOperation):
    """Values of one enum type; ``name`` is the operation's."""

    name = ""

    def __init__(self, type_name: str, values: Sequence[str], *, schema: str | None = None) -> None:
        self.type_name = type_name
        self.values = tuple(values)
        self.schema = schema

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return (self.name, self.schema, self.type_name, self.values)


@Operations.register_operation("add_partition_key_values")
class AddPartitionKeyValuesOp(_EnumValuesOp):
    """Add ``values`` to enum ``type_name`` where missing (a rerun after a downgrade finds
    them there)."""

    name = "add_partition_key_values"

    @classmethod
    def add_partition_key_values(
        cls,
        operations: Operations,
        type_name: str,
        values: Sequence[str],
        *,
        schema: str | None = None,
    ) -> None:
        """Add ``values`` to the enum ``type_name`` unless it has them."""
        operations.invoke(cls(type_name, values, schema=schema))

    def reverse(self) -> KeepPartitionKeyValuesOp:
        return KeepPartitionKeyValuesOp(self.type_name, self.values, schema=self.schema)


@Operations.register_operation("keep_partition_key_values")
class KeepPartitionKeyValuesOp(_EnumValuesOp):
    """A downgrade's record that ``values`` stay in ``type_name``: they cannot be removed
    from an enum that partitions a table (its rows, if any, stay in the DEFAULT partition
    or in an archive). Runs nothing."""

    name = "keep_partition_key_values"

    @classmethod
    def keep_partition_key_values(
        cls,
        operations: Operations,
        type_name: str,
        values: Sequence[str],
        *,
        schema: str | None = None,
    ) -> None:
        """Say that ``values`` stay in ``type_name`` (nothing runs)."""
        operations.invoke(cls(type_name, values, schema=schema))

    def reverse(self) -> AddPartitionKeyValuesOp:
        return AddPartitionKeyValuesOp(self.type_name, self.values, schema=self.schema)
