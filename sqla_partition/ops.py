"""Alembic operations for partitioned tables.

Every operation carries, as arguments, all it needs from the database (captured when
the migration was generated), so ``alembic upgrade --sql`` renders it without reading
anything. Each has a ``reverse()`` for downgrades and a ``to_diff_tuple()`` for
``alembic check``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from alembic.operations import MigrateOperation, Operations
from alembic.operations.ops import CreateTableOp, DropIndexOp, DropTableOp

from .errors import PolicyError
from .specs import Audit, Hash, Policy, Range, TablePolicy

if TYPE_CHECKING:
    from sqlalchemy.sql.schema import SchemaItem, Table


@Operations.register_operation("create_partitioned_table")
class CreatePartitionedTableOp(CreateTableOp):
    """Create a partitioned parent, its first partitions and record its policy.

    Range tables get partitions from the period containing ``start`` through the one
    before ``until`` (both captured at autogenerate time), plus the DEFAULT partition
    when the policy asks; hash tables get all their children.
    """

    def __init__(
        self,
        table_name: str,
        columns: Any,
        *,
        partitioning: Policy,
        start: Any = None,
        until: Any = None,
        key_type: str | None = None,
        distributed: bool = False,
        **kw: Any,
    ) -> None:
        kw.pop("postgresql_partition_by", None)
        super().__init__(table_name, columns, **kw)
        self.partitioning = partitioning
        self.start = start
        self.until = until
        self.key_type = key_type
        #: A hash table on Citus: a plain table whose shards are its hash partitions.
        self.distributed = distributed

    @classmethod
    def from_create_table(
        cls,
        op: CreateTableOp,
        partitioning: Policy,
        start: Any = None,
        until: Any = None,
        key_type: str | None = None,
        distributed: bool = False,
    ) -> CreatePartitionedTableOp:
        return cls(
            op.table_name,
            op.columns,
            partitioning=partitioning,
            start=start,
            until=until,
            key_type=key_type,
            distributed=distributed,
            schema=op.schema,
            _namespace_metadata=op._namespace_metadata,
            _constraints_included=op._constraints_included,
            comment=op.comment,
            info=op.info,
            prefixes=op.prefixes,
            **op.kw,
        )

    @classmethod
    def create_partitioned_table(
        cls,
        operations: Operations,
        table_name: str,
        *columns: SchemaItem,
        partitioning: Policy,
        start: Any = None,
        until: Any = None,
        key_type: str | None = None,
        distributed: bool = False,
        **kw: Any,
    ) -> Table:
        """Create a partitioned table: ``op.create_partitioned_table("events", *cols,
        partitioning=Range("created_at"), start="2026-11-01", until="2027-03-01")``."""
        op = cls(
            table_name,
            columns,
            partitioning=partitioning,
            start=start,
            until=until,
            key_type=key_type,
            distributed=distributed,
            **kw,
        )
        return operations.invoke(op)

    def reverse(self) -> DropPartitionedTableOp:
        return DropPartitionedTableOp.from_create(self)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("add_partitioned_table", self.to_table(), self.partitioning)


@Operations.register_operation("drop_partitioned_table")
class DropPartitionedTableOp(DropTableOp):
    """Drop a partitioned table with all its partitions and its recorded policy."""

    def __init__(self, table_name: str, *, partitioning: Policy | None = None, **kw: Any) -> None:
        self._create: CreatePartitionedTableOp | None = kw.pop("_create", None)
        super().__init__(table_name, **kw)
        self.partitioning = partitioning

    @classmethod
    def from_create(cls, op: CreatePartitionedTableOp) -> DropPartitionedTableOp:
        return cls(
            op.table_name,
            schema=op.schema,
            partitioning=op.partitioning,
            _create=op,
            _reverse=op,
        )

    @classmethod
    def drop_partitioned_table(
        cls, operations: Operations, table_name: str, *, schema: str | None = None
    ) -> None:
        """Drop a partitioned table, every partition (with its rows) and its policy."""
        operations.invoke(cls(table_name, schema=schema))

    def reverse(self) -> CreatePartitionedTableOp:
        if self._create is None:
            raise ValueError(
                f"drop_partitioned_table({self.table_name!r}) was written without the table "
                "definition, so it cannot be reversed"
            )
        return self._create

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("remove_partitioned_table", self.table_name)


class _PartitionOp(MigrateOperation):
    diff_name: ClassVar[str]

    """Common arguments of the single-partition operations.

    ``lower``/``upper`` are the bounds (ISO strings, dates or integers), ``column`` the key,
    ``key_type`` one of timestamptz, timestamp, date, integer; ``default_partition`` names
    the table's DEFAULT partition if it has one (it decides how to attach and detach).
    """

    def __init__(
        self,
        table_name: str,
        partition_name: str,
        lower: Any = None,
        upper: Any = None,
        *,
        column: str | None = None,
        key_type: str = "timestamptz",
        schema: str | None = None,
        default_partition: str | None = None,
        concurrently: bool | None = None,
    ) -> None:
        self.table_name = table_name
        self.partition_name = partition_name
        self.lower = lower
        self.upper = upper
        self.column = column
        self.key_type = key_type
        self.schema = schema
        self.default_partition = default_partition
        self.concurrently = concurrently

    def _args(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "key_type": self.key_type,
            "schema": self.schema,
            "default_partition": self.default_partition,
            "concurrently": self.concurrently,
        }

    def _as(self, cls: type[_PartitionOp]) -> _PartitionOp:
        return cls(self.table_name, self.partition_name, self.lower, self.upper, **self._args())

    def _reversed_as(self, cls: type[_PartitionOp], note: str = "") -> Any:
        """The inverse operation; detaching and dropping need the bounds to be undone."""
        if self.lower is None or self.upper is None or self.column is None:
            raise ValueError(
                f"{type(self).__name__}({self.partition_name!r}) needs lower, upper and column "
                f"to be reversible{note}"
            )
        return self._as(cls)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return (self.diff_name, self.table_name, self.partition_name)


@Operations.register_operation("create_range_partition")
class CreateRangePartitionOp(_PartitionOp):
    """Add a partition to a live range table without blocking it.

    Created as a plain table with a CHECK constraint matching its bounds, then attached
    (SHARE UPDATE EXCLUSIVE on the parent, no scan); the CHECK is dropped afterwards.
    """

    @classmethod
    def create_range_partition(
        cls,
        operations: Operations,
        table_name: str,
        partition_name: str,
        lower: Any = None,
        upper: Any = None,
        **kw: Any,
    ) -> None:
        """Create ``partition_name`` for ``[lower, upper)`` and attach it (``column=``: key)."""
        operations.invoke(cls(table_name, partition_name, lower, upper, **kw))

    diff_name = "add_partition"

    def reverse(self) -> DropPartitionOp:
        return self._as(DropPartitionOp)  # type: ignore[return-value]


@Operations.register_operation("attach_partition")
class AttachPartitionOp(_PartitionOp):
    """Attach an existing table (e.g. one detached earlier) as a range partition."""

    @classmethod
    def attach_partition(
        cls,
        operations: Operations,
        table_name: str,
        partition_name: str,
        lower: Any = None,
        upper: Any = None,
        **kw: Any,
    ) -> None:
        """Attach the existing table ``partition_name`` for ``[lower, upper)``."""
        operations.invoke(cls(table_name, partition_name, lower, upper, **kw))

    diff_name = "attach_partition"

    def reverse(self) -> DetachPartitionOp:
        return self._as(DetachPartitionOp)  # type: ignore[return-value]


@Operations.register_operation("detach_partition")
class DetachPartitionOp(_PartitionOp):
    """Detach a partition, keeping its table and rows.

    ``concurrently=None`` (the default) means: CONCURRENTLY unless the table has a DEFAULT
    partition (``default_partition``), where PostgreSQL refuses it.
    """

    @classmethod
    def detach_partition(
        cls,
        operations: Operations,
        table_name: str,
        partition_name: str,
        lower: Any = None,
        upper: Any = None,
        **kw: Any,
    ) -> None:
        """Detach ``partition_name``; pass ``lower``/``upper``/``column`` to make it reversible."""
        operations.invoke(cls(table_name, partition_name, lower, upper, **kw))

    diff_name = "detach_partition"

    def reverse(self) -> AttachPartitionOp:
        return self._reversed_as(AttachPartitionOp)


@Operations.register_operation("drop_partition")
class DropPartitionOp(_PartitionOp):
    """Detach a partition and drop its table with its rows."""

    @classmethod
    def drop_partition(
        cls,
        operations: Operations,
        table_name: str,
        partition_name: str,
        lower: Any = None,
        upper: Any = None,
        **kw: Any,
    ) -> None:
        """Detach and drop ``partition_name`` with its rows."""
        operations.invoke(cls(table_name, partition_name, lower, upper, **kw))

    diff_name = "drop_partition"

    def reverse(self) -> CreateRangePartitionOp:
        return self._reversed_as(CreateRangePartitionOp, " (the rows are not restored)")


@Operations.register_operation("set_partition_policy")
class SetPartitionPolicyOp(MigrateOperation):
    """Record (or, with ``None``, forget) the policy ``roll`` applies to a table.

    Changing the policy changes only future work (new partitions, expiry); existing
    partitions keep their bounds.
    """

    def __init__(
        self,
        table_name: str,
        partitioning: Policy | None,
        *,
        old: Policy | None = None,
        key_type: str = "timestamptz",
        schema: str | None = None,
    ) -> None:
        self.table_name = table_name
        self.partitioning = partitioning
        self.old = old
        self.key_type = key_type
        self.schema = schema

    @classmethod
    def set_partition_policy(
        cls,
        operations: Operations,
        table_name: str,
        partitioning: Policy | None,
        *,
        old: Policy | None = None,
        key_type: str = "timestamptz",
        schema: str | None = None,
    ) -> None:
        operations.invoke(cls(table_name, partitioning, old=old, key_type=key_type, schema=schema))

    def bound(self) -> TablePolicy | None:
        if self.partitioning is None:
            return None
        key_type = "hash" if isinstance(self.partitioning, Hash) else self.key_type
        return TablePolicy(self.table_name, self.partitioning, key_type, self.schema)

    def reverse(self) -> SetPartitionPolicyOp:
        return SetPartitionPolicyOp(
            self.table_name,
            self.old,
            old=self.partitioning,
            key_type=self.key_type,
            schema=self.schema,
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("set_partition_policy", self.schema, self.table_name, self.old, self.partitioning)


@Operations.register_operation("split_hash_partitions")
class SplitHashPartitionsOp(MigrateOperation):
    """Grow a hash-partitioned table to more partitions while the application writes.

    Each old partition in turn is copied into its new partitions (a trigger logs the keys
    written meanwhile, copied again), verified, then swapped in under a brief exclusive lock.
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
        """Merging is refused when run; written so a downgrade says so instead of lying."""
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

    def reverse(self) -> UndistributeTableOp:
        return UndistributeTableOp(self.table_name, self.column, **self._args())


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


