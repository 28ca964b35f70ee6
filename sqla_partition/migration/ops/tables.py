"""Operations on whole tables: create or drop a partitioned table, partition a live one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic.operations import MigrateOperation, Operations
from alembic.operations.ops import CreateTableOp, DropTableOp

from ...declaration.policies import Policy, Range

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
        sub_start: Any = None,
        sub_until: Any = None,
        **kw: Any,
    ) -> None:
        kw.pop("postgresql_partition_by", None)
        super().__init__(table_name, columns, **kw)
        self.partitioning = partitioning
        self.start = start
        self.until = until
        self.key_type = key_type
        #: The periods each partition partitioned by ``Range`` in turn starts with.
        self.sub_start = sub_start
        self.sub_until = sub_until
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
        sub_window: tuple[Any, Any] = (None, None),
    ) -> CreatePartitionedTableOp:
        return cls(
            op.table_name,
            op.columns,
            partitioning=partitioning,
            start=start,
            until=until,
            key_type=key_type,
            distributed=distributed,
            sub_start=sub_window[0],
            sub_until=sub_window[1],
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
        sub_start: Any = None,
        sub_until: Any = None,
        **kw: Any,
    ) -> Table:
        """Create a partitioned table: ``op.create_partitioned_table("events", *cols,
        partitioning=Range("created_at"), start="2026-11-01", until="2027-03-01")``;
        ``sub_start``/``sub_until``: the periods of each partition partitioned by ``Range``
        in turn."""
        op = cls(
            table_name,
            columns,
            partitioning=partitioning,
            start=start,
            until=until,
            key_type=key_type,
            distributed=distributed,
            sub_start=sub_start,
            sub_until=sub_until,
            **kw,
        )
        return operations.invoke(op)

    def reverse(self) -> DropPartitionedTableOp:
        return DropPartitionedTableOp.from_create(self)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("add_partitioned_table", self.to_table(), self.partitioning)


#: What ``drop_partitioned_table`` may do with the table's archived partitions.
ARCHIVE_CHOICES = ("refuse", "drop", "keep")


@Operations.register_operation("drop_partitioned_table")
class DropPartitionedTableOp(DropTableOp):
    """Drop a partitioned table with all its partitions and its recorded policy.

    ``archives`` says what happens to the partitions retention detached from it (the
    record of partitions knows them): ``"refuse"`` stops before anything changes if there
    are any, ``"drop"`` drops them too, ``"keep"`` leaves them as plain tables.
    """

    def __init__(
        self,
        table_name: str,
        *,
        partitioning: Policy | None = None,
        archives: str = "refuse",
        **kw: Any,
    ) -> None:
        self._create: CreatePartitionedTableOp | None = kw.pop("_create", None)
        super().__init__(table_name, **kw)
        if archives not in ARCHIVE_CHOICES:
            raise ValueError(
                f"drop_partitioned_table({table_name!r}): archives={archives!r} is not one "
                f"of {', '.join(map(repr, ARCHIVE_CHOICES))}"
            )
        self.partitioning = partitioning
        self.archives = archives

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
        cls,
        operations: Operations,
        table_name: str,
        *,
        schema: str | None = None,
        archives: str = "refuse",
    ) -> None:
        """Drop a partitioned table, every partition (with its rows) and its policy;
        ``archives``: ``"refuse"`` (the default), ``"drop"`` or ``"keep"`` its detached
        partitions."""
        operations.invoke(cls(table_name, schema=schema, archives=archives))

    def reverse(self) -> CreatePartitionedTableOp:
        if self._create is None:
            raise ValueError(
                f"drop_partitioned_table({self.table_name!r}) was written without the table "
                "definition, so it cannot be reversed"
            )
        return self._create

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("remove_partitioned_table", self.table_name)


class _ConversionOp(MigrateOperation):
    """What a conversion and its reverse share: the table, its policy and the conversion's
    bounds, so that each reverses into the other."""

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

    def _args(self) -> dict[str, Any]:
        return {
            "legacy_until": self.legacy_until,
            "until": self.until,
            "key_type": self.key_type,
            "schema": self.schema,
        }


@Operations.register_operation("partition_existing_table")
class PartitionExistingTableOp(_ConversionOp):
    """Turn a live plain table into a range-partitioned one without copying it.

    The table becomes ``<table>_legacy``, the partition of everything before
    ``legacy_until`` (proven by a CHECK added NOT VALID and validated while writes go on);
    a new partitioned parent takes its name, with its indexes, defaults, identity
    sequences, foreign keys and grants, and partitions from ``legacy_until`` to ``until``.
    """

    @classmethod
    def partition_existing_table(
        cls, operations: Operations, table_name: str, partitioning: Range, **kw: Any
    ) -> None:
        """Partition the live table ``table_name`` by ``partitioning``, online."""
        operations.invoke(cls(table_name, partitioning, **kw))

    def reverse(self) -> UnpartitionTableOp:
        return UnpartitionTableOp(self.table_name, self.partitioning, **self._args())

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("partition_existing_table", self.schema, self.table_name, self.partitioning)


@Operations.register_operation("unpartition_table")
class UnpartitionTableOp(_ConversionOp):
    """Undo ``partition_existing_table``: the legacy partition becomes the plain table of
    its name again, with the rows written since, and the policy is forgotten. One statement
    holds the table while those rows are copied; refused before anything changes where
    ``split-legacy`` has split the legacy partition or another table refers to this one.
    The arguments are the conversion's, so the operation reverses into it."""

    @classmethod
    def unpartition_table(
        cls, operations: Operations, table_name: str, partitioning: Range, **kw: Any
    ) -> None:
        """Make the converted table ``table_name`` plain again."""
        operations.invoke(cls(table_name, partitioning, **kw))

    def reverse(self) -> PartitionExistingTableOp:
        return PartitionExistingTableOp(self.table_name, self.partitioning, **self._args())

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("unpartition_table", self.schema, self.table_name, self.partitioning)
