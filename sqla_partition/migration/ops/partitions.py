"""Operations on single partitions, and on the policy ``roll`` keeps for a table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from alembic.operations import MigrateOperation, Operations

from ...declaration.policies import Hash, Policy, TablePolicy

if TYPE_CHECKING:
    pass


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
    partitions keep their bounds. ``partitions`` (``(name, lower, upper)``, captured by
    autogenerate) are what the new policy needs now, e.g. after premake was raised: they
    are created unless they exist. A downgrade creates and drops nothing.
    """

    def __init__(
        self,
        table_name: str,
        partitioning: Policy | None,
        *,
        old: Policy | None = None,
        key_type: str = "timestamptz",
        schema: str | None = None,
        partitions: Sequence[tuple[str, Any, Any]] = (),
    ) -> None:
        self.table_name = table_name
        self.partitioning = partitioning
        self.old = old
        self.key_type = key_type
        self.schema = schema
        self.partitions = tuple(tuple(p) for p in partitions)

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
        partitions: Sequence[tuple[str, Any, Any]] = (),
    ) -> None:
        operations.invoke(
            cls(
                table_name,
                partitioning,
                old=old,
                key_type=key_type,
                schema=schema,
                partitions=partitions,
            )
        )

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