class _AuditOp(MigrateOperation):
    """Common arguments: the table, its audit settings and (for the trail) its primary key."""

    def __init__(
        self,
        table_name: str,
        audit: Audit,
        *,
        primary_key: Sequence[str] = (),
        columns: Sequence[str] = (),
        old: Audit | None = None,
        old_columns: Sequence[str] = (),
        schema: str | None = None,
    ) -> None:
        if audit.trail and not primary_key:
            raise PolicyError(
                f"{table_name}: the audit trail records each row's key; pass primary_key="
            )
        self.table_name = table_name
        self.audit = audit
        self.primary_key = tuple(primary_key)
        #: The model's columns when the migration was written, recorded so autogenerate
        #: writes the trail function again when they change.
        self.columns = tuple(columns)
        self.old = old
        self.old_columns = tuple(old_columns)
        self.schema = schema

    def _args(self) -> dict[str, Any]:
        return {"primary_key": self.primary_key, "columns": self.columns, "schema": self.schema}

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return (self.diff_name, self.schema, self.table_name, self.audit)  # type: ignore[attr-defined]


@Operations.register_operation("enable_audit")
class EnableAuditOp(_AuditOp):
    """Audit columns kept by a trigger, and the trail triggers when ``audit.trail``; with
    ``old``, the settings it replaces."""

    diff_name = "enable_audit"

    @classmethod
    def enable_audit(cls, operations: Operations, table_name: str, audit: Audit, **kw: Any) -> None:
        """Keep ``table_name``'s audit columns (and trail) from now on."""
        operations.invoke(cls(table_name, audit, **kw))

    def reverse(self) -> MigrateOperation:
        if self.old is None:
            return DisableAuditOp(self.table_name, self.audit, **self._args())
        return EnableAuditOp(
            self.table_name,
            self.old,
            primary_key=self.primary_key,
            columns=self.old_columns,
            old=self.audit,
            old_columns=self.columns,
            schema=self.schema,
        )


