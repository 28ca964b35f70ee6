"""Hash shards: splitting hash partitions online, and distributing tables with Citus."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from alembic.operations import MigrateOperation, Operations

from ...declaration.policies import Hash
from ...errors import PolicyError

if TYPE_CHECKING:
    pass


@Operations.register_operation("split_hash_partitions")
class SplitHashPartitionsOp(MigrateOperation):
    """Grow a hash-partitioned table to more partitions while the application writes.

    Each old partition in turn is copied into its new partitions (a trigger logs the keys
    written meanwhile, copied again), verified, then swapped in under a brief exclusive lock.
    Fewer partitions than ``old_partitions`` (a split's downgrade) merge instead, holding the
    table while its rows are copied.
    ``columns`` and ``primary_key`` are captured at autogenerate time; the migration
    refuses to run if the table's columns differ by then.
    """

    def __init__(
        self,
        table_name: str,
        partitioning: Hash,
        *,
        old_partitions: int,
        columns: Sequence[str],
        primary_key: Sequence[str],
        schema: str | None = None,
    ) -> None:
        self.table_name = table_name
        self.partitioning = partitioning
        self.old_partitions = old_partitions
        self.columns = tuple(columns)
        self.primary_key = tuple(primary_key)
        self.schema = schema

    @classmethod
    def split_hash_partitions(
        cls,
        operations: Operations,
        table_name: str,
        partitioning: Hash,
        *,
        old_partitions: int,
        columns: Sequence[str],
        primary_key: Sequence[str],
        schema: str | None = None,
    ) -> None:
        """Split every partition of ``old_partitions`` into those of ``partitioning``."""
        op = cls(
            table_name,
            partitioning,
            old_partitions=old_partitions,
            columns=columns,
            primary_key=primary_key,
            schema=schema,
        )
        operations.invoke(op)

    def reverse(self) -> SplitHashPartitionsOp:
        """A merge back to ``old_partitions``: one transaction that holds the table while
        its rows are copied (see :func:`planning.hash_split.hash_merge`)."""
        return SplitHashPartitionsOp(
            self.table_name,
            dataclasses.replace(self.partitioning, partitions=self.old_partitions),
            old_partitions=self.partitioning.partitions,
            columns=self.columns,
            primary_key=self.primary_key,
            schema=self.schema,
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return (
            "split_hash_partitions",
            self.schema,
            self.table_name,
            self.old_partitions,
            self.partitioning.partitions,
        )


class _DistributionOp(MigrateOperation):
    """Citus: distribute a table by ``column`` (or copy it to every node, ``reference``)."""

    def __init__(
        self,
        table_name: str,
        column: str | None = None,
        *,
        reference: bool = False,
        colocate_with: str | None = None,
        shard_count: int | None = None,
        schema: str | None = None,
    ) -> None:
        if reference and (column or colocate_with or shard_count):
            raise PolicyError(
                f"{table_name}: a reference table takes no column, colocate_with or shard_count"
            )
        if not reference and not column:
            raise PolicyError(f"{table_name}: name the column to distribute by")
        if shard_count is not None and colocate_with not in (None, "default", "none"):
            raise PolicyError(
                f"{table_name}: Citus refuses shard_count together with "
                f"colocate_with={colocate_with!r}: the shard count is that table's; drop "
                "shard_count, or use colocate_with='none'"
            )
        self.table_name = table_name
        self.column = column
        self.reference = reference
        self.colocate_with = colocate_with
        self.shard_count = shard_count
        self.schema = schema

    def _args(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "colocate_with": self.colocate_with,
            "shard_count": self.shard_count,
            "schema": self.schema,
        }

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return (self.diff_name, self.schema, self.table_name, self.column, self.reference)


@Operations.register_operation("distribute_table")
class DistributeTableOp(_DistributionOp):
    """``create_distributed_table`` (or ``create_reference_table`` with ``reference=True``)."""

    diff_name = "distribute_table"

    @classmethod
    def distribute_table(
        cls, operations: Operations, table_name: str, column: str | None = None, **kw: Any
    ) -> None:
        """Distribute ``table_name`` by ``column`` on Citus (``colocate_with=``,
        ``shard_count=``), or make it a reference table (``reference=True``)."""
        operations.invoke(cls(table_name, column, **kw))

    #: The table is created by the same migration: its downgrade drops it, shards and all,
    #: so nothing is undistributed first (that would copy every row back only to drop it,
    #: and Citus refuses it for tables with foreign keys or identity columns).
    created_with_table: bool = False

    def reverse(self) -> MigrateOperation:
        if self.created_with_table:
            return DroppedWithTableOp(self)
        return UndistributeTableOp(self.table_name, self.column, **self._args())


class DroppedWithTableOp(MigrateOperation):
    """The reverse of distributing a table created alongside: nothing to write or run."""

    def __init__(self, distributed: DistributeTableOp) -> None:
        self.distributed = distributed
        self.table_name = distributed.table_name
        self.schema = distributed.schema

    def reverse(self) -> MigrateOperation:
        return self.distributed

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ()


@Operations.register_operation("undistribute_table")
class UndistributeTableOp(_DistributionOp):
    """``undistribute_table``: the rows come back to the coordinator (blocking)."""

    diff_name = "undistribute_table"

    @classmethod
    def undistribute_table(
        cls, operations: Operations, table_name: str, column: str | None = None, **kw: Any
    ) -> None:
        operations.invoke(cls(table_name, column, **kw))

    def reverse(self) -> DistributeTableOp:
        return DistributeTableOp(self.table_name, self.column, **self._args())


@Operations.register_operation("split_shards")
class SplitShardsOp(MigrateOperation):
    """Grow a Citus distributed table's shard count by splitting each shard into equal
    parts, online (the tables colocated with it split alike). Citus cannot merge shards:
    the reverse keeps them and says so."""

    def __init__(
        self,
        table_name: str,
        partitioning: Hash,
        *,
        old_shard_count: int,
        schema: str | None = None,
    ) -> None:
        new = partitioning.partitions
        if new > old_shard_count and new % old_shard_count:
            raise PolicyError(
                f"{table_name}: {old_shard_count} shards grow to a multiple of "
                f"{old_shard_count} (each shard splits into equal parts), not to {new}"
            )
        self.table_name = table_name
        self.partitioning = partitioning
        self.old_shard_count = old_shard_count
        self.schema = schema

    @classmethod
    def split_shards(
        cls, operations: Operations, table_name: str, partitioning: Hash, **kw: Any
    ) -> None:
        """Split ``table_name``'s shards until it has ``partitioning.partitions``."""
        operations.invoke(cls(table_name, partitioning, **kw))

    def reverse(self) -> SplitShardsOp:
        old = dataclasses.replace(self.partitioning, partitions=self.old_shard_count)
        return SplitShardsOp(
            self.table_name,
            old,
            old_shard_count=self.partitioning.partitions,
            schema=self.schema,
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("split_shards", self.schema, self.table_name, self.partitioning.partitions)