@Operations.register_operation("disable_audit")
class DisableAuditOp(_AuditOp):
    """Remove the audit triggers; the columns and the trail's rows stay."""

    diff_name = "disable_audit"

    @classmethod
    def disable_audit(
        cls, operations: Operations, table_name: str, audit: Audit, **kw: Any
    ) -> None:
        operations.invoke(cls(table_name, audit, **kw))

    def reverse(self) -> EnableAuditOp:
        return EnableAuditOp(self.table_name, self.audit, **self._args())


@Operations.register_operation("create_partitioned_index")
class CreatePartitionedIndexOp(MigrateOperation):
    """An index on a partitioned table, built without blocking writes.

    ``CREATE INDEX … ON ONLY`` the parent, ``CREATE INDEX CONCURRENTLY`` on each partition,
    ``ALTER INDEX … ATTACH PARTITION`` each; the parent's index is valid after the last.
    A rerun finishes a half-built index. Online the partitions are read when it runs;
    ``partitions`` (``(name, parent, partitioned)``, captured by autogenerate) serve
    ``--sql``.
    """

    partitioned: ClassVar[bool] = True

    def __init__(
        self,
        index_name: str,
        table_name: str,
        columns: Sequence[str],
        *,
        unique: bool = False,
        schema: str | None = None,
        postgresql_using: str | None = None,
        partitions: Sequence[Sequence[Any]] = (),
    ) -> None:
        self.index_name = index_name
        self.table_name = table_name
        self.columns = tuple(columns)
        self.unique = unique
        self.schema = schema
        self.postgresql_using = postgresql_using
        self.partitions = tuple(tuple(p) for p in partitions)

    @classmethod
    def create_partitioned_index(
        cls,
        operations: Operations,
        index_name: str,
        table_name: str,
        columns: Sequence[str],
        **kw: Any,
    ) -> None:
        """Build ``index_name`` on every partition of ``table_name`` without blocking writes."""
        operations.invoke(cls(index_name, table_name, columns, **kw))

    def reverse(self) -> DropIndexOp:
        return DropIndexOp(self.index_name, table_name=self.table_name, schema=self.schema)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("add_partitioned_index", self.schema, self.table_name, self.index_name)


@Operations.register_operation("create_index_online")
class CreateIndexOnlineOp(CreatePartitionedIndexOp):
    """An index on a live table that is not partitioned: ``CREATE INDEX CONCURRENTLY``."""

    partitioned: ClassVar[bool] = False

    @classmethod
    def create_index_online(
        cls,
        operations: Operations,
        index_name: str,
        table_name: str,
        columns: Sequence[str],
        **kw: Any,
    ) -> None:
        """Build ``index_name`` on ``table_name`` while reads and writes continue."""
        operations.invoke(cls(index_name, table_name, columns, **kw))


@Operations.register_operation("reindex_index")
class ReindexOp(MigrateOperation):
    """``REINDEX INDEX CONCURRENTLY``: rebuild an index an interrupted build left invalid."""

    def __init__(self, index_name: str, *, schema: str | None = None) -> None:
        self.index_name = index_name
        self.schema = schema

    @classmethod
    def reindex_index(
        cls, operations: Operations, index_name: str, *, schema: str | None = None
    ) -> None:
        operations.invoke(cls(index_name, schema=schema))

    def reverse(self) -> ReindexOp:
        return self  # nothing to undo: the index is the same, valid

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("reindex", self.schema, self.index_name)


class RecommendedOp(MigrateOperation):
    """An operation autogenerate proposes on its own, with the reason in the migration.

    It runs and reverses exactly as the operation it holds; only its rendering differs:
    a comment line with the rule and the reason, so the developer can keep or delete it.
    """

    def __init__(self, op: MigrateOperation, rule: str, reason: str) -> None:
        self.op = op
        self.rule = rule
        self.reason = reason

    def reverse(self) -> MigrateOperation:
        return RecommendedOp(self.op.reverse(), self.rule, self.reason)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return self.op.to_diff_tuple()


@Operations.register_operation("partition_existing_table")
class PartitionExistingTableOp(MigrateOperation):
    """Turn a live plain table into a range-partitioned one without copying it.

    The table becomes ``<table>_legacy``, the partition of everything before
    ``legacy_until`` (proven by a CHECK added NOT VALID and validated while writes go on);
    a new partitioned parent takes its name, with its indexes, defaults, identity
    sequences, foreign keys and grants, and partitions from ``legacy_until`` to ``until``.
    """

    def __init__(
        self,
        table_name: str,
        partitioning: Range,
        *,
        legacy_until: Any,
        until: Any,
        key_type: str = "timestamptz",
        schema: str | None = None,
    ) -> None:
        self.table_name = table_name
        self.partitioning = partitioning
        self.legacy_until = legacy_until
        self.until = until
        self.key_type = key_type
        self.schema = schema

    @classmethod
    def partition_existing_table(
        cls, operations: Operations, table_name: str, partitioning: Range, **kw: Any
    ) -> None:
        """Partition the live table ``table_name`` by ``partitioning``, online."""
        operations.invoke(cls(table_name, partitioning, **kw))

    def reverse(self) -> SetPartitionPolicyOp:
        """Merging partitions back is not supported: a downgrade forgets the policy only."""
        return SetPartitionPolicyOp(
            self.table_name,
            None,
            old=self.partitioning,
            key_type=self.key_type,
            schema=self.schema,
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("partition_existing_table", self.schema, self.table_name, self.partitioning)


__all__ = [
    "PartitionExistingTableOp",
    "CreateIndexOnlineOp",
    "RecommendedOp",
    "ReindexOp",
    "CreatePartitionedIndexOp",
    "DisableAuditOp",
    "EnableAuditOp",
    "AttachPartitionOp",
    "CreatePartitionedTableOp",
    "CreateRangePartitionOp",
    "DetachPartitionOp",
    "DistributeTableOp",
    "DropPartitionOp",
    "DropPartitionedTableOp",
    "Range",
    "SetPartitionPolicyOp",
    "SplitHashPartitionsOp",
    "UndistributeTableOp",
]
